package pretrained

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/tokenize"
)

// Registry names of the encoders this package provides.
const (
	// NameResNetDistilBERT is the seed's pair: ResNet-50 pooled features
	// (2048-d) and DistilBERT's [CLS] vector (768-d).
	NameResNetDistilBERT = "resnet50-distilbert"
	// NameCLIP is OpenAI's CLIP ViT-B/32: both towers project into one
	// 512-d space.
	NameCLIP = "clip-vit-b32"
)

// Settings accepted in encoder.Config.
const (
	LongTextTruncate = "truncate"
	LongTextChunk    = "chunk"

	ImagePrepSeed        = "seed"
	ImagePrepTorchVision = "torchvision"
	ImagePrepCLIP        = "clip"

	// defaultTextInput is what the pretrained encoders get unless the user
	// chooses: contextual models were trained on ordinary sentences, not
	// on lemmatised, stop-word-free token lists.
	defaultTextInput = "raw"
)

// fingerprintVersion changes whenever the way vectors are computed from the
// same files changes (pooling, padding), so old caches count as stale.
const fingerprintVersion = "pretrained/v1"

func init() {
	encoder.Register(NameResNetDistilBERT, func(cfg encoder.Config) (encoder.Encoder, error) {
		return NewResNetDistilBERT(cfg)
	})
	encoder.Register(NameCLIP, func(cfg encoder.Config) (encoder.Encoder, error) {
		return NewCLIP(cfg)
	})
	encoder.RegisterSharedSpace(NameCLIP)
}

// Files names the files an encoder is built from. NewResNetDistilBERT and
// NewCLIP fill it from the presets' folders; Build takes it directly for
// exports kept elsewhere (benchmarks, custom exports).
type Files struct {
	// ImageModel is the image tower's ONNX file.
	ImageModel string
	// TextModel is the text tower's ONNX file.
	TextModel string
	// Tokenizer is the text tower's tokenizer.json; tokenizer_config.json
	// beside it, when present, sets the window length.
	Tokenizer string
	// Preprocessor is CLIP's preprocessor_config.json; the ResNet recipes
	// are built in, so it stays empty there.
	Preprocessor string
}

// Encoder is a pretrained image tower and text tower behind one name. It
// implements encoder.Encoder, encoder.SharedSpace, and the optional
// DefaultTextInput and Truncated methods. Towers serialise their session
// calls, so one Encoder may be shared, though calls do not overlap.
type Encoder struct {
	name        string
	fingerprint string
	shared      bool
	textInput   string
	img         *imageTower
	txt         *textTower
}

// NewResNetDistilBERT builds the seed's encoder from the resnet50 and
// distilbert presets under cfg.ModelsDir (or the models cache).
// cfg.ImagePrep is "seed" (default) or "torchvision".
func NewResNetDistilBERT(cfg encoder.Config) (*Encoder, error) {
	rn, _ := LookupPreset(PresetResNet50)
	db, _ := LookupPreset(PresetDistilBERT)
	var f Files
	var err error
	if f.ImageModel, err = rn.Path(cfg.ModelsDir, "model"); err != nil {
		return nil, err
	}
	if f.TextModel, err = db.Path(cfg.ModelsDir, "model"); err != nil {
		return nil, err
	}
	if f.Tokenizer, err = db.Path(cfg.ModelsDir, "tokenizer"); err != nil {
		return nil, err
	}
	return Build(NameResNetDistilBERT, f, cfg)
}

// NewCLIP builds CLIP ViT-B/32 from the clip-vit-b32 preset under
// cfg.ModelsDir (or the models cache). Images are prepared as
// preprocessor_config.json says; cfg.ImagePrep may only be "" or "clip".
func NewCLIP(cfg encoder.Config) (*Encoder, error) {
	p, _ := LookupPreset(PresetCLIP)
	var f Files
	var err error
	for _, x := range []struct {
		dst  *string
		role string
	}{{&f.ImageModel, "vision"}, {&f.TextModel, "text"}, {&f.Tokenizer, "tokenizer"}, {&f.Preprocessor, "preprocessor"}} {
		if *x.dst, err = p.Path(cfg.ModelsDir, x.role); err != nil {
			return nil, err
		}
	}
	return Build(NameCLIP, f, cfg)
}

// Build makes the named encoder (NameResNetDistilBERT or NameCLIP) from
// explicit files on the runtime cfg.Backend selects. Its errors do not
// repeat the encoder's name: the caller that chose it wraps them with it.
func Build(name string, f Files, cfg encoder.Config) (*Encoder, error) {
	var recipe imageprep.Recipe
	var imageOuts, textOuts []string
	shared := false
	switch name {
	case NameResNetDistilBERT:
		r, err := resnetRecipe(cfg.ImagePrep)
		if err != nil {
			return nil, err
		}
		recipe = r
		imageOuts = []string{outPooler, outFeatures, outLastHidden}
		textOuts = []string{outLastHidden}
	case NameCLIP:
		if cfg.ImagePrep != "" && cfg.ImagePrep != ImagePrepCLIP {
			return nil, fmt.Errorf("image prep %q: CLIP takes its recipe from preprocessor_config.json (%q)", cfg.ImagePrep, ImagePrepCLIP)
		}
		r, err := imageprep.FromCLIPConfig(f.Preprocessor)
		if err != nil {
			return nil, err
		}
		recipe = r
		imageOuts = []string{outImageEmbed}
		textOuts = []string{outTextEmbed}
		shared = true
	default:
		return nil, fmt.Errorf("%w %q (this package builds %s, %s)", encoder.ErrUnknownEncoder, name, NameResNetDistilBERT, NameCLIP)
	}
	longText := cfg.LongText
	switch longText {
	case "":
		longText = LongTextTruncate
	case LongTextTruncate, LongTextChunk:
	default:
		return nil, fmt.Errorf("long text %q: want %q or %q", cfg.LongText, LongTextTruncate, LongTextChunk)
	}
	textInput := cfg.TextInput
	if textInput == "" {
		textInput = defaultTextInput
	}

	for _, p := range []string{f.ImageModel, f.TextModel, f.Tokenizer} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrModelMissing, p)
		}
	}
	rt, err := encoder.OpenRuntime(cfg.Backend)
	if err != nil {
		return nil, err
	}
	tk, err := tokenize.Load(f.Tokenizer)
	if err != nil {
		return nil, err
	}
	opts := encoder.SessionOptions{Threads: cfg.Threads}
	img, err := newImageTower(rt, f.ImageModel, recipe, imageOuts, cfg)
	if err != nil {
		return nil, err
	}
	txt, err := newTextTower(rt, f.TextModel, tk, textOuts, longText == LongTextChunk, opts)
	if err != nil {
		img.Close()
		return nil, err
	}
	e := &Encoder{name: name, shared: shared, textInput: textInput, img: img, txt: txt}
	e.fingerprint, err = fingerprint(name, f, recipe, img, txt, textInput, longText)
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// resnetRecipe is the image recipe --image-prep selects for the ResNet:
// the seed's (the default) or torchvision's.
func resnetRecipe(imagePrep string) (imageprep.Recipe, error) {
	switch imagePrep {
	case "", ImagePrepSeed:
		return imageprep.Seed(), nil
	case ImagePrepTorchVision:
		return imageprep.TorchVision(), nil
	}
	return imageprep.Recipe{}, fmt.Errorf("image prep %q: want %q or %q", imagePrep, ImagePrepSeed, ImagePrepTorchVision)
}

// fingerprint digests everything that decides the vectors: the model,
// tokenizer and preprocessor files' SHA-256, the image recipe, the outputs
// read and how they are pooled, and the text settings. The backend is left
// out on purpose: ort and go agree within float tolerance, and switching
// must not throw away a feature cache.
func fingerprint(name string, f Files, recipe imageprep.Recipe, img *imageTower, txt *textTower, textInput, longText string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nencoder=%s\nrecipe=%s/%s\nimage_output=%s\ntext_output=%s cls=%v\ntext_input=%s\nlong_text=%s\n",
		fingerprintVersion, name, recipe.Name, recipe.Fingerprint(), img.output, txt.output, txt.cls, textInput, longText)
	files := []string{f.ImageModel, f.TextModel, f.Tokenizer, f.Preprocessor}
	if f.Tokenizer != "" {
		files = append(files, filepath.Join(filepath.Dir(f.Tokenizer), "tokenizer_config.json"))
	}
	for _, p := range files {
		if p == "" {
			continue
		}
		sum, err := fileSHA256(p)
		if errors.Is(err, os.ErrNotExist) && strings.HasSuffix(p, "tokenizer_config.json") {
			continue // optional
		}
		if err != nil {
			return "", fmt.Errorf("fingerprint: %w", err)
		}
		fmt.Fprintf(h, "%s=%s\n", filepath.Base(p), sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Name is the registry name.
func (e *Encoder) Name() string { return e.name }

// Fingerprint is a hex SHA-256 over model files, recipe and text settings.
func (e *Encoder) Fingerprint() string { return e.fingerprint }

// Image is the image tower: Prepare applies the recipe ([3, H, W]);
// Encode returns un-normalised vectors of Dim().
func (e *Encoder) Image() encoder.ImageTower { return e.img }

// Text is the text tower: Encode returns un-normalised vectors of Dim().
func (e *Encoder) Text() encoder.TextTower { return e.txt }

// SharedSpace reports whether the towers embed into one space (CLIP).
func (e *Encoder) SharedSpace() bool { return e.shared }

// DefaultTextInput is the text input the encoder was configured with, or
// "raw" when Config.TextInput was empty. Callers that resolve an empty
// setting through it (embed.ResolveTextInput) thus agree with the
// fingerprint.
func (e *Encoder) DefaultTextInput() string { return e.textInput }

// Truncated counts the texts cut at the model window (77 tokens for CLIP,
// 512 for DistilBERT) since the encoder was built; always 0 when long
// texts are chunked.
func (e *Encoder) Truncated() int { return int(e.txt.truncated.Load()) }

// Close releases both sessions.
func (e *Encoder) Close() error {
	return errors.Join(e.img.Close(), e.txt.Close())
}
