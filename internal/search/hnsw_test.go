package search

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reel"
)

// hnswRecall is the mean share of the exact top 10 that h returns.
func hnswRecall(t *testing.T, x *Index, h *HNSW, queries [][]float32) float64 {
	t.Helper()
	truth, err := x.SearchBatch(queries, 10)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for i, q := range queries {
		got, err := h.Search(q, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := map[reel.MovieID]bool{}
		for _, w := range truth[i] {
			want[w.ID] = true
		}
		for _, g := range got {
			if want[g.ID] {
				found++
			}
		}
	}
	return float64(found) / float64(10*len(queries))
}

// TestHNSWRecall builds graphs over 3,000 random vectors (with repeated
// rows) and checks recall@10 against the exact index: high at the
// defaults, lower with a tiny candidate list (so the test can tell a
// graph search from a scan), on one worker (deterministic) and on two.
func TestHNSWRecall(t *testing.T) {
	x, queries := seededIndex(t, 3000, 24, 60, 11)
	vecs := make([][]float32, x.Len())
	for i, id := range x.IDs() {
		vecs[i], _ = x.Vector(id)
	}
	for _, tt := range []struct {
		name     string
		workers  int
		ef       int
		min, max float64
	}{
		{"defaults, one worker", 1, 400, 0.97, 1},
		{"defaults, two workers", 2, 400, 0.97, 1},
		{"ef 10", 1, 10, 0.3, 0.95},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultHNSWOptions()
			o.Workers, o.EfSearch = tt.workers, tt.ef
			h, err := NewHNSW(x.IDs(), vecs, o)
			if err != nil {
				t.Fatal(err)
			}
			if r := hnswRecall(t, x, h, queries); r < tt.min || r > tt.max {
				t.Errorf("recall@10 = %.3f, want %.2f..%.2f", r, tt.min, tt.max)
			}
		})
	}
}

// TestHNSWDeterministic checks that one worker and one seed give the same
// graph and answers twice, and that hits are sorted with exact distances.
func TestHNSWDeterministic(t *testing.T) {
	x, queries := seededIndex(t, 800, 8, 5, 12)
	vecs := make([][]float32, x.Len())
	for i, id := range x.IDs() {
		vecs[i], _ = x.Vector(id)
	}
	o := DefaultHNSWOptions()
	o.Workers = 1
	a, err := NewHNSW(x.IDs(), vecs, o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewHNSW(x.IDs(), vecs, o)
	if diff := cmp.Diff(a.links0, b.links0); diff != "" {
		t.Fatalf("two builds differ:\n%s", diff)
	}
	for _, q := range queries {
		ha, _ := a.Search(q, 20)
		hb, _ := b.Search(q, 20)
		if diff := cmp.Diff(ha, hb); diff != "" {
			t.Errorf("answers differ:\n%s", diff)
		}
		exact, _ := x.Search(q, 20)
		for i, h := range ha {
			if i > 0 && h.Distance < ha[i-1].Distance {
				t.Errorf("hit %d nearer than hit %d", i, i-1)
			}
			if math.Abs(float64(h.Distance-exact[i].Distance)) > 1e-5 {
				t.Errorf("hit %d distance %v, exact %v", i, h.Distance, exact[i].Distance)
			}
		}
	}
}

func TestHNSWErrorsAndEdges(t *testing.T) {
	o := DefaultHNSWOptions()
	nan := float32(math.NaN())
	for _, tt := range []struct {
		name string
		ids  []reel.MovieID
		vecs [][]float32
		o    HNSWOptions
		want string
	}{
		{"misaligned", []reel.MovieID{"a"}, nil, o, "1 ids for 0 vectors"},
		{"duplicate id", []reel.MovieID{"a", "a"}, [][]float32{{1, 0}, {0, 1}}, o, `add "a": id already in the index`},
		{"ragged", []reel.MovieID{"a", "b"}, [][]float32{{1, 0}, {0, 1, 2}}, o, "vector dimension mismatch"},
		{"NaN", []reel.MovieID{"a"}, [][]float32{{nan, 0}}, o, "NaN or Inf"},
		{"M", nil, nil, HNSWOptions{M: 1, EfConstruction: 1, EfSearch: 1}, "--hnsw-m must be in [2, 256], got 1"},
		{"efSearch", nil, nil, HNSWOptions{M: 4, EfConstruction: 1, EfSearch: 0}, "--hnsw-ef-search must be in [1, 10000], got 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHNSW(tt.ids, tt.vecs, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
		})
	}
	empty, err := NewHNSW(nil, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if hits, err := empty.Search(nil, 3); err != nil || len(hits) != 0 {
		t.Errorf("empty: %v %v", hits, err)
	}
	h, err := NewHNSW([]reel.MovieID{"a", "b", "c"}, [][]float32{{1, 0}, {0, 1}, {0, 0}}, o)
	if err != nil {
		t.Fatal(err)
	}
	hits, err := h.Search([]float32{2, 0}, 9)
	want := []reel.Hit{{ID: "a", Distance: 0}, {ID: "b", Distance: 1}, {ID: "c", Distance: 1}}
	if diff := cmp.Diff(want, hits); err != nil || diff != "" {
		t.Errorf("k past n (-want +got):\n%s %v", diff, err)
	}
	if _, err := h.Search([]float32{1}, 1); !errors.Is(err, ErrDim) {
		t.Errorf("short query: %v", err)
	}
	if _, err := h.Search([]float32{1, 0}, 0); err == nil {
		t.Error("k=0 accepted")
	}
	if h.Kind() != KindHNSW || h.Len() != 3 || h.Bytes() < 3*2*4 {
		t.Errorf("Kind %q Len %d Bytes %d", h.Kind(), h.Len(), h.Bytes())
	}
}

func TestHNSWBuildCancelled(t *testing.T) {
	x, _ := seededIndex(t, 2000, 8, 1, 13)
	vecs := make([][]float32, x.Len())
	for i, id := range x.IDs() {
		vecs[i], _ = x.Vector(id)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewHNSWContext(ctx, x.IDs(), vecs, DefaultHNSWOptions()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled build: err %v, want context.Canceled", err)
	}
}
