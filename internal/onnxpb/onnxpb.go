package onnxpb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers from onnx/onnx.proto3.
const (
	ModelGraph  = 7
	ModelOpset  = 8
	OpsetDomain = 1
	OpsetVer    = 2

	GraphNode        = 1
	GraphInitializer = 5
	GraphInput       = 11
	GraphOutput      = 12
	GraphValueInfo   = 13

	NodeInput     = 1
	NodeOutput    = 2
	NodeName      = 3
	NodeOpType    = 4
	NodeAttribute = 5

	AttrName   = 1
	AttrF      = 2
	AttrI      = 3
	AttrT      = 5
	AttrG      = 6
	AttrInts   = 8
	AttrGraphs = 11
	AttrType   = 20

	TensorDims      = 1
	TensorDataType  = 2
	TensorFloatData = 4
	TensorInt64Data = 7
	TensorName      = 8
	TensorRawData   = 9
	TensorLocation  = 14

	ValueInfoName = 1
	ValueInfoType = 2
	TypeTensor    = 1
	TensorTypeElt = 1
	TensorTypeShp = 2
	ShapeDim      = 1
	DimValue      = 1

	// AttributeProto.AttributeType values.
	AttrTypeFloat  = 1
	AttrTypeInt    = 2
	AttrTypeTensor = 4
	AttrTypeInts   = 7

	// TensorProto.DataType values.
	DTypeFloat = 1
	DTypeUint8 = 2
	DTypeInt8  = 3
	DTypeInt32 = 6
	DTypeInt64 = 7
)

// Field is one field as it appears on the wire: a varint or fixed value
// in V, or the payload of a length-delimited field in B.
type Field struct {
	Num protowire.Number
	Typ protowire.Type
	V   uint64
	B   []byte
}

// Msg is a decoded message: its fields in wire order.
type Msg []Field

func Parse(b []byte) (Msg, error) {
	var m Msg
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		f := Field{Num: num, Typ: typ}
		switch typ {
		case protowire.VarintType:
			f.V, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.V = uint64(v)
		case protowire.Fixed64Type:
			f.V, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.B, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n >= 0 {
				return nil, fmt.Errorf("field %d: unsupported wire type %d", num, typ)
			}
		}
		if n < 0 {
			return nil, fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		m = append(m, f)
	}
	return m, nil
}

func (m Msg) Marshal() []byte {
	var out []byte
	for _, f := range m {
		out = protowire.AppendTag(out, f.Num, f.Typ)
		switch f.Typ {
		case protowire.VarintType:
			out = protowire.AppendVarint(out, f.V)
		case protowire.Fixed32Type:
			out = protowire.AppendFixed32(out, uint32(f.V))
		case protowire.Fixed64Type:
			out = protowire.AppendFixed64(out, f.V)
		case protowire.BytesType:
			out = protowire.AppendBytes(out, f.B)
		}
	}
	return out
}

// str returns the last occurrence of a string field (proto3 semantics).
func (m Msg) Str(num protowire.Number) string {
	s := ""
	for _, f := range m {
		if f.Num == num && f.Typ == protowire.BytesType {
			s = string(f.B)
		}
	}
	return s
}

func (m Msg) Strs(num protowire.Number) []string {
	var out []string
	for _, f := range m {
		if f.Num == num && f.Typ == protowire.BytesType {
			out = append(out, string(f.B))
		}
	}
	return out
}

func (m Msg) Varint(num protowire.Number) (int64, bool) {
	var v int64
	found := false
	for _, f := range m {
		if f.Num == num && f.Typ == protowire.VarintType {
			v, found = int64(f.V), true
		}
	}
	return v, found
}

// ints reads a repeated int64 field in packed or unpacked form.
func (m Msg) Ints(num protowire.Number) ([]int64, error) {
	var out []int64
	for _, f := range m {
		if f.Num != num {
			continue
		}
		switch f.Typ {
		case protowire.VarintType:
			out = append(out, int64(f.V))
		case protowire.BytesType:
			b := f.B
			for len(b) > 0 {
				v, n := protowire.ConsumeVarint(b)
				if n < 0 {
					return nil, fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
				}
				out = append(out, int64(v))
				b = b[n:]
			}
		}
	}
	return out, nil
}

func (m Msg) Msgs(num protowire.Number) ([]Msg, error) {
	var out []Msg
	for _, f := range m {
		if f.Num == num && f.Typ == protowire.BytesType {
			sub, err := Parse(f.B)
			if err != nil {
				return nil, err
			}
			out = append(out, sub)
		}
	}
	return out, nil
}

// without returns m minus every field numbered num.
func (m Msg) Without(num protowire.Number) Msg {
	out := make(Msg, 0, len(m))
	for _, f := range m {
		if f.Num != num {
			out = append(out, f)
		}
	}
	return out
}

func StrField(num protowire.Number, s string) Field {
	return Field{Num: num, Typ: protowire.BytesType, B: []byte(s)}
}

func VarintField(num protowire.Number, v int64) Field {
	return Field{Num: num, Typ: protowire.VarintType, V: uint64(v)}
}

func MsgField(num protowire.Number, m Msg) Field {
	return Field{Num: num, Typ: protowire.BytesType, B: m.Marshal()}
}

func PackedInts(num protowire.Number, vs []int64) Field {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendVarint(b, uint64(v))
	}
	return Field{Num: num, Typ: protowire.BytesType, B: b}
}

// TensorNumel is the element count of a TensorProto from its dims.
func TensorNumel(t Msg) (int64, error) {
	dims, err := t.Ints(TensorDims)
	if err != nil {
		return 0, err
	}
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n, nil
}

// Int64Tensor builds a TensorProto holding vs with the given dims.
func Int64Tensor(dims []int64, vs []int64) Msg {
	return Msg{PackedInts(TensorDims, dims), VarintField(TensorDataType, DTypeInt64), PackedInts(TensorInt64Data, vs)}
}

// Float32Scalar builds a rank-0 float TensorProto.
func Float32Scalar(v float32) Msg {
	raw := binary.LittleEndian.AppendUint32(nil, math.Float32bits(v))
	return Msg{VarintField(TensorDataType, DTypeFloat), {Num: TensorRawData, Typ: protowire.BytesType, B: raw}}
}

// Node builds a NodeProto.
func Node(op, name string, ins, outs []string, attrs ...Msg) Msg {
	n := Msg{}
	for _, in := range ins {
		n = append(n, StrField(NodeInput, in))
	}
	for _, o := range outs {
		n = append(n, StrField(NodeOutput, o))
	}
	n = append(n, StrField(NodeName, name), StrField(NodeOpType, op))
	for _, a := range attrs {
		n = append(n, MsgField(NodeAttribute, a))
	}
	return n
}

func IntAttr(name string, v int64) Msg {
	return Msg{StrField(AttrName, name), VarintField(AttrType, AttrTypeInt), VarintField(AttrI, v)}
}

func IntsAttr(name string, vs ...int64) Msg {
	return Msg{StrField(AttrName, name), VarintField(AttrType, AttrTypeInts), PackedInts(AttrInts, vs)}
}

func TensorAttr(name string, t Msg) Msg {
	return Msg{StrField(AttrName, name), VarintField(AttrType, AttrTypeTensor), MsgField(AttrT, t)}
}

// ErrNoGraph is returned for a file that parses but holds no graph.
var ErrNoGraph = errors.New("model has no graph")

// TensorFloats decodes a float32 TensorProto's n values from raw_data or
// float_data; external data is not read here (ok=false).
func TensorFloats(t Msg, n int) ([]float32, bool) {
	for _, f := range t {
		if f.Num == TensorRawData && f.Typ == protowire.BytesType {
			if len(f.B) != 4*n {
				return nil, false
			}
			out := make([]float32, n)
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(f.B[4*i:]))
			}
			return out, true
		}
	}
	var out []float32
	for _, f := range t {
		if f.Num != TensorFloatData {
			continue
		}
		switch f.Typ {
		case protowire.Fixed32Type:
			out = append(out, math.Float32frombits(uint32(f.V)))
		case protowire.BytesType:
			for b := f.B; len(b) >= 4; b = b[4:] {
				out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(b)))
			}
		}
	}
	return out, len(out) == n
}

// Tensor builds a TensorProto named name holding raw little-endian data
// of the given ONNX data type and dims.
func Tensor(name string, dtype int64, dims []int64, raw []byte) Msg {
	return Msg{PackedInts(TensorDims, dims), VarintField(TensorDataType, dtype), StrField(TensorName, name),
		{Num: TensorRawData, Typ: protowire.BytesType, B: raw}}
}

// FloatTensor builds a float32 TensorProto.
func FloatTensor(name string, dims []int64, vs []float32) Msg {
	raw := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return Tensor(name, DTypeFloat, dims, raw)
}

// ValueInfo builds a ValueInfoProto naming a tensor of the given element
// type and unknown shape, as a graph output needs.
func ValueInfo(name string, elemType int64) Msg {
	tensorType := Msg{VarintField(TensorTypeElt, elemType)}
	return Msg{StrField(ValueInfoName, name), MsgField(ValueInfoType, Msg{MsgField(TypeTensor, tensorType)})}
}

// FloatAttr builds a float AttributeProto.
func FloatAttr(name string, v float32) Msg {
	return Msg{StrField(AttrName, name), VarintField(AttrType, AttrTypeFloat),
		{Num: AttrF, Typ: protowire.Fixed32Type, V: uint64(math.Float32bits(v))}}
}

// WithIO returns node n with its inputs and outputs replaced, keeping
// every other field (name, op, attributes, domain) as it was.
func WithIO(n Msg, ins, outs []string) Msg {
	out := make(Msg, 0, len(n)+len(ins)+len(outs))
	for _, in := range ins {
		out = append(out, StrField(NodeInput, in))
	}
	for _, o := range outs {
		out = append(out, StrField(NodeOutput, o))
	}
	for _, f := range n {
		if f.Num != NodeInput && f.Num != NodeOutput {
			out = append(out, f)
		}
	}
	return out
}

// Opset is the model's version of the default ("" or "ai.onnx") operator
// set, or 0 when the model does not say.
func Opset(model Msg) int64 {
	sets, err := model.Msgs(ModelOpset)
	if err != nil {
		return 0
	}
	for _, s := range sets {
		if d := s.Str(OpsetDomain); d == "" || d == "ai.onnx" {
			v, _ := s.Varint(OpsetVer)
			return v
		}
	}
	return 0
}

// TensorInts decodes an int8, uint8 or int32 TensorProto stored as raw
// data (how quantized weights are written); ok is false for any other.
func TensorInts(t Msg) ([]int64, bool) {
	dt, _ := t.Varint(TensorDataType)
	var raw []byte
	found := false
	for _, f := range t {
		if f.Num == TensorRawData {
			raw, found = f.B, true
		}
	}
	n, err := TensorNumel(t)
	if !found || err != nil {
		return nil, false
	}
	out := make([]int64, n)
	switch dt {
	case DTypeInt8, DTypeUint8:
		if int64(len(raw)) != n {
			return nil, false
		}
		for i, b := range raw {
			if dt == DTypeInt8 {
				out[i] = int64(int8(b))
			} else {
				out[i] = int64(b)
			}
		}
	case DTypeInt32:
		if int64(len(raw)) != 4*n {
			return nil, false
		}
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	default:
		return nil, false
	}
	return out, true
}

// GraphIndex is the index in model of the graph field that counts (the
// last, as protobuf reads a repeated singular field), or -1.
func GraphIndex(model Msg) int {
	for i := len(model) - 1; i >= 0; i-- {
		if model[i].Num == ModelGraph {
			return i
		}
	}
	return -1
}

// ValueInfoDims reads the dimensions of a ValueInfoProto's tensor type,
// when it declares a shape (ok false when it does not, or when the type
// does not parse); a dimension without a fixed value is -1. Repeated
// singular fields count by their last occurrence, as protobuf reads them.
func ValueInfoDims(vi Msg) (dims []int64, ok bool) {
	typ, err := vi.Msgs(ValueInfoType)
	if err != nil || len(typ) == 0 {
		return nil, false
	}
	tt, err := typ[len(typ)-1].Msgs(TypeTensor)
	if err != nil || len(tt) == 0 {
		return nil, false
	}
	shape, err := tt[len(tt)-1].Msgs(TensorTypeShp)
	if err != nil || len(shape) == 0 {
		return nil, false
	}
	dimMsgs, err := shape[len(shape)-1].Msgs(ShapeDim)
	if err != nil {
		return nil, false
	}
	dims = make([]int64, len(dimMsgs))
	for i, d := range dimMsgs {
		dims[i] = -1
		if v, ok := d.Varint(DimValue); ok {
			dims[i] = v
		}
	}
	return dims, true
}
