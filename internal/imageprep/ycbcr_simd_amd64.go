//go:build goexperiment.simd && amd64

package imageprep

import (
	"encoding/binary"
	"simd/archsimd"
)

// ycbcrRow converts one row of full-resolution samples as ycbcrPixel does,
// 8 pixels at a time. The tables ycbcrPixel reads are libjpeg's formulas
// evaluated once per level; here the same int32 formulas run on vectors
// (TestYCbCrRowMatchesTables checks every level), so the pixels are
// identical.
func ycbcrRow(R, G, B, Y, Cb, Cr []uint8) {
	x := 0
	if useSIMD && len(Y) >= 8 {
		kR := archsimd.BroadcastInt32x8(fixRGB[0])
		kGb := archsimd.BroadcastInt32x8(-fixRGB[1])
		kGr := archsimd.BroadcastInt32x8(-fixRGB[2])
		kB := archsimd.BroadcastInt32x8(fixRGB[3])
		half := archsimd.BroadcastInt32x8(1 << 15)
		c128 := archsimd.BroadcastInt32x8(128)
		zero := archsimd.BroadcastInt32x8(0)
		c255 := archsimd.BroadcastInt32x8(255)
		n := len(Y)
		for ; x < n; x += 8 {
			x = min(x, n-8) // the last block overlaps: same values again
			y := load8(Y[x:])
			xb := load8(Cb[x:]).Sub(c128)
			xr := load8(Cr[x:]).Sub(c128)
			r := y.Add(xr.Mul(kR).Add(half).ShiftAllRight(16))
			g := y.Add(xb.Mul(kGb).Add(half).Add(xr.Mul(kGr)).ShiftAllRight(16))
			b := y.Add(xb.Mul(kB).Add(half).ShiftAllRight(16))
			put8(R[x:], r.Max(zero).Min(c255))
			put8(G[x:], g.Max(zero).Min(c255))
			put8(B[x:], b.Max(zero).Min(c255))
			if x == n-8 {
				break
			}
		}
		return
	}
	for ; x < len(Y); x++ {
		R[x], G[x], B[x] = ycbcrPixel(Y[x], Cb[x], Cr[x])
	}
}

// load8 widens s[0:8] to int32 lanes.
func load8(s []uint8) archsimd.Int32x8 {
	v := archsimd.BroadcastUint64x2(binary.LittleEndian.Uint64(s[:8])).AsUint8x16()
	return v.ExtendLo8ToUint32().AsInt32x8()
}

// put8 stores the low byte of each lane (values already in 0..255).
func put8(dst []uint8, v archsimd.Int32x8) {
	p := v.AsUint8x32().PermuteOrZeroGrouped(packLow)
	lo := p.GetLo().AsUint32x4().GetElem(0)
	hi := p.GetHi().AsUint32x4().GetElem(0)
	binary.LittleEndian.PutUint64(dst[:8], uint64(lo)|uint64(hi)<<32)
}

// h2v2Row is the horizontal half of jdsample.c h2v2_fancy_upsample (see
// h2v2RowScalar), 8 column sums at a time in the interior.
func h2v2Row(out []uint8, s []int32) {
	n := len(s)
	if !useSIMD || n < 10 {
		h2v2RowScalar(out, s)
		return
	}
	c8, c7 := archsimd.BroadcastInt32x8(8), archsimd.BroadcastInt32x8(7)
	// Interior i in [1, n-1): out[2i] and out[2i+1]; the last block
	// overlaps the one before it.
	for i := 1; i < n-1; i += 8 {
		i = min(i, n-9)
		c := archsimd.LoadInt32x8((*[8]int32)(s[i : i+8]))
		l := archsimd.LoadInt32x8((*[8]int32)(s[i-1 : i+7]))
		r := archsimd.LoadInt32x8((*[8]int32)(s[i+1 : i+9]))
		t := c.Add(c).Add(c)
		e := t.Add(l).Add(c8).ShiftAllRight(4)
		o := t.Add(r).Add(c7).ShiftAllRight(4)
		lo, hi := e.InterleaveLoGrouped(o), e.InterleaveHiGrouped(o)
		put8(out[2*i:], lo.Select128FromPair(0, 2, hi))
		put8(out[2*i+8:], lo.Select128FromPair(1, 3, hi))
		if i == n-9 {
			break
		}
	}
	out[0] = uint8((s[0]*4 + 8) >> 4)
	out[1] = uint8((s[0]*3 + s[1] + 7) >> 4)
	out[2*n-2] = uint8((s[n-1]*3 + s[n-2] + 8) >> 4)
	out[2*n-1] = uint8((s[n-1]*4 + 7) >> 4)
}

// colSums sets sum[i] = 3·a[i] + b[i], the vertical half of the h2v2 and
// h1v2 fancy upsampling.
func colSums(sum []int32, a, b []uint8) {
	i := 0
	if useSIMD {
		for ; i+8 <= len(sum); i += 8 {
			x := load8(a[i:])
			sum := sum[i : i+8]
			x.Add(x).Add(x).Add(load8(b[i:])).Store((*[8]int32)(sum))
		}
	}
	for ; i < len(sum); i++ {
		sum[i] = 3*int32(a[i]) + int32(b[i])
	}
}
