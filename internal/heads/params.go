package heads

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/reelmatch/reelmatch/internal/safetensors"
	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// Tower name prefixes, as the PyTorch reference names its two heads.
const (
	imgPrefix = "img."
	txtPrefix = "txt."
	// logitScaleName is CLIP's name for the learned log(1/τ).
	logitScaleName = "logit_scale"
	// bnEps and bnMomentum are torch.nn.BatchNorm1d's defaults, which the
	// seed uses.
	bnEps      = 1e-5
	bnMomentum = 0.1
	// maxLogitScaleFactor bounds the learned 1/τ at 100, as CLIP clamps
	// its logit scale (Radford et al. 2021, section 2.5).
	maxLogitScaleFactor = 100.0
)

// linear is one torch.nn.Linear: y = x W^T + b.
type linear struct {
	In, Out int
	W       []float32 // [Out, In] row-major, PyTorch's layout
	B       []float32 // [Out]
}

// batchNorm is one torch.nn.BatchNorm1d with its running statistics.
type batchNorm struct {
	Gamma, Beta []float32 // weight and bias, [dim]
	Mean, Var   []float32 // running_mean and running_var (unbiased), [dim]
	Tracked     int64     // num_batches_tracked
}

// tower is one head: Linear+BatchNorm per hidden layer, then the output
// Linear (len(Linears) == len(BNs)+1).
type tower struct {
	Linears []linear
	BNs     []batchNorm
}

// weights are both towers plus the (possibly learned) log(1/τ).
type weights struct {
	Img, Txt   tower
	LogitScale float32
}

// linearName and bnName give the torch.nn.Sequential index of layer i:
// Linear, BatchNorm1d, ReLU, Dropout repeat, so layer i's Linear is at 4i
// and its BatchNorm at 4i+1; the output Linear is at 4*len(hidden).
func linearName(prefix string, i int, field string) string {
	return fmt.Sprintf("%snet.%d.%s", prefix, 4*i, field)
}

func bnName(prefix string, i int, field string) string {
	return fmt.Sprintf("%snet.%d.%s", prefix, 4*i+1, field)
}

// newTower initialises a tower as PyTorch does by default: Linear weights
// and biases uniform in ±1/sqrt(fan_in) (kaiming_uniform with a=sqrt(5)),
// BatchNorm gamma 1, beta 0, running mean 0 and variance 1.
func newTower(rng *rand.Rand, in int, hidden []int, out int) tower {
	var t tower
	sizes := append(append([]int{in}, hidden...), out)
	for i := 0; i+1 < len(sizes); i++ {
		l := linear{In: sizes[i], Out: sizes[i+1]}
		bound := 1 / math.Sqrt(float64(l.In))
		l.W = make([]float32, l.In*l.Out)
		for j := range l.W {
			l.W[j] = float32((rng.Float64()*2 - 1) * bound)
		}
		l.B = make([]float32, l.Out)
		for j := range l.B {
			l.B[j] = float32((rng.Float64()*2 - 1) * bound)
		}
		t.Linears = append(t.Linears, l)
		if i+2 < len(sizes) {
			d := sizes[i+1]
			bn := batchNorm{Gamma: make([]float32, d), Beta: make([]float32, d), Mean: make([]float32, d), Var: make([]float32, d)}
			for j := range d {
				bn.Gamma[j], bn.Var[j] = 1, 1
			}
			t.BNs = append(t.BNs, bn)
		}
	}
	return t
}

// newWeights initialises both towers for cfg from seed.
func newWeights(cfg Config, seed int64) *weights {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed_4ead))
	return &weights{
		Img:        newTower(rng, cfg.ImageDim, cfg.Hidden, cfg.EmbedDim),
		Txt:        newTower(rng, cfg.TextDim, cfg.Hidden, cfg.EmbedDim),
		LogitScale: float32(math.Log(1 / cfg.Temperature)),
	}
}

// tensors returns the weights under their PyTorch names.
func (w *weights) tensors() map[string]safetensors.Tensor {
	out := map[string]safetensors.Tensor{}
	for _, tw := range []struct {
		prefix string
		t      *tower
	}{{imgPrefix, &w.Img}, {txtPrefix, &w.Txt}} {
		for i, l := range tw.t.Linears {
			out[linearName(tw.prefix, i, "weight")] = safetensors.Tensor{Shape: []int{l.Out, l.In}, F32: l.W}
			out[linearName(tw.prefix, i, "bias")] = safetensors.Tensor{Shape: []int{l.Out}, F32: l.B}
		}
		for i, bn := range tw.t.BNs {
			d := len(bn.Gamma)
			out[bnName(tw.prefix, i, "weight")] = safetensors.Tensor{Shape: []int{d}, F32: bn.Gamma}
			out[bnName(tw.prefix, i, "bias")] = safetensors.Tensor{Shape: []int{d}, F32: bn.Beta}
			out[bnName(tw.prefix, i, "running_mean")] = safetensors.Tensor{Shape: []int{d}, F32: bn.Mean}
			out[bnName(tw.prefix, i, "running_var")] = safetensors.Tensor{Shape: []int{d}, F32: bn.Var}
			out[bnName(tw.prefix, i, "num_batches_tracked")] = safetensors.Tensor{Shape: []int{}, I64: []int64{bn.Tracked}}
		}
	}
	out[logitScaleName] = safetensors.Tensor{Shape: []int{}, F32: []float32{w.LogitScale}}
	return out
}

// weightsFromTensors reads both towers for cfg from PyTorch-named tensors,
// checking every shape. A missing logit_scale means log(1/cfg.Temperature).
func weightsFromTensors(ts map[string]safetensors.Tensor, cfg Config) (*weights, error) {
	w := &weights{LogitScale: float32(math.Log(1 / cfg.Temperature))}
	if t, ok := ts[logitScaleName]; ok {
		if len(t.F32) != 1 {
			return nil, fmt.Errorf("tensor %q: want one float, have shape %v", logitScaleName, t.Shape)
		}
		w.LogitScale = t.F32[0]
	}
	var err error
	if w.Img, err = towerFromTensors(ts, imgPrefix, cfg.ImageDim, cfg.Hidden, cfg.EmbedDim); err != nil {
		return nil, err
	}
	if w.Txt, err = towerFromTensors(ts, txtPrefix, cfg.TextDim, cfg.Hidden, cfg.EmbedDim); err != nil {
		return nil, err
	}
	return w, nil
}

func towerFromTensors(ts map[string]safetensors.Tensor, prefix string, in int, hidden []int, out int) (tower, error) {
	var t tower
	get := func(name string, shape ...int) ([]float32, error) {
		x, ok := ts[name]
		if !ok {
			return nil, fmt.Errorf("tensor %q is missing", name)
		}
		if x.F32 == nil || !equalInts(x.Shape, shape) {
			return nil, fmt.Errorf("tensor %q: want float shape %v, have %v", name, shape, x.Shape)
		}
		return append([]float32(nil), x.F32...), nil
	}
	sizes := append(append([]int{in}, hidden...), out)
	for i := 0; i+1 < len(sizes); i++ {
		l := linear{In: sizes[i], Out: sizes[i+1]}
		var err error
		if l.W, err = get(linearName(prefix, i, "weight"), l.Out, l.In); err != nil {
			return t, err
		}
		if l.B, err = get(linearName(prefix, i, "bias"), l.Out); err != nil {
			return t, err
		}
		t.Linears = append(t.Linears, l)
		if i+2 == len(sizes) {
			break
		}
		d := sizes[i+1]
		var bn batchNorm
		for _, f := range []struct {
			name string
			dst  *[]float32
		}{{"weight", &bn.Gamma}, {"bias", &bn.Beta}, {"running_mean", &bn.Mean}, {"running_var", &bn.Var}} {
			if *f.dst, err = get(bnName(prefix, i, f.name), d); err != nil {
				return t, err
			}
		}
		if x, ok := ts[bnName(prefix, i, "num_batches_tracked")]; ok && len(x.I64) == 1 {
			bn.Tracked = x.I64[0]
		}
		t.BNs = append(t.BNs, bn)
	}
	// A checkpoint with more layers than cfg says is a mismatch, not a
	// prefix to use silently.
	if _, extra := ts[linearName(prefix, len(sizes)-1, "weight")]; extra {
		return t, fmt.Errorf("tensor %q: the checkpoint has more layers than the %d hidden sizes in its settings",
			linearName(prefix, len(sizes)-1, "weight"), len(hidden))
	}
	return t, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// clone deep-copies the weights (for keeping the best epoch).
func (w *weights) clone() *weights {
	c := &weights{LogitScale: w.LogitScale}
	c.Img, c.Txt = w.Img.clone(), w.Txt.clone()
	return c
}

func (t tower) clone() tower {
	var c tower
	for _, l := range t.Linears {
		c.Linears = append(c.Linears, linear{In: l.In, Out: l.Out,
			W: append([]float32(nil), l.W...), B: append([]float32(nil), l.B...)})
	}
	for _, bn := range t.BNs {
		c.BNs = append(c.BNs, batchNorm{
			Gamma: append([]float32(nil), bn.Gamma...), Beta: append([]float32(nil), bn.Beta...),
			Mean: append([]float32(nil), bn.Mean...), Var: append([]float32(nil), bn.Var...),
			Tracked: bn.Tracked,
		})
	}
	return c
}

// check returns an error naming the first tensor that holds NaN or ±Inf, or
// a BatchNorm running variance below zero: weights that cannot project.
func (w *weights) check() error {
	ts := w.tensors()
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := ts[n].F32
		if i := vecmath.FirstNonFinite(v); i >= 0 {
			return fmt.Errorf("tensor %q value %d is %v", n, i, v[i])
		}
		if strings.HasSuffix(n, ".running_var") {
			for i, x := range v {
				if x < 0 {
					return fmt.Errorf("tensor %q value %d is %v, a variance cannot be negative", n, i, x)
				}
			}
		}
	}
	return nil
}
