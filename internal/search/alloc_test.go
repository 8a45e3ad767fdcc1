package search

import (
	"testing"

	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// TestScansDoNotAllocate checks what "a search allocates only its result"
// rests on: the exact and the int8 scan, given heaps and candidate lists
// already grown, allocate nothing, however many blocks and queries. (A
// kernel that called through a function value once moved the exact
// scan's 32 KiB score buffer to the heap on every call.)
func TestScansDoNotAllocate(t *testing.T) {
	const n, dim, k = 1000, 64, 10 // four blocks of 32 panels
	const nq = 5                   // a group of four queries and one more
	x, queries := seededIndex(t, n, dim, nq, 31)
	q8 := NewInt8(x)
	qbs := make([][]float32, nq)
	qs := make([]int8Query, nq)
	for i := range nq {
		sc, err := x.prepare("search", queries[i])
		if err != nil {
			t.Fatal(err)
		}
		defer scratchPool.Put(sc)
		qbs[i] = sc.qb
		qs[i] = newInt8Query(sc, make([]uint8, vecmath.Int8PanelLen(1, dim)))
	}
	for _, nq := range []int{1, nq} {
		tops := newTops(nq, k)
		if a := testing.AllocsPerRun(5, func() {
			for i := range tops {
				tops[i].reset(k)
			}
			x.scan(qbs[:nq], tops, 0, x.panels())
		}); a != 0 {
			t.Errorf("exact scan of %d queries: %v allocations per call, want 0", nq, a)
		}
		part := &int8Part{uppers: newTops(nq, k), cands: make([][]cand, nq), over: make([]bool, nq)}
		if a := testing.AllocsPerRun(5, func() {
			for i := range nq {
				part.uppers[i].reset(k)
				part.cands[i] = part.cands[i][:0]
			}
			q8.scan(qs[:nq], part, 0, x.panels())
		}); a != 0 {
			t.Errorf("int8 scan of %d queries: %v allocations per call, want 0", nq, a)
		}
	}
}
