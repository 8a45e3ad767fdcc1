package vecmath

import "math"

// Int8 panels hold unit vectors quantized to int8 for a fast first pass of
// search (search's int8 index rescores the best rows in float32). The
// layout is the AVX2 integer form of the float32 panels: PanelRows rows, and
// per row the dim values in groups of Int8Group, [ceil(dim/4)][PanelRows][4]
// int8 per panel, so one 32-byte load holds four values of each of the
// eight rows. Value j of row s of a panel sits at
// panel[(j/4)*PanelRows*4 + s*4 + j%4]; padding values are zero.
//
// The query is quantized to seven bits and shifted to unsigned, u = q7+64 in
// [1, 127], because the AVX2 instruction that multiplies bytes (VPMADDUBSW)
// takes one unsigned and one signed operand and saturates each pair sum at
// 32767: 2·127·127 = 32258 never saturates, while an eight-bit query
// (2·255·127) would. The shift is undone with each row's sum of codes:
// Σ q7·x = Σ u·x − 64·Σ x.

// Int8Group is how many consecutive values of one row share a 32-bit lane.
const Int8Group = 4

// QueryOffset is added to the seven-bit query codes to make them unsigned.
// It is a power of two so kernels can multiply by it with a shift.
const QueryOffset = 1 << queryOffsetShift

const queryOffsetShift = 6

// Int8PanelLen is the number of int8 values of n rows of dim values in
// int8 panel layout (whole panels, dim rounded up to a multiple of 4).
func Int8PanelLen(n, dim int) int {
	return (n + PanelRows - 1) / PanelRows * PanelRows * int8Dim(dim)
}

func int8Dim(dim int) int { return (dim + Int8Group - 1) / Int8Group * Int8Group }

// QuantizeRow writes row i of v (len(v) = dim) into int8 panels with a
// per-row scale, maxabs/127, and returns the scale and the row's sum of
// codes. A zero row gets scale 0 and all-zero codes.
func QuantizeRow(panels []int8, i int, v []float32) (scale float32, sum int32) {
	var maxAbs float32
	for _, x := range v {
		maxAbs = max(maxAbs, float32(math.Abs(float64(x))))
	}
	if maxAbs == 0 {
		return 0, 0
	}
	d4 := int8Dim(len(v))
	p := panels[i/PanelRows*PanelRows*d4:][:PanelRows*d4]
	s := i % PanelRows
	inv := 127 / maxAbs
	for j, x := range v {
		c := int8(math.Round(float64(x * inv)))
		p[(j/Int8Group)*PanelRows*Int8Group+s*Int8Group+j%Int8Group] = c
		sum += int32(c)
	}
	return maxAbs / 127, sum
}

// QuantizeQuery spreads q, seven-bit quantized and shifted by QueryOffset,
// into qb ([ceil(dim/4)][PanelRows][4] bytes, the form DotPanelsInt8
// reads) and returns the scale: q[j] ≈ scale·(qb value − QueryOffset). A
// zero query gets scale 0.
func QuantizeQuery(qb []uint8, q []float32) (scale float32) {
	d4 := int8Dim(len(q))
	qb = qb[:d4*PanelRows]
	var maxAbs float32
	for _, x := range q {
		maxAbs = max(maxAbs, float32(math.Abs(float64(x))))
	}
	var inv float32
	if maxAbs > 0 {
		inv = 63 / maxAbs
	}
	for g := 0; g < d4/Int8Group; g++ {
		var code [Int8Group]uint8
		for t := range code {
			code[t] = QueryOffset
			if j := g*Int8Group + t; j < len(q) {
				code[t] = uint8(int32(math.Round(float64(q[j]*inv))) + QueryOffset)
			}
		}
		for s := range PanelRows {
			copy(qb[(g*PanelRows+s)*Int8Group:], code[:])
		}
	}
	return maxAbs / 63
}

// DotPanelsInt8 sets out[i] = Σ_j u_j·x_ij for every row of panels (u the
// shifted query codes of qb, x the row's codes), where qb comes from
// QuantizeQuery for dim values (len(qb) = ceil(dim/4)·4·PanelRows) and
// panels holds len(out)/PanelRows whole int8 panels; len(out) must be a
// multiple of PanelRows. The arithmetic is exact integer arithmetic, so
// every kernel gives the same result. It panics when the sizes disagree.
func DotPanelsInt8(qb []uint8, panels []int8, out []int32) {
	d4 := len(qb) / PanelRows
	if len(qb) != d4*PanelRows || d4%Int8Group != 0 || len(out)%PanelRows != 0 || len(panels) < len(out)*d4 {
		panic("vecmath.DotPanelsInt8: qb, panels and out sizes disagree")
	}
	if d4 == 0 {
		clear(out)
		return
	}
	dotPanelsInt8(qb, panels[:len(out)*d4], out)
}

// dotPanelsInt8Generic is the portable DotPanelsInt8. It walks a panel
// group by group as the SIMD kernels do: the four query codes of a group
// are the same for every row (QuantizeQuery repeats them), so they are
// read once per group, and the eight rows' sums stay in a local array.
// Walking row by row with the layout's index arithmetic took 1.8x as long
// as the float32 scan of the same rows in a build without
// GOEXPERIMENT=simd, although it reads a quarter of the bytes; this way
// an int8 search of 1M × 128 took 64-66 ms against 172-232 (bench search,
// load 3.5-4.7).
func dotPanelsInt8Generic(qb []uint8, panels []int8, out []int32) {
	d4 := len(qb) / PanelRows
	size := PanelRows * d4
	const group = PanelRows * Int8Group
	for p := 0; p < len(out)/PanelRows; p++ {
		panel := panels[p*size : (p+1)*size]
		var acc [PanelRows]int32
		for base := 0; base < size; base += group {
			q := qb[base : base+Int8Group : base+Int8Group]
			q0, q1, q2, q3 := int32(q[0]), int32(q[1]), int32(q[2]), int32(q[3])
			x := panel[base : base+group : base+group]
			for s := range PanelRows {
				r := x[s*Int8Group : s*Int8Group+Int8Group : s*Int8Group+Int8Group]
				acc[s] += q0*int32(r[0]) + q1*int32(r[1]) + q2*int32(r[2]) + q3*int32(r[3])
			}
		}
		copy(out[p*PanelRows:(p+1)*PanelRows], acc[:])
	}
}

// Int8Distances sets dst[i] = 1 - (scale[i]·qscale)·(dots[i] − QueryOffset·sum[i])
// for every i < len(dst): the approximate cosine distance of row i with
// per-row scale and code sum, from DotPanelsInt8's dots and QuantizeQuery's
// scale. Every slice must hold at least len(dst) values.
func Int8Distances(dst []float32, dots []int32, scale []float32, sum []int32, qscale float32) {
	n := len(dst)
	dots, scale, sum = dots[:n], scale[:n], sum[:n]
	int8Distances(dst, dots, scale, sum, qscale)
}

func int8DistancesGeneric(dst []float32, dots []int32, scale []float32, sum []int32, qscale float32) {
	for i := range dst {
		dst[i] = 1 - scale[i]*qscale*float32(dots[i]-QueryOffset*sum[i])
	}
}

// Int8RowError returns ‖v − scale·x‖₂, in float64, where x is row i's
// codes in int8 panels written by QuantizeRow(panels, i, v) with that
// scale: how far the row's int8 form is from the row.
func Int8RowError(panels []int8, i int, v []float32, scale float32) float64 {
	d4 := int8Dim(len(v))
	p := panels[i/PanelRows*PanelRows*d4:][:PanelRows*d4]
	s := i % PanelRows
	var sum float64
	for j, x := range v {
		c := p[(j/Int8Group)*PanelRows*Int8Group+s*Int8Group+j%Int8Group]
		e := float64(x) - float64(scale)*float64(c)
		sum += e * e
	}
	return math.Sqrt(sum)
}

// QueryError returns, in float64, ‖q − q̂‖₂ and ‖q̂‖₂, where q̂ is the
// query's int8 form, q̂_j = scale·(qb value − QueryOffset), from
// QuantizeQuery(qb, q) which returned scale.
func QueryError(qb []uint8, q []float32, scale float32) (errNorm, norm float64) {
	var e2, n2 float64
	for j, x := range q {
		c := float64(scale) * float64(int32(qb[(j/Int8Group)*PanelRows*Int8Group+j%Int8Group])-QueryOffset)
		e := float64(x) - c
		e2 += e * e
		n2 += c * c
	}
	return math.Sqrt(e2), math.Sqrt(n2)
}

// Int8Lower sets lower[i] = dists[i] − (a + b·errs[i]) for every i <
// len(lower): lower bounds of distances from approximate ones, when the
// approximation of row i is off by at most a + b·errs[i]. Every slice must
// hold at least len(lower) values.
func Int8Lower(lower, dists, errs []float32, a, b float32) {
	n := len(lower)
	int8Lower(lower, dists[:n], errs[:n], a, b)
}

func int8LowerGeneric(lower, dists, errs []float32, a, b float32) {
	for i := range lower {
		lower[i] = dists[i] - (float32(b*errs[i]) + a)
	}
}
