package pretrained

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// TestImageStreams checks which image towers take Config.ImageStreams (int8
// models on ONNX Runtime, which runs calls in parallel; not float32 models,
// not the pure-Go backend, not without the setting), and that Encode calls
// made at once from several goroutines return exactly the vectors of the
// same batches encoded one at a time on every thread.
func TestImageStreams(t *testing.T) {
	int8 := t.TempDir()
	if _, err := Quantize(context.Background(), NameCLIP, testModels, int8, QuantizeOptions{Backend: "ort", ReduceRange: true}); err != nil {
		t.Fatal(err)
	}
	rg := reeltest.Golden(t, goldenCLIP)
	pixels := rows(tensor(t, rg, "pixel_values"))
	// Batches of 1 to 7 rows in rotating order.
	var batches [][][]float32
	for i := range 7 {
		var b [][]float32
		for j := range 1 + i {
			b = append(b, pixels[(i+j)%len(pixels)])
		}
		batches = append(batches, b)
	}
	tests := []struct {
		name        string
		cfg         encoder.Config
		wantStreams int
	}{
		{"ort int8", encoder.Config{ModelsDir: int8, Backend: "ort", Threads: 2, ImageStreams: 2}, 2},
		{"ort int8, 3 streams on 2 threads", encoder.Config{ModelsDir: int8, Backend: "ort", Threads: 2, ImageStreams: 3}, 3},
		{"ort int8 without ImageStreams", encoder.Config{ModelsDir: int8, Backend: "ort", Threads: 2}, 1},
		{"ort float32", encoder.Config{Backend: "ort", Threads: 2, ImageStreams: 2}, 1},
		{"go int8", encoder.Config{ModelsDir: int8, Backend: "go", Threads: 2, ImageStreams: 2}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := newEncoder(t, NameCLIP, tc.cfg)
			if got := enc.img.EncodeStreams(); got != tc.wantStreams {
				t.Fatalf("EncodeStreams() = %d, want %d", got, tc.wantStreams)
			}
			if tc.wantStreams == 1 {
				return
			}
			ref := tc.cfg
			ref.ImageStreams = 0
			one := newEncoder(t, NameCLIP, ref)
			want := make([][][]float32, len(batches))
			for i, b := range batches {
				v, err := one.Image().Encode(context.Background(), b)
				if err != nil {
					t.Fatal(err)
				}
				want[i] = v
			}
			got := make([][][]float32, len(batches))
			errs := make([]error, len(batches))
			var wg sync.WaitGroup
			for i, b := range batches {
				wg.Go(func() { got[i], errs[i] = enc.Image().Encode(context.Background(), b) })
			}
			wg.Wait()
			for i := range batches {
				if errs[i] != nil {
					t.Fatalf("batch %d: %v", i, errs[i])
				}
				if diff := cmp.Diff(want[i], got[i]); diff != "" {
					t.Errorf("batch %d (-one at a time +side by side):\n%s", i, diff)
				}
			}
			// A cancelled context stops an Encode about to run, and one
			// waiting for its turn while every stream is taken.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := enc.Image().Encode(ctx, batches[0]); err != context.Canceled {
				t.Errorf("cancelled: err = %v, want %v", err, context.Canceled)
			}
			for range cap(enc.img.slots) {
				enc.img.slots <- struct{}{}
			}
			ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if _, err := enc.Image().Encode(ctx, batches[0]); err != context.DeadlineExceeded {
				t.Errorf("waiting for a stream: err = %v, want %v", err, context.DeadlineExceeded)
			}
			for range cap(enc.img.slots) {
				<-enc.img.slots
			}
		})
	}
}

func TestHasIntegerOps(t *testing.T) {
	int8 := t.TempDir()
	if _, err := Quantize(context.Background(), NameResNetDistilBERT, testModels, int8, QuantizeOptions{
		Backend: "ort", CalibrationImages: fixtureImages(t), ReduceRange: true,
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir, path string
		want      bool
	}{
		{testModels, "resnet50/onnx/model.onnx", false},
		{testModels, "distilbert/model.onnx", false},
		{int8, "resnet50/onnx/model.onnx", true}, // static: QDQ pairs
		{int8, "distilbert/model.onnx", true},    // dynamic: MatMulInteger
	}
	for _, tc := range tests {
		_, _, ops, err := modelGraph(tc.dir + "/" + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := hasIntegerOps(ops); got != tc.want {
			t.Errorf("%s (int8 copy: %v): hasIntegerOps = %v, want %v (ops %v)", tc.path, tc.dir == int8, got, tc.want, ops)
		}
	}
}
