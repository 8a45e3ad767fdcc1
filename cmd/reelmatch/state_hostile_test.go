package main

// Hostile state: run files damaged or edited after training. Every reader
// of a run (eval, search, report) must refuse it with exit 1 and a one-line
// message naming the file and the fix, and change nothing.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/safetensors"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// editJSON rewrites the JSON file at path through edit.
func editJSON(t *testing.T, path string, edit func(v map[string]any)) {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(readFile(t, path), &v); err != nil {
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
	b := readFile(t, path)
	if offset < 0 {
		offset += len(b)
	}
	b[offset] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedRunIsRefused(t *testing.T) {
	src := synthWork(t, synthTestMovies)
	const checksum = "does not match the checksum config.json recorded when it was trained"
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, work workdir.Dir)
		want   []string
	}{
		{"flipped byte in the weights", func(t *testing.T, w workdir.Dir) {
			flipFileByte(t, w.Heads("builtin"), -7)
		}, []string{"heads.safetensors", checksum, "run `reelmatch train` again"}},
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
		}, []string{"heads.safetensors", checksum}},
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
				v["heads_sha256"] = sha256Hex(readFile(t, w.Heads("builtin")))
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := copyWork(t, src)
			tc.damage(t, work)
			before := snapshot(t, string(work))
			for _, args := range [][]string{
				{"eval", "--work", string(work)},
				{"search", "--work", string(work), "--poster", "1"},
				{"report", "--work", string(work), "--out", filepath.Join(t.TempDir(), "r.html")},
			} {
				_, stderr, code := runCLI(t, args...)
				if code != exitFailure {
					t.Errorf("%s: exit %d, want %d; stderr %q", args[0], code, exitFailure, stderr)
				}
				for _, want := range tc.want {
					if !strings.Contains(stderr, want) {
						t.Errorf("%s: stderr %q lacks %q", args[0], stderr, want)
					}
				}
				if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
					t.Errorf("%s: stderr has %d lines: %q", args[0], n+1, stderr)
				}
			}
			if d := summary(before, snapshot(t, string(work))); d != "" {
				t.Errorf("a refused command changed WORK: %s", d)
			}
		})
	}
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
	ids := strings.Fields(string(readFile(t, filepath.Join(data, "train.txt"))))
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
		{"train", "-q", "--work", string(work), "--epochs", "2"},
		{"eval", "-q", "--work", string(work)},
	} {
		if _, stderr, code := runCLI(t, args...); code != exitOK {
			t.Fatalf("%s: exit %d: %s", args[0], code, stderr)
		}
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
