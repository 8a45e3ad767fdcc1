package heads

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/reelmatch/reelmatch/internal/metrics"
)

// Fold is one round of k-fold cross-validation: indices of the rows fitted
// on and of the rows scored, each in increasing order.
type Fold struct {
	Train, Val []int
}

// DefaultFolds is the number of cross-validation folds train and tune use
// unless told otherwise.
const DefaultFolds = 5

// KFold splits n rows (one per movie: folds are by movie) into k folds of
// sizes differing by at most one, at random from seed. Every row is scored
// in exactly one fold. Callers pass only training-split rows, so no fold
// ever sees a test movie.
func KFold(n, k int, seed int64) ([]Fold, error) {
	if k < 2 {
		return nil, fmt.Errorf("%w: cross-validation needs at least 2 folds, got %d", ErrBadConfig, k)
	}
	if n < 2*k {
		return nil, fmt.Errorf("%w: %d training pairs cannot make %d folds of at least 2 pairs each", ErrNoPairs, n, k)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0xf01d_cafe))
	fold := make([]int, n)
	for pos, i := range rng.Perm(n) {
		fold[i] = pos % k
	}
	folds := make([]Fold, k)
	for i, f := range fold {
		for j := range folds {
			if j == f {
				folds[j].Val = append(folds[j].Val, i)
			} else {
				folds[j].Train = append(folds[j].Train, i)
			}
		}
	}
	return folds, nil
}

// Pick returns rows[idx[0]], rows[idx[1]], ... (sharing the rows).
func Pick(rows [][]float32, idx []int) [][]float32 {
	out := make([][]float32, len(idx))
	for k, i := range idx {
		out[k] = rows[i]
	}
	return out
}

// Score is a model's retrieval on pairs: the mean rank percentile of both
// directions (chance 0.5) and their mean, the selection criterion.
type Score struct {
	PosterToIntro float64 `json:"poster_to_intro"`
	IntroToPoster float64 `json:"intro_to_poster"`
	Mean          float64 `json:"mean"`
}

// ScorePairs projects matching rows img[i], txt[i] through m and scores
// retrieval among them with the metrics of eval.
func ScorePairs(m *Model, img, txt [][]float32) (Score, error) {
	a, b, err := m.Project(img, txt)
	if err != nil {
		return Score{}, err
	}
	rep := metrics.Evaluate(metrics.Distance(a, b))
	s := Score{PosterToIntro: rep.PosterToIntro.MeanRankPercentile, IntroToPoster: rep.IntroToPoster.MeanRankPercentile}
	s.Mean = (s.PosterToIntro + s.IntroToPoster) / 2
	return s, nil
}

// Stat is a mean and sample standard deviation over folds.
type Stat struct {
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
}

// StatOf summarises per-fold values.
func StatOf(v []float64) Stat {
	if len(v) == 0 {
		return Stat{}
	}
	var s Stat
	for _, x := range v {
		s.Mean += x
	}
	s.Mean /= float64(len(v))
	if len(v) > 1 {
		var ss float64
		for _, x := range v {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.SD = math.Sqrt(ss / float64(len(v)-1))
	}
	return s
}

// CVPoint is one setting's cross-validated score.
type CVPoint struct {
	Setting LinearConfig `json:"setting"`
	// PosterToIntro, IntroToPoster and Mean summarise the folds' mean rank
	// percentiles (Score).
	PosterToIntro Stat `json:"poster_to_intro"`
	IntroToPoster Stat `json:"intro_to_poster"`
	Mean          Stat `json:"mean"`
	// Folds holds each fold's Score.Mean.
	Folds []float64 `json:"folds"`
}

// Tuned records that a run's settings came from `reelmatch tune`: the tune
// file (relative to WORK) and the chosen setting's cross-validated score
// there.
type Tuned struct {
	File  string `json:"file"`
	Folds int    `json:"folds"`
	Mean  Stat   `json:"mean"`
}

// CVReport is what a cross-validation of linear settings found; config.json
// keeps it beside the chosen setting.
type CVReport struct {
	// Folds is k; Seed drew them; Pairs is how many training pairs were
	// split (every training pair: no validation slice is held out).
	Folds int   `json:"folds"`
	Seed  int64 `json:"seed"`
	Pairs int   `json:"pairs"`
	// Grid is every setting tried, in the order given; Chosen indexes the
	// one with the best mean over folds (the first on a tie).
	Grid   []CVPoint `json:"grid"`
	Chosen int       `json:"chosen"`
}

// SelectLinear scores every setting of grid for a head of kind by k-fold
// cross-validation over the pairs (folds by movie, from seed) and returns
// the report; the chosen setting has the best mean over folds of Score.Mean.
// Only img and txt are read: pass the training split alone.
func SelectLinear(ctx context.Context, kind string, img, txt [][]float32, grid []LinearConfig, k int, seed int64) (*CVReport, error) {
	if len(grid) == 0 {
		return nil, fmt.Errorf("%w: no %s settings to choose from", ErrBadConfig, kind)
	}
	for _, c := range grid {
		if err := c.Validate(kind); err != nil {
			return nil, err
		}
	}
	if err := checkPairs("training", img, txt); err != nil {
		return nil, err
	}
	folds, err := KFold(len(img), k, seed)
	if err != nil {
		return nil, err
	}
	rep := &CVReport{Folds: k, Seed: seed, Pairs: len(img), Grid: make([]CVPoint, len(grid))}
	scores := make([][]Score, len(grid)) // [setting][fold]
	for _, f := range folds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		trI, trT := Pick(img, f.Train), Pick(txt, f.Train)
		vaI, vaT := Pick(img, f.Val), Pick(txt, f.Val)
		side, err := NewPosterSide(trI)
		if err != nil {
			return nil, err
		}
		// One decomposition per CCA shrinkage (or one per fold for ridge)
		// serves every setting that shares it.
		fits := map[float64]*LinearFit{}
		for gi, c := range grid {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			key := 0.0
			if kind == KindCCA {
				key = c.Shrink
			}
			fit, ok := fits[key]
			if !ok {
				if fit, err = side.Fit(kind, trT, c.Shrink); err != nil {
					return nil, err
				}
				fits[key] = fit
			}
			m, err := fit.Model(c)
			if err != nil {
				return nil, err
			}
			s, err := ScorePairs(m, vaI, vaT)
			if err != nil {
				return nil, err
			}
			scores[gi] = append(scores[gi], s)
		}
	}
	for gi, c := range grid {
		rep.Grid[gi] = cvPoint(c, scores[gi])
		if rep.Grid[gi].Mean.Mean > rep.Grid[rep.Chosen].Mean.Mean {
			rep.Chosen = gi
		}
	}
	return rep, nil
}

// cvPoint summarises one setting's fold scores.
func cvPoint(c LinearConfig, s []Score) CVPoint {
	var p2i, i2p, mean []float64
	for _, x := range s {
		p2i, i2p, mean = append(p2i, x.PosterToIntro), append(i2p, x.IntroToPoster), append(mean, x.Mean)
	}
	return CVPoint{Setting: c, PosterToIntro: StatOf(p2i), IntroToPoster: StatOf(i2p), Mean: StatOf(mean), Folds: mean}
}

// The default grids of the closed-form heads, for `train --heads
// linear|cca` and `reelmatch tune`. `reelmatch tune` on the MovieLens
// posters (docs/training.md) chose λ 10 and CCA shrinkage 0.7 to 0.9 with
// 16 to 64 components at every text setting; wider first grids (λ 0.1 and
// 0.3, shrinkage 0.1, 128 components) never won a cross-validation there,
// so the grids bracket the winners by one step on each side.
var (
	DefaultRidgeLambdas = []float64{1, 3, 10, 30, 100}
	DefaultCCAShrinks   = []float64{0.3, 0.5, 0.7, 0.9}
	DefaultCCADims      = []int{16, 32, 64}
)

// DefaultLinearGrid is the default grid of one closed-form kind.
func DefaultLinearGrid(kind string) []LinearConfig {
	return LinearGrid(kind, DefaultRidgeLambdas, DefaultCCAShrinks, DefaultCCADims)
}

// LinearGrid builds a grid for kind from value lists (nil: the default
// values): lambdas for ridge, shrinks x dims for CCA.
func LinearGrid(kind string, lambdas, shrinks []float64, dims []int) []LinearConfig {
	lambdas = orDefault(lambdas, DefaultRidgeLambdas)
	shrinks = orDefault(shrinks, DefaultCCAShrinks)
	dims = orDefault(dims, DefaultCCADims)
	var grid []LinearConfig
	switch kind {
	case KindLinear:
		for _, l := range lambdas {
			grid = append(grid, LinearConfig{Lambda: l})
		}
	case KindCCA:
		for _, s := range shrinks {
			for _, d := range dims {
				grid = append(grid, LinearConfig{Shrink: s, Dim: d})
			}
		}
	}
	return grid
}

// orDefault is v, or def when v is nil.
func orDefault[T any](v, def []T) []T {
	if v == nil {
		return def
	}
	return v
}
