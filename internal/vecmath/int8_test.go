package vecmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestDotPanelsInt8 checks the dispatching and the portable kernel against
// an int64 reference computed from the documented layout, over dims below,
// at and past the 4-value group and the two-group unroll, and row counts
// around the panel size; then checks that the dequantized score is close
// to the float dot product.
func TestDotPanelsInt8(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	kernels := []struct {
		name string
		f    func(qb []uint8, panels []int8, out []int32)
	}{{"DotPanelsInt8", DotPanelsInt8}, {"generic", dotPanelsInt8Generic}}
	for _, k := range kernels {
		for _, dim := range []int{1, 3, 4, 5, 7, 8, 9, 12, 31, 64, 128, 130, 512} {
			for _, n := range []int{1, 7, 8, 9, 17} {
				t.Run(fmt.Sprintf("%s/dim=%d/n=%d", k.name, dim, n), func(t *testing.T) {
					q := Normalized(randVec(rng, dim))
					rows := make([][]float32, n)
					panels := make([]int8, Int8PanelLen(n, dim))
					scales := make([]float32, n)
					sums := make([]int32, n)
					for i := range rows {
						rows[i] = Normalized(randVec(rng, dim))
						scales[i], sums[i] = QuantizeRow(panels, i, rows[i])
					}
					qb := make([]uint8, int8Dim(dim)*PanelRows)
					qs := QuantizeQuery(qb, q)
					out := make([]int32, PanelLen(n, 1))
					for i := range out {
						out[i] = math.MinInt32 // must be overwritten
					}
					k.f(qb, panels, out)
					for i := range out {
						var want int64 // from the layout, value by value
						if i < n {
							p := panels[i/PanelRows*PanelRows*int8Dim(dim):]
							for j := range int8Dim(dim) {
								at := (j/Int8Group)*PanelRows*Int8Group + (i%PanelRows)*Int8Group + j%Int8Group
								want += int64(qb[at]) * int64(p[at])
							}
						}
						if int64(out[i]) != want {
							t.Fatalf("row %d: got %d, want %d", i, out[i], want)
						}
						if i >= n {
							continue
						}
						approx := float64(qs) * float64(scales[i]) * float64(out[i]-QueryOffset*sums[i])
						exact := float64(Dot(q, rows[i]))
						// Per value the codes are off by at most half a
						// step: |Δq|≤qs/2, |Δx|≤scale/2; with unit vectors
						// the dot is off by at most (qs+scale)/2·√dim.
						tol := (float64(qs) + float64(scales[i])) / 2 * math.Sqrt(float64(dim)) * 1.01
						if math.Abs(approx-exact) > tol {
							t.Errorf("row %d: int8 score %v, float %v, more than %.3g apart", i, approx, exact, tol)
						}
					}
				})
			}
		}
	}
}

func TestQuantizeZero(t *testing.T) {
	panels := make([]int8, Int8PanelLen(1, 3))
	if s, sum := QuantizeRow(panels, 0, []float32{0, 0, 0}); s != 0 || sum != 0 {
		t.Errorf("zero row: scale %v sum %v, want 0 0", s, sum)
	}
	qb := make([]uint8, 4*PanelRows)
	if s := QuantizeQuery(qb, []float32{0, 0, 0}); s != 0 {
		t.Errorf("zero query scale %v", s)
	}
	for i, b := range qb {
		if b != QueryOffset {
			t.Fatalf("zero query byte %d = %d, want %d", i, b, QueryOffset)
		}
	}
}

func TestDotPanelsInt8BadSizesPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	DotPanelsInt8(make([]uint8, 4*PanelRows), make([]int8, 4), make([]int32, PanelRows))
}

func TestInt8DistancesMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 64} {
		dots, sum := make([]int32, n), make([]int32, n)
		scale := make([]float32, n)
		for i := range n {
			dots[i], sum[i], scale[i] = rng.Int32N(2_000_000)-1_000_000, rng.Int32N(4000)-2000, rng.Float32()/100
		}
		got, want := make([]float32, n), make([]float32, n)
		Int8Distances(got, dots, scale, sum, 0.003)
		int8DistancesGeneric(want, dots, scale, sum, 0.003)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Errorf("n=%d row %d: %v, generic %v", n, i, got[i], want[i])
			}
		}
	}
}

// TestInt8Errors checks Int8RowError and QueryError against the values
// rebuilt from the documented layouts, and without that layout arithmetic
// (which a shared mistake would pass): a vector whose values are codes
// over a power of two quantizes exactly, so its error is 0 and the
// query's norm its own, in every slot of a panel and group position; a
// random one is off by at most half a code per value. And Int8Lower
// against its definition at lengths around the 8-wide step.
func TestInt8Errors(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, dim := range []int{1, 3, 4, 9, 128, 131} {
		const n = 11
		panels := make([]int8, Int8PanelLen(n, dim))
		for i := range n {
			v := Normalized(randVec(rng, dim))
			scale, _ := QuantizeRow(panels, i, v)
			var want float64
			p := panels[i/PanelRows*PanelRows*int8Dim(dim):]
			for j, x := range v {
				c := p[(j/Int8Group)*PanelRows*Int8Group+(i%PanelRows)*Int8Group+j%Int8Group]
				want += math.Pow(float64(x)-float64(scale)*float64(c), 2)
			}
			got := Int8RowError(panels, i, v, scale)
			if math.Abs(got-math.Sqrt(want)) > 1e-12 {
				t.Errorf("dim %d row %d: Int8RowError %v, want %v", dim, i, got, math.Sqrt(want))
			}
			if most := float64(scale) * (0.5 + 1e-4) * math.Sqrt(float64(dim)); got > most {
				t.Errorf("dim %d row %d: Int8RowError %v, more than half a code per value (%v)", dim, i, got, most)
			}
			exact := make([]float32, dim) // codes in [-127, 127] over 128
			for j := range exact {
				exact[j] = float32(rng.IntN(255)-127) / 128
			}
			exact[rng.IntN(dim)] = -127.0 / 128 // maxAbs 127/128: scale 1/128
			scale, _ = QuantizeRow(panels, i, exact)
			if e := Int8RowError(panels, i, exact, scale); scale != 1.0/128 || e != 0 {
				t.Errorf("dim %d row %d: codes/128 quantize with scale %v and error %v, want 1/128 and 0", dim, i, scale, e)
			}
		}
		q := Normalized(randVec(rng, dim))
		qb := make([]uint8, int8Dim(dim)*PanelRows)
		qs := QuantizeQuery(qb, q)
		var e2, n2 float64
		for j, x := range q {
			c := float64(qs) * float64(int(qb[(j/Int8Group)*PanelRows*Int8Group+j%Int8Group])-QueryOffset)
			e2, n2 = e2+math.Pow(float64(x)-c, 2), n2+c*c
		}
		e, nq := QueryError(qb, q, qs)
		if math.Abs(e-math.Sqrt(e2)) > 1e-12 || math.Abs(nq-math.Sqrt(n2)) > 1e-12 || nq < 0.9 || nq > 1.1 {
			t.Errorf("dim %d: QueryError %v %v, want %v %v", dim, e, nq, math.Sqrt(e2), math.Sqrt(n2))
		}
		if e > float64(qs)*(0.5+1e-4)*math.Sqrt(float64(dim)) {
			t.Errorf("dim %d: QueryError %v, more than half a code per value", dim, e)
		}
		exact := make([]float32, dim) // codes in [-63, 63] over 64
		n2 = 0
		for j := range exact {
			exact[j] = float32(rng.IntN(127)-63) / 64
		}
		exact[rng.IntN(dim)] = 63.0 / 64 // maxAbs 63/64: scale 1/64
		for _, x := range exact {
			n2 += float64(x) * float64(x)
		}
		qs = QuantizeQuery(qb, exact)
		if e, nq := QueryError(qb, exact, qs); qs != 1.0/64 || e != 0 || nq != math.Sqrt(n2) {
			t.Errorf("dim %d: codes/64 query: scale %v, QueryError %v %v, want 1/64, 0 and %v", dim, qs, e, nq, math.Sqrt(n2))
		}
	}
	for n := range 20 {
		dists, errs := randVec(rng, n), randVec(rng, n)
		got := make([]float32, n)
		Int8Lower(got, dists, errs, 0.01, 0.5)
		for i := range got {
			if want := dists[i] - (float32(0.5*errs[i]) + 0.01); math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Fatalf("n %d: Int8Lower[%d] = %v, want %v", n, i, got[i], want)
			}
		}
	}
}
