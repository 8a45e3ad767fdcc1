package search

import (
	"fmt"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reel"
)

// TestInt8MatchesExact checks that int8 codes plus the float32 rescore
// return the exact index's hits, distances included, on seeded data with
// ties: serially, in parallel, batched, and through a Batcher.
func TestInt8MatchesExact(t *testing.T) {
	for _, tc := range []struct{ n, dim, k int }{
		{3, 5, 10},                  // fewer vectors than candidates: all rescored
		{500, 16, 10},               // candidates are a fifth of the index
		{5000, 64, 10},              //
		{parallelMin + 500, 32, 10}, // parallel scan
		{5000, 128, 3},              // the heads' default size
		{5000, 9, 20},               // a dim that is not a multiple of 4
	} {
		t.Run(fmt.Sprintf("n=%d/dim=%d/k=%d", tc.n, tc.dim, tc.k), func(t *testing.T) {
			x, queries := seededIndex(t, tc.n, tc.dim, 12, uint64(tc.n+tc.dim))
			q := NewInt8(x)
			batch, err := q.SearchBatch(queries, tc.k)
			if err != nil {
				t.Fatal(err)
			}
			b := NewBatcher(q)
			for i, v := range queries {
				want, err := x.Search(v, tc.k)
				if err != nil {
					t.Fatal(err)
				}
				got, err := q.Search(v, tc.k)
				if err != nil {
					t.Fatal(err)
				}
				if diff := gocmp.Diff(want, got); diff != "" {
					t.Errorf("query %d (-exact +int8):\n%s", i, diff)
				}
				if diff := gocmp.Diff(want, batch[i]); diff != "" {
					t.Errorf("query %d (-exact +int8 batch):\n%s", i, diff)
				}
				viaBatcher, err := b.Search(v, tc.k)
				if err != nil {
					t.Fatal(err)
				}
				if diff := gocmp.Diff(want, viaBatcher); diff != "" {
					t.Errorf("query %d (-exact +int8 Batcher):\n%s", i, diff)
				}
			}
		})
	}
}

func TestInt8ZeroQueryAndBytes(t *testing.T) {
	x := mustIndex(t, []reel.MovieID{"a", "b", "c"}, [][]float32{{1, 0}, {0, 0}, {0, 1}})
	q := NewInt8(x)
	got, err := q.Search([]float32{0, 0}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []reel.Hit{{ID: "a", Distance: 1}, {ID: "b", Distance: 1}}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("zero query (-want +got):\n%s", diff)
	}
	// One panel of codes (8 rows x 4 values), 8 bytes of scale and sum per
	// row, and the float32 panel (8 rows x 2 values x 4 bytes).
	if got, want := q.Bytes(), int64(8*4+3*8+8*2*4); got != want {
		t.Errorf("Bytes = %d, want %d", got, want)
	}
	if q.Kind() != KindInt8 || q.Len() != 3 {
		t.Errorf("Kind %q Len %d", q.Kind(), q.Len())
	}
}
