package gomlx

import (
	"fmt"
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
)

// BenchmarkRun times the pure-Go backend. It is slow, so real-size models
// run at fewer points (image models at batch 1 and 8, DistilBERT at batch 8
// with 48 tokens, CLIP text at batch 8 with 77); the tiny fixtures run at
// 1, 8 and 32. Compilation happens in the warm-up run and is not timed.
//
//	REELMATCH_BENCH_MODELS=/tmp/benchmodels go test -run '^$' -bench Run -benchtime 3x -timeout 30m ./internal/encoder/gomlx/
func BenchmarkRun(b *testing.B) {
	for _, m := range encodertest.BenchModels(b) {
		batches := []int{1, 8, 32}
		if m.Real {
			batches = []int{1, 8}
			if m.Image == 0 {
				batches = []int{8}
			}
		}
		for _, batch := range batches {
			b.Run(fmt.Sprintf("%s/batch=%d", m.Name, batch), func(b *testing.B) {
				encodertest.BenchRun(b, Runtime{}, m, batch, encoder.SessionOptions{})
			})
		}
	}
}
