package pretrained

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/reelmatch/reelmatch/internal/hub"
	"github.com/reelmatch/reelmatch/internal/inputfile"
)

// Preset names: one per folder of the models cache.
const (
	PresetResNet50   = "resnet50"
	PresetDistilBERT = "distilbert"
	PresetCLIP       = "clip-vit-b32"
)

// ErrModelMissing is wrapped when a model file an encoder needs is absent.
var ErrModelMissing = errors.New("model file missing")

// PresetFile is one file of a preset, at its path inside the hub
// repository (which is also its path inside the preset's folder).
type PresetFile struct {
	// Role is how encoders ask for the file ("model", "tokenizer", ...).
	Role string
	// Path is relative to the repository root, with forward slashes.
	Path string
	// ApproxSize is the size the hub listed when the preset was chosen, in
	// bytes; the download checks the size the hub reports at the time.
	ApproxSize int64
}

// Preset is a set of files from one Hugging Face repository that an
// encoder tower is built from.
type Preset struct {
	Name     string
	Repo     string
	Revision string
	// About says what the export is and how it differs from the seed's
	// model, for `reelmatch models list -v` and docs/models.md.
	About string
	Files []PresetFile
}

// Sizes as listed on the hub's file pages (MB = 10^6 bytes), for display.
const mb = 1_000_000

var presets = []Preset{
	{
		Name: PresetResNet50, Repo: "OWG/resnet-50", Revision: "main",
		About: "microsoft/resnet-50 (transformers ResNetModel, no classifier) exported to ONNX: " +
			"pixel_values -> last_hidden_state [N,2048,7,7], pooler_output [N,2048,1,1]. " +
			"Not torchvision's IMAGENET1K weights: the seed's features differ, the architecture does not.",
		Files: []PresetFile{{Role: "model", Path: "onnx/model.onnx", ApproxSize: 93_900_000}},
	},
	{
		Name: PresetDistilBERT, Repo: "onnxport/distilbert-base-uncased-onnx", Revision: "main",
		About: "distilbert-base-uncased as a feature-extraction ONNX export: input_ids, attention_mask -> " +
			"last_hidden_state [N,L,768]. (Xenova/distilbert-base-uncased is a fill-mask export whose " +
			"only output is logits, so it cannot give the [CLS] feature.)",
		Files: []PresetFile{
			{Role: "model", Path: "model.onnx", ApproxSize: 266 * mb},
			{Role: "tokenizer", Path: "tokenizer.json", ApproxSize: 711_000},
			{Role: "tokenizer_config", Path: "tokenizer_config.json", ApproxSize: 360},
			{Role: "config", Path: "config.json", ApproxSize: 656},
		},
	},
	{
		Name: PresetCLIP, Repo: "Xenova/clip-vit-base-patch32", Revision: "main",
		About: "openai/clip-vit-base-patch32 exported by transformers.js: vision pixel_values -> image_embeds [N,512], " +
			"text input_ids, attention_mask -> text_embeds [N,512] (projected, not normalised).",
		Files: []PresetFile{
			{Role: "vision", Path: "onnx/vision_model.onnx", ApproxSize: 352 * mb},
			{Role: "text", Path: "onnx/text_model.onnx", ApproxSize: 254 * mb},
			{Role: "tokenizer", Path: "tokenizer.json", ApproxSize: 2_220_000},
			{Role: "tokenizer_config", Path: "tokenizer_config.json"},
			{Role: "preprocessor", Path: "preprocessor_config.json"},
			{Role: "config", Path: "config.json"},
		},
	},
}

// encoderPresets maps encoder names to the presets they are built from.
var encoderPresets = map[string][]string{
	NameResNetDistilBERT: {PresetResNet50, PresetDistilBERT},
	NameCLIP:             {PresetCLIP},
}

// Presets lists every preset, in a fixed order.
func Presets() []Preset { return slices.Clone(presets) }

// LookupPreset returns the named preset.
func LookupPreset(name string) (Preset, bool) {
	for _, p := range presets {
		if p.Name == name {
			return p, true
		}
	}
	return Preset{}, false
}

// ResolvePresets expands a name given to `reelmatch models pull`: a preset
// name gives itself, an encoder name gives the presets it needs.
func ResolvePresets(name string) ([]Preset, error) {
	if p, ok := LookupPreset(name); ok {
		return []Preset{p}, nil
	}
	if names, ok := encoderPresets[name]; ok {
		out := make([]Preset, 0, len(names))
		for _, n := range names {
			p, _ := LookupPreset(n)
			out = append(out, p)
		}
		return out, nil
	}
	known := make([]string, 0, len(presets)+len(encoderPresets))
	for _, p := range presets {
		known = append(known, p.Name)
	}
	for n := range encoderPresets {
		known = append(known, n)
	}
	// An encoder preset may share its name with a model preset.
	slices.Sort(known)
	known = slices.Compact(known)
	return nil, fmt.Errorf("unknown model preset %q (known: %s)", name, strings.Join(known, ", "))
}

// File returns the preset's file with the given role; it panics on an
// unknown role, which is a programmer error.
func (p Preset) File(role string) PresetFile {
	for _, f := range p.Files {
		if f.Role == role {
			return f
		}
	}
	panic("pretrained: preset " + p.Name + " has no file with role " + role)
}

// Dir is the preset's folder under a models root; an empty root means the
// models cache (hub.CacheRoot). When root has no subfolder named after the
// preset but holds the preset's files itself, root is the preset's folder,
// so `--models` can also point straight at one downloaded repository.
func (p Preset) Dir(root string) (string, error) {
	if root == "" {
		r, err := hub.CacheRoot()
		if err != nil {
			return "", err
		}
		return filepath.Join(r, p.Name), nil
	}
	sub := filepath.Join(root, p.Name)
	if _, err := os.Stat(sub); err != nil {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p.Files[0].Path))); err == nil {
			return root, nil
		}
	}
	return sub, nil
}

// Path is where the file with the given role lives under root, or an
// error wrapping ErrModelMissing that names the path and the command that
// downloads it.
func (p Preset) Path(root, role string) (string, error) {
	dir, err := p.Dir(root)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, filepath.FromSlash(p.File(role).Path))
	kind := inputfile.Config
	if strings.HasSuffix(path, ".onnx") {
		kind = inputfile.Model
	}
	_, err = inputfile.Check(path, kind)
	var ie *inputfile.Error
	if errors.As(err, &ie) {
		// There, but a FIFO, device, folder or over the cap: say so.
		return "", fmt.Errorf("%s file %w", p.Name, err)
	}
	if err != nil {
		if root != "" {
			return "", fmt.Errorf("%w: %s: run `reelmatch models pull %s --dir %s`", ErrModelMissing, path, p.Name, root)
		}
		return "", fmt.Errorf("%w: %s: run `reelmatch models pull %s`", ErrModelMissing, path, p.Name)
	}
	return path, nil
}
