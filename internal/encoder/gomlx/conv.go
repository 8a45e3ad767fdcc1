package gomlx

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/reelmatch/reelmatch/internal/onnxpb"
	"google.golang.org/protobuf/encoding/protowire"
)

// The pure-Go backend computes Conv with a direct loop nest (compute
// gobackend ops/convgeneral_exec_base.go): ResNet-50 spent 95% of a
// 20-second image there. Its MatMul is blocked and SIMD-vectorised, so
// rewriting each Conv as im2col + MatMul (the classic lowering) makes
// convolutional encoders usable on this backend:
//
//	x [N,C,H,W] --Pad--> --Slice per kernel tap (i,j), stride steps-->
//	Concat on channels [N, kh*kw*C, Ho, Wo] --Transpose--> [N,Ho,Wo,kh*kw*C]
//	--MatMul W' [kh*kw*C, K]--> (+bias [K]) --Transpose--> y [N,K,Ho,Wo]
//
// W'[(i*kw+j)*C+c, k] = W[k,c,i,j] is precomputed at load. Only plain 2-D
// convolutions qualify: one group, no dilation, explicit pads, a float32
// weight initializer, and at most maxConvTaps kernel taps (a ViT's 32x32
// patch embedding would need 1024 slices; it is a small share of its cost).

// maxConvTaps bounds kh*kw for the rewrite; 7x7 (ResNet's stem) is 49.
const maxConvTaps = 64

// int64Max is ONNX's "to the end" value for Slice ends.
const int64Max = math.MaxInt64

type convRewrite struct {
	nodes []onnxpb.Msg // replacing the Conv, in order
	init  onnxpb.Msg   // the new weight initializer
	drop  string       // the old weight initializer, now unused by this node
	note  string
}

// convToMatMul returns the replacement for a Conv node, or ok=false when
// the node does not qualify.
func (g *graphInfo) convToMatMul(n onnxpb.Msg, inits map[string]onnxpb.Msg) (convRewrite, bool) {
	ins, outs := n.Strs(onnxpb.NodeInput), n.Strs(onnxpb.NodeOutput)
	if len(ins) < 2 || len(ins) > 3 || len(outs) != 1 || (len(ins) == 3 && ins[2] == "") {
		return convRewrite{}, false
	}
	w, ok := inits[ins[1]]
	if !ok {
		return convRewrite{}, false
	}
	dims, err := w.Ints(onnxpb.TensorDims)
	if err != nil || len(dims) != 4 {
		return convRewrite{}, false
	}
	if dt, _ := w.Varint(onnxpb.TensorDataType); dt != onnxpb.DTypeFloat {
		return convRewrite{}, false
	}
	k, c, kh, kw := dims[0], dims[1], dims[2], dims[3]
	if k <= 0 || c <= 0 || kh <= 0 || kw <= 0 {
		return convRewrite{}, false
	}
	if attrInt(n, "group", 1) != 1 {
		return convRewrite{}, false
	}
	if a, ok := attr(n, "auto_pad"); ok {
		if v := a.Str(4); v != "" && v != "NOTSET" {
			return convRewrite{}, false
		}
	}
	if d, ok := attrInts(n, "dilations"); ok && slices.ContainsFunc(d, func(v int64) bool { return v != 1 }) {
		return convRewrite{}, false
	}
	if ks, ok := attrInts(n, "kernel_shape"); ok && !slices.Equal(ks, []int64{kh, kw}) {
		return convRewrite{}, false
	}
	strides := []int64{1, 1}
	if s, ok := attrInts(n, "strides"); ok {
		if len(s) != 2 {
			return convRewrite{}, false
		}
		strides = s
	}
	pads := []int64{0, 0, 0, 0} // [top, left, bottom, right]
	if p, ok := attrInts(n, "pads"); ok {
		if len(p) != 4 {
			return convRewrite{}, false
		}
		pads = p
	}
	// A patch embedding (kernel == stride, no padding, as in ViT and CLIP)
	// over an input of declared, divisible size is a reshape, not slices.
	noPads := !slices.ContainsFunc(pads, func(v int64) bool { return v != 0 })
	xDims := g.dims[ins[0]]
	patchify := kh*kw > 1 && strides[0] == kh && strides[1] == kw && noPads &&
		len(xDims) == 4 && xDims[1] == c && xDims[2] > 0 && xDims[3] > 0 && xDims[2]%kh == 0 && xDims[3]%kw == 0
	if !patchify && kh*kw > maxConvTaps {
		return convRewrite{}, false
	}
	weights, ok := onnxpb.TensorFloats(w, int(k*c*kh*kw))
	if !ok {
		return convRewrite{}, false
	}

	// W' [kh*kw*C, K], row (i*kw+j)*C+c.
	taps := kh * kw
	raw := make([]byte, 4*taps*c*k)
	for ki := range k {
		for ci := range c {
			for i := range kh {
				for j := range kw {
					v := weights[((ki*c+ci)*kh+i)*kw+j]
					row := (i*kw+j)*c + ci
					binary.LittleEndian.PutUint32(raw[4*(row*k+ki):], math.Float32bits(v))
				}
			}
		}
	}
	base := outs[0] + "/reelmatch_conv"
	wName := g.freshName(base + "/weight")
	r := convRewrite{
		init: onnxpb.Msg{
			onnxpb.PackedInts(onnxpb.TensorDims, []int64{taps * c, k}),
			onnxpb.VarintField(onnxpb.TensorDataType, onnxpb.DTypeFloat),
			onnxpb.StrField(onnxpb.TensorName, wName),
			{Num: onnxpb.TensorRawData, Typ: protowire.BytesType, B: raw},
		},
		drop: ins[1],
		note: fmt.Sprintf("Conv %q: %dx%d kernel as im2col + MatMul", n.Str(onnxpb.NodeName), kh, kw),
	}
	constant := func(name string, vs ...int64) string {
		name = g.freshName(base + "/" + name)
		r.nodes = append(r.nodes, onnxpb.Node("Constant", name, nil, []string{name},
			onnxpb.TensorAttr("value", onnxpb.Int64Tensor([]int64{int64(len(vs))}, vs))))
		return name
	}

	x := ins[0]
	var cols string
	if patchify {
		// [N,C,H,W] -> [N,C,H/kh,kh,W/kw,kw] -> [N,H/kh,W/kw,kh,kw,C] -> [N,H/kh,W/kw,kh*kw*C]
		hp, wp := xDims[2]/kh, xDims[3]/kw
		split := constant("patch_shape", 0, c, hp, kh, wp, kw)
		r1 := g.freshName(base + "/patches")
		r.nodes = append(r.nodes, onnxpb.Node("Reshape", r1, []string{x, split}, []string{r1}))
		t1 := g.freshName(base + "/patches_nhwc")
		r.nodes = append(r.nodes, onnxpb.Node("Transpose", t1, []string{r1}, []string{t1}, onnxpb.IntsAttr("perm", 0, 2, 4, 3, 5, 1)))
		merge := constant("cols_shape", 0, hp, wp, kh*kw*c)
		cols = g.freshName(base + "/cols_nhwc")
		r.nodes = append(r.nodes, onnxpb.Node("Reshape", cols, []string{t1, merge}, []string{cols}))
		r.note = fmt.Sprintf("Conv %q: %dx%d patch embedding as reshape + MatMul", n.Str(onnxpb.NodeName), kh, kw)
		return g.finishConv(r, n, ins, outs, base, cols, wName), true
	}
	if !noPads {
		padsName := constant("pads", 0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3])
		xp := g.freshName(base + "/padded")
		r.nodes = append(r.nodes, onnxpb.Node("Pad", xp, []string{x, padsName}, []string{xp}))
		x = xp
	}
	cols = x
	if taps > 1 || strides[0] != 1 || strides[1] != 1 {
		axes := constant("axes", 2, 3)
		steps := constant("steps", strides[0], strides[1])
		var slicesOut []string
		for i := range kh {
			for j := range kw {
				end := func(off, size int64) int64 { // keep Ho = (Hp-kh)/s+1 rows
					if rest := size - 1 - off; rest > 0 {
						return -rest
					}
					return int64Max
				}
				starts := constant(fmt.Sprintf("starts_%d_%d", i, j), i, j)
				ends := constant(fmt.Sprintf("ends_%d_%d", i, j), end(i, kh), end(j, kw))
				s := g.freshName(fmt.Sprintf("%s/tap_%d_%d", base, i, j))
				r.nodes = append(r.nodes, onnxpb.Node("Slice", s, []string{x, starts, ends, axes, steps}, []string{s}))
				slicesOut = append(slicesOut, s)
			}
		}
		if len(slicesOut) == 1 {
			cols = slicesOut[0]
		} else {
			cols = g.freshName(base + "/cols")
			r.nodes = append(r.nodes, onnxpb.Node("Concat", cols, slicesOut, []string{cols}, onnxpb.IntAttr("axis", 1)))
		}
	}
	nhwc := g.freshName(base + "/nhwc")
	r.nodes = append(r.nodes, onnxpb.Node("Transpose", nhwc, []string{cols}, []string{nhwc}, onnxpb.IntsAttr("perm", 0, 2, 3, 1)))
	return g.finishConv(r, n, ins, outs, base, nhwc, wName), true
}

// finishConv appends MatMul with the reordered weight, the bias, and the
// transpose back to NCHW, taking columns laid out [N, Ho, Wo, kh*kw*C].
func (g *graphInfo) finishConv(r convRewrite, n onnxpb.Msg, ins, outs []string, base, nhwc, wName string) convRewrite {
	mm := g.freshName(base + "/matmul")
	r.nodes = append(r.nodes, onnxpb.Node("MatMul", mm, []string{nhwc, wName}, []string{mm}))
	if len(ins) == 3 {
		biased := g.freshName(base + "/bias")
		r.nodes = append(r.nodes, onnxpb.Node("Add", biased, []string{mm, ins[2]}, []string{biased}))
		mm = biased
	}
	r.nodes = append(r.nodes, onnxpb.Node("Transpose", n.Str(onnxpb.NodeName), []string{mm}, []string{outs[0]}, onnxpb.IntsAttr("perm", 0, 3, 1, 2)))
	g.rank[outs[0]] = 4
	return r
}
