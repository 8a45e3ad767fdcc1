package search

import "github.com/reelmatch/reelmatch/internal/vecmath"

var normalized = vecmath.Normalized

// dotKernel scores v against q exactly as Search does: v alone in a panel
// through vecmath.DotPanelsMulti (a row's score does not depend on its
// neighbours or on the other queries).
func dotKernel(q, v []float32) float32 {
	qb := make([]float32, len(q)*vecmath.PanelRows)
	vecmath.SpreadQuery(qb, q)
	panel := make([]float32, vecmath.PanelLen(1, len(v)))
	vecmath.SetPanelRow(panel, 0, v)
	var out [vecmath.PanelRows]float32
	vecmath.DotPanelsMulti([][]float32{qb}, panel, [][]float32{out[:]})
	return out[0]
}
