package search

import (
	"errors"
	"math/rand/v2"
	"sort"
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
