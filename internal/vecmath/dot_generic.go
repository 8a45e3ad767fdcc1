//go:build !(goexperiment.simd && amd64)

package vecmath

func dot(a, b []float32) float32 { return dotGeneric(a, b) }

func dot4(q, b0, b1, b2, b3 []float32) (d0, d1, d2, d3 float32) {
	return dotGeneric(q, b0), dotGeneric(q, b1), dotGeneric(q, b2), dotGeneric(q, b3)
}

func dotPanels(qb, panels, out []float32) { dotPanelsGeneric(qb, panels, out) }

func dotPanelsInt8(qb []uint8, panels []int8, out []int32) { dotPanelsInt8Generic(qb, panels, out) }

func int8Distances(dst []float32, dots []int32, scale []float32, sum []int32, qscale float32) {
	int8DistancesGeneric(dst, dots, scale, sum, qscale)
}

func dotPanelsMulti(qbs [][]float32, panels []float32, outs [][]float32) {
	dotPanelsMultiGeneric(qbs, panels, outs)
}

func oneMinus(v []float32) { oneMinusGeneric(v) }

func indexBelow(v []float32, limit float32) int { return indexBelowGeneric(v, limit) }

func int8Lower(lower, dists, errs []float32, a, b float32) {
	int8LowerGeneric(lower, dists, errs, a, b)
}
