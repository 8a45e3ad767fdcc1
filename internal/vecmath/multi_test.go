package vecmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// multiCase is nq random queries spread for DotPanelsMulti and n random
// rows of dim values in panels.
func multiCase(rng *rand.Rand, nq, n, dim int) (qs, rows [][]float32, qbs [][]float32, panels []float32) {
	qs = make([][]float32, nq)
	qbs = make([][]float32, nq)
	for i := range qs {
		qs[i] = randVec(rng, dim)
		qbs[i] = make([]float32, dim*PanelRows)
		SpreadQuery(qbs[i], qs[i])
	}
	rows = make([][]float32, n)
	for i := range rows {
		rows[i] = randVec(rng, dim)
	}
	return qs, rows, qbs, toPanels(rows, dim)
}

func newOuts(nq, rows int) [][]float32 {
	outs := make([][]float32, nq)
	for i := range outs {
		outs[i] = make([]float32, rows)
		for r := range outs[i] {
			outs[i][r] = float32(math.NaN()) // must be overwritten
		}
	}
	return outs
}

// TestDotPanelsMultiMatchesFloat64 checks the dispatching and the portable
// kernel against float64 dot products over every dim from 0 to 40 and a
// few larger odd ones, panel counts that reach every inner loop and its
// leftovers (1-9 panels: pairs, quads and odd ones), and query counts
// around the group of four.
func TestDotPanelsMultiMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	kernels := []struct {
		name string
		f    func(qbs [][]float32, panels []float32, outs [][]float32)
	}{{"DotPanelsMulti", DotPanelsMulti}, {"generic", dotPanelsMultiGeneric}}
	dims := []int{67, 128, 131}
	for d := 0; d <= 40; d++ {
		dims = append(dims, d)
	}
	for _, k := range kernels {
		for _, dim := range dims {
			for _, nq := range []int{1, 2, 3, 4, 5, 9} {
				for _, n := range []int{1, 8, 9, 16, 23, 32, 40, 65} {
					if k.name == "generic" && dim == 0 {
						continue // DotPanelsMulti clears dim 0 itself
					}
					qs, rows, qbs, panels := multiCase(rng, nq, n, dim)
					outs := newOuts(nq, PanelLen(n, 1))
					k.f(qbs, panels, outs)
					for i := range outs {
						for r, got := range outs[i] {
							var want, tol float64 // padding rows are zero
							if r < n {
								want, tol = dot64(qs[i], rows[r]), dotTolerance(qs[i], rows[r])
							}
							if !(math.Abs(float64(got)-want) <= tol) {
								t.Fatalf("%s dim %d nq %d n %d: query %d row %d: got %v, want %v ± %.3g", k.name, dim, nq, n, i, r, got, want, tol)
							}
						}
					}
				}
			}
		}
	}
}

// TestDotPanelsMultiSameBits checks the promise search depends on: a
// row's score has the same bits whether its query is scored alone or in
// a group of any size (each form of the inner loop), and whether the row
// sits among others or alone in any slot of a panel.
func TestDotPanelsMultiSameBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, dim := range []int{1, 3, 4, 13, 64, 128, 131} {
		const nq, n = 9, 61 // two groups of four and one more; 7 full panels and 5 rows
		_, rows, qbs, panels := multiCase(rng, nq, n, dim)
		all := newOuts(nq, PanelLen(n, 1))
		DotPanelsMulti(qbs, panels, all)
		for i := range qbs {
			// The same query alone, over the same panels and over one
			// panel, three and five (other tails of the inner loops).
			for _, np := range []int{1, 3, 5, 8} {
				one := newOuts(1, np*PanelRows)
				DotPanelsMulti(qbs[i:i+1], panels, one)
				for r := range one[0] {
					if math.Float32bits(one[0][r]) != math.Float32bits(all[i][r]) {
						t.Fatalf("dim %d query %d row %d: alone over %d panels %v, in the group %v", dim, i, r, np, one[0][r], all[i][r])
					}
				}
			}
		}
		for r := 0; r < n; r += 5 {
			for slot := range PanelRows {
				alone := make([]float32, PanelLen(PanelRows, dim))
				SetPanelRow(alone, slot, rows[r])
				out := newOuts(nq, PanelRows)
				DotPanelsMulti(qbs, alone, out)
				for i := range qbs {
					if math.Float32bits(out[i][slot]) != math.Float32bits(all[i][r]) {
						t.Fatalf("dim %d: row %d alone in slot %d scores %v for query %d, among the others %v", dim, r, slot, out[i][slot], i, all[i][r])
					}
				}
			}
		}
	}
}

func TestDotPanelsMultiBadSizesPanic(t *testing.T) {
	qb := make([]float32, 2*PanelRows)
	for _, tt := range []struct {
		name string
		qbs  [][]float32
		p    []float32
		outs [][]float32
	}{
		{"short panels", [][]float32{qb}, make([]float32, PanelRows), [][]float32{make([]float32, PanelRows)}},
		{"partial panel out", [][]float32{qb}, make([]float32, 2*PanelRows), [][]float32{make([]float32, 3)}},
		{"ragged qb", [][]float32{qb[:5]}, make([]float32, 2*PanelRows), [][]float32{make([]float32, PanelRows)}},
		{"queries of two dims", [][]float32{qb, qb[:PanelRows]}, make([]float32, 2*PanelRows), [][]float32{make([]float32, PanelRows), make([]float32, PanelRows)}},
		{"outs of two lengths", [][]float32{qb, qb}, make([]float32, 4*PanelRows), [][]float32{make([]float32, PanelRows), make([]float32, 2*PanelRows)}},
		{"fewer outs than queries", [][]float32{qb, qb}, make([]float32, 2*PanelRows), [][]float32{make([]float32, PanelRows)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			DotPanelsMulti(tt.qbs, tt.p, tt.outs)
		})
	}
}

// TestOneMinusAndIndexBelow checks the SIMD helpers against their scalar
// definitions at every length around the 8-wide step and every start.
func TestOneMinusAndIndexBelow(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for n := 0; n <= 35; n++ {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()
		}
		got := append([]float32(nil), v...)
		OneMinus(got)
		for i := range v {
			if want := 1 - v[i]; math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Fatalf("n %d: OneMinus[%d] = %v, want %v", n, i, got[i], want)
			}
		}
		for _, limit := range []float32{-1, 0.05, 0.5, 2} {
			for from := 0; from <= n+1; from++ {
				want := n
				for i := from; i < n; i++ {
					if v[i] < limit {
						want = i
						break
					}
				}
				if got := IndexBelow(v, from, limit); got != want {
					t.Fatalf("IndexBelow(%d values, from %d, %v) = %d, want %d", n, from, limit, got, want)
				}
			}
		}
	}
}

// BenchmarkScanMulti scores q queries against n rows of dim values, the
// inner loop of a batched search: DotPanels once per query (the kernel
// before DotPanelsMulti) against DotPanelsMulti. ns/row is per scored
// row and query. The panels take 512 KiB (in L2, as a search block is),
// or 64 MiB for one query (mem: read from memory, as a lone search does).
func BenchmarkScanMulti(b *testing.B) {
	for _, dim := range []int{128, 512} {
		for _, nq := range []int{1, 32, -1} {
			n := 1024 * 128 / dim
			if nq < 0 {
				nq, n = 1, 128*1024*128/dim
			}
			rng := rand.New(rand.NewPCG(1, 2))
			_, _, qbs, panels := multiCase(rng, nq, n, dim)
			outs := newOuts(nq, n)
			name := fmt.Sprintf("dim=%d/q=%d", dim, nq)
			if n > 1024*128/dim {
				name += "/mem"
			}
			b.Run("DotPanels/"+name, func(b *testing.B) {
				for b.Loop() {
					for i := range qbs {
						DotPanels(qbs[i], panels, outs[i])
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*nq), "ns/row")
			})
			b.Run("Multi/"+name, func(b *testing.B) {
				for b.Loop() {
					DotPanelsMulti(qbs, panels, outs)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*nq), "ns/row")
			})
		}
	}
}
