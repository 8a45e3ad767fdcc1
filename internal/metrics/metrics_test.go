package metrics

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var approx = cmpopts.EquateApprox(0, 1e-9)

func TestEvaluateHandComputed(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name     string
		D        [][]float32
		p2i, i2p Scores
	}{
		{
			// Rows: poster 0 finds its intro first; poster 1 has both wrong
			// intros nearer (rank 3); poster 2 ties with every intro (rank 1
			// by the optimistic rule, but argmin picks index 0, so not top-1).
			name: "3x3 with ties",
			D: [][]float32{
				{0.1, 0.5, 0.9},
				{0.2, 0.3, 0.1},
				{0.4, 0.4, 0.4},
			},
			p2i: Scores{R1: 2.0 / 3, R5: 1, R10: 1, MedianRank: 1, MeanRank: 5.0 / 3, MRR: 7.0 / 9, Top1Acc: 1.0 / 3, MeanRankPercentile: 0.5},
			i2p: Scores{R1: 2.0 / 3, R5: 1, R10: 1, MedianRank: 1, MeanRank: 4.0 / 3, MRR: 5.0 / 6, Top1Acc: 2.0 / 3, MeanRankPercentile: 5.0 / 6},
		},
		{
			name: "NaN counts as farthest",
			D: [][]float32{
				{nan, 0.5},
				{0.2, 0.1},
			},
			// Ranks are [2, 1] both ways; the lower median of {1, 2} is 1.
			p2i: Scores{R1: 0.5, R5: 1, R10: 1, MedianRank: 1, MeanRank: 1.5, MRR: 0.75, Top1Acc: 0.5, MeanRankPercentile: 0.5},
			i2p: Scores{R1: 0.5, R5: 1, R10: 1, MedianRank: 1, MeanRank: 1.5, MRR: 0.75, Top1Acc: 0.5, MeanRankPercentile: 0.5},
		},
		{
			name: "single pair",
			D:    [][]float32{{0.7}},
			p2i:  Scores{R1: 1, R5: 1, R10: 1, MedianRank: 1, MeanRank: 1, MRR: 1, Top1Acc: 1, MeanRankPercentile: 1},
			i2p:  Scores{R1: 1, R5: 1, R10: 1, MedianRank: 1, MeanRank: 1, MRR: 1, Top1Acc: 1, MeanRankPercentile: 1},
		},
		{
			name: "empty",
			D:    [][]float32{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Evaluate(tt.D)
			want := Report{N: len(tt.D), PosterToIntro: tt.p2i, IntroToPoster: tt.i2p, Chance: ChanceFor(len(tt.D))}
			if diff := cmp.Diff(want, got, approx); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQueriesRanksAndTies(t *testing.T) {
	D := [][]float32{
		{0.4, 0.4, 0.1, 0.9},
		{0.0, 0.5, 0.5, 0.5},
		{0.3, 0.3, 0.3, 0.3},
		{0.1, 0.2, 0.3, 0.4},
	}
	want := []Query{
		{Rank: 2, Ties: 1, Top1: false, Percentile: 1.5 / 3},
		{Rank: 2, Ties: 2, Top1: false, Percentile: 1.0 / 3},
		{Rank: 1, Ties: 3, Top1: false, Percentile: 0.5},
		{Rank: 4, Ties: 0, Top1: false, Percentile: 0},
	}
	if diff := cmp.Diff(want, Queries(D, PosterToIntro), approx); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	// Columns: col0 {0.4,0.0,0.3,0.1} t=0.4; col1 {0.4,0.5,0.3,0.2} t=0.5;
	// col2 {0.1,0.5,0.3,0.3} t=0.3; col3 {0.9,0.5,0.3,0.4} t=0.4.
	wantCols := []Query{
		{Rank: 4, Ties: 0, Percentile: 0},
		{Rank: 4, Ties: 0, Percentile: 0},
		{Rank: 2, Ties: 1, Percentile: 1.5 / 3},
		{Rank: 2, Ties: 0, Percentile: 2.0 / 3},
	}
	if diff := cmp.Diff(wantCols, Queries(D, IntroToPoster), approx); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if got := (Query{Rank: 2, Ties: 3}).TieHalf(); got != 3.5 {
		t.Errorf("TieHalf = %v, want 3.5", got)
	}
}

func TestHelpers(t *testing.T) {
	ranks := []int{1, 7, 3, 12, 5, 2}
	if got := RecallAt(ranks, 5); got != 4.0/6 {
		t.Errorf("RecallAt 5 = %v", got)
	}
	if got := MedianRank(ranks); got != 3 {
		t.Errorf("MedianRank = %v, want 3 (lower median of 1 2 3 5 7 12)", got)
	}
	if got, want := MRR(ranks), (1+1.0/7+1.0/3+1.0/12+1.0/5+1.0/2)/6; math.Abs(got-want) > 1e-12 {
		t.Errorf("MRR = %v, want %v", got, want)
	}
	if diff := cmp.Diff(Chance{R1: 1.0 / 648, R5: 5.0 / 648, R10: 10.0 / 648}, ChanceFor(648)); diff != "" {
		t.Errorf("ChanceFor(648) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Chance{R1: 1.0 / 4, R5: 1, R10: 1}, ChanceFor(4)); diff != "" {
		t.Errorf("ChanceFor(4) caps at 1 (-want +got):\n%s", diff)
	}
}

func randomMatrix(n int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	D := make([][]float32, n)
	for i := range D {
		D[i] = make([]float32, n)
		for j := range D[i] {
			D[i][j] = rng.Float32() * 2
		}
	}
	return D
}

func TestProperties(t *testing.T) {
	const n = 400
	perfect := Scores{R1: 1, R5: 1, R10: 1, MedianRank: 1, MeanRank: 1, MRR: 1, Top1Acc: 1, MeanRankPercentile: 1}
	worstRank := func() Scores {
		return Scores{MedianRank: n, MeanRank: n, MRR: 1.0 / n}
	}

	t.Run("identity vectors are perfect", func(t *testing.T) {
		vecs := make([][]float32, n)
		for i := range vecs {
			vecs[i] = make([]float32, n)
			vecs[i][i] = 3 // any scale: Distance normalises
		}
		got := Evaluate(Distance(vecs, vecs))
		if diff := cmp.Diff(perfect, got.PosterToIntro, approx); diff != "" {
			t.Errorf("poster->intro (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(perfect, got.IntroToPoster, approx); diff != "" {
			t.Errorf("intro->poster (-want +got):\n%s", diff)
		}
	})
	t.Run("reversed is worst", func(t *testing.T) {
		D := randomMatrix(n, 3)
		for i := range D {
			D[i][i] = 2.5 // farther than every wrong candidate
		}
		got := Evaluate(D)
		if diff := cmp.Diff(worstRank(), got.PosterToIntro, approx); diff != "" {
			t.Errorf("poster->intro (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(worstRank(), got.IntroToPoster, approx); diff != "" {
			t.Errorf("intro->poster (-want +got):\n%s", diff)
		}
	})
	t.Run("random is near chance", func(t *testing.T) {
		const big = 1500
		got := Evaluate(randomMatrix(big, 9))
		for _, s := range []Scores{got.PosterToIntro, got.IntroToPoster} {
			// Standard error of a mean of 1500 uniform percentiles is
			// sqrt(1/12/1500) ~ 0.0075; allow about 4 of them.
			if math.Abs(s.MeanRankPercentile-0.5) > 0.03 {
				t.Errorf("mean rank percentile %v, want ~0.5", s.MeanRankPercentile)
			}
			if math.Abs(s.MeanRank-(big+1)/2.0) > 0.03*big {
				t.Errorf("mean rank %v, want ~%v", s.MeanRank, (big+1)/2.0)
			}
			// R@10 chance is 10/1500; binomial sd ~ 0.0021.
			if s.R10 > 0.02 {
				t.Errorf("R@10 %v, want ~%v", s.R10, got.Chance.R10)
			}
		}
	})
}

func TestEvaluatePanicsOnNonSquare(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Evaluate of a 2x3 matrix did not panic")
		}
	}()
	Evaluate([][]float32{{0, 1, 2}, {1, 0, 2}})
}

func TestBootstrap(t *testing.T) {
	D := randomMatrix(200, 4)
	for i := range D {
		if i%3 == 0 {
			D[i][i] = 0 // a third of the queries are hits
		}
	}
	r := EvaluateCI(D, BootstrapOptions{Resamples: 300, Seed: 5})
	again := EvaluateCI(D, BootstrapOptions{Resamples: 300, Seed: 5})
	if diff := cmp.Diff(r, again); diff != "" {
		t.Errorf("bootstrap is not deterministic (-first +second):\n%s", diff)
	}
	for _, s := range []Scores{r.PosterToIntro, r.IntroToPoster} {
		if s.CI == nil {
			t.Fatal("CI missing")
		}
		checks := []struct {
			name  string
			point float64
			iv    Interval
		}{
			{"r1", s.R1, s.CI.R1}, {"r10", s.R10, s.CI.R10}, {"mrr", s.MRR, s.CI.MRR},
			{"mean_rank", s.MeanRank, s.CI.MeanRank}, {"pct", s.MeanRankPercentile, s.CI.MeanRankPercentile},
			{"median", float64(s.MedianRank), s.CI.MedianRank},
		}
		for _, c := range checks {
			if c.iv[0] > c.point || c.point > c.iv[1] {
				t.Errorf("%s: point %v outside CI %v", c.name, c.point, c.iv)
			}
		}
		// R@1 ~ 1/3 from 200 queries: sd ~ 0.033, so the 95% interval is
		// about 0.13 wide; allow a broad band.
		if w := s.CI.R1[1] - s.CI.R1[0]; w < 0.05 || w > 0.25 {
			t.Errorf("R@1 CI width %v, want about 0.13", w)
		}
	}
	// Identical queries give zero-width intervals.
	same := make([]Query, 50)
	for i := range same {
		same[i] = Query{Rank: 2, Percentile: 0.9}
	}
	iv := Bootstrap(same, BootstrapOptions{})
	if diff := cmp.Diff(Interval{0.5, 0.5}, iv.MRR); diff != "" {
		t.Errorf("constant MRR CI (-want +got):\n%s", diff)
	}
	if got := Evaluate(D); got.PosterToIntro.CI != nil {
		t.Error("Evaluate without CI filled CI")
	}
}

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		want   Spread
	}{
		{"none", nil, Spread{}},
		{"one value has no spread", []float64{0.6}, Spread{Mean: 0.6, SD: 0, Values: []float64{0.6}}},
		// mean 0.6; squared deviations 0.0001+0+0.0001, /(3-1) = 1e-4.
		{"three seeds", []float64{0.59, 0.60, 0.61}, Spread{Mean: 0.6, SD: 0.01, Values: []float64{0.59, 0.60, 0.61}}},
		{"two values", []float64{1, 3}, Spread{Mean: 2, SD: math.Sqrt2, Values: []float64{1, 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SpreadOf(tt.values)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
				t.Errorf("SpreadOf(%v) (-want +got):\n%s", tt.values, diff)
			}
		})
	}
}

func TestBootstrapWithDefaults(t *testing.T) {
	got := BootstrapOptions{}.WithDefaults()
	if want := (BootstrapOptions{Resamples: DefaultResamples, Seed: 1, Level: 0.95}); got != want {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
	if got := (BootstrapOptions{Resamples: 200, Seed: 9, Level: 0.9}).WithDefaults(); got.Resamples != 200 || got.Seed != 9 || got.Level != 0.9 {
		t.Errorf("set fields changed: %+v", got)
	}
}
