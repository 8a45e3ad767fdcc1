package encodertest

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// BenchEnv names the folder of real-size random-weight models written by
// make_bench_models.py (resnet50.onnx, vit_b_32.onnx, distilbert.onnx,
// clip_text.onnx). Unset, benchmarks run on the tiny fixtures instead.
const BenchEnv = "REELMATCH_BENCH_MODELS"

// BenchModel is one model to benchmark and the input it takes.
type BenchModel struct {
	Name string // "resnet50", "vit_b_32", "distilbert", "clip_text"
	Path string
	// Output is the output to fetch; "" fetches every output.
	Output string
	// Image is the square pixel size for image models; 0 for text models.
	Image int
	// Seq is the token count per text for text models: 48 for DistilBERT
	// (a typical intro) and 77 for CLIP (its tokenizer pads to 77).
	Seq int
	// Real is false for the tiny fixture stand-ins.
	Real bool
}

// BenchModels returns the real-size models from $REELMATCH_BENCH_MODELS,
// or the repository's tiny fixtures when it is unset, and logs which.
//
// $REELMATCH_BENCH_MODELS may also be a models folder as `embed --models`
// takes it (resnet50/onnx/model.onnx, distilbert/model.onnx, and so on),
// for example what `reelmatch models quantize` wrote: the models found
// there are returned under the same names, with Output "" (every output),
// so the raw runtime is timed on exactly the files embed runs.
func BenchModels(b *testing.B) []BenchModel {
	b.Helper()
	if dir := os.Getenv(BenchEnv); dir != "" {
		if ms := modelsFolder(dir); len(ms) > 0 {
			b.Logf("models folder %s=%s: %d models", BenchEnv, dir, len(ms))
			return ms
		}
		b.Logf("real-size models from %s=%s", BenchEnv, dir)
		ms := []BenchModel{
			{"resnet50", filepath.Join(dir, "resnet50.onnx"), "features", 224, 0, true},
			{"vit_b_32", filepath.Join(dir, "vit_b_32.onnx"), "features", 224, 0, true},
			{"distilbert", filepath.Join(dir, "distilbert.onnx"), "last_hidden_state", 0, 48, true},
			{"clip_text", filepath.Join(dir, "clip_text.onnx"), "text_embeds", 0, 77, true},
		}
		for _, m := range ms {
			if _, err := os.Stat(m.Path); err != nil {
				b.Fatalf("%s: %v (make them with make_bench_models.py)", BenchEnv, err)
			}
		}
		return ms
	}
	b.Logf("%s unset: benchmarking the tiny fixtures in %s, not real-size models", BenchEnv, reeltest.FixturesDir)
	return []BenchModel{
		{"resnet-tiny", reeltest.Fixture(b, "resnet-tiny/model.onnx"), "features", 224, 0, false},
		{"clip-tiny-vision", reeltest.Fixture(b, "clip-tiny/vision_model.onnx"), "image_embeds", 64, 0, false},
		{"distilbert-tiny", reeltest.Fixture(b, "distilbert-tiny/model.onnx"), "last_hidden_state", 0, 48, false},
		{"clip-tiny-text", reeltest.Fixture(b, "clip-tiny/text_model.onnx"), "text_embeds", 0, 77, false},
	}
}

// modelsFolder lists the preset model files present in a models folder
// (internal/encoder/pretrained presets.go layout).
func modelsFolder(dir string) []BenchModel {
	var ms []BenchModel
	for _, m := range []BenchModel{
		{"resnet50", "resnet50/onnx/model.onnx", "", 224, 0, true},
		{"vit_b_32", "clip-vit-b32/onnx/vision_model.onnx", "", 224, 0, true},
		{"distilbert", "distilbert/model.onnx", "", 0, 48, true},
		{"clip_text", "clip-vit-b32/onnx/text_model.onnx", "", 0, 77, true},
	} {
		m.Path = filepath.Join(dir, filepath.FromSlash(m.Path))
		if _, err := os.Stat(m.Path); err == nil {
			ms = append(ms, m)
		}
	}
	return ms
}

// Inputs makes a seeded random batch for m: N(0,1) pixels, or token ids in
// [1000, 20000) (inside every vocabulary here) with full attention masks.
func (m BenchModel) Inputs(batch int) map[string]encoder.Tensor {
	rng := rand.New(rand.NewPCG(uint64(batch), 7))
	if m.Image > 0 {
		t := encoder.Tensor{Shape: []int64{int64(batch), 3, int64(m.Image), int64(m.Image)}}
		t.F32 = make([]float32, batch*3*m.Image*m.Image)
		for i := range t.F32 {
			t.F32[i] = float32(rng.NormFloat64())
		}
		return map[string]encoder.Tensor{"pixel_values": t}
	}
	shape := []int64{int64(batch), int64(m.Seq)}
	ids := encoder.Tensor{Shape: shape, I64: make([]int64, batch*m.Seq)}
	mask := encoder.Tensor{Shape: shape, I64: make([]int64, batch*m.Seq)}
	for i := range ids.I64 {
		ids.I64[i] = 1000 + rng.Int64N(19000)
		mask.I64[i] = 1
	}
	return map[string]encoder.Tensor{"input_ids": ids, "attention_mask": mask}
}

// BenchRun opens m on rt, runs one warm-up batch (session start-up and,
// for the Go backend, graph compilation are not what is measured), then
// times Run and reports items/s.
func BenchRun(b *testing.B, rt encoder.Runtime, m BenchModel, batch int, opts encoder.SessionOptions) {
	b.Helper()
	s, err := rt.Open(m.Path, opts)
	if err != nil {
		b.Fatalf("open %s: %v", m.Name, err)
	}
	defer s.Close()
	BenchSession(b, s, m, batch)
}

// BenchSession times an open session on m's inputs; see BenchRun.
func BenchSession(b *testing.B, s encoder.Session, m BenchModel, batch int) {
	b.Helper()
	in := m.Inputs(batch)
	var outs []string // every output
	if m.Output != "" {
		outs = []string{m.Output}
	}
	start := time.Now()
	if _, err := s.Run(in, outs); err != nil {
		b.Fatalf("run %s: %v", m.Name, err)
	}
	b.Logf("%s batch %d: first run (includes any graph compilation) %v", m.Name, batch, time.Since(start).Round(time.Millisecond))
	cpu0 := cpuSeconds()
	for b.Loop() {
		if _, err := s.Run(in, outs); err != nil {
			b.Fatalf("run %s: %v", m.Name, err)
		}
	}
	items := float64(batch) * float64(b.N)
	b.ReportMetric(items/b.Elapsed().Seconds(), "items/s")
	// items per CPU-second (all threads of the process) tells how fast the
	// runtime is when the machine is shared and wall time is noisy.
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(items/cpu, "items/cpu-s")
	}
}

// cpuSeconds is the user+system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
