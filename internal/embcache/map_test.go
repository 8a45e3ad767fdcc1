package embcache

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reel"
)

func TestMapMatchesLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.safetensors")
	f := &Features{Encoder: "e", Fingerprint: "fp", ImageFingerprint: "fp", TextFingerprint: "fp", TextInput: "raw",
		IDs: []reel.MovieID{"1", "2"}, PosterHashes: []string{"p1", "p2"}, TextHashes: []string{"t1", "t2"},
		Image: [][]float32{{1, 2, 3}, {4, 5, 6}}, Text: [][]float32{{7, 8}, {9, 10}}}
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	want, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Map(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Map (-Load +Map):\n%s", diff)
	}
	if _, err := Map(filepath.Join(t.TempDir(), "none")); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing cache: %v, want ErrNotFound", err)
	}
}

// BenchmarkLoadVsMap loads a cache of N movies with the builtin encoder's
// sizes (592-d posters, 256-d intros) both ways; B/op is the heap each
// takes: Load copies every vector (and reads through a buffer), Map keeps
// them in the file's pages.
func BenchmarkLoadVsMap(b *testing.B) {
	for _, n := range []int{1_000, 20_000} {
		path := filepath.Join(b.TempDir(), "f.safetensors")
		f := &Features{Encoder: "e", Fingerprint: "fp", ImageFingerprint: "fp", TextFingerprint: "fp", TextInput: "raw"}
		for i := range n {
			f.IDs = append(f.IDs, reel.MovieID(strconv.Itoa(i)))
			f.PosterHashes, f.TextHashes = append(f.PosterHashes, "p"), append(f.TextHashes, "t")
			im, tx := make([]float32, 592), make([]float32, 256)
			im[i%592], tx[i%256] = 1, 1
			f.Image, f.Text = append(f.Image, im), append(f.Text, tx)
		}
		if err := f.Save(path); err != nil {
			b.Fatal(err)
		}
		for _, fn := range []struct {
			name string
			load func(string) (*Features, error)
		}{{"Load", Load}, {"Map", Map}} {
			b.Run(fmt.Sprintf("%s/N=%d", fn.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := fn.load(path); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
