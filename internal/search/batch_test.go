package search

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reel"
)

// seededIndex returns an index of n random vectors of dim values, where
// every seventh vector repeats an earlier one (so ties are common and
// their order is checked), and nq queries, some of them copies of stored
// vectors.
func seededIndex(t testing.TB, n, dim, nq int, seed uint64) (*Index, [][]float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	ids := make([]reel.MovieID, n)
	vecs := make([][]float32, n)
	for i := range vecs {
		ids[i] = reel.MovieID(fmt.Sprintf("m%d", i))
		if i%7 == 6 {
			vecs[i] = vecs[rng.IntN(i)]
			continue
		}
		vecs[i] = make([]float32, dim)
		for j := range vecs[i] {
			vecs[i][j] = float32(rng.NormFloat64())
		}
	}
	queries := make([][]float32, nq)
	for i := range queries {
		if i%3 == 0 {
			queries[i] = vecs[rng.IntN(n)]
			continue
		}
		queries[i] = make([]float32, dim)
		for j := range queries[i] {
			queries[i][j] = float32(rng.NormFloat64())
		}
	}
	return mustIndex(t, ids, vecs), queries
}

// TestSearchBatchMatchesSearch checks that a batched scan returns exactly
// what one Search per query does, serial and parallel (n past
// parallelMin), for k below and above the index size.
func TestSearchBatchMatchesSearch(t *testing.T) {
	for _, tc := range []struct{ n, dim int }{{5, 3}, {300, 16}, {parallelMin + 1234, 12}} {
		x, queries := seededIndex(t, tc.n, tc.dim, 9, uint64(tc.n))
		for _, k := range []int{1, 10, tc.n + 5} {
			t.Run(fmt.Sprintf("n=%d/k=%d", tc.n, k), func(t *testing.T) {
				got, err := x.SearchBatch(queries, k)
				if err != nil {
					t.Fatal(err)
				}
				for i, q := range queries {
					want, err := x.Search(q, k)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(want, got[i]); diff != "" {
						t.Errorf("query %d (-Search +SearchBatch):\n%s", i, diff)
					}
				}
			})
		}
	}
}

func TestBatcherConcurrent(t *testing.T) {
	x, queries := seededIndex(t, 2000, 16, 40, 3)
	b := NewBatcher(x)
	var wg sync.WaitGroup
	got := make([][]reel.Hit, len(queries))
	errs := make([]error, len(queries))
	for i, q := range queries {
		wg.Go(func() { got[i], errs[i] = b.Search(q, 3+i%9) })
	}
	wg.Wait()
	for i, q := range queries {
		if errs[i] != nil {
			t.Fatalf("query %d: %v", i, errs[i])
		}
		want, _ := x.Search(q, 3+i%9)
		if diff := cmp.Diff(want, got[i]); diff != "" {
			t.Errorf("query %d (-Search +Batcher):\n%s", i, diff)
		}
	}
	if b.Kind() != KindExact || b.Len() != x.Len() || b.Bytes() != x.Bytes() {
		t.Errorf("Batcher reports %s/%d/%d, index %s/%d/%d", b.Kind(), b.Len(), b.Bytes(), x.Kind(), x.Len(), x.Bytes())
	}
}

// TestBatcherBadQueryAlone checks that a bad query fails alone, before it
// joins a batch.
func TestBatcherBadQueryAlone(t *testing.T) {
	x, queries := seededIndex(t, 100, 4, 1, 4)
	b := NewBatcher(x)
	if _, err := b.Search([]float32{1, 2}, 3); !errors.Is(err, ErrDim) {
		t.Errorf("short query: err %v, want ErrDim", err)
	}
	if _, err := b.Search(queries[0], 0); err == nil {
		t.Error("k=0 accepted")
	}
	if _, err := x.SearchBatch([][]float32{queries[0], {1}}, 3); !errors.Is(err, ErrDim) {
		t.Errorf("SearchBatch with a short query: err %v, want ErrDim", err)
	}
	if hits, err := b.Search(queries[0], 3); err != nil || len(hits) != 3 {
		t.Errorf("good query after bad ones: %v, %v", hits, err)
	}
}
