package builtin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/reelmatch/reelmatch/internal/encoder"
)

// Name is the registry name of this encoder.
const Name = "builtin"

// defaultTextInput is the intro the text tower reads unless told
// otherwise: TF-IDF gains from stop-word removal and lemmas, which the
// cleaned intro has.
const defaultTextInput = "clean"

// ErrNotFitted is returned by the text tower before Fit or UnmarshalState.
var ErrNotFitted = errors.New("builtin text tower is not fitted: run `reelmatch embed --encoder builtin` first")

func init() { encoder.Register(Name, New) }

// Encoder is the weight-free encoder. Its image tower needs nothing; its
// text tower must be fitted (Fit) or restored (UnmarshalState) first.
type Encoder struct {
	textInput string
	textDim   int

	mu    sync.RWMutex
	text  *textModel
	state []byte // the marshalled text model, kept for the fingerprint
}

// New builds the encoder. cfg.TextInput is "raw", "clean" or "" (clean);
// cfg.TextDim is the number of LSA components kept, in TextDimRange, or 0
// for DefaultTextDim. The other Config fields do not apply and are ignored.
func New(cfg encoder.Config) (encoder.Encoder, error) {
	dim := cfg.TextDim
	if dim == 0 {
		dim = DefaultTextDim
	}
	if err := TextDimRange.Check(dim); err != nil {
		return nil, fmt.Errorf("builtin encoder: text dimension %w", err)
	}
	ti := cfg.TextInput
	switch ti {
	case "":
		ti = defaultTextInput
	case "raw", "clean":
	default:
		return nil, fmt.Errorf("builtin encoder: text input %q: want \"raw\" or \"clean\"", cfg.TextInput)
	}
	return &Encoder{textInput: ti, textDim: dim}, nil
}

// Name returns "builtin".
func (e *Encoder) Name() string { return Name }

// DefaultTextInput is "clean" (see embed.TextInputDefaulter).
func (e *Encoder) DefaultTextInput() string { return defaultTextInput }

// RecipeFingerprint digests the feature recipes and the text-input and
// text-dimension settings, leaving out the fitted state (see
// embed.RecipeFingerprinter).
func (e *Encoder) RecipeFingerprint() string {
	return digest(Name, imageRecipe, textRecipe, "text_input="+e.textInput, e.dimSetting())
}

// dimSetting is the text dimension as fingerprints record it.
func (e *Encoder) dimSetting() string { return fmt.Sprintf("text_dim=%d", e.textDim) }

// TextDim is the number of LSA components the text tower keeps.
func (e *Encoder) TextDim() int { return e.textDim }

// Fingerprint digests the recipes, the text-input setting and the fitted
// state.
func (e *Encoder) Fingerprint() string {
	return digest(e.RecipeFingerprint(), "state="+e.stateHash())
}

// ImageFingerprint digests the image recipe alone: poster features do not
// depend on the text model (see embed.TowerFingerprinter).
func (e *Encoder) ImageFingerprint() string { return digest(Name, imageRecipe) }

// TextFingerprint digests the text recipe, the text-input and dimension
// settings and the fitted state.
func (e *Encoder) TextFingerprint() string {
	return digest(Name, textRecipe, "text_input="+e.textInput, e.dimSetting(), "state="+e.stateHash())
}

func (e *Encoder) stateHash() string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.state == nil {
		return "unfitted"
	}
	sum := sha256.Sum256(e.state)
	return hex.EncodeToString(sum[:])
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Image returns the hand-crafted feature tower.
func (e *Encoder) Image() encoder.ImageTower { return imageTower{} }

// Text returns the TF-IDF + SVD tower.
func (e *Encoder) Text() encoder.TextTower { return textTower{e} }

// Close does nothing; there is no runtime to release.
func (e *Encoder) Close() error { return nil }

// Fit learns the vocabulary, IDF and SVD from the training intros (already
// raw or cleaned as the text-input setting says). Only these texts shape
// the state: held-out intros must never be passed here.
func (e *Encoder) Fit(ctx context.Context, trainTexts []string) error {
	m, err := fitText(ctx, trainTexts, e.textDim)
	if err != nil {
		return fmt.Errorf("fit builtin text tower: %w", err)
	}
	st, err := m.marshal()
	if err != nil {
		return fmt.Errorf("fit builtin text tower: %w", err)
	}
	// Use the state as it will be restored (float32 throughout), so a
	// fitted encoder and a restored one give identical vectors.
	m, err = unmarshalText(st)
	if err != nil {
		return fmt.Errorf("fit builtin text tower: %w", err)
	}
	e.mu.Lock()
	e.text, e.state = m, st
	e.mu.Unlock()
	return nil
}

// MarshalState returns the fitted text model (a safetensors document).
func (e *Encoder) MarshalState() ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.state == nil {
		return nil, ErrNotFitted
	}
	return append([]byte(nil), e.state...), nil
}

// UnmarshalState restores a state made by MarshalState.
func (e *Encoder) UnmarshalState(state []byte) error {
	m, err := unmarshalText(state)
	if err != nil {
		return fmt.Errorf("restore builtin text tower: %w", err)
	}
	if m.dim != e.textDim {
		return fmt.Errorf("restore builtin text tower: the state keeps %d components, the encoder is set to %d", m.dim, e.textDim)
	}
	e.mu.Lock()
	e.text, e.state = m, append([]byte(nil), state...)
	e.mu.Unlock()
	return nil
}

type textTower struct{ e *Encoder }

func (t textTower) Dim() int { return t.e.textDim }

// Encode returns each text's LSA coordinates. Safe for concurrent use.
func (t textTower) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	t.e.mu.RLock()
	m := t.e.text
	t.e.mu.RUnlock()
	if m == nil {
		return nil, ErrNotFitted
	}
	out := make([][]float32, len(texts))
	for i, s := range texts {
		out[i] = m.project(s)
	}
	return out, ctx.Err()
}

// TextFit is the text tower fitted at full rank (MaxTextDim) on some
// training texts, for tools that score several text dimensions from one fit
// (`reelmatch tune`). Encode(texts, dim) gives exactly what an Encoder set
// to dim and fitted on the same texts encodes. Safe for concurrent use.
type TextFit struct{ m *textModel }

// FitText fits the text tower on trainTexts (already raw or cleaned) at
// full rank. Only these texts shape it: never pass held-out texts.
func FitText(ctx context.Context, trainTexts []string) (*TextFit, error) {
	m, err := fitText(ctx, trainTexts, MaxTextDim)
	if err != nil {
		return nil, fmt.Errorf("fit builtin text tower: %w", err)
	}
	return &TextFit{m}, nil
}

// Encode returns the first dim LSA coordinates of each text (dim in
// TextDimRange).
func (f *TextFit) Encode(texts []string, dim int) ([][]float32, error) {
	if err := TextDimRange.Check(dim); err != nil {
		return nil, fmt.Errorf("builtin text dimension %w", err)
	}
	out := make([][]float32, len(texts))
	for i, s := range texts {
		out[i] = f.m.project(s)[:dim:dim]
	}
	return out, nil
}

var (
	_ encoder.Encoder = (*Encoder)(nil)
	_ encoder.Fitter  = (*Encoder)(nil)
)
