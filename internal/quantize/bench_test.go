package quantize

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/encoder/ort"
)

// BenchmarkInt8 runs each benchmark model in float32 and quantized to
// int8 on ONNX Runtime with 2 threads, at batch 8. Convolutional models
// calibrate on two random batches, which sets realistic-enough ranges for
// timing (speed does not depend on the ranges).
//
//	REELMATCH_BENCH_MODELS=/tmp/benchmodels go test -run '^$' -bench Int8 -benchtime 5x ./internal/quantize/
func BenchmarkInt8(b *testing.B) {
	rt := ort.Runtime{}
	if err := rt.Available(); err != nil {
		b.Fatal(err)
	}
	opts := encoder.SessionOptions{Threads: 2}
	for _, m := range encodertest.BenchModels(b) {
		b.Run(m.Name+"/float32", func(b *testing.B) { encodertest.BenchRun(b, rt, m, 8, opts) })
		b.Run(m.Name+"/int8", func(b *testing.B) {
			src, err := os.ReadFile(m.Path)
			if err != nil {
				b.Fatal(err)
			}
			var o Options
			if strings.Contains(m.Name, "resnet") {
				o = Options{Calibration: []map[string]encoder.Tensor{m.Inputs(2), m.Inputs(3)}, Runtime: rt, TempDir: b.TempDir()}
			}
			q, rep, err := Model(src, o)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: %d -> %d MB, %+v", m.Name, len(src)>>20, len(q)>>20, rep)
			qm := m
			qm.Path = filepath.Join(b.TempDir(), fmt.Sprintf("%s.int8.onnx", m.Name))
			if err := os.WriteFile(qm.Path, q, 0o644); err != nil {
				b.Fatal(err)
			}
			encodertest.BenchRun(b, rt, qm, 8, opts)
		})
	}
}
