package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image"
	"image/png"
	"math"
	"slices"
	"strconv"
	"strings"
)

// pct formats a fraction as a percentage with enough digits to tell small
// values apart: one decimal from 1% up, two significant digits below
// (chance R@1 over 3,242 movies is 0.031%, not 0.0%).
func pct(v float64) string {
	p := 100 * v
	switch {
	case p == 0:
		return "0%"
	case math.IsNaN(p) || math.IsInf(p, 0):
		return "–"
	case math.Abs(p) >= 1:
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	}
	decimals := 1 - int(math.Floor(math.Log10(math.Abs(p))))
	return strconv.FormatFloat(p, 'f', decimals, 64) + "%"
}

// heatmapCell is the side of one pair's square in the heat map's picture,
// in pixels.
const heatmapCell = 12

// heatmapSVG draws a sample of D as a figure: the cells as a pixel-exact
// PNG (near = bright), numbered axes (rows posters, columns intros, movie k
// on both), axis titles and a colour scale labelled with the distances it
// spans. The movies' names are listed under it by number.
func heatmapSVG(d [][]float32, names []string) template.HTML {
	n := len(d)
	if n == 0 {
		return ""
	}
	lo, hi := distanceRange(d)
	const left, top, right, bottom, barW = 46.0, 10.0, 96.0, 44.0, 14.0
	side := float64(n * heatmapCell)
	w, h := left+side+right, top+side+bottom
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="heatmap" viewBox="0 0 %.0f %.0f" role="img" aria-label="distance heat map, %d by %d">`, w, h, n, n)
	fmt.Fprintf(&b, `<image x="%.0f" y="%.0f" width="%.0f" height="%.0f" preserveAspectRatio="none" style="image-rendering:pixelated" href="%s"/>`,
		left, top, side, side, heatmapPNG(d, lo, hi))
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#889"/>`, left, top, side, side)
	// Ticks: every movie up to 12, every other one up to 30, else about
	// 12 of them (two-digit numbers are wider than a cell).
	step := max(1, (n+11)/12)
	switch {
	case n <= 12:
		step = 1
	case n <= 30:
		step = 2
	}
	for k := 0; k < n; k += step {
		c := float64(k*heatmapCell) + heatmapCell/2
		fmt.Fprintf(&b, `<text class="tick" x="%.0f" y="%.1f" text-anchor="end" dominant-baseline="middle">%d</text>`, left-4, top+c, k+1)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.0f" text-anchor="middle">%d</text>`, left+c, top+side+12, k+1)
	}
	fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.0f" text-anchor="middle">intro of movie k (columns)</text>`, left+side/2, top+side+32)
	fmt.Fprintf(&b, `<text class="axis" transform="translate(12 %.1f) rotate(-90)" text-anchor="middle">poster of movie k (rows)</text>`, top+side/2)
	// The colour scale, near (bright) at the top.
	bx := left + side + 18
	b.WriteString(`<defs><linearGradient id="hm-scale" x1="0" y1="0" x2="0" y2="1">`)
	for i := 0; i <= 8; i++ {
		c := ramp(1 - float64(i)/8)
		fmt.Fprintf(&b, `<stop offset="%.3f" stop-color="#%02x%02x%02x"/>`, float64(i)/8, c.R, c.G, c.B)
	}
	b.WriteString(`</linearGradient></defs>`)
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="url(#hm-scale)" stroke="#889"/>`, bx, top, barW, side)
	for i := 0; i <= 4; i++ {
		v := float64(lo) + float64(i)/4*float64(hi-lo)
		y := top + float64(i)/4*side
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#556"/><text class="tick" x="%.0f" y="%.1f" dominant-baseline="middle">%.2f</text>`,
			bx+barW, bx+barW+3, y, y, bx+barW+5, y, v)
	}
	fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.0f">D (near at top)</text>`, bx-6, top+side+32)
	b.WriteString(`</svg>`)
	if len(names) == n {
		b.WriteString(`<details class="hm-names"><summary>The movies, by number</summary><ol>`)
		for _, name := range names {
			b.WriteString("<li>" + template.HTMLEscapeString(name) + "</li>")
		}
		b.WriteString(`</ol></details>`)
	}
	return template.HTML(b.String())
}

// distanceRange returns the smallest and largest value of d (lo < hi).
func distanceRange(d [][]float32) (lo, hi float32) {
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, row := range d {
		for _, v := range row {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi
}

// heatmapPNG renders D as a PNG data URI, one heatmapCell square per pair,
// on the ramp from far (lo → 1) to near.
func heatmapPNG(d [][]float32, lo, hi float32) template.URL {
	img := image.NewRGBA(image.Rect(0, 0, len(d[0])*heatmapCell, len(d)*heatmapCell))
	for i, row := range d {
		for j, v := range row {
			c := ramp(float64((hi - v) / (hi - lo))) // 1 = nearest
			for y := i * heatmapCell; y < (i+1)*heatmapCell; y++ {
				for x := j * heatmapCell; x < (j+1)*heatmapCell; x++ {
					img.Set(x, y, c)
				}
			}
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
}

// Threshold is one candidate --max-distance with the share of held-out
// true pairs and of random pairs at or below it.
type Threshold struct {
	D      float64
	True   float64 // share of true pairs with distance <= D
	Random float64 // share of random (non-matching) pairs with distance <= D
	Label  string  // which quantile of the true pairs D is
}

// quantile returns the q-quantile (0..1) of sorted values.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// shareAtMost returns the share of sorted values <= x.
func shareAtMost(sorted []float64, x float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	n, _ := slices.BinarySearchFunc(sorted, x, func(v, x float64) int {
		if v <= x {
			return -1
		}
		return 1
	})
	return float64(n) / float64(len(sorted))
}

// sortedFloat64 copies values into a sorted []float64.
func sortedFloat64(values []float32) []float64 {
	out := make([]float64, len(values))
	for i, v := range values {
		out[i] = float64(v)
	}
	slices.Sort(out)
	return out
}

// thresholds lists candidate distances, the quartiles and the 90th
// percentile of the true pairs, with how many random pairs each lets in.
func thresholds(d *Distances) []Threshold {
	if d == nil || len(d.True) == 0 {
		return nil
	}
	tr, rnd := sortedFloat64(d.True), sortedFloat64(d.Random)
	var out []Threshold
	for _, q := range []struct {
		q     float64
		label string
	}{{0.25, "25th percentile"}, {0.5, "median"}, {0.75, "75th percentile"}, {0.9, "90th percentile"}} {
		x := quantile(tr, q.q)
		out = append(out, Threshold{D: x, True: shareAtMost(tr, x), Random: shareAtMost(rnd, x), Label: q.label})
	}
	return out
}

// distancesSVG draws the distributions of D for true pairs and random
// pairs of the held-out split as two histograms on one axis, each
// normalised to its own count, so a --max-distance can be read off.
func distancesSVG(d *Distances) template.HTML {
	if d == nil || len(d.True) == 0 || len(d.Random) == 0 {
		return ""
	}
	tr, rnd := sortedFloat64(d.True), sortedFloat64(d.Random)
	lo := math.Floor(math.Min(tr[0], rnd[0])*20) / 20
	hi := math.Ceil(math.Max(tr[len(tr)-1], rnd[len(rnd)-1])*20) / 20
	if hi <= lo {
		hi = lo + 0.05
	}
	const bins = 40
	hist := func(v []float64) []float64 {
		h := make([]float64, bins)
		for _, x := range v {
			h[min(bins-1, int((x-lo)/(hi-lo)*bins))]++
		}
		for i := range h {
			h[i] /= float64(len(v))
		}
		return h
	}
	ht, hr := hist(tr), hist(rnd)
	top := 0.0
	for i := range bins {
		top = math.Max(top, math.Max(ht[i], hr[i]))
	}
	top = math.Ceil(top*20) / 20
	const w, h, left, right, up, down = 560.0, 260.0, 44.0, 12.0, 48.0, 40.0
	x := func(v float64) float64 { return left + (v-lo)/(hi-lo)*(w-left-right) }
	y := func(f float64) float64 { return h - down - f/top*(h-up-down) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="distance of true pairs versus random pairs">`, w, h)
	area := func(hs []float64, colour string) {
		pts := []string{fmt.Sprintf("%.1f,%.1f", x(lo), y(0))}
		for i, f := range hs {
			a, c := lo+float64(i)*(hi-lo)/bins, lo+float64(i+1)*(hi-lo)/bins
			pts = append(pts, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", x(a), y(f), x(c), y(f)))
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(hi), y(0)))
		fmt.Fprintf(&b, `<polygon points="%s" fill="%s" fill-opacity="0.35" stroke="%s" stroke-width="1.5"/>`, strings.Join(pts, " "), colour, colour)
	}
	area(hr, "#98a1ad")
	area(ht, "#2fb36d")
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#889"/>`, left, h-down, w-right, h-down)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#889"/>`, left, up, left, h-down)
	for i := 0; i <= 4; i++ {
		v := lo + float64(i)/4*(hi-lo)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.0f" text-anchor="middle">%.2f</text>`, x(v), h-down+14, v)
	}
	fmt.Fprintf(&b, `<text class="tick" x="%.0f" y="%.1f" text-anchor="end">%s</text><text class="tick" x="%.0f" y="%.1f" text-anchor="end">0</text>`, left-4, y(top)+4, pct(top), left-4, y(0)+4)
	fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.0f" text-anchor="middle">D = 1 − cosine (left: closer)</text>`, (left+w-right)/2, h-6)
	fmt.Fprintf(&b, `<text class="tick" x="%.0f" y="%.0f">share of pairs per bin</text>`, left, up-22)
	if t := thresholds(d); len(t) > 3 {
		q := t[3] // 90% of the true pairs
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#1d232b" stroke-dasharray="4 3"/><text class="tick" x="%.1f" y="%.0f" text-anchor="middle">D = %.2f: 90th percentile of true pairs</text>`,
			x(q.D), up, x(q.D), h-down, x(q.D), up-6, q.D)
	}
	fmt.Fprintf(&b, `<text class="legend" x="%.0f" y="14" fill="#1d7a48" text-anchor="end">■ true pairs (%d)</text><text class="legend" x="%.0f" y="28" fill="#66707c" text-anchor="end">■ random pairs (%d)</text>`, w-right, len(tr), w-right, len(rnd))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
