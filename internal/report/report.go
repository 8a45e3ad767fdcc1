package report

import (
	"bytes"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"strings"
	"time"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/scoreboard"
)

// Data is everything the report shows.
type Data struct {
	Title     string
	Generated time.Time
	WorkDir   string
	Movies    int
	Train     int
	Test      int
	Runs      []Run
	// Compare is every run of the first run's encoder side by side on the
	// test split (its heads, seeds, baselines, control); nil without a
	// test split.
	Compare *scoreboard.Board
	// SeedProtocol is the two readings of the seed's number, when WORK
	// holds the run `run --protocol seed` trains.
	SeedProtocol *SeedProtocol
	// Leaks are prepare's leak check on the manifest (test movies sharing
	// an intro or a poster with a training movie).
	Leaks []dataset.Leak
	// Settings are shown verbatim in the appendix (the effective configuration).
	Settings map[string]string
}

// Run is one encoder's trained heads in WORK.
type Run struct {
	Encoder string
	// Heads is the head kind (heads.KindMLP, KindCCA, ...): only the MLP
	// trains by epochs, so only it has a loss curve.
	Heads  string
	Splits []Split
	// Epochs is the loss curve; empty for runs without training (heads none).
	Epochs []Epoch
	// Examples are the seed's qualitative study on the default split.
	PosterQueries []Query
	IntroQueries  []Query
	// Heatmap is a sample of the distance matrix (rows posters, columns
	// intros, same movies in the same order, so the diagonal is the pairs).
	Heatmap      [][]float32
	HeatmapNames []string
	// Distances are the held-out split's distances of true and random
	// pairs, for choosing a --max-distance; nil without a test split.
	Distances *Distances
}

// Distances holds D over the held-out split: True is its diagonal (each
// movie's poster to its own intro) and Random every other cell (a poster
// to another movie's intro).
type Distances struct {
	True   []float32
	Random []float32
}

// Split holds one split's metrics.
type Split struct {
	Name   string // "test", "all", "train"
	Note   string // e.g. the seed's protocol caveat for "all"
	N      int
	P2I    Direction
	I2P    Direction
	Chance map[string]float64 // r1, r5, r10
}

// Direction holds one direction's metrics; CI maps a metric name to its
// 95% interval when bootstrap intervals were computed.
type Direction struct {
	R1, R5, R10        float64
	MedianRank         int
	MeanRank           float64
	MRR                float64
	Top1Acc            float64
	MeanRankPercentile float64
	CI                 map[string][2]float64
	// Ranks holds the 1-based rank of every query's true match, for the
	// rank histogram.
	Ranks []int
}

// Epoch is one point of the loss curve.
type Epoch struct {
	Epoch     int
	TrainLoss float64
	ValLoss   float64 // NaN when no validation slice
	ValMRP    float64 // validation mean rank percentile, NaN when none
	// Kept marks the epoch whose weights training kept (early stopping).
	Kept bool
	// Averaged marks the epochs whose weights were averaged into the kept
	// heads (train --average-epochs); Kept is then false everywhere.
	Averaged bool
}

// Query is one qualitative example: a query item and its nearest items of
// the other modality.
type Query struct {
	ID       string
	Name     string
	Intro    string // shown for intro queries and intro hits
	Poster   []byte // JPEG thumbnail bytes, inlined
	TrueRank int
	Hits     []Hit
}

// Hit is one neighbour in a Query.
type Hit struct {
	ID       string
	Name     string
	Intro    string
	Poster   []byte
	Distance float64
	IsMatch  bool
}

//go:embed report.html.tmpl
var templates embed.FS

var tmpl = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"pct":            pct,
	"f3":             func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"f1":             func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"img":            dataURI,
	"ci":             ciText,
	"lossSVG":        lossSVG,
	"rankBars":       rankBars,
	"heatmap":        heatmapSVG,
	"distances":      distancesSVG,
	"thresholds":     thresholds,
	"seed":           func() []scoreboard.SeedFigure { return scoreboard.SeedFigures },
	"seedNote":       func() string { return scoreboard.SeedReadingNote },
	"boardHeaders":   func() [4]string { return scoreboard.Headers },
	"readingHeaders": func() [4]string { return scoreboard.ReadingHeaders },
	"leakIDs":        dataset.LeakedTestIDs,
	"cell":           figureCell,
}).ParseFS(templates, "report.html.tmpl"))

// Render writes the report.
func Render(w io.Writer, d Data) error {
	if d.Title == "" {
		d.Title = "reelmatch report"
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, d); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// figureCell shows a scoreboard cell, "60.29% [58.14, 62.27]" or
// "60.10% ± 0.25", as the value with its interval or spread in small print
// below it, like the other tables' intervals.
func figureCell(cell string) template.HTML {
	v, rest, ok := strings.Cut(cell, " ")
	if !ok {
		return template.HTML(template.HTMLEscapeString(cell))
	}
	return template.HTML(template.HTMLEscapeString(v) + `<span class="ci">` + template.HTMLEscapeString(rest) + `</span>`)
}

func dataURI(jpeg []byte) template.URL {
	if len(jpeg) == 0 {
		return ""
	}
	return template.URL("data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(jpeg))
}

func ciText(d Direction, metric string) string {
	iv, ok := d.CI[metric]
	if !ok {
		return ""
	}
	if metric == "mean_rank" {
		return fmt.Sprintf("[%.1f, %.1f]", iv[0], iv[1])
	}
	return fmt.Sprintf("[%.1f, %.1f]", 100*iv[0], 100*iv[1])
}

// lossSVG draws the loss curve as inline SVG: training loss, and the
// validation loss where there is one.
func lossSVG(epochs []Epoch) template.HTML {
	if len(epochs) == 0 {
		return ""
	}
	const w, h, pad = 560.0, 220.0, 36.0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, e := range epochs {
		for _, v := range []float64{e.TrainLoss, e.ValLoss} {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi <= lo {
		hi = lo + 1
	}
	x := func(i int) float64 {
		if len(epochs) == 1 {
			return pad
		}
		return pad + float64(i)*(w-2*pad)/float64(len(epochs)-1)
	}
	y := func(v float64) float64 { return h - pad - (v-lo)/(hi-lo)*(h-2*pad) }
	line := func(get func(Epoch) float64, colour, name string) string {
		var pts []string
		for i, e := range epochs {
			if v := get(e); !math.IsNaN(v) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
			}
		}
		if len(pts) == 0 {
			return ""
		}
		return fmt.Sprintf(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`, colour, strings.Join(pts, " "), name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="loss per epoch">`, w, h)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#889"/>`, pad, h-pad, w-pad, h-pad)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#889"/>`, pad, pad, pad, h-pad)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="tick">%.3f</text><text x="%.0f" y="%.0f" class="tick">%.3f</text>`, 2.0, y(hi)+4, hi, 2.0, y(lo)+4, lo)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="tick">epoch 1</text><text x="%.0f" y="%.0f" class="tick" text-anchor="end">epoch %d</text>`, pad, h-pad+16, w-pad, h-pad+16, epochs[len(epochs)-1].Epoch)
	first, last := -1, -1
	for i, e := range epochs {
		if e.Averaged {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first >= 0 {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="#3b528b" fill-opacity="0.08"/><text x="%.1f" y="%.0f" class="tick" text-anchor="middle">weights averaged: epochs %d-%d</text>`,
			x(first), pad, x(last)-x(first), h-2*pad, (x(first)+x(last))/2, pad-6, epochs[first].Epoch, epochs[last].Epoch)
	}
	for i, e := range epochs {
		if e.Kept {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#889" stroke-dasharray="4 3"/><text x="%.1f" y="%.0f" class="tick" text-anchor="middle">kept: epoch %d</text>`, x(i), pad, x(i), h-pad, x(i), pad-6, e.Epoch)
		}
	}
	b.WriteString(line(func(e Epoch) float64 { return e.TrainLoss }, "#e0a800", "training loss"))
	b.WriteString(line(func(e Epoch) float64 { return e.ValLoss }, "#2fb36d", "validation loss"))
	fmt.Fprintf(&b, `<text x="%.0f" y="18" class="legend" fill="#e0a800">— training loss</text><text x="%.0f" y="18" class="legend" fill="#2fb36d">— validation loss</text>`, w-260, w-130)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// rankBuckets are the histogram's bins of the true match's rank.
var rankBuckets = []struct {
	Label  string
	Lo, Hi int
}{{"1", 1, 1}, {"2-5", 2, 5}, {"6-10", 6, 10}, {"11-50", 11, 50}, {"51-100", 51, 100}, {"101-500", 101, 500}, {">500", 501, math.MaxInt}}

// Bar is one bin of a rank histogram.
type Bar struct {
	Label string
	Count int
	Frac  float64
	Width float64 // percent of the widest bar
}

func rankBars(ranks []int) []Bar {
	if len(ranks) == 0 {
		return nil
	}
	bars := make([]Bar, len(rankBuckets))
	top := 0
	for i, bk := range rankBuckets {
		bars[i].Label = bk.Label
		for _, r := range ranks {
			if r >= bk.Lo && r <= bk.Hi {
				bars[i].Count++
			}
		}
		top = max(top, bars[i].Count)
	}
	for i := range bars {
		bars[i].Frac = float64(bars[i].Count) / float64(len(ranks))
		if top > 0 {
			bars[i].Width = 100 * float64(bars[i].Count) / float64(top)
		}
	}
	return bars
}

// ramp maps 0..1 to a dark-blue → teal → yellow scale (viridis-like).
func ramp(t float64) color.RGBA {
	stops := [][3]float64{{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}}
	t = math.Max(0, math.Min(1, t)) * float64(len(stops)-1)
	i := min(int(t), len(stops)-2)
	f := t - float64(i)
	var c [3]uint8
	for k := range 3 {
		c[k] = uint8(stops[i][k] + f*(stops[i+1][k]-stops[i][k]))
	}
	return color.RGBA{c[0], c[1], c[2], 255}
}
