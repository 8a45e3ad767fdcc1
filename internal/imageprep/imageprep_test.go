package imageprep

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"
)

// goldenTol is the largest |got - golden| allowed against the golden pixel
// tensors made from PNG inputs. PNG decoding is lossless, the resampler
// reproduces the references' integer arithmetic (Pillow's 22-bit and
// ATen's int16 coefficients, with the uint8 rounding between passes) and
// the normalisation performs the same float32 operations, so the tensors
// agree bit for bit; the tolerance only leaves room for a compiler that
// fuses float operations. One uint8 level would be 1/255/std ≈ 0.017.
const goldenTol = 1e-6

// stats is the largest and mean absolute difference of two tensors.
func stats(t testing.TB, got, want []float32) (maxAbs, mean float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("tensor has %d values, want %d", len(got), len(want))
	}
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		maxAbs = max(maxAbs, d)
		mean += d
	}
	return maxAbs, mean / float64(len(got))
}

func TestGolden(t *testing.T) {
	if *updateGolden {
		writeGolden(t)
	}
	hashes := readHashes(t)
	for _, g := range goldenSets {
		r := g.recipe(t)
		for _, name := range g.Images {
			t.Run(g.Name+"/"+name, func(t *testing.T) {
				want := loadGolden(t, g, name, hashes)
				img := decodeFile(t, testPath(t, "images/"+name+".png"))
				got := r.Apply(img)
				maxAbs, mean := stats(t, got, want)
				t.Logf("max |diff| %.3g, mean %.3g", maxAbs, mean)
				if maxAbs > goldenTol {
					t.Errorf("max |got-golden| = %g (mean %g), want <= %g", maxAbs, mean, goldenTol)
				}
			})
		}
	}
}

// JPEG decoders differ: Go's image/jpeg uses another IDCT than
// libjpeg-turbo's islow (Pillow's), which moves about 3.5% of samples by 1
// to 3 levels (chroma upsampling, the other source of difference, is done
// as libjpeg does; see ycbcr.go). Through resampling that is at most 3
// levels, 3/255/0.2245 ≈ 0.053 after ImageNet normalisation, and far
// less on average.
const (
	jpegMaxTol  = 4.0 / 255 / 0.224
	jpegMeanTol = 0.004
)

// TestGoldenJPEG runs each recipe on the fixture JPEGs and compares with
// the recipe run on libjpeg-turbo's decode of the same files (written by
// gen.sh): since the resampling is exact (TestGolden), that is what the
// reference pipeline makes from those JPEGs.
func TestGoldenJPEG(t *testing.T) {
	for _, g := range goldenSets {
		r := g.recipe(t)
		for _, name := range g.Images {
			t.Run(g.Name+"/"+name, func(t *testing.T) {
				img := decodeFile(t, testPath(t, "images/"+name+".jpg"))
				ref := decodeFile(t, filepath.Join("testdata/decode", name+".jpg.want.png"))
				maxAbs, mean := stats(t, r.Apply(img), r.Apply(ref))
				t.Logf("max |diff| %.4f, mean %.5f", maxAbs, mean)
				if maxAbs > jpegMaxTol || mean > jpegMeanTol {
					t.Errorf("JPEG vs libjpeg decode: max %.4f (tolerance %.4f), mean %.5f (tolerance %.4f)", maxAbs, jpegMaxTol, mean, jpegMeanTol)
				}
			})
		}
	}
}

func TestCropOffset(t *testing.T) {
	tests := []struct {
		size, crop int
		halfEven   int
		floor      int
	}{
		{224, 224, 0, 0},
		{225, 224, 0, 0}, // round(0.5) = 0
		{227, 224, 2, 1}, // round(1.5) = 2
		{229, 224, 2, 2}, // round(2.5) = 2
		{231, 224, 4, 3}, // round(3.5) = 4
		{386, 224, 81, 81},
		{220, 224, -2, -2}, // padding
		{221, 224, -2, -2}, // round(-1.5) = -2; -3 // 2 = -2
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size, "-", tt.crop), func(t *testing.T) {
			if got := (Recipe{CropRounding: CropRoundHalfEven}).cropOffset(tt.size, tt.crop); got != tt.halfEven {
				t.Errorf("half-even offset = %d, want %d", got, tt.halfEven)
			}
			if got := (Recipe{CropRounding: CropFloor}).cropOffset(tt.size, tt.crop); got != tt.floor {
				t.Errorf("floor offset = %d, want %d", got, tt.floor)
			}
		})
	}
}
