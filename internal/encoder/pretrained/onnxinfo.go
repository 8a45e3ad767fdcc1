package pretrained

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/onnxpb"
)

// valueInfo is one graph input or output of an ONNX model: its name and
// shape, where a dimension is -1 when symbolic (batch, sequence) or absent.
type valueInfo struct {
	Name  string
	Shape []int64
}

// modelIO lists the inputs and outputs of the ONNX model at path, in graph
// order, without loading its weights (see modelGraph).
func modelIO(path string) (inputs, outputs []valueInfo, err error) {
	inputs, outputs, _, err = modelGraph(path)
	return inputs, outputs, err
}

// integerOps are the ONNX operators of int8 models: `models quantize`
// writes QuantizeLinear/DequantizeLinear pairs (QDQ, which ONNX Runtime
// fuses into QLinearConv) and DynamicQuantizeLinear with MatMulInteger;
// other quantizers write the operator-oriented forms.
var integerOps = []string{"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger",
	"ConvInteger", "QLinearConv", "QLinearMatMul", "QLinearAdd"}

// hasIntegerOps reports whether a model's top-level graph has a quantized
// operator (an int8 model).
func hasIntegerOps(ops map[string]bool) bool {
	for _, op := range integerOps {
		if ops[op] {
			return true
		}
	}
	return false
}

// modelGraph lists the inputs and outputs of the ONNX model at path, in
// graph order, and the operator types of its top-level nodes, without
// loading its weights: it walks the protobuf fields and seeks past
// everything else (initializers are most of a 100 MB file).
//
// The graph's nodes, inputs and outputs are small messages: they are read
// whole and decoded by onnxpb (whose constants are onnx.proto3's field
// numbers).
func modelGraph(path string) (inputs, outputs []valueInfo, ops map[string]bool, err error) {
	f, err := inputfile.Open(path, inputfile.Model)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	r := &pbReader{r: f, end: f.Size()}
	found := false
	for r.pos < r.end {
		field, wire, err := r.tag()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read onnx model %q: %w", path, err)
		}
		if field == onnxpb.ModelGraph && wire == 2 {
			n, err := r.varint()
			if err != nil {
				return nil, nil, nil, fmt.Errorf("read onnx model %q: %w", path, err)
			}
			g := &pbReader{r: f, pos: r.pos, end: r.pos + int64(n)}
			if inputs, outputs, ops, err = readGraphIO(g); err != nil {
				return nil, nil, nil, fmt.Errorf("read onnx model %q: %w", path, err)
			}
			r.pos = g.end
			found = true
			continue
		}
		if err := r.skip(wire); err != nil {
			return nil, nil, nil, fmt.Errorf("read onnx model %q: %w", path, err)
		}
	}
	if !found {
		return nil, nil, nil, fmt.Errorf("read onnx model %q: no graph (is it an ONNX file?)", path)
	}
	return inputs, outputs, ops, nil
}

func readGraphIO(g *pbReader) (inputs, outputs []valueInfo, ops map[string]bool, err error) {
	ops = map[string]bool{}
	for g.pos < g.end {
		field, wire, err := g.tag()
		if err != nil {
			return nil, nil, nil, err
		}
		if field == onnxpb.GraphNode && wire == 2 { // a node: its op_type
			b, err := g.bytes()
			if err != nil {
				return nil, nil, nil, err
			}
			n, err := onnxpb.Parse(b)
			if err != nil {
				return nil, nil, nil, err
			}
			ops[n.Str(onnxpb.NodeOpType)] = true
			continue
		}
		if (field == onnxpb.GraphInput || field == onnxpb.GraphOutput) && wire == 2 {
			b, err := g.bytes()
			if err != nil {
				return nil, nil, nil, err
			}
			vi, err := parseValueInfo(b)
			if err != nil {
				return nil, nil, nil, err
			}
			if field == onnxpb.GraphInput {
				inputs = append(inputs, vi)
			} else {
				outputs = append(outputs, vi)
			}
			continue
		}
		if err := g.skip(wire); err != nil {
			return nil, nil, nil, err
		}
	}
	return inputs, outputs, ops, nil
}

func parseValueInfo(b []byte) (valueInfo, error) {
	m, err := onnxpb.Parse(b)
	if err != nil {
		return valueInfo{}, err
	}
	vi := valueInfo{Name: m.Str(onnxpb.ValueInfoName)}
	vi.Shape, _ = onnxpb.ValueInfoDims(m)
	return vi, nil
}

var errTruncated = errors.New("truncated protobuf")

// pbReader walks a protobuf message held in a file between pos and end,
// reading only keys and the fields asked for.
type pbReader struct {
	r        io.ReaderAt
	pos, end int64
}

func (p *pbReader) varint() (uint64, error) {
	var buf [binary.MaxVarintLen64]byte
	n := min(int64(len(buf)), p.end-p.pos)
	if n <= 0 {
		return 0, errTruncated
	}
	m, err := p.r.ReadAt(buf[:n], p.pos)
	if m < int(n) && err != nil {
		return 0, err
	}
	v, k := binary.Uvarint(buf[:n])
	if k <= 0 {
		return 0, errTruncated
	}
	p.pos += int64(k)
	return v, nil
}

func (p *pbReader) tag() (field, wire int, err error) {
	k, err := p.varint()
	return int(k >> 3), int(k & 7), err
}

func (p *pbReader) bytes() ([]byte, error) {
	n, err := p.varint()
	if err != nil {
		return nil, err
	}
	if int64(n) > p.end-p.pos {
		return nil, errTruncated
	}
	b := make([]byte, n)
	if _, err := p.r.ReadAt(b, p.pos); err != nil && !(errors.Is(err, io.EOF) && int64(n) == p.end-p.pos) {
		return nil, err
	}
	p.pos += int64(n)
	return b, nil
}

func (p *pbReader) skip(wire int) error {
	switch wire {
	case 0:
		_, err := p.varint()
		return err
	case 1:
		p.pos += 8
	case 2:
		n, err := p.varint()
		if err != nil {
			return err
		}
		p.pos += int64(n)
	case 5:
		p.pos += 4
	default:
		return fmt.Errorf("unsupported protobuf wire type %d", wire)
	}
	if p.pos > p.end {
		return errTruncated
	}
	return nil
}
