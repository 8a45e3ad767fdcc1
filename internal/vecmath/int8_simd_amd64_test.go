//go:build goexperiment.simd && amd64

package vecmath

import "testing"

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
