package embcache

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/safetensors"
)

// TestLoadDetectsDamage damages a saved cache on disk the ways the
// hardening audit did and expects Load to name the file, say what is wrong
// and tell the user to rerun embed.
func TestLoadDetectsDamage(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string)
		wantErr string
	}{
		{"flipped byte in the vectors", func(t *testing.T, path string) {
			b := readFile(t, path)
			b[len(b)-5] ^= 0x10
			writeFile(t, path, b)
		}, "checksum mismatch"},
		{"swapped rows", edit(func(f *safetensors.File) {
			img := f.Tensors[tensorImage].F32
			img[0], img[1], img[2], img[3] = img[2], img[3], img[0], img[1]
		}), "checksum mismatch"},
		{"edited id list", edit(func(f *safetensors.File) { f.Metadata[keyIDs] = `["2","1","10"]` }), "checksum mismatch"},
		{"checksum removed", edit(func(f *safetensors.File) { delete(f.Metadata, safetensors.ChecksumKey) }), "no checksum"},
		{"NaN written with a valid checksum", edit(func(f *safetensors.File) {
			f.Tensors[tensorText].F32[4] = float32(math.NaN())
			f.Metadata = safetensors.Seal(f.Tensors, f.Metadata)
		}), "the intro vector of movie 2 (row 1) holds NaN"},
		{"Inf in a poster vector", edit(func(f *safetensors.File) {
			f.Tensors[tensorImage].F32[5] = float32(math.Inf(1))
			f.Metadata = safetensors.Seal(f.Tensors, f.Metadata)
		}), "the poster vector of movie 10 (row 2) holds +Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "fake.safetensors")
			if err := sample().Save(path); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, path)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load accepted a damaged cache")
			}
			for _, want := range []string{tt.wantErr, path, "rerun `reelmatch embed`"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines", err)
			}
			if tt.wantErr != "no checksum" && !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
		})
	}
}

func TestSaveRefusesNonFinite(t *testing.T) {
	f := sample()
	f.Image[1][0] = float32(math.NaN())
	path := filepath.Join(t.TempDir(), "x.safetensors")
	err := f.Save(path)
	if err == nil || !strings.Contains(err.Error(), "poster vector of movie 2") {
		t.Fatalf("Save = %v, want an error naming movie 2's poster vector", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused save left a file (stat: %v)", err)
	}
}

func TestShardFieldsRoundTrip(t *testing.T) {
	f := sample()
	f.Shard, f.Manifest = "1/4", "abc"
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Shard != "1/4" || got.Manifest != "abc" {
		t.Errorf("shard %q manifest %q, want 1/4 and abc", got.Shard, got.Manifest)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// edit returns a damage that reads the file, changes it with change and
// writes it back (its metadata, checksum included, as change left it).
func edit(change func(f *safetensors.File)) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		f, err := safetensors.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		change(f)
		if err := safetensors.WriteFile(path, f.Tensors, f.Metadata); err != nil {
			t.Fatal(err)
		}
	}
}
