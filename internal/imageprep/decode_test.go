package imageprep

import (
	"context"
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// levelDiff compares two decoded images as Apply sees them (8-bit RGB,
// alpha dropped) and returns the largest and mean per-sample difference in
// levels.
func levelDiff(t testing.TB, got, want image.Image) (int, float64) {
	t.Helper()
	if got.Bounds().Size() != want.Bounds().Size() {
		t.Fatalf("size %v, want %v", got.Bounds().Size(), want.Bounds().Size())
	}
	g, w := rgb(toPlane(got)), rgb(toPlane(want))
	maxD, sum := 0, 0
	for i := range g {
		d := int(g[i]) - int(w[i])
		if d < 0 {
			d = -d
		}
		maxD = max(maxD, d)
		sum += d
	}
	return maxD, float64(sum) / float64(len(g))
}

// rgb returns the samples of a plane as 3 channels, replicating grey.
func rgb(p plane) []uint8 {
	out := make([]uint8, 0, 3*p.w*p.h)
	for c := range 3 {
		out = append(out, p.c[min(c, p.ch-1)]...)
	}
	return out
}

// clipConfig is the tiny CLIP fixture's preprocessor_config.json.
const clipConfig = "clip-tiny/preprocessor_config.json"

// testPath resolves a test image: "images/<name>" is one of the four
// fixture posters in the repository's golden fixtures (reeltest.Fixture),
// shared with other packages; anything else is in this package's testdata
// (made from them by testdata/gen.sh).
func testPath(t testing.TB, rel string) string {
	t.Helper()
	if strings.HasPrefix(rel, "images/") {
		return reeltest.Fixture(t, rel)
	}
	return filepath.Join("testdata", filepath.FromSlash(rel))
}

func decodeFile(t testing.TB, path string) image.Image {
	t.Helper()
	img, release, err := DecodeFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	release()
	return img
}

// TestDecodeVariants compares our decoder with the reference decoders'
// output (libjpeg-turbo, libwebp, libpng, giflib via ImageMagick; see
// testdata/gen.sh). Lossless formats must agree exactly. JPEG may differ
// by the IDCT (at most 3 levels here, on a few percent of samples); CMYK
// adds ImageMagick's float CMYK→RGB against Pillow's integer one (±1).
// Lossy WebP is converted as libwebp does (webpyuv.go), so it is exact too.
func TestDecodeVariants(t *testing.T) {
	tests := []struct {
		file, want string
		maxLevels  int
		maxMean    float64
		wantType   string
	}{
		{"decode/progressive.jpg", "decode/progressive.jpg.want.png", 3, 0.1, "*image.YCbCr"},
		{"decode/s444.jpg", "decode/s444.jpg.want.png", 3, 0.1, "*image.YCbCr"},
		{"decode/s422.jpg", "decode/s422.jpg.want.png", 3, 0.1, "*image.YCbCr"},
		{"decode/s440.jpg", "decode/s440.jpg.want.png", 3, 0.1, "*image.YCbCr"},
		{"decode/gray.jpg", "decode/gray.jpg.want.png", 2, 0.1, "*image.Gray"},
		{"decode/cmyk.jpg", "decode/cmyk.jpg.want.png", 4, 0.6, "*image.CMYK"},
		{"images/poster_rgb.jpg", "decode/poster_rgb.jpg.want.png", 3, 0.1, "*image.YCbCr"},
		{"decode/lossless.webp", "images/poster_rgb.png", 0, 0, "*image.NRGBA"},
		{"decode/lossy.webp", "decode/lossy.webp.want.png", 0, 0, "*image.NRGBA"},
		{"decode/rgb16.png", "images/poster_rgb.png", 0, 0, "*image.RGBA64"},
		{"decode/gray16.png", "images/square_gray.png", 0, 0, "*image.Gray16"},
		{"decode/palette.png", "decode/palette.png.want.png", 0, 0, "*image.Paletted"},
		{"decode/poster.gif", "decode/poster.gif.want.png", 0, 0, "*image.Paletted"},
		{"images/tall_rgba.png", "images/tall_rgba.png", 0, 0, "*image.NRGBA"},
		{"images/square_gray.png", "images/square_gray.png", 0, 0, "*image.Gray"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := decodeFile(t, testPath(t, tt.file))
			if typ := typeName(got); typ != tt.wantType {
				t.Errorf("decoded as %s, want %s", typ, tt.wantType)
			}
			maxD, mean := levelDiff(t, got, decodeFile(t, testPath(t, tt.want)))
			t.Logf("max %d levels, mean %.3f", maxD, mean)
			if maxD > tt.maxLevels || mean > tt.maxMean {
				t.Errorf("differs from %s by max %d levels (tolerance %d), mean %.3f (tolerance %.3f)", tt.want, maxD, tt.maxLevels, mean, tt.maxMean)
			}
		})
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *image.YCbCr:
		return "*image.YCbCr"
	case *image.Gray:
		return "*image.Gray"
	case *image.Gray16:
		return "*image.Gray16"
	case *image.CMYK:
		return "*image.CMYK"
	case *image.NRGBA:
		return "*image.NRGBA"
	case *image.RGBA:
		return "*image.RGBA"
	case *image.RGBA64:
		return "*image.RGBA64"
	case *image.NRGBA64:
		return "*image.NRGBA64"
	case *image.Paletted:
		return "*image.Paletted"
	}
	return "other"
}

// TestAnimatedGIFFirstFrame: an animated GIF gives its first frame
// (Pillow's Image.open shows frame 0 too).
func TestAnimatedGIFFirstFrame(t *testing.T) {
	img := decodeFile(t, "testdata/decode/anim.gif")
	r, g, b, _ := img.At(3, 3).RGBA()
	if got := [3]uint32{r >> 8, g >> 8, b >> 8}; got != [3]uint32{255, 0, 0} {
		t.Errorf("pixel (3,3) = %v, want red of the first frame", got)
	}
}

// TestOrientation decodes one picture tagged with each EXIF orientation
// and compares with what libjpeg + ImageMagick's -auto-orient show. A
// wrong transform moves whole 8×8 blocks of other colours (hundreds of
// levels); JPEG decoding differences stay within a few levels.
func TestOrientation(t *testing.T) {
	tests := []struct{ file, want string }{
		{"1.jpg", "1.want.png"},
		{"2.jpg", "2.want.png"},
		{"3.jpg", "3.want.png"},
		{"4.jpg", "4.want.png"},
		{"5.jpg", "5.want.png"},
		{"6.jpg", "6.want.png"},
		{"6_intel.jpg", "6.want.png"}, // little-endian TIFF header
		{"7.jpg", "7.want.png"},
		{"8.jpg", "8.want.png"},
		{"8.png", "8.png.want.png"}, // PNG eXIf chunk, paletted
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := decodeFile(t, filepath.Join("testdata/orient", tt.file))
			maxD, mean := levelDiff(t, got, decodeFile(t, filepath.Join("testdata/orient", tt.want)))
			if maxD > 8 || mean > 1 {
				t.Errorf("differs from %s by max %d levels, mean %.2f: wrong orientation?", tt.want, maxD, mean)
			}
		})
	}
}

func TestExifOrientationParse(t *testing.T) {
	b, err := os.ReadFile("testdata/orient/6.jpg")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		format string
		data   []byte
		want   int
	}{
		{"jpeg", "jpeg", b, 6},
		{"no exif", "jpeg", []byte{0xff, 0xd8, 0xff, 0xd9}, 0},
		{"truncated segment", "jpeg", b[:30], 0},
		{"bad tiff", "jpeg", []byte("\xff\xd8\xff\xe1\x00\x10Exif\x00\x00XX\x00\x2a\x00\x00"), 0},
		{"webp chunk", "webp", append([]byte("RIFF\x00\x00\x00\x00WEBPEXIF\x1a\x00\x00\x00"), tiffWith(3)...), 3},
		{"out of range value", "webp", append([]byte("RIFF\x00\x00\x00\x00WEBPEXIF\x1a\x00\x00\x00"), tiffWith(9)...), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exifOrientation(tt.format, tt.data); got != tt.want {
				t.Errorf("orientation = %d, want %d", got, tt.want)
			}
		})
	}
}

// tiffWith is a little-endian TIFF block whose IFD0 holds only Orientation.
func tiffWith(o byte) []byte {
	return []byte{'I', 'I', 42, 0, 8, 0, 0, 0, // header, IFD0 at 8
		1, 0, // one entry
		0x12, 0x01, 3, 0, 1, 0, 0, 0, o, 0, 0, 0, // Orientation SHORT 1 = o
		0, 0, 0, 0} // no next IFD
}

func TestDecodeErrors(t *testing.T) {
	jpg, err := os.ReadFile(testPath(t, "images/poster_rgb.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	pngb, err := os.ReadFile(testPath(t, "images/poster_rgb.png"))
	if err != nil {
		t.Fatal(err)
	}
	webp, err := os.ReadFile("testdata/decode/lossless.webp")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"empty", nil, "unknown image format"},
		{"text", []byte("id,name,intro\n"), "unknown image format"},
		{"jpeg header only", jpg[:20], "jpeg: "},
		{"jpeg half", jpg[:len(jpg)/2], "jpeg: "},
		{"jpeg without EOI", jpg[:len(jpg)-2], "jpeg: unexpected EOF"},
		{"png half", pngb[:len(pngb)/2], "png: "},
		{"png header only", pngb[:33], "png: "},
		{"webp half", webp[:len(webp)/2], "webp: "},
		{"huge jpeg", hugeJPEGHeader(0xea, 0x60, 0xea, 0x60), "image over the pixel budget: the jpeg is 60000x60000, 3600.0 megapixels; the budget is 16.8 megapixels"},
		{"strip jpeg", hugeJPEGHeader(0, 1, 0x27, 0x10), "extreme aspect ratio: the jpeg is 10000x1, more than 1000:1"},
		{"zero width jpeg", hugeJPEGHeader(0, 1, 0, 0), "the image is 0x1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "x.jpg")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := DecodeFile(context.Background(), path)
			if err == nil {
				t.Fatal("DecodeFile succeeded, want an error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, `decode "`+path+`": `) || !strings.Contains(msg, tt.wantErr) {
				t.Errorf("error %q, want it to start with decode %q and contain %q", msg, path, tt.wantErr)
			}
			if _, _, err := DecodeBytes(context.Background(), tt.data); err == nil {
				t.Error("DecodeBytes succeeded, want an error")
			}
			if err := Check(context.Background(), tt.data); err == nil {
				t.Error("Check accepted it")
			}
		})
	}
	if _, _, err := DecodeFile(context.Background(), filepath.Join(dir, "missing.jpg")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
	if _, _, err := DecodeBytes(context.Background(), nil); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("empty input: %v, want ErrUnknownFormat", err)
	}
}

// hugeJPEGHeader is a JPEG whose frame header claims the given big-endian
// height and width.
func hugeJPEGHeader(h1, h0, w1, w0 byte) []byte {
	return []byte{0xff, 0xd8, // SOI
		0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, // APP0 JFIF
		0xff, 0xc0, 0, 11, 8, h1, h0, w1, w0, 1, 1, 0x11, 0, // SOF0 1 component
		0xff, 0xd9}
}

// TestSniffNotExtension: a PNG named .jpg decodes as PNG.
func TestSniffNotExtension(t *testing.T) {
	b, err := os.ReadFile(testPath(t, "images/poster_rgb.png"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "poster.jpg")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got := decodeFile(t, path)
	if d, _ := levelDiff(t, got, decodeFile(t, testPath(t, "images/poster_rgb.png"))); d != 0 {
		t.Errorf("differs by %d levels", d)
	}
	if diff := cmp.Diff("png", Format(b)); diff != "" {
		t.Errorf("Format (-want +got):\n%s", diff)
	}
}
