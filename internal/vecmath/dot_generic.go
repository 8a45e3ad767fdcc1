//go:build !(goexperiment.simd && amd64)

package vecmath

func dot(a, b []float32) float32 { return dotGeneric(a, b) }

func dot4(q, b0, b1, b2, b3 []float32) (d0, d1, d2, d3 float32) {
	return dotGeneric(q, b0), dotGeneric(q, b1), dotGeneric(q, b2), dotGeneric(q, b3)
}

func dotPanels(qb, panels, out []float32) { dotPanelsGeneric(qb, panels, out) }
