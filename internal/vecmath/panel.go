package vecmath

// PanelRows is how many rows one panel holds. A panel is PanelRows rows of
// dim values stored column by column, [dim][PanelRows]: value j of row s
// sits at panel[j*PanelRows+s]. Eight float32 rows fill one AVX2 register
// per column, so DotPanels scores eight rows with one fused multiply-add
// per column and needs no horizontal sums. Row-major scoring (Dot, dot4)
// spends about as long reducing lanes and shuffling registers as
// multiplying: 32 ns per 128-value row against about 7 ns here
// (BenchmarkScan).
const PanelRows = 8

// PanelLen is the number of values of n rows of dim values in panel
// layout: whole panels, the last one padded with zero rows.
func PanelLen(n, dim int) int {
	return (n + PanelRows - 1) / PanelRows * PanelRows * dim
}

// SetPanelRow stores row i (len(v) = dim values) into panels, a
// [n/PanelRows][dim][PanelRows] block (see PanelRows).
func SetPanelRow(panels []float32, i int, v []float32) {
	dim := len(v)
	p := panels[i/PanelRows*PanelRows*dim:][:PanelRows*dim]
	s := i % PanelRows
	for j, x := range v {
		p[j*PanelRows+s] = x
	}
}

// PanelRow copies row i of panels into dst (len(dst) = dim) and returns
// dst.
func PanelRow(dst, panels []float32, i int) []float32 {
	dim := len(dst)
	p := panels[i/PanelRows*PanelRows*dim:][:PanelRows*dim]
	s := i % PanelRows
	for j := range dst {
		dst[j] = p[j*PanelRows+s]
	}
	return dst
}

// SpreadQuery fills qb, [len(q)][PanelRows], with each q[j] repeated
// PanelRows times: the form of the query DotPanels reads, made once per
// query so the kernel loads it instead of broadcasting value by value.
func SpreadQuery(qb, q []float32) {
	qb = qb[:len(q)*PanelRows]
	for j, x := range q {
		c := qb[j*PanelRows : (j+1)*PanelRows]
		for s := range c {
			c[s] = x
		}
	}
}

// DotPanels sets out[i] = q · row i for every row of panels, where qb is
// SpreadQuery(q) (dim = len(qb)/PanelRows) and panels holds
// len(out)/PanelRows whole panels (see PanelRows); len(out) must be a
// multiple of PanelRows. It panics when the sizes disagree: the caller
// owns them, so that is a programmer error.
//
// A row's score is the same float32 sequence wherever the row sits (its
// slot, its panel, the other rows): the slots never mix. search relies on
// this so Search, Rank and a row scored alone agree bit for bit. Scores can
// differ from Dot's in the last bits (another summation order).
func DotPanels(qb, panels, out []float32) {
	dim := len(qb) / PanelRows
	if len(qb) != dim*PanelRows || len(out)%PanelRows != 0 || len(panels) < len(out)*dim {
		panic("vecmath.DotPanels: qb, panels and out sizes disagree")
	}
	if dim == 0 {
		clear(out) // empty rows: every dot product is 0
		return
	}
	dotPanels(qb, panels[:len(out)*dim], out)
}

// dotPanelsGeneric is the portable DotPanels. Per slot it sums columns in
// the same order as the SIMD kernel (four partial sums over j mod 4, the
// leftover columns into the first, then (s0+s1)+(s2+s3)); the SIMD kernel
// fuses each multiply-add, so the two agree to rounding only. It walks a
// panel column by column with the eight slots' sums in local arrays (each
// query value read once per column): 2.3x faster than slot by slot with
// the same sums in the same order (1,024 rows of 128 values in L2, a
// build without GOEXPERIMENT=simd).
func dotPanelsGeneric(qb, panels, out []float32) {
	dim := len(qb) / PanelRows
	size := PanelRows * dim
	for p := 0; p < len(out)/PanelRows; p++ {
		panel := panels[p*size : (p+1)*size]
		var s0, s1, s2, s3 [PanelRows]float32
		j := 0
		for ; j+4 <= dim; j += 4 {
			q0, q1, q2, q3 := qb[j*PanelRows], qb[(j+1)*PanelRows], qb[(j+2)*PanelRows], qb[(j+3)*PanelRows]
			c := panel[j*PanelRows : (j+4)*PanelRows : (j+4)*PanelRows]
			for s := range PanelRows {
				s0[s] += q0 * c[s]
				s1[s] += q1 * c[PanelRows+s]
				s2[s] += q2 * c[2*PanelRows+s]
				s3[s] += q3 * c[3*PanelRows+s]
			}
		}
		for ; j < dim; j++ {
			q0 := qb[j*PanelRows]
			c := panel[j*PanelRows : (j+1)*PanelRows : (j+1)*PanelRows]
			for s := range PanelRows {
				s0[s] += q0 * c[s]
			}
		}
		for s := range PanelRows {
			out[p*PanelRows+s] = (s0[s] + s1[s]) + (s2[s] + s3[s])
		}
	}
}
