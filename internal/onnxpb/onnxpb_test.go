package onnxpb

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// TestRoundTrip parses and re-encodes every fixture model, graph and node
// and expects the same bytes: fields this package does not know survive.
func TestRoundTrip(t *testing.T) {
	for _, rel := range []string{"resnet-tiny/model.onnx", "distilbert-tiny/model.onnx", "clip-tiny/vision_model.onnx", "clip-tiny/text_model.onnx"} {
		t.Run(rel, func(t *testing.T) {
			src := reeltest.ReadFixture(t, rel)
			m, err := Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Marshal(); !bytes.Equal(got, src) {
				t.Fatalf("re-encoded model differs: %d bytes, want %d", len(got), len(src))
			}
			if v := Opset(m); v != 17 {
				t.Errorf("opset %d, want 17", v)
			}
			graphs, err := m.Msgs(ModelGraph)
			if err != nil || len(graphs) != 1 {
				t.Fatalf("graphs %d, %v", len(graphs), err)
			}
			nodes, err := graphs[0].Msgs(GraphNode)
			if err != nil || len(nodes) == 0 {
				t.Fatalf("nodes %d, %v", len(nodes), err)
			}
			for _, n := range nodes {
				// WithIO with the node's own inputs and outputs keeps
				// everything else, in order.
				again := WithIO(n, n.Strs(NodeInput), n.Strs(NodeOutput))
				if !slices.Equal(again.Strs(NodeInput), n.Strs(NodeInput)) || again.Str(NodeOpType) != n.Str(NodeOpType) ||
					len(again) != len(n) {
					t.Fatalf("WithIO changed node %q", n.Str(NodeName))
				}
			}
		})
	}
}

func TestTensorFloats(t *testing.T) {
	want := []float32{1.5, -2, 0, float32(math.Pi)}
	raw := FloatTensor("w", []int64{2, 2}, want)
	if got, ok := TensorFloats(raw, 4); !ok || !slices.Equal(got, want) {
		t.Errorf("raw_data: %v %v, want %v", got, ok, want)
	}
	if n, err := TensorNumel(raw); err != nil || n != 4 {
		t.Errorf("numel %d %v, want 4", n, err)
	}
	// float_data, packed.
	var packed []byte
	for _, v := range want {
		packed = binary.LittleEndian.AppendUint32(packed, math.Float32bits(v))
	}
	fd := Msg{PackedInts(TensorDims, []int64{4}), VarintField(TensorDataType, DTypeFloat), {Num: TensorFloatData, Typ: protowire.BytesType, B: packed}}
	if got, ok := TensorFloats(fd, 4); !ok || !slices.Equal(got, want) {
		t.Errorf("float_data: %v %v, want %v", got, ok, want)
	}
	if _, ok := TensorFloats(raw, 5); ok {
		t.Error("a count that does not match the data was accepted")
	}
}

func TestParseErrors(t *testing.T) {
	for _, b := range [][]byte{{0xff}, {0x0a, 0x05, 0x01}} {
		if _, err := Parse(b); err == nil {
			t.Errorf("Parse(%x) accepted a broken message", b)
		}
	}
}

func TestTensorInts(t *testing.T) {
	minus := int32(-70000)
	tests := []struct {
		name string
		t    Msg
		want []int64
		ok   bool
	}{
		{"int8", Tensor("a", DTypeInt8, []int64{3}, []byte{0x7f, 0x80, 0xff}), []int64{127, -128, -1}, true},
		{"uint8", Tensor("b", DTypeUint8, []int64{2}, []byte{0x80, 0xff}), []int64{128, 255}, true},
		{"int32", Tensor("c", DTypeInt32, nil, binary.LittleEndian.AppendUint32(nil, uint32(minus))), []int64{-70000}, true},
		{"short data", Tensor("d", DTypeInt8, []int64{4}, []byte{1, 2}), nil, false},
		{"float", FloatTensor("e", []int64{1}, []float32{1}), nil, false},
	}
	for _, tc := range tests {
		got, ok := TensorInts(tc.t)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	model := Msg{VarintField(1, 8), MsgField(ModelGraph, Msg{}), VarintField(2, 1), MsgField(ModelGraph, Msg{StrField(2, "g")})}
	if i := GraphIndex(model); i != 3 {
		t.Errorf("GraphIndex %d, want 3 (the last graph field)", i)
	}
	if i := GraphIndex(Msg{VarintField(1, 8)}); i != -1 {
		t.Errorf("GraphIndex without a graph %d, want -1", i)
	}
}

func TestValueInfoDims(t *testing.T) {
	dim := func(v int64) Msg { return Msg{VarintField(DimValue, v)} }
	symbolic := Msg{StrField(2, "batch")} // Dimension.dim_param
	valueInfo := func(dims ...Msg) Msg {
		var shape Msg
		for _, d := range dims {
			shape = append(shape, MsgField(ShapeDim, d))
		}
		tensor := Msg{VarintField(TensorTypeElt, DTypeFloat), MsgField(TensorTypeShp, shape)}
		return Msg{StrField(ValueInfoName, "x"), MsgField(ValueInfoType, Msg{MsgField(TypeTensor, tensor)})}
	}
	tests := []struct {
		name   string
		vi     Msg
		want   []int64
		wantOK bool
	}{
		{"fixed", valueInfo(dim(1), dim(3), dim(224), dim(224)), []int64{1, 3, 224, 224}, true},
		{"symbolic batch", valueInfo(symbolic, dim(512)), []int64{-1, 512}, true},
		{"scalar", valueInfo(), []int64{}, true},
		{"no shape", ValueInfo("x", DTypeFloat), nil, false},
		{"no type", Msg{StrField(ValueInfoName, "x")}, nil, false},
	}
	for _, tc := range tests {
		got, ok := ValueInfoDims(tc.vi)
		if ok != tc.wantOK || !slices.Equal(got, tc.want) || (ok && got == nil) {
			t.Errorf("%s: ValueInfoDims = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
}
