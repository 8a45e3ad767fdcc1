package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/metrics"
)

func init() { commands = append(commands, newEvalCommand) }

// EvalOptions are the flags of `reelmatch eval`.
type EvalOptions struct {
	Work    string
	Encoder string
	Run     string
	Split   string
	CI      bool
	// ExcludeLeaks leaves leaked test movies out (see prepare's leak check).
	ExcludeLeaks bool
}

func newEvalCommand(g *globalOptions) *cobra.Command {
	opts := EvalOptions{}
	cmd := &cobra.Command{
		Use:   "eval --work WORK [--run NAME | --encoder E] [--split test|all|train] [--ci]",
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

Metrics per direction: R@1, R@5, R@10, median rank (lower median), mean rank,
MRR, top-1 accuracy (argmin, ties to the lower index) and mean rank
percentile (share of wrong candidates farther than the true match, ties
half; chance 0.5). Ranks are 1-based; a tie counts in the query's favour.
The seed's "accuracy along dim 0/1" is thought to be the mean rank
percentile; both are shown. Chance: R@K = K/n.

--ci adds bootstrap 95% intervals (1000 resamples of the queries, seed 1,
percentile method).

--exclude-leaks leaves out of the test split every movie whose cleaned
intro is (nearly) identical to a training movie's or whose poster has the
same SHA-256 (prepare's leak check), says how many, and lists them in
"excluded_leaks" in the JSON.

With --json, stdout is
{"run":...,"encoder":...,"split":...,"n":...,"poster_to_intro":{"r1","r5","r10",
"median_rank","mean_rank","mrr","top1_acc","mean_rank_percentile"},
"intro_to_poster":{...},"chance":{"r1","r5","r10"}}, plus "ci" objects
of [low, high] pairs inside each direction with --ci.

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
	f.BoolVar(&opts.CI, "ci", false, "add bootstrap 95% confidence intervals")
	f.BoolVar(&opts.ExcludeLeaks, "exclude-leaks", false, "leave out of the test split the movies whose intro or poster also appears in the training split (prepare's leak check)")
	return cmd
}

func runEval(ctx context.Context, opts EvalOptions, g *globalOptions, _ []string) error {
	if err := evalrun.CheckSplit(opts.Split); err != nil {
		return usagef("--split: %v", err)
	}
	work, name, err := resolveRun("eval", opts.Work, opts.Encoder, opts.Run)
	if err != nil {
		return err
	}
	if g.Verbose > 0 {
		g.logf("eval: work=%s run=%s split=%s ci=%v", work, name, opts.Split, opts.CI)
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
	ev, err := space.Evaluate(opts.Split, evalrun.Options{CI: opts.CI, ExcludeLeaks: opts.ExcludeLeaks})
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
	if g.JSON {
		return g.printJSON(ev.Result)
	}
	return printEvalTable(g.stdout, &ev.Result)
}

// printEvalTable writes the compact human table of one evaluation.
func printEvalTable(w io.Writer, r *evalrun.Result) error {
	if r.Run != "" && r.Run != r.Encoder {
		fmt.Fprintf(w, "run %s, encoder %s, split %s, n=%d\n", r.Run, r.Encoder, r.Split, r.N)
	} else {
		fmt.Fprintf(w, "encoder %s, split %s, n=%d\n", r.Encoder, r.Split, r.N)
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
	ci := r.PosterToIntro.CI != nil
	fmt.Fprintf(w, "%-16s %7s %7s %7s %6s %8s %6s %6s %7s\n", "direction", "R@1", "R@5", "R@10", "MedR", "MeanR", "MRR", "top1", "pctile")
	row := func(name string, s metrics.Scores) {
		fmt.Fprintf(w, "%-16s %6.2f%% %6.2f%% %6.2f%% %6d %8.1f %6.3f %5.2f%% %6.2f%%\n",
			name, 100*s.R1, 100*s.R5, 100*s.R10, s.MedianRank, s.MeanRank, s.MRR, 100*s.Top1Acc, 100*s.MeanRankPercentile)
		if s.CI != nil {
			c := s.CI
			fmt.Fprintf(w, "%-16s %s %s %s\n", "  95% CI", pct(c.R1), pct(c.R5), pct(c.R10))
			fmt.Fprintf(w, "%-16s MedR %g-%g  MeanR %.1f-%.1f  MRR %.3f-%.3f  top1 %s  pctile %s\n", "",
				c.MedianRank[0], c.MedianRank[1], c.MeanRank[0], c.MeanRank[1], c.MRR[0], c.MRR[1], pct(c.Top1Acc), pct(c.MeanRankPercentile))
		}
	}
	row("poster->intro", r.PosterToIntro)
	row("intro->poster", r.IntroToPoster)
	_, err := fmt.Fprintf(w, "%-16s %6.2f%% %6.2f%% %6.2f%% %6d %8.1f %6s %6s %6.2f%%\n",
		"chance", 100*r.Chance.R1, 100*r.Chance.R5, 100*r.Chance.R10, (r.N+1)/2, float64(r.N+1)/2, "", "", 50.0)
	if ci {
		fmt.Fprintln(w, "CI: bootstrap over queries, 1000 resamples, seed 1, percentile method")
	}
	return err
}

func pct(iv metrics.Interval) string {
	return fmt.Sprintf("[%.2f%%, %.2f%%]", 100*iv[0], 100*iv[1])
}
