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
