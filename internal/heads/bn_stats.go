package heads

import (
	"math"
	"runtime"
	"sync"

	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// preciseBN replaces the running statistics of every BatchNorm in both
// towers with the exact mean and unbiased variance of its input over the
// training rows img and txt (standardised when the heads are), computed in
// eval mode: no dropout, and each layer fed by the layers before it
// normalised with the statistics just computed. This is "precise BN" (Wu
// and Johnson, "Rethinking 'Batch' in BatchNorm", 2021, section 3).
//
// Why: training mode normalises each batch after input dropout (p = 0.5 by
// default), which widens the first Linear's outputs; the momentum-0.1
// running averages therefore describe inputs that eval mode never sees
// (Li et al., "Understanding the Disharmony between Dropout and Batch
// Normalization by Variance Shift", CVPR 2019). On the MovieLens set the
// mismatch cost intro->poster 0.01-0.03 of mean rank percentile
// (docs/training.md). The result does not depend on GOMAXPROCS: each row is
// computed alone and the sums run in row order.
func (w *weights) preciseBN(img, txt [][]float32) {
	w.Img.preciseBN(img)
	w.Txt.preciseBN(txt)
}

func (t *tower) preciseBN(x [][]float32) {
	for i := range t.BNs {
		l, bn := t.Linears[i], &t.BNs[i]
		h := linearRows(l, x)
		mean := make([]float64, l.Out)
		for _, r := range h {
			for o, v := range r {
				mean[o] += float64(v)
			}
		}
		for o := range mean {
			mean[o] /= float64(len(h))
		}
		variance := make([]float64, l.Out)
		for _, r := range h {
			for o, v := range r {
				d := float64(v) - mean[o]
				variance[o] += d * d
			}
		}
		n := max(len(h)-1, 1) // unbiased, as PyTorch's running_var
		for o := range variance {
			variance[o] /= float64(n)
			bn.Mean[o], bn.Var[o] = float32(mean[o]), float32(variance[o])
		}
		// The next layer's input, exactly as eval mode computes it.
		for _, r := range h {
			for o, v := range r {
				y := (float64(v)-float64(bn.Mean[o]))/math.Sqrt(float64(bn.Var[o])+bnEps)*float64(bn.Gamma[o]) + float64(bn.Beta[o])
				r[o] = float32(max(y, 0))
			}
		}
		x = h
	}
}

// linearRows returns x W^T + b for every row of x, spread over the CPUs.
func linearRows(l linear, x [][]float32) [][]float32 {
	out := make([][]float32, len(x))
	var wg sync.WaitGroup
	blocks := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for start := range blocks {
				for r := start; r < min(start+statsRowBlock, len(x)); r++ {
					y := make([]float32, l.Out)
					for o := range y {
						y[o] = vecmath.Dot(x[r], l.W[o*l.In:(o+1)*l.In]) + l.B[o]
					}
					out[r] = y
				}
			}
		})
	}
	for start := 0; start < len(x); start += statsRowBlock {
		blocks <- start
	}
	close(blocks)
	wg.Wait()
	return out
}

// averageWeights returns the element-wise mean of ws (stochastic weight
// averaging, Izmailov et al., "Averaging Weights Leads to Wider Optima and
// Better Generalization", UAI 2018): every Linear and BatchNorm parameter,
// the running statistics (to be replaced by preciseBN: averaged statistics
// do not describe the averaged weights) and the logit scale. Sums run in
// float64 in the order of ws, so the result is deterministic.
func averageWeights(ws []*weights) *weights {
	out := ws[len(ws)-1].clone()
	mean := func(dst []float32, get func(w *weights) []float32) {
		for j := range dst {
			var s float64
			for _, w := range ws {
				s += float64(get(w)[j])
			}
			dst[j] = float32(s / float64(len(ws)))
		}
	}
	for side := range 2 {
		tw := func(w *weights) *tower {
			if side == 0 {
				return &w.Img
			}
			return &w.Txt
		}
		o := tw(out)
		for i := range o.Linears {
			mean(o.Linears[i].W, func(w *weights) []float32 { return tw(w).Linears[i].W })
			mean(o.Linears[i].B, func(w *weights) []float32 { return tw(w).Linears[i].B })
		}
		for i := range o.BNs {
			mean(o.BNs[i].Gamma, func(w *weights) []float32 { return tw(w).BNs[i].Gamma })
			mean(o.BNs[i].Beta, func(w *weights) []float32 { return tw(w).BNs[i].Beta })
			mean(o.BNs[i].Mean, func(w *weights) []float32 { return tw(w).BNs[i].Mean })
			mean(o.BNs[i].Var, func(w *weights) []float32 { return tw(w).BNs[i].Var })
		}
	}
	var s float64
	for _, w := range ws {
		s += float64(w.LogitScale)
	}
	out.LogitScale = float32(s / float64(len(ws)))
	return out
}

// statsRowBlock is how many rows one goroutine of linearRows takes per turn.
const statsRowBlock = 32
