package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/reelmatch/reelmatch/internal/bound"
	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/encoder/pretrained"
)

// encoderOptions are the encoder flags that embed, encode, run and serve
// share. Defaults come from REELMATCH_ENCODER, REELMATCH_MODELS and
// REELMATCH_BACKEND; a flag beats the environment.
type encoderOptions struct {
	Encoder   string
	Models    string
	Backend   string
	TextInput string
	// TextDim is --text-dim: the builtin encoder's LSA size (0: the tuned
	// or default value).
	TextDim int
}

// AddFlags registers --encoder, --models, --backend and --text-input.
func (o *encoderOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.Encoder, "encoder", envOr("REELMATCH_ENCODER", builtin.Name), "encoder: "+strings.Join(encoder.Names(), ", "))
	f.StringVar(&o.Models, "models", envOr("REELMATCH_MODELS", ""), "models folder for pretrained encoders (default: the models cache)")
	f.StringVar(&o.Backend, "backend", envOr("REELMATCH_BACKEND", ""), "ONNX runtime for pretrained encoders: ort, go or empty for automatic")
	f.StringVar(&o.TextInput, "text-input", "", "intro fed to the text tower: raw or clean (default: the encoder's choice, clean for builtin)")
	intFlag(f, &o.TextDim, "text-dim", 0, textDimFlagRange, "builtin only: LSA components the text tower keeps (0: the value tune chose, else the default)")
}

// textDimFlagRange bounds --text-dim; 0 means "not set", the rest is
// builtin.TextDimRange (checked in check).
var textDimFlagRange = bound.Int{Min: 0, Max: builtin.MaxTextDim}

// check rejects an --encoder that is not registered, and a --text-input
// other than raw, clean or empty (the encoder's choice), as usage errors,
// before any work starts.
func (o *encoderOptions) check() error {
	if o.Encoder != "" && !slices.Contains(encoder.Names(), o.Encoder) {
		return usagef("unknown encoder %q: --encoder takes one of %s", o.Encoder, strings.Join(encoder.Names(), ", "))
	}
	if b := o.Backend; b != "" && !slices.Contains(encoder.RuntimeNames(), b) {
		return usagef("unknown backend %q: --backend takes %s, or nothing for automatic", b, strings.Join(encoder.RuntimeNames(), " or "))
	}
	if o.TextInput != "" && o.TextInput != embed.TextRaw && o.TextInput != embed.TextClean {
		return usagef("--text-input must be %q or %q, got %q", embed.TextRaw, embed.TextClean, o.TextInput)
	}
	if o.TextDim != 0 {
		if o.Encoder != "" && o.Encoder != builtin.Name {
			return usagef("--text-dim applies to the builtin encoder only, not %s", o.Encoder)
		}
		if err := builtin.TextDimRange.Check(o.TextDim); err != nil {
			return usagef("--text-dim %v", err)
		}
	}
	return nil
}

// config is the encoder.Config the flags describe.
func (o *encoderOptions) config() encoder.Config {
	return encoder.Config{ModelsDir: o.Models, Backend: o.Backend, TextInput: o.TextInput, TextDim: o.TextDim}
}

// openEncoderError is the error the user sees when encoder name does not
// open: an unknown name is a usage error (exit 2), anything else a failure
// naming the encoder.
func openEncoderError(name string, err error) error {
	if errors.Is(err, encoder.ErrUnknownEncoder) {
		return usagef("%v", err)
	}
	return fmt.Errorf("open encoder %s: %w", name, err)
}

// prepOptions are the input-preparation flags of embed and encode. They
// change a pretrained encoder's outputs and fingerprint, so encode must be
// given the ones embed was.
type prepOptions struct {
	LongText  string
	ImagePrep string
}

// AddFlags registers --long-text and --image-prep.
func (o *prepOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.LongText, "long-text", "", "texts beyond the model window: truncate (default) or chunk")
	f.StringVar(&o.ImagePrep, "image-prep", "", "image recipe where the encoder has a choice: seed or torchvision (resnet50-distilbert)")
}

// checkPrep rejects a --long-text or --image-prep no encoder knows as a
// usage error, before any work (an encoder that has no choice ignores
// them).
func (o *prepOptions) checkPrep() error {
	if v := o.LongText; v != "" && v != pretrained.LongTextTruncate && v != pretrained.LongTextChunk {
		return usagef("--long-text must be %s or %s, got %q", pretrained.LongTextTruncate, pretrained.LongTextChunk, v)
	}
	if v := o.ImagePrep; v != "" && v != pretrained.ImagePrepSeed && v != pretrained.ImagePrepTorchVision && v != pretrained.ImagePrepCLIP {
		return usagef("--image-prep must be %s, %s or %s, got %q", pretrained.ImagePrepSeed, pretrained.ImagePrepTorchVision, pretrained.ImagePrepCLIP, v)
	}
	return nil
}

// apply sets the flags' fields of cfg.
func (o *prepOptions) apply(cfg *encoder.Config) {
	cfg.LongText, cfg.ImagePrep = o.LongText, o.ImagePrep
}
