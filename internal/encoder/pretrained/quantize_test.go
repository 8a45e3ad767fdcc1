package pretrained

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/quantize"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// minQuantCosine is the least cosine accepted between an int8 encoder's
// vector and the float one's, row by row. The fixtures are tiny random
// models (8- to 64-wide layers), with less averaging to hide rounding in
// than the real checkpoints, so this is a floor, not the usual value; the
// test logs the actual ones (internal/quantize uses the same floor).
const minQuantCosine = 0.98

// quantTexts are the texts whose vectors the int8 text towers must keep.
var quantTexts = []string{
	"A cowboy doll is profoundly threatened and jealous when a new spaceman figure supplants him as top toy in a boy's room.",
	"Two kids play a game.",
	"a ship sinks",
	"An aging heist crew plans one last job in a city that never sleeps, while a detective closes in on them.",
}

// fixtureImages is every poster of the fixtures' images folder (PNG and
// JPEG), sorted.
func fixtureImages(t testing.TB) []string {
	t.Helper()
	dir := reeltest.Fixture(t, "images")
	var out []string
	for _, pattern := range []string{"*.png", "*.jpg"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	slices.Sort(out)
	if len(out) < 4 {
		t.Fatalf("fixture images: found %d, want at least 4", len(out))
	}
	return out
}

// notAnImage writes a file with an image's extension that does not decode.
func notAnImage(t testing.TB, name string) string {
	t.Helper()
	return reeltest.WriteFile(t, filepath.Join(t.TempDir(), name), []byte("not an image at all"))
}

// filesUnder lists the files under dir, as sorted slash paths.
func filesUnder(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// assertCosines fails when a row of got is further than minQuantCosine
// from the same row of want, and logs every cosine.
func assertCosines(t testing.TB, what string, got, want [][]float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	cs := make([]float64, len(want))
	worst := 0.0
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s: row %d has %d values, want %d", what, i, len(got[i]), len(want[i]))
		}
		cs[i] = reeltest.Cosine(got[i], want[i])
		for j := range want[i] {
			worst = max(worst, math.Abs(float64(got[i][j]-want[i][j])))
		}
		if !(cs[i] >= minQuantCosine) { // also catches NaN
			t.Errorf("%s: row %d cosine %.5f < %.2f", what, i, cs[i], minQuantCosine)
		}
	}
	t.Logf("%s: int8 vs float32 cosines %.6f, largest difference %.3g", what, cs, worst)
	// Equal vectors would mean the float model ran, not the int8 one.
	if worst == 0 {
		t.Errorf("%s: int8 vectors equal the float32 ones exactly", what)
	}
}

func TestQuantize(t *testing.T) {
	bad := notAnImage(t, "broken.png")
	images := fixtureImages(t)
	tests := []struct {
		name        string
		calibration []string
		// wantFiles are the quantized model files, wantCopied the files
		// copied unchanged (preset/path).
		wantFiles, wantCopied []string
		wantCalibrated        int
		wantSkipped           []string
		wantImagePrep         string
		reduceRange           bool
		// wantStatic is the file whose Convs must be quantized statically.
		wantStatic string
	}{
		{
			name: NameResNetDistilBERT,
			// One file that does not decode, among the good ones.
			calibration:    append(slices.Clone(images[:2]), append([]string{bad}, images[2:]...)...),
			wantFiles:      []string{"resnet50/onnx/model.onnx", "distilbert/model.onnx"},
			wantCopied:     []string{"distilbert/tokenizer.json", "distilbert/tokenizer_config.json", "distilbert/config.json"},
			wantCalibrated: len(images),
			wantSkipped:    []string{bad},
			wantImagePrep:  ImagePrepSeed,
			wantStatic:     "resnet50/onnx/model.onnx",
			reduceRange:    !quantize.HasVNNI(), // as `models quantize` defaults
		},
		{
			name:       NameCLIP,
			wantFiles:  []string{"clip-vit-b32/onnx/vision_model.onnx", "clip-vit-b32/onnx/text_model.onnx"},
			wantCopied: []string{"clip-vit-b32/tokenizer.json", "clip-vit-b32/tokenizer_config.json", "clip-vit-b32/preprocessor_config.json", "clip-vit-b32/config.json"},
			// 7-bit weights are safe on every CPU.
			reduceRange: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			var steps []string
			m, err := Quantize(context.Background(), tc.name, testModels, out, QuantizeOptions{
				Backend:           "ort",
				CalibrationImages: tc.calibration,
				ReduceRange:       tc.reduceRange,
				Progress:          func(s string) { steps = append(steps, s) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(steps) < len(tc.wantFiles) {
				t.Errorf("progress told %d steps, want at least %d: %q", len(steps), len(tc.wantFiles), steps)
			}

			// quantization.json holds what Quantize returned.
			b, err := os.ReadFile(filepath.Join(out, QuantizeManifestFile))
			if err != nil {
				t.Fatal(err)
			}
			var onDisk QuantizeManifest
			if err := json.Unmarshal(b, &onDisk); err != nil {
				t.Fatalf("%s: %v", QuantizeManifestFile, err)
			}
			if diff := cmp.Diff(*m, onDisk); diff != "" {
				t.Errorf("%s differs from the returned manifest (-returned +file):\n%s", QuantizeManifestFile, diff)
			}
			if m.Encoder != tc.name || m.Precision != "int8" || m.Source != testModels || m.ReduceRange != tc.reduceRange {
				t.Errorf("manifest encoder %q precision %q source %q reduce_range %v, want %q int8 %q %v",
					m.Encoder, m.Precision, m.Source, m.ReduceRange, tc.name, testModels, tc.reduceRange)
			}
			if m.CalibrationImages != tc.wantCalibrated || m.ImagePrep != tc.wantImagePrep {
				t.Errorf("calibration_images %d image_prep %q, want %d %q", m.CalibrationImages, m.ImagePrep, tc.wantCalibrated, tc.wantImagePrep)
			}
			if diff := cmp.Diff(tc.wantSkipped, m.SkippedImages); diff != "" {
				t.Errorf("skipped_images (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCopied, m.Copied); diff != "" {
				t.Errorf("copied (-want +got):\n%s", diff)
			}
			for _, c := range m.Copied {
				if !bytes.Equal(reeltest.ReadFile(t, filepath.Join(out, c)), reeltest.ReadFile(t, filepath.Join(testModels, c))) {
					t.Errorf("copied %s differs from the source", c)
				}
			}
			var files []string
			for _, f := range m.Files {
				rel := f.Preset + "/" + f.Path
				files = append(files, rel)
				r := f.Report
				t.Logf("%s: %d -> %d bytes, %+v", rel, f.SourceBytes, f.Bytes, r)
				if r.MatMuls+r.Convs == 0 {
					t.Errorf("%s: nothing quantized: %+v", rel, r)
				}
				if rel == tc.wantStatic && (r.Convs == 0 || r.Activations == 0) {
					t.Errorf("%s: not quantized statically: %+v", rel, r)
				}
				src := reeltest.ReadFile(t, filepath.Join(testModels, rel))
				if f.SourceBytes != int64(len(src)) || f.SourceSHA256 != reeltest.SHA256(src) {
					t.Errorf("%s: source %d bytes sha256 %s, want %d %s", rel, f.SourceBytes, f.SourceSHA256, len(src), reeltest.SHA256(src))
				}
				fi, err := os.Stat(filepath.Join(out, rel))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() != f.Bytes || f.Bytes == 0 {
					t.Errorf("%s: %d bytes on disk, manifest says %d", rel, fi.Size(), f.Bytes)
				}
			}
			if diff := cmp.Diff(tc.wantFiles, files); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			// Nothing else is left in the folder (calibration's temporary
			// models included).
			wantAll := append(append([]string{QuantizeManifestFile}, tc.wantFiles...), tc.wantCopied...)
			slices.Sort(wantAll)
			if diff := cmp.Diff(wantAll, filesUnder(t, out)); diff != "" {
				t.Errorf("files in the output folder (-want +got):\n%s", diff)
			}

			// The int8 folder builds the same encoder, whose vectors stay
			// close to the float encoder's.
			float32Enc := newEncoder(t, tc.name, encoder.Config{Backend: "ort"})
			quant := newEncoder(t, tc.name, encoder.Config{Backend: "ort", ModelsDir: out})
			if float32Enc.Fingerprint() == quant.Fingerprint() {
				t.Error("the int8 encoder has the float encoder's fingerprint")
			}
			if a, b := quant.Image().Dim(), float32Enc.Image().Dim(); a != b {
				t.Errorf("image dim %d, float %d", a, b)
			}
			if a, b := quant.Text().Dim(), float32Enc.Text().Dim(); a != b {
				t.Errorf("text dim %d, float %d", a, b)
			}
			pixels := prepareAll(t, float32Enc.Image(), images)
			want, err := float32Enc.Image().Encode(context.Background(), pixels)
			if err != nil {
				t.Fatal(err)
			}
			got, err := quant.Image().Encode(context.Background(), pixels)
			if err != nil {
				t.Fatal(err)
			}
			assertCosines(t, "image", got, want)
			want, err = float32Enc.Text().Encode(context.Background(), quantTexts)
			if err != nil {
				t.Fatal(err)
			}
			got, err = quant.Text().Encode(context.Background(), quantTexts)
			if err != nil {
				t.Fatal(err)
			}
			assertCosines(t, "text", got, want)
		})
	}
}

func TestQuantizeErrors(t *testing.T) {
	images := fixtureImages(t)
	bad1, bad2 := notAnImage(t, "a.png"), notAnImage(t, "b.jpg")
	tests := []struct {
		name        string
		enc         string
		out         string // "" is a fresh folder; "SRC" the source root
		calibration []string
		is          error
		message     string
	}{
		{"no calibration images", NameResNetDistilBERT, "", nil, nil, "no calibration images"},
		{"out is the source", NameCLIP, "SRC", nil, nil, "is the source models folder"},
		{"out is the source, trailing slash", NameResNetDistilBERT, "SRC/", images, nil, "is the source models folder"},
		{"no out", NameCLIP, "-", nil, nil, "no output folder"},
		{"unknown encoder", "gpt", "", nil, encoder.ErrUnknownEncoder, `"gpt"`},
		{"preset is not an encoder", PresetDistilBERT, "", nil, encoder.ErrUnknownEncoder, `"distilbert"`},
		{"no image decodes", NameResNetDistilBERT, "", []string{bad1, bad2}, nil, "(first: " + bad1 + ")"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			switch tc.out {
			case "SRC":
				out = testModels
			case "SRC/":
				out = testModels + string(filepath.Separator)
			case "-":
				out = ""
			}
			_, err := Quantize(context.Background(), tc.enc, testModels, out, QuantizeOptions{Backend: "ort", CalibrationImages: tc.calibration})
			reeltest.CheckError(t, err, tc.is, tc.message)
			if tc.out == "" {
				if _, err := os.Stat(filepath.Join(out, QuantizeManifestFile)); err == nil {
					t.Errorf("a failed quantize wrote %s", QuantizeManifestFile)
				}
			}
		})
	}
	t.Run("bad image prep", func(t *testing.T) {
		_, err := Quantize(context.Background(), NameResNetDistilBERT, testModels, t.TempDir(), QuantizeOptions{Backend: "ort", CalibrationImages: images, ImagePrep: ImagePrepCLIP})
		if err == nil || !strings.Contains(err.Error(), `image prep "clip"`) {
			t.Errorf("error %v, want one naming the image prep", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		out := t.TempDir()
		_, err := Quantize(ctx, NameCLIP, testModels, out, QuantizeOptions{Backend: "ort"})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
		if got := filesUnder(t, out); len(got) != 0 {
			t.Errorf("a cancelled quantize wrote %q", got)
		}
	})
	// The refused in-place runs left the float models as they were.
	if _, err := os.Stat(filepath.Join(testModels, QuantizeManifestFile)); err == nil {
		t.Errorf("%s written into the source folder", QuantizeManifestFile)
	}
	for _, rel := range reeltest.ModelsFiles() {
		fi, err := os.Lstat(filepath.Join(testModels, rel))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("source %s was replaced or removed (%v)", rel, err)
		}
	}
}
