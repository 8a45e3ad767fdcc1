package builtin

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkBuiltinImage measures Prepare (resize plus every feature) on a
// 300x450 poster, the real posters' usual size.
func BenchmarkBuiltinImage(b *testing.B) {
	img := testPoster(300, 450)
	tower := imageTower{}
	for b.Loop() {
		if _, err := tower.Prepare(img); err != nil {
			b.Fatal(err)
		}
	}
}

// benchTexts makes n intro-like texts over a vocabulary of a few hundred
// words, so that the fit sees repeated unigrams and bigrams.
func benchTexts(n int) []string {
	words := strings.Fields(strings.Repeat("cowboy ghost robot lover sheriff alien planet wedding town desert night castle spaceship kiss horse outlaw blood war army ", 1))
	out := make([]string, n)
	for i := range out {
		var sb strings.Builder
		for j := range 25 {
			w := words[(i*7+j*j*3+i*j)%len(words)]
			fmt.Fprintf(&sb, "%s%d ", w, (i+j)%17)
		}
		out[i] = sb.String()
	}
	return out
}

// BenchmarkBuiltinText measures the fitted text tower at batch sizes 1, 8
// and 32.
func BenchmarkBuiltinText(b *testing.B) {
	e := &Encoder{textInput: defaultTextInput}
	texts := benchTexts(1000)
	if err := e.Fit(context.Background(), texts); err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			for b.Loop() {
				if _, err := e.Text().Encode(context.Background(), texts[:batch]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBuiltinFit measures fitting TF-IDF and the SVD on about the
// real training split's size (2,594 intros).
func BenchmarkBuiltinFit(b *testing.B) {
	texts := benchTexts(2594)
	for b.Loop() {
		e := &Encoder{textInput: defaultTextInput}
		if err := e.Fit(context.Background(), texts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuiltinImageBlocks measures each feature block alone on a
// prepared 300x450 poster (the resize and colour conversion are shared
// and measured by BenchmarkBuiltinImage).
func BenchmarkBuiltinImageBlocks(b *testing.B) {
	img := testPoster(300, 450)
	fine := resize(img, fineW, fineH)
	f := newFrame(resize(fine, gridW, gridH), fine)
	for _, blk := range blocks {
		b.Run(blk.name, func(b *testing.B) {
			out := make([]float32, 0, blk.n)
			for b.Loop() {
				out = blk.fn(out[:0], f)
			}
		})
	}
}
