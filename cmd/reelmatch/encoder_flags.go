package main

import (
	"github.com/spf13/pflag"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
)

// encoderOptions are the encoder flags that embed, encode, run and search
// share. Defaults come from REELMATCH_ENCODER, REELMATCH_MODELS and
// REELMATCH_BACKEND; a flag beats the environment.
type encoderOptions struct {
	Encoder   string
	Models    string
	Backend   string
	TextInput string
}

// AddFlags registers --encoder, --models, --backend and --text-input.
func (o *encoderOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.Encoder, "encoder", envOr("REELMATCH_ENCODER", builtin.Name), "encoder name (see `reelmatch models`)")
	f.StringVar(&o.Models, "models", envOr("REELMATCH_MODELS", ""), "models folder for pretrained encoders (default: the models cache)")
	f.StringVar(&o.Backend, "backend", envOr("REELMATCH_BACKEND", ""), "ONNX runtime for pretrained encoders: ort, go or empty for automatic")
	f.StringVar(&o.TextInput, "text-input", "", "intro fed to the text tower: raw or clean (default: the encoder's choice, clean for builtin)")
}

// config is the encoder.Config the flags describe.
func (o *encoderOptions) config() encoder.Config {
	return encoder.Config{ModelsDir: o.Models, Backend: o.Backend, TextInput: o.TextInput}
}
