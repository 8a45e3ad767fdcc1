package search

import (
	"errors"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/reelmatch/reelmatch/internal/reel"
)

func mustIndex(t testing.TB, ids []reel.MovieID, vecs [][]float32) *Index {
	t.Helper()
	x, err := FromVectors(ids, vecs)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestSearchTable(t *testing.T) {
	ids := []reel.MovieID{"a", "b", "c", "d", "e"}
	vecs := [][]float32{
		{1, 0, 0},
		{0, 2, 0}, // scale does not matter
		{1, 1, 0},
		{0, 0, 0}, // zero: distance 1 to everything
		{-1, 0, 0},
	}
	x := mustIndex(t, ids, vecs)
	const s = 0.29289323 // 1 - 1/sqrt(2)
	tests := []struct {
		name  string
		query []float32
		k     int
		want  []reel.Hit
	}{
		{"nearest first", []float32{1, 0, 0}, 3, []reel.Hit{{ID: "a", Distance: 0}, {ID: "c", Distance: s}, {ID: "b", Distance: 1}}},
		{"ties by insertion order", []float32{0, 0, 1}, 5, []reel.Hit{{ID: "a", Distance: 1}, {ID: "b", Distance: 1}, {ID: "c", Distance: 1}, {ID: "d", Distance: 1}, {ID: "e", Distance: 1}}},
		{"k clamped", []float32{-3, 0, 0}, 99, []reel.Hit{{ID: "e", Distance: 0}, {ID: "b", Distance: 1}, {ID: "d", Distance: 1}, {ID: "c", Distance: 1 + 1/1.4142135}, {ID: "a", Distance: 2}}},
		{"k 1", []float32{0, 1, 0.01}, 1, []reel.Hit{{ID: "b", Distance: 0.00005}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := x.Search(tt.query, tt.k)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-4)); diff != "" {
				t.Errorf("Search (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSearchErrors(t *testing.T) {
	x := mustIndex(t, []reel.MovieID{"a"}, [][]float32{{1, 0}})
	if _, err := x.Search([]float32{1, 0}, 0); err == nil {
		t.Error("k=0 accepted")
	}
	if _, err := x.Search([]float32{1, 0, 0}, 1); !errors.Is(err, ErrDim) {
		t.Errorf("wrong dim: err %v, want ErrDim", err)
	}
	nan := float32(0)
	nan /= nan
	if _, err := x.Search([]float32{nan, 0}, 1); err == nil {
		t.Error("NaN query accepted")
	}
	if err := x.Add("a", []float32{0, 1}); err == nil {
		t.Error("duplicate id accepted")
	}
	if err := x.Add("b", []float32{0, 1, 2}); !errors.Is(err, ErrDim) {
		t.Errorf("wrong dim add: err %v, want ErrDim", err)
	}
	if _, err := FromVectors([]reel.MovieID{"a", "b"}, [][]float32{{1}}); err == nil {
		t.Error("misaligned ids accepted")
	}
	empty := New(2)
	got, err := empty.Search([]float32{1, 0}, 3)
	if err != nil || len(got) != 0 {
		t.Errorf("empty index: %v, %v", got, err)
	}
	if v, ok := x.Vector("a"); !ok || v[0] != 1 {
		t.Errorf("Vector(a) = %v, %v", v, ok)
	}
}

// TestSearchMatchesBruteForce checks the heap against a full sort, on both
// the serial path and the parallel one (n >= parallelMin).
func TestSearchMatchesBruteForce(t *testing.T) {
	for _, n := range []int{7, 500, parallelMin + 1234} {
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		const dim = 12
		ids := make([]reel.MovieID, n)
		vecs := make([][]float32, n)
		for i := range vecs {
			ids[i] = reel.MovieID(rune('A'+i%26)) + reel.MovieID(string(rune('0'+i%10))) + reel.MovieID(itoa(i))
			vecs[i] = make([]float32, dim)
			for j := range vecs[i] {
				// Coarse values make exact ties common.
				vecs[i][j] = float32(rng.IntN(3) - 1)
			}
		}
		x := mustIndex(t, ids, vecs)
		for qi := range 3 {
			q := vecs[rng.IntN(n)]
			brute := bruteForce(x, q)
			for _, k := range []int{1, 10, 50, n} {
				got, err := x.Search(q, k)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(brute[:min(k, n)], got); diff != "" {
					t.Errorf("n=%d query %d k=%d (-brute +heap):\n%s", n, qi, k, diff)
				}
			}
		}
	}
}

func bruteForce(x *Index, q []float32) []reel.Hit {
	type pair struct {
		h reel.Hit
		i int
	}
	var ps []pair
	for i, id := range x.IDs() {
		ps = append(ps, pair{reel.Hit{ID: id}, i})
	}
	// Distances must be computed with the same kernel to compare exactly.
	for k := range ps {
		v, _ := x.Vector(ps[k].h.ID)
		ps[k].h.Distance = 1 - dotKernel(normalized(q), v)
	}
	sort.SliceStable(ps, func(a, b int) bool {
		if ps[a].h.Distance != ps[b].h.Distance {
			return ps[a].h.Distance < ps[b].h.Distance
		}
		return ps[a].i < ps[b].i
	})
	out := make([]reel.Hit, len(ps))
	for i, p := range ps {
		out[i] = p.h
	}
	return out
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// TestRankMatchesBruteForce checks Rank against a count over bruteForce's
// listing, on sizes around the 8-row panels and the 256-row scoring chunks,
// with coarse values so that ties are common.
func TestRankMatchesBruteForce(t *testing.T) {
	for _, n := range []int{1, 8, 9, 255, 256, 257, 300} {
		t.Run(itoa(n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(n), 2))
			const dim = 5
			ids := make([]reel.MovieID, n)
			vecs := make([][]float32, n)
			for i := range vecs {
				ids[i] = reel.MovieID("m" + itoa(i))
				vecs[i] = make([]float32, dim)
				for j := range vecs[i] {
					vecs[i][j] = float32(rng.IntN(3) - 1)
				}
			}
			x := mustIndex(t, ids, vecs)
			q := []float32{1, 0.5, -1, 0, 2}
			brute := bruteForce(x, q)
			dist := map[reel.MovieID]float32{}
			for _, h := range brute {
				dist[h.ID] = h.Distance
			}
			for _, id := range ids {
				want := 1
				for _, h := range brute {
					if h.Distance < dist[id] {
						want++
					}
				}
				got, err := x.Rank(q, id)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("Rank(%s) = %d, want %d", id, got, want)
				}
			}
		})
	}
}

// TestVectorIsACopy checks Vector returns the stored unit vector and that
// changing what it returns does not change the index.
func TestVectorIsACopy(t *testing.T) {
	x := mustIndex(t, []reel.MovieID{"a", "b"}, [][]float32{{3, 4}, {0, 2}})
	v, ok := x.Vector("a")
	if diff := cmp.Diff([]float32{0.6, 0.8}, v, cmpopts.EquateApprox(0, 1e-7)); !ok || diff != "" {
		t.Fatalf("Vector(a) = %v, %v (-want +got):\n%s", v, ok, diff)
	}
	v[0] = 100
	hits, err := x.Search([]float32{1, 0}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]reel.Hit{{ID: "a", Distance: 0.4}}, hits, cmpopts.EquateApprox(0, 1e-6)); diff != "" {
		t.Errorf("after changing Vector's result (-want +got):\n%s", diff)
	}
	if _, ok := x.Vector("zz"); ok {
		t.Error("Vector(zz) found")
	}
}

// TestSearchConcurrent runs Search and Rank from many goroutines at once
// (as the server does) and wants the answers a lone caller gets; run with
// -race it also checks the pooled per-query buffers are not shared.
func TestSearchConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n, dim = 300, 16
	ids := make([]reel.MovieID, n)
	vecs := make([][]float32, n)
	for i := range vecs {
		ids[i] = reel.MovieID("m" + itoa(i))
		vecs[i] = make([]float32, dim)
		for j := range vecs[i] {
			vecs[i][j] = float32(rng.NormFloat64())
		}
	}
	x := mustIndex(t, ids, vecs)
	type answer struct {
		hits []reel.Hit
		rank int
	}
	ask := func(q int) (answer, error) {
		hits, err := x.Search(vecs[q], 5+q%7)
		if err != nil {
			return answer{}, err
		}
		rank, err := x.Rank(vecs[q], ids[(q*7)%n])
		return answer{hits, rank}, err
	}
	want := make([]answer, 40)
	for q := range want {
		a, err := ask(q)
		if err != nil {
			t.Fatal(err)
		}
		want[q] = a
	}
	got := make([]answer, len(want))
	errs := make([]error, len(want))
	var wg sync.WaitGroup
	for q := range want {
		wg.Go(func() { got[q], errs[q] = ask(q) })
	}
	wg.Wait()
	for q := range want {
		if errs[q] != nil {
			t.Fatal(errs[q])
		}
		if diff := cmp.Diff(want[q], got[q], cmp.AllowUnexported(answer{})); diff != "" {
			t.Errorf("query %d concurrent vs alone (-alone +concurrent):\n%s", q, diff)
		}
	}
}
