package pretrained

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/quantize"
)

// QuantizeManifestFile is written at the root of a quantized models folder
// to say how it was made.
const QuantizeManifestFile = "quantization.json"

// calibrationBatch is the number of images per calibration run: each run
// returns every activation of the batch (about 90 MB an image for
// ResNet-50), so batches stay small.
const calibrationBatch = 4

// QuantizeOptions configure Quantize.
type QuantizeOptions struct {
	// Backend is the runtime calibration runs on ("" picks as Build does).
	Backend string
	// ImagePrep is the recipe calibration images go through; use the one
	// embed will use (resnet50-distilbert: "seed" or "torchvision").
	ImagePrep string
	// CalibrationImages are image files whose activation ranges set the
	// ResNet's quantization; required for resnet50-distilbert, unused for
	// CLIP (transformers are quantized dynamically).
	CalibrationImages []string
	// ReduceRange keeps weights within 7 bits, for CPUs without VNNI (see
	// quantize.Options).
	ReduceRange bool
	// Progress, when set, is told each step as it starts.
	Progress func(step string)
}

// QuantizedFile records one model file Quantize wrote.
type QuantizedFile struct {
	Preset       string          `json:"preset"`
	Path         string          `json:"path"`
	SourceSHA256 string          `json:"source_sha256"`
	SourceBytes  int64           `json:"source_bytes"`
	Bytes        int64           `json:"bytes"`
	Report       quantize.Report `json:"report"`
}

// QuantizeManifest is the content of quantization.json.
type QuantizeManifest struct {
	Encoder           string          `json:"encoder"`
	Source            string          `json:"source"`
	Precision         string          `json:"precision"`
	ImagePrep         string          `json:"image_prep,omitempty"`
	CalibrationImages int             `json:"calibration_images"`
	SkippedImages     []string        `json:"skipped_images,omitempty"`
	ReduceRange       bool            `json:"reduce_range"`
	Files             []QuantizedFile `json:"files"`
	Copied            []string        `json:"copied"`
}

// Quantize writes an int8 copy of encoder name's model files from srcRoot
// (the models cache when "") into dstRoot, in the same layout, so that
// `--models dstRoot` builds the same encoder from the quantized files.
// Tokenizer and config files are copied unchanged. The ResNet is quantized
// statically, calibrated on o.CalibrationImages; the transformers
// dynamically. Files are written atomically, quantization.json last.
func Quantize(ctx context.Context, name, srcRoot, dstRoot string, o QuantizeOptions) (*QuantizeManifest, error) {
	if name != NameResNetDistilBERT && name != NameCLIP {
		return nil, fmt.Errorf("%w %q: quantize takes %s or %s", encoder.ErrUnknownEncoder, name, NameResNetDistilBERT, NameCLIP)
	}
	presets, err := ResolvePresets(name)
	if err != nil {
		return nil, err
	}
	if err := checkDistinctRoots(presets, srcRoot, dstRoot); err != nil {
		return nil, err
	}
	m := &QuantizeManifest{Encoder: name, Source: srcRoot, Precision: "int8", ReduceRange: o.ReduceRange}
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, args...))
		}
	}
	var rt encoder.Runtime
	for _, p := range presets {
		for _, f := range p.Files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			src, err := p.Path(srcRoot, f.Role)
			if err != nil {
				if f.Role == "tokenizer_config" || f.Role == "config" {
					continue // optional: encoders read them when present
				}
				return nil, err
			}
			dst := filepath.Join(dstRoot, p.Name, filepath.FromSlash(f.Path))
			if !strings.HasSuffix(f.Path, ".onnx") {
				if err := copyFile(src, dst); err != nil {
					return nil, err
				}
				m.Copied = append(m.Copied, p.Name+"/"+f.Path)
				continue
			}
			var opts quantize.Options
			opts.ReduceRange = o.ReduceRange
			if p.Name == PresetResNet50 {
				if rt == nil {
					if rt, err = encoder.OpenRuntime(o.Backend); err != nil {
						return nil, err
					}
				}
				progress("calibrating %s on %d images", p.Name+"/"+f.Path, len(o.CalibrationImages))
				batches, skipped, err := calibrationBatches(ctx, src, o)
				if err != nil {
					return nil, err
				}
				m.CalibrationImages = len(o.CalibrationImages) - len(skipped)
				m.SkippedImages = skipped
				m.ImagePrep = o.ImagePrep
				if m.ImagePrep == "" {
					m.ImagePrep = ImagePrepSeed
				}
				opts.Calibration, opts.Runtime, opts.TempDir = batches, rt, filepath.Dir(dst)
			}
			progress("quantizing %s", p.Name+"/"+f.Path)
			qf, err := quantizeFile(src, dst, opts)
			if err != nil {
				return nil, fmt.Errorf("quantize %s: %w", src, err)
			}
			qf.Preset, qf.Path = p.Name, f.Path
			m.Files = append(m.Files, qf)
		}
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dstRoot, QuantizeManifestFile), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	return m, nil
}

// checkDistinctRoots refuses a destination that is the source: quantizing
// in place would overwrite the float models it reads.
func checkDistinctRoots(presets []Preset, srcRoot, dstRoot string) error {
	if dstRoot == "" {
		return fmt.Errorf("quantize: no output folder given")
	}
	for _, p := range presets {
		src, err := p.Dir(srcRoot)
		if err != nil {
			return err
		}
		// The source exists, so a destination that is the same folder, by
		// the same path or through a link, exists too.
		fa, err := os.Stat(src)
		if err != nil {
			return err
		}
		fb, err := os.Stat(filepath.Join(dstRoot, p.Name))
		same := err == nil && os.SameFile(fa, fb)
		if same {
			return fmt.Errorf("quantize: output folder %s is the source models folder; choose another --out", dstRoot)
		}
	}
	return nil
}

func quantizeFile(src, dst string, opts quantize.Options) (QuantizedFile, error) {
	data, err := inputfile.ReadFile(context.Background(), src, inputfile.Model)
	if err != nil {
		return QuantizedFile{}, err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return QuantizedFile{}, err
	}
	out, rep, err := quantize.Model(data, opts)
	if err != nil {
		return QuantizedFile{}, err
	}
	if err := atomicfile.WriteFile(dst, out, 0o644); err != nil {
		return QuantizedFile{}, err
	}
	sum := sha256.Sum256(data)
	return QuantizedFile{SourceSHA256: hex.EncodeToString(sum[:]), SourceBytes: int64(len(data)), Bytes: int64(len(out)), Report: rep}, nil
}

// calibrationBatches prepares the calibration images as the image tower
// would and groups them into model inputs. Images that do not decode are
// skipped and listed; none decoding is an error.
func calibrationBatches(ctx context.Context, model string, o QuantizeOptions) ([]map[string]encoder.Tensor, []string, error) {
	if len(o.CalibrationImages) == 0 {
		return nil, nil, fmt.Errorf("quantize %s: no calibration images: the ResNet's activation ranges are measured on posters; pass a folder of them (for example DATA/poster)", NameResNetDistilBERT)
	}
	recipe, err := resnetRecipe(o.ImagePrep)
	if err != nil {
		return nil, nil, err
	}
	ins, _, err := modelIO(model)
	if err != nil {
		return nil, nil, err
	}
	if len(ins) == 0 {
		return nil, nil, fmt.Errorf("%w: %s has no inputs", encoder.ErrUnsupportedModel, model)
	}
	input := imageInput(ins)
	h, w := recipe.Size()
	var batches []map[string]encoder.Tensor
	var skipped []string
	var cur []float32
	n := 0
	flush := func() {
		if n > 0 {
			batches = append(batches, map[string]encoder.Tensor{input: {Shape: []int64{int64(n), 3, int64(h), int64(w)}, F32: cur}})
		}
		cur, n = nil, 0
	}
	for _, path := range o.CalibrationImages {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		img, release, err := imageprep.DecodeFile(ctx, path)
		if err != nil {
			skipped = append(skipped, path)
			continue
		}
		cur = append(cur, recipe.Apply(img)...)
		release()
		if n++; n == calibrationBatch {
			flush()
		}
	}
	flush()
	if len(batches) == 0 {
		return nil, nil, fmt.Errorf("quantize: none of the %d calibration images decodes (first: %s)", len(o.CalibrationImages), o.CalibrationImages[0])
	}
	return batches, skipped, nil
}

func copyFile(src, dst string) error {
	data, err := inputfile.ReadFile(context.Background(), src, inputfile.Model)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(dst, data, 0o644)
}
