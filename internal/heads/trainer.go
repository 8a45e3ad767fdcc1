package heads

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// backend is the pure-Go GoMLX backend, made once: training runs on the CPU
// in float32.
//
// Its worker pool runs independent graph ops at once, one worker each, and
// a matrix product then asks the pool for more workers and waits until one
// is free (workerspool.Pool.Saturate in gomlx/compute
// v0.0.0-20260716164435). If every worker holds a product that waits, the
// step deadlocks: the default pool, 2 x GOMAXPROCS = 4 workers on a 2-core
// machine, did, since the training graph runs up to about four products at
// once (in the backward pass, both towers compute dW and dX of a layer
// together). minWorkers leaves room for that. Running ops one at a time
// ("ops_sequential") also avoids it but made an epoch 1.9x slower.
//
// The pool size is 2 x GOMAXPROCS when the backend is made, and the
// "parallelism=N" config option would print to stdout (which --json
// output owns), so GOMAXPROCS is raised for the call instead.
var backend = sync.OnceValues(func() (compute.Backend, error) {
	procs := runtime.GOMAXPROCS(0)
	if procs < minWorkers/2 {
		runtime.GOMAXPROCS(minWorkers / 2)
		defer runtime.GOMAXPROCS(procs)
	}
	return gobackend.New("")
})

// minWorkers is the smallest worker pool the backend gets: well above the
// number of matrix products the training graph can run at once.
const minWorkers = 16

// adamEpsilon is PyTorch's Adam default (gomlx defaults to 1e-7).
const adamEpsilon = 1e-8

// trainer holds the GoMLX state of one training run: the variables, Adam's
// moments, the RNG and the compiled step and evaluation graphs. It is not
// safe for concurrent use.
type trainer struct {
	cfg        Config
	store      *model.Store
	img, txt   towerVars
	logitScale *model.Variable // nil unless cfg.LearnTemperature
	lr         *model.Variable
	names      map[*model.Variable]string // PyTorch name of every weight variable
	tracked    [2][]int64                 // num_batches_tracked per tower and BatchNorm

	step, evalImg, evalTxt *model.Exec
}

// newTrainer builds the variables from w and compiles nothing yet (graphs
// compile on first use, one per distinct batch shape).
func newTrainer(cfg Config, w *weights) (t *trainer, err error) {
	defer recoverError(&err, "set up training graph")
	be, err := backend()
	if err != nil {
		return nil, fmt.Errorf("start GoMLX go backend: %w", err)
	}
	t = &trainer{cfg: cfg, store: model.NewStore(), names: map[*model.Variable]string{}}
	t.img = t.addTower(imgPrefix, w.Img, 0)
	t.txt = t.addTower(txtPrefix, w.Txt, 1)
	if cfg.LearnTemperature {
		t.logitScale = t.store.VariableWithValue("/"+logitScaleName, w.LogitScale)
		t.names[t.logitScale] = logitScaleName
	}
	t.lr = optimizer.LearningRateVarWithValue(t.store.RootScope(), dtypes.Float32, cfg.LR)
	if err := t.store.SetRNGStateFromSeed(cfg.Seed); err != nil {
		return nil, fmt.Errorf("seed GoMLX RNG: %w", err)
	}
	opt := optimizer.Adam().LearningRate(cfg.LR).Betas(0.9, 0.999).Epsilon(adamEpsilon).WeightDecay(cfg.WeightDecay).Done()

	if t.step, err = model.NewExec(be, t.store, func(scope *model.Scope, imgX, txtX *graph.Node) *graph.Node {
		loss := t.lossGraph(scope, imgX, txtX)
		opt.UpdateGraph(scope, imgX.Graph(), loss)
		if t.logitScale != nil {
			// CLIP clamps 1/τ at 100 after each step.
			g := imgX.Graph()
			t.logitScale.SetNodeValue(graph.ClipScalar(t.logitScale.NodeValue(g), 0, math.Log(maxLogitScaleFactor)))
		}
		return loss
	}); err != nil {
		return nil, fmt.Errorf("build training step: %w", err)
	}
	evalFn := func(tv *towerVars) func(scope *model.Scope, x *graph.Node) *graph.Node {
		return func(scope *model.Scope, x *graph.Node) *graph.Node {
			return tv.forward(scope, x, t.cfg, evalMode)
		}
	}
	if t.evalImg, err = model.NewExec(be, t.store, evalFn(&t.img)); err != nil {
		return nil, fmt.Errorf("build image projection: %w", err)
	}
	if t.evalTxt, err = model.NewExec(be, t.store, evalFn(&t.txt)); err != nil {
		return nil, fmt.Errorf("build text projection: %w", err)
	}
	return t, nil
}

// addTower creates one tower's variables, named by their PyTorch names
// under the tower's scope.
func (t *trainer) addTower(prefix string, tw tower, idx int) towerVars {
	var tv towerVars
	add := func(name string, v []float32, trainable bool) *model.Variable {
		x := t.store.VariableWithValue("/"+prefix[:len(prefix)-1]+"/"+name[len(prefix):],
			tensors.FromFlatDataAndDimensions(append([]float32(nil), v...), len(v))).SetTrainable(trainable)
		t.names[x] = name
		return x
	}
	for i, l := range tw.Linears {
		w := t.store.VariableWithValue("/"+prefix[:len(prefix)-1]+"/"+linearName("", i, "weight"),
			tensors.FromFlatDataAndDimensions(append([]float32(nil), l.W...), l.Out, l.In))
		t.names[w] = linearName(prefix, i, "weight")
		tv.W = append(tv.W, w)
		tv.B = append(tv.B, add(linearName(prefix, i, "bias"), l.B, true))
	}
	for i, bn := range tw.BNs {
		tv.Gamma = append(tv.Gamma, add(bnName(prefix, i, "weight"), bn.Gamma, true))
		tv.Beta = append(tv.Beta, add(bnName(prefix, i, "bias"), bn.Beta, true))
		tv.Mean = append(tv.Mean, add(bnName(prefix, i, "running_mean"), bn.Mean, false))
		tv.Var = append(tv.Var, add(bnName(prefix, i, "running_var"), bn.Var, false))
		t.tracked[idx] = append(t.tracked[idx], bn.Tracked)
	}
	return tv
}

// lossGraph runs both towers in training mode and returns the scalar loss.
func (t *trainer) lossGraph(scope *model.Scope, imgX, txtX *graph.Node) *graph.Node {
	a := t.img.forward(scope, imgX, t.cfg, trainMode)
	b := t.txt.forward(scope, txtX, t.cfg, trainMode)
	if t.logitScale != nil {
		return clipLoss(a, b, graph.Exp(t.logitScale.NodeValue(imgX.Graph())), 0)
	}
	return clipLoss(a, b, nil, t.cfg.Temperature)
}

// setLR sets the learning rate used by the following steps.
func (t *trainer) setLR(lr float64) error {
	return t.lr.SetValue(tensors.FromScalar(float32(lr)))
}

// trainStep runs one Adam step on a batch: img [n*ImageDim] and txt
// [n*TextDim] row-major. It returns the batch loss before the step.
func (t *trainer) trainStep(img, txt []float32, n int) (loss float32, err error) {
	defer recoverError(&err, "training step")
	out, err := t.step.Call(
		tensors.FromFlatDataAndDimensions(img, n, t.cfg.ImageDim),
		tensors.FromFlatDataAndDimensions(txt, n, t.cfg.TextDim))
	if err != nil {
		return 0, err
	}
	loss = tensors.MustCopyFlatData[float32](out[0])[0]
	out[0].MustFinalizeAll()
	for i := range t.tracked {
		for j := range t.tracked[i] {
			t.tracked[i][j]++
		}
	}
	if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
		return loss, fmt.Errorf("%w: loss is %v (lower the learning rate, keep --standardize, or check the features)", ErrDiverged, loss)
	}
	return loss, nil
}

// project runs one tower in eval mode on x [n*dim] row-major and returns
// its outputs [n*EmbedDim], not normalised.
func (t *trainer) project(exec *model.Exec, x []float32, n, dim int) (out []float32, err error) {
	defer recoverError(&err, "projection")
	res, err := exec.Call(tensors.FromFlatDataAndDimensions(x, n, dim))
	if err != nil {
		return nil, err
	}
	out = tensors.MustCopyFlatData[float32](res[0])
	res[0].MustFinalizeAll()
	return out, nil
}

// weights copies the current variable values out of GoMLX.
func (t *trainer) weights() (w *weights, err error) {
	defer recoverError(&err, "read weights")
	read := func(v *model.Variable) []float32 {
		return tensors.MustCopyFlatData[float32](v.MustValue())
	}
	readTower := func(tv *towerVars, tracked []int64) tower {
		var tw tower
		for i := range tv.W {
			shape := tv.W[i].Shape().Dimensions // [out, in]
			tw.Linears = append(tw.Linears, linear{In: shape[1], Out: shape[0], W: read(tv.W[i]), B: read(tv.B[i])})
		}
		for i := range tv.Gamma {
			tw.BNs = append(tw.BNs, batchNorm{Gamma: read(tv.Gamma[i]), Beta: read(tv.Beta[i]),
				Mean: read(tv.Mean[i]), Var: read(tv.Var[i]), Tracked: tracked[i]})
		}
		return tw
	}
	w = &weights{Img: readTower(&t.img, t.tracked[0]), Txt: readTower(&t.txt, t.tracked[1]),
		LogitScale: float32(math.Log(1 / t.cfg.Temperature))}
	if t.logitScale != nil {
		w.LogitScale = read(t.logitScale)[0]
	}
	return w, nil
}

// close releases the compiled graphs.
func (t *trainer) close() {
	for _, e := range []*model.Exec{t.step, t.evalImg, t.evalTxt} {
		if e != nil {
			e.Finalize()
		}
	}
}

// recoverError turns a panic from graph building into an error: GoMLX
// graph functions panic on shape mistakes, and no exported entry point of
// this package may.
func recoverError(err *error, what string) {
	if r := recover(); r != nil {
		if e, ok := r.(error); ok {
			*err = fmt.Errorf("%s: %w", what, e)
		} else {
			*err = fmt.Errorf("%s: %v", what, r)
		}
	}
}
