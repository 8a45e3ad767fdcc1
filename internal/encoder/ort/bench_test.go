package ort

import (
	"fmt"
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
)

// BenchmarkRun times every benchmark model at batch 1, 8 and 32 with the
// default settings and 2 intra-op threads (the reference setting).
//
//	REELMATCH_BENCH_MODELS=/tmp/benchmodels go test -run '^$' -bench Run -benchtime 5x ./internal/encoder/ort/
func BenchmarkRun(b *testing.B) {
	for _, m := range encodertest.BenchModels(b) {
		for _, batch := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("%s/batch=%d", m.Name, batch), func(b *testing.B) {
				encodertest.BenchRun(b, Runtime{}, m, batch, encoder.SessionOptions{Threads: 2})
			})
		}
	}
}

// BenchmarkSettings sweeps ONNX Runtime session settings one at a time
// from DefaultOptions, at batch 8, to pick the defaults.
//
//	REELMATCH_BENCH_MODELS=/tmp/benchmodels go test -run '^$' -bench Settings -benchtime 5x ./internal/encoder/ort/
func BenchmarkSettings(b *testing.B) {
	type setting struct {
		name string
		edit func(*Options)
	}
	settings := []setting{
		{"default", func(*Options) {}},
		{"threads=1", func(o *Options) { o.Threads = 1 }},
		{"spinning=on", func(o *Options) { o.Spinning = true }},
		{"mempattern=off", func(o *Options) { o.MemPattern = false }},
		{"opt=basic", func(o *Options) { o.OptLevel = 1 }},
		{"opt=extended", func(o *Options) { o.OptLevel = 2 }},
	}
	for _, m := range encodertest.BenchModels(b) {
		for _, st := range settings {
			b.Run(m.Name+"/"+st.name, func(b *testing.B) {
				o := DefaultOptions()
				o.Threads = 2
				st.edit(&o)
				s, err := OpenWithOptions(m.Path, o)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				encodertest.BenchSession(b, s, m, 8)
			})
		}
	}
}
