package builtin

// SCRATCH: experimental feature variants for the probe; deleted before
// delivery.

import (
	"image"
	"math"
	"sort"

	"golang.org/x/image/draw"
)

func resizeTo(img image.Image, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(image.White), image.Point{}, draw.Src)
	draw.BiLinear.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Over, nil)
	return dst
}

func grayOf(m *image.RGBA) []float32 {
	n := m.Bounds().Dx() * m.Bounds().Dy()
	g := make([]float32, n)
	for i := range n {
		g[i] = (0.299*float32(m.Pix[4*i]) + 0.587*float32(m.Pix[4*i+1]) + 0.114*float32(m.Pix[4*i+2])) / 255
	}
	return g
}

func lbpHist(g []float32, w, h int, eps float32, riu bool, regions int) []float32 {
	offs := [8]int{-w - 1, -w, -w + 1, 1, w + 1, w, w - 1, -1}
	nb := lbpBins
	if riu {
		nb = 10
	}
	hist := make([][]float32, regions)
	for r := range hist {
		hist[r] = make([]float32, nb)
	}
	for y := 1; y < h-1; y++ {
		reg := y * regions / h
		for x := 1; x < w-1; x++ {
			i := y*w + x
			c := g[i] + eps
			code := 0
			for k, o := range offs {
				if g[i+o] > c {
					code |= 1 << k
				}
			}
			if riu {
				hist[reg][riuOf[code]]++
			} else {
				hist[reg][lbpUniform[code]]++
			}
		}
	}
	var out []float32
	for r := range hist {
		out = appendSqrtNormalized(out, hist[r])
	}
	return out
}

var riuOf = func() (t [256]uint8) {
	for code := range 256 {
		tr, ones := 0, 0
		for k := range 8 {
			b := (code >> k) & 1
			ones += b
			if b != (code>>((k+1)%8))&1 {
				tr++
			}
		}
		if tr <= 2 {
			t[code] = uint8(ones)
		} else {
			t[code] = 9
		}
	}
	return t
}()

func halveN(g []float32, w, h, times int) ([]float32, int, int) {
	for range times {
		g, w, h = halve(g, w, h)
	}
	return g, w, h
}

// laplacian energy histogram / sharpness at scales.
func sharpness(g []float32, w, h int) []float32 {
	var out []float32
	for range 3 {
		var vals []float64
		for y := 1; y < h-1; y++ {
			for x := 1; x < w-1; x++ {
				i := y*w + x
				l := 4*g[i] - g[i-1] - g[i+1] - g[i-w] - g[i+w]
				vals = append(vals, math.Abs(float64(l)))
			}
		}
		sort.Float64s(vals)
		var mean float64
		for _, v := range vals {
			mean += v
		}
		mean /= float64(len(vals))
		out = append(out, float32(math.Sqrt(mean)), float32(math.Sqrt(vals[len(vals)/2])), float32(math.Sqrt(vals[len(vals)*9/10])), float32(math.Sqrt(vals[len(vals)*99/100])))
		g, w, h = halve(g, w, h)
	}
	return out
}

// distinct colours: 4x4x4 quantized RGB histogram sqrt + count of bins > 1%.
func colorCount(m *image.RGBA) []float32 {
	n := m.Bounds().Dx() * m.Bounds().Dy()
	hist := make([]float32, 64)
	for i := range n {
		q := int(m.Pix[4*i]>>6)*16 + int(m.Pix[4*i+1]>>6)*4 + int(m.Pix[4*i+2]>>6)
		hist[q]++
	}
	out := appendSqrtNormalized(nil, hist)
	cnt := 0
	for _, v := range hist {
		if v > float32(n)/100 {
			cnt++
		}
	}
	return append(out, float32(cnt)/64)
}

// ScratchVariants computes experimental blocks.
func ScratchVariants(img image.Image) map[string][]float32 {
	out := map[string][]float32{}
	m64 := resize(img)
	m128 := resizeTo(img, 128, 192)
	g64 := grayOf(m64)
	g128 := grayOf(m128)
	out["lbp64e0"] = lbpHist(g64, 64, 96, 0, false, 1)
	out["lbp64e01"] = lbpHist(g64, 64, 96, 0.01, false, 1)
	out["lbp64e04"] = lbpHist(g64, 64, 96, 0.04, false, 1)
	out["lbp128e02"] = lbpHist(g128, 128, 192, 0.02, false, 1)
	out["lbp128e01"] = lbpHist(g128, 128, 192, 0.01, false, 1)
	g32, w32, h32 := halveN(g64, 64, 96, 1)
	out["lbp32e02"] = lbpHist(g32, w32, h32, 0.02, false, 1)
	out["lbp64riu3"] = lbpHist(g64, 64, 96, 0.02, true, 3)
	out["lbp128riu3"] = lbpHist(g128, 128, 192, 0.02, true, 3)
	out["lbp128x3"] = lbpHist(g128, 128, 192, 0.02, false, 3)
	out["sharp128"] = sharpness(g128, 128, 192)
	out["colors"] = colorCount(m64)
	return out
}
