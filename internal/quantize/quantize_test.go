package quantize

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	_ "github.com/reelmatch/reelmatch/internal/encoder/gomlx"
	"github.com/reelmatch/reelmatch/internal/encoder/ort"
	"github.com/reelmatch/reelmatch/internal/onnxpb"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// minCosine is the least cosine similarity accepted between a quantized
// model's output row and the float model's golden row. Published int8
// encoders keep about 0.99-0.999 on real weights; the fixtures' tiny
// random models, with 8- to 64-wide layers, have less averaging to hide
// rounding in, so this is the floor they must clear, not the usual value
// (the test logs the actual ones).
const minCosine = 0.98

// rowCosines compares got and want row by row along the first axis.
func rowCosines(t *testing.T, got, want encoder.Tensor) []float64 {
	t.Helper()
	if slices.Compare(got.Shape, want.Shape) != 0 {
		t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
	}
	n := int(want.Shape[0])
	per := len(want.F32) / n
	out := make([]float64, n)
	for i := range n {
		out[i] = reeltest.Cosine(got.F32[i*per:(i+1)*per], want.F32[i*per:(i+1)*per])
	}
	return out
}

func ortRuntime(t *testing.T) encoder.Runtime {
	t.Helper()
	if err := (ort.Runtime{}).Available(); err != nil {
		t.Fatalf("ONNX Runtime is needed (make setup): %v", err)
	}
	return ort.Runtime{}
}

func run(t *testing.T, rt encoder.Runtime, model []byte, inputs map[string]encoder.Tensor, output string) encoder.Tensor {
	t.Helper()
	path := reeltest.WriteFile(t, filepath.Join(t.TempDir(), "model.onnx"), model)
	s, err := rt.Open(path, encoder.SessionOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Run(inputs, []string{output})
	if err != nil {
		t.Fatal(err)
	}
	return res[output]
}

// graphOf returns a serialised model's graph.
func graphOf(t *testing.T, model []byte) onnxpb.Msg {
	t.Helper()
	m, err := onnxpb.Parse(model)
	if err != nil {
		t.Fatal(err)
	}
	g, err := onnxpb.Parse(m[onnxpb.GraphIndex(m)].B)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// opCounts counts a model's nodes by operator.
func opCounts(t *testing.T, model []byte) map[string]int {
	t.Helper()
	nodes, err := graphOf(t, model).Msgs(onnxpb.GraphNode)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, n := range nodes {
		out[n.Str(onnxpb.NodeOpType)]++
	}
	return out
}

func initializerNames(t *testing.T, model []byte) []string {
	t.Helper()
	inits, err := graphOf(t, model).Msgs(onnxpb.GraphInitializer)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range inits {
		names = append(names, in.Str(onnxpb.TensorName))
	}
	return names
}

// TestGoldens quantizes every fixture model and checks its outputs stay
// close to the float model's goldens on both runtimes, and that the
// operators changed as the report says.
func TestGoldens(t *testing.T) {
	rt := ortRuntime(t)
	golden := reeltest.Golden(t, "resnet-tiny/golden.safetensors")
	seed, err := golden.Tensor("seed_pixels")
	if err != nil {
		t.Fatal(err)
	}
	// The ResNet calibrates on the seed-prepared posters and is checked on
	// every case, including the torchvision-prepared ones it never saw.
	calib := []map[string]encoder.Tensor{{"pixel_values": {Shape: []int64{4, 3, 224, 224}, F32: seed.F32}}}

	type want struct{ matmuls, convs, relus int }
	wants := map[string]want{
		"resnet-tiny/model.onnx":      {0, 20, 16},
		"distilbert-tiny/model.onnx":  {12, 0, 0},
		"clip-tiny/vision_model.onnx": {13, 0, 0},
		"clip-tiny/text_model.onnx":   {13, 0, 0},
	}
	quantized := map[string][]byte{}
	for _, c := range encodertest.Cases(t) {
		rel := filepath.Base(filepath.Dir(c.Model)) + "/" + filepath.Base(c.Model)
		t.Run(c.Name, func(t *testing.T) {
			q, ok := quantized[rel]
			if !ok {
				src := reeltest.ReadFile(t, c.Model)
				// As `models quantize` defaults: 7-bit weights where the CPU
				// lacks VNNI, whose 16-bit sums full-range weights overflow.
				o := Options{ReduceRange: !HasVNNI()}
				if strings.HasPrefix(rel, "resnet") {
					o.Calibration, o.Runtime, o.TempDir = calib, rt, t.TempDir()
				}
				var rep Report
				q, rep, err = Model(src, o)
				if err != nil {
					t.Fatal(err)
				}
				w := wants[rel]
				if rep.MatMuls != w.matmuls || rep.Convs != w.convs || rep.ReLUs != w.relus {
					t.Errorf("report %+v, want %d matmuls, %d convs, %d relus", rep, w.matmuls, w.convs, w.relus)
				}
				ops := opCounts(t, q)
				if ops["MatMulInteger"] != rep.MatMuls || ops["Conv"] != rep.Convs+rep.FloatConvs || ops["Relu"] != opCounts(t, src)["Relu"]-rep.ReLUs {
					t.Errorf("operators %v do not match report %+v", ops, rep)
				}
				t.Logf("%s: %d -> %d bytes, %+v", rel, len(src), len(q), rep)
				quantized[rel] = q
			}
			for _, backend := range []string{"ort", "go"} {
				r, err := encoder.OpenRuntime(backend)
				if err != nil {
					t.Fatal(err)
				}
				got := run(t, r, q, c.Inputs, c.Output)
				cos := rowCosines(t, got, c.Want)
				t.Logf("%s on %s: cosine to float golden %.4f", c.Name, backend, cos)
				if slices.Min(cos) < minCosine {
					t.Errorf("%s on %s: cosine %.4f to the float golden, want >= %.2f", c.Name, backend, cos, minCosine)
				}
			}
		})
	}
}

// tinyModel builds a one-node model: y = op(x, w) with w a 2x2 float
// initializer, at the given opset.
func tinyModel(op string, opset int64) []byte {
	w := onnxpb.FloatTensor("w", []int64{2, 2}, []float32{1, 2, 3, 4})
	graph := onnxpb.Msg{
		onnxpb.MsgField(onnxpb.GraphNode, onnxpb.Node(op, "node", []string{"x", "w"}, []string{"y"})),
		onnxpb.MsgField(onnxpb.GraphInitializer, w),
		onnxpb.MsgField(onnxpb.GraphInput, inputInfo("x", 1, 2)),
		onnxpb.MsgField(onnxpb.GraphOutput, onnxpb.ValueInfo("y", onnxpb.DTypeFloat)),
	}
	opsetID := onnxpb.Msg{onnxpb.StrField(onnxpb.OpsetDomain, ""), onnxpb.VarintField(onnxpb.OpsetVer, opset)}
	model := onnxpb.Msg{onnxpb.VarintField(1, 8), onnxpb.MsgField(onnxpb.ModelOpset, opsetID), onnxpb.MsgField(onnxpb.ModelGraph, graph)}
	return model.Marshal()
}

// inputInfo is a float32 graph input of the given shape.
func inputInfo(name string, dims ...int64) onnxpb.Msg {
	var shape onnxpb.Msg
	for _, d := range dims {
		shape = append(shape, onnxpb.MsgField(onnxpb.ShapeDim, onnxpb.Msg{onnxpb.VarintField(1, d)})) // Dimension.dim_value
	}
	tensorType := onnxpb.Msg{onnxpb.VarintField(onnxpb.TensorTypeElt, onnxpb.DTypeFloat), onnxpb.MsgField(onnxpb.TensorTypeShp, shape)}
	return onnxpb.Msg{onnxpb.StrField(onnxpb.ValueInfoName, name), onnxpb.MsgField(onnxpb.ValueInfoType, onnxpb.Msg{onnxpb.MsgField(onnxpb.TypeTensor, tensorType)})}
}

func TestModelErrors(t *testing.T) {
	calib := []map[string]encoder.Tensor{{"x": {Shape: []int64{1, 2}, F32: []float32{1, 1}}}}
	tests := []struct {
		name  string
		model []byte
		opts  Options
		want  string
	}{
		{"not protobuf", []byte{0xff, 0xff, 0xff}, Options{}, "parse ONNX model"},
		{"no graph", onnxpb.Msg{onnxpb.VarintField(1, 8)}.Marshal(), Options{}, "no graph"},
		{"nothing to quantize", tinyModel("Add", 17), Options{}, ErrNothingToQuantize.Error()},
		{"old opset", tinyModel("MatMul", 9), Options{}, "opset 9"},
		{"per-channel needs opset 13", tinyModel("MatMul", 11), Options{Calibration: calib, Runtime: ort.Runtime{}}, "opset 13"},
		{"calibration without runtime", tinyModel("MatMul", 17), Options{Calibration: calib}, "without a runtime"},
		{"empty calibration", tinyModel("MatMul", 17), Options{Calibration: []map[string]encoder.Tensor{}, Runtime: ort.Runtime{}}, "no input batches"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Model(tc.model, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestDynamicMatMulExact checks the rewritten MatMul numerically on a
// model small enough to reason about: weights that are exact multiples
// of their scale and inputs that quantize exactly give the float result.
func TestDynamicMatMulExact(t *testing.T) {
	rt := ortRuntime(t)
	q, rep, err := Model(tinyModel("MatMul", 17), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.MatMuls != 1 || rep.FloatMatMuls != 0 {
		t.Fatalf("report %+v, want 1 quantized MatMul", rep)
	}
	ops := opCounts(t, q)
	for _, op := range []string{"DynamicQuantizeLinear", "MatMulInteger", "Cast"} {
		if ops[op] != 1 {
			t.Errorf("want one %s, got operators %v", op, ops)
		}
	}
	if names := initializerNames(t, q); slices.Contains(names, "w") {
		t.Errorf("initializers %v: the float weight w should have been dropped", names)
	}
	// x = [0, 255] quantizes exactly (scale 1, zero point 0); w's scale is
	// 4/127, so w = round(w*127/4)*4/127 to within half a step.
	x := encoder.Tensor{Shape: []int64{1, 2}, F32: []float32{0, 255}}
	got := run(t, rt, q, map[string]encoder.Tensor{"x": x}, "y")
	want := []float32{3 * 255, 4 * 255}
	for i := range want {
		if d := math.Abs(float64(got.F32[i] - want[i])); d > 255*2.0/127/2+1e-3 {
			t.Errorf("y[%d] = %g, want %g within half a weight step", i, got.F32[i], want[i])
		}
	}
}

// TestReduceRange checks that weights use the full int8 range by default
// and at most 7 bits with ReduceRange, largest magnitude at the limit.
func TestReduceRange(t *testing.T) {
	for _, tc := range []struct {
		reduce bool
		limit  int8
	}{{false, 127}, {true, 63}} {
		q, _, err := Model(tinyModel("MatMul", 17), Options{ReduceRange: tc.reduce})
		if err != nil {
			t.Fatal(err)
		}
		inits, _ := graphOf(t, q).Msgs(onnxpb.GraphInitializer)
		var weights []int8
		for _, in := range inits {
			if dt, _ := in.Varint(onnxpb.TensorDataType); dt == onnxpb.DTypeInt8 && strings.HasSuffix(in.Str(onnxpb.TensorName), "weight_quantized") {
				for _, f := range in {
					if f.Num == onnxpb.TensorRawData {
						for _, b := range f.B {
							weights = append(weights, int8(b))
						}
					}
				}
			}
		}
		// w = [1 2 3 4]: the largest maps to the limit, the rest in scale.
		want := make([]int8, 4)
		scale := float32(4) / float32(tc.limit)
		for i, w := range []float32{1, 2, 3, 4} {
			want[i] = int8(math.Round(float64(w / scale))) // in float32, as quantizeWeights
		}
		if !slices.Equal(weights, want) {
			t.Errorf("ReduceRange=%v: int8 weights %v, want %v", tc.reduce, weights, want)
		}
	}
}
