package search

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/reelmatch/reelmatch/internal/reel"
)

// BenchmarkSearch is one top-10 query against N 256-d vectors (the heads'
// output size), the sizes STYLE §4 asks for. Target: under 20 ms.
func BenchmarkSearch(b *testing.B) {
	const dim = 256
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			x := New(dim)
			v := make([]float32, dim)
			for i := range n {
				for j := range v {
					v[j] = float32(rng.NormFloat64())
				}
				if err := x.Add(reel.MovieID(fmt.Sprint(i)), v); err != nil {
					b.Fatal(err)
				}
			}
			q := make([]float32, dim)
			for j := range q {
				q[j] = float32(rng.NormFloat64())
			}
			for b.Loop() {
				if _, err := x.Search(q, 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
