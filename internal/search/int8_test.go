package search

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// TestInt8MatchesExact checks that int8 codes plus the float32 rescore
// return the exact index's hits, distances included, on seeded data with
// ties (every seventh vector repeats one, a third of the queries are
// stored vectors): serially, in parallel, batched, and through a Batcher.
func TestInt8MatchesExact(t *testing.T) {
	for _, tc := range []struct{ n, dim, k int }{
		{3, 5, 10},                  // fewer vectors than k
		{500, 16, 10},               // one scan block
		{5000, 64, 10},              // five int8 blocks of 1,024 rows
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
	// One panel of codes (8 rows x 4 values), 12 bytes of scale, sum and error per
	// row, and the float32 panel (8 rows x 2 values x 4 bytes).
	if got, want := q.Bytes(), int64(8*4+3*12+8*2*4); got != want {
		t.Errorf("Bytes = %d, want %d", got, want)
	}
	if q.Kind() != KindInt8 || q.Len() != 3 {
		t.Errorf("Kind %q Len %d", q.Kind(), q.Len())
	}
}

// TestInt8Bound checks the bound the int8 index relies on: for every row,
// the exact kernel's distance lies within a + b·err of the int8 distance,
// on random, one-hot, constant and tiny-valued vectors of many sizes; and
// the lower bound the scan computes (vecmath.Int8Lower) is below it.
func TestInt8Bound(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	dims := []int{1, 2, 3, 5, 8, 13, 31, 64, 67, 128, 131, 512, 1031}
	for _, dim := range dims {
		vecs := make([][]float32, 0, 64)
		for i := range 64 {
			v := make([]float32, dim)
			switch i % 4 {
			case 0: // random normal
				for j := range v {
					v[j] = float32(rng.NormFloat64())
				}
			case 1: // one-hot
				v[rng.IntN(dim)] = 1
			case 2: // constant: every value rounds the same way
				for j := range v {
					v[j] = 1
				}
			case 3: // one large value, the rest tiny (they quantize to 0)
				for j := range v {
					v[j] = float32(rng.NormFloat64()) * 1e-4
				}
				v[0] = 1
			}
			vecs = append(vecs, v)
		}
		ids := make([]reel.MovieID, len(vecs))
		for i := range ids {
			ids[i] = reel.MovieID(fmt.Sprint(i))
		}
		x := mustIndex(t, ids, vecs)
		q := NewInt8(x)
		for qi, query := range vecs {
			sc, err := x.prepare("search", query)
			if err != nil {
				t.Fatal(err)
			}
			qq := newInt8Query(sc, make([]uint8, vecmath.Int8PanelLen(1, dim)))
			a, b := qq.a, qq.b
			dots := make([]int32, vecmath.PanelLen(len(vecs), 1))
			vecmath.DotPanelsInt8(qq.codes, q.codes, dots)
			approx := make([]float32, len(vecs))
			vecmath.Int8Distances(approx, dots, q.scale, q.sum, qq.scale)
			lower := make([]float32, len(vecs))
			vecmath.Int8Lower(lower, approx, q.errs, a, b)
			for r := range vecs {
				v, _ := x.Vector(ids[r])
				exact := 1 - dotKernel(sc.q, v)
				bound := float64(a) + float64(b)*float64(q.errs[r])
				if gap := math.Abs(float64(exact) - float64(approx[r])); gap > bound {
					t.Fatalf("dim %d query %d row %d: exact %v, int8 %v: %.3g apart, bound %.3g", dim, qi, r, exact, approx[r], gap, bound)
				}
				if upper := approx[r] + (b*q.errs[r] + a); lower[r] > exact || upper < exact {
					t.Fatalf("dim %d query %d row %d: exact %v outside [%v, %v]", dim, qi, r, exact, lower[r], upper)
				}
			}
			scratchPool.Put(sc)
		}
	}
}

// TestInt8Fallback checks the path for queries the bound cannot narrow:
// with the candidate cap lowered and many copies of one vector, the scan
// gives up on the query, and the hits are still the exact index's.
func TestInt8Fallback(t *testing.T) {
	defer func(old int) { maxInt8Cands = old }(maxInt8Cands)
	maxInt8Cands = 16
	const n, dim = 300, 8
	ids := make([]reel.MovieID, n)
	vecs := make([][]float32, n)
	rng := rand.New(rand.NewPCG(23, 24))
	for i := range vecs {
		ids[i] = reel.MovieID(fmt.Sprint(i))
		vecs[i] = []float32{1, 2, 3, 4, 5, 6, 7, 8} // equidistant from every query
		if i%10 == 0 {
			for j := range vecs[i] {
				vecs[i][j] = float32(rng.NormFloat64())
			}
		}
	}
	x := mustIndex(t, ids, vecs)
	q := NewInt8(x)
	query := []float32{1, 2, 3, 4, 5, 6, 7, 9}
	sc, err := x.prepare("search", query)
	if err != nil {
		t.Fatal(err)
	}
	qq := newInt8Query(sc, make([]uint8, vecmath.Int8PanelLen(1, dim)))
	if parts := q.scanParallel([]int8Query{qq}, 5); !parts[0].over[0] {
		t.Fatalf("the scan kept %d candidates without giving up", len(parts[0].cands[0]))
	}
	scratchPool.Put(sc)
	want, err := x.Search(query, 5)
	if err != nil {
		t.Fatal(err)
	}
	got, err := q.Search(query, 5)
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("(-exact +int8):\n%s", diff)
	}
}

// TestInt8TiesAtTheBoundary checks the rescore's early stop where it is
// most fragile: many copies of the query's own vector tie at the k-th
// place (and past it), so the hits must be the copies of lowest index,
// exactly as the exact index orders them.
func TestInt8TiesAtTheBoundary(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	const n, dim = 400, 24
	base := make([]float32, dim)
	for j := range base {
		base[j] = float32(rng.NormFloat64())
	}
	ids := make([]reel.MovieID, n)
	vecs := make([][]float32, n)
	for i := range vecs {
		ids[i] = reel.MovieID(fmt.Sprint(i))
		vecs[i] = base
		if i%3 != 0 { // every third row a copy of base, the rest random
			vecs[i] = make([]float32, dim)
			for j := range vecs[i] {
				vecs[i][j] = float32(rng.NormFloat64())
			}
		}
	}
	x := mustIndex(t, ids, vecs)
	q := NewInt8(x)
	for _, k := range []int{1, 5, 40, 133, 134, 135} {
		want, err := x.Search(base, k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := q.Search(base, k)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("k=%d (-exact +int8):\n%s", k, diff)
		}
	}
}

// TestInt8BoundIsTight checks that the bound does its job as well as
// being valid (TestInt8Bound): on random data the scan keeps few rows for
// the rescore. On seededIndex's 5,000 128-d vectors and 20 queries with
// k = 10 it keeps at most 70 rows; a bound twice as loose keeps up to 256,
// one ten times as loose nearly every row, with hits still exact, so only
// this test would notice.
func TestInt8BoundIsTight(t *testing.T) {
	const n, dim, k, most = 5000, 128, 10, 120
	x, queries := seededIndex(t, n, dim, 20, 35)
	q := NewInt8(x)
	for i, v := range queries {
		sc, err := x.prepare("search", v)
		if err != nil {
			t.Fatal(err)
		}
		qq := newInt8Query(sc, make([]uint8, vecmath.Int8PanelLen(1, dim)))
		cands, ok := mergeParts(q.scanParallel([]int8Query{qq}, k), 0, k)
		scratchPool.Put(sc)
		if !ok || len(cands) > most {
			t.Errorf("query %d: the scan kept %d rows of %d for the rescore (gave up: %v), want at most %d", i, len(cands), n, !ok, most)
		}
	}
}
