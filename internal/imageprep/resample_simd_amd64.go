//go:build goexperiment.simd && amd64

package imageprep

import (
	"encoding/binary"
	"simd/archsimd"
)

// The resampling passes with 8-wide integer vectors (AVX2). They compute
// the same sums as horizontal and vertical, term for term in int32, so the
// results are identical (TestPassesMatchScalar, TestPrepareDigests): only
// the order of the additions changes, and integer addition does not round.

// useSIMD is decided once: every kernel here needs AVX2.
var useSIMD = archsimd.X86.AVX2()

// horizontalPass runs the horizontal pass on every channel of src into tmp
// (see horizontal for the arguments).
func horizontalPass(tmp, src plane, y0 int, c coeffs, x0 int) {
	if !useSIMD || tmp.w < 8 {
		for ch := range src.ch {
			horizontal(tmp.c[ch], tmp.w, src.c[ch], src.w, y0, c, x0)
		}
		return
	}
	b := newBands(c, x0, tmp.w)
	// Rows of all channels share the coefficients: four at a time, the
	// last group padded with a repeat of its last row into scratch.
	var ins, outs [][]uint8
	for ch := range src.ch {
		for yy := range tmp.h {
			ins = append(ins, src.c[ch][(yy+y0)*src.w:(yy+y0+1)*src.w])
			outs = append(outs, tmp.c[ch][yy*tmp.w:(yy+1)*tmp.w])
		}
	}
	scratch := make([]uint8, tmp.w)
	for len(ins) > 0 {
		var in4, out4 [4][]uint8
		for r := range 4 {
			if r < len(ins) {
				in4[r], out4[r] = ins[r], outs[r]
			} else {
				in4[r], out4[r] = ins[len(ins)-1], scratch
			}
		}
		horizontal4(&out4, &in4, b, c.prec)
		n := min(4, len(ins))
		ins, outs = ins[n:], outs[n:]
	}
}

// bands holds the horizontal coefficients of groups of 8 consecutive
// outputs as dense columns: output lane l of group g reads input column
// base[g]+j with weight k[off[g]+8j+l], zero outside its taps. A group
// of 8 outputs then costs one broadcast multiply-add per input column it
// spans (about 14 for 300 -> 224) instead of 8 scalar dot products.
type bands struct {
	base, n, off []int
	k            []int32
}

// newBands groups outputs x0 .. x0+w-1 of c by 8; w must be at least 8.
// The last group starts at w-8, overlapping its neighbour, so every group
// has 8 real outputs.
func newBands(c coeffs, x0, w int) bands {
	var b bands
	for g := 0; g < w; g += 8 {
		g = min(g, w-8)
		lo, hi := c.lo[x0+g], 0
		for l := range 8 {
			o := x0 + g + l
			lo = min(lo, c.lo[o])
			hi = max(hi, c.lo[o]+c.n[o])
		}
		n := max(hi-lo, 0)
		b.base, b.n, b.off = append(b.base, lo), append(b.n, n), append(b.off, len(b.k))
		col := make([]int32, 8*n)
		for l := range 8 {
			o := x0 + g + l
			for t := range c.n[o] {
				col[8*(c.lo[o]+t-lo)+l] = c.k[o*c.ksize+t]
			}
		}
		b.k = append(b.k, col...)
		if g == w-8 {
			break
		}
	}
	return b
}

// horizontal4 resamples four rows with the same coefficients.
func horizontal4(out, in *[4][]uint8, b bands, prec uint) {
	half := archsimd.BroadcastInt32x8(1 << (prec - 1))
	w := len(out[0])
	for g, base := range b.base {
		n := b.n[g]
		k := b.k[b.off[g] : b.off[g]+8*n]
		i0, i1, i2, i3 := in[0][base:base+n], in[1][base:base+n], in[2][base:base+n], in[3][base:base+n]
		a0, a1, a2, a3 := half, half, half, half
		for j := range n {
			kv := archsimd.LoadInt32x8((*[8]int32)(k[8*j : 8*j+8]))
			a0 = a0.Add(archsimd.BroadcastInt32x8(int32(i0[j])).Mul(kv))
			a1 = a1.Add(archsimd.BroadcastInt32x8(int32(i1[j])).Mul(kv))
			a2 = a2.Add(archsimd.BroadcastInt32x8(int32(i2[j])).Mul(kv))
			a3 = a3.Add(archsimd.BroadcastInt32x8(int32(i3[j])).Mul(kv))
		}
		x := min(8*g, w-8)
		store8(out[0][x:x+8], a0, prec)
		store8(out[1][x:x+8], a1, prec)
		store8(out[2][x:x+8], a2, prec)
		store8(out[3][x:x+8], a3, prec)
	}
}

// low bytes of each 32-bit lane, per 128-bit half: PSHUFB indices.
var packLow = archsimd.LoadInt8x32(&[32]int8{
	0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
})

// store8 writes clip8 of each lane of sums into dst[0:8].
func store8(dst []uint8, sums archsimd.Int32x8, prec uint) {
	v := sums.ShiftAllRight(uint64(prec)).Max(archsimd.BroadcastInt32x8(0)).Min(archsimd.BroadcastInt32x8(255))
	p := v.AsUint8x32().PermuteOrZeroGrouped(packLow)
	lo := p.GetLo().AsUint32x4().GetElem(0)
	hi := p.GetHi().AsUint32x4().GetElem(0)
	binary.LittleEndian.PutUint64(dst[:8], uint64(lo)|uint64(hi)<<32)
}

// verticalPass is vertical with 8 columns at a time; the columns left
// over at the right edge go through the scalar loop.
func verticalPass(dst []uint8, dstW int, src []uint8, srcW int, c coeffs, y0, rowOff, colOff int, acc []int32) {
	if !useSIMD || dstW < 8 {
		vertical(dst, dstW, src, srcW, c, y0, rowOff, colOff, acc)
		return
	}
	half := archsimd.BroadcastInt32x8(1 << (c.prec - 1))
	ks := c.ksize
	rows := len(dst) / dstW
	var buf [16]uint8
	for yy := range rows {
		oy := yy + y0
		lo, n := c.lo[oy]-rowOff, c.n[oy]
		k := c.k[oy*ks : oy*ks+n]
		out := dst[yy*dstW : (yy+1)*dstW]
		for x := 0; x < dstW; x += 8 {
			x = min(x, dstW-8) // the last block overlaps: same values again
			a := half
			for t, ky := range k {
				start := (lo+t)*srcW + colOff + x
				var v archsimd.Uint8x16
				if start+16 <= len(src) {
					v = archsimd.LoadUint8x16Slice(src[start:])
				} else {
					copy(buf[:8], src[start:start+8])
					v = archsimd.LoadUint8x16(&buf)
				}
				a = a.Add(v.ExtendLo8ToUint32().AsInt32x8().Mul(archsimd.BroadcastInt32x8(ky)))
			}
			store8(out[x:x+8], a, c.prec)
		}
	}
}
