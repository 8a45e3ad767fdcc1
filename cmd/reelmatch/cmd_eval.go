package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/scoreboard"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

func init() { commands = append(commands, newEvalCommand) }

// EvalOptions are the flags of `reelmatch eval`.
type EvalOptions struct {
	Work    string
	Encoder string
	Run     string
	Split   string
	// CI prints every metric's interval, not only the mean rank
	// percentile's and R@10's.
	CI bool
	// Resamples is the bootstrap's number of resamples.
	Resamples int
	// ExcludeLeaks leaves leaked test movies out (see prepare's leak check).
	ExcludeLeaks bool
	// Compare evaluates every run of WORK and prints them side by side.
	Compare bool
}

func newEvalCommand(g *globalOptions) *cobra.Command {
	opts := EvalOptions{}
	cmd := &cobra.Command{
		Use:   "eval --work WORK [--run NAME | --encoder E] [--split test|all|train] [--ci] [--resamples 1000] [--exclude-leaks] [--compare]",
		Short: "Measure how well posters and intros find each other",
		Long: `eval passes the cached features of every movie through the run's trained
heads, builds D = 1 - cosine similarity (rows posters, columns intros; poster
i matches intro i), scores retrieval in both directions and writes
WORK/runs/<run>/eval_<split>.json and distance_<split>.safetensors (D
with the movie ids in its metadata).

Splits: test (default) uses only the held-out movies (not in train.txt) as
both queries and gallery. all is the seed's protocol: every movie, training
pairs included, so it is not a held-out measure and is labelled so. train is
the training movies alone.

Metrics per direction: mean rank percentile (share of wrong candidates
farther than the true match, ties half; chance 0.5), the primary figure,
then R@1, R@5, R@10, median rank (lower median), mean rank, MRR and top-1
accuracy (argmin, ties to the lower index). Ranks are 1-based; a tie counts
in the query's favour. Chance: R@K = K/n.

Every metric comes with a bootstrap 95% interval: the queries are resampled
with replacement --resamples times (default 1000, seed 1, so reruns print
the same intervals), the gallery is held fixed, and the 2.5th and 97.5th
percentiles of each metric are taken. The table shows the intervals of the
mean rank percentile and R@10; --ci prints the others too.

The seed's "accuracy along dim 0/1" (65.66%/66.30%) came from a get_acc
function that is lost: it may be a top-1 accuracy or a mean rank
percentile, on split all. Both are printed; neither reading can be
confirmed (see reelmatch run --protocol seed).

--exclude-leaks leaves out of the test split every movie whose cleaned
intro is (nearly) identical to a training movie's or whose poster has the
same SHA-256 (prepare's leak check), says how many, and lists them in
"excluded_leaks" in the JSON.

With --json, stdout is
{"run":...,"encoder":...,"split":...,"n":...,"poster_to_intro":{"r1","r5",
"r10","median_rank","mean_rank","mrr","top1_acc","mean_rank_percentile",
"ci":{the same eight keys, each [low, high]}},"intro_to_poster":{...},
"chance":{"r1","r5","r10"},"bootstrap":{"resamples","seed","level"}}.

Without --compare, eval names on stderr the other runs of the encoder in
WORK (seeds, control, baselines). --compare evaluates every run in WORK (those of --encoder only, when it is
given) on the split, saves each run's files as above, and prints them side
by side: the main run (each seed, and mean ± sd over seeds when several
runs differ only in --seed), the other head kinds as baselines (E.mlp,
E.linear, E.cca), zero-shot (E.none), the shuffled-pairs control and the
seed-protocol run, with
the mean rank percentile and R@10 of both directions and their intervals,
and chance. With --json, stdout is then {"split","n","runs":[{"run",
"encoder","heads","seed","role","result":{the document above}}],"groups":
[{"runs","seeds","role","poster_to_intro":{"mean_rank_percentile":{"mean",
"sd","values"},"r10":{...}},"intro_to_poster":{...}}],"chance":{...}}.

Which run: --run NAME (a folder of WORK/runs; its config.json names the
encoder), else --encoder E's main run (WORK/runs/E), else the only run in
WORK, else the only main run among several (baselines such as E.linear
beside E); otherwise eval stops (exit 2) and lists the runs.
Environment: REELMATCH_WORK, REELMATCH_RUN and REELMATCH_ENCODER give
defaults.` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEval(cmd.Context(), opts, g, args)
		},
	}
	f := cmd.Flags()
	addRunFlags(f, &opts.Work, &opts.Encoder, &opts.Run, "evaluate")
	f.StringVar(&opts.Split, "split", evalrun.SplitTest, "movies to evaluate on: test, all (the seed's protocol) or train")
	f.BoolVar(&opts.CI, "ci", false, "print the 95% interval of every metric (the JSON always has them all)")
	f.BoolVar(&opts.Compare, "compare", false, "evaluate every run in WORK and print them side by side (baselines, controls, seeds)")
	intFlag(f, &opts.Resamples, "resamples", metrics.DefaultResamples, metrics.ResamplesRange, "bootstrap resamples of the queries for the 95% intervals")
	f.BoolVar(&opts.ExcludeLeaks, "exclude-leaks", false, "leave out of the test split the movies whose intro or poster also appears in the training split (prepare's leak check)")
	return cmd
}

func runEval(ctx context.Context, opts EvalOptions, g *globalOptions, _ []string) error {
	if err := evalrun.CheckSplit(opts.Split); err != nil {
		return usagef("--split: %v", err)
	}
	eo := evalrun.Options{Bootstrap: metrics.BootstrapOptions{Resamples: opts.Resamples}, ExcludeLeaks: opts.ExcludeLeaks}
	if opts.Compare {
		return runEvalCompare(ctx, opts, eo, g)
	}
	work, name, err := resolveRun("eval", opts.Work, opts.Encoder, opts.Run)
	if err != nil {
		return err
	}
	if g.Verbose > 0 {
		g.logf("eval: work=%s run=%s split=%s ci=%v resamples=%d", work, name, opts.Split, opts.CI, opts.Resamples)
	}
	space, err := evalrun.Load(work, name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if opts.ExcludeLeaks && opts.Split != evalrun.SplitTest {
		g.logf("eval: --exclude-leaks changes only the test split; split %s holds the training pairs anyway", opts.Split)
	}
	ev, err := space.Evaluate(opts.Split, eo)
	if errors.Is(err, evalrun.ErrEmptySplit) {
		return usagef("%v; --split all evaluates every movie", err)
	}
	if err != nil {
		return err
	}
	if opts.ExcludeLeaks && opts.Split == evalrun.SplitTest && len(ev.Result.ExcludedLeaks) == 0 {
		g.logf("eval: --exclude-leaks: no test movie shares an intro or a poster with the training split; nothing left out")
	}
	if err := ev.Save(work); err != nil {
		return err
	}
	g.logf("wrote %s and %s", work.Eval(name, opts.Split), work.Distance(name, opts.Split))
	if others := otherRuns(work, name, space.Encoder); len(others) > 0 {
		g.logf("other runs of %s in %s: %s; `reelmatch eval --work %s --compare` puts them side by side", space.Encoder, work, strings.Join(others, ", "), work)
	}
	if g.JSON {
		return g.printJSON(ev.Result)
	}
	return printEvalTable(g.stdout, &ev.Result, opts.CI)
}

// otherRuns names the runs of encoder in work other than run (its seeds,
// control and baselines); none when they cannot be listed.
func otherRuns(work workdir.Dir, run, encoder string) []string {
	runs, err := evalrun.ListRuns(work)
	if err != nil {
		return nil
	}
	var names []string
	for _, r := range runs {
		if r.Encoder == encoder && r.Name != run {
			names = append(names, r.Name)
		}
	}
	return names
}

// runEvalCompare is eval --compare: every run of WORK (of --encoder, when
// given) evaluated on the split and printed side by side.
func runEvalCompare(ctx context.Context, opts EvalOptions, eo evalrun.Options, g *globalOptions) error {
	if opts.Run != "" {
		return usagef("--compare evaluates every run in WORK: drop --run (use --encoder to keep one encoder's runs)")
	}
	work, err := workDir("eval", opts.Work)
	if err != nil {
		return err
	}
	runs, err := evalrun.ListRuns(work)
	if err != nil {
		return err
	}
	var names []string
	for _, r := range runs {
		if opts.Encoder == "" || r.Encoder == opts.Encoder {
			names = append(names, r.Name)
		}
	}
	if len(names) == 0 {
		what := "no trained run"
		if opts.Encoder != "" {
			what = "no run of encoder " + opts.Encoder
		}
		return fmt.Errorf("%w: %s in %s: run `reelmatch train --work %s --encoder NAME` first", evalrun.ErrNoRun, what, work, work)
	}
	if g.Verbose > 0 {
		g.logf("eval: work=%s compare runs=%v split=%s resamples=%d", work, names, opts.Split, opts.Resamples)
	}
	b, err := scoreboard.Evaluate(ctx, work, names, opts.Split, eo, true)
	if err != nil {
		return err
	}
	g.logf("wrote eval_%s.json and distance_%s.safetensors in %d run folders of %s", opts.Split, opts.Split, len(names), work.Runs())
	if g.JSON {
		return g.printJSON(b)
	}
	return b.WriteText(g.stdout)
}

// printEvalTable writes the human table of one evaluation: the mean rank
// percentile with its bootstrap 95% interval first (the primary figure),
// R@10 with its interval, then the other metrics; with allCI a second block
// gives the intervals of the other metrics too.
func printEvalTable(w io.Writer, r *evalrun.Result, allCI bool) error {
	if r.Run != "" && r.Run != r.Encoder {
		fmt.Fprintf(w, "run %s, encoder %s, split %s, n=%d%s\n", r.Run, r.Encoder, r.Split, r.N, evalrun.SplitNote(r.Split))
	} else {
		fmt.Fprintf(w, "encoder %s, split %s, n=%d%s\n", r.Encoder, r.Split, r.N, evalrun.SplitNote(r.Split))
	}
	if n := len(r.ExcludedLeaks); n > 0 {
		ids := make([]string, n)
		for i, id := range r.ExcludedLeaks {
			ids[i] = string(id)
		}
		fmt.Fprintf(w, "left out %d held-out movie(s) sharing an intro or a poster with the training split (--exclude-leaks): %s\n", n, strings.Join(shortList(ids, 20), " "))
	}
	if r.Split == evalrun.SplitAll {
		fmt.Fprintln(w, evalrun.AllProtocolNote)
	}
	t := table{right: []bool{false, false, false, true, true, true, true, true, true}}
	t.add("direction", "mean rank pct [95% CI]", "R@10 [95% CI]", "R@1", "R@5", "MedR", "MeanR", "MRR", "top1")
	row := func(name string, s metrics.Scores) {
		mrp, r10 := pctf(s.MeanRankPercentile), pctf(s.R10)
		if c := s.CI; c != nil {
			mrp += " " + pct(c.MeanRankPercentile)
			r10 += " " + pct(c.R10)
		}
		t.add(name, mrp, r10, pctf(s.R1), pctf(s.R5), fmt.Sprint(s.MedianRank), fmt.Sprintf("%.1f", s.MeanRank), fmt.Sprintf("%.3f", s.MRR), pctf(s.Top1Acc))
	}
	row("poster->intro", r.PosterToIntro)
	row("intro->poster", r.IntroToPoster)
	t.add("chance", pctf(0.5), pctf(r.Chance.R10), pctf(r.Chance.R1), pctf(r.Chance.R5), fmt.Sprint((r.N+1)/2), fmt.Sprintf("%.1f", float64(r.N+1)/2))
	if err := t.write(w); err != nil {
		return err
	}
	if b := r.Bootstrap; b != nil {
		fmt.Fprintf(w, "%.0f%% CI: bootstrap over the %d queries (gallery fixed), %d resamples, seed %d, percentile method\n", 100*b.Level, r.N, b.Resamples, b.Seed)
	}
	if !allCI {
		return nil
	}
	fmt.Fprintln(w, "95% intervals of the other metrics:")
	t = table{}
	t.add("direction", "R@1", "R@5", "MedR", "MeanR", "MRR", "top1")
	for _, d := range []struct {
		name string
		s    metrics.Scores
	}{{"poster->intro", r.PosterToIntro}, {"intro->poster", r.IntroToPoster}} {
		if c := d.s.CI; c != nil {
			t.add(d.name, pct(c.R1), pct(c.R5), fmt.Sprintf("[%g, %g]", c.MedianRank[0], c.MedianRank[1]),
				fmt.Sprintf("[%.1f, %.1f]", c.MeanRank[0], c.MeanRank[1]), fmt.Sprintf("[%.3f, %.3f]", c.MRR[0], c.MRR[1]), pct(c.Top1Acc))
		}
	}
	if err := t.write(w); err != nil {
		return err
	}
	return nil
}

// pctf formats a fraction as a percentage with two decimals.
func pctf(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }

func pct(iv metrics.Interval) string {
	return fmt.Sprintf("[%.2f%%, %.2f%%]", 100*iv[0], 100*iv[1])
}
