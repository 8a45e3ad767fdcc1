//go:build goexperiment.simd && amd64

package vecmath

import "simd/archsimd"

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
