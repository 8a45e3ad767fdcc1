package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
	"github.com/reelmatch/reelmatch/internal/bound"
	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/progress"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

func init() { commands = append(commands, newTrainCommand) }

// TrainOptions are the flags of `reelmatch train`.
type TrainOptions struct {
	Work    string
	Encoder string
	// Run names the run folder (WORK/runs/<Run>); empty means the
	// encoder's main run.
	Run string
	// Heads is one of heads.Kinds.
	Heads string
	// Linear holds the settings of --heads linear|cca.
	Linear       linearFlags
	Config       heads.Config
	ValFraction  float64
	ShufflePairs bool
	// NoTune ignores WORK/tune/<encoder>.json.
	NoTune bool

	// changed holds the flags given on the command line: a tune file sets
	// only the others.
	changed map[string]bool
}

// defaultValFraction holds out a tenth of the training split for early
// stopping (the test split is never looked at).
const defaultValFraction = 0.1

// AddFlags registers every training flag with heads.DefaultConfig's values,
// but not --work and --encoder, so `run` can share them (train adds those
// itself).
func (o *TrainOptions) AddFlags(f *pflag.FlagSet) {
	d := heads.DefaultConfig()
	o.Config = d
	addRunNameFlag(f, &o.Run, "name of the run to write, a folder of WORK/runs (default: the encoder's name, its main run; e.g. builtin.linear)")
	f.StringVar(&o.Heads, "heads", heads.DefaultKind, "cca (regularised CCA) or linear (ridge map), both fitted in closed form, mlp (the seed's MLP heads, trained), or none (only L2-normalise; encoders with a shared space)")
	o.Linear.AddFlags(f)
	intFlag(f, &o.Config.Epochs, "epochs", d.Epochs, heads.EpochsRange, "maximum epochs")
	intFlag(f, &o.Config.BatchSize, "batch", d.BatchSize, heads.BatchSizeRange, "pairs per step (the last partial batch of an epoch is dropped)")
	floatFlag(f, &o.Config.LR, "lr", d.LR, heads.LRRange, "Adam learning rate")
	intFlag(f, &o.Config.LRStep, "lr-step", d.LRStep, heads.LRStepRange, "StepLR: multiply the learning rate by --lr-gamma every this many epochs (0: constant)")
	floatFlag(f, &o.Config.LRGamma, "lr-gamma", d.LRGamma, heads.LRGammaRange, "StepLR factor")
	intsFlag(f, &o.Config.Hidden, "hidden", d.Hidden, heads.HiddenRange, heads.HiddenLayersRange, "hidden layer sizes, comma-separated")
	intFlag(f, &o.Config.EmbedDim, "embed-dim", d.EmbedDim, heads.EmbedDimRange, "shared embedding size")
	floatFlag(f, &o.Config.Dropout, "dropout", d.Dropout, heads.DropoutRange, "dropout after each hidden layer")
	floatFlag(f, &o.Config.InputDropout, "input-dropout", d.InputDropout, heads.DropoutRange, "dropout on the input features")
	f.BoolVar(&o.Config.Standardize, "standardize", d.Standardize, "standardise each feature with the training pairs' mean and deviation (folded into the saved heads)")
	floatFlag(f, &o.Config.WeightDecay, "weight-decay", d.WeightDecay, heads.WeightDecayRange, "decoupled weight decay (AdamW)")
	floatFlag(f, &o.Config.Temperature, "temperature", d.Temperature, heads.TemperatureRange, "softmax temperature τ (initial value with --learn-temperature)")
	f.BoolVar(&o.Config.LearnTemperature, "learn-temperature", d.LearnTemperature, "learn log(1/τ) as CLIP does (clamped at 1/τ = 100)")
	int64Flag(f, &o.Config.Seed, "seed", d.Seed, bound.AnyInt64, "seed for initialisation, shuffling and dropout (same seed and data: identical checkpoint)")
	floatFlag(f, &o.ValFraction, "val-fraction", defaultValFraction, heads.ValFractionRange, "share of the training split held out for validation and early stopping (0: none)")
	intFlag(f, &o.Config.Patience, "patience", d.Patience, heads.PatienceRange, "stop after this many epochs without a better validation score (0: never)")
	intFlag(f, &o.Config.AverageEpochs, "average-epochs", d.AverageEpochs, heads.AverageEpochsRange, "keep the mean of the last N epochs' weights (stochastic weight averaging) instead of the best validation epoch (0 or 1: best epoch)")
	f.BoolVar(&o.Config.PreciseBN, "precise-bn", d.PreciseBN, "recompute BatchNorm statistics over all training pairs in eval mode (no dropout) before scoring and saving")
	f.BoolVar(&o.ShufflePairs, "shuffle-pairs", false, "control run: shuffle which intro goes with which poster in the training pairs")
	f.BoolVar(&o.NoTune, "no-tune", false, "ignore the settings reelmatch tune chose (WORK/tune/<encoder>.json)")
}

func newTrainCommand(g *globalOptions) *cobra.Command {
	opts := TrainOptions{}
	cmd := &cobra.Command{
		Use: "train --work WORK --encoder E [--run NAME] [--epochs N] [--batch 32] [--lr 1e-3] [--lr-step S] [--lr-gamma G] " +
			"[--hidden 256,256,256] [--embed-dim D] [--dropout p] [--input-dropout p] [--weight-decay w] " +
			"[--temperature 0.07] [--learn-temperature] [--seed 1] [--val-fraction f] [--patience n] " +
			"[--average-epochs n] [--precise-bn] " +
			"[--shuffle-pairs] [--heads mlp|linear|cca|none] [--folds 5] [--ridge-lambda L,...] " +
			"[--cca-shrink S,...] [--cca-dim D,...]",
		Short: "Train the projection heads on cached features",
		Long: `train fits two MLP projection heads (posters and intros) on the training
split's cached features with CLIP's symmetric contrastive loss, Adam and a
step learning-rate schedule, in float32 on the CPU. The kept weights are
the mean of the last --average-epochs epochs' weights (stochastic weight
averaging), with BatchNorm statistics recomputed over all training pairs
without dropout (--precise-bn). A share of the training split
(--val-fraction) is held out and every epoch is scored on it (mean rank
percentile and R@10 in both directions); with --average-epochs 0 the best
epoch's weights are kept instead, and --patience stops early. The test
split is never used.

It writes WORK/runs/<run>/heads.safetensors (PyTorch tensor names),
config.json (run name, head kind, settings, seed, encoder and feature
fingerprint, epochs), history.json and loss.png. The run is --run NAME,
by default the encoder's name (its main run, which eval, search, serve and
report pick by default); name other runs of one encoder <encoder>.<what>,
e.g. builtin.linear or builtin.shuffled, so they sit beside the main run.
The same --seed and data give a byte-identical checkpoint.

--heads linear and --heads cca are baselines fitted in closed form on every
training pair: a ridge-regression map from poster to intro features, or
regularised canonical correlation analysis (both on standardised features).
Their regularisation (--ridge-lambda; --cca-shrink x --cca-dim) is chosen
by --folds-fold cross-validation inside the training split (folds by movie,
from --seed): the setting with the best mean rank percentile over the
folds is refitted on all training pairs. The checkpoint has the MLP heads'
tensor names with no hidden layers, so eval, search, serve and report use
it as they use the MLP. -v prints the whole grid.

--heads none trains nothing and records heads that only L2-normalise, for
encoders whose two towers already share a space (clip-vit-b32).
--shuffle-pairs is a control: with the pairing broken, held-out retrieval
must fall to chance.

Per-epoch lines go to stderr; stdout gets the summary, or with --json one
object {"run","encoder","heads","run_dir","epochs_run","best_epoch",
"average_from" (with --average-epochs), "linear" and "cv" (the chosen
setting and the cross-validation grid, with --heads linear|cca),
"stopped_early","train_pairs","val_pairs","validation","config","history",
"tuned" (when the settings came from a tune file), "seconds"}.

When WORK/tune/<encoder>.json exists (made by reelmatch tune) and
still describes the training split, train takes from it the head kind
(unless --heads is given) and that kind's setting (unless its flags are
given: --ridge-lambda, --cca-shrink, --cca-dim, or --dropout and
--average-epochs), and says so; --no-tune ignores it. A tuned linear or CCA
head is fitted with the tuned setting, without cross-validating again.

Environment: REELMATCH_WORK, REELMATCH_ENCODER and REELMATCH_RUN give
defaults for --work, --encoder and --run.` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.changed = changedFlags(cmd.Flags())
			return runTrain(cmd.Context(), opts, g, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Work, "work", envOr("REELMATCH_WORK", "work"), "WORK folder holding manifest.json and the feature cache")
	f.StringVar(&opts.Encoder, "encoder", envOr("REELMATCH_ENCODER", builtin.Name), "encoder whose cached features to train on")
	opts.AddFlags(f)
	return cmd
}

// TrainResult is what `train --json` prints.
type TrainResult struct {
	Run          string              `json:"run"`
	Encoder      string              `json:"encoder"`
	Heads        string              `json:"heads"`
	RunDir       string              `json:"run_dir"`
	EpochsRun    int                 `json:"epochs_run"`
	BestEpoch    int                 `json:"best_epoch"`
	AverageFrom  int                 `json:"average_from,omitempty"`
	StoppedEarly bool                `json:"stopped_early"`
	TrainPairs   int                 `json:"train_pairs"`
	ValPairs     int                 `json:"val_pairs"`
	ShufflePairs bool                `json:"shuffle_pairs,omitempty"`
	Validation   *heads.ValMetrics   `json:"validation,omitempty"`
	Linear       *heads.LinearConfig `json:"linear,omitempty"`
	CV           *heads.CVReport     `json:"cv,omitempty"`
	Tuned        *heads.Tuned        `json:"tuned,omitempty"`
	Config       *heads.Config       `json:"config,omitempty"`
	History      []heads.EpochStats  `json:"history,omitempty"`
	Seconds      float64             `json:"seconds"`
}

func runTrain(ctx context.Context, opts TrainOptions, g *globalOptions, _ []string) error {
	res, err := trainHeads(ctx, opts, g)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.printJSON(res)
	}
	if res.Heads == heads.KindIdentity {
		_, err = fmt.Fprintf(g.stdout, "%s: identity heads (L2-normalise only) recorded in %s\n", res.Run, res.RunDir)
		return err
	}
	if heads.IsLinearKind(res.Heads) {
		_, err = fmt.Fprintf(g.stdout, "%s: %s [%.1fs]\nheads and config.json in %s\n", res.Run, linearLine(res), res.Seconds, res.RunDir)
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: trained %d epochs on %d pairs in %.1fs, ", res.Run, res.EpochsRun, res.TrainPairs, res.Seconds)
	if res.AverageFrom > 0 {
		fmt.Fprintf(&b, "kept the mean weights of epochs %d-%d", res.AverageFrom, res.BestEpoch)
	} else {
		fmt.Fprintf(&b, "kept epoch %d", res.BestEpoch)
	}
	if res.StoppedEarly {
		b.WriteString(" (stopped early)")
	}
	if v := res.Validation; v != nil {
		fmt.Fprintf(&b, "\nvalidation (%d pairs): mean rank percentile %.3f poster->intro, %.3f intro->poster; R@10 %.3f / %.3f (chance %.3f)",
			res.ValPairs, v.PosterToIntroMRP, v.IntroToPosterMRP, v.PosterToIntroR10, v.IntroToPosterR10, min(1, 10/float64(res.ValPairs)))
	}
	if t := res.Tuned; t != nil {
		fmt.Fprintf(&b, "\nsettings chosen by tune (%s: %d-fold cross-validation, mean rank pct %.3f ± %.3f)", t.File, t.Folds, t.Mean.Mean, t.Mean.SD)
	}
	fmt.Fprintf(&b, "\nheads, config.json, history.json and loss.png in %s\n", res.RunDir)
	_, err = fmt.Fprint(g.stdout, b.String())
	return err
}

// checkTrainOptions rejects flag values that cannot train (exit 2).
func checkTrainOptions(o TrainOptions) error {
	if !slices.Contains(heads.Kinds, o.Heads) {
		return usagef("--heads must be one of %s, got %q", strings.Join(heads.Kinds, ", "), o.Heads)
	}
	if heads.IsLinearKind(o.Heads) {
		if err := o.Linear.check(o.Heads); err != nil {
			return err
		}
	}
	if o.Encoder == "" {
		return usagef("--encoder is required")
	}
	if o.Run != "" {
		if err := workdir.CheckRunName(o.Run); err != nil {
			return usagef("--run: %v", err)
		}
	}
	if o.ValFraction < 0 || o.ValFraction >= 1 {
		return usagef("--val-fraction must be in [0,1), got %g", o.ValFraction)
	}
	if o.Config.Epochs < 1 {
		return usagef("--epochs must be at least 1, got %d", o.Config.Epochs)
	}
	c := o.Config
	// The input sizes come from the features: check the memory needed
	// once they are known (trainHeads), everything else now.
	c.ImageDim, c.TextDim = 1, 1
	if err := c.Validate(); err != nil && !errors.Is(err, heads.ErrTooBig) {
		return usagef("%v", err)
	}
	return nil
}

// trainHeads is `reelmatch train` without printing: `run` calls it too.
func trainHeads(ctx context.Context, opts TrainOptions, g *globalOptions) (*TrainResult, error) {
	if err := checkTrainOptions(opts); err != nil {
		return nil, err
	}
	start := time.Now()
	work, err := existingWorkDir("train", opts.Work)
	if err != nil {
		return nil, err
	}
	man, err := dataset.Load(work.Manifest())
	if err != nil {
		return nil, err
	}
	feats, err := embcache.Load(work.Features(opts.Encoder))
	if err != nil {
		return nil, err
	}
	movies := man.Split(reel.SplitTrain)
	if len(movies) == 0 {
		return nil, fmt.Errorf("%w: the manifest's training split is empty: list training ids in train.txt and rerun `reelmatch prepare`", heads.ErrNoPairs)
	}
	img, txt, err := feats.Rows(dataset.IDs(movies))
	if err != nil {
		return nil, err
	}
	if opts.Heads == heads.KindMLP {
		c := opts.Config
		c.ImageDim, c.TextDim = len(img[0]), len(txt[0])
		if err := c.Validate(); err != nil {
			return nil, usagef("%v", err)
		}
	}
	runName := cmp.Or(opts.Run, workdir.MainRun(opts.Encoder))
	runDir := work.Run(runName)
	// Tidy what a killed train of this run left before spending time.
	if err := atomicfile.RecoverDir(runDir); err != nil {
		return nil, err
	}
	res := &TrainResult{Run: runName, Encoder: opts.Encoder, RunDir: runDir}
	settings := heads.Settings{Run: runName, Encoder: opts.Encoder, Fingerprint: feats.Fingerprint, TextInput: feats.TextInput,
		TrainSplit: man.SplitFingerprint(reel.SplitTrain)}
	if !opts.NoTune && !(opts.changed["heads"] && opts.Heads == heads.KindIdentity) {
		r, path, err := loadTuned(work, man, opts.Encoder, feats.ImageFingerprint, g)
		if err != nil {
			return nil, err
		}
		if r != nil {
			took, err := applyTunedHeads(&opts, r)
			if err != nil {
				return nil, err
			}
			if took {
				res.Tuned = &heads.Tuned{File: relToWork(work, path), Folds: r.Folds, Mean: r.Chosen.Mean}
				settings.Tuned = res.Tuned
			}
			if msg := tunedFeatureMismatch(r, feats.TextInput, len(txt[0])); msg != "" {
				fmt.Fprintf(g.stderr, "warning: %s: rerun `reelmatch embed --work %s --encoder %s` (it follows the tune file) before training\n", msg, work, opts.Encoder)
			}
		}
	}
	res.Heads = opts.Heads

	if opts.Heads == heads.KindIdentity {
		if err := checkSharedSpace(opts.Encoder, img, txt); err != nil {
			return nil, err
		}
		m := heads.Identity()
		settings.Heads = heads.KindIdentity
		m.Settings = settings
		if err := writeRun(runDir, m.Save); err != nil {
			return nil, err
		}
		res.Seconds = time.Since(start).Seconds()
		return res, nil
	}

	if heads.IsLinearKind(opts.Heads) {
		if err := trainLinear(ctx, opts, g, work, img, txt, settings, res); err != nil {
			return nil, err
		}
		res.Seconds = time.Since(start).Seconds()
		return res, nil
	}

	trainIdx, valIdx, err := heads.SplitValidation(len(movies), opts.ValFraction, opts.Config.Seed)
	if err != nil {
		return nil, usagef("%v", err)
	}
	pick := func(rows [][]float32, idx []int) [][]float32 {
		out := make([][]float32, len(idx))
		for k, i := range idx {
			out[k] = rows[i]
		}
		return out
	}
	trainImg, trainTxt := pick(img, trainIdx), pick(txt, trainIdx)
	if opts.ShufflePairs {
		trainTxt = heads.ShufflePairs(trainTxt, opts.Config.Seed)
	}
	var val *heads.Pairs
	if len(valIdx) > 0 {
		val = &heads.Pairs{Img: pick(img, valIdx), Txt: pick(txt, valIdx)}
	}
	if g.Verbose > 0 {
		cfgJSON, _ := json.Marshal(opts.Config)
		g.logf("train: work=%s run=%s encoder=%s fingerprint=%s train=%d val=%d shuffle-pairs=%v config=%s",
			work, runName, opts.Encoder, feats.Fingerprint, len(trainIdx), len(valIdx), opts.ShufflePairs, cfgJSON)
	}

	var bar progress.Bar
	epoch := 1
	m, hist, err := heads.Train(ctx, trainImg, trainTxt, val, opts.Config, heads.TrainOptions{
		OnBatch: func(done, total int) {
			if done == 1 {
				bar = progress.NewLabeled(g.progress(), total, fmt.Sprintf("epoch %d/%d", epoch, opts.Config.Epochs), "batches")
			}
			bar.Add(1)
			if done == total {
				bar.Finish()
			}
		},
		OnEpoch: func(e heads.EpochStats) {
			epoch = e.Epoch + 1
			line := fmt.Sprintf("epoch %3d  lr %.2g  train loss %.4f", e.Epoch, e.LR, e.TrainLoss)
			if v := e.Val; v != nil {
				line += fmt.Sprintf("  val loss %.4f  mean rank pct %.3f/%.3f  R@10 %.3f/%.3f", v.Loss,
					v.PosterToIntroMRP, v.IntroToPosterMRP, v.PosterToIntroR10, v.IntroToPosterR10)
			}
			if opts.Config.LearnTemperature {
				line += fmt.Sprintf("  τ %.4f", e.Temperature)
			}
			g.logf("%s  (%.1fs)", line, e.Seconds)
		},
	})
	if err != nil {
		return nil, err
	}
	settings.Heads = heads.KindMLP
	settings.Config = m.Settings.Config
	settings.TrainPairs, settings.ValPairs = m.Settings.TrainPairs, m.Settings.ValPairs
	settings.ValFraction, settings.ShufflePairs = opts.ValFraction, opts.ShufflePairs
	settings.EpochsRun, settings.BestEpoch, settings.Validation = m.Settings.EpochsRun, m.Settings.BestEpoch, m.Settings.Validation
	settings.AverageFrom = m.Settings.AverageFrom
	m.Settings = settings
	err = writeRun(runDir, func(dir string) error {
		if err := m.Save(dir); err != nil {
			return err
		}
		if err := writeHistory(filepath.Join(dir, filepath.Base(work.History(runName))), hist); err != nil {
			return err
		}
		return hist.WriteLossPlot(filepath.Join(dir, filepath.Base(work.LossPlot(runName))))
	})
	if err != nil {
		return nil, err
	}
	res.EpochsRun, res.BestEpoch, res.StoppedEarly = len(hist.Epochs), hist.BestEpoch, hist.StoppedEarly
	res.AverageFrom = hist.AverageFrom
	res.TrainPairs, res.ValPairs, res.ShufflePairs = settings.TrainPairs, settings.ValPairs, opts.ShufflePairs
	res.Validation, res.Config, res.History = settings.Validation, &settings.Config, hist.Epochs
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// writeRun replaces the run folder runDir with the files fill writes into
// a temporary folder: every head kind saves its run through it. The swap
// happens only when fill succeeded, so a failed, diverged or interrupted
// train (Ctrl-C, SIGTERM or kill -9) leaves the previous run byte for byte,
// and the new run never mixes with the previous one's files (its eval
// results are gone with it). See atomicfile.WriteDir.
func writeRun(runDir string, fill func(dir string) error) error {
	return atomicfile.WriteDir(runDir, fill)
}

// checkSharedSpace refuses identity heads unless the encoder is registered
// as embedding both towers into one space and the cached vectors agree in
// size. It does not open the encoder: the features are already in WORK,
// and the models may live in a folder train is not told about.
func checkSharedSpace(name string, img, txt [][]float32) error {
	if len(img[0]) != len(txt[0]) {
		return fmt.Errorf("--heads none: encoder %s gives %d-d posters and %d-d intros, which cannot be compared without trained heads; use --heads mlp",
			name, len(img[0]), len(txt[0]))
	}
	if !encoder.HasSharedSpace(name) {
		return fmt.Errorf("--heads none: encoder %s embeds posters and intros into different spaces, so they cannot be compared without trained heads; use --heads mlp", name)
	}
	return nil
}

// writeHistory saves the per-epoch record as indented JSON, atomically.
func writeHistory(path string, h *heads.History) error {
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return fmt.Errorf("encode training history: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save training history %q: %w", filepath.Base(path), err)
	}
	return nil
}
