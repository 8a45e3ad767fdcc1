package encodertest

import (
	"context"
	"fmt"
	"image"
	"strings"

	"github.com/reelmatch/reelmatch/internal/encoder"
)

// ColorEncoderName is the registry-free name ColorEncoder reports.
const ColorEncoderName = "fake-colors"

// ColorEncoder is a fake encoder whose two towers share one 3-d space, so
// retrieval results can be worked out by hand: a poster becomes its mean
// (R, G, B) in [0, 1], and an intro becomes the counts of the words "red",
// "green" and "blue" in it. A red poster is thus nearest to an intro that
// says "red". It needs no weights and is safe for concurrent use.
type ColorEncoder struct{}

var _ encoder.Encoder = ColorEncoder{}

// Name returns ColorEncoderName.
func (ColorEncoder) Name() string { return ColorEncoderName }

// Fingerprint is constant: the fake has no settings.
func (ColorEncoder) Fingerprint() string { return "fake-colors-v1" }

// Image returns the mean-colour tower.
func (ColorEncoder) Image() encoder.ImageTower { return colorImage{} }

// Text returns the colour-word tower.
func (ColorEncoder) Text() encoder.TextTower { return colorText{} }

// Close does nothing.
func (ColorEncoder) Close() error { return nil }

// DefaultTextInput asks for raw intros, so tests need no lemma data.
func (ColorEncoder) DefaultTextInput() string { return "raw" }

type colorImage struct{}

func (colorImage) Dim() int { return 3 }

// Prepare returns the mean colour, each channel in [0, 1].
func (colorImage) Prepare(img image.Image) ([]float32, error) {
	b := img.Bounds()
	if b.Empty() {
		return nil, fmt.Errorf("fake-colors: empty image")
	}
	var r, g, bl float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			r, g, bl = r+float64(cr), g+float64(cg), bl+float64(cb)
		}
	}
	n := float64(b.Dx()*b.Dy()) * 0xffff
	return []float32{float32(r / n), float32(g / n), float32(bl / n)}, nil
}

func (colorImage) Encode(ctx context.Context, inputs [][]float32) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([][]float32, len(inputs))
	for i, in := range inputs {
		if len(in) != 3 {
			return nil, fmt.Errorf("fake-colors: input %d has %d values, want 3", i, len(in))
		}
		out[i] = append([]float32(nil), in...)
	}
	return out, nil
}

type colorText struct{}

func (colorText) Dim() int { return 3 }

// Encode counts colour words, case-insensitively, ignoring punctuation.
func (colorText) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, 3)
		for _, w := range strings.FieldsFunc(strings.ToLower(t), func(r rune) bool { return !('a' <= r && r <= 'z') }) {
			switch w {
			case "red":
				v[0]++
			case "green":
				v[1]++
			case "blue":
				v[2]++
			}
		}
		out[i] = v
	}
	return out, nil
}
