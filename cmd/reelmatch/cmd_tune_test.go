package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/tune"
)

// TestTuneCLI tunes the synthetic WORK, checks both outputs, and that
// train follows the tune file unless told otherwise.
func TestTuneCLI(t *testing.T) {
	work := copyWork(t, synthWork(t, synthTestMovies))
	w := string(work)
	stdout, stderr, code := runCLI(t, append([]string{"-q", "tune", "--work", w, "--encoder", "builtin"}, tinyTuneArgs...)...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"3-fold cross-validation on the 192 training movies", "the test split was not read",
		"text clean, 8-d", "text raw, 16-d", "cca", "mlp", "best of each kind:", "chosen: ", "wrote " + work.Tune("builtin"),
		"held-out test split (48 movies), chosen settings fitted on all 192 training movies", "mean rank percentile", "chance: mean rank percentile 0.500"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	r, err := tune.Load(work.Tune("builtin"))
	if err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code = runCLI(t, append([]string{"--json", "-q", "tune", "--work", w, "--encoder", "builtin"}, tinyTuneArgs...)...)
	if code != exitOK {
		t.Fatalf("--json: exit %d\n%s", code, stderr)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v", err)
	}
	if diff := cmp.Diff([]string{"chosen", "encoder", "file", "folds", "grid", "pairs", "seconds", "seed", "test"}, sorted(keysOf(doc))); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	var chosen tune.Point
	if err := json.Unmarshal(doc["chosen"], &chosen); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r.Chosen, chosen); diff != "" {
		t.Errorf("a rerun chose otherwise, or --json disagrees with the file:\n%s", diff)
	}

	// train follows the file, says so, and records it.
	trainJSON := func(args ...string) TrainResult {
		t.Helper()
		stdout, stderr, code := runCLI(t, append([]string{"--json", "-q", "train", "--work", w, "--encoder", "builtin", "--run", "t"}, args...)...)
		if code != exitOK {
			t.Fatalf("train %v: exit %d\n%s", args, code, stderr)
		}
		var res TrainResult
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := trainJSON()
	if res.Tuned == nil || res.Tuned.File != "tune/builtin.json" || res.Heads != r.Chosen.Heads {
		t.Errorf("train without flags: heads %s, tuned %+v; want %s from tune/builtin.json", res.Heads, res.Tuned, r.Chosen.Heads)
	}
	st, err := heads.ReadSettings(work.Run("t"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Tuned == nil || *st.Tuned != *res.Tuned {
		t.Errorf("config.json tuned %+v", st.Tuned)
	}
	if res := trainJSON("--no-tune", "--heads", "linear", "--folds", "3"); res.Tuned != nil || res.CV == nil {
		t.Errorf("--no-tune: tuned %+v, cv %v", res.Tuned, res.CV)
	}
	other := heads.KindLinear
	if r.Chosen.Heads == heads.KindLinear {
		other = heads.KindCCA
	}
	if res := trainJSON("--heads", other, "--folds", "3"); res.Tuned != nil || res.Heads != other {
		t.Errorf("--heads %s: heads %s, tuned %+v; want the flag and no tune", other, res.Heads, res.Tuned)
	}
	stdout, _, code = runCLI(t, "-q", "train", "--work", w, "--encoder", "builtin", "--run", "t")
	if code != exitOK || !strings.Contains(stdout, "chosen by tune (") {
		t.Errorf("train summary does not say it followed tune:\n%s", stdout)
	}

	// A tune file for another training split is ignored, with a warning.
	b, err := os.ReadFile(work.Tune("builtin"))
	if err != nil {
		t.Fatal(err)
	}
	stale := strings.Replace(string(b), r.TrainSHA256, strings.Repeat("0", 64), 1)
	if err := os.WriteFile(work.Tune("builtin"), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = runCLI(t, "--json", "-q", "train", "--work", w, "--encoder", "builtin", "--run", "t", "--heads", "linear", "--folds", "3")
	if code != exitOK || !strings.Contains(stderr, "warning: ignoring "+work.Tune("builtin")+": the training split changed since tune ran") || strings.Contains(stdout, `"tuned"`) {
		t.Errorf("stale tune file: exit %d, stderr %q", code, stderr)
	}
	// A damaged one stops train.
	if err := os.WriteFile(work.Tune("builtin"), []byte(`{"version":1`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runCLI(t, "train", "--work", w, "--encoder", "builtin", "--run", "t"); code != exitFailure || !strings.Contains(stderr, "rerun `reelmatch tune`") {
		t.Errorf("damaged tune file: exit %d, stderr %q", code, stderr)
	}
}

func TestTuneFlagErrors(t *testing.T) {
	w := string(synthWork(t, synthTestMovies))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"identity heads", []string{"--heads", "none"}, `--heads: "none" cannot be tuned`},
		{"text input", []string{"--text-input", "lower"}, `--text-input must list "clean" and/or "raw"`},
		{"text dim", []string{"--text-dim", "4"}, "--text-dim"},
		{"text dim of another encoder", []string{"--encoder", "clip-vit-b32", "--text-dim", "64"}, "builtin encoder only"},
		{"window beyond epochs", []string{"--epochs", "5", "--average-epochs", "10"}, "--average-epochs 10 is more than the 5 --epochs"},
		{"one fold", []string{"--folds", "1"}, "--folds"},
		{"too many folds", []string{"--folds", "100"}, "too few for folds"},
		{"NaN lambda", []string{"--ridge-lambda", "1,NaN"}, "finite number"},
		{"bad shrink", []string{"--cca-shrink", "1"}, "--cca-shrink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, append([]string{"tune", "--work", w}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
	if _, err := os.Stat(synthWork(t, synthTestMovies).Tune("builtin")); err == nil {
		t.Error("a refused tune wrote a tune file")
	}
}

func keysOf(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
