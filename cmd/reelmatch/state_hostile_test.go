package main

// Hostile state: run files damaged or edited after training, hostile
// training settings, an interrupted train. Every reader of a run (eval,
// search, report) must refuse a damaged one with exit 1 and a one-line
// message naming the file and the fix, and change nothing. The cases run
// through the hostile harness (hostile_test.go).

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/safetensors"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// editJSON rewrites the JSON file at path through edit.
func editJSON(t *testing.T, path string, edit func(v map[string]any)) {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(reeltest.ReadFile(t, path), &v); err != nil {
		t.Fatal(err)
	}
	edit(v)
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// flipFileByte inverts one byte of the file; a negative offset counts from
// the end.
func flipFileByte(t *testing.T, path string, offset int) {
	t.Helper()
	b := reeltest.ReadFile(t, path)
	if offset < 0 {
		offset += len(b)
	}
	b[offset] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// damagedRun is one way a trained run can be damaged after training.
type damagedRun struct {
	name   string
	damage func(t *testing.T, w workdir.Dir)
	want   []string
}

var damagedRuns = []damagedRun{
	{"flipped byte in the weights", func(t *testing.T, w workdir.Dir) {
		flipFileByte(t, w.Heads("builtin"), -7)
	}, []string{"heads.safetensors", "does not match the checksum config.json recorded when it was trained", "run `reelmatch train` again"}},
	{"swapped weight rows", func(t *testing.T, w workdir.Dir) {
		f, err := safetensors.ReadFile(w.Heads("builtin"))
		if err != nil {
			t.Fatal(err)
		}
		wt := f.Tensors["txt.net.0.weight"]
		in := wt.Shape[1]
		for j := range in {
			wt.F32[j], wt.F32[in+j] = wt.F32[in+j], wt.F32[j]
		}
		if err := safetensors.WriteFile(w.Heads("builtin"), f.Tensors, f.Metadata); err != nil {
			t.Fatal(err)
		}
	}, []string{"heads.safetensors", "does not match the checksum"}},
	{"checksum removed", func(t *testing.T, w workdir.Dir) {
		editJSON(t, w.RunConfig("builtin"), func(v map[string]any) { delete(v, "heads_sha256") })
	}, []string{"records no checksum of heads.safetensors", "run `reelmatch train` again"}},
	{"NaN weights with a matching checksum", func(t *testing.T, w workdir.Dir) {
		f, err := safetensors.ReadFile(w.Heads("builtin"))
		if err != nil {
			t.Fatal(err)
		}
		f.Tensors["img.net.0.bias"].F32[2] = float32(math.NaN())
		if err := safetensors.WriteFile(w.Heads("builtin"), f.Tensors, f.Metadata); err != nil {
			t.Fatal(err)
		}
		editJSON(t, w.RunConfig("builtin"), func(v map[string]any) {
			v["heads_sha256"] = reeltest.SHA256(reeltest.ReadFile(t, w.Heads("builtin")))
		})
	}, []string{`tensor "img.net.0.bias" value 2 is NaN`, "run `reelmatch train` again"}},
	{"settings out of range", func(t *testing.T, w workdir.Dir) {
		editJSON(t, w.RunConfig("builtin"), func(v map[string]any) {
			v["config"].(map[string]any)["embed_dim"] = 100_000_000
		})
	}, []string{"config.json", "embed-dim must be in [1, 4096], got 100000000"}},
	{"training movie moved to test in the manifest", func(t *testing.T, w workdir.Dir) {
		editJSON(t, w.Manifest(), func(v map[string]any) {
			for _, m := range v["movies"].([]any) {
				if mv := m.(map[string]any); mv["split"] == string(reel.SplitTrain) {
					mv["split"] = string(reel.SplitTest)
					return
				}
			}
		})
	}, []string{"run builtin was trained on another training split than", "rerun `reelmatch train --work"}},
	{"training intro edited in the manifest", func(t *testing.T, w workdir.Dir) {
		editJSON(t, w.Manifest(), func(v map[string]any) {
			v["movies"].([]any)[0].(map[string]any)["intro_sha256"] = strings.Repeat("0", 64)
		})
	}, []string{"trained on another training split"}},
}

// TestHostileDamagedRun damages a trained run after training in each way
// above: eval refuses it with exit 1, one line naming the file and the
// fix, and writes nothing; search and report refuse the first and the
// split edit the same way (they all load runs through evalrun.Load).
func TestHostileDamagedRun(t *testing.T) {
	var cases []hostileCase
	for i, d := range damagedRuns {
		cmds := [][]string{{"eval", "--work", "$DIR/work"}}
		if i == 0 || strings.Contains(d.name, "manifest") {
			cmds = append(cmds,
				[]string{"search", "--work", "$DIR/work", "--poster", "1"},
				[]string{"report", "--work", "$DIR/work", "--out", "$DIR/report.html"})
		}
		for _, args := range cmds {
			cases = append(cases, hostileCase{
				Name: args[0] + " of a run with " + d.name,
				Setup: func(t *testing.T, dir string) {
					hostileWork(t, dir)
					d.damage(t, workdir.Dir(filepath.Join(dir, "work")))
				},
				Args:   args,
				Exit:   exitFailure,
				Stderr: d.want,
				Check: func(t *testing.T, _ string, r hostileResult) {
					if n := strings.Count(strings.TrimSpace(r.Stderr), "\n"); n != 0 {
						t.Errorf("stderr has %d lines: %q", n+1, r.Stderr)
					}
				},
			})
		}
	}
	runHostileCases(t, cases)
}

// TestHostileTrainSettings gives train and its neighbours hostile numbers
// through the harness (memory-limited subprocess): each is refused with
// exit 2 naming the flag and the range, within seconds, with nothing
// written; --hidden sizes that each fit but together would need gigabytes
// are refused once the feature sizes are known, before training.
func TestHostileTrainSettings(t *testing.T) {
	train := func(extra ...string) []string {
		return append([]string{"train", "--work", "$DIR/work", "--encoder", "builtin", "--heads", "mlp"}, extra...)
	}
	cases := []hostileCase{
		{Name: "train --hidden 100000000", Setup: hostileWork, Args: train("--hidden", "100000000"), Exit: exitUsage,
			Stderr: []string{`"--hidden" flag`, "each value must be in [1, 8192], got 100000000"}},
		{Name: "train --hidden fits per layer, not together", Setup: hostileWork, Args: train("--hidden", "8192,8192,8192"), Exit: exitUsage,
			Stderr: []string{"GiB to train, over the 2 GiB limit: lower hidden, embed-dim or average-epochs"}},
		{Name: "train --temperature nan", Setup: hostileWork, Args: train("--temperature", "nan"), Exit: exitUsage,
			Stderr: []string{`"--temperature" flag: must be a finite number in [0.001, 10], got NaN`}},
		{Name: "train --lr-gamma nan", Setup: hostileWork, Args: train("--lr-gamma", "nan"), Exit: exitUsage,
			Stderr: []string{`"--lr-gamma" flag: must be a finite number in (0, 1], got NaN`}},
		{Name: "train --lr -inf", Setup: hostileWork, Args: train("--lr=-inf"), Exit: exitUsage,
			Stderr: []string{`"--lr" flag: must be a finite number in (0, 1], got -Inf`}},
		{Name: "train --epochs 1e9", Setup: hostileWork, Args: train("--epochs", "1000000000"), Exit: exitUsage,
			Stderr: []string{`"--epochs" flag: must be in [1, 10000], got 1000000000`}},
		{Name: "train --batch 0", Setup: hostileWork, Args: train("--batch", "0"), Exit: exitUsage,
			Stderr: []string{`"--batch" flag: must be in [2, 4096], got 0`}},
		{Name: "run --dropout 1", Args: []string{"run", "--data", "$DIR/data", "--work", "$DIR/work", "--dropout", "1"}, Exit: exitUsage,
			Stderr: []string{`"--dropout" flag: must be in [0, 1), got 1`}},
		{Name: "demo --movies 1e12", Args: []string{"demo", "--work", "$DIR/demo", "--movies", "1000000000000"}, Exit: exitUsage,
			Stderr: []string{`"--movies" flag: must be in [10, 100000]`}},
		{Name: "embed --batch -1", Setup: hostileWork, Args: []string{"embed", "--work", "$DIR/work", "--batch=-1"}, Exit: exitUsage,
			Stderr: []string{`"--batch" flag: must be in [1, 256], got -1`}},
		{Name: "search -k 1e9", Setup: hostileWork, Args: []string{"search", "--work", "$DIR/work", "--poster", "1", "-k", "1000000000"}, Exit: exitUsage,
			Stderr: []string{`must be in [1, 10000], got 1000000000`}},
		{Name: "REELMATCH_QUIET=maybe", Setup: hostileWork, Args: train(), Env: []string{"REELMATCH_QUIET=maybe"}, Exit: exitUsage,
			Stderr: []string{`environment variable REELMATCH_QUIET="maybe" is not a valid --quiet`}},
	}
	for i := range cases {
		cases[i].Timeout = 10 * time.Second
	}
	runHostileCases(t, cases)
}

// TestHostileTrainDiverges feeds train features so large (finite, and
// sealed as embed would) that the loss overflows: train says it diverged,
// exit 1, and the previous run and everything else stay as they were.
func TestHostileTrainDiverges(t *testing.T) {
	runHostileCases(t, []hostileCase{{
		Name: "train on features that overflow",
		Setup: func(t *testing.T, dir string) {
			hostileWork(t, dir)
			path := workdir.Dir(filepath.Join(dir, "work")).Features("builtin")
			f, err := safetensors.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range [][]float32{f.Tensors["image"].F32, f.Tensors["text"].F32} {
				for i := range v {
					v[i] = 3e38 * float32(1-2*(i%2))
				}
			}
			if err := safetensors.WriteFile(path, f.Tensors, safetensors.Seal(f.Tensors, f.Metadata)); err != nil {
				t.Fatal(err)
			}
		},
		Args:   []string{"train", "--work", "$DIR/work", "--encoder", "builtin", "--heads", "mlp", "--standardize=false", "--epochs", "3"},
		Exit:   exitFailure,
		Stderr: []string{"training diverged"},
	}})
}

// TestHostileRunInterrupted stops `run` with Ctrl-C in its train stage:
// exit 130 and the previous run byte for byte (prepare and embed, which
// ran to the end, may have refreshed the manifest and the cache).
func TestHostileRunInterrupted(t *testing.T) {
	runHostileCases(t, []hostileCase{{
		Name: "run interrupted by Ctrl-C while training",
		Setup: func(t *testing.T, dir string) {
			hostileWork(t, dir)
			var m struct {
				DataDir string `json:"data_dir"`
			}
			if err := json.Unmarshal(reeltest.ReadFile(t, filepath.Join(dir, "work", "manifest.json")), &m); err != nil {
				t.Fatal(err)
			}
			if err := os.CopyFS(filepath.Join(dir, "data"), os.DirFS(m.DataDir)); err != nil {
				t.Fatal(err)
			}
		},
		Args:          []string{"run", "--data", "$DIR/data", "--work", "$DIR/work", "--encoder", "builtin", "--heads", "mlp", "--epochs", "10000"},
		InterruptWhen: "epoch   1",
		Exit:          exitInterrupted,
		Stderr:        []string{"interrupted"},
		Unchanged:     []string{"work/runs"},
		Timeout:       60 * time.Second,
	}})
}

// TestHostileTrainInterrupted stops train with Ctrl-C mid-training: exit
// 130, and the WORK folder, previous run included, is exactly as it was
// (no half run, no temporary folder).
func TestHostileTrainInterrupted(t *testing.T) {
	runHostileCases(t, []hostileCase{{
		Name:          "train interrupted by Ctrl-C",
		Setup:         hostileWork,
		Args:          []string{"train", "--work", "$DIR/work", "--encoder", "builtin", "--heads", "mlp", "--epochs", "10000"},
		InterruptWhen: "epoch   1",
		Exit:          exitInterrupted,
		Stderr:        []string{"interrupted"},
	}})
}

// TestEditedTrainTxtIsRefused edits train.txt after training and reruns
// prepare: eval must refuse the run (its test split would now hold
// movies it was trained on) until train runs again.
func TestEditedTrainTxtIsRefused(t *testing.T) {
	src := synthWork(t, synthTestMovies)
	work := copyWork(t, src)
	data := filepath.Join(t.TempDir(), "data")
	if err := os.CopyFS(data, os.DirFS(filepath.Join(filepath.Dir(string(src)), "data"))); err != nil {
		t.Fatal(err)
	}
	ids := strings.Fields(string(reeltest.ReadFile(t, filepath.Join(data, "train.txt"))))
	if err := os.WriteFile(filepath.Join(data, "train.txt"), []byte(strings.Join(ids[1:], "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runCLI(t, "prepare", "-q", "--data", data, "--work", string(work)); code != exitOK {
		t.Fatalf("prepare: exit %d: %s", code, stderr)
	}
	_, stderr, code := runCLI(t, "eval", "--work", string(work))
	if code != exitFailure || !strings.Contains(stderr, "trained on another training split") {
		t.Fatalf("eval after the split changed: exit %d, stderr %q", code, stderr)
	}
	for _, args := range [][]string{
		{"embed", "-q", "--work", string(work)},
		{"train", "-q", "--work", string(work), "--heads", "mlp", "--epochs", "2"},
		{"eval", "-q", "--work", string(work)},
	} {
		if _, stderr, code := runCLI(t, args...); code != exitOK {
			t.Fatalf("%s: exit %d: %s", args[0], code, stderr)
		}
	}
}
