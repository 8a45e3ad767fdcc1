package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/encoder/pretrained"
	"github.com/reelmatch/reelmatch/internal/quantize"
)

// QuantizeOptions are the flags of `reelmatch models quantize`.
type QuantizeOptions struct {
	Out               string
	Calibration       string
	CalibrationImages int
	ImagePrep         string
	ReduceRange       bool
	Backend           string
}

// defaultCalibrationImages is enough posters for stable activation
// ranges: ranges are maxima, and 32 to 128 images is the usual advice.
const defaultCalibrationImages = 32

func newModelsQuantizeCommand(g *globalOptions, models *ModelsOptions) *cobra.Command {
	opts := QuantizeOptions{}
	cmd := &cobra.Command{
		Use:   "quantize ENCODER --out DIR [--calibration IMAGES] [--dir D]",
		Short: "Write an int8 copy of an encoder's models (about 2.5-3.5x faster on CPU)",
		Long: `quantize writes an 8-bit integer copy of a pretrained encoder's ONNX
files from the models folder (--dir, default the models cache) to --out,
in the same layout, with the tokenizer and config files copied. Use it
with --models OUT on embed, encode, run and serve.

resnet50-distilbert: the ResNet-50 is quantized statically (int8
convolutions, per-channel weights), with activation ranges measured on
--calibration images, a folder of posters (or a dataset folder, whose
poster/ is used); --calibration-images of them are taken, spread evenly
over the sorted names. Use the --image-prep that embed will use.
DistilBERT, and both CLIP towers, are quantized dynamically (int8 linear
layers), which needs no calibration.

--reduce-range keeps weights within 7 bits, for CPUs without VNNI
(AVX-512 VNNI or AVX-VNNI) that would otherwise saturate; it defaults to
on where this CPU lacks VNNI. The vectors change slightly: docs/models.md
gives the measured agreement with float32.

With --json, stdout is the quantization.json written to DIR: {"encoder",
"source", "precision", "image_prep", "calibration_images",
"skipped_images", "reduce_range", "files": [{"preset", "path",
"source_sha256", "source_bytes", "bytes", "report": {"matmuls",
"float_matmuls", "convs", "float_convs", "activations", "relus"}}],
"copied"}.` + exitCodesHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("models quantize takes one encoder name (%s or %s), got %d arguments", pretrained.NameResNetDistilBERT, pretrained.NameCLIP, len(args))
			}
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runModelsQuantize(cmd.Context(), *models, opts, g, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Out, "out", "", "folder to write the int8 models to (required)")
	f.StringVar(&opts.Calibration, "calibration", "", "folder of posters (or a dataset folder) to calibrate the ResNet on")
	intFlag(f, &opts.CalibrationImages, "calibration-images", defaultCalibrationImages, calibrationImagesRange, "number of calibration images to use")
	f.StringVar(&opts.ImagePrep, "image-prep", "", "image recipe for calibration: seed (default) or torchvision")
	f.BoolVar(&opts.ReduceRange, "reduce-range", !quantize.HasVNNI(), "7-bit weights, for CPUs without VNNI (default: on when this CPU lacks it)")
	f.StringVar(&opts.Backend, "backend", envOr("REELMATCH_BACKEND", ""), "runtime for calibration: ort, go or empty for automatic")
	return cmd
}

func runModelsQuantize(ctx context.Context, models ModelsOptions, opts QuantizeOptions, g *globalOptions, name string) error {
	if name != pretrained.NameResNetDistilBERT && name != pretrained.NameCLIP {
		return usagef("models quantize: unknown encoder %q: want %s or %s", name, pretrained.NameResNetDistilBERT, pretrained.NameCLIP)
	}
	if opts.Out == "" {
		return usagef("models quantize: --out DIR is required (the folder to write the int8 models to)")
	}
	if err := checkFlag("calibration-images", calibrationImagesRange.Check(opts.CalibrationImages)); err != nil {
		return err
	}
	switch opts.ImagePrep {
	case "", pretrained.ImagePrepSeed, pretrained.ImagePrepTorchVision:
	default:
		return usagef("models quantize: --image-prep must be %q or %q, got %q", pretrained.ImagePrepSeed, pretrained.ImagePrepTorchVision, opts.ImagePrep)
	}
	if name == pretrained.NameCLIP && (opts.Calibration != "" || opts.ImagePrep != "") {
		g.logf("models quantize: warning: --calibration and --image-prep are ignored for %s: its towers are quantized dynamically, without calibration", name)
	}
	qo := pretrained.QuantizeOptions{Backend: opts.Backend, ImagePrep: opts.ImagePrep, ReduceRange: opts.ReduceRange}
	if name == pretrained.NameResNetDistilBERT {
		if opts.Calibration == "" {
			return usagef("models quantize %s: --calibration DIR is required: the ResNet's activation ranges are measured on posters (for example DATA/poster)", name)
		}
		imgs, err := calibrationImages(opts.Calibration, opts.CalibrationImages)
		if err != nil {
			return err
		}
		qo.CalibrationImages = imgs
	}
	qo.Progress = func(step string) { g.logf("models quantize: %s", step) }
	src, err := modelsRoot(models)
	if err != nil {
		return err
	}
	m, err := pretrained.Quantize(ctx, name, src, opts.Out, qo)
	if err != nil {
		return fmt.Errorf("models quantize %s: %w", name, err)
	}
	for _, s := range m.SkippedImages {
		g.logf("models quantize: warning: calibration image %s does not decode; skipped", s)
	}
	if g.JSON {
		return g.printJSON(m)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tFLOAT32\tINT8\tQUANTIZED")
	for _, f := range m.Files {
		var what []string
		if f.Report.Convs > 0 {
			what = append(what, fmt.Sprintf("%d Conv (static, %d ReLU folded)", f.Report.Convs, f.Report.ReLUs))
		}
		if f.Report.MatMuls > 0 {
			what = append(what, fmt.Sprintf("%d MatMul (dynamic)", f.Report.MatMuls))
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\n", f.Preset, f.Path, humanBytes(f.SourceBytes), humanBytes(f.Bytes), strings.Join(what, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	bits := 8
	if m.ReduceRange {
		bits = 7
	}
	if m.CalibrationImages > 0 {
		fmt.Fprintf(g.stdout, "\nCalibrated on %d images (%s recipe); weights in %d bits.\n", m.CalibrationImages, m.ImagePrep, bits)
	}
	fmt.Fprintf(g.stdout, "Use it with --models %s\n", opts.Out)
	return nil
}

// calibrationImages lists up to n image files in dir (or in dir/poster,
// for a dataset folder), spread evenly over their sorted names so that
// ids of every era are sampled.
func calibrationImages(dir string, n int) ([]string, error) {
	if fi, err := os.Stat(filepath.Join(dir, "poster")); err == nil && fi.IsDir() {
		dir = filepath.Join(dir, "poster")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--calibration: %w", err)
	}
	var all []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png", ".webp":
			if e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0 {
				all = append(all, filepath.Join(dir, e.Name()))
			}
		}
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("--calibration %s: no .jpg, .png or .webp images in it", dir)
	}
	slices.Sort(all)
	if len(all) <= n {
		return all, nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = all[i*len(all)/n]
	}
	return out, nil
}
