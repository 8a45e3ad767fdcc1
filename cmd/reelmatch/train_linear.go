package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// linearFlags are train's settings for the closed-form heads
// (`--heads linear|cca`).
type linearFlags struct {
	Folds   int
	Lambdas []float64
	Shrinks []float64
	Dims    []int

	// tuned, when set, is the setting a tune file chose: it is fitted
	// without cross-validating again.
	tuned *heads.LinearConfig
}

// AddFlags registers --folds, --ridge-lambda, --cca-shrink and --cca-dim
// with the default grid's values.
func (o *linearFlags) AddFlags(f *pflag.FlagSet) {
	lambdas, shrinks, dims := heads.DefaultRidgeLambdas, heads.DefaultCCAShrinks, heads.DefaultCCADims
	intFlag(f, &o.Folds, "folds", heads.DefaultFolds, heads.FoldsRange, "--heads linear|cca: cross-validation folds over the training split (by movie) that choose the regularisation")
	floatsFlag(f, &o.Lambdas, "ridge-lambda", lambdas, heads.LambdaRange, heads.GridLenRange, "--heads linear: ridge penalties to choose from, times the number of pairs (one value: no choice)")
	floatsFlag(f, &o.Shrinks, "cca-shrink", shrinks, heads.ShrinkRange, heads.GridLenRange, "--heads cca: covariance shrinkages towards the identity to choose from")
	intsFlag(f, &o.Dims, "cca-dim", dims, heads.CCADimRange, heads.GridLenRange, "--heads cca: numbers of canonical components to choose from")
}

// grid is the grid the flags describe for kind.
func (o *linearFlags) grid(kind string) []heads.LinearConfig {
	return heads.LinearGrid(kind, o.Lambdas, o.Shrinks, o.Dims)
}

// check rejects values the closed-form heads cannot use (exit 2).
func (o *linearFlags) check(kind string) error {
	if err := checkFlag("folds", heads.FoldsRange.Check(o.Folds)); err != nil {
		return err
	}
	flag := map[string]string{heads.KindLinear: "--ridge-lambda", heads.KindCCA: "--cca-shrink and --cca-dim"}[kind]
	grid := o.grid(kind)
	if len(grid) == 0 {
		return usagef("%s: give at least one value", flag)
	}
	for _, c := range grid {
		if err := c.Validate(kind); err != nil {
			return usagef("%s: %s", flag, strings.TrimPrefix(err.Error(), heads.ErrBadConfig.Error()+": "))
		}
	}
	return nil
}

// trainLinear chooses a closed-form head's regularisation by k-fold
// cross-validation over the training pairs img[i], txt[i] (folds by movie,
// from --seed; every training pair is used, no validation slice), fits the
// chosen setting on all of them and saves the run.
func trainLinear(ctx context.Context, opts TrainOptions, g *globalOptions, work workdir.Dir, img, txt [][]float32, settings heads.Settings, res *TrainResult) error {
	if opts.ShufflePairs {
		// The control: the same fit with the pairing broken.
		txt = heads.ShufflePairs(txt, opts.Config.Seed)
		settings.ShufflePairs = true
	}
	if t := opts.Linear.tuned; t != nil {
		m, err := heads.FitLinear(opts.Heads, img, txt, *t)
		if err != nil {
			return err
		}
		return saveLinear(opts, work, m, settings, nil, res)
	}
	grid := opts.Linear.grid(opts.Heads)
	folds := opts.Linear.Folds
	if n := len(img); !opts.changed["folds"] && n < 2*folds {
		// A small training split gets fewer folds rather than an error;
		// --folds given explicitly is checked as given.
		folds = n / 2
		if folds < 2 {
			c := untunedLinear(opts.Heads)
			fmt.Fprintf(g.stderr, "warning: %d training pairs are too few to cross-validate the %s head: fitted with %s, not chosen by cross-validation\n", n, opts.Heads, c)
			m, err := heads.FitLinear(opts.Heads, img, txt, c)
			if err != nil {
				return err
			}
			return saveLinear(opts, work, m, settings, nil, res)
		}
		g.logf("%s: %d training pairs: %d folds instead of %d", res.Run, n, folds, opts.Linear.Folds)
	}
	opts.Linear.Folds = folds
	g.logf("%s: choosing the %s head's setting among %d by %d-fold cross-validation on %d training pairs",
		res.Run, opts.Heads, len(grid), opts.Linear.Folds, len(img))
	rep, err := heads.SelectLinear(ctx, opts.Heads, img, txt, grid, opts.Linear.Folds, opts.Config.Seed)
	if err != nil {
		if errors.Is(err, heads.ErrNoPairs) {
			return usagef("--folds: %v", err)
		}
		return err
	}
	if g.Verbose > 0 {
		for i, p := range rep.Grid {
			mark := ""
			if i == rep.Chosen {
				mark = "  <- chosen"
			}
			g.logf("  %-20s mean rank pct %.4f ± %.4f (poster->intro %.4f, intro->poster %.4f)%s",
				p.Setting, p.Mean.Mean, p.Mean.SD, p.PosterToIntro.Mean, p.IntroToPoster.Mean, mark)
		}
	}
	m, err := heads.FitLinear(opts.Heads, img, txt, rep.Grid[rep.Chosen].Setting)
	if err != nil {
		return err
	}
	return saveLinear(opts, work, m, settings, rep, res)
}

// untunedLinear is the setting used when the training split is too small
// to cross-validate: the choice tune made on the MovieLens training split
// (docs/training.md).
func untunedLinear(kind string) heads.LinearConfig {
	if kind == heads.KindLinear {
		return heads.LinearConfig{Lambda: 10}
	}
	return heads.LinearConfig{Shrink: 0.7, Dim: 32}
}

// saveLinear saves a fitted closed-form head as the run and fills res.
func saveLinear(opts TrainOptions, work workdir.Dir, m *heads.Model, settings heads.Settings, rep *heads.CVReport, res *TrainResult) error {
	settings.Heads = opts.Heads
	settings.Config = m.Settings.Config
	settings.Linear = m.Settings.Linear
	settings.CV = rep
	settings.TrainPairs = m.Settings.TrainPairs
	settings.Config.Seed = opts.Config.Seed
	m.Settings = settings
	if err := writeRun(res.RunDir, m.Save); err != nil {
		return err
	}
	res.TrainPairs, res.ShufflePairs = settings.TrainPairs, settings.ShufflePairs
	res.Linear, res.CV = settings.Linear, rep
	return nil
}

// linearLine is the summary of a closed-form head, for train and run.
func linearLine(r *TrainResult) string {
	name := map[string]string{heads.KindLinear: "ridge map", heads.KindCCA: "regularised CCA"}[r.Heads]
	if t := r.Tuned; t != nil && r.CV == nil {
		return fmt.Sprintf("%s (%s) fitted on %d pairs; %s chosen by tune (%s: %d-fold cross-validation, mean rank pct %.3f ± %.3f)",
			r.Heads, name, r.TrainPairs, r.Linear, t.File, t.Folds, t.Mean.Mean, t.Mean.SD)
	}
	if r.CV == nil {
		return fmt.Sprintf("%s (%s) fitted on %d pairs with %s (too few pairs to cross-validate)", r.Heads, name, r.TrainPairs, r.Linear)
	}
	p := r.CV.Grid[r.CV.Chosen]
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) fitted on %d pairs; %s chosen among %d by %d-fold cross-validation on the training split: mean rank pct %.3f ± %.3f (poster->intro %.3f, intro->poster %.3f)",
		r.Heads, name, r.TrainPairs, p.Setting, len(r.CV.Grid), r.CV.Folds, p.Mean.Mean, p.Mean.SD, p.PosterToIntro.Mean, p.IntroToPoster.Mean)
	return b.String()
}
