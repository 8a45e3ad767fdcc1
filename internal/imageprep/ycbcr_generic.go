//go:build !goexperiment.simd || !amd64

package imageprep

// ycbcrRow converts one row of full-resolution samples with ycbcrPixel.
func ycbcrRow(R, G, B, Y, Cb, Cr []uint8) {
	for x := range Y {
		R[x], G[x], B[x] = ycbcrPixel(Y[x], Cb[x], Cr[x])
	}
}

// h2v2Row is h2v2RowScalar.
func h2v2Row(out []uint8, s []int32) { h2v2RowScalar(out, s) }

// colSums sets sum[i] = 3·a[i] + b[i], the vertical half of the h2v2 and
// h1v2 fancy upsampling.
func colSums(sum []int32, a, b []uint8) {
	for i := range sum {
		sum[i] = 3*int32(a[i]) + int32(b[i])
	}
}
