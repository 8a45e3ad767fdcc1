package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/progress"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

func init() { commands = append(commands, newRunCommand) }

// RunOptions are the flags of `reelmatch run`.
type RunOptions struct {
	Data string
	Work string
	// EmbedBatch is embed's --batch; run's --batch is the training batch.
	EmbedBatch int
	// CI prints every metric's interval (eval's --ci).
	CI bool
	// Resamples is eval's --resamples.
	Resamples int
	// ExcludeLeaks is eval's --exclude-leaks for the test split.
	ExcludeLeaks bool
	encoderOptions
	// Train holds the train flags; its Work and Encoder are set from run's.
	Train TrainOptions
}

func newRunCommand(g *globalOptions) *cobra.Command {
	opts := RunOptions{}
	cmd := &cobra.Command{
		Use:   "run --data DIR --work WORK --encoder E [train flags]",
		Short: "Prepare, embed, train and evaluate in one command",
		Long: `run does the whole pipeline: prepare (DIR -> WORK/manifest.json), embed
(WORK/features/<encoder>.safetensors), train (WORK/runs/<run>/, by default
WORK/runs/<encoder>/; --run names another) and eval
on the test split and on all movies (the seed's protocol, training pairs
included, labelled so). Each stage is the same code as its own command and
reuses what a previous run left: unchanged data is not re-embedded.

Training flags are train's (--epochs, --batch, --lr, --seed, --heads ...);
embed's batch size is --embed-batch here.

It prints one summary line per stage and the metrics of both splits. With
--json, stdout is {"prepare":{...},"embed":{...},"train":{...},
"eval":{"test":{...},"all":{...}}}, each part as the stage's own --json
prints it (each stage reports its own "seconds").

Environment: REELMATCH_DATA, REELMATCH_WORK, REELMATCH_ENCODER,
REELMATCH_MODELS and REELMATCH_BACKEND give defaults.` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), opts, g, args)
		},
	}
	f := cmd.Flags()
	addDataFlag(f, &opts.Data)
	addWorkFlag(f, &opts.Work, "WORK folder for every artifact")
	intFlag(f, &opts.EmbedBatch, "embed-batch", embed.DefaultBatchSize, embedBatchRange, "posters or intros per encoder call (embed's --batch)")
	f.BoolVar(&opts.CI, "ci", false, "print the 95% interval of every metric (eval's --ci)")
	intFlag(f, &opts.Resamples, "resamples", metrics.DefaultResamples, metrics.ResamplesRange, "bootstrap resamples of the queries for the 95% intervals (eval's --resamples)")
	f.BoolVar(&opts.ExcludeLeaks, "exclude-leaks", false, "leave out of the test split the movies prepare's leak check reports (eval's --exclude-leaks)")
	opts.encoderOptions.AddFlags(f)
	addTrainFlags(f, &opts.Train)
	return cmd
}

// runJSON is the --json document of run.
type runJSON struct {
	Prepare prepareJSON    `json:"prepare"`
	Embed   *embed.Summary `json:"embed"`
	Train   *TrainResult   `json:"train"`
	Eval    runEvalJSON    `json:"eval"`
	// Seconds is printed in the human summary only: the JSON document
	// holds exactly the four stages.
	Seconds float64 `json:"-"`
}

type runEvalJSON struct {
	Test *evalrun.Result `json:"test"`
	All  *evalrun.Result `json:"all"`
}

func runRun(ctx context.Context, opts RunOptions, g *globalOptions, _ []string) error {
	if err := checkData("run", opts.Data); err != nil {
		return err
	}
	if _, err := workDir("run", opts.Work); err != nil {
		return err
	}
	if err := checkFlag("resamples", metrics.ResamplesRange.Check(opts.Resamples)); err != nil {
		return err
	}
	if err := checkFlag("embed-batch", embedBatchRange.Check(opts.EmbedBatch)); err != nil {
		return err
	}
	if err := opts.check(); err != nil {
		return err
	}
	opts.Train.Work, opts.Train.Encoder = opts.Work, opts.Encoder
	if err := checkTrainOptions(opts.Train); err != nil {
		return err
	}
	res, err := runPipeline(ctx, opts, g)
	if err != nil {
		return err
	}
	if g.JSON {
		if err := g.printJSON(res); err != nil {
			return err
		}
	} else if err := printRunMetrics(g.stdout, res, opts.CI); err != nil {
		return err
	}
	if n := len(res.Prepare.Dropped); n > 0 {
		return partialDataError{fmt.Sprintf("prepare left movies out (%s); every later stage used the %d kept movies", droppedSummary(res.Prepare.Dropped), res.Prepare.Movies)}
	}
	return nil
}

// runPipeline runs the four stages, printing one line per stage to stdout
// (unless --json) as each ends.
func runPipeline(ctx context.Context, opts RunOptions, g *globalOptions) (*runJSON, error) {
	start := time.Now()
	work := workdir.Dir(opts.Work)
	say := func(format string, args ...any) {
		if !g.JSON {
			fmt.Fprintf(g.stdout, format+"\n", args...)
		}
	}
	res := &runJSON{}

	// prepare
	pipe, err := cleanPipeline("")
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	man, rep, err := dataset.Prepare(ctx, opts.Data, dataset.Options{
		Pipeline: pipe,
		Warnf:    func(format string, args ...any) { fmt.Fprintf(g.stderr, "warning: "+format+"\n", args...) },
		NewBar:   func(total int) progress.Bar { return progress.New(g.progress(), total, "posters") },
	})
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if _, err := man.SaveIfChanged(work.Manifest()); err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	res.Prepare = prepareJSON{Movies: rep.Movies, Train: rep.Train, Test: rep.Test, Dropped: map[string][]string{}, Leaks: rep.Leaks}
	for reason, ids := range rep.Dropped {
		for _, id := range ids {
			res.Prepare.Dropped[string(reason)] = append(res.Prepare.Dropped[string(reason)], string(id))
		}
	}
	say("prepare: %d movies (%d train, %d test), %d dropped, %d leaked test movie(s) [%.1fs]", rep.Movies, rep.Train, rep.Test, rep.DroppedCount(), len(dataset.LeakedTestIDs(rep.Leaks)), time.Since(t0).Seconds())

	// embed
	enc, err := encoder.New(opts.Encoder, opts.config())
	if err != nil {
		return nil, openEncoderError(opts.Encoder, err)
	}
	defer enc.Close()
	sum, err := embed.Run(ctx, work, man, enc, embed.Options{BatchSize: opts.EmbedBatch, TextInput: opts.TextInput, Progress: g.progress()})
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	res.Embed = sum
	say("embed: %s, %d movies (%d computed, %d reused), image %d-d, text %d-d [%.1fs]",
		sum.Encoder, sum.Movies, sum.Computed, sum.Reused, sum.ImageDim, sum.TextDim, sum.Seconds)

	// train
	to := opts.Train
	to.Work, to.Encoder = opts.Work, enc.Name()
	tr, err := trainHeads(ctx, to, g)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	res.Train = tr
	say("train: %s", trainLine(tr))

	// eval
	t0 = time.Now()
	space, err := evalrun.Load(work, tr.Run)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	for _, split := range []string{evalrun.SplitTest, evalrun.SplitAll} {
		ev, err := space.Evaluate(split, evalrun.Options{Bootstrap: metrics.BootstrapOptions{Resamples: opts.Resamples}, ExcludeLeaks: opts.ExcludeLeaks})
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		if err := ev.Save(work); err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		r := ev.Result
		if split == evalrun.SplitTest {
			res.Eval.Test = &r
		} else {
			res.Eval.All = &r
		}
	}
	say("eval: wrote %s and %s [%.1fs]", work.Eval(tr.Run, evalrun.SplitTest), work.Eval(tr.Run, evalrun.SplitAll), time.Since(t0).Seconds())
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// addTrainFlags registers train's flags on a run-like command, leaving out
// --work and --encoder, which the command defines itself.
func addTrainFlags(f *pflag.FlagSet, o *TrainOptions) {
	tf := pflag.NewFlagSet("train", pflag.ContinueOnError)
	o.AddFlags(tf)
	tf.VisitAll(func(fl *pflag.Flag) {
		if fl.Name != "work" && fl.Name != "encoder" && f.Lookup(fl.Name) == nil {
			f.AddFlag(fl)
		}
	})
}

// trainLine is the one-line summary of the train stage.
func trainLine(r *TrainResult) string {
	if r.Heads == heads.KindIdentity {
		return fmt.Sprintf("identity heads (L2-normalise only) [%.1fs]", r.Seconds)
	}
	if heads.IsLinearKind(r.Heads) {
		return fmt.Sprintf("%s [%.1fs]", linearLine(r), r.Seconds)
	}
	s := fmt.Sprintf("%d epochs on %d pairs, kept epoch %d", r.EpochsRun, r.TrainPairs, r.BestEpoch)
	if r.AverageFrom > 0 {
		s = fmt.Sprintf("%d epochs on %d pairs, kept the mean of epochs %d-%d", r.EpochsRun, r.TrainPairs, r.AverageFrom, r.BestEpoch)
	}
	if r.StoppedEarly {
		s += " (stopped early)"
	}
	if v := r.Validation; v != nil {
		s += fmt.Sprintf("; validation (%d pairs) mean rank pct %.3f/%.3f", r.ValPairs, v.PosterToIntroMRP, v.IntroToPosterMRP)
	}
	return s + fmt.Sprintf(" [%.1fs]", r.Seconds)
}

// printRunMetrics prints the final tables of both splits.
func printRunMetrics(w io.Writer, res *runJSON, allCI bool) error {
	fmt.Fprintln(w)
	if err := printEvalTable(w, res.Eval.Test, allCI); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := printEvalTable(w, res.Eval.All, allCI); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\ntotal %.1fs\n", res.Seconds)
	return err
}

func droppedSummary(d map[string][]string) string {
	s := ""
	for _, r := range droppedOrder {
		if n := len(d[string(r)]); n > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%d %s", n, r)
		}
	}
	return s
}
