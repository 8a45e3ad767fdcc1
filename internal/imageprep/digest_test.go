package imageprep

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
)

// The digests pin what Apply returns, bit for bit, on many decoded images
// and recipes, so that a faster decoder, converter or resampler can only
// land if it changes nothing: the feature caches of every user stay valid.
// testdata/digests.json holds the SHA-256 of each float32 tensor, written
// by the implementation the caches were made with (-update-digests
// rewrites it; do that only for a change meant to move the pixels, and
// say so in the changelog).
var updateDigests = flag.Bool("update-digests", false, "rewrite testdata/digests.json from the current implementation")

const digestsFile = "testdata/digests.json"

// digestImage is one decoded input of the digest test.
type digestImage struct {
	name string
	img  image.Image
}

// digestImages returns every image file in testdata (all formats,
// subsamplings and orientations the decoder handles), the fixture posters,
// and synthetic images of awkward sizes: YCbCr of every subsampling ratio
// built directly (so the chroma upsampling sees widths and heights of 1,
// 2, 3 and odd numbers), JPEGs of random noise (every clamp is reached) and
// the other pixel types toPlane converts.
func digestImages(t testing.TB) []digestImage {
	t.Helper()
	var out []digestImage
	var files []string
	for _, pat := range []string{"testdata/decode/*", "testdata/orient/*.jpg", "testdata/bench_poster.jpg"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	for _, name := range []string{"landscape_rgb.jpg", "poster_rgb.jpg", "square_gray.jpg", "tall_rgba.jpg", "tall_rgba.png"} {
		files = append(files, testPath(t, "images/"+name))
	}
	slices.Sort(files)
	for _, f := range files {
		if strings.HasSuffix(f, ".want.png") {
			continue // reference decodes, not inputs
		}
		out = append(out, digestImage{"file/" + filepath.Base(f), decodeFile(t, f)})
	}
	rng := rand.New(rand.NewPCG(12, 34))
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	sizes := [][2]int{{1, 1}, {2, 2}, {3, 5}, {4, 3}, {5, 9}, {17, 33}, {33, 17}, {64, 64}, {301, 447}}
	for _, r := range ratios {
		for _, s := range sizes {
			m := image.NewYCbCr(image.Rect(0, 0, s[0], s[1]), r)
			for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
				for i := range p {
					p[i] = uint8(rng.IntN(256))
				}
			}
			out = append(out, digestImage{fmt.Sprintf("ycbcr/%v/%dx%d", r, s[0], s[1]), m})
		}
	}
	// A sub-image (non-zero origin) takes the unfancy path.
	big := image.NewYCbCr(image.Rect(0, 0, 40, 30), image.YCbCrSubsampleRatio420)
	for i := range big.Y {
		big.Y[i] = uint8(rng.IntN(256))
	}
	for i := range big.Cb {
		big.Cb[i], big.Cr[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
	}
	out = append(out, digestImage{"ycbcr/subimage", big.SubImage(image.Rect(3, 5, 37, 29))})
	for _, s := range [][2]int{{7, 300}, {300, 447}, {447, 300}, {640, 100}, {224, 224}} {
		noise := image.NewNRGBA(image.Rect(0, 0, s[0], s[1]))
		for i := range noise.Pix {
			noise.Pix[i] = uint8(rng.IntN(256))
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, noise, &jpeg.Options{Quality: 95}); err != nil {
			t.Fatal(err)
		}
		img, release, err := DecodeBytes(t.Context(), buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		release()
		out = append(out, digestImage{fmt.Sprintf("jpeg-noise/%dx%d", s[0], s[1]), img})
		out = append(out, digestImage{fmt.Sprintf("nrgba-noise/%dx%d", s[0], s[1]), noise})
	}
	gray := image.NewGray(image.Rect(0, 0, 45, 61))
	rgba := image.NewRGBA(image.Rect(0, 0, 45, 61))
	cmyk := image.NewCMYK(image.Rect(0, 0, 45, 61))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(rng.IntN(256))
	}
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(rng.IntN(256))
		cmyk.Pix[i] = uint8(rng.IntN(256))
	}
	pal := image.NewPaletted(image.Rect(0, 0, 45, 61), color.Palette{color.Black, color.White, color.RGBA{200, 10, 30, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(rng.IntN(4)) // 3 is outside the palette
	}
	out = append(out, digestImage{"gray", gray}, digestImage{"rgba", rgba}, digestImage{"cmyk", cmyk}, digestImage{"paletted", pal})
	return out
}

// digestRecipes are the shipped recipes plus every filter and arithmetic
// on downscales, upscales, mixed scales, crops that pad and no resize.
func digestRecipes(t testing.TB) []Recipe {
	t.Helper()
	clip224, err := ParseCLIPConfig([]byte(`{"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}, "resample": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	out := []Recipe{Seed(), TorchVision(), clip224}
	for _, f := range []Filter{Box, Bilinear, Hamming, Bicubic, Lanczos} {
		for _, a := range []Arithmetic{PillowArithmetic, TorchArithmetic} {
			base := Seed()
			base.Filter, base.Arithmetic = f, a
			down := base
			down.Name, down.Height, down.Width = fmt.Sprintf("down/%v/%d", f, a), 50, 38
			mixed := base
			mixed.Name, mixed.Height, mixed.Width = fmt.Sprintf("mixed/%v/%d", f, a), 131, 19
			crop := base
			crop.Name, crop.Resize, crop.ShortestEdge = fmt.Sprintf("crop/%v/%d", f, a), ResizeShortestEdge, 70
			crop.CropHeight, crop.CropWidth, crop.CropRounding = 80, 41, CropFloor
			out = append(out, down, mixed, crop)
		}
	}
	none := Seed()
	none.Name, none.Resize, none.CropHeight, none.CropWidth = "none-crop", NoResize, 40, 500
	return append(out, none)
}

// TestPrepareDigests checks Apply against testdata/digests.json on every
// image and recipe of digestImages and digestRecipes (the shipped recipes
// on all images; the others on the synthetic ones and the bench poster).
func TestPrepareDigests(t *testing.T) {
	got := map[string]string{}
	recipes := digestRecipes(t)
	for _, im := range digestImages(t) {
		for i, r := range recipes {
			if i >= 3 && strings.HasPrefix(im.name, "file/") && im.name != "file/bench_poster.jpg" {
				continue
			}
			got[im.name+" "+r.Name] = sha(r.Apply(im.img))
		}
	}
	if *updateDigests {
		err := atomicfile.Write(digestsFile, 0o644, func(w io.Writer) error {
			e := json.NewEncoder(w)
			e.SetIndent("", " ")
			return e.Encode(got)
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d digests to %s", len(got), digestsFile)
		return
	}
	b, err := os.ReadFile(digestsFile)
	if err != nil {
		t.Fatalf("%v (run go test -run TestPrepareDigests -update-digests)", err)
	}
	var want map[string]string
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: %v", digestsFile, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("prepared tensors changed (-want +got):\n%s", diff)
	}
}
