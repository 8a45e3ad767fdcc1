package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
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
	"github.com/reelmatch/reelmatch/internal/scoreboard"
	"github.com/reelmatch/reelmatch/internal/tune"
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
	// Seeds trains the heads once per seed (the first as the main run).
	Seeds []int
	// Control also trains the shuffled-pairs control <run>.shuffled.
	Control bool
	// Baselines also trains the other head kinds beside the main run,
	// <run>.mlp, <run>.linear, <run>.cca (and zero-shot <run>.none for
	// encoders with a shared space).
	Baselines bool
	// Protocol is protocolHeldOut or protocolSeed.
	Protocol string
	// changed reports whether a flag was given on the command line (nil:
	// none was, as when demo calls runPipeline).
	changed func(string) bool
	encoderOptions
	// Train holds the train flags; its Work and Encoder are set from run's.
	Train TrainOptions
}

func newRunCommand(g *globalOptions) *cobra.Command {
	opts := RunOptions{}
	cmd := &cobra.Command{
		Use:   "run --data DIR --work WORK --encoder E [--seeds 1,2,3] [--control] [--baselines] [--protocol heldout|seed] [train flags]",
		Short: "Prepare, embed, train and evaluate in one command",
		Long: `run does the whole pipeline: prepare (DIR -> WORK/manifest.json), embed
(WORK/features/<encoder>.safetensors), train (WORK/runs/<run>/, by default
WORK/runs/<encoder>/; --run names another) and eval
on the test split and on all movies (the seed's protocol, training pairs
included, labelled so). Each stage is the same code as its own command and
reuses what a previous run left: unchanged data is not re-embedded.

Beside the main run it trains, each as a named run of WORK/runs and each
evaluated on the test split:
  --seeds 1,2,3   the heads once per seed: the first seed is the main run,
                  the others <run>.seed2, <run>.seed3; the summary gives each
                  seed's figures and their mean ± sd (default: --seed alone)
  --control       the shuffled-pairs control <run>.shuffled: the main run's
                  training with the pairs broken, so its held-out figures
                  measure chance (default on; it costs one more training of
                  the main run's kind)
  --baselines     the other head kinds as baselines: <run>.mlp (the seed's
                  MLP heads), <run>.linear and <run>.cca (closed form,
                  regularisation chosen by cross-validation on the training
                  split), leaving out the main run's kind, and zero-shot
                  <run>.none for encoders with a shared space (default on;
                  the MLP costs most)
and prints every run side by side (as eval --compare does).

--protocol seed reproduces the seed's evaluation instead: it trains
<encoder>.seed-protocol with the seed's recipe pushed to memorisation (no
dropout, 100 epochs over every training pair, last epoch kept; these train
flags may not be given with it) and prints top-1 accuracy and mean rank
percentile on split all (training pairs included) beside split train and
split test (held out). The seed's 65.66%/66.30% came from a lost get_acc:
both readings reach that range on split all, so neither can be taken for
alignment.

Training flags are train's (--epochs, --batch, --lr, --seed, --heads ...);
embed's batch size is --embed-batch here. When WORK/tune/<encoder>.json
exists (reelmatch tune) and still describes the training split, run
embeds with its text settings and trains its heads, unless flags say
otherwise, and says so; --no-tune ignores it.

It prints one summary line per stage and the metrics of both splits. With
--json, stdout is {"prepare":{...},"embed":{...},"train":{...},
"eval":{"test":{...},"all":{...}},"protocol":"heldout"|"seed","runs":[{"run",
"role","train":{...},"eval":{"test":{...},...}}],"compare":{...}}: prepare,
embed, train and eval as the stages' own --json print them (train and eval
of the main run; each stage reports its own "seconds"), "runs" every run
trained (the main run first), "compare" the test split side by side as
eval --compare prints it.

Environment: REELMATCH_DATA, REELMATCH_WORK, REELMATCH_ENCODER,
REELMATCH_MODELS and REELMATCH_BACKEND give defaults.` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.changed = cmd.Flags().Changed
			opts.Train.changed = changedFlags(cmd.Flags())
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
	intsFlag(f, &opts.Seeds, "seeds", nil, seedsRange, seedsCountRange, "train the heads once per seed, comma-separated (the first is the main run; default: --seed)")
	f.BoolVar(&opts.Control, "control", true, "also train the shuffled-pairs control <run>.shuffled (one more training)")
	f.BoolVar(&opts.Baselines, "baselines", true, "also train the other head kinds as baselines, <run>.mlp, <run>.linear, <run>.cca (and zero-shot <run>.none for encoders with a shared space)")
	f.StringVar(&opts.Protocol, "protocol", protocolHeldOut, "heldout (the model, its control and baselines, held-out split first) or seed (the seed's recipe, scored on split all beside train and test)")
	opts.encoderOptions.AddFlags(f)
	addTrainFlags(f, &opts.Train)
	return cmd
}

// runJSON is the --json document of run.
type runJSON struct {
	Prepare prepareJSON    `json:"prepare"`
	Embed   *embed.Summary `json:"embed"`
	// Train and Eval are the main run's (the first of Runs).
	Train *TrainResult `json:"train"`
	Eval  runEvalJSON  `json:"eval"`
	// Protocol is protocolHeldOut or protocolSeed.
	Protocol string `json:"protocol"`
	// Runs are every run trained, the main run first.
	Runs []runRunJSON `json:"runs"`
	// Compare is every run of Runs side by side on the test split.
	Compare *scoreboard.Board `json:"compare"`
	// Seconds is printed in the human summary only.
	Seconds float64 `json:"-"`
}

// runRunJSON is one trained run in run's --json.
type runRunJSON struct {
	Run   string       `json:"run"`
	Role  string       `json:"role"`
	Train *TrainResult `json:"train"`
	Eval  runEvalJSON  `json:"eval"`
}

type runEvalJSON struct {
	Test  *evalrun.Result `json:"test"`
	All   *evalrun.Result `json:"all,omitempty"`
	Train *evalrun.Result `json:"train,omitempty"`
}

// set records one split's result.
func (e *runEvalJSON) set(r *evalrun.Result) {
	switch r.Split {
	case evalrun.SplitTest:
		e.Test = r
	case evalrun.SplitAll:
		e.All = r
	case evalrun.SplitTrain:
		e.Train = r
	}
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
	if err := checkRunPlanFlags(opts, opts.changed); err != nil {
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
		NewBar: func(total int) progress.Bar {
			return progress.NewLabeled(g.progress(), total, "checking posters", "posters")
		},
	})
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if rep.Test == 0 {
		// run reports the held-out split: without one it would train for
		// nothing and fail at eval.
		return nil, usagef("prepare: the test split is empty (every kept movie is listed in %s): leave some ids out of train.txt, they become the held-out test movies", filepath.Join(opts.Data, dataset.TrainFile))
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

	// embed, with the text settings tune chose unless told otherwise
	tunedNote := ""
	var tuned *tune.Result
	if !opts.Train.NoTune {
		r, path, err := loadTuned(work, man, opts.Encoder, "", g)
		if err != nil {
			return nil, err
		}
		if r != nil {
			tunedNote = applyTunedFeatures(&opts.encoderOptions, r, path)
			tuned = r
		}
	}
	enc, err := encoder.New(opts.Encoder, embed.EncoderConfig(opts.config()))
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
	if tunedNote != "" {
		say("embed: %s", tunedNote)
	}

	// train and eval each planned run
	if opts.Protocol == "" {
		opts.Protocol = protocolHeldOut
	}
	res.Protocol = opts.Protocol
	eo := evalrun.Options{Bootstrap: metrics.BootstrapOptions{Resamples: opts.Resamples}, ExcludeLeaks: opts.ExcludeLeaks}
	var board []scoreboard.Run
	if tuned != nil {
		// The main run's kind decides the plan (its control, the other
		// kinds as baselines); each run's train applies the file again.
		if _, err := applyTunedHeads(&opts.Train, tuned); err != nil {
			return nil, err
		}
	}
	for _, p := range planRuns(opts, enc.Name()) {
		tr, err := trainHeads(ctx, p.Train, g)
		if err != nil {
			return nil, fmt.Errorf("train %s: %w", p.Name, err)
		}
		say("train: %s%s: %s", p.Name, roleNote(p), trainLine(tr))
		t0 := time.Now()
		space, err := evalrun.Load(work, tr.Run)
		if err != nil {
			return nil, fmt.Errorf("eval %s: %w", p.Name, err)
		}
		rr := runRunJSON{Run: tr.Run, Role: p.Role, Train: tr}
		for _, split := range p.Splits {
			ev, err := space.Evaluate(split, eo)
			if err != nil {
				return nil, fmt.Errorf("eval %s: %w", p.Name, err)
			}
			if err := ev.Save(work); err != nil {
				return nil, fmt.Errorf("eval %s: %w", p.Name, err)
			}
			r := ev.Result
			rr.Eval.set(&r)
		}
		say("eval: %s on %s, wrote %s [%.1fs]", p.Name, strings.Join(p.Splits, ", "), work.Run(tr.Run), time.Since(t0).Seconds())
		if len(res.Runs) == 0 {
			res.Train, res.Eval = tr, rr.Eval
		}
		res.Runs = append(res.Runs, rr)
		board = append(board, scoreboard.NewRun(tr.Run, space.Heads.Settings, rr.Eval.Test))
	}
	if res.Compare, err = scoreboard.New(evalrun.SplitTest, board); err != nil {
		return nil, err
	}
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
	tuned := ""
	if t := r.Tuned; t != nil {
		tuned = fmt.Sprintf("; settings chosen by tune (%s: %d-fold cross-validation, mean rank pct %.3f ± %.3f)", t.File, t.Folds, t.Mean.Mean, t.Mean.SD)
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
	return s + tuned + fmt.Sprintf(" [%.1fs]", r.Seconds)
}

// printRunMetrics prints the main run's tables (held-out protocol: split
// test, then split all) and every run side by side, or for the seed
// protocol the two readings of the seed's number.
func printRunMetrics(w io.Writer, res *runJSON, allCI bool) error {
	fmt.Fprintln(w)
	if res.Protocol == protocolSeed {
		for i, rr := range res.Runs {
			if i > 0 {
				fmt.Fprintln(w)
			}
			if err := scoreboard.WriteReadings(w, rr.Run, []*evalrun.Result{rr.Eval.All, rr.Eval.Train, rr.Eval.Test}); err != nil {
				return err
			}
		}
	} else {
		if err := printEvalTable(w, res.Eval.Test, allCI); err != nil {
			return err
		}
		fmt.Fprintln(w)
		if err := printEvalTable(w, res.Eval.All, allCI); err != nil {
			return err
		}
		if res.Compare != nil && len(res.Compare.Runs) > 1 {
			fmt.Fprintln(w)
			if err := res.Compare.WriteText(w); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintf(w, "\ntotal %.1fs\n", res.Seconds)
	return err
}

// roleNote says in a train line what a planned run is for.
func roleNote(p plannedRun) string {
	switch p.Role {
	case scoreboard.RoleControl:
		return " (control: pairs shuffled)"
	case scoreboard.RoleBaseline, scoreboard.RoleZeroShot:
		return " (" + p.Role + ")"
	case scoreboard.RoleSeedProtocol:
		return fmt.Sprintf(" (the seed's recipe, seed %d)", p.Train.Config.Seed)
	}
	if p.Train.Heads == heads.KindMLP {
		return fmt.Sprintf(" (seed %d)", p.Train.Config.Seed)
	}
	return ""
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
