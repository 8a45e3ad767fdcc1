package heads

import (
	"math"
	"math/rand/v2"
)

// synthPairs makes n pairs whose two sides are noisy linear images of one
// shared latent vector (latent dims), so a linear map can match them; noise
// is the standard deviation of the per-feature noise relative to the
// signal. Deterministic in seed.
func synthPairs(n, imgDim, txtDim, latent int, noise float64, seed uint64) (img, txt [][]float32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	proj := func(dim int) [][]float64 {
		m := make([][]float64, dim)
		for i := range m {
			m[i] = make([]float64, latent)
			for j := range m[i] {
				m[i][j] = rng.NormFloat64() / math.Sqrt(float64(latent))
			}
		}
		return m
	}
	a, b := proj(imgDim), proj(txtDim)
	side := func(m [][]float64, z []float64) []float32 {
		out := make([]float32, len(m))
		for i, row := range m {
			var v float64
			for j, w := range row {
				v += w * z[j]
			}
			out[i] = float32(v + noise*rng.NormFloat64())
		}
		return out
	}
	for range n {
		z := make([]float64, latent)
		for j := range z {
			z[j] = rng.NormFloat64()
		}
		img = append(img, side(a, z))
		txt = append(txt, side(b, z))
	}
	return img, txt
}
