package heads

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// towerVars are one tower's weights as GoMLX variables, in the same order
// as tower (len(W) == len(Gamma)+1).
type towerVars struct {
	W, B                   []*model.Variable // Linear weight [out, in] and bias [out]
	Gamma, Beta, Mean, Var []*model.Variable // BatchNorm1d weight, bias, running_mean, running_var [dim]
}

// mode says how a graph runs the towers.
type mode int

const (
	// evalMode normalises with the running statistics and drops nothing.
	evalMode mode = iota
	// trainMode normalises with the batch statistics, updates the running
	// ones (momentum 0.1, unbiased variance, as PyTorch) and applies dropout.
	trainMode
)

// forward runs the tower on x [batch, in] and returns [batch, embed],
// not normalised.
//
// BatchNorm is written out here rather than taken from gomlx's norm
// package: that one keeps debiased running averages of the biased variance,
// while checkpoints must carry PyTorch's running statistics (momentum 0.1,
// unbiased variance) to interoperate with the seed.
func (tv *towerVars) forward(scope *model.Scope, x *graph.Node, cfg Config, m mode) *graph.Node {
	g := x.Graph()
	// Features are constants: without this, autodiff would also compute the
	// gradient with respect to the input (a wasted [batch, in] matmul).
	x = graph.StopGradient(x)
	if m == trainMode {
		x = dropout(scope, x, cfg.InputDropout)
	}
	for i := range tv.Gamma {
		x = linearGraph(x, tv.W[i].NodeValue(g), tv.B[i].NodeValue(g))
		x = batchNormGraph(x, tv.Gamma[i], tv.Beta[i], tv.Mean[i], tv.Var[i], m)
		x = graph.Max(x, graph.ZerosLike(x)) // ReLU
		if m == trainMode {
			x = dropout(scope, x, cfg.Dropout)
		}
	}
	last := len(tv.W) - 1
	return linearGraph(x, tv.W[last].NodeValue(g), tv.B[last].NodeValue(g))
}

// linearGraph is torch.nn.Linear: x [batch, in], w [out, in], b [out].
func linearGraph(x, w, b *graph.Node) *graph.Node {
	y := graph.Einsum("bi,oi->bo", x, w)
	return graph.Add(y, graph.Reshape(b, 1, b.Shape().Dimensions[0]))
}

// batchNormGraph is torch.nn.BatchNorm1d over x [batch, dim].
func batchNormGraph(x *graph.Node, gammaV, betaV, meanV, varV *model.Variable, m mode) *graph.Node {
	g := x.Graph()
	batch, dim := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	gamma := graph.Reshape(gammaV.NodeValue(g), 1, dim)
	beta := graph.Reshape(betaV.NodeValue(g), 1, dim)
	if m == evalMode {
		mean := graph.Reshape(meanV.NodeValue(g), 1, dim)
		variance := graph.Reshape(varV.NodeValue(g), 1, dim)
		return graph.Add(graph.Mul(graph.Div(graph.Sub(x, mean), graph.Sqrt(graph.AddScalar(variance, bnEps))), gamma), beta)
	}
	mean := graph.ReduceAndKeep(x, graph.ReduceMean, 0)
	centered := graph.Sub(x, mean)
	variance := graph.ReduceAndKeep(graph.Square(centered), graph.ReduceMean, 0) // biased, to normalise
	y := graph.Add(graph.Mul(graph.Div(centered, graph.Sqrt(graph.AddScalar(variance, bnEps))), gamma), beta)

	// Running statistics: PyTorch stores the unbiased batch variance.
	batchMean := graph.StopGradient(graph.Reshape(mean, dim))
	batchVar := graph.StopGradient(graph.MulScalar(graph.Reshape(variance, dim), float64(batch)/float64(batch-1)))
	meanV.SetNodeValue(graph.Add(graph.MulScalar(meanV.NodeValue(g), 1-bnMomentum), graph.MulScalar(batchMean, bnMomentum)))
	varV.SetNodeValue(graph.Add(graph.MulScalar(varV.NodeValue(g), 1-bnMomentum), graph.MulScalar(batchVar, bnMomentum)))
	return y
}

// dropout zeroes each element with probability p and scales the rest by
// 1/(1-p) (inverted dropout, as torch.nn.Dropout), drawing from the store's
// seeded RNG.
func dropout(scope *model.Scope, x *graph.Node, p float64) *graph.Node {
	if p <= 0 {
		return x
	}
	g := x.Graph()
	u := scope.RandomUniform(g, x.Shape())
	keep := graph.ConvertDType(graph.GreaterOrEqual(u, graph.Scalar(g, x.DType(), p)), x.DType())
	return graph.Mul(x, graph.MulScalar(keep, 1/(1-p)))
}

// clipLoss is CLIP's symmetric contrastive loss on img, txt [batch, embed]:
// both are L2-normalised, logits = img·txtᵀ · scale, and the cross-entropy
// over rows (poster -> intro) and over columns (intro -> poster), with the
// matching pair on the diagonal as the label, are averaged.
//
// scale multiplies the cosine similarities; divideBy, when > 0, divides them
// instead (a fixed temperature, computed exactly as the PyTorch reference
// does: sim / 0.07).
func clipLoss(img, txt, scale *graph.Node, divideBy float64) *graph.Node {
	g := img.Graph()
	n := img.Shape().Dimensions[0]
	a := graph.L2Normalize(img, -1)
	b := graph.L2Normalize(txt, -1)
	logits := graph.Einsum("id,jd->ij", a, b)
	if divideBy > 0 {
		logits = graph.DivScalar(logits, divideBy)
	} else {
		logits = graph.Mul(logits, scale)
	}
	iotaShape := shapes.Make(dtypes.Int32, n, n)
	eye := graph.ConvertDType(graph.Equal(graph.Iota(g, iotaShape, 0), graph.Iota(g, iotaShape, 1)), logits.DType())
	rows := graph.ReduceAllMean(graph.ReduceSum(graph.Mul(graph.LogSoftmax(logits, 1), eye), 1))
	cols := graph.ReduceAllMean(graph.ReduceSum(graph.Mul(graph.LogSoftmax(logits, 0), eye), 0))
	return graph.Neg(graph.DivScalar(graph.Add(rows, cols), 2))
}
