package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reelmatch/reelmatch/internal/bound"
	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/progress"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/tune"
)

func init() { commands = append(commands, newTuneCommand) }

// TuneOptions are the flags of `reelmatch tune`.
type TuneOptions struct {
	Work    string
	Encoder string
	// Grid is filled by the grid flags over tune.DefaultOptions.
	Grid tune.Options

	// changed holds the flags given on the command line.
	changed map[string]bool
}

// Ranges of tune's grid flags that no package owns.
var (
	// textDimGridRange bounds each --text-dim of tune: builtin's range.
	textDimGridRange = builtin.TextDimRange
	// gridLenRange bounds how many values one grid flag may list.
	gridLenRange = heads.GridLenRange
	// windowRange bounds each --average-epochs of tune.
	windowRange = bound.Int{Min: 1, Max: heads.AverageEpochsRange.Max}
)

func newTuneCommand(g *globalOptions) *cobra.Command {
	opts := TuneOptions{Grid: tune.DefaultOptions()}
	d, o := tune.DefaultOptions(), &opts.Grid
	cmd := &cobra.Command{
		Use: "tune --work WORK --encoder E [--folds 5] [--seed 1] [--heads mlp,linear,cca] [--text-input clean,raw] " +
			"[--text-dim 32,64,...] [--ridge-lambda ...] [--cca-shrink ...] [--cca-dim ...] [--dropout 0.1,0.2] " +
			"[--average-epochs 5,10,15,20] [--epochs 30]",
		Short: "Choose the encoder's text settings and the heads by cross-validation on the training split",
		Long: `tune chooses a run's settings by k-fold cross-validation inside the
training split (folds by movie, drawn from --seed), then evaluates the
chosen settings once on the held-out test split.

The grid, each point scored on every fold by the mean rank percentile of
both directions (eval's metric, chance 0.5):

  - builtin encoder only: its text settings, --text-input x --text-dim. The
    TF-IDF vocabulary, IDF and SVD are refitted on each fold's training part;
    the fold's held-out intros are only encoded, as test intros are. Other
    encoders are scored on their cached features.
  - closed-form heads (--heads linear, cca) for every text setting: ridge
    --ridge-lambda, CCA --cca-shrink x --cca-dim (train --heads linear|cca).
  - MLP heads (--heads mlp) on the text setting the closed-form heads scored
    best: --dropout x --average-epochs (the weight-averaging window; one
    training run per fold and dropout serves every window), the rest at
    train's defaults, --epochs epochs, trained on the fold's training part
    minus train's 10% validation slice.

Standardisation, heads and validation slices are refitted per fold; the
test split is not read until the choice is made. It prints the grid (mean ±
sd over folds), writes the chosen settings to WORK/tune/<encoder>.json
(atomically; it holds no test figure), then fits the chosen settings on the
whole training split and prints their held-out mean rank percentile and
R@10 with bootstrap 95% intervals.

embed, train and run follow WORK/tune/<encoder>.json when it exists and
still describes the training split (they say so): embed and run take its
--text-input and --text-dim, train and run its heads and their setting.
Flags given explicitly win; --no-tune ignores the file.

With --json, stdout is {"encoder","file","folds","seed","pairs",
"grid":[{"features":{"text_input","text_dim"},"heads","linear"|"mlp",
"poster_to_intro","intro_to_poster","mean":{"mean","sd"},"folds"}],
"chosen":{...a grid point...},"test":{"n","poster_to_intro",
"intro_to_poster","chance"},"seconds"}.

Environment: REELMATCH_WORK and REELMATCH_ENCODER give defaults.` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.changed = changedFlags(cmd.Flags())
			return runTune(cmd.Context(), opts, g, args)
		},
	}
	f := cmd.Flags()
	addWorkFlag(f, &opts.Work, "WORK folder holding the manifest and the feature cache")
	f.StringVar(&opts.Encoder, "encoder", envOr("REELMATCH_ENCODER", builtin.Name), "encoder whose cached features to tune on")
	intFlag(f, &o.Folds, "folds", d.Folds, heads.FoldsRange, "cross-validation folds over the training split (by movie)")
	int64Flag(f, &o.Seed, "seed", d.Seed, bound.AnyInt64, "seed of the folds")
	f.StringSliceVar(&o.Heads, "heads", d.Heads, "head kinds to score: mlp, linear, cca (ties go to the first listed)")
	f.StringSliceVar(&o.TextInputs, "text-input", d.TextInputs, "builtin: intros to try, clean and/or raw")
	intsFlag(f, &o.TextDims, "text-dim", d.TextDims, textDimGridRange, gridLenRange, "builtin: LSA sizes to try")
	floatsFlag(f, &o.Lambdas, "ridge-lambda", d.Lambdas, heads.LambdaRange, gridLenRange, "linear heads: ridge penalties to try, times the number of pairs")
	floatsFlag(f, &o.Shrinks, "cca-shrink", d.Shrinks, heads.ShrinkRange, gridLenRange, "cca heads: covariance shrinkages to try")
	intsFlag(f, &o.CCADims, "cca-dim", d.CCADims, heads.CCADimRange, gridLenRange, "cca heads: numbers of canonical components to try")
	floatsFlag(f, &o.Dropouts, "dropout", d.Dropouts, heads.DropoutRange, gridLenRange, "mlp heads: dropouts after the hidden layers to try")
	intsFlag(f, &o.Windows, "average-epochs", d.Windows, windowRange, gridLenRange, "mlp heads: weight-averaging windows (last N epochs) to try")
	intFlag(f, &o.MLP.Epochs, "epochs", d.MLP.Epochs, heads.EpochsRange, "mlp heads: epochs per fit")
	return cmd
}

// tuneJSON is what `tune --json` prints.
type tuneJSON struct {
	Encoder string          `json:"encoder"`
	File    string          `json:"file"`
	Folds   int             `json:"folds"`
	Seed    int64           `json:"seed"`
	Pairs   int             `json:"pairs"`
	Grid    []tune.Point    `json:"grid"`
	Chosen  tune.Point      `json:"chosen"`
	Test    *metrics.Report `json:"test,omitempty"`
	Seconds float64         `json:"seconds"`
}

// options turns the flags into tune.Options, refusing what cannot be
// tuned (exit 2).
func (o TuneOptions) options() (tune.Options, error) {
	t := o.Grid
	if len(t.Heads) == 0 {
		return t, usagef("--heads: give at least one of mlp, linear, cca")
	}
	for _, k := range t.Heads {
		if k != heads.KindMLP && !heads.IsLinearKind(k) {
			return t, usagef("--heads: %q cannot be tuned (want mlp, linear or cca)", k)
		}
	}
	if o.Encoder == builtin.Name {
		if len(t.TextInputs) == 0 {
			return t, usagef("--text-input: give clean, raw or both")
		}
		for _, in := range t.TextInputs {
			if in != embed.TextClean && in != embed.TextRaw {
				return t, usagef("--text-input must list %q and/or %q, got %q", embed.TextClean, embed.TextRaw, in)
			}
		}
	} else {
		for _, name := range []string{"text-input", "text-dim"} {
			if o.changed[name] {
				return t, usagef("--%s applies to the builtin encoder only, not %s", name, o.Encoder)
			}
		}
		t.TextInputs, t.TextDims = nil, nil
	}
	if slices.Contains(t.Heads, heads.KindMLP) {
		for _, w := range t.Windows {
			if w > t.MLP.Epochs {
				return t, usagef("--average-epochs %d is more than the %d --epochs", w, t.MLP.Epochs)
			}
		}
	}
	return t, nil
}

func runTune(ctx context.Context, opts TuneOptions, g *globalOptions, _ []string) error {
	start := time.Now()
	o, err := opts.options()
	if err != nil {
		return err
	}
	work, err := existingWorkDir("tune", opts.Work)
	if err != nil {
		return err
	}
	if opts.Encoder == "" {
		return usagef("tune needs --encoder E (or REELMATCH_ENCODER)")
	}
	man, err := dataset.Load(work.Manifest())
	if err != nil {
		return err
	}
	feats, err := embcache.Load(work.Features(opts.Encoder))
	if err != nil {
		return err
	}
	rows := func(split reel.Split) ([]reel.Movie, [][]float32, [][]float32, error) {
		movies := man.Split(split)
		img, txt, err := feats.Rows(dataset.IDs(movies))
		return movies, img, txt, err
	}
	// The grid sees the training split only.
	d := tune.Data{Encoder: opts.Encoder, ImageFingerprint: feats.ImageFingerprint, TextFingerprint: feats.TextFingerprint}
	if d.Movies, d.Image, d.Text, err = rows(reel.SplitTrain); err != nil {
		return err
	}
	if len(d.Movies) < 2*o.Folds {
		return usagef("--folds %d: the training split has %d movies, too few for folds of 2 or more", o.Folds, len(d.Movies))
	}
	var bar progress.Bar
	o.Step = func(done, total int) {
		if bar == nil {
			bar = progress.New(g.progress(), total, "tune")
		}
		bar.Add(1)
		if done == total {
			bar.Finish()
		}
	}
	o.Logf = g.logf
	res, err := tune.Run(ctx, d, o)
	if err != nil {
		if errors.Is(err, tune.ErrBadOptions) || errors.Is(err, heads.ErrBadConfig) {
			return usagef("%v", err)
		}
		return err
	}
	path := work.Tune(opts.Encoder)
	if err := res.Save(path); err != nil {
		return err
	}
	out := tuneJSON{Encoder: res.Encoder, File: path, Folds: res.Folds, Seed: res.Seed, Pairs: res.Pairs, Grid: res.Grid, Chosen: res.Chosen}
	if !g.JSON {
		if err := printTuneGrid(g.stdout, res, path); err != nil {
			return err
		}
	}

	// Only now is the held-out split read, once.
	var held tune.Held
	if held.Movies, held.Image, held.Text, err = rows(reel.SplitTest); err != nil {
		return err
	}
	if len(held.Movies) < 2 {
		fmt.Fprintf(g.stderr, "warning: the test split has %d movie(s): the chosen settings were not scored on held-out movies\n", len(held.Movies))
	} else {
		if out.Test, err = tune.Test(ctx, d, held, res); err != nil {
			return fmt.Errorf("score the chosen settings on the test split: %w", err)
		}
	}
	out.Seconds = time.Since(start).Seconds()
	if g.JSON {
		return g.printJSON(out)
	}
	if out.Test != nil {
		printTuneTest(g.stdout, out.Test, res)
	}
	_, err = fmt.Fprintf(g.stdout, "total %.1fs\n", out.Seconds)
	return err
}

// printTuneGrid prints every grid point, the best of each head kind and the
// choice.
func printTuneGrid(w io.Writer, r *tune.Result, path string) error {
	fmt.Fprintf(w, "tune %s: %d-fold cross-validation on the %d training movies (folds by movie, seed %d); the test split was not read\n",
		r.Encoder, r.Folds, r.Pairs, r.Seed)
	fmt.Fprintf(w, "mean rank percentile on the held-out fold (chance 0.5), mean ± sd over %d folds:\n", r.Folds)
	fmt.Fprintf(w, "%-22s %-6s %-24s %-17s %7s %7s\n", "features", "heads", "setting", "both (mean ± sd)", "p->i", "i->p")
	bestOf := map[string]int{}
	for i, p := range r.Grid {
		fmt.Fprintf(w, "%-22s %-6s %-24s %.4f ± %.4f   %.4f  %.4f\n", p.Features, p.Heads, headSetting(p.Setting), p.Mean.Mean, p.Mean.SD, p.PosterToIntro.Mean, p.IntroToPoster.Mean)
		if b, ok := bestOf[p.Heads]; !ok || p.Mean.Mean > r.Grid[b].Mean.Mean {
			bestOf[p.Heads] = i
		}
	}
	fmt.Fprintln(w, "best of each kind:")
	for _, k := range []string{heads.KindMLP, heads.KindLinear, heads.KindCCA} {
		if b, ok := bestOf[k]; ok {
			p := r.Grid[b]
			fmt.Fprintf(w, "  %-6s %s: %.4f ± %.4f\n", k, p.Setting, p.Mean.Mean, p.Mean.SD)
		}
	}
	c := r.Chosen
	fmt.Fprintf(w, "chosen: %s: %.4f ± %.4f (poster->intro %.4f, intro->poster %.4f)\n",
		c.Setting, c.Mean.Mean, c.Mean.SD, c.PosterToIntro.Mean, c.IntroToPoster.Mean)
	_, err := fmt.Fprintf(w, "wrote %s: embed, train and run use these settings by default\n", path)
	return err
}

// headSetting is a grid point's head setting without the features.
func headSetting(s tune.Setting) string {
	switch {
	case s.Linear != nil:
		return s.Linear.String()
	case s.MLP != nil:
		return fmt.Sprintf("dropout %g, average %d", s.MLP.Dropout, s.MLP.AverageEpochs)
	}
	return ""
}

// printTuneTest prints the single held-out evaluation of the choice.
func printTuneTest(w io.Writer, rep *metrics.Report, r *tune.Result) {
	fmt.Fprintf(w, "held-out test split (%d movies), chosen settings fitted on all %d training movies, bootstrap 95%% intervals:\n", rep.N, r.Pairs)
	for _, d := range []struct {
		name string
		s    metrics.Scores
	}{{"poster->intro", rep.PosterToIntro}, {"intro->poster", rep.IntroToPoster}} {
		line := fmt.Sprintf("  %-14s mean rank percentile %.3f", d.name, d.s.MeanRankPercentile)
		if ci := d.s.CI; ci != nil {
			line += fmt.Sprintf(" [%.3f, %.3f]", ci.MeanRankPercentile[0], ci.MeanRankPercentile[1])
		}
		line += fmt.Sprintf("  R@10 %.2f%%", 100*d.s.R10)
		if ci := d.s.CI; ci != nil {
			line += fmt.Sprintf(" [%.2f%%, %.2f%%]", 100*ci.R10[0], 100*ci.R10[1])
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "  chance: mean rank percentile 0.500, R@10 %.2f%%\n", 100*rep.Chance.R10)
}

// changedFlags records which flags of f the user set, for options whose
// defaults come from a tune file.
func changedFlags(f *pflag.FlagSet) map[string]bool {
	out := map[string]bool{}
	f.Visit(func(fl *pflag.Flag) { out[fl.Name] = true })
	return out
}
