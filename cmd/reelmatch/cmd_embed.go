package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/shard"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

func init() { commands = append(commands, newEmbedCommand) }

// EmbedOptions are the flags of `reelmatch embed`.
type EmbedOptions struct {
	Work  string
	Batch int
	// Shard is "I/N" (--shard); Merge and FitOnly select the other modes.
	Shard   string
	Merge   bool
	FitOnly bool
	// NoTune ignores WORK/tune/<encoder>.json.
	NoTune bool
	encoderOptions
	prepOptions
}

func newEmbedCommand(g *globalOptions) *cobra.Command {
	opts := EmbedOptions{}
	cmd := &cobra.Command{
		Use:   "embed --work WORK [--encoder E] [--models D] [--backend B] [--text-input raw|clean] [--batch 32] [--shard I/N | --merge | --fit-only]",
		Short: "Embed every poster and intro of the manifest with a frozen encoder",
		Long: `embed runs every movie of WORK/manifest.json through the encoder's image
and text towers and stores the vectors in WORK/features/<encoder>.safetensors.

Rows are cached by content: a rerun reuses every row whose poster, intro
text, encoder fingerprint and --text-input are unchanged, so an unchanged
rerun writes nothing and a changed movie is embedded again alone. Encoders
that learn from data (builtin's TF-IDF and SVD) are fitted on the training
split only, and the fitted state is saved in WORK/features/<encoder>.state.

The builtin encoder's --text-input and --text-dim default to what
reelmatch tune chose (WORK/tune/builtin.json, when it still describes
the training split; a notice says so), else to clean intros and the
default LSA size; --no-tune ignores the tune file.

Computed rows are appended batch by batch to WORK/features/<encoder>.checkpoint
(removed when embed finishes), so a run stopped by Ctrl-C, kill -9 or an
error loses at most the batches in flight: rerun the same command and it
reuses them. The cache is then byte-identical to an uninterrupted run's.

Several machines: --shard I/N (0-based, as SLURM_ARRAY_TASK_ID or
JOB_COMPLETION_INDEX) embeds only the I-th of N slices of the manifest (by
a hash of the movie id) into WORK/features/<encoder>.shard-I-of-N.safetensors;
shards can run at once on machines sharing WORK, or on copies of it. A shard
fits the encoder state itself when WORK has none (every shard gets the same
bytes), or --fit-only does it once beforehand. --merge then joins the N
shard files into the feature cache, byte-identical to a one-machine embed;
it refuses missing shards and shards of another manifest, encoder,
model files or settings. See docs/scale.md.

With --json, stdout is {"encoder","movies","computed","reused",
"images_reused","texts_reused","images_resumed","texts_resumed","seconds",
"images_per_second","texts_per_second",...}. A movie is "computed" when
this run computed its poster or intro vector, else "reused" (from the cache,
the shard file, or the checkpoint of an interrupted run: the *_resumed
counts); rates count computed rows. --merge adds "shards"; --fit-only
prints {"encoder","fingerprint","text_input","state","fitted"}.

Environment: REELMATCH_WORK, REELMATCH_ENCODER, REELMATCH_MODELS and
REELMATCH_BACKEND give defaults for --work, --encoder, --models, --backend.` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEmbed(cmd.Context(), opts, g, args)
		},
	}
	f := cmd.Flags()
	addWorkFlag(f, &opts.Work, "WORK folder holding manifest.json")
	intFlag(f, &opts.Batch, "batch", embed.DefaultBatchSize, embedBatchRange, "posters or intros per encoder call")
	f.StringVar(&opts.Shard, "shard", "", "embed only slice I of N (0-based), into a shard file; e.g. --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT")
	f.BoolVar(&opts.Merge, "merge", false, "join the shard files of --encoder into the feature cache")
	f.BoolVar(&opts.FitOnly, "fit-only", false, "only fit (or check) the encoder state on the training split, embed nothing")
	opts.prepOptions.AddFlags(f)
	opts.encoderOptions.AddFlags(f)
	f.BoolVar(&opts.NoTune, "no-tune", false, "ignore the text settings reelmatch tune chose (WORK/tune/<encoder>.json)")
	return cmd
}

func runEmbed(ctx context.Context, opts EmbedOptions, g *globalOptions, _ []string) error {
	if err := checkFlag("batch", embedBatchRange.Check(opts.Batch)); err != nil {
		return err
	}
	var spec shard.Spec
	if opts.Shard != "" {
		var err error
		if spec, err = shard.Parse(opts.Shard); err != nil {
			return usagef("--shard %v", err)
		}
	}
	if modes := btoi(opts.Shard != "") + btoi(opts.Merge) + btoi(opts.FitOnly); modes > 1 {
		return usagef("--shard, --merge and --fit-only exclude each other: give one")
	}
	if err := opts.check(); err != nil {
		return err
	}
	if err := opts.checkPrep(); err != nil {
		return err
	}
	work, err := existingWorkDir("embed", opts.Work)
	if err != nil {
		return err
	}
	man, err := dataset.Load(work.Manifest())
	if err != nil {
		return err
	}
	if !opts.NoTune {
		r, path, err := loadTuned(work, man, opts.Encoder, "", g)
		if err != nil {
			return err
		}
		if r != nil {
			if note := applyTunedFeatures(&opts.encoderOptions, r, path); note != "" {
				fmt.Fprintf(g.stderr, "embed: %s\n", note)
			}
		}
	}
	cfg := opts.config()
	opts.apply(&cfg)
	enc, err := encoder.New(opts.Encoder, embed.EncoderConfig(cfg))
	if err != nil {
		return openEncoderError(opts.Encoder, err)
	}
	defer enc.Close()
	if g.Verbose > 0 {
		g.logf("embed: work=%s encoder=%s text-input=%q batch=%d shard=%q merge=%t fit-only=%t models=%q backend=%q long-text=%q image-prep=%q movies=%d fingerprint=%s",
			work, opts.Encoder, opts.TextInput, opts.Batch, opts.Shard, opts.Merge, opts.FitOnly, opts.Models, opts.Backend, opts.LongText, opts.ImagePrep, len(man.Movies), enc.Fingerprint())
	}
	if opts.FitOnly {
		return embedFitOnly(ctx, work, man, enc, opts, g)
	}
	eo := embed.Options{BatchSize: opts.Batch, TextInput: opts.TextInput, Shard: spec, Progress: g.progress()}
	var sum *embed.Summary
	if opts.Merge {
		sum, err = embed.Merge(ctx, work, man, enc, eo)
	} else {
		sum, err = embed.Run(ctx, work, man, enc, eo)
		if err != nil && ctx.Err() != nil {
			g.logf("embed: stopped; the vectors computed so far are kept in %s: rerun the same command to resume",
				work.Checkpoint(enc.Name(), spec.Index, spec.Count))
		}
	}
	if err != nil {
		return err
	}
	if g.JSON {
		return g.printJSON(sum)
	}
	what := sum.Encoder
	if sum.Shard != "" {
		what += " shard " + sum.Shard
	}
	switch {
	case !sum.Changed:
		_, err = fmt.Fprintf(g.stdout, "%s: nothing changed, %d movies already embedded in %s\n", what, sum.Movies, sum.Features)
	case opts.Merge:
		_, err = fmt.Fprintf(g.stdout, "%s: merged %d shards, %d movies -> %s\n", what, sum.Shards, sum.Movies, sum.Features)
	default:
		resumed := ""
		if sum.ImagesResumed+sum.TextsResumed > 0 {
			resumed = fmt.Sprintf("; %d posters and %d intros resumed from the interrupted run", sum.ImagesResumed, sum.TextsResumed)
		}
		var rates []string
		if sum.ImagesComputed > 0 {
			rates = append(rates, fmt.Sprintf("%.0f images/s", sum.ImagesPerSecond))
		}
		if sum.TextsComputed > 0 {
			rates = append(rates, fmt.Sprintf("%.0f texts/s", sum.TextsPerSecond))
		}
		rate := ""
		if len(rates) > 0 {
			rate = ": " + strings.Join(rates, ", ")
		}
		_, err = fmt.Fprintf(g.stdout, "%s: %d movies (%d computed, %d reused%s) in %.1fs%s -> %s\n",
			what, sum.Movies, sum.Computed, sum.Reused, resumed, sum.Seconds, rate, sum.Features)
	}
	return err
}

func embedFitOnly(ctx context.Context, work workdir.Dir, man *dataset.Manifest, enc encoder.Encoder, opts EmbedOptions, g *globalOptions) error {
	sum, err := embed.Fit(ctx, work, man, enc, opts.TextInput)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.printJSON(sum)
	}
	switch {
	case sum.State == "":
		_, err = fmt.Fprintf(g.stdout, "%s: learns nothing from data, nothing to fit\n", sum.Encoder)
	case sum.Fitted:
		_, err = fmt.Fprintf(g.stdout, "%s: fitted on the training split -> %s\n", sum.Encoder, sum.State)
	default:
		_, err = fmt.Fprintf(g.stdout, "%s: %s already matches the training split\n", sum.Encoder, sum.State)
	}
	return err
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
