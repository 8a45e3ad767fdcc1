package heads

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/metrics"
)

// TestPreciseBN checks the defining property of precise BatchNorm
// statistics: in eval mode, every BatchNorm's input over the rows it was
// computed on has exactly the stored mean and unbiased variance, so its
// normalised output has mean 0 and variance var/(var+eps) per unit. The
// forward pass here is written independently in float64.
func TestPreciseBN(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rows   int
		hidden []int
	}{
		{"three layers", 300, []int{16, 12, 8}},
		{"one layer, few rows", 5, []int{6}},
		{"no hidden layer", 50, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			tw := newTower(rng, 10, tc.hidden, 4)
			for i := range tw.BNs { // non-trivial affine parameters
				for j := range tw.BNs[i].Gamma {
					tw.BNs[i].Gamma[j] = float32(0.5 + rng.Float64())
					tw.BNs[i].Beta[j] = float32(rng.NormFloat64())
				}
			}
			x := make([][]float32, tc.rows)
			for i := range x {
				x[i] = make([]float32, 10)
				for j := range x[i] {
					x[i][j] = float32(3*rng.NormFloat64() + float64(j))
				}
			}
			tw.preciseBN(x)
			in := x
			for i, bn := range tw.BNs {
				l := tw.Linears[i]
				next := make([][]float32, len(in))
				for o := range l.Out {
					h := make([]float64, len(in))
					var mean float64
					for r, row := range in {
						v := float64(l.B[o])
						for j, xv := range row {
							v += float64(l.W[o*l.In+j]) * float64(xv)
						}
						h[r] = v
						mean += v
					}
					mean /= float64(len(in))
					var ss float64
					for _, v := range h {
						ss += (v - mean) * (v - mean)
					}
					variance := ss / float64(len(in)-1)
					if !closeRel(float64(bn.Mean[o]), mean, 1e-4) || !closeRel(float64(bn.Var[o]), variance, 1e-4) {
						t.Fatalf("layer %d unit %d: stored mean %g var %g, the rows have mean %g var %g",
							i, o, bn.Mean[o], bn.Var[o], mean, variance)
					}
					for r, v := range h {
						if o == 0 {
							next[r] = make([]float32, l.Out)
						}
						y := (v-mean)/math.Sqrt(variance+bnEps)*float64(bn.Gamma[o]) + float64(bn.Beta[o])
						next[r][o] = float32(max(y, 0))
					}
				}
				in = next
			}
		})
	}
}

func closeRel(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// TestPreciseBNIndependentOfCPUs checks the statistics do not depend on how
// many goroutines compute them (checkpoints must be reproducible).
func TestPreciseBNIndependentOfCPUs(t *testing.T) {
	img, txt := synthPairs(333, 24, 20, 6, 0.3, 8)
	cfg := smallConfig()
	cfg.ImageDim, cfg.TextDim = 24, 20
	var got []*weights
	for _, procs := range []int{1, 3} {
		old := runtime.GOMAXPROCS(procs)
		w := newWeights(cfg, 5)
		w.preciseBN(img, txt)
		runtime.GOMAXPROCS(old)
		got = append(got, w)
	}
	if diff := cmp.Diff(got[0].tensors(), got[1].tensors()); diff != "" {
		t.Errorf("GOMAXPROCS 1 vs 3 (-1 +3):\n%s", diff)
	}
}

// TestAverageWeights checks every tensor of the average is the element-wise
// mean, on weights that differ everywhere.
func TestAverageWeights(t *testing.T) {
	cfg := smallConfig()
	cfg.ImageDim, cfg.TextDim = 6, 5
	cfg.Hidden, cfg.EmbedDim = []int{4, 3}, 2
	ws := []*weights{newWeights(cfg, 1), newWeights(cfg, 2), newWeights(cfg, 3)}
	rng := rand.New(rand.NewPCG(6, 7))
	for i, w := range ws {
		for _, x := range w.tensors() { // the tensors share the weights' memory
			for j := range x.F32 {
				x.F32[j] = float32(rng.NormFloat64())
			}
		}
		w.LogitScale = float32(i)
	}
	avg := averageWeights(ws).tensors()
	for name, got := range avg {
		if got.I64 != nil {
			continue // num_batches_tracked: the last epoch's count
		}
		for j := range got.F32 {
			var want float64
			for _, w := range ws {
				want += float64(w.tensors()[name].F32[j])
			}
			want /= 3
			if math.Abs(float64(got.F32[j])-want) > 1e-6 {
				t.Fatalf("%s[%d] = %g, want the mean %g", name, j, got.F32[j], want)
			}
		}
	}
	if avg[logitScaleName].F32[0] != 1 {
		t.Errorf("logit scale %g, want 1", avg[logitScaleName].F32[0])
	}
}

// TestTrainAveraging checks what Train keeps with weight averaging: the
// mean of the last AverageEpochs epochs (fewer when fewer ran), labelled in
// the history and settings, scored on validation as saved.
func TestTrainAveraging(t *testing.T) {
	img, txt := synthPairs(240, 24, 20, 6, 0.3, 9)
	val := &Pairs{Img: img[200:], Txt: txt[200:]}
	for _, tc := range []struct {
		epochs, average int
		wantFrom        int
	}{
		{epochs: 5, average: 3, wantFrom: 3},
		{epochs: 3, average: 8, wantFrom: 1},
		{epochs: 4, average: 1, wantFrom: 0},
	} {
		t.Run(fmt.Sprintf("%d epochs, average %d", tc.epochs, tc.average), func(t *testing.T) {
			cfg := smallConfig()
			cfg.Epochs, cfg.AverageEpochs, cfg.PreciseBN, cfg.Standardize = tc.epochs, tc.average, true, true
			m, h, err := Train(context.Background(), img[:200], txt[:200], val, cfg, TrainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if h.AverageFrom != tc.wantFrom || m.Settings.AverageFrom != tc.wantFrom {
				t.Errorf("average from epoch %d (settings %d), want %d", h.AverageFrom, m.Settings.AverageFrom, tc.wantFrom)
			}
			if tc.wantFrom > 0 && (h.BestEpoch != tc.epochs || m.Settings.BestEpoch != tc.epochs) {
				t.Errorf("best epoch %d (settings %d), want the last, %d", h.BestEpoch, m.Settings.BestEpoch, tc.epochs)
			}
			// The reported validation score is the saved heads' score.
			a, b, err := m.Project(val.Img, val.Txt)
			if err != nil {
				t.Fatal(err)
			}
			rep := metrics.Evaluate(metrics.Distance(a, b))
			r := (rep.PosterToIntro.MeanRankPercentile + rep.IntroToPoster.MeanRankPercentile) / 2
			if got := m.Settings.Validation; got == nil || math.Abs(got.Score-r) > 1e-3 || h.Kept != got {
				t.Errorf("validation of the kept heads %+v (history %+v), scoring them again gives %.4f", got, h.Kept, r)
			}
		})
	}
}
