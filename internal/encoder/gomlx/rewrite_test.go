package gomlx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/onnxpb"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// Tiny ONNX models built field by field (onnx.proto3 numbering), so each
// rewrite and refusal is tested on the smallest graph that needs it.

// valueInfo declares a tensor; a negative dim is dynamic ("batch").
func valueInfo(name string, elemType int64, dims ...int64) onnxpb.Field {
	shape := onnxpb.Msg{}
	for _, d := range dims {
		if d < 0 {
			shape = append(shape, onnxpb.MsgField(onnxpb.ShapeDim, onnxpb.Msg{onnxpb.StrField(2, "batch")}))
		} else {
			shape = append(shape, onnxpb.MsgField(onnxpb.ShapeDim, onnxpb.Msg{onnxpb.VarintField(1, d)}))
		}
	}
	tensorType := onnxpb.Msg{onnxpb.VarintField(1, elemType), onnxpb.MsgField(onnxpb.TensorTypeShp, shape)}
	return onnxpb.MsgField(0, onnxpb.Msg{onnxpb.StrField(onnxpb.ValueInfoName, name), onnxpb.MsgField(onnxpb.ValueInfoType, onnxpb.Msg{onnxpb.MsgField(onnxpb.TypeTensor, tensorType)})})
}

// buildModel writes a one-graph model (opset 17) to a temp file; inits
// are initializers (TensorProtos with names).
func buildModel(t *testing.T, nodes []onnxpb.Msg, inputs, outputs []onnxpb.Field, inits ...onnxpb.Msg) string {
	t.Helper()
	g := onnxpb.Msg{}
	for _, in := range inits {
		g = append(g, onnxpb.MsgField(onnxpb.GraphInitializer, in))
	}
	for _, n := range nodes {
		g = append(g, onnxpb.MsgField(onnxpb.GraphNode, n))
	}
	g = append(g, onnxpb.StrField(2, "test"))
	for _, in := range inputs {
		in.Num = onnxpb.GraphInput
		g = append(g, in)
	}
	for _, out := range outputs {
		out.Num = 12 // GraphProto.output
		g = append(g, out)
	}
	m := onnxpb.Msg{
		onnxpb.VarintField(1, 8), // ir_version
		onnxpb.MsgField(8, onnxpb.Msg{onnxpb.StrField(1, ""), onnxpb.VarintField(2, 17)}), // opset_import
		onnxpb.MsgField(onnxpb.ModelGraph, g),
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(path, m.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func float32Tensor(dims []int64, vs ...float32) onnxpb.Msg {
	var raw []byte
	for _, v := range vs {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	return onnxpb.Msg{onnxpb.PackedInts(onnxpb.TensorDims, dims), onnxpb.VarintField(onnxpb.TensorDataType, onnxpb.DTypeFloat), {Num: onnxpb.TensorRawData, Typ: 2, B: raw}}
}

func runModel(t *testing.T, path string, in encoder.Tensor, output string) encoder.Tensor {
	t.Helper()
	s, err := Runtime{}.Open(path, encoder.SessionOptions{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	res, err := s.Run(map[string]encoder.Tensor{"x": in}, []string{output})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res[output]
}

// TestRewrites runs a tiny graph for each rewrite; onnx-gomlx v0.5.0
// cannot build any of them as exported.
func TestRewrites(t *testing.T) {
	x := encoder.Tensor{Shape: []int64{2, 3}, F32: []float32{1, 2, 3, 4, 5, 6}}
	tests := []struct {
		name  string
		nodes []onnxpb.Msg
		in    encoder.Tensor
		out   onnxpb.Field
		want  encoder.Tensor
		note  string
	}{
		{
			name: "ConstantOfShape of empty shape is a scalar",
			nodes: []onnxpb.Msg{
				onnxpb.Node("Constant", "empty", nil, []string{"shape"}, onnxpb.TensorAttr("value", onnxpb.Int64Tensor([]int64{0}, nil))),
				onnxpb.Node("ConstantOfShape", "c", []string{"shape"}, []string{"c"}, onnxpb.TensorAttr("value", float32Tensor([]int64{1}, 2.5))),
				onnxpb.Node("Add", "add", []string{"x", "c"}, []string{"y"}),
			},
			in:   x,
			out:  valueInfo("y", onnxpb.DTypeFloat, -1, 3),
			want: encoder.Tensor{Shape: []int64{2, 3}, F32: []float32{3.5, 4.5, 5.5, 6.5, 7.5, 8.5}},
			note: `ConstantOfShape "c"`,
		},
		{
			name: "Flatten at axis == rank",
			nodes: []onnxpb.Msg{
				onnxpb.Node("Cast", "cast", []string{"x"}, []string{"xc"}, onnxpb.IntAttr("to", onnxpb.DTypeFloat)),
				onnxpb.Node("Flatten", "flat", []string{"xc"}, []string{"y"}, onnxpb.IntAttr("axis", 2)),
			},
			in:   x,
			out:  valueInfo("y", onnxpb.DTypeFloat, -1, 1),
			want: encoder.Tensor{Shape: []int64{6, 1}, F32: []float32{1, 2, 3, 4, 5, 6}},
			note: `Flatten "flat"`,
		},
		{
			name: "MaxPool with unit dilations",
			nodes: []onnxpb.Msg{
				onnxpb.Node("MaxPool", "pool", []string{"x"}, []string{"y"},
					onnxpb.IntsAttr("kernel_shape", 2, 2), onnxpb.IntsAttr("strides", 2, 2), onnxpb.IntsAttr("dilations", 1, 1)),
			},
			in: encoder.Tensor{Shape: []int64{1, 1, 4, 4}, F32: []float32{
				1, 2, 3, 4,
				5, 6, 7, 8,
				9, 10, 11, 12,
				13, 14, 15, 16}},
			out:  valueInfo("y", onnxpb.DTypeFloat, -1, 1, 2, 2),
			want: encoder.Tensor{Shape: []int64{1, 1, 2, 2}, F32: []float32{6, 8, 14, 16}},
			note: `MaxPool "pool"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xDims := make([]int64, len(tt.in.Shape))
			copy(xDims, tt.in.Shape)
			xDims[0] = -1
			path := buildModel(t, tt.nodes, []onnxpb.Field{valueInfo("x", onnxpb.DTypeFloat, xDims...)}, []onnxpb.Field{tt.out})
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, notes, err := rewriteModel(data)
			if err != nil {
				t.Fatalf("rewriteModel: %v", err)
			}
			if len(notes) != 1 || !strings.Contains(notes[0], tt.note) {
				t.Errorf("rewriteModel notes = %q, want one about %s", notes, tt.note)
			}
			got := runModel(t, path, tt.in, "y")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRewriteLeavesOthersAlone: a Flatten below the input rank (as in CLIP
// text's pooling) and dilations other than 1 must not be rewritten.
func TestRewriteLeavesOthersAlone(t *testing.T) {
	path := buildModel(t, []onnxpb.Msg{
		onnxpb.Node("Flatten", "flat", []string{"x"}, []string{"f"}, onnxpb.IntAttr("axis", 2)),
		onnxpb.Node("MaxPool", "pool", []string{"x"}, []string{"y"}, onnxpb.IntsAttr("kernel_shape", 2), onnxpb.IntsAttr("dilations", 2)),
	}, []onnxpb.Field{valueInfo("x", onnxpb.DTypeFloat, -1, 3, 4)}, []onnxpb.Field{valueInfo("f", onnxpb.DTypeFloat, -1, 4)})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, notes, err := rewriteModel(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 || !bytes.Equal(out, data) {
		t.Errorf("rewriteModel changed the model: %q", notes)
	}
}

// TestRewriteFixtures pins which rewrites each fixture needs, and checks
// that parsing and re-marshalling a model is byte-exact, so untouched
// fields (weights) survive.
func TestRewriteFixtures(t *testing.T) {
	tests := []struct {
		model string
		want  map[string]int // rewritten nodes by op
	}{
		{"resnet-tiny/model.onnx", map[string]int{"MaxPool": 1, "Conv": 20}},
		{"distilbert-tiny/model.onnx", map[string]int{"ConstantOfShape": 1, "Flatten": 1}},
		{"clip-tiny/text_model.onnx", map[string]int{"ConstantOfShape": 1, "Flatten": 1}},
		{"clip-tiny/vision_model.onnx", map[string]int{"Conv": 1}}, // the 16x16 patch embedding
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			data, err := os.ReadFile(reeltest.Fixture(t, tt.model))
			if err != nil {
				t.Fatal(err)
			}
			m, err := onnxpb.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Marshal(), data) {
				t.Errorf("parse+marshal is not byte-exact")
			}
			_, notes, err := rewriteModel(data)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, n := range notes {
				got[strings.Fields(n)[0]]++
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rewrites (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnsupportedModel: a model onnx-gomlx cannot build is refused at Open
// with one line naming the operator and suggesting --backend ort.
func TestUnsupportedModel(t *testing.T) {
	x := []onnxpb.Field{valueInfo("x", onnxpb.DTypeFloat, -1, 3)}
	y := []onnxpb.Field{valueInfo("y", onnxpb.DTypeFloat, -1, 3)}
	tests := []struct {
		name  string
		nodes []onnxpb.Msg
		want  string
	}{
		{"unknown op", []onnxpb.Msg{onnxpb.Node("Hardmax", "hm", []string{"x"}, []string{"y"})}, `node "hm" uses ONNX operator Hardmax`},
		{"op in subgraph", []onnxpb.Msg{onnxpb.Node("If", "if", []string{"x"}, []string{"y"}, onnxpb.Msg{
			onnxpb.StrField(onnxpb.AttrName, "then_branch"), onnxpb.VarintField(onnxpb.AttrType, 5),
			onnxpb.MsgField(onnxpb.AttrG, onnxpb.Msg{onnxpb.MsgField(onnxpb.GraphNode, onnxpb.Node("Det", "det", []string{"x"}, []string{"y"}))}),
		})}, `node "det" uses ONNX operator Det`},
		{"MaxPool ceil_mode", []onnxpb.Msg{onnxpb.Node("MaxPool", "pool", []string{"x"}, []string{"y"}, onnxpb.IntsAttr("kernel_shape", 2), onnxpb.IntAttr("ceil_mode", 1))},
			`node "pool" uses ONNX operator MaxPool with ceil_mode=1`},
		{"MaxPool dilations", []onnxpb.Msg{onnxpb.Node("MaxPool", "pool", []string{"x"}, []string{"y"}, onnxpb.IntsAttr("kernel_shape", 2), onnxpb.IntsAttr("dilations", 2))},
			`node "pool" uses ONNX operator MaxPool with dilations=[2]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := buildModel(t, tt.nodes, x, y)
			_, err := Runtime{}.Open(path, encoder.SessionOptions{})
			if !errors.Is(err, encoder.ErrUnsupportedModel) {
				t.Fatalf("Open: %v, want an error wrapping ErrUnsupportedModel", err)
			}
			msg := err.Error()
			for _, want := range []string{tt.want, "model.onnx", "--backend ort"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
		})
	}
}

func TestBucket(t *testing.T) {
	for _, tt := range []struct{ n, want int }{{1, 1}, {2, 2}, {3, 4}, {5, 8}, {8, 8}, {9, 16}, {33, 64}, {64, 64}, {65, 128}, {200, 256}} {
		if got := bucket(tt.n); got != tt.want {
			t.Errorf("bucket(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

// directConv is the textbook NCHW convolution the rewrite must match.
func directConv(x []float32, n, c, h, w int, wt []float32, k, kh, kw int, bias []float32, stride, pads [2]int, padEnd [2]int) ([]float32, int, int) {
	ho := (h+pads[0]+padEnd[0]-kh)/stride[0] + 1
	wo := (w+pads[1]+padEnd[1]-kw)/stride[1] + 1
	out := make([]float32, n*k*ho*wo)
	for b := range n {
		for ko := range k {
			for oy := range ho {
				for ox := range wo {
					var sum float32
					if bias != nil {
						sum = bias[ko]
					}
					for ci := range c {
						for i := range kh {
							for j := range kw {
								y, xx := oy*stride[0]+i-pads[0], ox*stride[1]+j-pads[1]
								if y < 0 || y >= h || xx < 0 || xx >= w {
									continue
								}
								sum += x[((b*c+ci)*h+y)*w+xx] * wt[((ko*c+ci)*kh+i)*kw+j]
							}
						}
					}
					out[((b*k+ko)*ho+oy)*wo+ox] = sum
				}
			}
		}
	}
	return out, ho, wo
}

// TestConvAsMatMul checks the im2col rewrite against a direct convolution
// for the shapes ResNet uses: 1x1, strided 1x1, padded 3x3 (stride 1 and
// 2), a 7x7 stem, plus asymmetric pads and no bias.
func TestConvAsMatMul(t *testing.T) {
	tests := []struct {
		name         string
		c, h, w      int
		k, kh, kw    int
		stride       [2]int
		pads, padEnd [2]int
		bias         bool
	}{
		{"1x1", 3, 5, 4, 2, 1, 1, [2]int{1, 1}, [2]int{}, [2]int{}, true},
		{"1x1 stride 2", 3, 5, 4, 2, 1, 1, [2]int{2, 2}, [2]int{}, [2]int{}, false},
		{"3x3 pad 1", 2, 6, 5, 3, 3, 3, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}, true},
		{"3x3 stride 2 pad 1", 2, 7, 6, 3, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1}, true},
		{"7x7 stride 2 pad 3", 3, 11, 9, 2, 7, 7, [2]int{2, 2}, [2]int{3, 3}, [2]int{3, 3}, true},
		{"2x3 asymmetric pads", 2, 5, 6, 2, 2, 3, [2]int{1, 2}, [2]int{1, 0}, [2]int{0, 2}, false},
		{"2x3 patch embedding", 3, 4, 9, 5, 2, 3, [2]int{2, 3}, [2]int{}, [2]int{}, true},
		{"9x9 patch embedding", 2, 9, 18, 3, 9, 9, [2]int{9, 9}, [2]int{}, [2]int{}, false},
	}
	for ti, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 2
			x := make([]float32, n*tt.c*tt.h*tt.w)
			for i := range x {
				x[i] = float32((i*7+ti)%13) - 6
			}
			wt := make([]float32, tt.k*tt.c*tt.kh*tt.kw)
			for i := range wt {
				wt[i] = float32((i*5+3)%11)/4 - 1
			}
			var bias []float32
			ins := []string{"x", "W"}
			inits := []onnxpb.Msg{append(float32Tensor([]int64{int64(tt.k), int64(tt.c), int64(tt.kh), int64(tt.kw)}, wt...), onnxpb.StrField(onnxpb.TensorName, "W"))}
			if tt.bias {
				bias = make([]float32, tt.k)
				for i := range bias {
					bias[i] = float32(i) + 0.5
				}
				ins = append(ins, "B")
				inits = append(inits, append(float32Tensor([]int64{int64(tt.k)}, bias...), onnxpb.StrField(onnxpb.TensorName, "B")))
			}
			want, ho, wo := directConv(x, n, tt.c, tt.h, tt.w, wt, tt.k, tt.kh, tt.kw, bias, tt.stride, tt.pads, tt.padEnd)
			conv := onnxpb.Node("Conv", "conv", ins, []string{"y"},
				onnxpb.IntsAttr("kernel_shape", int64(tt.kh), int64(tt.kw)),
				onnxpb.IntsAttr("strides", int64(tt.stride[0]), int64(tt.stride[1])),
				onnxpb.IntsAttr("pads", int64(tt.pads[0]), int64(tt.pads[1]), int64(tt.padEnd[0]), int64(tt.padEnd[1])))
			path := buildModel(t, []onnxpb.Msg{conv},
				[]onnxpb.Field{valueInfo("x", onnxpb.DTypeFloat, -1, int64(tt.c), int64(tt.h), int64(tt.w))},
				[]onnxpb.Field{valueInfo("y", onnxpb.DTypeFloat, -1, int64(tt.k), int64(ho), int64(wo))}, inits...)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, notes, err := rewriteModel(data)
			if err != nil || len(notes) != 1 {
				t.Fatalf("rewriteModel: notes %q, err %v; want one Conv rewrite", notes, err)
			}
			if patch := strings.Contains(tt.name, "patch"); patch != strings.Contains(notes[0], "patch embedding") {
				t.Errorf("rewriteModel note %q, want patch embedding: %v", notes[0], patch)
			}
			got := runModel(t, path, encoder.Tensor{Shape: []int64{n, int64(tt.c), int64(tt.h), int64(tt.w)}, F32: x}, "y")
			wantT := encoder.Tensor{Shape: []int64{n, int64(tt.k), int64(ho), int64(wo)}, F32: want}
			if _, _, err := encodertest.Compare(got, wantT, 1e-5); err != nil {
				t.Errorf("conv as matmul: %v", err)
			}
		})
	}
}

// TestFoldDequantize: constant int8 weights (per axis, with zero points)
// and an int32 bias (per tensor) are folded into float32 initializers,
// and the model computes the same values as dequantizing at run time.
func TestFoldDequantize(t *testing.T) {
	// w = (wq - zp[col]) * scale[col], axis 1 of [3, 2].
	int8s := func(vs ...int8) []byte {
		out := make([]byte, len(vs))
		for i, v := range vs {
			out[i] = byte(v)
		}
		return out
	}
	wq := int8s(3, -4, 0, 10, -1, 2)
	zp := int8s(1, -2)
	scale := []float32{0.5, 0.25}
	minus8 := int32(-8)
	bias := binary.LittleEndian.AppendUint32(nil, uint32(minus8))
	nodes := []onnxpb.Msg{
		onnxpb.Node("DequantizeLinear", "dq_w", []string{"wq", "ws", "wz"}, []string{"w"}, onnxpb.IntAttr("axis", 1)),
		onnxpb.Node("DequantizeLinear", "dq_b", []string{"bq", "bs"}, []string{"b"}),
		onnxpb.Node("MatMul", "mm", []string{"x", "w"}, []string{"xw"}),
		onnxpb.Node("Add", "add", []string{"xw", "b"}, []string{"y"}),
	}
	path := buildModel(t, nodes, []onnxpb.Field{valueInfo("x", onnxpb.DTypeFloat, -1, 3)}, []onnxpb.Field{valueInfo("y", onnxpb.DTypeFloat, -1, 2)},
		onnxpb.Tensor("wq", onnxpb.DTypeInt8, []int64{3, 2}, wq),
		onnxpb.FloatTensor("ws", []int64{2}, scale),
		onnxpb.Tensor("wz", onnxpb.DTypeInt8, []int64{2}, zp),
		onnxpb.Tensor("bq", onnxpb.DTypeInt32, nil, bias),
		onnxpb.FloatTensor("bs", nil, []float32{0.125}))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rewritten, notes, err := rewriteModel(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], `DequantizeLinear "dq_w"`) || !strings.Contains(notes[1], `"dq_b"`) {
		t.Errorf("notes %q, want the two DequantizeLinear folds", notes)
	}
	if bytes.Contains(rewritten, []byte("DequantizeLinear")) || bytes.Contains(rewritten, []byte("wq")) {
		t.Error("the rewritten model still holds a DequantizeLinear node or the int8 weight")
	}
	// w = [[1, -0.5], [-0.5, 3], [-1, 1]], b = -1.
	x := encoder.Tensor{Shape: []int64{1, 3}, F32: []float32{1, 2, 3}}
	want := encoder.Tensor{Shape: []int64{1, 2}, F32: []float32{1 - 1 - 3 - 1, -0.5 + 6 + 3 - 1}}
	if diff := cmp.Diff(want, runModel(t, path, x, "y")); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
