package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/heads"
)

// TestTrainLinearHeads fits both closed-form baselines into the main run of
// the synthetic WORK (replacing its MLP heads) and checks the result, the
// saved settings, that the MLP's loss curve is gone, and that eval scores
// the run like any other.
func TestTrainLinearHeads(t *testing.T) {
	work := copyWork(t, synthWork(t, synthTestMovies))
	w := string(work)
	for _, tc := range []struct {
		kind string
		args []string
		grid int
	}{
		{heads.KindLinear, []string{"--ridge-lambda", "1,10"}, 2},
		{heads.KindCCA, []string{"--cca-shrink", "0.5", "--cca-dim", "4,8,16"}, 3},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			args := append([]string{"--json", "-q", "train", "--work", w, "--encoder", "builtin", "--heads", tc.kind, "--folds", "3", "--seed", "2"}, tc.args...)
			stdout, stderr, code := runCLI(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			var res TrainResult
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatal(err)
			}
			if res.Heads != tc.kind || res.CV == nil || len(res.CV.Grid) != tc.grid || res.CV.Folds != 3 || res.CV.Seed != 2 ||
				res.Linear == nil || *res.Linear != res.CV.Grid[res.CV.Chosen].Setting {
				t.Fatalf("result %+v", res)
			}
			// Every training pair is fitted; folds cover all of them.
			if res.TrainPairs != res.CV.Pairs || res.TrainPairs == 0 {
				t.Errorf("train pairs %d, cross-validated %d", res.TrainPairs, res.CV.Pairs)
			}
			st, err := heads.ReadSettings(work.Run("builtin"))
			if err != nil {
				t.Fatal(err)
			}
			if st.Heads != tc.kind || st.Linear == nil || st.CV == nil || st.Encoder != "builtin" {
				t.Errorf("config.json %+v", st)
			}
			for _, p := range []string{work.History("builtin"), work.LossPlot("builtin")} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s of the replaced MLP run is still there", p)
				}
			}
			stdout, stderr, code = runCLI(t, "--json", "-q", "eval", "--work", w)
			if code != exitOK {
				t.Fatalf("eval: exit %d\n%s", code, stderr)
			}
			var ev evalrun.Result
			if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
				t.Fatal(err)
			}
			// The synthetic posters and intros share their genre: a linear
			// map finds it.
			if ev.PosterToIntro.MeanRankPercentile < 0.7 || ev.IntroToPoster.MeanRankPercentile < 0.7 {
				t.Errorf("held-out mean rank percentile %.3f / %.3f, want > 0.7", ev.PosterToIntro.MeanRankPercentile, ev.IntroToPoster.MeanRankPercentile)
			}
			stdout, _, code = runCLI(t, "-q", "train", "--work", w, "--encoder", "builtin", "--heads", tc.kind, "--folds", "3")
			if code != exitOK || !strings.Contains(stdout, "chosen among") || !strings.Contains(stdout, "cross-validation on the training split") {
				t.Errorf("human summary: exit %d\n%s", code, stdout)
			}
		})
	}
}

func TestTrainLinearFlagErrors(t *testing.T) {
	w := string(synthWork(t, synthTestMovies))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"one fold", []string{"--heads", "linear", "--folds", "1"}, "--folds"},
		{"negative lambda", []string{"--heads", "linear", "--ridge-lambda", "-1"}, "--ridge-lambda"},
		{"NaN lambda", []string{"--heads", "linear", "--ridge-lambda", "3,NaN"}, "finite number"},
		{"shrink 1", []string{"--heads", "cca", "--cca-shrink", "1"}, "in [0, 1)"},
		{"no components", []string{"--heads", "cca", "--cca-dim", "0"}, "--cca-dim"},
		{"too many folds", []string{"--heads", "cca", "--folds", "100"}, "cannot make 100 folds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, append([]string{"train", "--work", w, "--encoder", "builtin"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
}
