package main

import (
	"context"
	"fmt"
	"image"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

func init() { commands = append(commands, newEncodeCommand) }

// EncodeOptions are the flags of `reelmatch encode`.
type EncodeOptions struct {
	Text  string
	Image string
	// Work, when set, opens the encoder as embed left it in WORK (fitted
	// state, text input); builtin needs it.
	Work string
	encoderOptions
	prepOptions
}

func newEncodeCommand(g *globalOptions) *cobra.Command {
	opts := EncodeOptions{}
	cmd := &cobra.Command{
		Use:   "encode --encoder E (--text STR | --image FILE) [--work W] [--models D] [--backend B]",
		Short: "Print the embedding of one text or one image",
		Long: `encode runs one text through the encoder's text tower, or one image
through its image tower, and prints the raw (not normalised, no heads)
vector: space-separated numbers on one line, or with --json
{"encoder": ..., "dim": ..., "embedding": [...]}.

Text is prepared as embed prepares intros under the same --text-input
(cleaned for "clean"). With --work, the encoder is opened as embed left it
in WORK: its text input and, for builtin, its fitted TF-IDF/SVD state;
builtin needs --work.

Environment: REELMATCH_ENCODER, REELMATCH_MODELS, REELMATCH_BACKEND give
defaults for --encoder, --models, --backend.` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEncode(cmd.Context(), opts, g, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Text, "text", "", "text to encode")
	f.StringVar(&opts.Image, "image", "", "image file to encode (JPEG, PNG, WebP or GIF)")
	f.StringVar(&opts.Work, "work", "", "WORK folder whose embed state to use (needed by builtin)")
	opts.prepOptions.AddFlags(f)
	opts.encoderOptions.AddFlags(f)
	return cmd
}

type encodeJSON struct {
	Encoder   string    `json:"encoder"`
	Dim       int       `json:"dim"`
	Embedding []float32 `json:"embedding"`
}

func runEncode(ctx context.Context, opts EncodeOptions, g *globalOptions, _ []string) error {
	if (opts.Text == "") == (opts.Image == "") {
		return usagef("encode needs exactly one of --text or --image")
	}
	if opts.Text != "" && strings.TrimSpace(opts.Text) == "" {
		return usagef("--text is only whitespace: pass the text to encode")
	}
	if err := opts.check(); err != nil {
		return err
	}
	if err := opts.checkPrep(); err != nil {
		return err
	}
	// Decode first: a bad image path should not wait for model loading.
	var img image.Image
	if opts.Image != "" {
		var release func()
		var err error
		if img, release, err = imageprep.DecodeFile(ctx, opts.Image); err != nil {
			return fmt.Errorf("--image: %w", err) // err names the file
		}
		defer release()
	}
	cfg := opts.config()
	opts.apply(&cfg)
	var enc encoder.Encoder
	var err error
	if opts.Work != "" {
		enc, err = embed.OpenEncoder(workdir.Dir(opts.Work), opts.Encoder, cfg)
	} else {
		enc, err = encoder.New(opts.Encoder, cfg)
	}
	if err != nil {
		return openEncoderError(opts.Encoder, err)
	}
	defer enc.Close()
	if _, fits := enc.(encoder.Fitter); fits && opts.Work == "" {
		return usagef("encoder %s learns from the training intros: pass --work WORK after `reelmatch embed --encoder %s`", opts.Encoder, opts.Encoder)
	}
	if g.Verbose > 0 {
		g.logf("encode: encoder=%s fingerprint=%s models=%q backend=%q work=%q", enc.Name(), enc.Fingerprint(), opts.Models, opts.Backend, opts.Work)
	}

	var vec []float32
	if opts.Image != "" {
		in, err := enc.Image().Prepare(img)
		if err != nil {
			return fmt.Errorf("prepare image %q: %w", opts.Image, err)
		}
		out, err := enc.Image().Encode(ctx, [][]float32{in})
		if err != nil {
			return fmt.Errorf("encode image %q: %w", opts.Image, err)
		}
		vec = out[0]
	} else {
		textInput, err := embed.ResolveTextInput(enc, cfg.TextInput)
		if err != nil {
			return usagef("%v", err)
		}
		out, err := enc.Text().Encode(ctx, []string{embed.QueryText(opts.Text, textInput)})
		if err != nil {
			return fmt.Errorf("encode text: %w", err)
		}
		vec = out[0]
	}
	if g.JSON {
		return g.printJSON(encodeJSON{Encoder: enc.Name(), Dim: len(vec), Embedding: vec})
	}
	var b strings.Builder
	for i, v := range vec {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(float64(v), 'g', -1, 32))
	}
	b.WriteByte('\n')
	_, err = fmt.Fprint(g.stdout, b.String())
	return err
}
