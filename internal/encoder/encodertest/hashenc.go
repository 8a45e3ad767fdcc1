package encodertest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/reelmatch/reelmatch/internal/encoder"
)

// HashEncoderName is the name HashEncoder reports unless told otherwise.
const HashEncoderName = "fake-hash"

// HashEncoder is a fake encoder.Fitter whose vectors are hashes of its
// input: a poster's pixels, or a text together with the fitted state. It
// counts and records its calls, so pipeline tests can check what was
// computed, what was reused and which texts the fit saw. Methods are safe
// for concurrent use. The zero value is ready (name "fake-hash", image dim
// 8, text dim 6).
type HashEncoder struct {
	// Label overrides the name; Salt changes the fingerprint (as a new
	// model version would).
	Label, Salt string
	// TextInputDefault is returned by DefaultTextInput ("" means "raw").
	TextInputDefault string

	// Counters of work done.
	Prepared, ImagesEncoded, TextsEncoded, Fits atomic.Int64

	mu         sync.Mutex
	fitTexts   []string
	textBatchs [][]string
	state      []byte
}

// Dimensions of the fake's vectors.
const (
	HashImageDim = 8
	HashTextDim  = 6
)

var (
	_ encoder.Encoder = (*HashEncoder)(nil)
	_ encoder.Fitter  = (*HashEncoder)(nil)
)

// Name returns Label or HashEncoderName.
func (e *HashEncoder) Name() string {
	if e.Label != "" {
		return e.Label
	}
	return HashEncoderName
}

// DefaultTextInput returns TextInputDefault or "raw".
func (e *HashEncoder) DefaultTextInput() string {
	if e.TextInputDefault != "" {
		return e.TextInputDefault
	}
	return "raw"
}

// Fingerprint covers Salt and the fitted state.
func (e *HashEncoder) Fingerprint() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	sum := sha256.Sum256(append([]byte("fake-hash|"+e.Salt+"|"), e.state...))
	return fmt.Sprintf("%x", sum[:8])
}

// Image returns the pixel-hash tower.
func (e *HashEncoder) Image() encoder.ImageTower { return hashImage{e} }

// Text returns the text-hash tower; it fails until Fit or UnmarshalState.
func (e *HashEncoder) Text() encoder.TextTower { return hashText{e} }

// Close does nothing.
func (e *HashEncoder) Close() error { return nil }

// Fit records the texts and makes a state from their hash.
func (e *HashEncoder) Fit(ctx context.Context, texts []string) error {
	e.Fits.Add(1)
	h := sha256.New()
	for _, t := range texts {
		fmt.Fprintf(h, "%d:%s", len(t), t)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fitTexts = slices.Clone(texts)
	e.state = h.Sum(nil)
	return ctx.Err()
}

// FitTexts returns the texts the last Fit saw.
func (e *HashEncoder) FitTexts() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.fitTexts)
}

// TextBatches returns every batch Text().Encode received, in call order.
func (e *HashEncoder) TextBatches() [][]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.textBatchs)
}

// MarshalState returns the fitted state.
func (e *HashEncoder) MarshalState() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == nil {
		return nil, errors.New("fake-hash: not fitted")
	}
	return slices.Clone(e.state), nil
}

// UnmarshalState restores a state; it must be 32 bytes.
func (e *HashEncoder) UnmarshalState(state []byte) error {
	if len(state) != sha256.Size {
		return fmt.Errorf("fake-hash: state has %d bytes, want %d", len(state), sha256.Size)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state = slices.Clone(state)
	return nil
}

// hashVector spreads a SHA-256 digest over dim floats in [0, 1).
func hashVector(data []byte, dim int) []float32 {
	out := make([]float32, dim)
	sum := sha256.Sum256(data)
	for i := range out {
		j := (2 * i) % (len(sum) - 1)
		out[i] = float32(binary.LittleEndian.Uint16(sum[j:])) / 65536
	}
	return out
}

type hashImage struct{ e *HashEncoder }

func (hashImage) Dim() int { return HashImageDim }

// Prepare hashes the 8-bit RGBA pixels.
func (t hashImage) Prepare(img image.Image) ([]float32, error) {
	b := img.Bounds()
	if b.Empty() {
		return nil, errors.New("fake-hash: empty image")
	}
	t.e.Prepared.Add(1)
	buf := make([]byte, 0, 4*b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			buf = append(buf, byte(r>>8), byte(g>>8), byte(bl>>8), byte(a>>8))
		}
	}
	return hashVector(buf, HashImageDim), nil
}

func (t hashImage) Encode(ctx context.Context, inputs [][]float32) ([][]float32, error) {
	out := make([][]float32, len(inputs))
	for i, in := range inputs {
		if len(in) != HashImageDim {
			return nil, fmt.Errorf("fake-hash: input %d has %d values, want %d", i, len(in), HashImageDim)
		}
		out[i] = slices.Clone(in)
	}
	t.e.ImagesEncoded.Add(int64(len(inputs)))
	return out, ctx.Err()
}

type hashText struct{ e *HashEncoder }

func (hashText) Dim() int { return HashTextDim }

func (t hashText) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	t.e.mu.Lock()
	state := t.e.state
	t.e.textBatchs = append(t.e.textBatchs, slices.Clone(texts))
	t.e.mu.Unlock()
	if state == nil {
		return nil, errors.New("fake-hash: text tower used before Fit")
	}
	out := make([][]float32, len(texts))
	for i, s := range texts {
		out[i] = hashVector(append(slices.Clone(state), s...), HashTextDim)
	}
	t.e.TextsEncoded.Add(int64(len(texts)))
	return out, ctx.Err()
}
