package embed

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/pretrained"
	"github.com/reelmatch/reelmatch/internal/ortlib"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// TestImageStreamsSameCache checks that running poster batches side by
// side (EncoderConfig: one single-threaded ONNX Runtime call per stream,
// for int8 models) writes the feature cache byte for byte as one call at a
// time with every thread does, which is how embed ran before streams: for
// both pretrained presets, float32 (which keeps one call) and int8 as
// `models quantize` writes them. The int8 CLIP vision tower quantizes its
// activations per call over the whole batch (DynamicQuantizeLinear), so a
// stream that cut batches into parts would change its vectors: the
// batches must stay what they are.
func TestImageStreamsSameCache(t *testing.T) {
	isolateCache(t)
	ctx := context.Background()
	work, man := prepareSynth(t, 23)
	float := filepath.Join(t.TempDir(), "float32")
	if err := reeltest.LinkModels(float); err != nil {
		t.Fatal(err)
	}
	var posters []string
	for _, m := range man.Movies[:8] {
		posters = append(posters, m.PosterPath)
	}
	int8 := filepath.Join(t.TempDir(), "int8")
	for _, name := range []string{pretrained.NameResNetDistilBERT, pretrained.NameCLIP} {
		if _, err := pretrained.Quantize(ctx, name, float, int8, pretrained.QuantizeOptions{Backend: "ort", CalibrationImages: posters, ReduceRange: true}); err != nil {
			t.Fatalf("quantize %s: %v", name, err)
		}
	}
	embedBytes := func(t *testing.T, name string, cfg encoder.Config, wantStreams int) []byte {
		t.Helper()
		enc, err := encoder.New(name, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		p, ok := enc.Image().(encoder.ParallelEncoder)
		if !ok || p.EncodeStreams() != wantStreams {
			t.Fatalf("image tower runs %v Encode calls at once (ParallelEncoder %v), want %d", p, ok, wantStreams)
		}
		if err := os.RemoveAll(filepath.Dir(work.Features(name))); err != nil {
			t.Fatal(err)
		}
		// Batches of 5: 23 posters make 4 whole batches and a short one,
		// several in flight at once.
		sum, err := Run(ctx, work, man, enc, Options{BatchSize: 5})
		if err != nil {
			t.Fatal(err)
		}
		if sum.ImagesComputed != len(man.Movies) {
			t.Fatalf("computed %d posters, want %d", sum.ImagesComputed, len(man.Movies))
		}
		return reeltest.ReadFile(t, work.Features(name))
	}
	for _, name := range []string{pretrained.NameResNetDistilBERT, pretrained.NameCLIP} {
		for _, models := range []string{float, int8} {
			t.Run(fmt.Sprintf("%s/%s", name, filepath.Base(models)), func(t *testing.T) {
				// Before streams: one Encode at a time on both threads.
				want := embedBytes(t, name, encoder.Config{ModelsDir: models, Backend: "ort", Threads: 2}, 1)
				for _, streams := range []int{2, 3} {
					cfg := EncoderConfig(encoder.Config{ModelsDir: models, Backend: "ort", Threads: 2, ImageStreams: streams})
					wantStreams := streams
					if models == float {
						wantStreams = 1 // float32 towers keep one call
					}
					if got := embedBytes(t, name, cfg, wantStreams); !bytes.Equal(got, want) {
						t.Errorf("%d streams: the feature cache (%s) differs from one stream's (%s)", streams, reeltest.SHA256(got), reeltest.SHA256(want))
					}
				}
			})
		}
	}
}

// TestEncoderConfig checks the streams embed asks for: one per CPU, never
// more than --threads allows, and a choice already made is kept.
func TestEncoderConfig(t *testing.T) {
	cpus := EncoderConfig(encoder.Config{}).ImageStreams
	if cpus < 1 {
		t.Fatalf("ImageStreams = %d with every CPU, want at least 1", cpus)
	}
	tests := []struct {
		in   encoder.Config
		want int
	}{
		{encoder.Config{Threads: 1}, 1},
		{encoder.Config{Threads: 1000}, cpus},
		{encoder.Config{ImageStreams: 5}, 5},
		{encoder.Config{Threads: 1, ImageStreams: 1}, 1},
	}
	for _, tc := range tests {
		if got := EncoderConfig(tc.in).ImageStreams; got != tc.want {
			t.Errorf("EncoderConfig(%+v).ImageStreams = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// isolateCache gives the test its own XDG_CACHE_HOME, so the encoders'
// file-hash cache stays out of the user's, after pointing ORT_LIB at the
// ONNX Runtime library found in the user's (where scripts/setup.sh puts
// it), which the move would hide.
func isolateCache(t testing.TB) {
	t.Helper()
	if os.Getenv(ortlib.EnvVar) == "" {
		if lib, err := ortlib.Find(); err == nil {
			t.Setenv(ortlib.EnvVar, lib)
		}
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
}
