package imageprep

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPassesMatchScalar runs the vector resampling passes (builds with
// GOEXPERIMENT=simd on amd64) against the scalar reference loops on random
// samples, for every filter and arithmetic, down- and upscaling, with crop
// windows; the results must be equal byte for byte.
func TestPassesMatchScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	type size struct{ in, out int }
	sizes := []size{{300, 224}, {182, 224}, {447, 224}, {8, 8}, {9, 8}, {20, 8}, {1000, 13}, {13, 1000}, {37, 31}}
	for _, f := range []Filter{Box, Bilinear, Hamming, Bicubic, Lanczos} {
		for _, a := range []Arithmetic{PillowArithmetic, TorchArithmetic} {
			for _, s := range sizes {
				t.Run(fmt.Sprintf("%v/%d/%dto%d", f, a, s.in, s.out), func(t *testing.T) {
					c := precompute(s.in, 0, float64(s.in), s.out, f, a)
					rows := 11
					// Horizontal: a window of the output columns.
					x0 := rng.IntN(max(s.out-8, 1))
					w := s.out - x0
					src := randomPlane(rng, s.in, rows+3, 3)
					got, want := newPlane(w, rows, 3), newPlane(w, rows, 3)
					horizontalPass(got, src, 2, c, x0)
					for ch := range 3 {
						horizontal(want.c[ch], w, src.c[ch], src.w, 2, c, x0)
					}
					if err := samePlanes(want, got); err != nil {
						t.Errorf("horizontal: %v", err)
					}
					// Vertical: the same coefficients along columns, on
					// a source wider than the output (a crop window).
					cols := w
					vsrc := randomPlane(rng, cols+5, s.in, 1)
					vgot, vwant := newPlane(cols, s.out-x0, 1), newPlane(cols, s.out-x0, 1)
					acc := make([]int32, cols)
					verticalPass(vgot.c[0], cols, vsrc.c[0], vsrc.w, c, x0, 0, 3, acc)
					vertical(vwant.c[0], cols, vsrc.c[0], vsrc.w, c, x0, 0, 3, acc)
					if err := samePlanes(vwant, vgot); err != nil {
						t.Errorf("vertical: %v", err)
					}
				})
			}
		}
	}
}

// samePlanes reports the first sample where got differs from want.
func samePlanes(want, got plane) error {
	for ch := range want.c {
		for i, v := range want.c[ch] {
			if got.c[ch][i] != v {
				return fmt.Errorf("channel %d, row %d, column %d: vector %d, scalar %d", ch, i/want.w, i%want.w, got.c[ch][i], v)
			}
		}
	}
	return nil
}

func randomPlane(rng *rand.Rand, w, h, ch int) plane {
	p := newPlane(w, h, ch)
	for _, c := range p.c {
		for i := range c {
			// Mostly extremes, so sums overshoot and clip both ways.
			switch rng.IntN(3) {
			case 0:
				c[i] = 0
			case 1:
				c[i] = 255
			default:
				c[i] = uint8(rng.IntN(256))
			}
		}
	}
	return p
}

// TestYCbCrRowMatchesTables converts every (Y, Cb, Cr) triple with
// ycbcrRow and compares with ycbcrPixel's table lookups.
func TestYCbCrRowMatchesTables(t *testing.T) {
	Y := make([]uint8, 256)
	for i := range Y {
		Y[i] = uint8(i)
	}
	cb, cr := make([]uint8, 256), make([]uint8, 256)
	R, G, B := make([]uint8, 256), make([]uint8, 256), make([]uint8, 256)
	bad := 0
	for b := range 256 {
		for r := range 256 {
			for i := range 256 {
				cb[i], cr[i] = uint8(b), uint8(r)
			}
			ycbcrRow(R, G, B, Y, cb, cr)
			for i := range 256 {
				wr, wg, wb := ycbcrPixel(Y[i], cb[i], cr[i])
				if (R[i] != wr || G[i] != wg || B[i] != wb) && bad < 10 {
					bad++
					t.Errorf("Y=%d Cb=%d Cr=%d: got %d,%d,%d, want %d,%d,%d", i, b, r, R[i], G[i], B[i], wr, wg, wb)
				}
			}
		}
	}
	// Short rows and the overlapping last block.
	for _, n := range []int{1, 7, 8, 9, 15, 17} {
		y, b, r := Y[100:100+n], Y[3:3+n], Y[200:200+n]
		gr, gg, gb := make([]uint8, n), make([]uint8, n), make([]uint8, n)
		ycbcrRow(gr, gg, gb, y, b, r)
		for i := range n {
			wr, wg, wb := ycbcrPixel(y[i], b[i], r[i])
			if gr[i] != wr || gg[i] != wg || gb[i] != wb {
				t.Errorf("row of %d, pixel %d: got %d,%d,%d, want %d,%d,%d", n, i, gr[i], gg[i], gb[i], wr, wg, wb)
			}
		}
	}
}

// TestUpsampleRowsMatchScalar checks the vector h2v2 upsampling and column
// sums against the scalar loops for every row width up to 70.
func TestUpsampleRowsMatchScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for n := 3; n <= 70; n++ {
		a, b := make([]uint8, n), make([]uint8, n)
		for i := range a {
			a[i], b[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
		}
		sum := make([]int32, n)
		colSums(sum, a, b)
		for i := range n {
			if want := 3*int32(a[i]) + int32(b[i]); sum[i] != want {
				t.Fatalf("n=%d: colSums[%d] = %d, want %d", n, i, sum[i], want)
			}
		}
		got, want := make([]uint8, 2*n+2), make([]uint8, 2*n+2)
		h2v2Row(got, sum)
		h2v2RowScalar(want, sum)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("n=%d: h2v2Row[%d] = %d, scalar %d", n, i, got[i], want[i])
			}
		}
	}
}
