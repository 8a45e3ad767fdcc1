package quantize

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/onnxpb"
)

// Options say what to quantize and how.
type Options struct {
	// Calibration holds input batches for the float model. Conv nodes are
	// quantized (statically) only when it is set, since their activation
	// ranges are measured on it; MatMul nodes need none.
	Calibration []map[string]encoder.Tensor
	// Runtime runs the float model on Calibration (ONNX Runtime in
	// practice); required with Calibration.
	Runtime encoder.Runtime
	// TempDir holds the calibration model while it runs ("" is the system's).
	TempDir string
	// ReduceRange keeps weights within 7 bits ([-64, 63]). CPUs without
	// VNNI multiply uint8 by int8 with 16-bit saturating adds (AVX2
	// VPMADDUBSW), which can overflow on full-range weights;
	// onnxruntime.quantization documents the same option for them.
	ReduceRange bool
}

// Report counts what Model changed.
type Report struct {
	// MatMuls is the number of MatMul nodes quantized dynamically;
	// FloatMatMuls, those left in float32 (weight not a constant 2-D
	// tensor).
	MatMuls      int `json:"matmuls"`
	FloatMatMuls int `json:"float_matmuls"`
	// Convs is the number of Conv nodes quantized statically; FloatConvs,
	// those left in float32 (no calibration, or the weight is not a
	// constant).
	Convs      int `json:"convs"`
	FloatConvs int `json:"float_convs"`
	// Activations is the number of activation tensors given a measured
	// range.
	Activations int `json:"activations"`
	// ReLUs folded into a QuantizeLinear.
	ReLUs int `json:"relus"`
}

// ErrNothingToQuantize is returned for a model with no MatMul or Conv this
// package can quantize.
var ErrNothingToQuantize = errors.New("no MatMul or Conv with a constant float32 weight to quantize")

// minOpset is the first opset with per-axis DequantizeLinear, which
// per-channel convolution weights need; dynamic MatMul needs only 10.
const minOpset = 13

// Model returns src quantized as Options say, with a report of what
// changed. The float weights it replaced are dropped, so the result is
// about a quarter of the float model's size where weights dominate.
func Model(src []byte, o Options) ([]byte, Report, error) {
	model, err := onnxpb.Parse(src)
	if err != nil {
		return nil, Report{}, fmt.Errorf("parse ONNX model: %w", err)
	}
	gi := onnxpb.GraphIndex(model)
	if gi < 0 {
		return nil, Report{}, onnxpb.ErrNoGraph
	}
	g, err := newGraph(model[gi].B)
	if err != nil {
		return nil, Report{}, err
	}
	opset := onnxpb.Opset(model)
	if opset != 0 && opset < 10 {
		return nil, Report{}, fmt.Errorf("model uses opset %d; 8-bit operators need opset 10 or later: re-export the model with a newer opset", opset)
	}

	var rep Report
	q := &rewriter{g: g, opts: o, rep: &rep}
	statics := o.Calibration != nil
	if statics && opset != 0 && opset < minOpset {
		return nil, Report{}, fmt.Errorf("model uses opset %d; per-channel convolution weights need opset %d: re-export the model with a newer opset", opset, minOpset)
	}
	if statics && len(o.Calibration) == 0 {
		return nil, Report{}, errors.New("quantize: calibration is set but holds no input batches")
	}
	if statics && o.Runtime == nil {
		return nil, Report{}, errors.New("quantize: calibration inputs given without a runtime to run them")
	}
	q.planConvs(statics)
	if len(q.acts) > 0 {
		if err := q.calibrate(src); err != nil {
			return nil, Report{}, err
		}
	}
	nodes, err := q.rewrite()
	if err != nil {
		return nil, Report{}, err
	}
	if rep.MatMuls+rep.Convs == 0 {
		return nil, rep, ErrNothingToQuantize
	}
	graph := g.assemble(nodes, q.inits)
	out := slices.Clone(model)
	out[gi] = onnxpb.MsgField(onnxpb.ModelGraph, graph)
	return out.Marshal(), rep, nil
}

// rewriter carries one quantization pass over a graph.
type rewriter struct {
	g    *graph
	opts Options
	rep  *Report

	// convs marks the Conv nodes (by index) to quantize statically.
	convs map[int]bool
	// folded marks the Relu nodes (by index) folded into a quantizer;
	// rename maps a folded producer's old output to the Relu's output.
	folded map[int]bool
	rename map[string]string
	// acts are the activation tensors to quantize, in graph order, with
	// the tensor whose range each one shares (MaxPool keeps its input's).
	acts    []string
	actSet  map[string]bool
	sameAs  map[string]string
	ranges  map[string]qparams
	inits   []onnxpb.Msg
	counter int
}

// qparams are one activation's uint8 scale and zero point.
type qparams struct {
	scale float32
	zero  uint8
}

// planConvs picks the convolutions to quantize, folds the ReLUs after
// them, and lists the activation tensors whose range must be measured:
// every quantized Conv's input and output, and the output of a residual
// Add or a MaxPool whose inputs are all quantized.
func (q *rewriter) planConvs(statics bool) {
	g := q.g
	q.convs, q.folded, q.rename = map[int]bool{}, map[int]bool{}, map[string]string{}
	q.actSet, q.sameAs = map[string]bool{}, map[string]string{}
	add := func(t string) {
		if !q.actSet[t] {
			q.actSet[t] = true
			q.acts = append(q.acts, t)
		}
	}
	producedBy := map[string]int{} // tensor -> node index, post-fold names
	for i, n := range g.nodes {
		op, ins, outs := n.Str(onnxpb.NodeOpType), n.Strs(onnxpb.NodeInput), n.Strs(onnxpb.NodeOutput)
		switch op {
		case "Conv":
			if !statics || len(ins) < 2 || g.floatInit(ins[1]) == nil || len(outs) != 1 {
				q.rep.FloatConvs++
				continue
			}
			q.convs[i] = true
			add(ins[0])
			add(outs[0])
			producedBy[outs[0]] = i
		case "Add":
			if len(ins) == 2 && q.actSet[ins[0]] && q.actSet[ins[1]] && len(outs) == 1 {
				add(outs[0])
				producedBy[outs[0]] = i
			}
		case "MaxPool":
			if q.actSet[ins[0]] && len(outs) == 1 {
				add(outs[0])
				q.sameAs[outs[0]] = ins[0]
			}
		case "Relu":
			x := ins[0]
			p, ok := producedBy[x]
			if !ok || len(g.consumers[x]) != 1 || g.isOutput[x] || q.sameAs[x] != "" {
				continue
			}
			// Fold: the producer writes the Relu's output directly, and
			// the quantizer's zero point 0 does the clamping.
			q.folded[i] = true
			q.rename[x] = outs[0]
			delete(producedBy, x)
			producedBy[outs[0]] = p
			q.actSet[x] = false
			q.acts[slices.Index(q.acts, x)] = outs[0]
			q.actSet[outs[0]] = true
			q.rep.ReLUs++
		}
	}
	q.rep.Activations = len(q.acts)
}

// calibrate runs the float model with every planned activation as an
// extra output over the calibration batches and sets each one's range.
func (q *rewriter) calibrate(src []byte) error {
	names := make([]string, 0, len(q.acts))
	for _, t := range q.acts {
		if q.sameAs[t] == "" {
			names = append(names, t)
		}
	}
	mins, maxs, err := measureRanges(src, names, q.opts)
	if err != nil {
		return err
	}
	q.ranges = map[string]qparams{}
	for _, t := range names {
		q.ranges[t] = uint8Params(mins[t], maxs[t])
	}
	for _, t := range q.acts {
		if src := q.sameAs[t]; src != "" {
			for q.sameAs[src] != "" {
				src = q.sameAs[src]
			}
			q.ranges[t] = q.ranges[src]
		}
	}
	return nil
}

// uint8Params maps [lo, hi] (widened to hold 0, which must be exact so
// zero padding and ReLU stay exact) onto 0..255.
func uint8Params(lo, hi float32) qparams {
	lo, hi = min(lo, 0), max(hi, 0)
	if hi-lo < 1e-12 {
		return qparams{scale: 1, zero: 0}
	}
	scale := (hi - lo) / 255
	zero := math.Round(float64(-lo / scale))
	return qparams{scale: scale, zero: uint8(min(max(zero, 0), 255))}
}

func (q *rewriter) fresh(base string) string {
	q.counter++
	return fmt.Sprintf("reelmatch_q/%d/%s", q.counter, base)
}

func (q *rewriter) addInit(t onnxpb.Msg) { q.inits = append(q.inits, t) }

// rewrite returns the new node list.
func (q *rewriter) rewrite() ([]onnxpb.Msg, error) {
	g := q.g
	var out []onnxpb.Msg
	// Graph inputs that are activations (a ResNet's pixel_values) are
	// quantized up front; their consumers read the dequantized copy.
	inputAlias := map[string]string{}
	for _, t := range q.acts {
		if g.isInput[t] {
			dq := t + "/dequantized"
			out = append(out, q.qdq(t, dq, q.ranges[t])...)
			inputAlias[t] = dq
		}
	}
	for i, n := range g.nodes {
		if q.folded[i] {
			continue
		}
		op, ins, outs := n.Str(onnxpb.NodeOpType), n.Strs(onnxpb.NodeInput), n.Strs(onnxpb.NodeOutput)
		for j, in := range ins {
			if a, ok := inputAlias[in]; ok {
				ins[j] = a
			}
		}
		for j, o := range outs {
			if r, ok := q.rename[o]; ok {
				outs[j] = r
			}
		}
		switch {
		case op == "MatMul" && len(ins) == 2:
			if w := g.floatInit(ins[1]); w != nil && len(w.dims) == 2 {
				out = append(out, q.dynamicMatMul(n, ins, outs[0], w)...)
				q.rep.MatMuls++
				continue
			}
			q.rep.FloatMatMuls++
		case op == "Conv" && q.convs[i]:
			ns, err := q.staticConv(n, ins, outs)
			if err != nil {
				return nil, err
			}
			out = append(out, ns...)
			q.rep.Convs++
			continue
		}
		out = append(out, q.quantizeOutputs(onnxpb.WithIO(n, ins, outs), outs)...)
	}
	return out, nil
}

// quantizeOutputs appends a QuantizeLinear/DequantizeLinear pair after
// node n for each of its outputs that is a planned activation: n writes
// "<t>/float" and the pair writes t, so consumers and graph outputs keep
// their names.
func (q *rewriter) quantizeOutputs(n onnxpb.Msg, outs []string) []onnxpb.Msg {
	var tail []onnxpb.Msg
	renamed := slices.Clone(outs)
	for j, t := range outs {
		if !q.actSet[t] {
			continue
		}
		renamed[j] = t + "/float"
		tail = append(tail, q.qdq(renamed[j], t, q.ranges[t])...)
	}
	if len(tail) == 0 {
		return []onnxpb.Msg{n}
	}
	return append([]onnxpb.Msg{onnxpb.WithIO(n, n.Strs(onnxpb.NodeInput), renamed)}, tail...)
}

// qdq quantizes x to uint8 and back into y.
func (q *rewriter) qdq(x, y string, p qparams) []onnxpb.Msg {
	scale, zero := q.fresh("scale"), q.fresh("zero_point")
	q.addInit(onnxpb.FloatTensor(scale, nil, []float32{p.scale}))
	q.addInit(onnxpb.Tensor(zero, onnxpb.DTypeUint8, nil, []byte{p.zero}))
	quantized := q.fresh("quantized")
	return []onnxpb.Msg{
		onnxpb.Node("QuantizeLinear", q.fresh("QuantizeLinear"), []string{x, scale, zero}, []string{quantized}),
		onnxpb.Node("DequantizeLinear", q.fresh("DequantizeLinear"), []string{quantized, scale, zero}, []string{y}),
	}
}

// weightLimit is the largest int8 weight magnitude.
func (q *rewriter) weightLimit() float32 {
	if q.opts.ReduceRange {
		return 63
	}
	return 127
}

// quantizeWeights maps w symmetrically onto int8 with one scale per group
// of per consecutive values (per = len(w) is per tensor).
func (q *rewriter) quantizeWeights(w []float32, per int) ([]byte, []float32) {
	limit := q.weightLimit()
	groups := len(w) / per
	scales := make([]float32, groups)
	raw := make([]byte, len(w))
	for c := range groups {
		var m float32
		for _, v := range w[c*per : (c+1)*per] {
			m = max(m, float32(math.Abs(float64(v))))
		}
		s := m / limit
		if s == 0 {
			s = 1
		}
		scales[c] = s
		for k, v := range w[c*per : (c+1)*per] {
			x := math.Round(float64(v / s))
			raw[c*per+k] = byte(int8(min(max(x, float64(-limit)), float64(limit))))
		}
	}
	return raw, scales
}

// dynamicMatMul replaces Y = A·W with the pattern ONNX Runtime fuses into
// DynamicQuantizeMatMul:
//
//	DynamicQuantizeLinear(A) -> Aq, As, Az
//	MatMulInteger(Aq, Wq, Az, Wz) -> Cast(float) -> Mul(As*Ws) -> Y
func (q *rewriter) dynamicMatMul(n onnxpb.Msg, ins []string, y string, w *floatInit) []onnxpb.Msg {
	raw, scales := q.quantizeWeights(w.values, len(w.values))
	wq, ws, wz := q.fresh("weight_quantized"), q.fresh("weight_scale"), q.fresh("weight_zero_point")
	q.addInit(onnxpb.Tensor(wq, onnxpb.DTypeInt8, w.dims, raw))
	q.addInit(onnxpb.FloatTensor(ws, nil, scales))
	q.addInit(onnxpb.Tensor(wz, onnxpb.DTypeInt8, nil, []byte{0}))
	aq, as, az := q.fresh("input_quantized"), q.fresh("input_scale"), q.fresh("input_zero_point")
	mm, mmf, scale := q.fresh("matmul_int32"), q.fresh("matmul_float"), q.fresh("scale")
	name := n.Str(onnxpb.NodeName)
	return []onnxpb.Msg{
		onnxpb.Node("DynamicQuantizeLinear", name+"/DynamicQuantizeLinear", []string{ins[0]}, []string{aq, as, az}),
		onnxpb.Node("MatMulInteger", name+"/MatMulInteger", []string{aq, wq, az, wz}, []string{mm}),
		onnxpb.Node("Cast", name+"/Cast", []string{mm}, []string{mmf}, onnxpb.IntAttr("to", onnxpb.DTypeFloat)),
		onnxpb.Node("Mul", name+"/ScaleProduct", []string{as, ws}, []string{scale}),
		onnxpb.Node("Mul", name+"/Rescale", []string{mmf, scale}, []string{y}),
	}
}

// staticConv feeds the Conv dequantized per-channel int8 weights and an
// int32 bias, and quantizes its output; its input is already quantized
// by its producer (or up front, for a graph input).
func (q *rewriter) staticConv(n onnxpb.Msg, ins, outs []string) ([]onnxpb.Msg, error) {
	w := q.g.floatInit(ins[1])
	if len(w.dims) < 2 || w.dims[0] <= 0 {
		return nil, fmt.Errorf("Conv %q: weight %q has shape %v, want [M, C/group, k...]", n.Str(onnxpb.NodeName), ins[1], w.dims)
	}
	channels := int(w.dims[0])
	raw, scales := q.quantizeWeights(w.values, len(w.values)/channels)
	var nodes []onnxpb.Msg
	// Symmetric weights and biases leave out the zero point (it defaults
	// to 0): onnx-gomlx v0.5.0 cannot broadcast a per-axis one.
	wq, ws, wdq := q.fresh("weight_quantized"), q.fresh("weight_scale"), q.fresh("weight")
	q.addInit(onnxpb.Tensor(wq, onnxpb.DTypeInt8, w.dims, raw))
	q.addInit(onnxpb.FloatTensor(ws, []int64{int64(channels)}, scales))
	nodes = append(nodes, onnxpb.Node("DequantizeLinear", q.fresh("DequantizeLinear"), []string{wq, ws}, []string{wdq}, onnxpb.IntAttr("axis", 0)))
	newIns := []string{ins[0], wdq}

	if len(ins) > 2 && ins[2] != "" {
		b := q.g.floatInit(ins[2])
		if b == nil || len(b.values) != channels {
			return nil, fmt.Errorf("Conv %q: bias %q is not a constant of %d values", n.Str(onnxpb.NodeName), ins[2], channels)
		}
		// The input's range is keyed by its name in the float graph,
		// before a graph input is swapped for its dequantized copy.
		xs := q.ranges[n.Strs(onnxpb.NodeInput)[0]].scale
		bscales := make([]float32, channels)
		braw := make([]byte, 4*channels)
		for c := range channels {
			bscales[c] = xs * scales[c]
			v := math.Round(float64(b.values[c] / bscales[c]))
			binary.LittleEndian.PutUint32(braw[4*c:], uint32(int32(min(max(v, math.MinInt32), math.MaxInt32))))
		}
		bq, bs, bdq := q.fresh("bias_quantized"), q.fresh("bias_scale"), q.fresh("bias")
		q.addInit(onnxpb.Tensor(bq, onnxpb.DTypeInt32, []int64{int64(channels)}, braw))
		q.addInit(onnxpb.FloatTensor(bs, []int64{int64(channels)}, bscales))
		nodes = append(nodes, onnxpb.Node("DequantizeLinear", q.fresh("DequantizeLinear"), []string{bq, bs}, []string{bdq}, onnxpb.IntAttr("axis", 0)))
		newIns = append(newIns, bdq)
	}
	return append(nodes, q.quantizeOutputs(onnxpb.WithIO(n, newIns, outs), outs)...), nil
}
