package gomlx

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/onnxpb"
)

// onnx-gomlx v0.5.0 builds every op our encoders need but trips over three
// patterns that PyTorch and transformers 5 exports contain. Each rewrite
// below replaces one with an equivalent that onnx-gomlx handles; outputs
// are unchanged (the encodertest goldens check that on every fixture).
//
//   - MaxPool with dilations all 1 (torchvision's ResNet stem): onnx-gomlx
//     refuses the attribute even though 1 is its default, so it is dropped.
//   - ConstantOfShape of an empty shape (transformers 5's attention-mask
//     builder makes a rank-0 "true"): onnx-gomlx broadcasts its one-element
//     value to rank 0 and panics ("broadcastAxes out-of-range"), so the node
//     becomes a Constant holding the rank-0 value.
//   - Flatten with axis equal to the input rank (the same mask builder
//     flattens the [batch, seq] mask at axis 2, giving [batch*seq, 1]):
//     onnx-gomlx rejects axis == rank, so it becomes Reshape to [-1, 1].
//
// rewriteModel also lowers Conv to MatMul for speed (conv.go) and folds
// DequantizeLinear of constant weights in int8 models (dequant.go).

// rewriteModel applies the rewrites to a serialised ModelProto. It returns
// the input unchanged (and no notes) when nothing applies, and one note per
// rewritten node otherwise.
func rewriteModel(data []byte) ([]byte, []string, error) {
	model, err := onnxpb.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("parse ONNX model: %w", err)
	}
	gi := onnxpb.GraphIndex(model)
	if gi < 0 {
		return nil, nil, onnxpb.ErrNoGraph
	}
	graph, err := onnxpb.Parse(model[gi].B)
	if err != nil {
		return nil, nil, fmt.Errorf("parse ONNX graph: %w", err)
	}
	nodes, err := graph.Msgs(onnxpb.GraphNode)
	if err != nil {
		return nil, nil, fmt.Errorf("parse ONNX nodes: %w", err)
	}
	g, err := newGraphInfo(graph, nodes)
	if err != nil {
		return nil, nil, err
	}

	var notes []string
	var out, newInits []onnxpb.Msg
	dropped := map[string]bool{}
	for _, n := range nodes {
		g.inferRank(n)
		name, op := n.Str(onnxpb.NodeName), n.Str(onnxpb.NodeOpType)
		switch op {
		case "MaxPool":
			if nn, ok := dropUnitDilations(n); ok {
				n = nn
				notes = append(notes, fmt.Sprintf("MaxPool %q: dropped dilations=1", name))
			}
		case "ConstantOfShape":
			if nn, ok, err := g.scalarConstantOfShape(n); err != nil {
				return nil, nil, fmt.Errorf("node %q: %w", name, err)
			} else if ok {
				n = nn
				notes = append(notes, fmt.Sprintf("ConstantOfShape %q: empty shape, now a rank-0 Constant", name))
			}
		case "DequantizeLinear":
			if t, ok := g.foldDequantize(n); ok {
				out := n.Strs(onnxpb.NodeOutput)[0]
				dims, _ := t.Ints(onnxpb.TensorDims)
				g.inits[out], g.constDims[out], g.rank[out] = t, dims, len(dims)
				newInits = append(newInits, t)
				for _, in := range n.Strs(onnxpb.NodeInput) {
					dropped[in] = true
				}
				notes = append(notes, fmt.Sprintf("DequantizeLinear %q: constant %v weight folded to float32", name, dims))
				continue
			}
		case "Conv":
			if r, ok := g.convToMatMul(n, g.inits); ok {
				out = append(out, r.nodes...)
				newInits = append(newInits, r.init)
				dropped[r.drop] = true
				notes = append(notes, r.note)
				continue
			}
		case "Flatten":
			if shape, nn, ok := g.flattenToReshape(n); ok {
				out = append(out, shape)
				n = nn
				notes = append(notes, fmt.Sprintf("Flatten %q: axis equals rank, now Reshape to [-1, 1]", name))
			}
		}
		out = append(out, n)
	}
	if len(notes) == 0 {
		return data, nil, nil
	}
	newGraph := make(onnxpb.Msg, 0, len(graph))
	for _, n := range out {
		newGraph = append(newGraph, onnxpb.MsgField(onnxpb.GraphNode, n))
	}
	// Drop the replaced Conv weights no remaining node reads (with
	// subgraphs, which may read them too, keep them all).
	for _, n := range out {
		for _, in := range n.Strs(onnxpb.NodeInput) {
			delete(dropped, in)
		}
	}
	for _, f := range graph.Without(onnxpb.GraphNode) {
		if f.Num == onnxpb.GraphInitializer && !g.hasSubgraphs && len(dropped) > 0 {
			if t, err := onnxpb.Parse(f.B); err == nil && dropped[t.Str(onnxpb.TensorName)] {
				continue
			}
		}
		newGraph = append(newGraph, f)
	}
	for _, t := range newInits {
		newGraph = append(newGraph, onnxpb.MsgField(onnxpb.GraphInitializer, t))
	}
	model = slices.Clone(model)
	model[gi] = onnxpb.MsgField(onnxpb.ModelGraph, newGraph)
	return model.Marshal(), notes, nil
}

// graphInfo is what the rewrites need to know about values: the dims of
// constants and the rank of tensors where it is known without running the
// graph.
type graphInfo struct {
	inits        map[string]onnxpb.Msg // initializers by name
	hasSubgraphs bool
	constDims    map[string][]int64
	dims         map[string][]int64 // declared shapes of graph inputs and value_info
	rank         map[string]int
	names        map[string]bool
}

func newGraphInfo(graph onnxpb.Msg, nodes []onnxpb.Msg) (*graphInfo, error) {
	g := &graphInfo{inits: map[string]onnxpb.Msg{}, constDims: map[string][]int64{}, dims: map[string][]int64{}, rank: map[string]int{}, names: map[string]bool{}}
	inits, err := graph.Msgs(onnxpb.GraphInitializer)
	if err != nil {
		return nil, fmt.Errorf("parse ONNX initializers: %w", err)
	}
	for _, t := range inits {
		dims, err := t.Ints(onnxpb.TensorDims)
		if err != nil {
			return nil, err
		}
		name := t.Str(onnxpb.TensorName)
		g.inits[name] = t
		g.constDims[name], g.rank[name], g.names[name] = dims, len(dims), true
	}
	for _, num := range []protowire.Number{onnxpb.GraphInput, onnxpb.GraphValueInfo} {
		vis, err := graph.Msgs(num)
		if err != nil {
			return nil, fmt.Errorf("parse ONNX value info: %w", err)
		}
		for _, vi := range vis {
			name := vi.Str(onnxpb.ValueInfoName)
			g.names[name] = true
			if dims, ok := onnxpb.ValueInfoDims(vi); ok {
				g.rank[name] = len(dims)
				g.dims[name] = dims
			}
		}
	}
	for _, n := range nodes {
		for _, o := range n.Strs(onnxpb.NodeOutput) {
			g.names[o] = true
		}
		attrs, err := n.Msgs(onnxpb.NodeAttribute)
		if err != nil {
			return nil, fmt.Errorf("parse ONNX node %q: %w", n.Str(onnxpb.NodeName), err)
		}
		for _, a := range attrs {
			if slices.ContainsFunc(a, func(f onnxpb.Field) bool { return f.Num == onnxpb.AttrG }) {
				g.hasSubgraphs = true
			}
		}
	}
	return g, nil
}

// Ops whose output has the shape (so the rank) of their first input.
var rankPreserving = map[string]bool{
	"Cast": true, "Identity": true, "Neg": true, "Not": true, "Abs": true, "Relu": true,
	"Sigmoid": true, "Tanh": true, "Sqrt": true, "Exp": true, "Log": true, "Erf": true,
	"Softmax": true, "LayerNormalization": true, "Clip": true, "Floor": true, "Ceil": true,
}

// Ops whose output rank is the largest input rank (numpy broadcasting).
var rankBroadcasting = map[string]bool{
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "And": true, "Or": true,
	"Equal": true, "Less": true, "Greater": true, "LessOrEqual": true, "GreaterOrEqual": true,
	"Where": true,
}

// inferRank records the ranks (and, through shape-preserving ops, the
// declared dimensions) of n's outputs where they follow from its inputs;
// anything else stays unknown, and rewrites that need it leave such nodes
// alone.
func (g *graphInfo) inferRank(n onnxpb.Msg) {
	op, ins, outs := n.Str(onnxpb.NodeOpType), n.Strs(onnxpb.NodeInput), n.Strs(onnxpb.NodeOutput)
	if len(outs) == 0 {
		return
	}
	switch {
	case op == "Constant":
		if t, ok := attrTensor(n, "value"); ok {
			if dims, err := t.Ints(onnxpb.TensorDims); err == nil {
				g.constDims[outs[0]], g.rank[outs[0]] = dims, len(dims)
			}
		}
	case rankPreserving[op] && len(ins) > 0:
		if r, ok := g.rank[ins[0]]; ok {
			g.rank[outs[0]] = r
		}
		if d, ok := g.dims[ins[0]]; ok {
			g.dims[outs[0]] = d
		}
	case rankBroadcasting[op]:
		r := 0
		for _, in := range ins {
			ri, ok := g.rank[in]
			if !ok {
				return
			}
			r = max(r, ri)
		}
		g.rank[outs[0]] = r
	}
}

// attr returns the node attribute with the given name.
func attr(n onnxpb.Msg, name string) (onnxpb.Msg, bool) {
	attrs, err := n.Msgs(onnxpb.NodeAttribute)
	if err != nil {
		return nil, false
	}
	for _, a := range attrs {
		if a.Str(onnxpb.AttrName) == name {
			return a, true
		}
	}
	return nil, false
}

func attrTensor(n onnxpb.Msg, name string) (onnxpb.Msg, bool) {
	a, ok := attr(n, name)
	if !ok {
		return nil, false
	}
	ts, err := a.Msgs(onnxpb.AttrT)
	if err != nil || len(ts) == 0 {
		return nil, false
	}
	return ts[len(ts)-1], true
}

func attrInt(n onnxpb.Msg, name string, def int64) int64 {
	a, ok := attr(n, name)
	if !ok {
		return def
	}
	if v, ok := a.Varint(onnxpb.AttrI); ok {
		return v
	}
	return def
}

func attrInts(n onnxpb.Msg, name string) ([]int64, bool) {
	a, ok := attr(n, name)
	if !ok {
		return nil, false
	}
	vs, err := a.Ints(onnxpb.AttrInts)
	return vs, err == nil
}

// withoutAttr returns n minus its attribute called name.
func withoutAttr(n onnxpb.Msg, name string) onnxpb.Msg {
	out := make(onnxpb.Msg, 0, len(n))
	for _, f := range n {
		if f.Num == onnxpb.NodeAttribute {
			if a, err := onnxpb.Parse(f.B); err == nil && a.Str(onnxpb.AttrName) == name {
				continue
			}
		}
		out = append(out, f)
	}
	return out
}

func dropUnitDilations(n onnxpb.Msg) (onnxpb.Msg, bool) {
	d, ok := attrInts(n, "dilations")
	if !ok || slices.ContainsFunc(d, func(v int64) bool { return v != 1 }) {
		return n, false
	}
	return withoutAttr(n, "dilations"), true
}

// scalarConstantOfShape turns ConstantOfShape(shape=[]) into a Constant
// holding the rank-0 value.
func (g *graphInfo) scalarConstantOfShape(n onnxpb.Msg) (onnxpb.Msg, bool, error) {
	ins := n.Strs(onnxpb.NodeInput)
	if len(ins) != 1 {
		return n, false, nil
	}
	dims, ok := g.constDims[ins[0]]
	if !ok || len(dims) != 1 || dims[0] != 0 {
		return n, false, nil
	}
	value := onnxpb.Float32Scalar(0) // the ONNX default value
	if t, ok := attrTensor(n, "value"); ok {
		value = t.Without(onnxpb.TensorDims)
	}
	out := retyped(n, "Constant")
	out = append(out, onnxpb.MsgField(onnxpb.NodeAttribute, onnxpb.TensorAttr("value", value)))
	return out, true, nil
}

// retyped returns node n as an op of type op with no inputs and no
// attributes: its name, outputs and any other fields are kept, so the
// graph's wiring to its outputs stays as it was. Callers append the new
// op's inputs and attributes.
func retyped(n onnxpb.Msg, op string) onnxpb.Msg {
	out := onnxpb.Msg{}
	for _, f := range n {
		switch f.Num {
		case onnxpb.NodeInput, onnxpb.NodeAttribute:
		case onnxpb.NodeOpType:
			out = append(out, onnxpb.StrField(onnxpb.NodeOpType, op))
		default:
			out = append(out, f)
		}
	}
	return out
}

// flattenToReshape turns Flatten(x, axis=rank(x)) into Reshape(x, [-1, 1])
// and returns the Constant node that holds the new shape.
func (g *graphInfo) flattenToReshape(n onnxpb.Msg) (shapeNode, reshape onnxpb.Msg, ok bool) {
	ins, outs := n.Strs(onnxpb.NodeInput), n.Strs(onnxpb.NodeOutput)
	if len(ins) != 1 || len(outs) != 1 {
		return nil, nil, false
	}
	r, known := g.rank[ins[0]]
	if !known || r == 0 || attrInt(n, "axis", 1) != int64(r) {
		return nil, nil, false
	}
	shapeName := g.freshName(outs[0] + "/reelmatch_flatten_shape")
	shapeNode = onnxpb.Node("Constant", shapeName, nil, []string{shapeName},
		onnxpb.TensorAttr("value", onnxpb.Int64Tensor([]int64{2}, []int64{-1, 1})))
	g.constDims[shapeName], g.rank[shapeName] = []int64{2}, 1
	reshape = retyped(n, "Reshape")
	reshape = append(reshape, onnxpb.StrField(onnxpb.NodeInput, ins[0]), onnxpb.StrField(onnxpb.NodeInput, shapeName))
	g.rank[outs[0]] = 2
	return shapeNode, reshape, true
}

func (g *graphInfo) freshName(base string) string {
	name := base
	for i := 1; g.names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	g.names[name] = true
	return name
}

// supportedOps are the ONNX operators onnx-gomlx v0.5.0 converts: the cases
// of the switch in internal/onnxgomlx/graph.go (*Model).convertNode.
var supportedOps = map[string]bool{}

func init() {
	for _, op := range strings.Fields(`
		Add Sub Mul Div Mod Pow And Or Xor BitwiseAnd BitwiseOr BitwiseXor Equal Less LessOrEqual
		Greater GreaterOrEqual Sqrt Exp Log Erf Relu Gelu FastGelu Abs Neg Sign Ceil Floor Identity
		Not BitwiseNot Tanh Sin Cos Sigmoid HardSwish IsNaN Reciprocal MatMul Einsum Clip Where Min
		Max Constant Gather GatherElements GatherND Shape Size Concat Softmax Cast Transpose Gemm
		Flatten DequantizeLinear QuantizeLinear MatMulInteger QLinearMatMul Squeeze Unsqueeze Slice
		Reshape ReduceMean ReduceMax ReduceMin ReduceSum ReduceProd ReduceL2 NonZero ConstantOfShape
		Expand Tile Range CumSum LSTM Conv AveragePool MaxPool GlobalAveragePool Resize
		BatchNormalization LayerNormalization SimplifiedLayerNormalization RotaryEmbedding
		MultiHeadAttention GroupQueryAttention Pad DynamicQuantizeLinear Split Trilu ScatterND If
		TopK ArgMax ArgMin`) {
		supportedOps[op] = true
	}
}

// checkSupported returns an error wrapping encoder.ErrUnsupportedModel for
// the first node (searching subgraphs too) that onnx-gomlx cannot build,
// naming its operator and what to do instead.
func checkSupported(modelName string, data []byte) error {
	model, err := onnxpb.Parse(data)
	if err != nil {
		return fmt.Errorf("parse ONNX model: %w", err)
	}
	graphs, err := model.Msgs(onnxpb.ModelGraph)
	if err != nil || len(graphs) == 0 {
		return onnxpb.ErrNoGraph
	}
	return checkGraph(modelName, graphs[len(graphs)-1])
}

func checkGraph(modelName string, graph onnxpb.Msg) error {
	nodes, err := graph.Msgs(onnxpb.GraphNode)
	if err != nil {
		return fmt.Errorf("parse ONNX nodes: %w", err)
	}
	for _, n := range nodes {
		op, name := n.Str(onnxpb.NodeOpType), n.Str(onnxpb.NodeName)
		if !supportedOps[op] {
			return unsupported(modelName, op, name, "")
		}
		if reason := unsupportedAttrs(n); reason != "" {
			return unsupported(modelName, op, name, reason)
		}
		attrs, err := n.Msgs(onnxpb.NodeAttribute)
		if err != nil {
			return fmt.Errorf("parse ONNX node %q: %w", name, err)
		}
		for _, a := range attrs {
			subs, err := a.Msgs(onnxpb.AttrG)
			if err != nil {
				return fmt.Errorf("parse ONNX node %q: %w", name, err)
			}
			for _, sub := range subs {
				if err := checkGraph(modelName, sub); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// unsupportedAttrs names attribute values onnx-gomlx v0.5.0 refuses for a
// supported op (internal/onnxgomlx/ops.go convertMaxPool), or "".
func unsupportedAttrs(n onnxpb.Msg) string {
	if n.Str(onnxpb.NodeOpType) != "MaxPool" {
		return ""
	}
	if a, ok := attr(n, "auto_pad"); ok {
		if v := a.Str(4); v != "" && v != "NOTSET" {
			return "auto_pad=" + v
		}
	}
	if attrInt(n, "ceil_mode", 0) != 0 {
		return "ceil_mode=1"
	}
	if attrInt(n, "storage_order", 0) != 0 {
		return "storage_order=1"
	}
	if d, ok := attrInts(n, "dilations"); ok {
		return fmt.Sprintf("dilations=%v", d)
	}
	return ""
}

func unsupported(modelName, op, node, detail string) error {
	what := fmt.Sprintf("ONNX operator %s", op)
	if detail != "" {
		what += " with " + detail
	}
	return fmt.Errorf("%w: %s: node %q uses %s, which the pure-Go backend (onnx-gomlx) cannot run; use --backend ort",
		encoder.ErrUnsupportedModel, modelName, node, what)
}
