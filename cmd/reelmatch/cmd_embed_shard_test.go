package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

func TestEmbedShardUsageErrors(t *testing.T) {
	t.Setenv("REELMATCH_ENCODER", "")
	work := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"I equals N", []string{"--shard", "4/4"}, "--shard \"4/4\": I must be between 0 and N-1 = 3"},
		{"negative I", []string{"--shard", "-1/4"}, "I must be between 0 and N-1"},
		{"zero N", []string{"--shard", "0/0"}, "N must be between 1 and 100000"},
		{"not I/N", []string{"--shard", "2"}, "want I/N"},
		{"empty variable", []string{"--shard", "/4"}, "want I/N"},
		{"shard and merge", []string{"--shard", "0/2", "--merge"}, "exclude each other"},
		{"merge and fit-only", []string{"--merge", "--fit-only"}, "exclude each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"embed", "--work", work}, tt.args...)
			_, stderr, code := runCLI(t, args...)
			if code != exitUsage || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tt.wantErr)
			}
			if entries, _ := os.ReadDir(work); len(entries) != 0 {
				t.Errorf("a usage error wrote %d entries into WORK", len(entries))
			}
		})
	}
}

// TestEmbedShardMergeCLI runs the documented multi-machine recipe through
// the CLI: fit once, N shards, merge; the cache equals a one-machine embed
// byte for byte, and the JSON documents carry the fields.
func TestEmbedShardMergeCLI(t *testing.T) {
	t.Setenv("REELMATCH_ENCODER", "")
	work := preparedWork(t, 40)
	single := copyWork(t, workdir.Dir(work))
	if _, stderr, code := runCLI(t, "-q", "embed", "--work", string(single), "--encoder", "builtin"); code != exitOK {
		t.Fatalf("one-machine embed: exit %d: %s", code, stderr)
	}

	stdout, stderr, code := runCLI(t, "--json", "embed", "--work", work, "--encoder", "builtin", "--fit-only")
	if code != exitOK {
		t.Fatalf("--fit-only: exit %d: %s", code, stderr)
	}
	var fit map[string]any
	if err := json.Unmarshal([]byte(stdout), &fit); err != nil || fit["fitted"] != true || fit["state"] != workdir.Dir(work).EncoderState("builtin") {
		t.Errorf("--fit-only JSON %s (%v), want fitted true and the state path", stdout, err)
	}
	stdout, _, _ = runCLI(t, "embed", "--work", work, "--encoder", "builtin", "--fit-only")
	if !strings.Contains(stdout, "already matches the training split") {
		t.Errorf("second --fit-only said %q", stdout)
	}

	const n = 3
	total := 0
	for i := range n {
		stdout, stderr, code := runCLI(t, "--json", "embed", "--work", work, "--encoder", "builtin", "--shard", fmt.Sprintf("%d/%d", i, n))
		if code != exitOK {
			t.Fatalf("shard %d: exit %d: %s", i, code, stderr)
		}
		var got struct {
			Shard, Features  string
			Movies, Computed int
			Fitted           bool
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatal(err)
		}
		if got.Shard != fmt.Sprintf("%d/%d", i, n) || got.Features != workdir.Dir(work).FeatureShard("builtin", i, n) || got.Computed != got.Movies || got.Fitted {
			t.Errorf("shard %d JSON: %+v", i, got)
		}
		total += got.Movies
	}
	if total != 40 {
		t.Errorf("shards hold %d movies, want 40", total)
	}
	stdout, stderr, code = runCLI(t, "embed", "--work", work, "--encoder", "builtin", "--shard", "1/3")
	if code != exitOK || !strings.Contains(stdout, "builtin shard 1/3: nothing changed") {
		t.Errorf("shard rerun: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	stdout, stderr, code = runCLI(t, "--json", "embed", "--work", work, "--encoder", "builtin", "--merge")
	if code != exitOK {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	var merged map[string]any
	if err := json.Unmarshal([]byte(stdout), &merged); err != nil || merged["shards"] != 3.0 || merged["movies"] != 40.0 || merged["reused"] != 40.0 {
		t.Errorf("merge JSON %s (%v), want shards 3, movies 40, reused 40", stdout, err)
	}
	want, _ := os.ReadFile(single.Features("builtin"))
	got, _ := os.ReadFile(workdir.Dir(work).Features("builtin"))
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Errorf("merged cache (%d bytes) differs from the one-machine cache (%d bytes)", len(got), len(want))
	}
	// The merged WORK trains and evaluates like any other.
	if _, stderr, code := runCLI(t, "-q", "train", "--work", work, "--encoder", "builtin", "--epochs", "1"); code != exitOK {
		t.Errorf("train on the merged cache: exit %d: %s", code, stderr)
	}
}

func TestEmbedMergeMissingShard(t *testing.T) {
	t.Setenv("REELMATCH_ENCODER", "")
	work := preparedWork(t, 12)
	for _, i := range []int{0, 2} {
		if _, stderr, code := runCLI(t, "-q", "embed", "--work", work, "--encoder", "builtin", "--shard", fmt.Sprintf("%d/3", i)); code != exitOK {
			t.Fatalf("shard %d: exit %d: %s", i, code, stderr)
		}
	}
	_, stderr, code := runCLI(t, "embed", "--work", work, "--encoder", "builtin", "--merge")
	want := "missing shard 1/3 of encoder builtin (" + filepath.Join(work, "features", "builtin.shard-1-of-3.safetensors") + "): run `reelmatch embed --encoder builtin --shard 1/3`"
	if code != exitFailure || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want exit 1 and one line containing %q", code, stderr, want)
	}
}

// TestDemoDataOnly: demo --data-only writes the catalogue the scale test
// embeds when the real set is absent, and runs nothing else.
func TestDemoDataOnly(t *testing.T) {
	work := t.TempDir()
	stdout, stderr, code := runCLI(t, "--json", "demo", "--data-only", "--movies", "12", "--work", work)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got["movies"] != 12.0 || got["data"] != filepath.Join(work, "demo-data") {
		t.Errorf("JSON %s (%v), want movies 12 and data WORK/demo-data", stdout, err)
	}
	for _, f := range []string{"info.csv", "train.txt", "poster"} {
		if _, err := os.Stat(filepath.Join(work, "demo-data", f)); err != nil {
			t.Errorf("demo-data/%s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "manifest.json")); !os.IsNotExist(err) {
		t.Errorf("--data-only went on to prepare (stat manifest: %v)", err)
	}
}

// TestEmbedShardMergePretrained: with ONNX Runtime (the tiny fixture
// encoders), shards embedded with another batch size than the one-machine
// run still merge into the same bytes.
func TestEmbedShardMergePretrained(t *testing.T) {
	t.Setenv("REELMATCH_ENCODER", "")
	models := reeltest.Models(t)
	work := preparedWork(t, 30)
	single := copyWork(t, workdir.Dir(work))
	args := []string{"-q", "embed", "--encoder", "resnet50-distilbert", "--models", models, "--backend", "ort"}
	if _, stderr, code := runCLI(t, append(args, "--work", string(single))...); code != exitOK {
		t.Fatalf("one-machine embed: exit %d: %s", code, stderr)
	}
	for i := range 3 {
		if _, stderr, code := runCLI(t, append(args, "--work", work, "--batch", "7", "--shard", fmt.Sprintf("%d/3", i))...); code != exitOK {
			t.Fatalf("shard %d: exit %d: %s", i, code, stderr)
		}
	}
	if _, stderr, code := runCLI(t, append(args, "--work", work, "--merge")...); code != exitOK {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	want, _ := os.ReadFile(single.Features("resnet50-distilbert"))
	got, _ := os.ReadFile(workdir.Dir(work).Features("resnet50-distilbert"))
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Errorf("merged ONNX Runtime cache (%d bytes) differs from the one-machine cache (%d bytes)", len(got), len(want))
	}
}
