package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder"
)

func init() { commands = append(commands, newEmbedCommand) }

// EmbedOptions are the flags of `reelmatch embed`.
type EmbedOptions struct {
	Work  string
	Batch int
	encoderOptions
	prepOptions
}

func newEmbedCommand(g *globalOptions) *cobra.Command {
	opts := EmbedOptions{}
	cmd := &cobra.Command{
		Use:   "embed --work WORK [--encoder E] [--models D] [--backend B] [--text-input raw|clean] [--batch 32]",
		Short: "Embed every poster and intro of the manifest with a frozen encoder",
		Long: `embed runs every movie of WORK/manifest.json through the encoder's image
and text towers and stores the vectors in WORK/features/<encoder>.safetensors.

Rows are cached by content: a rerun reuses every row whose poster, intro
text, encoder fingerprint and --text-input are unchanged, so an unchanged
rerun writes nothing and a changed movie is embedded again alone. Encoders
that learn from data (builtin's TF-IDF and SVD) are fitted on the training
split only, and the fitted state is saved in WORK/features/<encoder>.state.

With --json, stdout is {"encoder","movies","computed","reused","seconds",
"images_per_second","texts_per_second",...}; rates count computed rows.

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
	opts.prepOptions.AddFlags(f)
	opts.encoderOptions.AddFlags(f)
	return cmd
}

func runEmbed(ctx context.Context, opts EmbedOptions, g *globalOptions, _ []string) error {
	if err := checkFlag("batch", embedBatchRange.Check(opts.Batch)); err != nil {
		return err
	}
	if err := opts.check(); err != nil {
		return err
	}
	work, err := workDir("embed", opts.Work)
	if err != nil {
		return err
	}
	man, err := dataset.Load(work.Manifest())
	if err != nil {
		return err
	}
	cfg := opts.config()
	opts.apply(&cfg)
	enc, err := encoder.New(opts.Encoder, cfg)
	if err != nil {
		return openEncoderError(opts.Encoder, err)
	}
	defer enc.Close()
	if g.Verbose > 0 {
		g.logf("embed: work=%s encoder=%s text-input=%q batch=%d models=%q backend=%q long-text=%q image-prep=%q movies=%d fingerprint=%s",
			work, opts.Encoder, opts.TextInput, opts.Batch, opts.Models, opts.Backend, opts.LongText, opts.ImagePrep, len(man.Movies), enc.Fingerprint())
	}
	sum, err := embed.Run(ctx, work, man, enc, embed.Options{
		BatchSize: opts.Batch,
		TextInput: opts.TextInput,
		Progress:  g.progress(),
	})
	if err != nil {
		return err
	}
	if g.JSON {
		return g.printJSON(sum)
	}
	if !sum.Changed {
		_, err = fmt.Fprintf(g.stdout, "%s: nothing changed, %d movies already embedded in %s\n", sum.Encoder, sum.Movies, sum.Features)
		return err
	}
	_, err = fmt.Fprintf(g.stdout, "%s: %d movies (%d computed, %d reused) in %.1fs: %.0f images/s, %.0f texts/s -> %s\n",
		sum.Encoder, sum.Movies, sum.Computed, sum.Reused, sum.Seconds, sum.ImagesPerSecond, sum.TextsPerSecond, sum.Features)
	return err
}
