package reeltest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/reelmatch/reelmatch/internal/safetensors"
)

// FixturesDir is where the golden fixtures live, relative to the module
// root (the folder holding go.mod). Its README says where every file comes
// from.
const FixturesDir = "testdata/fixtures"

// FixtureRoot returns the absolute path of FixturesDir, found by walking up
// from the working directory (a package's folder under `go test`) to the
// folder holding go.mod. It is the form of Fixture for code that has no
// testing.TB, such as TestMain.
func FixtureRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", FixturesDir, err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			root := filepath.Join(dir, filepath.FromSlash(FixturesDir))
			if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
				return "", fmt.Errorf("module root %s has no %s folder: the golden fixtures are missing from this checkout", dir, FixturesDir)
			}
			return root, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("find %s: no go.mod in %s or any parent: run the tests from inside the reelmatch module", FixturesDir, wd)
		}
	}
}

// Fixture returns the absolute path of FixturesDir/rel (rel uses forward
// slashes, e.g. "resnet-tiny/model.onnx"; "" is the folder itself). The test
// fails when the module root or the file cannot be found. Fixtures are
// shared by every package: never write to them, copy them to t.TempDir()
// first.
func Fixture(t testing.TB, rel string) string {
	t.Helper()
	p, err := fixturePath(rel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fixturePath(rel string) (string, error) {
	root, err := FixtureRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("fixture %q: %w (see %s/README.md for what is there)", rel, err, FixturesDir)
	}
	return p, nil
}

// Golden reads the golden tensors of FixturesDir/rel together with the
// tensors split off into sibling "*_pixels.safetensors" files (so that no
// file exceeds the repository's 4 MiB limit; see the fixtures README), as
// one file. The siblings must carry the same metadata as rel and no tensor
// rel also has.
func Golden(t testing.TB, rel string) *safetensors.File {
	t.Helper()
	f, err := readGolden(rel)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func readGolden(rel string) (*safetensors.File, error) {
	path, err := fixturePath(rel)
	if err != nil {
		return nil, err
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read golden %s: %w", rel, err)
	}
	siblings, err := filepath.Glob(filepath.Join(filepath.Dir(path), "*_pixels.safetensors"))
	if err != nil {
		return nil, err
	}
	for _, s := range siblings {
		if s == path {
			continue
		}
		part, err := safetensors.ReadFile(s)
		if err != nil {
			return nil, fmt.Errorf("read golden part %s: %w", s, err)
		}
		if err := merge(f, part); err != nil {
			return nil, fmt.Errorf("golden %s with %s: %w", rel, filepath.Base(s), err)
		}
	}
	return f, nil
}

// merge adds part's tensors to f.
func merge(f, part *safetensors.File) error {
	for k, v := range part.Metadata {
		if w, ok := f.Metadata[k]; !ok || w != v {
			return fmt.Errorf("metadata %q is %q, the golden file's %q", k, v, w)
		}
	}
	for _, name := range part.Names() {
		if _, dup := f.Tensors[name]; dup {
			return fmt.Errorf("tensor %q is in both files", name)
		}
		f.Tensors[name] = part.Tensors[name]
	}
	return nil
}

// presetFixtures lays the tiny fixtures out as the pretrained encoders'
// models folder expects the real checkpoints (internal/encoder/pretrained
// presets.go: one folder per preset, each file at its path in the hub
// repository). The keys are paths under the models folder.
var presetFixtures = map[string]string{
	"resnet50/onnx/model.onnx":              "resnet-tiny/model.onnx",
	"distilbert/model.onnx":                 "distilbert-tiny/model.onnx",
	"distilbert/config.json":                "distilbert-tiny/config.json",
	"distilbert/tokenizer.json":             "tokenizers/distilbert-base-uncased/tokenizer.json",
	"distilbert/tokenizer_config.json":      "tokenizers/distilbert-base-uncased/tokenizer_config.json",
	"clip-vit-b32/onnx/vision_model.onnx":   "clip-tiny/vision_model.onnx",
	"clip-vit-b32/onnx/text_model.onnx":     "clip-tiny/text_model.onnx",
	"clip-vit-b32/config.json":              "clip-tiny/config.json",
	"clip-vit-b32/preprocessor_config.json": "clip-tiny/preprocessor_config.json",
	"clip-vit-b32/tokenizer.json":           "tokenizers/clip-vit-base-patch32/tokenizer.json",
	"clip-vit-b32/tokenizer_config.json":    "tokenizers/clip-vit-base-patch32/tokenizer_config.json",
}

// ModelsFiles lists the files LinkModels makes, as paths under the models
// folder with forward slashes, sorted.
func ModelsFiles() []string {
	out := make([]string, 0, len(presetFixtures))
	for k := range presetFixtures {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// LinkModels fills dir with the tiny fixtures in the models-folder layout
// of the pretrained presets (resnet50/onnx/model.onnx, distilbert/model.onnx,
// distilbert/tokenizer.json, clip-vit-b32/onnx/vision_model.onnx, ...), as
// symbolic links to the fixture files, so it costs no copying. Anything that
// edits a file must replace the link, not write through it. It is the form
// of Models for TestMain.
func LinkModels(dir string) error {
	root, err := FixtureRoot()
	if err != nil {
		return err
	}
	var errs []error
	for _, dst := range ModelsFiles() {
		src := filepath.Join(root, filepath.FromSlash(presetFixtures[dst]))
		if _, err := os.Stat(src); err != nil {
			errs = append(errs, fmt.Errorf("fixture for %s: %w", dst, err))
			continue
		}
		d := filepath.Join(dir, filepath.FromSlash(dst))
		if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Symlink(src, d); err != nil {
			errs = append(errs, fmt.Errorf("link fixture for %s: %w", dst, err))
		}
	}
	return errors.Join(errs...)
}

// Models returns a fresh folder, removed when the test ends, holding the
// tiny fixtures in the pretrained presets' models-folder layout (see
// LinkModels).
func Models(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := LinkModels(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}
