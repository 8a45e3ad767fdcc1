package searchbench

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// TestVectorsSeeded checks that the data are unit vectors, the same for a
// seed whatever the number of goroutines drawing them, and different for
// another seed.
func TestVectorsSeeded(t *testing.T) {
	a := Vectors(50, 7, 3)
	prev := runtime.GOMAXPROCS(1)
	b := Vectors(50, 7, 3)
	runtime.GOMAXPROCS(prev)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("GOMAXPROCS changed the data:\n%s", diff)
	}
	for i, v := range a {
		if n := vecmath.Norm(v); math.Abs(n-1) > 1e-6 {
			t.Errorf("row %d has norm %v", i, n)
		}
	}
	if c := Vectors(50, 7, 4); cmp.Equal(a, c) {
		t.Error("seed 4 gave seed 3's data")
	}
}

func TestPercentileAndRecall(t *testing.T) {
	lat := make([]time.Duration, 200)
	for i := range lat {
		lat[len(lat)-1-i] = time.Duration(i+1) * time.Millisecond
	}
	if p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99); p50 != 100 || p99 != 198 {
		t.Errorf("p50 %v p99 %v, want 100 and 198 (nearest rank)", p50, p99)
	}
	hits := func(ids ...reel.MovieID) []reel.Hit {
		h := make([]reel.Hit, len(ids))
		for i, id := range ids {
			h[i].ID = id
		}
		return h
	}
	truth := [][]reel.Hit{hits("a", "b", "c", "d"), hits("a", "b")}
	got := [][]reel.Hit{hits("d", "x", "b", "a"), hits("a", "b")}
	if r := recall(truth, got, 4); r != (0.75+1)/2 {
		t.Errorf("recall = %v, want 0.875", r)
	}
	if r := recall(truth, got, 2); r != (0+1)/2.0 {
		t.Errorf("recall@2 = %v, want 0.5", r)
	}
}

func TestPeakRSS(t *testing.T) {
	before, err := peakRSS()
	if err != nil {
		t.Fatal(err)
	}
	if before < 1<<20 {
		t.Errorf("VmHWM %d bytes: implausible", before)
	}
	if err := resetPeakRSS(); err != nil {
		t.Logf("reset not allowed here (%v): bench notes it", err)
	}
}
