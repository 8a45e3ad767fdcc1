package encodertest

import (
	"fmt"
	"math"
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/safetensors"
)

// Tolerance is the largest accepted difference between an output and its
// golden, relative to the golden's largest magnitude: the fixtures' README
// asks for about 1e-4 for outputs computed from the same input tensor.
const Tolerance = 1e-4

// Case is one golden check: feed Inputs to Model, expect Want at Output.
type Case struct {
	Name   string
	Model  string // absolute path of the .onnx file
	Inputs map[string]encoder.Tensor
	Output string
	Want   encoder.Tensor
}

// spec names a case's files (relative to the repository's fixtures folder,
// see reeltest.Fixture) and tensors: model input name -> golden tensor. A
// golden file is read with reeltest.Golden, so tensors split off into
// "*_pixels.safetensors" siblings (seed_pixels, tv_pixels) are found too.
type spec struct {
	name, model, golden string
	inputs              map[string]string
	output, want        string
}

var specs = []spec{
	{"resnet/input", "resnet-tiny/model.onnx", "resnet-tiny/golden.safetensors",
		map[string]string{"pixel_values": "input"}, "features", "features"},
	{"resnet/seed", "resnet-tiny/model.onnx", "resnet-tiny/golden.safetensors",
		map[string]string{"pixel_values": "seed_pixels"}, "features", "seed_features"},
	{"resnet/torchvision", "resnet-tiny/model.onnx", "resnet-tiny/golden.safetensors",
		map[string]string{"pixel_values": "tv_pixels"}, "features", "tv_features"},
	{"distilbert", "distilbert-tiny/model.onnx", "distilbert-tiny/golden.safetensors",
		map[string]string{"input_ids": "input_ids", "attention_mask": "attention_mask"}, "last_hidden_state", "last_hidden_state"},
	{"clip/vision", "clip-tiny/vision_model.onnx", "clip-tiny/golden.safetensors",
		map[string]string{"pixel_values": "pixel_values"}, "image_embeds", "image_embeds"},
	{"clip/text", "clip-tiny/text_model.onnx", "clip-tiny/golden.safetensors",
		map[string]string{"input_ids": "input_ids", "attention_mask": "attention_mask"}, "text_embeds", "text_embeds"},
}

// Cases loads every golden case from the repository's fixtures.
func Cases(tb testing.TB) []Case {
	tb.Helper()
	files := map[string]*safetensors.File{}
	var cases []Case
	for _, sp := range specs {
		f, ok := files[sp.golden]
		if !ok {
			f = reeltest.Golden(tb, sp.golden)
			files[sp.golden] = f
		}
		c := Case{Name: sp.name, Model: reeltest.Fixture(tb, sp.model), Inputs: map[string]encoder.Tensor{}, Output: sp.output}
		for in, key := range sp.inputs {
			c.Inputs[in] = tensor(tb, f, sp.golden, key)
		}
		c.Want = tensor(tb, f, sp.golden, sp.want)
		cases = append(cases, c)
	}
	return cases
}

func tensor(tb testing.TB, f *safetensors.File, file, key string) encoder.Tensor {
	tb.Helper()
	t, err := f.Tensor(key)
	if err != nil {
		tb.Fatalf("%s: %v", file, err)
	}
	out := encoder.Tensor{F32: t.F32, I64: t.I64}
	for _, d := range t.Shape {
		out.Shape = append(out.Shape, int64(d))
	}
	return out
}

// Compare returns the largest absolute difference between got and want and
// whether it is within tol times want's largest magnitude. Shapes must be
// equal and both float32; otherwise it reports an error.
func Compare(got, want encoder.Tensor, tol float64) (maxDiff, scale float64, err error) {
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return 0, 0, fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	if got.F32 == nil || want.F32 == nil || len(got.F32) != len(want.F32) {
		return 0, 0, fmt.Errorf("want float32 tensors of equal length, got %d and %d values", len(got.F32), len(want.F32))
	}
	for i, w := range want.F32 {
		g := got.F32[i]
		if math.IsNaN(float64(g)) {
			return math.NaN(), 0, fmt.Errorf("value %d is NaN", i)
		}
		maxDiff = max(maxDiff, math.Abs(float64(g-w)))
		scale = max(scale, math.Abs(float64(w)))
	}
	if maxDiff > tol*scale {
		return maxDiff, scale, fmt.Errorf("max |got-want| = %.3g exceeds %.0e x scale %.3g", maxDiff, tol, scale)
	}
	return maxDiff, scale, nil
}

// rows returns rows [from, to) of t along its first axis, keeping only the
// first cols entries of axis 1 when cols >= 0 (trimming sequence padding).
func rows(t encoder.Tensor, from, to int, cols int) encoder.Tensor {
	shape := append([]int64(nil), t.Shape...)
	shape[0] = int64(to - from)
	rowLen := 1
	for _, d := range t.Shape[1:] {
		rowLen *= int(d)
	}
	inner := 1 // elements per step of axis 1
	if len(t.Shape) > 1 {
		inner = rowLen / int(t.Shape[1])
	}
	keep := rowLen
	if cols >= 0 {
		shape[1] = int64(cols)
		keep = cols * inner
	}
	out := encoder.Tensor{Shape: shape}
	for r := from; r < to; r++ {
		if t.F32 != nil {
			out.F32 = append(out.F32, t.F32[r*rowLen:r*rowLen+keep]...)
		} else {
			out.I64 = append(out.I64, t.I64[r*rowLen:r*rowLen+keep]...)
		}
	}
	return out
}

// maskLen is the number of leading ones in row r of a [batch, seq] mask.
func maskLen(mask encoder.Tensor, r int) int {
	seq := int(mask.Shape[1])
	n := 0
	for n < seq && mask.I64[r*seq+n] == 1 {
		n++
	}
	return n
}

// open opens c's model on rt, failing the test on error.
func open(t *testing.T, rt encoder.Runtime, model string) encoder.Session {
	t.Helper()
	s, err := rt.Open(model, encoder.SessionOptions{Threads: 2})
	if err != nil {
		t.Fatalf("%s: Open(%q): %v", rt.Name(), model, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func run(t *testing.T, s encoder.Session, inputs map[string]encoder.Tensor, output string) encoder.Tensor {
	t.Helper()
	res, err := s.Run(inputs, []string{output})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, ok := res[output]
	if !ok {
		t.Fatalf("Run returned %d outputs without %q", len(res), output)
	}
	return got
}
