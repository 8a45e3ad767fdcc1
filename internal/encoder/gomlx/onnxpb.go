package gomlx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file reads and writes just enough of the ONNX protobuf (onnx.proto3,
// the field numbers below) to edit a graph's nodes before onnx-gomlx parses
// it. Every field it does not understand is carried through byte for byte,
// so weights (initializers) are never decoded here.

// Field numbers from onnx/onnx.proto3.
const (
	fModelGraph = 7

	fGraphNode        = 1
	fGraphInitializer = 5
	fGraphInput       = 11
	fGraphValueInfo   = 13

	fNodeInput     = 1
	fNodeOutput    = 2
	fNodeName      = 3
	fNodeOpType    = 4
	fNodeAttribute = 5

	fAttrName = 1
	fAttrI    = 3
	fAttrT    = 5
	fAttrG    = 6
	fAttrInts = 8
	fAttrType = 20

	fTensorDims      = 1
	fTensorDataType  = 2
	fTensorInt64Data = 7
	fTensorName      = 8
	fTensorRawData   = 9

	fValueInfoName = 1
	fValueInfoType = 2
	fTypeTensor    = 1
	fTensorTypeShp = 2
	fShapeDim      = 1

	// AttributeProto.AttributeType values.
	attrTypeInt    = 2
	attrTypeTensor = 4
	attrTypeInts   = 7

	// TensorProto.DataType values.
	dtFloat = 1
	dtInt64 = 7
)

// pbField is one field as it appears on the wire: a varint or fixed value
// in v, or the payload of a length-delimited field in b.
type pbField struct {
	num protowire.Number
	typ protowire.Type
	v   uint64
	b   []byte
}

// pbMsg is a decoded message: its fields in wire order.
type pbMsg []pbField

func parseMsg(b []byte) (pbMsg, error) {
	var m pbMsg
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		f := pbField{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.v = uint64(v)
		case protowire.Fixed64Type:
			f.v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
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

func (m pbMsg) marshal() []byte {
	var out []byte
	for _, f := range m {
		out = protowire.AppendTag(out, f.num, f.typ)
		switch f.typ {
		case protowire.VarintType:
			out = protowire.AppendVarint(out, f.v)
		case protowire.Fixed32Type:
			out = protowire.AppendFixed32(out, uint32(f.v))
		case protowire.Fixed64Type:
			out = protowire.AppendFixed64(out, f.v)
		case protowire.BytesType:
			out = protowire.AppendBytes(out, f.b)
		}
	}
	return out
}

// str returns the last occurrence of a string field (proto3 semantics).
func (m pbMsg) str(num protowire.Number) string {
	s := ""
	for _, f := range m {
		if f.num == num && f.typ == protowire.BytesType {
			s = string(f.b)
		}
	}
	return s
}

func (m pbMsg) strs(num protowire.Number) []string {
	var out []string
	for _, f := range m {
		if f.num == num && f.typ == protowire.BytesType {
			out = append(out, string(f.b))
		}
	}
	return out
}

func (m pbMsg) varint(num protowire.Number) (int64, bool) {
	var v int64
	found := false
	for _, f := range m {
		if f.num == num && f.typ == protowire.VarintType {
			v, found = int64(f.v), true
		}
	}
	return v, found
}

// ints reads a repeated int64 field in packed or unpacked form.
func (m pbMsg) ints(num protowire.Number) ([]int64, error) {
	var out []int64
	for _, f := range m {
		if f.num != num {
			continue
		}
		switch f.typ {
		case protowire.VarintType:
			out = append(out, int64(f.v))
		case protowire.BytesType:
			b := f.b
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

func (m pbMsg) msgs(num protowire.Number) ([]pbMsg, error) {
	var out []pbMsg
	for _, f := range m {
		if f.num == num && f.typ == protowire.BytesType {
			sub, err := parseMsg(f.b)
			if err != nil {
				return nil, err
			}
			out = append(out, sub)
		}
	}
	return out, nil
}

// without returns m minus every field numbered num.
func (m pbMsg) without(num protowire.Number) pbMsg {
	out := make(pbMsg, 0, len(m))
	for _, f := range m {
		if f.num != num {
			out = append(out, f)
		}
	}
	return out
}

func strField(num protowire.Number, s string) pbField {
	return pbField{num: num, typ: protowire.BytesType, b: []byte(s)}
}

func varintField(num protowire.Number, v int64) pbField {
	return pbField{num: num, typ: protowire.VarintType, v: uint64(v)}
}

func msgField(num protowire.Number, m pbMsg) pbField {
	return pbField{num: num, typ: protowire.BytesType, b: m.marshal()}
}

func packedInts(num protowire.Number, vs []int64) pbField {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendVarint(b, uint64(v))
	}
	return pbField{num: num, typ: protowire.BytesType, b: b}
}

// tensorNumel is the element count of a TensorProto from its dims.
func tensorNumel(t pbMsg) (int64, error) {
	dims, err := t.ints(fTensorDims)
	if err != nil {
		return 0, err
	}
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n, nil
}

// int64Tensor builds a TensorProto holding vs with the given dims.
func int64Tensor(dims []int64, vs []int64) pbMsg {
	return pbMsg{packedInts(fTensorDims, dims), varintField(fTensorDataType, dtInt64), packedInts(fTensorInt64Data, vs)}
}

// float32Scalar builds a rank-0 float TensorProto.
func float32Scalar(v float32) pbMsg {
	raw := binary.LittleEndian.AppendUint32(nil, math.Float32bits(v))
	return pbMsg{varintField(fTensorDataType, dtFloat), {num: fTensorRawData, typ: protowire.BytesType, b: raw}}
}

// makeNode builds a NodeProto.
func makeNode(op, name string, ins, outs []string, attrs ...pbMsg) pbMsg {
	n := pbMsg{}
	for _, in := range ins {
		n = append(n, strField(fNodeInput, in))
	}
	for _, o := range outs {
		n = append(n, strField(fNodeOutput, o))
	}
	n = append(n, strField(fNodeName, name), strField(fNodeOpType, op))
	for _, a := range attrs {
		n = append(n, msgField(fNodeAttribute, a))
	}
	return n
}

func makeIntAttr(name string, v int64) pbMsg {
	return pbMsg{strField(fAttrName, name), varintField(fAttrType, attrTypeInt), varintField(fAttrI, v)}
}

func makeIntsAttr(name string, vs ...int64) pbMsg {
	return pbMsg{strField(fAttrName, name), varintField(fAttrType, attrTypeInts), packedInts(fAttrInts, vs)}
}

func makeTensorAttr(name string, t pbMsg) pbMsg {
	return pbMsg{strField(fAttrName, name), varintField(fAttrType, attrTypeTensor), msgField(fAttrT, t)}
}

// errNoGraph is returned for a file that parses but holds no graph.
var errNoGraph = errors.New("model has no graph")
