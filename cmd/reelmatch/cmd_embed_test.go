package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/synth"
)

// preparedWork writes a synthetic dataset of n movies and prepares it.
func preparedWork(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	data, work := filepath.Join(dir, "data"), filepath.Join(dir, "work")
	if err := synth.Write(data, n, 3); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runCLI(t, "-q", "prepare", "--data", data, "--work", work); code != exitOK {
		t.Fatalf("prepare: exit %d: %s", code, stderr)
	}
	return work
}

func TestEmbedJSON(t *testing.T) {
	t.Setenv("REELMATCH_ENCODER", "")
	work := preparedWork(t, 40)
	stdout, stderr, code := runCLI(t, "--json", "embed", "--work", work, "--encoder", "builtin", "--batch", "8")
	if code != exitOK {
		t.Fatalf("embed: exit %d: %s", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout)
	}
	for key, want := range map[string]any{"encoder": "builtin", "movies": 40.0, "computed": 40.0, "reused": 0.0, "text_input": "clean", "changed": true} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	for _, key := range []string{"seconds", "images_per_second", "texts_per_second"} {
		if v, ok := got[key].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", key, got[key])
		}
	}

	// An unchanged rerun says so, and computes nothing.
	stdout, stderr, code = runCLI(t, "embed", "--work", work)
	if code != exitOK || !strings.Contains(stdout, "nothing changed") {
		t.Errorf("rerun: exit %d, stdout %q, stderr %q; want exit 0 and \"nothing changed\"", code, stdout, stderr)
	}
	stdout, _, _ = runCLI(t, "--json", "embed", "--work", work)
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got["computed"] != 0.0 || got["reused"] != 40.0 || got["changed"] != false {
		t.Errorf("rerun JSON computed %v reused %v changed %v, want 0, 40, false", got["computed"], got["reused"], got["changed"])
	}
}

func TestEmbedErrors(t *testing.T) {
	t.Setenv("REELMATCH_ENCODER", "")
	empty := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no manifest", []string{"embed", "--work", empty}, exitFailure, "run `reelmatch prepare` first"},
		{"bad text input", []string{"embed", "--work", empty, "--text-input", "lemmas"}, exitUsage, "--text-input"},
		{"bad batch", []string{"embed", "--work", empty, "--batch", "0"}, exitUsage, "--batch"},
		{"unknown encoder", []string{"embed", "--work", preparedWork(t, 5), "--encoder", "nope"}, exitUsage, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.wantCode, tt.wantErr)
			}
		})
	}
}

func TestEncoderFlagsFromEnvironment(t *testing.T) {
	t.Setenv("REELMATCH_ENCODER", "from-env")
	t.Setenv("REELMATCH_MODELS", "/models")
	t.Setenv("REELMATCH_BACKEND", "go")
	var opts encoderOptions
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	opts.AddFlags(fs)
	// A flag beats the environment.
	if err := fs.Parse([]string{"--backend", "ort", "--text-input", "raw"}); err != nil {
		t.Fatal(err)
	}
	if opts.Encoder != "from-env" {
		t.Errorf("encoder %q, want from-env", opts.Encoder)
	}
	want := encoder.Config{ModelsDir: "/models", Backend: "ort", TextInput: "raw"}
	if diff := cmp.Diff(want, opts.config()); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}
