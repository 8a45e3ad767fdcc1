package embed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
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

// TestRunStreams checks the pipeline with a tower that runs several Encode
// calls at once (ParallelEncoder): batches do overlap, the cache is byte
// for byte the one a tower of one call at a time writes, and a failing
// call fails the run with its error, leaving no cache, without waiting on
// the batches still in flight forever.
func TestRunStreams(t *testing.T) {
	ctx := context.Background()
	work, man := prepareSynth(t, 23)
	if _, err := Run(ctx, work, man, &encodertest.HashEncoder{}, Options{BatchSize: 2}); err != nil {
		t.Fatal(err)
	}
	want := reeltest.ReadFile(t, work.Features(encodertest.HashEncoderName))
	removeFeatures := func() {
		t.Helper()
		if err := os.RemoveAll(filepath.Dir(work.Features(encodertest.HashEncoderName))); err != nil {
			t.Fatal(err)
		}
	}

	removeFeatures()
	enc := &streamEncoder{HashEncoder: &encodertest.HashEncoder{}, streams: 3}
	if _, err := Run(ctx, work, man, enc, Options{BatchSize: 2}); err != nil {
		t.Fatal(err)
	}
	if got := reeltest.ReadFile(t, work.Features(encodertest.HashEncoderName)); !bytes.Equal(got, want) {
		t.Error("the feature cache written with 3 batches in flight differs from one batch at a time's")
	}
	if enc.most.Load() < 2 {
		t.Errorf("at most %d Encode calls ran at once, want batches side by side", enc.most.Load())
	}
	if enc.most.Load() > 3 {
		t.Errorf("%d Encode calls ran at once, more than the tower's 3", enc.most.Load())
	}

	removeFeatures()
	enc = &streamEncoder{HashEncoder: &encodertest.HashEncoder{}, streams: 3, failCall: 4}
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, work, man, enc, Options{BatchSize: 2})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "encode posters: "+errStreamFake.Error()) {
			t.Fatalf("err %v, want the failing Encode's", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after an Encode failed")
	}
	if _, err := os.Stat(work.Features(encodertest.HashEncoderName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed run left a feature cache (stat err %v)", err)
	}
}

var errStreamFake = errors.New("fake encode failure")

// streamEncoder is the hash encoder with an image tower that lets streams
// Encode calls run at once and counts the most that did; its call number
// failCall (from 1; 0 never) fails.
type streamEncoder struct {
	*encodertest.HashEncoder
	streams         int
	failCall        int64
	calls, inflight atomic.Int64
	most            atomic.Int64
}

func (e *streamEncoder) Image() encoder.ImageTower { return streamTower{e.HashEncoder.Image(), e} }

type streamTower struct {
	encoder.ImageTower
	e *streamEncoder
}

func (t streamTower) EncodeStreams() int { return t.e.streams }

func (t streamTower) Encode(ctx context.Context, inputs [][]float32) ([][]float32, error) {
	e := t.e
	n := e.inflight.Add(1)
	defer e.inflight.Add(-1)
	for m := e.most.Load(); n > m && !e.most.CompareAndSwap(m, n); m = e.most.Load() {
	}
	// The first call in flight waits a while for a second one, so a
	// pipeline that keeps batches side by side shows it.
	for deadline := time.Now().Add(300 * time.Millisecond); e.inflight.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if e.calls.Add(1) == e.failCall {
		return nil, errStreamFake
	}
	return t.ImageTower.Encode(ctx, inputs)
}
