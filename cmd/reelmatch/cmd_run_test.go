package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/scoreboard"
	"github.com/reelmatch/reelmatch/internal/synth"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// fastLinear keeps the closed-form baselines' cross-validation to one
// setting each on two folds, so a test's run fits them in well under a
// second.
var fastLinear = []string{"--folds", "2", "--ridge-lambda", "1", "--cca-shrink", "0.5", "--cca-dim", "4"}

func TestPlanRuns(t *testing.T) {
	base := func() RunOptions {
		o := RunOptions{Work: "w", Control: true, Baselines: true, Protocol: protocolHeldOut}
		o.Train.Heads = heads.KindMLP
		o.Train.Config = heads.DefaultConfig()
		return o
	}
	type planned struct{ Name, Role string }
	tests := []struct {
		name string
		enc  string
		opts func(*RunOptions)
		want []planned
	}{
		{"defaults", "builtin", func(*RunOptions) {}, []planned{
			{"builtin", scoreboard.RoleModel}, {"builtin.shuffled", scoreboard.RoleControl},
			{"builtin.linear", scoreboard.RoleBaseline}, {"builtin.cca", scoreboard.RoleBaseline}}},
		{"three seeds", "builtin", func(o *RunOptions) { o.Seeds = []int{1, 2, 3} }, []planned{
			{"builtin", scoreboard.RoleModel}, {"builtin.seed2", scoreboard.RoleModel}, {"builtin.seed3", scoreboard.RoleModel},
			{"builtin.shuffled", scoreboard.RoleControl}, {"builtin.linear", scoreboard.RoleBaseline}, {"builtin.cca", scoreboard.RoleBaseline}}},
		{"shared space adds zero-shot", "clip-vit-b32", func(o *RunOptions) { o.Control = false }, []planned{
			{"clip-vit-b32", scoreboard.RoleModel}, {"clip-vit-b32.linear", scoreboard.RoleBaseline},
			{"clip-vit-b32.cca", scoreboard.RoleBaseline}, {"clip-vit-b32.none", scoreboard.RoleZeroShot}}},
		{"named main run", "builtin", func(o *RunOptions) { o.Train.Run = "exp"; o.Baselines = false }, []planned{
			{"exp", scoreboard.RoleModel}, {"exp.shuffled", scoreboard.RoleControl}}},
		{"main run of a closed-form kind", "builtin", func(o *RunOptions) { o.Train.Heads = heads.KindLinear }, []planned{
			{"builtin", scoreboard.RoleModel}, {"builtin.shuffled", scoreboard.RoleControl},
			{"builtin.mlp", scoreboard.RoleBaseline}, {"builtin.cca", scoreboard.RoleBaseline}}},
		{"main run is a control", "builtin", func(o *RunOptions) { o.Train.ShufflePairs = true; o.Baselines = false }, []planned{
			{"builtin", scoreboard.RoleControl}}},
		{"seed protocol", "builtin", func(o *RunOptions) { o.Protocol = protocolSeed }, []planned{
			{"builtin.seed-protocol", scoreboard.RoleSeedProtocol}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.opts(&o)
			var got []planned
			for _, p := range planRuns(o, tt.enc) {
				got = append(got, planned{p.Name, p.Role})
				if p.Train.Run != p.Name || p.Train.Encoder != tt.enc || p.Train.Work != "w" {
					t.Errorf("%s: train options run %q encoder %q work %q", p.Name, p.Train.Run, p.Train.Encoder, p.Train.Work)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}

	o := base()
	o.Seeds = []int{4, 5}
	plan := planRuns(o, "builtin")
	if plan[0].Train.Config.Seed != 4 || plan[1].Train.Config.Seed != 5 || plan[2].Train.Config.Seed != 4 || !plan[2].Train.ShufflePairs {
		t.Errorf("seeds: main %d, second %d, control %d shuffled %v", plan[0].Train.Config.Seed, plan[1].Train.Config.Seed, plan[2].Train.Config.Seed, plan[2].Train.ShufflePairs)
	}
	o = base()
	o.Protocol = protocolSeed
	c := planRuns(o, "builtin")[0].Train
	if c.Config.Dropout != 0 || c.Config.InputDropout != 0 || c.Config.Epochs != 100 || c.Config.AverageEpochs != 0 || c.ValFraction != 0 {
		t.Errorf("seed protocol settings: %+v, val fraction %g", c.Config, c.ValFraction)
	}
	if plan := planRuns(o, "builtin"); !cmp.Equal(plan[0].Splits, []string{evalrun.SplitTest, evalrun.SplitAll, evalrun.SplitTrain}) {
		t.Errorf("seed protocol splits %v", plan[0].Splits)
	}
	// A tune file must not undo the recipe: train applies it again to
	// every setting not given on the command line.
	for _, f := range []string{"heads", "dropout", "average-epochs", "epochs", "val-fraction"} {
		if !c.changed[f] {
			t.Errorf("seed protocol leaves --%s to a tune file", f)
		}
	}
}

func TestRunPlanFlagErrors(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.Write(data, 20, 1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown protocol", []string{"--protocol", "all"}, `--protocol must be "heldout" or "seed"`},
		{"repeated seed", []string{"--seeds", "1,2,1"}, "--seeds lists 1 twice"},
		{"seeds and seed", []string{"--seeds", "1,2", "--seed", "3"}, "--seeds or --seed, not both"},
		{"negative seed", []string{"--seeds", "-1"}, "--seeds"},
		{"seed protocol fixes epochs", []string{"--protocol", "seed", "--epochs", "5"}, "--protocol seed sets --epochs itself"},
		{"seed protocol fixes dropout", []string{"--protocol", "seed", "--dropout", "0.2"}, "--protocol seed sets --dropout itself"},
		{"seed protocol is MLP", []string{"--protocol", "seed", "--heads", "linear"}, "drop --heads linear"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := t.TempDir()
			args := append([]string{"run", "--data", data, "--work", work, "--encoder", "builtin"}, tt.args...)
			_, stderr, code := runCLI(t, args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d naming %q", code, stderr, exitUsage, tt.want)
			}
			if fileExists(workdir.Dir(work).Manifest()) {
				t.Errorf("a usage error still ran prepare")
			}
		})
	}
}

// TestRunSeedsControlBaselines runs the held-out protocol with two seeds:
// every run is trained, evaluated and saved under its conventional name,
// the JSON and the summary put them side by side with the seeds' mean ± sd,
// and eval --compare prints the same board.
func TestRunSeedsControlBaselines(t *testing.T) {
	dir := t.TempDir()
	data, work := filepath.Join(dir, "data"), filepath.Join(dir, "work")
	if err := synth.Write(data, pipelineMovies, 3); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"run", "--data", data, "--work", work, "--encoder", "builtin", "--heads", "mlp", "--epochs", "1", "--seeds", "1,2", "-q", "--json"}, fastLinear...)
	stdout, stderr, code := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("run: exit %d, stderr %s", code, stderr)
	}
	var res struct {
		Protocol string
		Train    struct{ Run string }
		Eval     struct{ Test, All *evalrun.Result }
		Runs     []struct {
			Run, Role string
			Eval      struct{ Test, All, Train *evalrun.Result }
		}
		Compare scoreboard.Board
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("run --json: %v\n%s", err, stdout)
	}
	type row struct {
		Run, Role string
		All       bool
	}
	var got []row
	for _, r := range res.Runs {
		got = append(got, row{r.Run, r.Role, r.Eval.All != nil})
		if r.Eval.Test == nil || r.Eval.Test.N != 12 || r.Eval.Test.PosterToIntro.CI == nil {
			t.Errorf("%s: test evaluation %+v", r.Run, r.Eval.Test)
		}
		if _, err := evalrun.ReadResult(workdir.Dir(work), r.Run, evalrun.SplitTest); err != nil {
			t.Errorf("%s: eval_test.json not saved: %v", r.Run, err)
		}
	}
	want := []row{
		{"builtin", scoreboard.RoleModel, true}, {"builtin.seed2", scoreboard.RoleModel, true},
		{"builtin.shuffled", scoreboard.RoleControl, false},
		{"builtin.linear", scoreboard.RoleBaseline, false}, {"builtin.cca", scoreboard.RoleBaseline, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	if res.Protocol != protocolHeldOut || res.Train.Run != "builtin" || res.Eval.All == nil || res.Eval.Test.Run != "builtin" {
		t.Errorf("protocol %q, main train %q, main eval %+v", res.Protocol, res.Train.Run, res.Eval.Test)
	}
	if len(res.Compare.Runs) != 5 || len(res.Compare.Groups) != 1 || !cmp.Equal(res.Compare.Groups[0].Seeds, []int64{1, 2}) || res.Compare.N != 12 {
		t.Errorf("compare: %d runs, groups %+v, n %d", len(res.Compare.Runs), res.Compare.Groups, res.Compare.N)
	}
	if g := res.Compare.Groups[0]; len(g.PosterToIntro.MeanRankPercentile.Values) != 2 {
		t.Errorf("group spread %+v", g.PosterToIntro)
	}

	// The human summary of the same WORK: run again (everything is
	// reused or retrained identically) without --json.
	args = append([]string{"run", "--data", data, "--work", work, "--encoder", "builtin", "--heads", "mlp", "--epochs", "1", "--seeds", "1,2", "-q"}, fastLinear...)
	stdout, _, code = runCLI(t, args...)
	for _, s := range []string{"train: builtin.seed2 (seed 2): ", "train: builtin.shuffled (control: pairs shuffled): ", "train: builtin.cca (baseline): ",
		"runs side by side, split test, n=12 (held out)", "mean ± sd of 2 seeds", "control: the same training"} {
		if code != exitOK || !strings.Contains(stdout, s) {
			t.Errorf("run output (exit %d) lacks %q:\n%s", code, s, stdout)
		}
	}

	if _, stderr, code := runCLI(t, "eval", "--work", work); code != exitOK || !strings.Contains(stderr, "other runs of builtin in "+work+": builtin.cca, builtin.linear, builtin.seed2, builtin.shuffled; `reelmatch eval --work "+work+" --compare` puts them side by side") {
		t.Errorf("eval: exit %d, stderr %q; want the other runs named with the --compare hint", code, stderr)
	}
	board, _, code := runCLI(t, "eval", "--work", work, "--compare", "-q")
	if code != exitOK {
		t.Fatalf("eval --compare: exit %d", code)
	}
	for _, name := range []string{"builtin.seed2", "builtin.shuffled", "builtin.linear", "builtin.cca", "chance"} {
		if !strings.Contains(board, "\n"+name+" ") {
			t.Errorf("eval --compare lacks a row for %s:\n%s", name, board)
		}
	}
	if _, stderr, code := runCLI(t, "eval", "--work", work, "--compare", "--run", "builtin"); code != exitUsage || !strings.Contains(stderr, "drop --run") {
		t.Errorf("--compare --run: exit %d, %q", code, stderr)
	}
	stdout, _, code = runCLI(t, "eval", "--work", work, "--compare", "--json", "-q")
	var b scoreboard.Board
	if err := json.Unmarshal([]byte(stdout), &b); err != nil || code != exitOK || len(b.Runs) != 5 || b.Split != evalrun.SplitTest {
		t.Errorf("eval --compare --json: exit %d, err %v, %d runs, split %q", code, err, len(b.Runs), b.Split)
	}
}

// TestRunProtocolSeed trains the seed-protocol run and prints both
// readings of the seed's number on all, train and test.
func TestRunProtocolSeed(t *testing.T) {
	dir := t.TempDir()
	data, work := filepath.Join(dir, "data"), filepath.Join(dir, "work")
	if err := synth.Write(data, pipelineMovies, 3); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCLI(t, "run", "--data", data, "--work", work, "--encoder", "builtin", "--protocol", "seed", "-q")
	if code != exitOK {
		t.Fatalf("run --protocol seed: exit %d, stderr %s", code, stderr)
	}
	for _, s := range []string{"train: builtin.seed-protocol (the seed's recipe, seed 1): 100 epochs on 48 pairs, kept epoch 100",
		"the seed's number, two readings: run builtin.seed-protocol", "all (training pairs included)", "train (the training pairs)", "test (held out)",
		"top-1 p->i [95% CI]", "65.66% / 66.30%", "cannot be read as a measure of alignment"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, stdout)
		}
	}
	s, err := heads.ReadSettings(workdir.Dir(work).Run("builtin.seed-protocol"))
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Config; c.Dropout != 0 || c.InputDropout != 0 || c.Epochs != 100 || s.ValFraction != 0 || s.ValPairs != 0 {
		t.Errorf("saved settings %+v, val fraction %g", c, s.ValFraction)
	}
	for _, split := range []string{evalrun.SplitTest, evalrun.SplitAll, evalrun.SplitTrain} {
		if _, err := evalrun.ReadResult(workdir.Dir(work), "builtin.seed-protocol", split); err != nil {
			t.Errorf("split %s not saved: %v", split, err)
		}
	}
}
