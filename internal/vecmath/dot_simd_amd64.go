//go:build goexperiment.simd && amd64

package vecmath

import (
	"simd/archsimd"
	"unsafe"
)

// useSIMD is decided once: the 8-wide kernel needs AVX2 and FMA.
var useSIMD = archsimd.X86.AVX2() && archsimd.X86.FMA()

func dot(a, b []float32) float32 {
	if !useSIMD || len(a) < 16 {
		return dotGeneric(a, b)
	}
	return dotAVX2(a, b)
}

// dotAVX2 runs two 8-wide FMA chains (16 floats per step) to hide the FMA
// latency, then reduces and finishes the tail with scalar code.
func dotAVX2(a, b []float32) float32 {
	var acc0, acc1 archsimd.Float32x8
	i := 0
	for ; i+16 <= len(a); i += 16 {
		acc0 = archsimd.LoadFloat32x8Slice(a[i:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i:]), acc0)
		acc1 = archsimd.LoadFloat32x8Slice(a[i+8:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i+8:]), acc1)
	}
	if i+8 <= len(a) {
		acc0 = archsimd.LoadFloat32x8Slice(a[i:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i:]), acc0)
		i += 8
	}
	var lanes [8]float32
	acc0.Add(acc1).Store(&lanes)
	s := ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
	for ; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

func dot4(q, b0, b1, b2, b3 []float32) (d0, d1, d2, d3 float32) {
	n := len(q)
	if !useSIMD || n < 8 {
		return dotGeneric(q, b0), dotGeneric(q, b1), dotGeneric(q, b2), dotGeneric(q, b3)
	}
	b0, b1, b2, b3 = b0[:n], b1[:n], b2[:n], b3[:n]
	var a0, a1, a2, a3 archsimd.Float32x8
	i := 0
	for ; i+8 <= n; i += 8 {
		x := archsimd.LoadFloat32x8Slice(q[i:])
		a0 = x.MulAdd(archsimd.LoadFloat32x8Slice(b0[i:]), a0)
		a1 = x.MulAdd(archsimd.LoadFloat32x8Slice(b1[i:]), a1)
		a2 = x.MulAdd(archsimd.LoadFloat32x8Slice(b2[i:]), a2)
		a3 = x.MulAdd(archsimd.LoadFloat32x8Slice(b3[i:]), a3)
	}
	d0, d1, d2, d3 = hsum(a0), hsum(a1), hsum(a2), hsum(a3)
	for ; i < n; i++ {
		d0 += q[i] * b0[i]
		d1 += q[i] * b1[i]
		d2 += q[i] * b2[i]
		d3 += q[i] * b3[i]
	}
	return d0, d1, d2, d3
}

func hsum(v archsimd.Float32x8) float32 {
	var l [8]float32
	v.Store(&l)
	return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

func dotPanels(qb, panels, out []float32) {
	if !useSIMD {
		dotPanelsGeneric(qb, panels, out)
		return
	}
	dim := len(qb) / PanelRows
	for p := 0; p < len(out)/PanelRows; p++ {
		dotPanelAVX2(qb, panels[p*PanelRows*dim:], (*[PanelRows]float32)(out[p*PanelRows:]))
	}
}

// dotPanelAVX2 scores the eight rows of one panel: per column one FMA of
// the spread query value with the column, over four independent
// accumulators (columns j mod 4) to cover the FMA latency. It walks raw
// pointers: with slice expressions the compiler kept bounds checks and
// register shuffles in the loop and the kernel ran 3-4x slower
// (BenchmarkScan). DotPanels has checked len(qb) = PanelRows*dim and
// len(panel) >= PanelRows*dim, so every load is in bounds. The pointers
// advance only while another column follows: Go forbids a pointer past the
// end of its allocation (checkptr under -race catches it).
func dotPanelAVX2(qb, panel []float32, out *[PanelRows]float32) {
	dim := len(qb) / PanelRows
	_ = panel[PanelRows*dim-1] // the one bounds check
	const step = PanelRows * 4 // bytes of one column
	pq := unsafe.Pointer(unsafe.SliceData(qb))
	pp := unsafe.Pointer(unsafe.SliceData(panel))
	var a0, a1, a2, a3 archsimd.Float32x8
	j := 0 // the column pq and pp point at
	for j+4 <= dim {
		a0 = archsimd.LoadFloat32x8((*[8]float32)(pq)).MulAdd(archsimd.LoadFloat32x8((*[8]float32)(pp)), a0)
		a1 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pq, step))).MulAdd(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pp, step))), a1)
		a2 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pq, 2*step))).MulAdd(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pp, 2*step))), a2)
		a3 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pq, 3*step))).MulAdd(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pp, 3*step))), a3)
		if j+4 == dim {
			j = dim
			break
		}
		j += 4
		pq, pp = unsafe.Add(pq, 4*step), unsafe.Add(pp, 4*step)
	}
	for ; j < dim; j++ {
		a0 = archsimd.LoadFloat32x8((*[8]float32)(pq)).MulAdd(archsimd.LoadFloat32x8((*[8]float32)(pp)), a0)
		if j+1 < dim {
			pq, pp = unsafe.Add(pq, step), unsafe.Add(pp, step)
		}
	}
	a0.Add(a1).Add(a2.Add(a3)).Store(out)
}

func dotPanelsInt8(qb []uint8, panels []int8, out []int32) {
	if !useSIMD {
		dotPanelsInt8Generic(qb, panels, out)
		return
	}
	d4 := len(qb) / PanelRows
	for p := 0; p < len(out)/PanelRows; p++ {
		// Direct calls, not a function value, so that out does not escape
		// (see multi1).
		panel, o := panels[p*PanelRows*d4:], (*[PanelRows]int32)(out[p*PanelRows:])
		if useAVX512 {
			dotPanelInt8AVX512(qb, panel, o)
		} else {
			dotPanelInt8AVX2(qb, panel, o)
		}
	}
}

// useAVX512 picks the 64-byte int8 kernel: about 1.3x faster than the
// 32-byte one per row in the same run (BenchmarkScanInt8).
var useAVX512 = useSIMD && archsimdAVX512()

// dotPanelInt8AVX512 is dotPanelInt8AVX2 two groups at a time: a 64-byte
// load holds groups g and g+1, so the 16 int32 lanes are rows 0-7 of group
// g then rows 0-7 of group g+1, and the two halves are added at the end.
// An odd last group goes through the 32-byte instructions.
func dotPanelInt8AVX512(qb []uint8, panel []int8, out *[PanelRows]int32) {
	groups := len(qb) / (PanelRows * Int8Group)
	_ = panel[PanelRows*Int8Group*groups-1]
	const step = 2 * PanelRows * Int8Group // bytes of two groups
	pq := unsafe.Pointer(unsafe.SliceData(qb))
	pp := unsafe.Pointer(unsafe.SliceData(panel))
	ones := archsimd.BroadcastInt16x32(1)
	var a0, a1 archsimd.Int32x16
	g := 0
	for g+4 <= groups {
		a0 = a0.Add(archsimd.LoadUint8x64((*[64]uint8)(pq)).DotProductPairsSaturated(archsimd.LoadInt8x64((*[64]int8)(pp))).DotProductPairs(ones))
		a1 = a1.Add(archsimd.LoadUint8x64((*[64]uint8)(unsafe.Add(pq, step))).DotProductPairsSaturated(archsimd.LoadInt8x64((*[64]int8)(unsafe.Add(pp, step)))).DotProductPairs(ones))
		g += 4
		if g == groups {
			break
		}
		pq, pp = unsafe.Add(pq, 2*step), unsafe.Add(pp, 2*step)
	}
	if g+2 <= groups {
		a0 = a0.Add(archsimd.LoadUint8x64((*[64]uint8)(pq)).DotProductPairsSaturated(archsimd.LoadInt8x64((*[64]int8)(pp))).DotProductPairs(ones))
		g += 2
		if g < groups {
			pq, pp = unsafe.Add(pq, step), unsafe.Add(pp, step)
		}
	}
	s := a0.Add(a1)
	sum := s.GetLo().Add(s.GetHi())
	if g < groups {
		sum = sum.Add(archsimd.LoadUint8x32((*[32]uint8)(pq)).DotProductPairsSaturated(archsimd.LoadInt8x32((*[32]int8)(pp))).DotProductPairs(archsimd.BroadcastInt16x16(1)))
	}
	sum.Store(out)
}

// dotPanelInt8AVX2 scores the eight rows of one int8 panel: per group of
// four values, VPMADDUBSW multiplies the 32 query bytes with the 32 row
// bytes and adds neighbours into 16 int16 (at most 2·127·127, no
// saturation, see QuantizeQuery), and VPMADDWD with ones adds those pairs
// into eight int32 lanes, one per row. Two accumulators cover the latency.
// Like dotPanelAVX2 it walks raw pointers; DotPanelsInt8 checked the sizes.
func dotPanelInt8AVX2(qb []uint8, panel []int8, out *[PanelRows]int32) {
	groups := len(qb) / (PanelRows * Int8Group)
	_ = panel[PanelRows*Int8Group*groups-1]
	const step = PanelRows * Int8Group // bytes of one group
	pq := unsafe.Pointer(unsafe.SliceData(qb))
	pp := unsafe.Pointer(unsafe.SliceData(panel))
	ones := archsimd.BroadcastInt16x16(1)
	var a0, a1 archsimd.Int32x8
	g := 0
	for g+2 <= groups {
		a0 = a0.Add(archsimd.LoadUint8x32((*[32]uint8)(pq)).DotProductPairsSaturated(archsimd.LoadInt8x32((*[32]int8)(pp))).DotProductPairs(ones))
		a1 = a1.Add(archsimd.LoadUint8x32((*[32]uint8)(unsafe.Add(pq, step))).DotProductPairsSaturated(archsimd.LoadInt8x32((*[32]int8)(unsafe.Add(pp, step)))).DotProductPairs(ones))
		g += 2
		if g == groups {
			break
		}
		pq, pp = unsafe.Add(pq, 2*step), unsafe.Add(pp, 2*step)
	}
	if g < groups {
		a0 = a0.Add(archsimd.LoadUint8x32((*[32]uint8)(pq)).DotProductPairsSaturated(archsimd.LoadInt8x32((*[32]int8)(pp))).DotProductPairs(ones))
	}
	a0.Add(a1).Store(out)
}

func archsimdAVX512() bool { return archsimd.X86.AVX512() }

// int8Distances is int8DistancesGeneric eight rows at a time, with the same
// operations in the same order (so the same bits): the scalar loop cost
// about as much as DotPanelsInt8 itself.
func int8Distances(dst []float32, dots []int32, scale []float32, sum []int32, qscale float32) {
	if !useSIMD {
		int8DistancesGeneric(dst, dots, scale, sum, qscale)
		return
	}
	one, qs := archsimd.BroadcastFloat32x8(1), archsimd.BroadcastFloat32x8(qscale)
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		c := archsimd.LoadInt32x8Slice(dots[i:]).Sub(archsimd.LoadInt32x8Slice(sum[i:]).ShiftAllLeft(queryOffsetShift)).ConvertToFloat32()
		one.Sub(archsimd.LoadFloat32x8Slice(scale[i:]).Mul(qs).Mul(c)).StoreSlice(dst[i:])
	}
	int8DistancesGeneric(dst[i:], dots[i:], scale[i:], sum[i:], qscale)
}
