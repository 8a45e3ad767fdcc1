package search

import (
	"fmt"
	"math/rand/v2"
	"sync"
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

// benchIndex is n seeded random 128-d vectors and 64 queries.
func benchIndex(b *testing.B, n, dim int) (*Index, [][]float32) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	ids := make([]reel.MovieID, n)
	vecs := make([][]float32, n)
	flat := make([]float32, n*dim)
	for i := range vecs {
		ids[i] = reel.MovieID(fmt.Sprint(i))
		vecs[i] = flat[i*dim : (i+1)*dim]
		for j := range vecs[i] {
			vecs[i][j] = float32(rng.NormFloat64())
		}
	}
	x, err := FromVectors(ids, vecs)
	if err != nil {
		b.Fatal(err)
	}
	queries := make([][]float32, 64)
	for i := range queries {
		queries[i] = make([]float32, dim)
		for j := range queries[i] {
			queries[i][j] = float32(rng.NormFloat64())
		}
	}
	return x, queries
}

// BenchmarkConcurrent32 answers 32 queries sent at once to N 128-d
// vectors (ns/op is the time until all 32 have their top 10), three ways:
// Independent is 32 goroutines calling Index.Search (the scan before
// batching: each query its own pass over memory), Batched sends them
// through a Batcher (they share passes), Int8 through a Batcher over the
// int8 index. Compare within one run: the ratio is the gain.
func BenchmarkConcurrent32(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		x, queries := benchIndex(b, n, 128)
		queries = queries[:32]
		q8 := NewInt8(x)
		for _, tc := range []struct {
			name string
			s    Searcher
		}{{"Independent", x}, {"Batched", NewBatcher(x)}, {"Int8", NewBatcher(q8)}} {
			b.Run(fmt.Sprintf("%s/N=%d", tc.name, n), func(b *testing.B) {
				for b.Loop() {
					var wg sync.WaitGroup
					for _, q := range queries {
						wg.Go(func() {
							if _, err := tc.s.Search(q, 10); err != nil {
								b.Error(err)
							}
						})
					}
					wg.Wait()
				}
			})
		}
	}
}

// BenchmarkSearchOne is one top-10 query against N 128-d vectors: the
// exact scan and the int8 scan with its float32 rescore.
func BenchmarkSearchOne(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		x, queries := benchIndex(b, n, 128)
		q8 := NewInt8(x)
		for _, tc := range []struct {
			name string
			s    Searcher
		}{{"Exact", x}, {"Int8", q8}} {
			b.Run(fmt.Sprintf("%s/N=%d", tc.name, n), func(b *testing.B) {
				for b.Loop() {
					if _, err := tc.s.Search(queries[0], 10); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
