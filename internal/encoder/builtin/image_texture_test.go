package builtin

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestLBPUniformTable(t *testing.T) {
	count := map[uint8]int{}
	for _, b := range lbpUniform {
		count[b]++
	}
	// 58 uniform patterns (at most two 0/1 transitions around the circle)
	// get a bin each; the other 198 share the last.
	if got := len(count); got != lbpBins {
		t.Errorf("%d distinct bins, want %d", got, lbpBins)
	}
	if got := count[lbpBins-1]; got != 256-58 {
		t.Errorf("%d patterns in the non-uniform bin, want %d", got, 256-58)
	}
	// Uniform patterns are numbered in increasing code order: 0, 1, 2, 3,
	// 4, 6, 7, 8, 12, 14, 15, 16, 24, 28, ..., 255.
	for _, tt := range []struct {
		code int
		want uint8
	}{{0, 0}, {1, 1}, {6, 5}, {28, 13}, {255, 57}, {0b01010101, lbpBins - 1}, {0b00100100, lbpBins - 1}} {
		if got := lbpUniform[tt.code]; got != tt.want {
			t.Errorf("lbpUniform[%08b] = %d, want %d", tt.code, got, tt.want)
		}
	}
}

// TestLBPHistogramOfStep checks a dark-to-light vertical step worked out by
// hand: of the 4x3 interior pixels of a 6x5 image, the three just left of
// the step see their three right-hand neighbours brighter (bits 2, 3 and 4:
// pattern 28, uniform bin 13); the other nine see none (bin 0).
func TestLBPHistogramOfStep(t *testing.T) {
	const w, h = 6, 5
	g := make([]float32, w*h)
	for y := range h {
		for x := 3; x < w; x++ {
			g[y*w+x] = 1
		}
	}
	want := make([]float32, lbpBins)
	want[0] = float32(math.Sqrt(9.0 / 12))
	want[13] = float32(math.Sqrt(3.0 / 12))
	if diff := cmp.Diff(want, lbpHistogram(nil, g, w, h), cmpopts.EquateApprox(0, 1e-6)); diff != "" {
		t.Errorf("LBP histogram of a step (-want +got):\n%s", diff)
	}
	// A step smaller than lbpEps is not texture.
	for i := range g {
		g[i] *= lbpEps / 2
	}
	want = make([]float32, lbpBins)
	want[0] = 1
	if diff := cmp.Diff(want, lbpHistogram(nil, g, w, h), cmpopts.EquateApprox(0, 1e-6)); diff != "" {
		t.Errorf("LBP histogram of a faint step (-want +got):\n%s", diff)
	}
}

func TestIsSkin(t *testing.T) {
	tests := []struct {
		name    string
		r, g, b uint8
		want    bool
	}{
		// (Cb, Cr) worked out from the BT.601 full-range formulas.
		{"light skin", 224, 172, 105, true},              // (85.7, 159.4)
		{"brown skin", 141, 85, 36, true},                // (94.1, 160.0)
		{"tanned skin", 198, 134, 66, true},              // (83.2, 165.5)
		{"pure red", 255, 0, 0, false},                   // Cr 255.5
		{"sky blue", 110, 170, 230, false},               // (168.1, 93.1)
		{"white", 255, 255, 255, false},                  // (128, 128)
		{"skin hue but almost black", 30, 20, 15, false}, // luma 0.088
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isSkin(float32(tt.r)/255, float32(tt.g)/255, float32(tt.b)/255); got != tt.want {
				t.Errorf("isSkin(%d, %d, %d) = %v, want %v", tt.r, tt.g, tt.b, got, tt.want)
			}
		})
	}
}

// TestTextRowsFindsLettering puts 2-pixel black and white vertical stripes
// (letter-like strokes) in the top band of a flat grey poster: only that
// band may report stroke edges and sign changes.
func TestTextRowsFindsLettering(t *testing.T) {
	f := &frame{pixels: new(pixels), fine: make([]float32, fineW*fineH)}
	bandRows := fineH / textRowBands
	for y := range fineH {
		for x := range fineW {
			v := float32(0.5)
			if y < bandRows {
				v = float32((x / 2) % 2)
			}
			f.fine[y*fineW+x] = v
		}
	}
	got := textRows(nil, f)
	if len(got) != textRowsLen {
		t.Fatalf("textRows gave %d values, want %d", len(got), textRowsLen)
	}
	for band := range textRowBands {
		edges, flips := got[band], got[textRowBands+band]
		if band == 0 && (edges < 0.5 || flips < 0.5) {
			t.Errorf("striped band: edge density %.3f, flip density %.3f, want both >= 0.5", edges, flips)
		}
		if band > 0 && (edges != 0 || flips != 0) {
			t.Errorf("flat band %d: edge density %.3f, flip density %.3f, want 0", band, edges, flips)
		}
	}
}

func TestImageBlocksCoverDim(t *testing.T) {
	seen := map[string]bool{}
	n := 0
	for _, b := range ImageBlocks() {
		if seen[b.Name] {
			t.Errorf("block %s listed twice", b.Name)
		}
		seen[b.Name] = true
		if b.Len <= 0 {
			t.Errorf("block %s has length %d", b.Name, b.Len)
		}
		n += b.Len
	}
	if dim := newBuiltin(t, "").Image().Dim(); n != dim {
		t.Errorf("blocks add up to %d values, Dim is %d", n, dim)
	}
}
