package tune

import (
	"context"
	"fmt"

	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/reel"
)

// Held is the held-out split Test scores: the test movies and their cached
// feature rows (Text unused for the builtin encoder).
type Held struct {
	Movies      []reel.Movie
	Image, Text [][]float32
}

// MLPConfig is the MLP configuration of setting s under result r: r's base
// configuration with s's dropout and averaging window.
func MLPConfig(r *Result, s Setting) (heads.Config, error) {
	if r.MLP == nil || s.MLP == nil {
		return heads.Config{}, fmt.Errorf("%w: the tune result has no mlp settings", ErrBadOptions)
	}
	cfg := *r.MLP
	cfg.Dropout, cfg.AverageEpochs = s.MLP.Dropout, s.MLP.AverageEpochs
	return cfg, nil
}

// Fit fits setting s of result r on the whole training split d, as embed
// and train would with the same settings, and returns the heads and the
// intro rows of d it was fitted on; encode gives the intro rows of other
// movies in the same space.
func Fit(ctx context.Context, d Data, r *Result, s Setting) (m *heads.Model, encode func([]reel.Movie, [][]float32) ([][]float32, error), err error) {
	trT := d.Text
	encode = func(_ []reel.Movie, cached [][]float32) ([][]float32, error) { return cached, nil }
	if d.isBuiltin() {
		idx := make([]int, len(d.Movies))
		for i := range idx {
			idx[i] = i
		}
		fit, err := builtin.FitText(ctx, movieTexts(d.Movies, idx, s.Features.TextInput))
		if err != nil {
			return nil, nil, err
		}
		if trT, err = fit.Encode(movieTexts(d.Movies, idx, s.Features.TextInput), s.Features.TextDim); err != nil {
			return nil, nil, err
		}
		encode = func(movies []reel.Movie, _ [][]float32) ([][]float32, error) {
			all := make([]int, len(movies))
			for i := range all {
				all[i] = i
			}
			return fit.Encode(movieTexts(movies, all, s.Features.TextInput), s.Features.TextDim)
		}
	}
	switch {
	case heads.IsLinearKind(s.Heads) && s.Linear != nil:
		m, err = heads.FitLinear(s.Heads, d.Image, trT, *s.Linear)
	case s.Heads == heads.KindMLP:
		cfg, cerr := MLPConfig(r, s)
		if cerr != nil {
			return nil, nil, cerr
		}
		keep, _, serr := heads.SplitValidation(len(d.Movies), r.ValFraction, cfg.Seed)
		if serr != nil {
			return nil, nil, serr
		}
		m, _, err = heads.Train(ctx, heads.Pick(d.Image, keep), heads.Pick(trT, keep), nil, cfg, heads.TrainOptions{})
	default:
		return nil, nil, fmt.Errorf("%w: setting %s cannot be fitted", ErrBadOptions, s)
	}
	if err != nil {
		return nil, nil, err
	}
	return m, encode, nil
}

// Test fits r's chosen setting on the training split d and scores the
// held-out movies once: mean rank percentile and the other metrics of eval
// in both directions, with bootstrap intervals.
func Test(ctx context.Context, d Data, held Held, r *Result) (*metrics.Report, error) {
	if len(held.Movies) < 2 {
		return nil, fmt.Errorf("the test split has %d movie(s): nothing to score (list fewer ids in train.txt)", len(held.Movies))
	}
	m, encode, err := Fit(ctx, d, r, r.Chosen.Setting)
	if err != nil {
		return nil, err
	}
	teT, err := encode(held.Movies, held.Text)
	if err != nil {
		return nil, err
	}
	a, b, err := m.Project(held.Image, teT)
	if err != nil {
		return nil, err
	}
	rep := metrics.EvaluateCI(metrics.Distance(a, b), metrics.BootstrapOptions{})
	return &rep, nil
}
