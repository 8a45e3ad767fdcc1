package report

import (
	"bytes"
	"image"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

func thumb(t testing.TB) []byte {
	t.Helper()
	return reeltest.JPEG(t, image.NewGray(image.Rect(0, 0, 4, 6)), 0)
}

func sampleData(t testing.TB) Data {
	dir := Direction{R1: 0.05, R5: 0.2, R10: 0.3, MedianRank: 40, MeanRank: 101.5, MRR: 0.12, Top1Acc: 0.05, MeanRankPercentile: 0.61,
		CI: map[string][2]float64{"r1": {0.03, 0.07}}, Ranks: []int{1, 1, 3, 7, 20, 60, 200, 600}}
	p := thumb(t)
	return Data{
		Generated: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC), WorkDir: "/tmp/w", Movies: 10, Train: 8, Test: 2,
		Runs: []Run{{
			Encoder: "builtin",
			Splits: []Split{
				{Name: "test", N: 648, P2I: dir, I2P: dir, Chance: map[string]float64{"r1": 1.0 / 648, "r5": 5.0 / 648, "r10": 10.0 / 648}},
				{Name: "all", N: 3242, Note: "the seed's protocol, training pairs included", P2I: dir, I2P: dir, Chance: map[string]float64{"r1": 1.0 / 3242, "r5": 5.0 / 3242, "r10": 10.0 / 3242}},
			},
			Epochs:        []Epoch{{Epoch: 1, TrainLoss: 3.2, ValLoss: 3.3, ValMRP: 0.55}, {Epoch: 2, TrainLoss: 2.9, ValLoss: 3.1, ValMRP: 0.58, Kept: true}, {Epoch: 3, TrainLoss: 2.7, ValLoss: math.NaN(), ValMRP: math.NaN()}},
			PosterQueries: []Query{{ID: "1", Name: "Toy Story <1995>", Poster: p, TrueRank: 2, Hits: []Hit{{ID: "2", Name: "Jumanji", Intro: "board game", Poster: p, Distance: 0.4}, {ID: "1", Name: "Toy Story <1995>", Intro: "a cowboy doll", Poster: p, Distance: 0.41, IsMatch: true}}}},
			IntroQueries:  []Query{{ID: "2", Name: "Jumanji", Intro: "board game", TrueRank: 1, Hits: []Hit{{ID: "2", Name: "Jumanji", Poster: p, Distance: 0.3, IsMatch: true}}}},
			Heatmap:       [][]float32{{0.1, 0.9}, {0.8, 0.2}},
		}},
		Settings: map[string]string{"epochs": "30"},
	}
}

func TestRender(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, sampleData(t)); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{
		"Retrieval metrics", "65.66%", "66.30%", "62.87%", "62.4%", "the seed&#39;s protocol, training pairs included",
		"loss per epoch", "<polyline", "rank 2-5", "Toy Story &lt;1995&gt;", `class="match"`, "data:image/jpeg;base64,",
		"data:image/png;base64,", "[3.0, 7.0]", "true intro at rank 2", "epochs", "kept: epoch 2",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Self-contained: nothing is fetched from elsewhere.
	if m := regexp.MustCompile(`(src|href)="(https?:)?//`).FindString(html); m != "" {
		t.Errorf("report references an external resource: %s", m)
	}
}

func TestRankBars(t *testing.T) {
	got := rankBars([]int{1, 1, 2, 5, 6, 11, 51, 101, 501, 3000})
	var counts []int
	for _, b := range got {
		counts = append(counts, b.Count)
	}
	if diff := cmp.Diff([]int{2, 2, 1, 1, 1, 1, 2}, counts); diff != "" {
		t.Errorf("bucket counts (-want +got):\n%s", diff)
	}
	if got[0].Width != 100 || got[0].Frac != 0.2 {
		t.Errorf("first bar %+v", got[0])
	}
}

func TestRamp(t *testing.T) {
	if c := ramp(0); c.R != 68 || c.B != 84 {
		t.Errorf("ramp(0) = %v", c)
	}
	if c := ramp(1); c.R != 253 || c.G != 231 {
		t.Errorf("ramp(1) = %v", c)
	}
}

func TestLossSVGMarksAveragedEpochs(t *testing.T) {
	var epochs []Epoch
	for i := 1; i <= 6; i++ {
		epochs = append(epochs, Epoch{Epoch: i, TrainLoss: 3 - 0.1*float64(i), ValLoss: math.NaN(), ValMRP: math.NaN(), Averaged: i >= 4})
	}
	svg := string(lossSVG(epochs))
	if !strings.Contains(svg, "weights averaged: epochs 4-6") {
		t.Errorf("averaged window not labelled: %s", svg)
	}
	if strings.Contains(svg, "kept: epoch") {
		t.Errorf("averaged run shows a single kept epoch: %s", svg)
	}
}

func TestPct(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "0%"}, {1, "100.0%"}, {0.5, "50.0%"}, {0.0154, "1.5%"}, {0.01, "1.0%"},
		{1.0 / 3242, "0.031%"}, {0.005, "0.50%"}, {0.00042, "0.042%"}, {math.NaN(), "–"},
	} {
		if got := pct(tc.v); got != tc.want {
			t.Errorf("pct(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestThresholds(t *testing.T) {
	d := &Distances{
		True:   []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0},
		Random: []float32{0.35, 0.55, 0.75, 0.95, 1.05, 1.15, 1.25, 1.35},
	}
	got := thresholds(d)
	want := []Threshold{
		{D: 0.30000001192092896, True: 0.3, Random: 0, Label: "25th percentile"},
		{D: 0.5, True: 0.5, Random: 0.125, Label: "median"},
		{D: 0.800000011920929, True: 0.8, Random: 0.375, Label: "75th percentile"},
		{D: 0.8999999761581421, True: 0.9, Random: 0.375, Label: "90th percentile"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("thresholds (-want +got):\n%s", diff)
	}
	if thresholds(nil) != nil || distancesSVG(nil) != "" {
		t.Error("no distances still gave thresholds or a chart")
	}
}

// TestHeatmapFigure checks the heat map has its axes, their titles, the
// colour scale with the distances it spans, and the movies by number.
func TestHeatmapFigure(t *testing.T) {
	got := string(heatmapSVG([][]float32{{0.2, 0.9, 1.1}, {0.8, 0.3, 1.0}, {1.2, 0.95, 0.25}}, []string{"A <1>", "B", "C"}))
	for _, want := range []string{
		`<svg class="heatmap"`, `href="data:image/png;base64,`,
		`>poster of movie k (rows)<`, `>intro of movie k (columns)<`,
		`<linearGradient id="hm-scale"`, `>0.20<`, `>1.20<`, `>0.70<`,
		`<li>A &lt;1&gt;</li><li>B</li><li>C</li>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("heat map lacks %q", want)
		}
	}
	if n := strings.Count(got, `text-anchor="middle">`); n < 3 {
		t.Errorf("%d column ticks, want 3", n)
	}
}

// TestNoLossCurve says why a run has no loss curve, by head kind.
func TestNoLossCurve(t *testing.T) {
	for kind, want := range map[string]string{
		"cca":    "cca heads are fitted in closed form, not trained by epochs",
		"linear": "linear heads are fitted in closed form, not trained by epochs",
		"none":   "heads none train nothing",
		"mlp":    "no training history in WORK",
	} {
		d := sampleData(t)
		d.Runs[0].Epochs, d.Runs[0].Heads = nil, kind
		var b bytes.Buffer
		if err := Render(&b, d); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), want) {
			t.Errorf("heads %s: the report does not say %q", kind, want)
		}
	}
}
