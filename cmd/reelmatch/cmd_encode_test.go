package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// goldenRow is one row of a [N, D] tensor of a golden fixture file
// (reeltest.Golden), e.g. "distilbert-tiny/golden.safetensors".
func goldenRow(t *testing.T, file, tensor string, row int) []float32 {
	t.Helper()
	x, err := reeltest.Golden(t, file).Tensor(tensor)
	if err != nil {
		t.Fatal(err)
	}
	d := x.Shape[1]
	return x.F32[row*d : (row+1)*d]
}

func maxRelDiff(got, want []float32) float64 {
	scale, worst := 1e-6, 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	for i := range want {
		worst = max(worst, math.Abs(float64(got[i]-want[i]))/scale)
	}
	return worst
}

func TestEncodeGolden(t *testing.T) {
	isolateCaches(t)
	models := reeltest.Models(t)
	// The first golden intro of the wordpiece batch, and the poster that is
	// row 1 of the resnet golden ("images" metadata order).
	const intro = "A cowboy doll is profoundly threatened and jealous when a new spaceman figure supplants him as top toy in a boy's room."
	poster := reeltest.Fixture(t, "images/poster_rgb.png")
	const (
		distilbert = "distilbert-tiny/golden.safetensors"
		resnet     = "resnet-tiny/golden.safetensors"
		clip       = "clip-tiny/golden.safetensors"
	)
	tests := []struct {
		name    string
		args    []string
		want    []float32
		tol     float64
		backend string
	}{
		{"distilbert cls ort", []string{"--encoder", "resnet50-distilbert", "--text", intro}, goldenRow(t, distilbert, "cls", 0), 1e-4, "ort"},
		{"distilbert cls go", []string{"--encoder", "resnet50-distilbert", "--text", intro}, goldenRow(t, distilbert, "cls", 0), 1e-4, "go"},
		{"resnet seed ort", []string{"--encoder", "resnet50-distilbert", "--image", poster}, goldenRow(t, resnet, "seed_features", 1), 2e-2, "ort"},
		{"resnet torchvision ort", []string{"--encoder", "resnet50-distilbert", "--image-prep", "torchvision", "--image", poster}, goldenRow(t, resnet, "tv_features", 1), 2e-2, "ort"},
		{"clip image go", []string{"--encoder", "clip-vit-b32", "--image", poster}, goldenRow(t, clip, "image_embeds", 0), 1e-4, "go"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--json", "encode", "--models", models, "--backend", tc.backend}, tc.args...)
			stdout, stderr, code := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got encodeJSON
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("%v\n%s", err, stdout)
			}
			if got.Dim != len(tc.want) || len(got.Embedding) != got.Dim || got.Encoder != tc.args[1] {
				t.Fatalf("encoder %q dim %d with %d values, want %q %d", got.Encoder, got.Dim, len(got.Embedding), tc.args[1], len(tc.want))
			}
			if d := maxRelDiff(got.Embedding, tc.want); d > tc.tol {
				t.Errorf("embedding off by %.2g relative (> %.2g):\n got %v\nwant %v", d, tc.tol, got.Embedding, tc.want)
			}
		})
	}
}

func TestEncodePlainOutput(t *testing.T) {
	isolateCaches(t)
	stdout, stderr, code := runCLI(t, "encode", "--encoder", "clip-vit-b32", "--models", reeltest.Models(t), "--backend", "ort", "--text", "a cowboy doll")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Count(stdout, "\n") != 1 {
		t.Errorf("want one line, got %q", stdout)
	}
	fields := strings.Fields(stdout)
	if len(fields) != 8 {
		t.Fatalf("%d numbers, want 8: %q", len(fields), stdout)
	}
	for _, f := range fields {
		if _, err := strconv.ParseFloat(f, 32); err != nil {
			t.Errorf("%q is not a number", f)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	isolateCaches(t)
	empty := t.TempDir()
	models := reeltest.Models(t)
	poster := reeltest.Fixture(t, "images/poster_rgb.png")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"neither", []string{"--encoder", "clip-vit-b32"}, exitUsage, "exactly one of --text or --image"},
		{"both", []string{"--encoder", "clip-vit-b32", "--text", "x", "--image", poster}, exitUsage, "exactly one of --text or --image"},
		{"unknown encoder", []string{"--encoder", "nope", "--text", "x"}, exitUsage, `unknown encoder "nope"`},
		{"builtin without work", []string{"--encoder", "builtin", "--text", "x"}, exitUsage, "pass --work WORK"},
		{"bad text input", []string{"--encoder", "clip-vit-b32", "--text", "x", "--text-input", "lemmas"}, exitUsage, "--text-input"},
		{"models missing", []string{"--encoder", "clip-vit-b32", "--models", empty, "--text", "x"}, exitFailure, "reelmatch models pull clip-vit-b32"},
		{"image missing", []string{"--encoder", "clip-vit-b32", "--models", models, "--image", filepath.Join(empty, "x.png")}, exitFailure, "x.png"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, append([]string{"encode", "--backend", "ort"}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tc.wantCode, stderr)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.wantErr)
			}
		})
	}
}

// TestEncodeMatchesEmbed checks that encode --work gives, for a movie's
// intro, the vector embed stored for it: same text preparation, same
// fitted state.
func TestEncodeMatchesEmbed(t *testing.T) {
	models := reeltest.Models(t)
	tests := []struct {
		encoder string
		extra   []string
	}{
		{"builtin", nil},
		{"clip-vit-b32", []string{"--models", models, "--backend", "ort"}},
		{"resnet50-distilbert", []string{"--models", models, "--backend", "ort", "--text-input", "clean"}},
	}
	for _, tc := range tests {
		t.Run(tc.encoder, func(t *testing.T) {
			isolateCaches(t)
			data := writeDataset(t, threeMovies, []string{"1", "2", "3"}, "1\n3\n")
			work := filepath.Join(t.TempDir(), "work")
			if _, stderr, code := runCLI(t, "prepare", "-q", "--data", data, "--work", work); code != 0 {
				t.Fatalf("prepare: exit %d: %s", code, stderr)
			}
			args := append([]string{"embed", "-q", "--work", work, "--encoder", tc.encoder}, tc.extra...)
			if _, stderr, code := runCLI(t, args...); code != 0 {
				t.Fatalf("embed: exit %d: %s", code, stderr)
			}
			feats, err := embcache.Load(workdir.Dir(work).Features(tc.encoder))
			if err != nil {
				t.Fatal(err)
			}
			_, txt, err := feats.Rows([]reel.MovieID{"2"})
			if err != nil {
				t.Fatal(err)
			}
			// --text-input is not repeated: encode takes it from WORK.
			var extra []string
			for i := 0; i < len(tc.extra); i += 2 {
				if tc.extra[i] != "--text-input" {
					extra = append(extra, tc.extra[i], tc.extra[i+1])
				}
			}
			args = append([]string{"--json", "encode", "--work", work, "--encoder", tc.encoder, "--text", "Two kids play a game."}, extra...)
			stdout, stderr, code := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("encode: exit %d: %s", code, stderr)
			}
			var got encodeJSON
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(got.Embedding, txt[0]); d > 1e-5 {
				t.Errorf("encode differs from embed's row by %.2g:\n got %v\nwant %v", d, got.Embedding, txt[0])
			}
		})
	}
}
