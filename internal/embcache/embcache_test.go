package embcache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reel"
)

func sample() *Features {
	return &Features{
		Encoder: "fake", Fingerprint: "fp1", ImageFingerprint: "img1", TextFingerprint: "txt1", TextInput: "clean",
		IDs:          []reel.MovieID{"1", "2", "10"},
		PosterHashes: []string{"p1", "p2", "p10"},
		TextHashes:   []string{TextHash("a"), TextHash("b"), TextHash("c")},
		Image:        [][]float32{{1, 2}, {3, 4}, {5, 6}},
		Text:         [][]float32{{0.5, 0, 1}, {1, 1, 1}, {-1, 2, 3.25}},
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "features", "fake.safetensors")
	want := sample()
	if err := want.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-saved +loaded):\n%s", diff)
	}
	info, err := Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	wantInfo := &Info{Encoder: "fake", Fingerprint: "fp1", TextInput: "clean", Movies: 3, ImageDim: 2, TextDim: 3}
	if diff := cmp.Diff(wantInfo, info); diff != "" {
		t.Errorf("Stat (-want +got):\n%s", diff)
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.safetensors")
	for name, err := range map[string]error{
		"Load": func() error { _, err := Load(path); return err }(),
		"Stat": func() error { _, err := Stat(path); return err }(),
	} {
		if !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: err %v, want ErrNotFound and fs.ErrNotExist", name, err)
		}
		if err != nil && !strings.Contains(err.Error(), "reelmatch embed") {
			t.Errorf("%s: error %q does not say to run embed", name, err)
		}
	}
}

func TestLoadCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(path, []byte("not a safetensors file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Load of a corrupt file: err %v, want a non-NotFound error", err)
	}
}

func TestSaveRejectsRaggedRows(t *testing.T) {
	f := sample()
	f.Text[1] = []float32{1}
	if err := f.Save(filepath.Join(t.TempDir(), "x.safetensors")); err == nil {
		t.Fatal("ragged text rows were saved")
	}
}

func TestRows(t *testing.T) {
	f := sample()
	img, txt, err := f.Rows([]reel.MovieID{"10", "1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]float32{{5, 6}, {1, 2}}, img); diff != "" {
		t.Errorf("image rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]float32{{-1, 2, 3.25}, {0.5, 0, 1}}, txt); diff != "" {
		t.Errorf("text rows (-want +got):\n%s", diff)
	}
	_, _, err = f.Rows([]reel.MovieID{"1", "99"})
	if err == nil || !strings.Contains(err.Error(), "99") || !strings.Contains(err.Error(), "reelmatch embed") {
		t.Errorf("missing id: err %v, want one naming 99 and saying to rerun embed", err)
	}
}

func TestLookup(t *testing.T) {
	f := sample()
	key := Key{ImageFingerprint: "img1", TextFingerprint: "txt1", TextInput: "clean"}
	with := func(edit func(k *Key)) Key { k := key; edit(&k); return k }
	tests := []struct {
		name                 string
		cache                *Features
		key                  Key
		posterHash, textHash string
		wantImage, wantText  bool
	}{
		{"hit", f, key, "p2", TextHash("b"), true, true},
		{"changed poster", f, key, "p2-new", TextHash("b"), false, true},
		{"changed text", f, key, "p2", TextHash("b2"), true, false},
		{"other text input", f, with(func(k *Key) { k.TextInput = "raw" }), "p2", TextHash("b"), true, false},
		{"refitted text tower", f, with(func(k *Key) { k.TextFingerprint = "txt2" }), "p2", TextHash("b"), true, false},
		{"new image tower", f, with(func(k *Key) { k.ImageFingerprint = "img2" }), "p2", TextHash("b"), false, true},
		{"no cache", nil, key, "p2", TextHash("b"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := tt.cache.Lookup(tt.key)
			img, okImg := ix.Image(tt.posterHash)
			txt, okTxt := ix.Text(tt.textHash)
			if okImg != tt.wantImage || okTxt != tt.wantText {
				t.Fatalf("image hit %v text hit %v, want %v %v", okImg, okTxt, tt.wantImage, tt.wantText)
			}
			if okImg {
				if diff := cmp.Diff([]float32{3, 4}, img); diff != "" {
					t.Errorf("image row (-want +got):\n%s", diff)
				}
			}
			if okTxt {
				if diff := cmp.Diff([]float32{1, 1, 1}, txt); diff != "" {
					t.Errorf("text row (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestTextHash(t *testing.T) {
	// SHA-256 of "abc" (FIPS 180-2, appendix B.1).
	if got, want := TextHash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("TextHash(abc) = %s, want %s", got, want)
	}
}
