package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/encoder/pretrained"
	"github.com/reelmatch/reelmatch/internal/hub/hubtest"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// isolateCaches keeps the pretrained encoders' file-digest cache (under
// $XDG_CACHE_HOME) and the default models cache out of the user's home.
func isolateCaches(t *testing.T) {
	t.Helper()
	d := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", d)
	t.Setenv("REELMATCH_MODELS", "")
	t.Setenv("HF_HOME", "")
}

// serveCLIP puts the tiny CLIP preset files on a fake hub under the
// preset's repository, as the real hub lays them out (ONNX files via LFS).
func serveCLIP(t *testing.T) *hubtest.Hub {
	t.Helper()
	isolateCaches(t)
	h := hubtest.New(t)
	models := reeltest.Models(t)
	p, _ := pretrained.LookupPreset(pretrained.PresetCLIP)
	for _, f := range p.Files {
		b, err := os.ReadFile(filepath.Join(models, p.Name, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		h.Add(p.Repo, p.Revision, f.Path, b, strings.HasSuffix(f.Path, ".onnx"))
	}
	return h
}

type listJSON struct {
	Dir     string
	Presets []struct {
		Name     string
		Encoders []string
		Complete bool
		Files    []struct {
			Path    string
			Present bool
		}
	}
}

func modelsList(t *testing.T, dir string) listJSON {
	t.Helper()
	stdout, stderr, code := runCLI(t, "--json", "models", "list", "--dir", dir)
	if code != 0 {
		t.Fatalf("models list: exit %d: %s", code, stderr)
	}
	var got listJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("models list --json: %v\n%s", err, stdout)
	}
	return got
}

func TestModelsPullThenEncode(t *testing.T) {
	h := serveCLIP(t)
	h.Token = "hf_test"
	t.Setenv("HF_ENDPOINT", h.URL)
	t.Setenv("HF_TOKEN", "hf_test")
	dir := t.TempDir()

	before := modelsList(t, dir)
	complete := map[string]bool{}
	for _, p := range before.Presets {
		complete[p.Name] = p.Complete
	}
	if diff := cmp.Diff(map[string]bool{"resnet50": false, "distilbert": false, "clip-vit-b32": false}, complete); diff != "" {
		t.Errorf("complete before pull (-want +got):\n%s", diff)
	}

	stdout, stderr, code := runCLI(t, "--json", "models", "pull", "clip-vit-b32", "--dir", dir)
	if code != 0 {
		t.Fatalf("models pull: exit %d: %s", code, stderr)
	}
	var pulled struct {
		Files []struct{ Path, Status, SHA256 string }
	}
	if err := json.Unmarshal([]byte(stdout), &pulled); err != nil {
		t.Fatal(err)
	}
	if len(pulled.Files) != 6 {
		t.Fatalf("pulled %d files, want 6: %s", len(pulled.Files), stdout)
	}
	for _, f := range pulled.Files {
		if f.Status != "downloaded" || len(f.SHA256) != 64 {
			t.Errorf("%s: status %q sha256 %q", f.Path, f.Status, f.SHA256)
		}
	}
	after := modelsList(t, dir)
	for _, p := range after.Presets {
		if want := p.Name == "clip-vit-b32"; p.Complete != want {
			t.Errorf("%s complete = %v after pull, want %v", p.Name, p.Complete, want)
		}
	}
	// A second pull finds everything present.
	stdout, _, code = runCLI(t, "models", "pull", "clip-vit-b32", "--dir", dir)
	if code != 0 || strings.Count(stdout, "present") != 6 {
		t.Errorf("second pull: exit %d\n%s", code, stdout)
	}

	// The downloaded folder encodes exactly as the fixture folder does.
	enc := func(models string) string {
		out, stderr, code := runCLI(t, "encode", "--encoder", "clip-vit-b32", "--backend", "ort", "--models", models, "--text", "a cowboy doll")
		if code != 0 {
			t.Fatalf("encode: exit %d: %s", code, stderr)
		}
		return out
	}
	if got, want := enc(dir), enc(reeltest.Models(t)); got != want {
		t.Errorf("encoding with pulled models %q, with fixtures %q", got, want)
	}
}

func TestModelsPullErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		token    string
		wantCode int
		wantErr  string
	}{
		{"unknown preset", []string{"models", "pull", "gpt-5"}, "hf_test", exitUsage, "unknown model preset"},
		{"no name", []string{"models", "pull"}, "hf_test", exitUsage, "one preset or encoder name"},
		{"no token", []string{"models", "pull", "clip-vit-b32"}, "", exitFailure, "set HF_TOKEN"},
		{"not on the hub", []string{"models", "pull", "resnet50"}, "hf_test", exitFailure, "OWG/resnet-50@main/onnx/model.onnx: not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := serveCLIP(t)
			h.Token = "hf_test"
			t.Setenv("HF_ENDPOINT", h.URL)
			t.Setenv("HF_TOKEN", tc.token)
			dir := t.TempDir()
			_, stderr, code := runCLI(t, append(tc.args, "--dir", dir)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tc.wantCode, stderr)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.wantErr)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
		})
	}
}

func TestModelsListTable(t *testing.T) {
	isolateCaches(t)
	stdout, _, code := runCLI(t, "models", "list", "--dir", reeltest.Models(t))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Xenova/clip-vit-base-patch32@main", "onnx/vision_model.onnx", "OWG/resnet-50", "resnet50-distilbert"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, " no\n") {
		t.Errorf("fixture folder shows missing files:\n%s", stdout)
	}
}
