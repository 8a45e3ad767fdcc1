//go:build !goexperiment.simd || !amd64

package imageprep

// horizontalPass runs the horizontal pass on every channel of src into tmp
// (see horizontal for the arguments).
func horizontalPass(tmp, src plane, y0 int, c coeffs, x0 int) {
	for ch := range src.ch {
		horizontal(tmp.c[ch], tmp.w, src.c[ch], src.w, y0, c, x0)
	}
}

// verticalPass is vertical; builds with GOEXPERIMENT=simd on amd64 use
// 8-wide vectors.
func verticalPass(dst []uint8, dstW int, src []uint8, srcW int, c coeffs, y0, rowOff, colOff int, acc []int32) {
	vertical(dst, dstW, src, srcW, c, y0, rowOff, colOff, acc)
}
