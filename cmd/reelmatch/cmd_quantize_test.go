package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/encoder/pretrained"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// calibrationFolder copies the fixture posters (PNG and JPEG) into a fresh
// folder, adds one file named like an image that does not decode and one
// that is not an image, and returns the folder and the number of posters.
func calibrationFolder(t *testing.T) (dir string, posters int) {
	t.Helper()
	dir = t.TempDir()
	src := reeltest.Fixture(t, "images")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".png", ".jpg":
			reeltest.WriteFile(t, filepath.Join(dir, e.Name()), reeltest.ReadFile(t, filepath.Join(src, e.Name())))
			posters++
		}
	}
	if posters < 4 {
		t.Fatalf("fixture images: %d posters, want at least 4", posters)
	}
	reeltest.WriteFile(t, filepath.Join(dir, "broken.png"), []byte("not an image"))
	reeltest.WriteFile(t, filepath.Join(dir, "README.txt"), []byte("posters for calibration"))
	return dir, posters
}

// quotedNames are the "names" in s, in order of first appearance.
func quotedNames(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`"([a-z0-9_]+)"`).FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// jsonKeys adds the keys of every object in v, at any depth, to keys.
func jsonKeys(v any, keys map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			keys[k] = true
			jsonKeys(e, keys)
		}
	case []any:
		for _, e := range x {
			jsonKeys(e, keys)
		}
	}
}

func encodeJSONOf(t *testing.T, args ...string) encodeJSON {
	t.Helper()
	stdout, stderr, code := runCLI(t, append([]string{"--json", "encode", "--backend", "ort"}, args...)...)
	if code != exitOK {
		t.Fatalf("encode %q: exit %d: %s", args, code, stderr)
	}
	var got encodeJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("encode --json: %v\n%s", err, stdout)
	}
	return got
}

func TestModelsQuantizeThenEncode(t *testing.T) {
	isolateCaches(t)
	models := reeltest.Models(t)
	calib, posters := calibrationFolder(t)
	out := filepath.Join(t.TempDir(), "int8")

	stdout, stderr, code := runCLI(t, "--json", "models", "quantize", "resnet50-distilbert",
		"--dir", models, "--out", out, "--calibration", calib, "--backend", "ort")
	if code != exitOK {
		t.Fatalf("models quantize: exit %d: %s", code, stderr)
	}
	broken := filepath.Join(calib, "broken.png")
	if !strings.Contains(stderr, "calibration image "+broken+" does not decode") {
		t.Errorf("stderr does not warn about the broken image:\n%s", stderr)
	}

	// stdout is quantization.json, and its field names are exactly the
	// ones the help lists.
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("models quantize --json: %v\n%s", err, stdout)
	}
	var onDisk map[string]any
	if err := json.Unmarshal(reeltest.ReadFile(t, filepath.Join(out, pretrained.QuantizeManifestFile)), &onDisk); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(onDisk, got); diff != "" {
		t.Errorf("stdout differs from %s (-file +stdout):\n%s", pretrained.QuantizeManifestFile, diff)
	}
	help, _, code := runCLI(t, "models", "quantize", "--help")
	_, schema, ok := strings.Cut(help, "With --json")
	if code != exitOK || !ok {
		t.Fatalf("help: exit %d, no --json paragraph:\n%s", code, help)
	}
	schema, _, _ = strings.Cut(schema, "Exit codes")
	wantKeys := quotedNames(schema)
	keys := map[string]bool{}
	jsonKeys(got, keys)
	var gotKeys []string
	for k := range keys {
		gotKeys = append(gotKeys, k)
	}
	slices.Sort(gotKeys)
	slices.Sort(wantKeys)
	if diff := cmp.Diff(wantKeys, gotKeys); diff != "" {
		t.Errorf("JSON field names (-help +stdout):\n%s", diff)
	}
	var m pretrained.QuantizeManifest
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatal(err)
	}
	if m.Encoder != "resnet50-distilbert" || m.Precision != "int8" || m.Source != models || m.ImagePrep != "seed" {
		t.Errorf("manifest encoder %q precision %q source %q image_prep %q", m.Encoder, m.Precision, m.Source, m.ImagePrep)
	}
	if m.CalibrationImages != posters || !slices.Equal(m.SkippedImages, []string{broken}) {
		t.Errorf("calibration_images %d skipped %q, want %d and [%s]", m.CalibrationImages, m.SkippedImages, posters, broken)
	}
	if len(m.Files) != 2 || m.Files[0].Report.Convs == 0 || m.Files[1].Report.MatMuls == 0 {
		t.Errorf("files %+v, want a static resnet and a dynamic distilbert", m.Files)
	}

	// models list recognises the folder as an int8 copy.
	listOut, listErr, code := runCLI(t, "--json", "models", "list", "--dir", out)
	var list struct {
		Quantization *struct{ Encoder, Precision string } `json:"quantization"`
	}
	if code != 0 || json.Unmarshal([]byte(listOut), &list) != nil || list.Quantization == nil ||
		list.Quantization.Encoder != "resnet50-distilbert" || list.Quantization.Precision != "int8" {
		t.Errorf("models list --json of the int8 folder: exit %d, quantization %+v, stderr %q", code, list.Quantization, listErr)
	}

	// encode builds the encoder from the int8 folder; its vectors have
	// the fixtures' dims and stay close to the float ones.
	poster := reeltest.Fixture(t, "images/poster_rgb.png")
	const intro = "A cowboy doll is profoundly threatened and jealous when a new spaceman figure supplants him as top toy in a boy's room."
	for _, tc := range []struct {
		name  string
		input []string
		dim   int
	}{
		{"image", []string{"--image", poster}, 256},
		{"text", []string{"--text", intro}, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := encodeJSONOf(t, append([]string{"--encoder", "resnet50-distilbert", "--models", out}, tc.input...)...)
			if q.Encoder != "resnet50-distilbert" || q.Dim != tc.dim || len(q.Embedding) != tc.dim {
				t.Fatalf("encoder %q dim %d with %d values, want resnet50-distilbert %d", q.Encoder, q.Dim, len(q.Embedding), tc.dim)
			}
			f := encodeJSONOf(t, append([]string{"--encoder", "resnet50-distilbert", "--models", models}, tc.input...)...)
			c := reeltest.Cosine(q.Embedding, f.Embedding)
			t.Logf("int8 vs float32 cosine %.6f", c)
			if !(c >= 0.98) {
				t.Errorf("int8 vector cosine %.6f to the float one, want >= 0.98", c)
			}
		})
	}
}

func TestModelsQuantizeTable(t *testing.T) {
	isolateCaches(t)
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, "models", "quantize", "clip-vit-b32", "--dir", reeltest.Models(t), "--out", out, "--backend", "ort", "-q")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("-q still printed to stderr: %q", stderr)
	}
	for _, want := range []string{"clip-vit-b32/onnx/vision_model.onnx", "clip-vit-b32/onnx/text_model.onnx", "MatMul (dynamic)", "Use it with --models " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "Calibrated") {
		t.Errorf("CLIP output mentions calibration:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(out, pretrained.QuantizeManifestFile)); err != nil {
		t.Error(err)
	}
}

func TestModelsQuantizeErrors(t *testing.T) {
	isolateCaches(t)
	models := reeltest.Models(t)
	calib, _ := calibrationFolder(t)
	noImages := t.TempDir()
	reeltest.WriteFile(t, filepath.Join(noImages, "notes.txt"), []byte("no posters here"))
	missing := filepath.Join(t.TempDir(), "missing")
	// A link to the models folder is the source too: quantizing into it
	// would replace the float models.
	linked := filepath.Join(t.TempDir(), "linked")
	if err := os.Symlink(models, linked); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string // after "models quantize"; --dir MODELS is added
		wantCode int
		wantErr  string
	}{
		{"no encoder", []string{"--out", "OUT"}, exitUsage, "takes one encoder name"},
		{"missing out", []string{"clip-vit-b32"}, exitUsage, "--out DIR is required"},
		{"missing calibration", []string{"resnet50-distilbert", "--out", "OUT"}, exitUsage, "--calibration DIR is required"},
		{"unknown encoder", []string{"gpt", "--out", "OUT"}, exitUsage, `unknown encoder "gpt"`},
		{"preset is not an encoder", []string{"distilbert", "--out", "OUT"}, exitUsage, `unknown encoder "distilbert"`},
		{"zero calibration images", []string{"resnet50-distilbert", "--out", "OUT", "--calibration", calib, "--calibration-images", "0"}, exitUsage, `"--calibration-images" flag: must be in [1, 4096], got 0`},
		{"calibration without images", []string{"resnet50-distilbert", "--out", "OUT", "--calibration", noImages}, exitFailure, "--calibration " + noImages + ": no .jpg, .png or .webp images"},
		{"calibration missing", []string{"resnet50-distilbert", "--out", "OUT", "--calibration", missing}, exitFailure, missing},
		{"out is the models folder", []string{"clip-vit-b32", "--out", models}, exitFailure, "is the source models folder"},
		{"out links to the models folder", []string{"clip-vit-b32", "--out", linked}, exitFailure, "is the source models folder"},
		{"bad image prep", []string{"resnet50-distilbert", "--out", "OUT", "--calibration", calib, "--image-prep", "clip"}, exitUsage, `--image-prep must be "seed" or "torchvision", got "clip"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := []string{"models", "quantize", "--dir", models}
			for _, a := range tc.args {
				if a == "OUT" {
					a = out
				}
				args = append(args, a)
			}
			stdout, stderr, code := runCLI(t, args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tc.wantCode, stderr)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.wantErr)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q on error", stdout)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a failed quantize made %s", out)
			}
		})
	}
	// Under --json the error is one JSON object on stderr.
	_, stderr, code := runCLI(t, "--json", "models", "quantize", "clip-vit-b32", "--dir", models)
	var e struct{ Error string }
	if code != exitUsage || json.Unmarshal([]byte(stderr), &e) != nil || !strings.Contains(e.Error, "--out") {
		t.Errorf("--json usage error: exit %d, stderr %q", code, stderr)
	}
}

func TestCalibrationImages(t *testing.T) {
	img := reeltest.ReadFixture(t, "images/poster_rgb.png")
	// files writes names (a trailing "/" makes a folder) under a fresh
	// folder and returns it.
	files := func(t *testing.T, names ...string) string {
		t.Helper()
		dir := t.TempDir()
		for _, n := range names {
			if strings.HasSuffix(n, "/") {
				if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
					t.Fatal(err)
				}
				continue
			}
			reeltest.WriteFile(t, filepath.Join(dir, filepath.FromSlash(n)), img)
		}
		return dir
	}
	ten := []string{"07.jpg", "03.png", "09.webp", "00.jpg", "05.jpeg", "01.png", "08.jpg", "02.jpg", "06.PNG", "04.JPG"}
	tests := []struct {
		name  string
		files []string
		n     int
		// want are paths under the folder, sorted.
		want []string
	}{
		{"all when fewer than n", ten, 32, []string{"00.jpg", "01.png", "02.jpg", "03.png", "04.JPG", "05.jpeg", "06.PNG", "07.jpg", "08.jpg", "09.webp"}},
		{"exactly n", ten, 10, []string{"00.jpg", "01.png", "02.jpg", "03.png", "04.JPG", "05.jpeg", "06.PNG", "07.jpg", "08.jpg", "09.webp"}},
		{"spread over the sorted names", ten, 4, []string{"00.jpg", "02.jpg", "05.jpeg", "07.jpg"}},
		{"halves", ten, 5, []string{"00.jpg", "02.jpg", "04.JPG", "06.PNG", "08.jpg"}},
		{"one", ten, 1, []string{"00.jpg"}},
		{"non-images ignored", []string{"a.png", "info.csv", "notes.txt", "b.gif", "c.jpg", "dir.png/", "train.txt"}, 32, []string{"a.png", "c.jpg"}},
		{"dataset folder uses poster/", []string{"info.csv", "train.txt", "cover.jpg", "poster/2.jpg", "poster/1.jpg", "poster/10.jpg"}, 32, []string{"poster/1.jpg", "poster/10.jpg", "poster/2.jpg"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := files(t, tc.files...)
			got, err := calibrationImages(dir, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, filepath.Join(dir, filepath.FromSlash(w)))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("symlinked poster", func(t *testing.T) {
		dir := files(t, "a.png")
		if err := os.Symlink(reeltest.Fixture(t, "images/tall_rgba.png"), filepath.Join(dir, "b.png")); err != nil {
			t.Fatal(err)
		}
		got, err := calibrationImages(dir, 8)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	for _, tc := range []struct {
		name  string
		files []string
		// arg is the folder passed, named the one the error must name,
		// both under the test's folder.
		arg, named string
		wantErr    string
	}{
		{"no images", []string{"notes.txt", "x.png/"}, "", "", "no .jpg, .png or .webp images"},
		{"empty poster folder", []string{"info.csv", "poster/", "a.jpg"}, "", "poster", "no .jpg, .png or .webp images"},
		{"missing folder", nil, "missing", "missing", "--calibration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := files(t, tc.files...)
			_, err := calibrationImages(filepath.Join(dir, tc.arg), 8)
			if err == nil {
				t.Fatal("no error")
			}
			if named := filepath.Join(dir, tc.named); !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), named) {
				t.Errorf("error %q lacks %q or the folder %s", err, tc.wantErr, named)
			}
		})
	}
}
