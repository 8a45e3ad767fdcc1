// Command splitfixtures copies the golden fixtures the tests use from the
// team's shared fixtures folder into testdata/fixtures, splitting any
// safetensors file over the repository's 4 MiB per-file limit: the big
// pixel tensors of resnet-tiny/golden.safetensors each go to their own
// "<tensor>.safetensors" file beside it, with the same metadata (the
// "images" order), and the rest stays in golden.safetensors. reeltest.Golden
// reads the parts back as one file.
//
//	go run ./internal/reeltest/cmd/splitfixtures -from ../shared/fixtures -to testdata/fixtures
//
// It is a one-off, kept so the folder can be rebuilt when the shared
// fixtures change; tests never read the shared folder.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
	"github.com/reelmatch/reelmatch/internal/safetensors"
)

// maxFileSize is the repository's per-file limit.
const maxFileSize = 4 << 20

// copied are the fixture files some test reads, copied byte for byte.
var copied = []string{
	"clip-tiny/config.json",
	"clip-tiny/golden.safetensors",
	"clip-tiny/preprocessor_config.json",
	"clip-tiny/text_model.onnx",
	"clip-tiny/vision_model.onnx",
	"distilbert-tiny/config.json",
	"distilbert-tiny/golden.safetensors",
	"distilbert-tiny/model.onnx",
	"resnet-tiny/model.onnx",
	"images/landscape_rgb.jpg",
	"images/landscape_rgb.png",
	"images/poster_rgb.jpg",
	"images/poster_rgb.png",
	"images/square_gray.jpg",
	"images/square_gray.png",
	"images/tall_rgba.jpg",
	"images/tall_rgba.png",
	"tokenizers/clip-vit-base-patch32/tokenizer.json",
	"tokenizers/clip-vit-base-patch32/tokenizer_config.json",
	"tokenizers/clip_bpe_golden.json",
	"tokenizers/distilbert-base-uncased/tokenizer.json",
	"tokenizers/distilbert-base-uncased/tokenizer_config.json",
	"tokenizers/wordpiece_golden.json",
}

// split names the safetensors files to split and the tensors that move
// out of each into a file of their own.
var split = map[string][]string{
	"resnet-tiny/golden.safetensors": {"seed_pixels", "tv_pixels"},
}

func main() {
	from := flag.String("from", "../shared/fixtures", "the shared fixtures folder")
	to := flag.String("to", "testdata/fixtures", "the repository's fixtures folder")
	flag.Parse()
	if err := run(*from, *to); err != nil {
		fmt.Fprintln(os.Stderr, "splitfixtures:", err)
		os.Exit(1)
	}
}

func run(from, to string) error {
	for _, rel := range copied {
		if err := copyFile(filepath.Join(from, rel), filepath.Join(to, rel)); err != nil {
			return err
		}
	}
	for rel, moved := range split {
		if err := splitFile(filepath.Join(from, rel), filepath.Join(to, rel), moved); err != nil {
			return err
		}
	}
	return filepath.WalkDir(to, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Size() > maxFileSize {
			return fmt.Errorf("%s is %d bytes, over the %d-byte limit: add it to split", p, fi.Size(), maxFileSize)
		}
		return nil
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(dst, 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// splitFile writes src's tensors named in moved to "<name>.safetensors"
// beside dst, and the others to dst; every part keeps src's metadata.
func splitFile(src, dst string, moved []string) error {
	f, err := safetensors.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	rest := map[string]safetensors.Tensor{}
	for _, name := range f.Names() {
		if !slices.Contains(moved, name) {
			rest[name] = f.Tensors[name]
		}
	}
	for _, name := range moved {
		t, err := f.Tensor(name)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		part := filepath.Join(filepath.Dir(dst), name+".safetensors")
		if err := safetensors.WriteFile(part, map[string]safetensors.Tensor{name: t}, f.Metadata); err != nil {
			return fmt.Errorf("write %s: %w", part, err)
		}
	}
	if err := safetensors.WriteFile(dst, rest, f.Metadata); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}
