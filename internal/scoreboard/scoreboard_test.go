package scoreboard

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/evalrun/evalruntest"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/metrics"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// result is an evaluation of n queries with the given mean rank
// percentiles and R@10s (poster->intro, intro->poster), each with an
// interval of ±0.02.
func result(split string, n int, mrp, r10 [2]float64) *evalrun.Result {
	dir := func(m, r float64) metrics.Scores {
		return metrics.Scores{MeanRankPercentile: m, R10: r,
			CI: &metrics.Intervals{MeanRankPercentile: metrics.Interval{m - 0.02, m + 0.02}, R10: metrics.Interval{max(0, r-0.02), r + 0.02}}}
	}
	bo := metrics.BootstrapOptions{}.WithDefaults()
	return &evalrun.Result{Split: split, N: n, PosterToIntro: dir(mrp[0], r10[0]), IntroToPoster: dir(mrp[1], r10[1]),
		Chance: metrics.ChanceFor(n), Bootstrap: &bo}
}

func mlp(seed int64, shuffled bool) heads.Settings {
	c := heads.DefaultConfig()
	c.Seed = seed
	return heads.Settings{Heads: heads.KindMLP, Encoder: "builtin", Fingerprint: "fp", Config: c, ValFraction: 0.1, ShufflePairs: shuffled}
}

func kind(k string) heads.Settings {
	return heads.Settings{Heads: k, Encoder: "builtin", Fingerprint: "fp"}
}

// boardRuns is a WORK after `run --seeds 1,2,3` with baselines and the
// control, given in a jumbled order.
func boardRuns() []Run {
	const n = 648
	t := evalrun.SplitTest
	return []Run{
		NewRun("builtin.shuffled", mlp(1, true), result(t, n, [2]float64{0.502, 0.497}, [2]float64{0.016, 0.014})),
		NewRun("builtin.seed3", mlp(3, false), result(t, n, [2]float64{0.606, 0.597}, [2]float64{0.040, 0.028})),
		NewRun("builtin.cca", kind(heads.KindCCA), result(t, n, [2]float64{0.611, 0.613}, [2]float64{0.045, 0.041})),
		NewRun("builtin", mlp(1, false), result(t, n, [2]float64{0.603, 0.598}, [2]float64{0.040, 0.025})),
		NewRun("builtin.linear", kind(heads.KindLinear), result(t, n, [2]float64{0.608, 0.607}, [2]float64{0.043, 0.037})),
		NewRun("builtin.seed2", mlp(2, false), result(t, n, [2]float64{0.600, 0.599}, [2]float64{0.037, 0.026})),
		NewRun("builtin.seed-protocol", func() heads.Settings { s := mlp(1, false); s.Config.Dropout = 0; return s }(),
			result(t, n, [2]float64{0.546, 0.543}, [2]float64{0.017, 0.022})),
	}
}

func TestNewOrdersAndGroups(t *testing.T) {
	b, err := New(evalrun.SplitTest, boardRuns())
	if err != nil {
		t.Fatal(err)
	}
	var names, roles []string
	for _, r := range b.Runs {
		names = append(names, r.Name)
		roles = append(roles, r.Role)
	}
	wantNames := []string{"builtin", "builtin.seed2", "builtin.seed3", "builtin.cca", "builtin.linear", "builtin.shuffled", "builtin.seed-protocol"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	wantRoles := []string{RoleModel, RoleModel, RoleModel, RoleBaseline, RoleBaseline, RoleControl, RoleSeedProtocol}
	if diff := cmp.Diff(wantRoles, roles); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
	want := []Group{{
		Runs: []string{"builtin", "builtin.seed2", "builtin.seed3"}, Seeds: []int64{1, 2, 3}, Role: RoleModel,
		PosterToIntro: Spreads{
			MeanRankPercentile: metrics.Spread{Mean: 0.603, SD: 0.003, Values: []float64{0.603, 0.600, 0.606}},
			R10:                metrics.Spread{Mean: 0.039, SD: 0.0017320508, Values: []float64{0.040, 0.037, 0.040}},
		},
		IntroToPoster: Spreads{
			MeanRankPercentile: metrics.Spread{Mean: 0.598, SD: 0.001, Values: []float64{0.598, 0.599, 0.597}},
			R10:                metrics.Spread{Mean: 0.0263333333, SD: 0.0015275252, Values: []float64{0.025, 0.026, 0.028}},
		},
	}}
	if diff := cmp.Diff(want, b.Groups, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	if b.N != 648 || b.Chance != metrics.ChanceFor(648) {
		t.Errorf("n %d chance %+v", b.N, b.Chance)
	}
}

// TestGroupsOnlySeedReplicates: runs that differ in more than the seed,
// or share a seed, are not averaged together.
func TestGroupsOnlySeedReplicates(t *testing.T) {
	r := result(evalrun.SplitTest, 10, [2]float64{0.6, 0.6}, [2]float64{0.1, 0.1})
	otherEpochs := mlp(2, false)
	otherEpochs.Config.Epochs = 5
	otherFeatures := mlp(3, false)
	otherFeatures.Fingerprint = "other"
	tests := []struct {
		name string
		runs []Run
	}{
		{"other epochs", []Run{NewRun("a", mlp(1, false), r), NewRun("b", otherEpochs, r)}},
		{"other features", []Run{NewRun("a", mlp(1, false), r), NewRun("b", otherFeatures, r)}},
		{"same seed", []Run{NewRun("a", mlp(1, false), r), NewRun("b", mlp(1, false), r)}},
		{"control beside its model", []Run{NewRun("a", mlp(1, false), r), NewRun("b", mlp(2, true), r)}},
		{"closed-form heads", []Run{NewRun("a", kind(heads.KindLinear), r), NewRun("b", kind(heads.KindLinear), r)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(evalrun.SplitTest, tt.runs)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Groups) != 0 {
				t.Errorf("grouped %v", b.Groups)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	a := NewRun("a", mlp(1, false), result(evalrun.SplitTest, 10, [2]float64{0.6, 0.6}, [2]float64{0.1, 0.1}))
	tests := []struct {
		name string
		runs []Run
		want string
	}{
		{"other n", []Run{a, NewRun("b", mlp(2, false), result(evalrun.SplitTest, 9, [2]float64{0.6, 0.6}, [2]float64{0.1, 0.1}))}, "run b was evaluated on 9 movies"},
		{"other split", []Run{a, NewRun("b", mlp(2, false), result(evalrun.SplitAll, 10, [2]float64{0.6, 0.6}, [2]float64{0.1, 0.1}))}, "run b was evaluated on split all, not test"},
		{"no evaluation", []Run{a, NewRun("b", mlp(2, false), nil)}, "run b has no evaluation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(evalrun.SplitTest, tt.runs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestWriteText compares the printed board with testdata/board.golden
// (rewrite it with go test -update).
func TestWriteText(t *testing.T) {
	b, err := New(evalrun.SplitTest, boardRuns())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := b.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "board.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("board text (-want +got):\n%s", diff)
	}
}

// TestEvaluate evaluates every run of a small WORK (the colour fake
// encoder with identity heads, saved under two names) and saves each
// run's evaluation.
func TestEvaluate(t *testing.T) {
	work := evalruntest.ColorWork(t)
	main := encodertest.ColorEncoderName
	other := main + ".copy"
	evalruntest.CopyRun(t, work, main, other)
	b, err := Evaluate(context.Background(), work, nil, evalrun.SplitTest, evalrun.Options{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Runs) != 2 || b.N != 2 || b.Runs[0].Name != main || b.Runs[1].Name != other {
		t.Fatalf("board runs %+v, n %d", b.Runs, b.N)
	}
	for _, r := range b.Runs {
		if r.Role != RoleZeroShot || r.Result.PosterToIntro.MeanRankPercentile != 1 {
			t.Errorf("run %s: role %s, MRP %v; want zero-shot, 1", r.Name, r.Role, r.Result.PosterToIntro.MeanRankPercentile)
		}
	}
	saved, err := evalrun.ReadResult(work, other, evalrun.SplitTest)
	if err != nil || saved.N != 2 {
		t.Errorf("saved result of %s: %+v, %v", other, saved, err)
	}
	if _, err := Evaluate(context.Background(), work, []string{"missing"}, evalrun.SplitTest, evalrun.Options{}, false); err == nil || !strings.Contains(err.Error(), "run missing") {
		t.Errorf("missing run: err %v, want one naming it", err)
	}
}

// TestGroupsClosedFormSeeds: the default heads are closed-form, whose
// cross-validation folds the seed draws; their seed replicates are
// averaged like the MLP's.
func TestGroupsClosedFormSeeds(t *testing.T) {
	grid := []heads.CVPoint{{Setting: heads.LinearConfig{Shrink: 0.3, Dim: 16}}, {Setting: heads.LinearConfig{Shrink: 0.7, Dim: 32}}}
	cca := func(seed int64, dim int) heads.Settings {
		s := kind(heads.KindCCA)
		s.Config.Seed, s.Config.EmbedDim = seed, dim
		s.CV = &heads.CVReport{Folds: 5, Seed: seed, Grid: grid, Chosen: dim / 32}
		return s
	}
	r := func(m float64) *evalrun.Result {
		return result(evalrun.SplitTest, 10, [2]float64{m, m}, [2]float64{0.1, 0.1})
	}
	// Each seed's folds chose another dimension: still one recipe.
	b, err := New(evalrun.SplitTest, []Run{NewRun("builtin", cca(1, 32), r(0.61)), NewRun("builtin.seed2", cca(2, 16), r(0.63)), NewRun("builtin.seed3", cca(3, 32), r(0.61))})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Groups) != 1 || !cmp.Equal(b.Groups[0].Seeds, []int64{1, 2, 3}) || b.Groups[0].Role != RoleModel {
		t.Errorf("groups %+v, want the three CCA seeds as one model group", b.Groups)
	}
	// Another candidate grid is another recipe.
	other := cca(2, 16)
	other.CV.Grid = grid[:1]
	b, err = New(evalrun.SplitTest, []Run{NewRun("builtin", cca(1, 32), r(0.61)), NewRun("builtin.seed2", other, r(0.63))})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Groups) != 0 {
		t.Errorf("runs of different grids grouped: %+v", b.Groups)
	}
}
