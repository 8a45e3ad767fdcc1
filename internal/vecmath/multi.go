package vecmath

// DotPanelsMulti sets outs[i][r] = q_i · row r for every query i and every
// row r of panels, where qbs[i] is SpreadQuery(q_i) (dim = len(qbs[i]) /
// PanelRows, the same for every query) and panels holds len(outs[i]) /
// PanelRows whole panels; every out has the same length, a multiple of
// PanelRows, and len(outs) = len(qbs). It panics when the sizes disagree:
// the caller owns them, so that is a programmer error.
//
// It is the scan kernel of search: several queries and several panels per
// inner loop, so each column loaded from a panel serves up to four queries
// and each query column several panels, with many independent fused
// multiply-add chains in flight. A row's score is two chains, one over its
// even columns and one over its odd columns, each in column order (s = 0,
// then s = q_j·x_j + s, fused on SIMD CPUs), added at the end: whatever
// the number of queries, the row's slot and panel, or which inner loop
// handled it, a row scored alone, for one query or for many, gets the same
// bits. Its scores can differ in the last bits from DotPanels', which sums
// in another order.
func DotPanelsMulti(qbs [][]float32, panels []float32, outs [][]float32) {
	if len(qbs) != len(outs) {
		panic("vecmath.DotPanelsMulti: qbs and outs lengths disagree")
	}
	if len(qbs) == 0 {
		return
	}
	dim := len(qbs[0]) / PanelRows
	rows := len(outs[0])
	if len(qbs[0]) != dim*PanelRows || rows%PanelRows != 0 || len(panels) < rows*dim {
		panic("vecmath.DotPanelsMulti: qbs, panels and outs sizes disagree")
	}
	for i := range qbs {
		if len(qbs[i]) != dim*PanelRows || len(outs[i]) != rows {
			panic("vecmath.DotPanelsMulti: qbs, panels and outs sizes disagree")
		}
	}
	if dim == 0 {
		for _, out := range outs {
			clear(out) // empty rows: every dot product is 0
		}
		return
	}
	dotPanelsMulti(qbs, panels[:rows*dim], outs)
}

// dotPanelsMultiGeneric is the portable DotPanelsMulti: per query and row
// the even- and odd-column chains, then their sum. Each product is rounded
// before it is added (the explicit conversion keeps the compiler from
// fusing), so it agrees with the fused SIMD chains to rounding only.
func dotPanelsMultiGeneric(qbs [][]float32, panels []float32, outs [][]float32) {
	dim := len(qbs[0]) / PanelRows
	size := PanelRows * dim
	for i, qb := range qbs {
		out := outs[i]
		for p := 0; p < len(out)/PanelRows; p++ {
			panel := panels[p*size : (p+1)*size]
			for s := range PanelRows {
				var even, odd float32
				j := 0
				for ; j+2 <= dim; j += 2 {
					even = float32(qb[j*PanelRows]*panel[j*PanelRows+s]) + even
					odd = float32(qb[(j+1)*PanelRows]*panel[(j+1)*PanelRows+s]) + odd
				}
				if j < dim {
					even = float32(qb[j*PanelRows]*panel[j*PanelRows+s]) + even
				}
				out[p*PanelRows+s] = even + odd
			}
		}
	}
}

// OneMinus sets v[i] = 1 - v[i]: cosine distances from cosine scores, in
// float32 arithmetic (the same bits as the scalar expression).
func OneMinus(v []float32) { oneMinus(v) }

func oneMinusGeneric(v []float32) {
	for i, x := range v {
		v[i] = 1 - x
	}
}

// IndexBelow returns the smallest i >= from with v[i] < limit, or len(v)
// when there is none: the rows of a block that enter a top-k heap whose
// worst distance is limit. A scan calls it again from i+1 after each push,
// with the heap's new limit.
func IndexBelow(v []float32, from int, limit float32) int {
	if from >= len(v) {
		return len(v)
	}
	return from + indexBelow(v[from:], limit)
}

func indexBelowGeneric(v []float32, limit float32) int {
	for i, x := range v {
		if x < limit {
			return i
		}
	}
	return len(v)
}
