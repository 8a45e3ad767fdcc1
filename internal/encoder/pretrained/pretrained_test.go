package pretrained

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/encoder"
	_ "github.com/reelmatch/reelmatch/internal/encoder/gomlx"
	_ "github.com/reelmatch/reelmatch/internal/encoder/ort"
	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/safetensors"
	"github.com/reelmatch/reelmatch/internal/tokenize"
)

// testModels is the models folder the tests use: the repository's tiny
// fixtures (testdata/fixtures at the module root) laid out as the presets
// expect the real checkpoints, one folder per preset:
//
//	resnet50/onnx/model.onnx         resnet-tiny/model.onnx
//	distilbert/model.onnx            distilbert-tiny/model.onnx (+config.json)
//	distilbert/tokenizer*.json       tokenizers/distilbert-base-uncased
//	clip-vit-b32/onnx/*_model.onnx   clip-tiny/{vision,text}_model.onnx
//	clip-vit-b32/*.json              clip-tiny configs, tokenizers/clip-vit-base-patch32
//
// TestMain links it once per process (reeltest.LinkModels), so its paths,
// and so the file-digest cache entries, stay the same across tests.
var testModels string

// Golden fixtures (reeltest.Golden), relative to the fixtures folder.
const (
	goldenResNet     = "resnet-tiny/golden.safetensors"
	goldenDistilBERT = "distilbert-tiny/golden.safetensors"
	goldenCLIP       = "clip-tiny/golden.safetensors"
)

// backends are the runtimes every golden test runs on.
var backends = []string{"ort", "go"}

// Tolerances (fixtures/README.md): ~1e-4 relative to the tensor's scale
// when the model input is the same tensor; looser where images are
// resampled by our code rather than PIL's.
const (
	tolModel    = 1e-4
	tolResample = 2e-2
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pretrained-hashes-")
	if err != nil {
		panic(err)
	}
	hashCacheFile = func() string { return filepath.Join(dir, "filehashes.json") }
	testModels = filepath.Join(dir, "models")
	if err := reeltest.LinkModels(testModels); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func tensor(t testing.TB, f *safetensors.File, name string) safetensors.Tensor {
	t.Helper()
	x, err := f.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// rows splits a [N, D...] tensor into N rows.
func rows(x safetensors.Tensor) [][]float32 {
	n := x.Shape[0]
	per := x.Len() / n
	out := make([][]float32, n)
	for i := range n {
		out[i] = x.F32[i*per : (i+1)*per]
	}
	return out
}

// assertClose fails when any element differs from want by more than tol
// times the golden tensor's largest magnitude.
func assertClose(t testing.TB, what string, got, want [][]float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	scale := 0.0
	for _, r := range want {
		for _, v := range r {
			scale = max(scale, math.Abs(float64(v)))
		}
	}
	scale = max(scale, 1e-6)
	worst, at := 0.0, [2]int{}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s: row %d has %d values, want %d", what, i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if d := math.Abs(float64(got[i][j]-want[i][j])) / scale; d > worst {
				worst, at = d, [2]int{i, j}
			}
		}
	}
	if worst > tol {
		t.Errorf("%s: [%d][%d] = %g, want %g (relative error %.2g > %.2g)", what, at[0], at[1], got[at[0]][at[1]], want[at[0]][at[1]], worst, tol)
	}
}

func newEncoder(t testing.TB, name string, cfg encoder.Config) *Encoder {
	t.Helper()
	if cfg.ModelsDir == "" {
		cfg.ModelsDir = testModels
	}
	enc, err := encoder.New(name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })
	return enc.(*Encoder)
}

// goldenTexts returns the "batch" texts of a tokenizer golden
// (tokenizers/<name>_golden.json) and their ids without padding.
func goldenTexts(t testing.TB, name string) (texts []string, ids [][]int64) {
	t.Helper()
	b, err := os.ReadFile(reeltest.Fixture(t, "tokenizers/"+name+"_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Batch struct {
			Texts         []string  `json:"texts"`
			InputIDs      [][]int64 `json:"input_ids"`
			AttentionMask [][]int64 `json:"attention_mask"`
		} `json:"batch"`
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	batch := golden.Batch
	for i, row := range batch.InputIDs {
		n := 0
		for _, m := range batch.AttentionMask[i] {
			n += int(m)
		}
		ids = append(ids, row[:n])
	}
	return batch.Texts, ids
}

// unpadded returns each row of a golden [N, L] ids tensor up to its mask.
func unpadded(ids, mask safetensors.Tensor) [][]int64 {
	n, l := ids.Shape[0], ids.Shape[1]
	out := make([][]int64, n)
	for i := range n {
		k := 0
		for _, m := range mask.I64[i*l : (i+1)*l] {
			k += int(m)
		}
		out[i] = ids.I64[i*l : i*l+k]
	}
	return out
}

func decodeImages(t testing.TB, names []string) []string {
	t.Helper()
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = reeltest.Fixture(t, "images/"+n+".png")
	}
	return paths
}

func prepareAll(t testing.TB, tower encoder.ImageTower, paths []string) [][]float32 {
	t.Helper()
	out := make([][]float32, len(paths))
	for i, p := range paths {
		img, release, err := imageprep.DecodeFile(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if out[i], err = tower.Prepare(img); err != nil {
			t.Fatal(err)
		}
		release()
	}
	return out
}

// goldenImageOrder is the order of images in the resnet golden tensors
// (its "images" metadata).
func goldenImageOrder(t testing.TB, f *safetensors.File) []string {
	t.Helper()
	var order []string
	if err := json.Unmarshal([]byte(f.Metadata["images"]), &order); err != nil {
		t.Fatalf("golden images metadata: %v", err)
	}
	return order
}

func TestGoldenResNetDistilBERT(t *testing.T) {
	rg := reeltest.Golden(t, goldenResNet)
	dg := reeltest.Golden(t, goldenDistilBERT)
	texts, wantIDs := goldenTexts(t, "wordpiece")
	images := decodeImages(t, goldenImageOrder(t, rg))
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			for _, prep := range []struct{ name, pixels, features string }{
				{ImagePrepSeed, "seed_pixels", "seed_features"},
				{ImagePrepTorchVision, "tv_pixels", "tv_features"},
			} {
				t.Run("image/"+prep.name, func(t *testing.T) {
					enc := newEncoder(t, NameResNetDistilBERT, encoder.Config{Backend: backend, ImagePrep: prep.name})
					if got := enc.Image().Dim(); got != 256 {
						t.Errorf("image Dim = %d, want 256", got)
					}
					want := rows(tensor(t, rg, prep.features))
					// The model alone, from the golden pixels.
					got, err := enc.Image().Encode(context.Background(), rows(tensor(t, rg, prep.pixels)))
					if err != nil {
						t.Fatal(err)
					}
					assertClose(t, "features from golden pixels", got, want, tolModel)
					// End to end: PNG -> recipe -> model.
					got, err = enc.Image().Encode(context.Background(), prepareAll(t, enc.Image(), images))
					if err != nil {
						t.Fatal(err)
					}
					assertClose(t, "features from PNG", got, want, tolResample)
				})
			}
			t.Run("text", func(t *testing.T) {
				enc := newEncoder(t, NameResNetDistilBERT, encoder.Config{Backend: backend})
				// The tokenizer reproduces the golden ids ...
				tk, err := tokenize.Load(filepath.Join(testModels, PresetDistilBERT, "tokenizer.json"))
				if err != nil {
					t.Fatal(err)
				}
				goldIDs := unpadded(tensor(t, dg, "input_ids"), tensor(t, dg, "attention_mask"))
				if diff := cmp.Diff(wantIDs, goldIDs); diff != "" {
					t.Fatalf("fixture goldens disagree (-tokenizer golden +model golden):\n%s", diff)
				}
				var gotIDs [][]int64
				for _, s := range texts {
					gotIDs = append(gotIDs, tk.Encode(s).IDs)
				}
				if diff := cmp.Diff(goldIDs, gotIDs); diff != "" {
					t.Errorf("token ids (-want +got):\n%s", diff)
				}
				// ... and the text tower gives the golden [CLS] rows.
				if got := enc.Text().Dim(); got != 16 {
					t.Errorf("text Dim = %d, want 16", got)
				}
				got, err := enc.Text().Encode(context.Background(), texts)
				if err != nil {
					t.Fatal(err)
				}
				assertClose(t, "cls", got, rows(tensor(t, dg, "cls")), tolModel)
				// One text at a time (no padding) gives the same rows.
				for i, s := range texts {
					one, err := enc.Text().Encode(context.Background(), []string{s})
					if err != nil {
						t.Fatal(err)
					}
					assertClose(t, "cls unbatched", one, rows(tensor(t, dg, "cls"))[i:i+1], tolModel)
				}
			})
		})
	}
}

func TestGoldenCLIP(t *testing.T) {
	cg := reeltest.Golden(t, goldenCLIP)
	texts, wantIDs := goldenTexts(t, "clip_bpe")
	// The CLIP golden has no image list; this order is the one whose
	// processor output equals pixel_values exactly.
	images := decodeImages(t, []string{"poster_rgb", "landscape_rgb", "square_gray", "tall_rgba"})
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			enc := newEncoder(t, NameCLIP, encoder.Config{Backend: backend})
			if !enc.SharedSpace() || !encoder.HasSharedSpace(NameCLIP) {
				t.Errorf("CLIP reports a shared space %v, registry %v; want both", enc.SharedSpace(), encoder.HasSharedSpace(NameCLIP))
			}
			if encoder.HasSharedSpace(NameResNetDistilBERT) {
				t.Error("resnet50-distilbert is registered with a shared space")
			}
			if d1, d2 := enc.Image().Dim(), enc.Text().Dim(); d1 != 8 || d2 != 8 {
				t.Errorf("dims %d/%d, want 8/8", d1, d2)
			}
			want := rows(tensor(t, cg, "image_embeds"))
			got, err := enc.Image().Encode(context.Background(), rows(tensor(t, cg, "pixel_values")))
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, "image_embeds from golden pixels", got, want, tolModel)
			got, err = enc.Image().Encode(context.Background(), prepareAll(t, enc.Image(), images))
			if err != nil {
				t.Fatal(err)
			}
			// imageprep reproduces CLIPImageProcessor's pixels exactly, so
			// the model tolerance holds end to end.
			assertClose(t, "image_embeds from PNG", got, want, tolModel)

			goldIDs := unpadded(tensor(t, cg, "input_ids"), tensor(t, cg, "attention_mask"))
			if diff := cmp.Diff(wantIDs, goldIDs); diff != "" {
				t.Fatalf("fixture goldens disagree (-tokenizer golden +model golden):\n%s", diff)
			}
			// The golden batch is padded to 77; the tower pads to the
			// longest row, which must not change the vectors.
			got, err = enc.Text().Encode(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, "text_embeds", got, rows(tensor(t, cg, "text_embeds")), tolModel)
			if n := enc.Truncated(); n != 0 {
				t.Errorf("Truncated() = %d after short texts", n)
			}
		})
	}
}

func norm(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x / float32(math.Sqrt(s))
	}
	return out
}

func TestCLIPLongText(t *testing.T) {
	// Single-token words, so windows split exactly every 75 content tokens.
	a75 := strings.Repeat("a ", 75)
	b75 := strings.Repeat("b ", 75)
	long := a75 + b75
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			trunc := newEncoder(t, NameCLIP, encoder.Config{Backend: backend})
			vs, err := trunc.Text().Encode(context.Background(), []string{a75, b75, long, "short"})
			if err != nil {
				t.Fatal(err)
			}
			if n := trunc.Truncated(); n != 1 {
				t.Errorf("Truncated() = %d, want 1", n)
			}
			// Cut at 77 tokens, the long text is its first window.
			assertClose(t, "truncated long text", vs[2:3], vs[0:1], tolModel)

			chunk := newEncoder(t, NameCLIP, encoder.Config{Backend: backend, LongText: LongTextChunk})
			cs, err := chunk.Text().Encode(context.Background(), []string{long, "short"})
			if err != nil {
				t.Fatal(err)
			}
			na, nb := norm(vs[0]), norm(vs[1])
			want := make([]float32, len(na))
			for i := range want {
				want[i] = (na[i] + nb[i]) / 2
			}
			assertClose(t, "chunked long text", cs[:1], [][]float32{want}, tolModel)
			assertClose(t, "chunked short text", cs[1:], [][]float32{norm(vs[3])}, tolModel)
			if n := chunk.Truncated(); n != 0 {
				t.Errorf("chunking encoder Truncated() = %d", n)
			}
			if chunk.Fingerprint() == trunc.Fingerprint() {
				t.Error("long-text setting does not change the fingerprint")
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	base := newEncoder(t, NameResNetDistilBERT, encoder.Config{Backend: "ort"})
	if len(base.Fingerprint()) != 64 {
		t.Fatalf("fingerprint %q is not a hex sha256", base.Fingerprint())
	}
	// A copy of the models folder with one tokenizer byte changed.
	edited := t.TempDir()
	copyTree(t, testModels, edited)
	tj := filepath.Join(edited, PresetDistilBERT, "tokenizer.json")
	b, err := os.ReadFile(tj)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tj, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	same := []struct {
		name string
		cfg  encoder.Config
	}{
		{"same settings again", encoder.Config{Backend: "ort"}},
		{"other backend", encoder.Config{Backend: "go"}},
		{"explicit defaults", encoder.Config{Backend: "ort", TextInput: "raw", LongText: LongTextTruncate, ImagePrep: ImagePrepSeed}},
		{"copied models folder", encoder.Config{Backend: "ort", ModelsDir: copyOf(t)}},
	}
	for _, tc := range same {
		t.Run(tc.name, func(t *testing.T) {
			if got := newEncoder(t, NameResNetDistilBERT, tc.cfg).Fingerprint(); got != base.Fingerprint() {
				t.Errorf("fingerprint changed: %s vs %s", got, base.Fingerprint())
			}
		})
	}
	differ := []struct {
		name string
		cfg  encoder.Config
	}{
		{"clean text", encoder.Config{Backend: "ort", TextInput: "clean"}},
		{"chunk", encoder.Config{Backend: "ort", LongText: LongTextChunk}},
		{"torchvision", encoder.Config{Backend: "ort", ImagePrep: ImagePrepTorchVision}},
		{"tokenizer edited", encoder.Config{Backend: "ort", ModelsDir: edited}},
	}
	for _, tc := range differ {
		t.Run(tc.name, func(t *testing.T) {
			if got := newEncoder(t, NameResNetDistilBERT, tc.cfg).Fingerprint(); got == base.Fingerprint() {
				t.Error("fingerprint did not change")
			}
		})
	}
}

func copyOf(t testing.TB) string {
	d := t.TempDir()
	copyTree(t, testModels, d)
	return d
}

func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name    string
		enc     string
		cfg     encoder.Config
		is      error
		message string
	}{
		{"missing resnet", NameResNetDistilBERT, encoder.Config{ModelsDir: empty}, ErrModelMissing,
			filepath.Join(empty, "resnet50", "onnx", "model.onnx") + ": run `reelmatch models pull resnet50 --dir " + empty + "`"},
		{"missing clip", NameCLIP, encoder.Config{ModelsDir: empty}, ErrModelMissing, "reelmatch models pull clip-vit-b32"},
		{"bad image prep", NameResNetDistilBERT, encoder.Config{ModelsDir: testModels, ImagePrep: "clip"}, nil, `image prep "clip"`},
		{"bad clip prep", NameCLIP, encoder.Config{ModelsDir: testModels, ImagePrep: "seed"}, nil, `image prep "seed"`},
		{"bad long text", NameCLIP, encoder.Config{ModelsDir: testModels, LongText: "fold"}, nil, `long text "fold"`},
		{"bad backend", NameCLIP, encoder.Config{ModelsDir: testModels, Backend: "tpu"}, nil, `unknown backend "tpu"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := encoder.New(tc.enc, tc.cfg)
			reeltest.CheckError(t, err, tc.is, tc.message)
		})
	}
}

func TestPresetDirAcceptsRepositoryFolder(t *testing.T) {
	// --models pointing straight at a CLIP repository copy.
	enc := newEncoder(t, NameCLIP, encoder.Config{Backend: "ort", ModelsDir: filepath.Join(testModels, PresetCLIP)})
	if enc.Image().Dim() != 8 {
		t.Errorf("Dim = %d", enc.Image().Dim())
	}
}

func TestModelIO(t *testing.T) {
	tests := []struct {
		path     string
		ins, out []valueInfo
	}{
		{"resnet50/onnx/model.onnx", []valueInfo{{"pixel_values", []int64{-1, 3, -1, -1}}}, []valueInfo{{"features", []int64{-1, 256}}}},
		{"distilbert/model.onnx",
			[]valueInfo{{"input_ids", []int64{-1, -1}}, {"attention_mask", []int64{-1, -1}}},
			[]valueInfo{{"last_hidden_state", []int64{-1, -1, 16}}}},
		{"clip-vit-b32/onnx/vision_model.onnx", []valueInfo{{"pixel_values", []int64{-1, 3, 64, 64}}}, []valueInfo{{"image_embeds", []int64{-1, 8}}}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			ins, outs, err := modelIO(filepath.Join(testModels, tc.path))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.ins, ins); diff != "" {
				t.Errorf("inputs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.out, outs); diff != "" {
				t.Errorf("outputs (-want +got):\n%s", diff)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "bad.onnx")
	os.WriteFile(bad, []byte("not a model at all"), 0o644)
	if _, _, err := modelIO(bad); err == nil {
		t.Error("modelIO accepted a text file")
	}
}

func TestRowsPooled(t *testing.T) {
	tests := []struct {
		name string
		in   encoder.Tensor
		want [][]float32
	}{
		{"pooled", encoder.Tensor{Shape: []int64{2, 2}, F32: []float32{1, 2, 3, 4}}, [][]float32{{1, 2}, {3, 4}}},
		{"pooled 1x1", encoder.Tensor{Shape: []int64{1, 2, 1, 1}, F32: []float32{5, 6}}, [][]float32{{5, 6}}},
		{"feature map", encoder.Tensor{Shape: []int64{1, 2, 2, 1}, F32: []float32{1, 3, 10, 20}}, [][]float32{{2, 15}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rowsPooled(tc.in, int(tc.in.Shape[0]), "x")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := rowsPooled(encoder.Tensor{Shape: []int64{3, 2}, F32: make([]float32, 6)}, 2, "x"); err == nil {
		t.Error("batch mismatch accepted")
	}
}

func TestResolvePresets(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"resnet50-distilbert", []string{"resnet50", "distilbert"}},
		{"clip-vit-b32", []string{"clip-vit-b32"}},
		{"distilbert", []string{"distilbert"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := ResolvePresets(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ResolvePresets("gpt"); err == nil || !strings.Contains(err.Error(), "clip-vit-b32") {
		t.Errorf("unknown preset error %v does not list the known ones", err)
	}
}

func TestFileHashCache(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.bin")
	os.WriteFile(p, []byte("one"), 0o644)
	h1, err := fileSHA256(p)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh process reads the persisted digest: simulate by clearing
	// the memo, and prove it is used by checking the file is in it.
	hashMu.Lock()
	hashLoaded = false
	hashMu.Unlock()
	h2, _ := fileSHA256(p)
	if h1 != h2 || h1 != "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed" {
		t.Errorf("sha256 = %s, %s", h1, h2)
	}
	// A changed file (size differs) is rehashed.
	os.WriteFile(p, []byte("two!"), 0o644)
	h3, _ := fileSHA256(p)
	if h3 == h1 {
		t.Error("changed file kept its old digest")
	}
}
