package reeltest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/safetensors"
)

func TestFixture(t *testing.T) {
	p := Fixture(t, "resnet-tiny/model.onnx")
	if !filepath.IsAbs(p) || !strings.HasSuffix(p, filepath.FromSlash("testdata/fixtures/resnet-tiny/model.onnx")) {
		t.Errorf("Fixture = %q, want an absolute path ending in testdata/fixtures/resnet-tiny/model.onnx", p)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(Fixture(t, "")), "..", "go.mod")); err != nil {
		t.Errorf("Fixture(\"\") is not testdata/fixtures at the module root: %v", err)
	}
}

func TestFixtureErrors(t *testing.T) {
	noModule := t.TempDir()
	noFixtures := t.TempDir()
	if err := os.WriteFile(filepath.Join(noFixtures, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, rel string
		want           []string // substrings of the error
	}{
		{"missing file", wd, "resnet-tiny/no-such.onnx", []string{`fixture "resnet-tiny/no-such.onnx"`, "README.md"}},
		{"outside any module", noModule, "images", []string{"no go.mod", noModule}},
		{"module without fixtures", noFixtures, "images", []string{noFixtures, "has no testdata/fixtures"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(tt.dir)
			_, err := fixturePath(tt.rel)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestFixtureSizes keeps every fixture under the repository's 4 MiB
// per-file limit.
func TestFixtureSizes(t *testing.T) {
	const limit = 4 << 20
	n := 0
	err := filepath.WalkDir(Fixture(t, ""), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n++
		if fi.Size() > limit {
			t.Errorf("%s is %d bytes, over the %d-byte limit: split it (see the fixtures README)", p, fi.Size(), limit)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no fixture files")
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		rel    string
		names  []string
		images string // "images" metadata
	}{
		{"resnet-tiny/golden.safetensors",
			[]string{"features", "input", "logits", "seed_features", "seed_pixels", "tv_features", "tv_pixels"},
			`["landscape_rgb", "poster_rgb", "square_gray", "tall_rgba"]`},
		{"clip-tiny/golden.safetensors",
			[]string{"attention_mask", "image_embeds", "input_ids", "logits_per_image", "pixel_values", "text_embeds"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			f := Golden(t, tt.rel)
			if diff := cmp.Diff(tt.names, f.Names()); diff != "" {
				t.Errorf("tensors (-want +got):\n%s", diff)
			}
			if got := f.Metadata["images"]; got != tt.images {
				t.Errorf("images metadata %q, want %q", got, tt.images)
			}
		})
	}
	px := Golden(t, "resnet-tiny/golden.safetensors").Tensors["seed_pixels"]
	if diff := cmp.Diff([]int{4, 3, 224, 224}, px.Shape); diff != "" || len(px.F32) != px.Len() {
		t.Errorf("seed_pixels shape (-want +got):\n%s, %d values", diff, len(px.F32))
	}
}

func TestMerge(t *testing.T) {
	meta := map[string]string{"images": `["a"]`}
	x := safetensors.Tensor{Shape: []int{1}, F32: []float32{1}}
	tests := []struct {
		name string
		part *safetensors.File
		want string // error substring; "" for success
	}{
		{"ok", &safetensors.File{Metadata: meta, Tensors: map[string]safetensors.Tensor{"px": x}}, ""},
		{"other metadata", &safetensors.File{Metadata: map[string]string{"images": `["b"]`}, Tensors: map[string]safetensors.Tensor{"px": x}}, `metadata "images"`},
		{"duplicate tensor", &safetensors.File{Metadata: meta, Tensors: map[string]safetensors.Tensor{"feat": x}}, `"feat" is in both`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &safetensors.File{Metadata: meta, Tensors: map[string]safetensors.Tensor{"feat": x}}
			err := merge(f, tt.part)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]string{"feat", "px"}, f.Names()); diff != "" {
					t.Errorf("merged tensors (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("merge: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestModels(t *testing.T) {
	dir := Models(t)
	var got []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		got = append(got, filepath.ToSlash(rel))
		// The presets check for regular files through the link.
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
			t.Errorf("%s: %v, not a non-empty regular file", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"clip-vit-b32/config.json",
		"clip-vit-b32/onnx/text_model.onnx",
		"clip-vit-b32/onnx/vision_model.onnx",
		"clip-vit-b32/preprocessor_config.json",
		"clip-vit-b32/tokenizer.json",
		"clip-vit-b32/tokenizer_config.json",
		"distilbert/config.json",
		"distilbert/model.onnx",
		"distilbert/tokenizer.json",
		"distilbert/tokenizer_config.json",
		"resnet50/onnx/model.onnx",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("models folder (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, ModelsFiles()); diff != "" {
		t.Errorf("ModelsFiles (-want +got):\n%s", diff)
	}
}
