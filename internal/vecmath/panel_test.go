package vecmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// float32Unit is the unit roundoff of float32, 2^-24.
const float32Unit = 1.0 / (1 << 24)

// dotTolerance bounds the float32 error of a dot product of n terms summed
// in any order: n·u·Σ|a_i·b_i| (Higham, Accuracy and Stability of
// Numerical Algorithms, 2nd ed., §3.1), with one extra u for the final add.
func dotTolerance(a, b []float32) float64 {
	var abs float64
	for i := range a {
		abs += math.Abs(float64(a[i]) * float64(b[i]))
	}
	return float64(len(a)+1) * float32Unit * abs
}

// dot64 is the float64 reference dot product.
func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// toPanels lays rows out as DotPanels reads them, padding to whole panels.
func toPanels(rows [][]float32, dim int) []float32 {
	p := make([]float32, PanelLen(len(rows), dim))
	for i, r := range rows {
		SetPanelRow(p, i, r)
	}
	return p
}

// TestDotPanelsMatchesFloat64 sweeps every dim from 0 to 67 (below, at and
// past the 4-column unroll, odd leftovers) and row counts around the panel
// size, on the dispatching kernel and on the portable one.
func TestDotPanelsMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	kernels := []struct {
		name string
		f    func(qb, panels, out []float32)
	}{{"DotPanels", DotPanels}, {"generic", dotPanelsGeneric}}
	for _, k := range kernels {
		for dim := 0; dim <= 67; dim++ {
			for _, n := range []int{0, 1, 5, 8, 9, 16, 23} {
				t.Run(fmt.Sprintf("%s/dim=%d/n=%d", k.name, dim, n), func(t *testing.T) {
					q := randVec(rng, dim)
					rows := make([][]float32, n)
					for i := range rows {
						rows[i] = randVec(rng, dim)
					}
					qb := make([]float32, dim*PanelRows)
					SpreadQuery(qb, q)
					out := make([]float32, PanelLen(n, 1))
					for i := range out {
						out[i] = float32(math.NaN()) // must be overwritten
					}
					k.f(qb, toPanels(rows, dim), out)
					for i := range out {
						var want, tol float64 // padding rows are zero
						if i < n {
							want, tol = dot64(q, rows[i]), dotTolerance(q, rows[i])
						}
						if got := float64(out[i]); !(math.Abs(got-want) <= tol) {
							t.Errorf("row %d: got %v, want %v ± %.3g", i, got, want, tol)
						}
					}
				})
			}
		}
	}
}

// TestDotPanelsPositionIndependent checks the promise search depends on: a
// row's score is bit-identical alone in a panel, in any slot, next to any
// other rows.
func TestDotPanelsPositionIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dim := range []int{1, 3, 4, 13, 64, 128, 131, 256} {
		const n = 29 // three full panels and five rows in a fourth
		q := randVec(rng, dim)
		qb := make([]float32, dim*PanelRows)
		SpreadQuery(qb, q)
		rows := make([][]float32, n)
		for i := range rows {
			rows[i] = randVec(rng, dim)
		}
		all := make([]float32, PanelLen(n, 1))
		DotPanels(qb, toPanels(rows, dim), all)
		for i, r := range rows {
			for slot := range PanelRows {
				alone := make([]float32, PanelLen(PanelRows, dim))
				SetPanelRow(alone, slot, r)
				var out [PanelRows]float32
				DotPanels(qb, alone, out[:])
				if math.Float32bits(out[slot]) != math.Float32bits(all[i]) {
					t.Fatalf("dim %d: row %d alone in slot %d scores %v, among the others %v", dim, i, slot, out[slot], all[i])
				}
			}
		}
	}
}

func TestPanelRowRoundTrip(t *testing.T) {
	rows := [][]float32{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}, {13, 14, 15}, {16, 17, 18}, {19, 20, 21}, {22, 23, 24}, {25, 26, 27}}
	p := toPanels(rows, 3)
	if got, want := len(p), 2*PanelRows*3; got != want {
		t.Fatalf("PanelLen(9, 3) = %d, want %d", got, want)
	}
	for i, want := range rows {
		if diff := cmp.Diff(want, PanelRow(make([]float32, 3), p, i)); diff != "" {
			t.Errorf("row %d (-want +got):\n%s", i, diff)
		}
	}
	// Column j of the first panel holds value j of rows 0..7.
	if diff := cmp.Diff([]float32{2, 5, 8, 11, 14, 17, 20, 23}, p[PanelRows:2*PanelRows]); diff != "" {
		t.Errorf("column 1 of panel 0 (-want +got):\n%s", diff)
	}
}

func TestDotPanelsBadSizesPanic(t *testing.T) {
	qb := make([]float32, 2*PanelRows)
	for _, tt := range []struct {
		name       string
		qb, p, out []float32
	}{
		{"short panels", qb, make([]float32, PanelRows), make([]float32, PanelRows)},
		{"partial panel out", qb, make([]float32, 2*PanelRows), make([]float32, 3)},
		{"ragged qb", qb[:5], make([]float32, 2*PanelRows), make([]float32, PanelRows)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			DotPanels(tt.qb, tt.p, tt.out)
		})
	}
}

// dotPanelsSlotBySlot is the portable DotPanels as it was first written,
// slot by slot: dotPanelsGeneric must give its bits exactly.
func dotPanelsSlotBySlot(qb, panels, out []float32) {
	dim := len(qb) / PanelRows
	size := PanelRows * dim
	for p := 0; p < len(out)/PanelRows; p++ {
		panel := panels[p*size : (p+1)*size]
		for s := range PanelRows {
			var s0, s1, s2, s3 float32
			j := 0
			for ; j+4 <= dim; j += 4 {
				s0 += qb[j*PanelRows] * panel[j*PanelRows+s]
				s1 += qb[(j+1)*PanelRows] * panel[(j+1)*PanelRows+s]
				s2 += qb[(j+2)*PanelRows] * panel[(j+2)*PanelRows+s]
				s3 += qb[(j+3)*PanelRows] * panel[(j+3)*PanelRows+s]
			}
			for ; j < dim; j++ {
				s0 += qb[j*PanelRows] * panel[j*PanelRows+s]
			}
			out[p*PanelRows+s] = (s0 + s1) + (s2 + s3)
		}
	}
}

// TestDotPanelsGenericSameSums checks that the column-by-column portable
// kernel adds the same products in the same order as the slot-by-slot
// one: the same bits, every dim from 1 to 40 and a few larger.
func TestDotPanelsGenericSameSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	for _, dim := range append([]int{67, 128, 131}, func() []int {
		var d []int
		for i := 1; i <= 40; i++ {
			d = append(d, i)
		}
		return d
	}()...) {
		const n = 21
		_, _, qbs, panels := multiCase(rng, 1, n, dim)
		qb := qbs[0]
		got, want := make([]float32, PanelLen(n, 1)), make([]float32, PanelLen(n, 1))
		dotPanelsGeneric(qb, panels, got)
		dotPanelsSlotBySlot(qb, panels, want)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("dim %d row %d: %v, slot by slot %v", dim, i, got[i], want[i])
			}
		}
	}
}
