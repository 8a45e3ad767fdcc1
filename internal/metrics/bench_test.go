package metrics

import (
	"math/rand/v2"
	"testing"
)

func randomVectors(n, dim int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 11))
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, dim)
		for j := range out[i] {
			out[i][j] = float32(rng.NormFloat64())
		}
	}
	return out
}

// BenchmarkEvaluate is the eval stage at the real dataset's size: D for
// 3,242 posters x 3,242 intros of 256-d vectors, then every metric both
// ways. Target: under 1 s.
func BenchmarkEvaluate(b *testing.B) {
	img, txt := randomVectors(3242, 256, 1), randomVectors(3242, 256, 2)
	for b.Loop() {
		_ = Evaluate(Distance(img, txt))
	}
}

// BenchmarkBootstrap is the extra cost of --ci at N=3,242.
func BenchmarkBootstrap(b *testing.B) {
	qs := Queries(Distance(randomVectors(3242, 64, 1), randomVectors(3242, 64, 2)), PosterToIntro)
	for b.Loop() {
		_ = Bootstrap(qs, BootstrapOptions{})
	}
}
