package imageprep

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// FuzzDecodeBytes feeds arbitrary bytes to DecodeBytes: it must return an
// image or an error, never panic, and any image must go through a recipe.
// The seed corpus is every test image (the fixture posters and this
// package's testdata), whole and cut short; go test runs it as a regular
// test.
func FuzzDecodeBytes(f *testing.F) {
	var files []string
	fixtures := filepath.Join(reeltest.Fixture(f, "images"), "*")
	for _, pat := range []string{fixtures, "testdata/*.*", "testdata/decode/*", "testdata/orient/*"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, m...)
	}
	for _, p := range files {
		if filepath.Ext(p) == ".sh" || filepath.Ext(p) == ".json" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 16<<10 { // keep the corpus small
			continue
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(b[:len(b)*9/10])
	}
	r := Seed()
	// Valid but large images would only slow the fuzzer down: a header
	// can claim any size up to the limit, and decoding that takes seconds.
	defer func(n int64) { _ = SetMaxPixels(n) }(MaxPixels())
	if err := SetMaxPixels(1 << 16); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, release, err := DecodeBytes(context.Background(), b)
		if err != nil {
			return
		}
		defer release()
		out := r.Apply(img)
		if len(out) != 3*224*224 {
			t.Fatalf("Apply gave %d values", len(out))
		}
		for _, v := range out {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("Apply gave %v", v)
			}
		}
	})
}
