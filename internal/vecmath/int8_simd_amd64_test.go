//go:build goexperiment.simd && amd64

package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDotPanelsInt8AVX2 reruns TestDotPanelsInt8 with the 32-byte kernel
// on a CPU where DotPanelsInt8 would pick the 64-byte one.
func TestDotPanelsInt8AVX2(t *testing.T) {
	if !useAVX512 {
		t.Log("DotPanelsInt8 already runs the 32-byte kernel here")
	}
	useAVX512 = false
	t.Cleanup(func() { useAVX512 = useSIMD && archsimdAVX512() })
	TestDotPanelsInt8(t)
}

// TestDotPanelsMultiAVX2 reruns the DotPanelsMulti tests with the 8-lane
// kernels on a CPU where DotPanelsMulti would pick the 16-lane ones, and
// checks that both give the same bits (the same chains per row).
func TestDotPanelsMultiAVX2(t *testing.T) {
	wide := useAVX512
	t.Cleanup(func() { useAVX512 = useSIMD && archsimdAVX512() })
	if wide {
		rng := rand.New(rand.NewPCG(17, 18))
		for _, dim := range []int{1, 2, 3, 5, 16, 67, 128, 131} {
			for _, nq := range []int{1, 4, 6} {
				_, _, qbs, panels := multiCase(rng, nq, 45, dim)
				got16, got8 := newOuts(nq, PanelLen(45, 1)), newOuts(nq, PanelLen(45, 1))
				useAVX512 = true
				DotPanelsMulti(qbs, panels, got16)
				useAVX512 = false
				DotPanelsMulti(qbs, panels, got8)
				for i := range got16 {
					for r := range got16[i] {
						if math.Float32bits(got16[i][r]) != math.Float32bits(got8[i][r]) {
							t.Fatalf("dim %d nq %d: query %d row %d: 16 lanes %v, 8 lanes %v", dim, nq, i, r, got16[i][r], got8[i][r])
						}
					}
				}
			}
		}
	} else {
		t.Log("DotPanelsMulti already runs the 8-lane kernels here")
	}
	useAVX512 = false
	TestDotPanelsMultiMatchesFloat64(t)
	TestDotPanelsMultiSameBits(t)
}
