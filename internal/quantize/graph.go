package quantize

import (
	"fmt"
	"slices"

	"github.com/reelmatch/reelmatch/internal/onnxpb"
)

// graph is a GraphProto opened for editing: its fields as read, its nodes,
// and indexes over them.
type graph struct {
	fields    onnxpb.Msg
	nodes     []onnxpb.Msg
	inits     map[string]onnxpb.Msg
	alias     map[string]string // Identity output -> its input
	consumers map[string][]int  // tensor -> indexes of the nodes reading it
	isInput   map[string]bool   // fed by the caller (not an initializer)
	isOutput  map[string]bool
	// subgraphRefs are the names nodes inside subgraphs (If, Loop) read:
	// they may be outer initializers.
	subgraphRefs map[string]bool
	decoded      map[string]*floatInit
}

// floatInit is a decoded float32 initializer.
type floatInit struct {
	dims   []int64
	values []float32
}

func newGraph(b []byte) (*graph, error) {
	fields, err := onnxpb.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("parse ONNX graph: %w", err)
	}
	g := &graph{fields: fields, inits: map[string]onnxpb.Msg{}, alias: map[string]string{},
		consumers: map[string][]int{}, subgraphRefs: map[string]bool{}, isInput: map[string]bool{}, isOutput: map[string]bool{}, decoded: map[string]*floatInit{}}
	if g.nodes, err = fields.Msgs(onnxpb.GraphNode); err != nil {
		return nil, fmt.Errorf("parse ONNX nodes: %w", err)
	}
	inits, err := fields.Msgs(onnxpb.GraphInitializer)
	if err != nil {
		return nil, fmt.Errorf("parse ONNX initializers: %w", err)
	}
	for _, t := range inits {
		g.inits[t.Str(onnxpb.TensorName)] = t
	}
	for i, n := range g.nodes {
		for _, in := range n.Strs(onnxpb.NodeInput) {
			g.consumers[in] = append(g.consumers[in], i)
		}
		if n.Str(onnxpb.NodeOpType) == "Identity" {
			if ins, outs := n.Strs(onnxpb.NodeInput), n.Strs(onnxpb.NodeOutput); len(ins) == 1 && len(outs) == 1 {
				g.alias[outs[0]] = ins[0]
			}
		}
		if err := subgraphInputs(n, g.subgraphRefs); err != nil {
			return nil, fmt.Errorf("parse ONNX subgraph of node %q: %w", n.Str(onnxpb.NodeName), err)
		}
	}
	ins, err := fields.Msgs(onnxpb.GraphInput)
	if err != nil {
		return nil, fmt.Errorf("parse ONNX graph inputs: %w", err)
	}
	for _, vi := range ins {
		if name := vi.Str(onnxpb.ValueInfoName); g.inits[name] == nil {
			g.isInput[name] = true
		}
	}
	outs, err := fields.Msgs(onnxpb.GraphOutput)
	if err != nil {
		return nil, fmt.Errorf("parse ONNX graph outputs: %w", err)
	}
	for _, vi := range outs {
		g.isOutput[vi.Str(onnxpb.ValueInfoName)] = true
	}
	return g, nil
}

// floatInit returns the float32 initializer a node input names, looking
// through Identity nodes (exporters alias shared weights that way), or nil
// when it is not one (an activation, another type, external data).
func (g *graph) floatInit(name string) *floatInit {
	for i := 0; i < 16 && g.inits[name] == nil; i++ {
		next, ok := g.alias[name]
		if !ok {
			return nil
		}
		name = next
	}
	if f, ok := g.decoded[name]; ok {
		return f
	}
	t := g.inits[name]
	if t == nil {
		return nil
	}
	var f *floatInit
	if dt, _ := t.Varint(onnxpb.TensorDataType); dt == onnxpb.DTypeFloat {
		if _, external := t.Varint(onnxpb.TensorLocation); !external {
			dims, err := t.Ints(onnxpb.TensorDims)
			n, err2 := onnxpb.TensorNumel(t)
			if err == nil && err2 == nil {
				if vs, ok := onnxpb.TensorFloats(t, int(n)); ok {
					f = &floatInit{dims: dims, values: vs}
				}
			}
		}
	}
	g.decoded[name] = f
	return f
}

// assemble returns the graph with nodes as its node list, newInits added,
// and the initializers and Identity nodes nothing reads any more dropped
// (the float weights the quantized ones replaced), along with graph inputs
// that only declared a dropped initializer.
func (g *graph) assemble(nodes []onnxpb.Msg, newInits []onnxpb.Msg) onnxpb.Msg {
	// Drop Identity nodes with unread outputs until none is left: one may
	// feed another.
	used := g.used(nodes)
	for {
		kept := slices.DeleteFunc(slices.Clone(nodes), func(n onnxpb.Msg) bool {
			outs := n.Strs(onnxpb.NodeOutput)
			return n.Str(onnxpb.NodeOpType) == "Identity" && len(outs) == 1 && !used[outs[0]]
		})
		if len(kept) == len(nodes) {
			break
		}
		nodes = kept
		used = g.used(nodes)
	}
	var out onnxpb.Msg
	wroteNodes := false
	for _, f := range g.fields {
		switch f.Num {
		case onnxpb.GraphNode:
			if !wroteNodes {
				for _, n := range nodes {
					out = append(out, onnxpb.MsgField(onnxpb.GraphNode, n))
				}
				wroteNodes = true
			}
			continue
		case onnxpb.GraphInitializer:
			if t, err := onnxpb.Parse(f.B); err == nil && !used[t.Str(onnxpb.TensorName)] {
				continue
			}
		case onnxpb.GraphInput:
			if vi, err := onnxpb.Parse(f.B); err == nil {
				name := vi.Str(onnxpb.ValueInfoName)
				if g.inits[name] != nil && !used[name] {
					continue
				}
			}
		}
		out = append(out, f)
	}
	for _, t := range newInits {
		out = append(out, onnxpb.MsgField(onnxpb.GraphInitializer, t))
	}
	return out
}

// used is the set of tensor names that nodes or the graph's outputs read.
func (g *graph) used(nodes []onnxpb.Msg) map[string]bool {
	used := map[string]bool{}
	for name := range g.isOutput {
		used[name] = true
	}
	for name := range g.subgraphRefs {
		used[name] = true
	}
	for _, n := range nodes {
		for _, in := range n.Strs(onnxpb.NodeInput) {
			used[in] = true
		}
	}
	return used
}

// subgraphInputs adds every name read by a node inside node n's subgraph
// attributes (g, graphs), at any depth, to refs.
func subgraphInputs(n onnxpb.Msg, refs map[string]bool) error {
	attrs, err := n.Msgs(onnxpb.NodeAttribute)
	if err != nil {
		return err
	}
	for _, a := range attrs {
		for _, f := range a {
			if f.Num != onnxpb.AttrG && f.Num != onnxpb.AttrGraphs {
				continue
			}
			sub, err := onnxpb.Parse(f.B)
			if err != nil {
				return err
			}
			nodes, err := sub.Msgs(onnxpb.GraphNode)
			if err != nil {
				return err
			}
			for _, sn := range nodes {
				for _, in := range sn.Strs(onnxpb.NodeInput) {
					refs[in] = true
				}
				if err := subgraphInputs(sn, refs); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
