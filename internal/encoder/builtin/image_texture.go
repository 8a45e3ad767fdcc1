package builtin

import "math"

// Texture, layout and content blocks of builtin-image-v2. Their settings
// were chosen with the feature probe (internal/probe) on the MovieLens
// poster set; docs/builtin.md has the ablation.
const (
	// lbp: uniform 8-neighbour local binary patterns (Ojala, Pietikäinen
	// and Mäenpää 2002), 58 uniform codes plus one bin for the rest, on the
	// fine grey poster and on it box-halved: texture tells photographs,
	// paintings and flat graphics apart.
	lbpBins   = 59
	lbpScales = 2
	lbpLen    = lbpScales * lbpBins
	// lbpEps: a neighbour counts as brighter only beyond this (grey in
	// [0,1]), so JPEG noise on flat areas is not texture. The probe
	// preferred larger margins: MRP 0.590 at 0.03, 0.594 at 0.06.
	lbpEps = 0.06

	// hsvBands: a coarse hue x saturation histogram plus achromatic value
	// bins in each of hsvBandRows horizontal bands (title, figure, credits).
	hsvBandRows = 3
	bandHues    = 8
	bandAchroma = 4
	hsvBandBins = bandHues*2 + bandAchroma
	hsvBandsLen = hsvBandRows * hsvBandBins

	// skin: the skin-coloured fraction in a skinGrid x skinGrid grid, then
	// overall.
	skinGrid = 3
	skinLen  = skinGrid*skinGrid + 1

	// textRows: lettering density in textRowBands horizontal bands.
	textRowBands = 12
	textRowsLen  = 2 * textRowBands
	textEdge     = 0.08 // horizontal gradient (per pixel step, grey in [0,1]) counted as a stroke edge

)

// halve box-filters a w x h grey image to w/2 x h/2.
func halve(g []float32, w, h int) ([]float32, int, int) {
	w2, h2 := w/2, h/2
	out := make([]float32, w2*h2)
	for y := range h2 {
		for x := range w2 {
			i := 2*y*w + 2*x
			out[y*w2+x] = (g[i] + g[i+1] + g[i+w] + g[i+w+1]) / 4
		}
	}
	return out, w2, h2
}

// lbpUniform maps each 8-bit pattern to its uniform bin (0..57) or 58.
var lbpUniform = func() (t [256]uint8) {
	next := uint8(0)
	for code := range 256 {
		transitions := 0
		for k := range 8 {
			if (code>>k)&1 != (code>>((k+1)%8))&1 {
				transitions++
			}
		}
		if transitions <= 2 {
			t[code] = next
			next++
		} else {
			t[code] = lbpBins - 1
		}
	}
	return t
}()

// lbp appends the square-rooted uniform LBP histograms of the fine grey
// poster and of it halved.
func lbp(out []float32, f *frame) []float32 {
	g, w, h := f.fine, fineW, fineH
	for range lbpScales {
		out = lbpHistogram(out, g, w, h)
		g, w, h = halve(g, w, h)
	}
	return out
}

func lbpHistogram(out, g []float32, w, h int) []float32 {
	var hist [lbpBins]float32
	offs := [8]int{-w - 1, -w, -w + 1, 1, w + 1, w, w - 1, -1}
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			c := g[i] + lbpEps
			code := 0
			for k, o := range offs {
				if g[i+o] > c {
					code |= 1 << k
				}
			}
			hist[lbpUniform[code]]++
		}
	}
	return appendSqrtNormalized(out, hist[:])
}

// hsvBands appends a square-rooted colour histogram per horizontal band.
func hsvBands(out []float32, f *frame) []float32 {
	var hist [hsvBandRows][hsvBandBins]float32
	for y := range gridH {
		band := y * hsvBandRows / gridH
		for x := range gridW {
			i := y*gridW + x
			s, v := f.s[i], f.v[i]
			if s < chromaMin || v < chromaMin {
				hist[band][bin(v, bandAchroma)]++
				continue
			}
			sb := 0
			if s > saturatedS {
				sb = 1
			}
			hist[band][bandAchroma+bin(f.h[i]/6, bandHues)*2+sb]++
		}
	}
	for b := range hist {
		out = appendSqrtNormalized(out, hist[b][:])
	}
	return out
}

// isSkin is the YCbCr skin-colour box of Chai and Ngan (1999), Cb in
// [77,127] and Cr in [133,173] on the 8-bit scale, with very dark pixels
// left out.
func isSkin(r, g, b float32) bool {
	y := 0.299*r + 0.587*g + 0.114*b
	cb := 128 + 255*(-0.168736*r-0.331264*g+0.5*b)
	cr := 128 + 255*(0.5*r-0.418688*g-0.081312*b)
	return y > 0.15 && cb >= 77 && cb <= 127 && cr >= 133 && cr <= 173
}

// skin appends the square root of the skin-coloured fraction in each cell
// of a 3x3 grid, then overall: where the faces and people are.
func skin(out []float32, f *frame) []float32 {
	var cell, n [skinGrid * skinGrid]float64
	var total float64
	for y := range gridH {
		for x := range gridW {
			i := y*gridW + x
			c := (y*skinGrid/gridH)*skinGrid + x*skinGrid/gridW
			n[c]++
			if isSkin(f.r[i], f.g[i], f.b[i]) {
				cell[c]++
				total++
			}
		}
	}
	for c := range cell {
		out = append(out, float32(math.Sqrt(cell[c]/n[c])))
	}
	return append(out, float32(math.Sqrt(total/float64(gridW*gridH))))
}

// textRows appends, per horizontal band of the fine poster, the square
// roots of the density of vertical stroke edges (strong horizontal
// gradient) and of sign changes between successive ones along a row:
// lettering makes many short alternating strokes.
func textRows(out []float32, f *frame) []float32 {
	var edges, flips [textRowBands]float64
	g := f.fine
	for y := range fineH {
		band := y * textRowBands / fineH
		prev := float32(0)
		for x := 1; x < fineW-1; x++ {
			i := y*fineW + x
			d := (g[i+1] - g[i-1]) / 2
			if d > textEdge || d < -textEdge {
				edges[band]++
				if prev != 0 && (d > 0) != (prev > 0) {
					flips[band]++
				}
				prev = d
			}
		}
	}
	per := float64(fineW*fineH) / textRowBands
	for _, v := range edges {
		out = append(out, float32(math.Sqrt(v/per)))
	}
	for _, v := range flips {
		out = append(out, float32(math.Sqrt(v/per)))
	}
	return out
}
