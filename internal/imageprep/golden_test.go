package imageprep

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// The golden pixel tensors (the fixtures' resnet-tiny seed_pixels and
// tv_pixels, split off from golden.safetensors, and clip-tiny/golden.safetensors
// pixel_values) take 5 MB as float32. Every value in them is a uint8 level v run
// through the reference's normalisation, so testdata/golden keeps the
// levels as PNGs (150 kB) plus the SHA-256 of each original float32 slice:
// TestGolden rebuilds the float32 tensor from the levels with the
// reference's formula and checks the hash, so what the recipes are
// compared with is, bit for bit, the fixture.
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden from the repository's golden fixtures")

// goldenSet is one golden tensor: which recipe made it, from which
// images (in the tensor's order), and how the reference normalised.
type goldenSet struct {
	Name   string   // file name stem in testdata/golden
	File   string   // golden fixture file (reeltest.Golden)
	Tensor string   // tensor name in File
	Images []string // fixture images/<image>.png, in batch order
	// Fused: (v - mean·255)/(std·255) as HF's fast processors compute;
	// else (v/255 - mean)/std as torchvision's ToTensor + Normalize.
	Fused     bool
	Mean, Std [3]float64
	recipe    func(t testing.TB) Recipe
}

var goldenSets = []goldenSet{
	{
		Name: "seed", File: "resnet-tiny/golden.safetensors", Tensor: "seed_pixels",
		// Order from the file's __metadata__ "images".
		Images: []string{"landscape_rgb", "poster_rgb", "square_gray", "tall_rgba"},
		Mean:   [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225},
		recipe: func(testing.TB) Recipe { return Seed() },
	},
	{
		Name: "torchvision", File: "resnet-tiny/golden.safetensors", Tensor: "tv_pixels",
		Images: []string{"landscape_rgb", "poster_rgb", "square_gray", "tall_rgba"},
		Mean:   [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225},
		recipe: func(testing.TB) Recipe { return TorchVision() },
	},
	{
		Name: "clip", File: "clip-tiny/golden.safetensors", Tensor: "pixel_values",
		// The README's order; the file has no metadata. Matching each
		// output against all four golden slices confirmed it, and that
		// the PNGs (not the JPEGs) were the input.
		Images: []string{"poster_rgb", "landscape_rgb", "square_gray", "tall_rgba"},
		Fused:  true,
		Mean:   [3]float64{0.48145466, 0.4578275, 0.40821073}, Std: [3]float64{0.26862954, 0.26130258, 0.27577711},
		recipe: func(t testing.TB) Recipe {
			t.Helper()
			r, err := FromCLIPConfig(reeltest.Fixture(t, clipConfig))
			if err != nil {
				t.Fatal(err)
			}
			return r
		},
	},
}

// value is the reference's float32 for level v of channel c.
func (g goldenSet) value(v uint8, c int) float32 {
	if g.Fused {
		// mean and std become float32 tensors, then are divided by the
		// rescale factor in float32.
		return (float32(v) - float32(g.Mean[c])*255) / (float32(g.Std[c]) * 255)
	}
	return (float32(v)/255 - float32(g.Mean[c])) / float32(g.Std[c])
}

// level inverts value.
func (g goldenSet) level(f float32, c int) (uint8, error) {
	l := math.Round((float64(f)*g.Std[c] + g.Mean[c]) * 255)
	if l < 0 || l > 255 || g.value(uint8(l), c) != f {
		return 0, fmt.Errorf("%v is not a normalised uint8 level", f)
	}
	return uint8(l), nil
}

func sha(f []float32) string {
	b := make([]byte, 4*len(f))
	for i, v := range f {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// goldenHashes maps "<set>/<image>" to the SHA-256 of the fixture's
// float32 slice.
type goldenHashes map[string]string

// loadGolden returns the golden [3,H,W] tensor of one image of a set.
func loadGolden(t testing.TB, g goldenSet, img string, hashes goldenHashes) []float32 {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata/golden", g.Name+"_"+img+".png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// An opaque 8-bit RGB PNG decodes as *image.RGBA, alpha 255.
	rgba, ok := m.(*image.RGBA)
	if !ok {
		t.Fatalf("golden PNG decoded as %T, want *image.RGBA", m)
	}
	w, h := m.Bounds().Dx(), m.Bounds().Dy()
	out := make([]float32, 3*h*w)
	for c := range 3 {
		for y := range h {
			for x := range w {
				out[c*h*w+y*w+x] = g.value(rgba.Pix[y*rgba.Stride+4*x+c], c)
			}
		}
	}
	key := g.Name + "/" + img
	if got := sha(out); got != hashes[key] {
		t.Fatalf("%s: rebuilt golden has SHA-256 %s, the fixture's is %q", key, got, hashes[key])
	}
	return out
}

func readHashes(t testing.TB) goldenHashes {
	t.Helper()
	b, err := os.ReadFile("testdata/golden/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var h goldenHashes
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// writeGolden converts the fixtures into testdata/golden.
func writeGolden(t *testing.T) {
	hashes := goldenHashes{}
	for _, g := range goldenSets {
		f := reeltest.Golden(t, g.File)
		ten, err := f.Tensor(g.Tensor)
		if err != nil {
			t.Fatal(err)
		}
		if meta, ok := f.Metadata["images"]; ok {
			var names []string
			if err := json.Unmarshal([]byte(meta), &names); err != nil {
				t.Fatal(err)
			}
			if strings.Join(names, ",") != strings.Join(g.Images, ",") {
				t.Fatalf("%s: metadata images %v, want %v", g.File, names, g.Images)
			}
		}
		n, h, w := ten.Shape[0], ten.Shape[2], ten.Shape[3]
		if n != len(g.Images) || ten.Shape[1] != 3 {
			t.Fatalf("%s %s: shape %v", g.File, g.Tensor, ten.Shape)
		}
		for i, name := range g.Images {
			slice := ten.F32[i*3*h*w : (i+1)*3*h*w]
			hashes[g.Name+"/"+name] = sha(slice)
			m := image.NewNRGBA(image.Rect(0, 0, w, h))
			for c := range 3 {
				for y := range h {
					for x := range w {
						l, err := g.level(slice[c*h*w+y*w+x], c)
						if err != nil {
							t.Fatalf("%s %s[%d]: %v", g.File, g.Tensor, i, err)
						}
						m.Pix[y*m.Stride+4*x+c] = l
						m.Pix[y*m.Stride+4*x+3] = 255
					}
				}
			}
			err := atomicfile.Write(filepath.Join("testdata/golden", g.Name+"_"+name+".png"), 0o644, func(wr io.Writer) error {
				return (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(wr, m)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	b, _ := json.MarshalIndent(hashes, "", "  ")
	if err := atomicfile.WriteFile("testdata/golden/golden.json", append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
