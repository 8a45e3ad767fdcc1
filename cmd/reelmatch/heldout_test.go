package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/synth"
	"github.com/reelmatch/reelmatch/internal/tune"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// tinyTuneArgs is a tune grid that scores every kind of setting in a few
// seconds.
var tinyTuneArgs = []string{"--folds", "3", "--text-input", "clean,raw", "--text-dim", "8,16",
	"--ridge-lambda", "1,10", "--cca-shrink", "0.5", "--cca-dim", "4,8", "--dropout", "0.1,0.2", "--average-epochs", "1,2", "--epochs", "2"}

// TestTestSplitCannotChangeTheModel is the held-out property of the whole
// pipeline: from an empty WORK, prepare, embed, tune, run (which follows
// the tune file) and train (MLP with weight averaging, MLP with the epoch
// picked on the validation slice, ridge with its own cross-validation) give
// byte-identical chosen settings, fitted text state and weights when every
// test-split intro and poster is replaced. Only the test metrics move.
func TestTestSplitCannotChangeTheModel(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.Write(data, 100, 5); err != nil {
		t.Fatal(err)
	}
	first, firstEval := heldOutPipeline(t, data, filepath.Join(t.TempDir(), "work"))

	testIDs := perturbTestSplit(t, data)
	if len(testIDs) < 10 {
		t.Fatalf("only %d test movies", len(testIDs))
	}
	second, secondEval := heldOutPipeline(t, data, filepath.Join(t.TempDir(), "work"))

	if len(first) < 8 {
		t.Fatalf("compared only %d artifacts: %v", len(first), slices.Sorted(maps.Keys(first)))
	}
	for name, want := range first {
		if got, ok := second[name]; !ok || !bytes.Equal(want, got) {
			t.Errorf("%s changed when only test-split intros and posters changed", name)
		}
	}
	// The perturbation reached what is measured on the test split.
	if firstEval == secondEval {
		t.Errorf("the test-split evaluation did not change (%s): the perturbation missed", firstEval)
	}
}

// heldOutPipeline runs the pipeline into work and returns every artifact
// fitted on the training split, by name, and the main run's test eval.
func heldOutPipeline(t *testing.T, data, work string) (map[string][]byte, string) {
	t.Helper()
	run := func(args ...string) string {
		t.Helper()
		stdout, stderr, code := runCLI(t, args...)
		if code != exitOK {
			t.Fatalf("%s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		return stdout
	}
	run("prepare", "-q", "--data", data, "--work", work)
	run("embed", "-q", "--work", work, "--encoder", "builtin")
	tuneOut := run(append([]string{"--json", "-q", "tune", "--work", work, "--encoder", "builtin"}, tinyTuneArgs...)...)
	var tj tuneJSON
	if err := json.Unmarshal([]byte(tuneOut), &tj); err != nil {
		t.Fatal(err)
	}
	if tj.Test == nil || len(tj.Grid) != 2*2*(2+2)+2*2 {
		t.Fatalf("tune --json: test %v, %d grid points", tj.Test, len(tj.Grid))
	}
	runOut := run("run", "-q", "--data", data, "--work", work, "--encoder", "builtin")
	if !strings.Contains(runOut, "chosen by tune") {
		t.Errorf("run does not say it follows the tune file:\n%s", runOut)
	}
	small := []string{"--epochs", "3", "--hidden", "16", "--embed-dim", "8", "--no-tune"}
	run(append([]string{"train", "-q", "--work", work, "--encoder", "builtin", "--heads", "mlp", "--run", "builtin.swa"}, small...)...)
	run(append([]string{"train", "-q", "--work", work, "--encoder", "builtin", "--heads", "mlp", "--run", "builtin.best", "--average-epochs", "0", "--patience", "1"}, small...)...)
	run("train", "-q", "--work", work, "--encoder", "builtin", "--heads", "linear", "--run", "builtin.linear", "--no-tune", "--folds", "3")

	w := workdir.Dir(work)
	out := map[string][]byte{}
	read := func(name, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	read("tune file", w.Tune("builtin"))
	read("builtin text state", w.EncoderState("builtin"))
	for _, r := range []string{"builtin", "builtin.swa", "builtin.best", "builtin.linear"} {
		read(r+" weights", w.Heads(r))
		read(r+" config.json", w.RunConfig(r))
	}
	chosen, err := json.Marshal(tj.Chosen)
	if err != nil {
		t.Fatal(err)
	}
	out["tune --json chosen"] = chosen
	grid, _ := json.Marshal(tj.Grid)
	out["tune --json grid"] = grid
	// What tune says it chose is what the tune file holds and run trained.
	r, err := tune.Load(w.Tune("builtin"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r.Chosen, tj.Chosen); diff != "" {
		t.Errorf("tune file chosen vs tune --json chosen:\n%s", diff)
	}
	evalJSON, err := os.ReadFile(w.Eval("builtin", "test"))
	if err != nil {
		t.Fatal(err)
	}
	return out, string(evalJSON)
}

// perturbTestSplit replaces the intro and the poster of every movie not in
// train.txt and returns their ids.
func perturbTestSplit(t *testing.T, data string) []string {
	t.Helper()
	var ids []string
	editCatalogue(t, data, func(rows [][]string, train map[string]bool) {
		for i, r := range rows[1:] {
			id := r[0]
			if train[id] {
				continue
			}
			ids = append(ids, id)
			// New words, and words of every genre, in a new order.
			r[2] = fmt.Sprintf("Zanzibar quokka %d saxophone; a cowboy ghost kisses the robot detective at the ranch castle.", i)
			img := image.NewRGBA(image.Rect(0, 0, 60, 90))
			for p := range img.Pix {
				img.Pix[p] = uint8(p*31 + i*17)
			}
			img.Set(0, 0, color.White)
			reeltest.WriteFile(t, filepath.Join(data, "poster", id+".jpg"), reeltest.JPEG(t, img, 90))
		}
	})
	return ids
}

// editCatalogue reads DATA/info.csv (rows[0] is the header) and the ids of
// DATA/train.txt, lets edit change the rows, and writes info.csv back.
func editCatalogue(t *testing.T, data string, edit func(rows [][]string, train map[string]bool)) {
	t.Helper()
	train := map[string]bool{}
	for _, id := range strings.Fields(string(reeltest.ReadFile(t, filepath.Join(data, "train.txt")))) {
		train[id] = true
	}
	path := filepath.Join(data, "info.csv")
	rows, err := csv.NewReader(bytes.NewReader(reeltest.ReadFile(t, path))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	edit(rows, train)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	reeltest.WriteFile(t, path, buf.Bytes())
}
