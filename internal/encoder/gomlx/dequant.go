package gomlx

import (
	"github.com/reelmatch/reelmatch/internal/onnxpb"
)

// Int8 models (`reelmatch models quantize`) keep weights as int8 or int32
// initializers feeding DequantizeLinear. onnx-gomlx computes that, but a
// Conv whose weight is a computed tensor misses the im2col lowering in
// conv.go and falls to the backend's direct convolution, about 20 times
// slower. The pure-Go backend has no integer kernels to gain from, so a
// DequantizeLinear of constants is folded into the float32 initializer it
// computes; the activations' QuantizeLinear/DequantizeLinear pairs stay,
// so the outputs are the int8 model's.

// foldDequantize returns the float32 initializer that DequantizeLinear
// node n computes when all its inputs are initializers stored as raw
// int8, uint8 or int32 data with float32 scales, per tensor or per axis.
func (g *graphInfo) foldDequantize(n onnxpb.Msg) (onnxpb.Msg, bool) {
	ins, outs := n.Strs(onnxpb.NodeInput), n.Strs(onnxpb.NodeOutput)
	if len(ins) < 2 || len(ins) > 3 || len(outs) != 1 {
		return nil, false
	}
	x, ok := g.inits[ins[0]]
	if !ok {
		return nil, false
	}
	xs, ok := onnxpb.TensorInts(x)
	if !ok {
		return nil, false
	}
	dims, err := x.Ints(onnxpb.TensorDims)
	if err != nil {
		return nil, false
	}
	scaleT, ok := g.inits[ins[1]]
	if !ok {
		return nil, false
	}
	sn, err := onnxpb.TensorNumel(scaleT)
	if err != nil {
		return nil, false
	}
	scales, ok := onnxpb.TensorFloats(scaleT, int(sn))
	if !ok || len(scales) == 0 {
		return nil, false
	}
	zeros := make([]int64, len(scales))
	if len(ins) == 3 && ins[2] != "" {
		zt, ok := g.inits[ins[2]]
		if !ok {
			return nil, false
		}
		if zeros, ok = onnxpb.TensorInts(zt); !ok || len(zeros) != len(scales) {
			return nil, false
		}
	}
	// Per tensor: one scale. Per axis: one scale per index of dims[axis].
	inner, channels := len(xs), 1
	if len(scales) > 1 {
		axis := attrInt(n, "axis", 1)
		if axis < 0 {
			axis += int64(len(dims))
		}
		if axis < 0 || int(axis) >= len(dims) || dims[axis] != int64(len(scales)) {
			return nil, false
		}
		inner = 1
		for _, d := range dims[axis+1:] {
			inner *= int(d)
		}
		channels = len(scales)
	}
	out := make([]float32, len(xs))
	for i, v := range xs {
		c := (i / inner) % channels
		out[i] = float32(v-zeros[c]) * scales[c]
	}
	t := onnxpb.FloatTensor(outs[0], dims, out)
	return t, true
}
