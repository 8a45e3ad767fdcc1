package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/bound"
	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/report"
)

func init() { commands = append(commands, newReportCommand) }

// ReportOptions are the flags of `reelmatch report`.
type ReportOptions struct {
	Work        string
	Encoder     string
	Run         string
	Out         string
	Examples    int
	Seed        int64
	HeatmapSize int
}

func newReportCommand(g *globalOptions) *cobra.Command {
	opts := ReportOptions{}
	cmd := &cobra.Command{
		Use:   "report --work WORK [--run NAME | --encoder E] [--out WORK/report.html] [--examples 3] [--seed 1] [--heatmap-size 24]",
		Short: "Write a self-contained HTML report of a trained run",
		Long: `report writes one HTML file that opens offline (thumbnails and charts are
inlined, nothing is fetched) describing one trained run of WORK:

  1. the leak check of the manifest; every run of the run's encoder side
     by side on the test split (held out): the mean rank percentile and
     R@10 of both directions with bootstrap 95% intervals, the mean ± sd of
     runs that differ only in their seed, the shuffled-pairs control, the
     baselines and chance; the run's own metrics on the test split and on
     split all (training pairs included, labelled so); the seed's reported
     figures beside both readings (top-1 accuracy and mean rank percentile)
     of the seed-protocol run (run --protocol seed) when WORK has one;
  2. loss curves from history.json and histograms of where the true match
     lands;
  3. the seed's qualitative study: --examples held-out posters drawn at
     random (--seed) with their 5 nearest intros, and as many intros with
     their 5 nearest posters, the true match marked;
  4. a heat map of D for --heatmap-size held-out movies drawn the same way.

Ranks come from distance_<split>.safetensors and metrics from
eval_<split>.json (with their bootstrap intervals) when they
still describe the run: the same movies, the matrix's diagonal as the current
heads give it, and scores that agree with the matrix. Otherwise the split is
evaluated in memory and a note says so (nothing in WORK is rewritten; run
reelmatch eval to save it). The file is written atomically.

Which run: --run NAME, else --encoder E's main run, else the only run in
WORK, else the only main run among several; otherwise report stops (exit 2)
and lists the runs.

With --json, stdout is {"out":PATH,"bytes":N,"runs":[RUN]}.

Environment: REELMATCH_WORK, REELMATCH_RUN and REELMATCH_ENCODER give
defaults.` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReport(cmd.Context(), opts, g, args)
		},
	}
	f := cmd.Flags()
	addRunFlags(f, &opts.Work, &opts.Encoder, &opts.Run, "report on")
	f.StringVar(&opts.Out, "out", "", "report file (default: WORK/report.html)")
	intFlag(f, &opts.Examples, "examples", 3, reportExamplesRange, "posters and intros in the qualitative study, per run")
	int64Flag(f, &opts.Seed, "seed", 1, bound.AnyInt64, "seed of the random examples and heat-map sample")
	intFlag(f, &opts.HeatmapSize, "heatmap-size", 24, heatmapSizeRange, "held-out movies in the distance heat map (0 for none)")
	return cmd
}

// reportJSON is the --json result of report.
type reportJSON struct {
	Out   string   `json:"out"`
	Bytes int      `json:"bytes"`
	Runs  []string `json:"runs"`
}

func runReport(ctx context.Context, opts ReportOptions, g *globalOptions, _ []string) error {
	if err := checkFlag("examples", reportExamplesRange.Check(opts.Examples)); err != nil {
		return err
	}
	if err := checkFlag("heatmap-size", heatmapSizeRange.Check(opts.HeatmapSize)); err != nil {
		return err
	}
	work, err := existingWorkDir("report", opts.Work)
	if err != nil {
		return err
	}
	out := opts.Out
	if out == "" {
		out = filepath.Join(opts.Work, "report.html")
	}
	if _, err := dataset.Load(work.Manifest()); err != nil {
		return err
	}
	work, run, err := resolveRun("report", opts.Work, opts.Encoder, opts.Run)
	if err != nil {
		return err
	}
	ro := report.Options{
		Examples:    opts.Examples,
		Seed:        opts.Seed,
		HeatmapSize: opts.HeatmapSize,
		Notef:       g.logf,
		Warnf:       func(format string, args ...any) { fmt.Fprintf(g.stderr, "warning: "+format+"\n", args...) },
	}
	if g.Verbose > 0 {
		ro.Debugf = g.logf
	}
	w, err := report.WriteFile(ctx, work, []string{run}, out, ro)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.printJSON(reportJSON{Out: w.Out, Bytes: w.Bytes, Runs: w.Runs})
	}
	_, err = fmt.Fprintf(g.stdout, "wrote %s (%.0f KB, %d run(s): %s)\n", w.Out, float64(w.Bytes)/1024, len(w.Runs), strings.Join(w.Runs, ", "))
	return err
}
