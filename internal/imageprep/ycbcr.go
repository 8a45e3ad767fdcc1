package imageprep

import "image"

// libjpeg's YCbCr→RGB tables (jdcolor.c build_ycc_rgb_table, SCALEBITS 16),
// which Pillow's decoder uses. Go's color.YCbCrToRGB rounds differently
// and would put most JPEG posters one level off in places.
var (
	crR, cbB [256]int32
	crG, cbG [256]int32
)

// fixRGB are jdcolor.c's FIX(1.40200), FIX(0.34414), FIX(0.71414) and
// FIX(1.77200) at SCALEBITS 16: Cr->R, Cb->G, Cr->G, Cb->B.
var fixRGB = [4]int32{fix16(1.40200), fix16(0.34414), fix16(0.71414), fix16(1.77200)}

func fix16(x float64) int32 { return int32(x*(1<<16) + 0.5) }

func init() {
	const scaleBits = 16
	const half = 1 << (scaleBits - 1)
	for i := range 256 {
		x := int32(i - 128)
		crR[i] = (fixRGB[0]*x + half) >> scaleBits
		cbB[i] = (fixRGB[3]*x + half) >> scaleBits
		crG[i] = -fixRGB[2] * x
		cbG[i] = -fixRGB[1]*x + half
	}
}

func clamp255(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// ycbcrPixel converts one full-resolution sample triple as libjpeg does.
func ycbcrPixel(y, cb, cr uint8) (uint8, uint8, uint8) {
	yy := int32(y)
	return clamp255(yy + crR[cr]), clamp255(yy + (cbG[cb]+crG[cr])>>16), clamp255(yy + cbB[cb])
}

// ycbcrToRGB converts m into p (3 channels, same size), upsampling chroma
// as libjpeg(-turbo) does by default (do_fancy_upsampling, which Pillow
// leaves on): a triangle filter for 4:2:0, 4:2:2 and 4:4:0 (jdsample.c
// h2v2/h2v1/h1v2_fancy_upsample), replication otherwise. Go's
// YCbCr.At repeats each chroma sample instead, which on our test posters
// moves 76% of samples by a mean of 5.7 levels away from Pillow's pixels.
func ycbcrToRGB(p plane, m *image.YCbCr) {
	b := m.Bounds()
	w, h := p.w, p.h
	hs, vs := 1, 1 // horizontal and vertical subsampling factors
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hs = 2
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		vs = 2
	case image.YCbCrSubsampleRatio444:
	default:
		hs, vs = 0, 0 // 4:1:1 and 4:1:0: libjpeg replicates (int_upsample)
	}
	cw, ch := 0, 0
	if hs > 0 {
		cw, ch = (w+hs-1)/hs, (h+vs-1)/vs
	}
	// libjpeg only uses the fancy h2 filters for components at least three
	// samples wide (jdsample.c jinit_upsampler).
	fancy := hs > 0 && b.Min == (image.Point{}) && !(hs == 2 && cw <= 2) && !(hs == 1 && vs == 1)
	if !fancy {
		for y := range h {
			for x := range w {
				yi := m.YOffset(x+b.Min.X, y+b.Min.Y)
				ci := m.COffset(x+b.Min.X, y+b.Min.Y)
				i := y*w + x
				p.c[0][i], p.c[1][i], p.c[2][i] = ycbcrPixel(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
		return
	}
	cb := make([]uint8, 2*cw+2)
	cr := make([]uint8, 2*cw+2)
	sumB := make([]int32, cw)
	sumR := make([]int32, cw)
	for y := range h {
		cy := y / vs
		// Vertical pass: chroma row sums at 4× scale (3·this + nearer
		// neighbour), or the plain row when there is no vertical
		// subsampling. Rows beyond the edges repeat the edge row, as
		// libjpeg's context rows do.
		r0b := m.Cb[cy*m.CStride : cy*m.CStride+cw]
		r0r := m.Cr[cy*m.CStride : cy*m.CStride+cw]
		if vs == 2 {
			ny := cy - 1
			if y%2 == 1 {
				ny = cy + 1
			}
			ny = min(max(ny, 0), ch-1)
			r1b := m.Cb[ny*m.CStride : ny*m.CStride+cw]
			r1r := m.Cr[ny*m.CStride : ny*m.CStride+cw]
			colSums(sumB, r0b, r1b)
			colSums(sumR, r0r, r1r)
		}
		switch {
		case hs == 2 && vs == 2:
			h2v2Row(cb, sumB)
			h2v2Row(cr, sumR)
		case hs == 2:
			h2v1Row(cb, r0b)
			h2v1Row(cr, r0r)
		default: // h1v2
			bias := int32(1)
			if y%2 == 1 {
				bias = 2
			}
			for i := range cw {
				cb[i] = uint8((sumB[i] + bias) >> 2)
				cr[i] = uint8((sumR[i] + bias) >> 2)
			}
		}
		yrow := m.Y[y*m.YStride : y*m.YStride+w]
		R, G, B := p.c[0][y*w:(y+1)*w], p.c[1][y*w:(y+1)*w], p.c[2][y*w:(y+1)*w]
		ycbcrRow(R, G, B, yrow, cb[:w], cr[:w])
	}
}

// h2v2RowScalar is the horizontal half of jdsample.c h2v2_fancy_upsample:
// s holds column sums at 4× scale, out gets 2·len(s) samples.
func h2v2RowScalar(out []uint8, s []int32) {
	n := len(s)
	out[0] = uint8((s[0]*4 + 8) >> 4)
	out[1] = uint8((s[0]*3 + s[1] + 7) >> 4)
	for i := 1; i < n-1; i++ {
		out[2*i] = uint8((s[i]*3 + s[i-1] + 8) >> 4)
		out[2*i+1] = uint8((s[i]*3 + s[i+1] + 7) >> 4)
	}
	out[2*n-2] = uint8((s[n-1]*3 + s[n-2] + 8) >> 4)
	out[2*n-1] = uint8((s[n-1]*4 + 7) >> 4)
}

// h2v1Row is jdsample.c h2v1_fancy_upsample for one row.
func h2v1Row(out, in []uint8) {
	n := len(in)
	out[0] = in[0]
	out[1] = uint8((int32(in[0])*3 + int32(in[1]) + 2) >> 2)
	for i := 1; i < n-1; i++ {
		v := int32(in[i]) * 3
		out[2*i] = uint8((v + int32(in[i-1]) + 1) >> 2)
		out[2*i+1] = uint8((v + int32(in[i+1]) + 2) >> 2)
	}
	out[2*n-2] = uint8((int32(in[n-1])*3 + int32(in[n-2]) + 1) >> 2)
	out[2*n-1] = in[n-1]
}
