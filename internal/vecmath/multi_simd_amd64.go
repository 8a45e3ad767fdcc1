//go:build goexperiment.simd && amd64

package vecmath

import (
	"math/bits"
	"simd/archsimd"
	"unsafe"
)

// colBytes is the size of one panel column: PanelRows float32.
const colBytes = PanelRows * 4

// dotPanelsMulti runs register-blocked kernels. With AVX-512 one 16-lane
// register holds two consecutive columns of a panel (even columns in the
// low eight lanes, odd ones in the high), so one fused multiply-add covers
// two columns, and four queries × two panels run per inner loop: per pair
// of columns two panel loads and four query loads feed eight fused
// multiply-adds, near the CPU's peak of one 16-lane FMA per cycle. When
// the number of queries is not a multiple of four, the last group of four
// overlaps the one before it, or repeats its last query when there are
// fewer than four: a query scored twice gets the same bits both times. A
// lone query is memory-bound instead: it reads its panels one at a time,
// in address order, which measured faster than interleaving two or four
// panels (BenchmarkSearchOne). With AVX2 only, the same two chains per row
// run in two 8-lane registers, one query × four panels per loop. Every
// form runs the chains of DotPanelsMulti, so every form gives the same
// bits.
//
// Like dotPanelAVX2 the kernels walk raw pointers; DotPanelsMulti has
// checked every size, and the pointers built are base + offset with the
// offset inside the slice, never one past its end.
func dotPanelsMulti(qbs [][]float32, panels []float32, outs [][]float32) {
	if !useSIMD {
		dotPanelsMultiGeneric(qbs, panels, outs)
		return
	}
	dim := len(qbs[0]) / PanelRows
	size := PanelRows * dim
	np := len(outs[0]) / PanelRows
	if len(qbs) == 1 {
		qp, out := unsafe.Pointer(&qbs[0][0]), outs[0]
		for p := range np {
			multi1(qp, unsafe.Pointer(&panels[p*size]), dim, (*[PanelRows]float32)(out[p*PanelRows:]))
		}
		return
	}
	if !useAVX512 {
		for q := range qbs {
			qp, out := unsafe.Pointer(&qbs[q][0]), outs[q]
			p := 0
			for ; p+4 <= np; p += 4 {
				multi1x4AVX2(qp, unsafe.Pointer(&panels[p*size]), dim, (*[4 * PanelRows]float32)(out[p*PanelRows:]))
			}
			for ; p < np; p++ {
				multi1(qp, unsafe.Pointer(&panels[p*size]), dim, (*[PanelRows]float32)(out[p*PanelRows:]))
			}
		}
		return
	}
	for g := 0; g < len(qbs); g += 4 {
		var group [4]int
		for i := range group {
			switch {
			case g+4 <= len(qbs):
				group[i] = g + i
			case len(qbs) >= 4:
				group[i] = len(qbs) - 4 + i
			default:
				group[i] = min(i, len(qbs)-1)
			}
		}
		var qs [4]unsafe.Pointer
		for i, q := range group {
			qs[i] = unsafe.Pointer(&qbs[q][0])
		}
		o0, o1, o2, o3 := outs[group[0]], outs[group[1]], outs[group[2]], outs[group[3]]
		p := 0
		for ; p+2 <= np; p += 2 {
			r := p * PanelRows
			multi4x2(&qs, unsafe.Pointer(&panels[p*size]), dim,
				(*[2 * PanelRows]float32)(o0[r:]), (*[2 * PanelRows]float32)(o1[r:]),
				(*[2 * PanelRows]float32)(o2[r:]), (*[2 * PanelRows]float32)(o3[r:]))
		}
		if p < np {
			r := p * PanelRows
			for i, o := range [4][]float32{o0, o1, o2, o3} {
				multi1x1(qs[i], unsafe.Pointer(&panels[p*size]), dim, (*[PanelRows]float32)(o[r:]))
			}
		}
	}
}

func load8(p unsafe.Pointer, off int) archsimd.Float32x8 {
	return archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, off)))
}

func load16(p unsafe.Pointer, off int) archsimd.Float32x16 {
	return archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(p, off)))
}

// fold ends one row group's two chains: the even-column chain (a's low
// lanes) takes the last column when dim is odd (at byte offset end of the
// query q and the panel p), then the two chains are added.
func fold(a archsimd.Float32x16, q, p unsafe.Pointer, end int, odd bool, out *[8]float32) {
	lo, hi := a.GetLo(), a.GetHi()
	if odd {
		lo = load8(q, end).MulAdd(load8(p, end), lo)
	}
	lo.Add(hi).Store(out)
}

// multi4x2 scores two consecutive panels at p for the four spread queries
// qs; o0…o3 receive the sixteen scores of each query.
func multi4x2(qs *[4]unsafe.Pointer, p unsafe.Pointer, dim int, o0, o1, o2, o3 *[2 * PanelRows]float32) {
	q0, q1, q2, q3 := qs[0], qs[1], qs[2], qs[3]
	p1 := unsafe.Add(p, dim*colBytes)
	end := dim / 2 * 2 * colBytes
	var a00, a01, a10, a11, a20, a21, a30, a31 archsimd.Float32x16
	for off := 0; off < end; off += 2 * colBytes {
		x0, x1 := load16(p, off), load16(p1, off)
		y := load16(q0, off)
		a00, a01 = y.MulAdd(x0, a00), y.MulAdd(x1, a01)
		y = load16(q1, off)
		a10, a11 = y.MulAdd(x0, a10), y.MulAdd(x1, a11)
		y = load16(q2, off)
		a20, a21 = y.MulAdd(x0, a20), y.MulAdd(x1, a21)
		y = load16(q3, off)
		a30, a31 = y.MulAdd(x0, a30), y.MulAdd(x1, a31)
	}
	odd := dim%2 == 1
	fold(a00, q0, p, end, odd, (*[8]float32)(o0[:8]))
	fold(a01, q0, p1, end, odd, (*[8]float32)(o0[8:]))
	fold(a10, q1, p, end, odd, (*[8]float32)(o1[:8]))
	fold(a11, q1, p1, end, odd, (*[8]float32)(o1[8:]))
	fold(a20, q2, p, end, odd, (*[8]float32)(o2[:8]))
	fold(a21, q2, p1, end, odd, (*[8]float32)(o2[8:]))
	fold(a30, q3, p, end, odd, (*[8]float32)(o3[:8]))
	fold(a31, q3, p1, end, odd, (*[8]float32)(o3[8:]))
}

// multi1 scores one panel for one query with the widest kernel the CPU
// has. It calls the kernels directly: a call through a function value
// makes escape analysis give up on the arguments, which moved the callers'
// score buffers (Index.scan's 32 KiB) to the heap on every call.
func multi1(q, p unsafe.Pointer, dim int, out *[PanelRows]float32) {
	if useAVX512 {
		multi1x1(q, p, dim, out)
		return
	}
	multi1x1AVX2(q, p, dim, out)
}

// multi1x1 scores one panel for one query.
func multi1x1(q, p unsafe.Pointer, dim int, out *[PanelRows]float32) {
	end := dim / 2 * 2 * colBytes
	var a archsimd.Float32x16
	for off := 0; off < end; off += 2 * colBytes {
		a = load16(q, off).MulAdd(load16(p, off), a)
	}
	fold(a, q, p, end, dim%2 == 1, out)
}

// multi1x4AVX2 scores four consecutive panels at p for one spread query q
// (the AVX2 loop; multi4x2 is the AVX-512 one), each row group's two
// chains in two 8-lane registers.
func multi1x4AVX2(q, p unsafe.Pointer, dim int, out *[4 * PanelRows]float32) {
	size := dim * colBytes
	p1, p2, p3 := unsafe.Add(p, size), unsafe.Add(p, 2*size), unsafe.Add(p, 3*size)
	end := dim / 2 * 2 * colBytes
	var e0, e1, e2, e3, o0, o1, o2, o3 archsimd.Float32x8
	for off := 0; off < end; off += 2 * colBytes {
		y := load8(q, off)
		e0 = y.MulAdd(load8(p, off), e0)
		e1 = y.MulAdd(load8(p1, off), e1)
		e2 = y.MulAdd(load8(p2, off), e2)
		e3 = y.MulAdd(load8(p3, off), e3)
		y = load8(q, off+colBytes)
		o0 = y.MulAdd(load8(p, off+colBytes), o0)
		o1 = y.MulAdd(load8(p1, off+colBytes), o1)
		o2 = y.MulAdd(load8(p2, off+colBytes), o2)
		o3 = y.MulAdd(load8(p3, off+colBytes), o3)
	}
	if dim%2 == 1 {
		y := load8(q, end)
		e0 = y.MulAdd(load8(p, end), e0)
		e1 = y.MulAdd(load8(p1, end), e1)
		e2 = y.MulAdd(load8(p2, end), e2)
		e3 = y.MulAdd(load8(p3, end), e3)
	}
	e0.Add(o0).Store((*[8]float32)(out[:8]))
	e1.Add(o1).Store((*[8]float32)(out[8:16]))
	e2.Add(o2).Store((*[8]float32)(out[16:24]))
	e3.Add(o3).Store((*[8]float32)(out[24:]))
}

// multi1x1AVX2 is multi1x1 in two 8-lane registers.
func multi1x1AVX2(q, p unsafe.Pointer, dim int, out *[PanelRows]float32) {
	end := dim / 2 * 2 * colBytes
	var e, o archsimd.Float32x8
	for off := 0; off < end; off += 2 * colBytes {
		e = load8(q, off).MulAdd(load8(p, off), e)
		o = load8(q, off+colBytes).MulAdd(load8(p, off+colBytes), o)
	}
	if dim%2 == 1 {
		e = load8(q, end).MulAdd(load8(p, end), e)
	}
	e.Add(o).Store(out)
}

func oneMinus(v []float32) {
	if !useSIMD {
		oneMinusGeneric(v)
		return
	}
	one := archsimd.BroadcastFloat32x8(1)
	i := 0
	for ; i+8 <= len(v); i += 8 {
		one.Sub(archsimd.LoadFloat32x8Slice(v[i:])).StoreSlice(v[i:])
	}
	oneMinusGeneric(v[i:])
}

func indexBelow(v []float32, limit float32) int {
	if !useSIMD {
		return indexBelowGeneric(v, limit)
	}
	lim := archsimd.BroadcastFloat32x8(limit)
	i := 0
	for ; i+8 <= len(v); i += 8 {
		if m := archsimd.LoadFloat32x8Slice(v[i:]).Less(lim).ToBits(); m != 0 {
			return i + bits.TrailingZeros8(m)
		}
	}
	return i + indexBelowGeneric(v[i:], limit)
}

func int8Lower(lower, dists, errs []float32, a, b float32) {
	if !useSIMD {
		int8LowerGeneric(lower, dists, errs, a, b)
		return
	}
	va, vb := archsimd.BroadcastFloat32x8(a), archsimd.BroadcastFloat32x8(b)
	i := 0
	for ; i+8 <= len(lower); i += 8 {
		t := vb.Mul(archsimd.LoadFloat32x8Slice(errs[i:])).Add(va)
		archsimd.LoadFloat32x8Slice(dists[i:]).Sub(t).StoreSlice(lower[i:])
	}
	int8LowerGeneric(lower[i:], dists[i:], errs[i:], a, b)
}
