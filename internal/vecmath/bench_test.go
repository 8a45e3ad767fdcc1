package vecmath

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkCosineDistance is D for n x n vectors of 256 values (the heads'
// output size); n=3242 is the real dataset.
func BenchmarkCosineDistance(b *testing.B) {
	for _, n := range []int{648, 3242} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			m := make([][]float32, n)
			for i := range m {
				m[i] = make([]float32, 256)
				for j := range m[i] {
					m[i][j] = float32(rng.NormFloat64())
				}
			}
			for b.Loop() {
				_ = CosineDistance(m, m)
			}
		})
	}
}
