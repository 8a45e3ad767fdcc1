package imageprep

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"

	"golang.org/x/image/webp"
)

// ErrUnknownFormat is returned (wrapped) when the bytes are none of the
// formats Decode reads.
var ErrUnknownFormat = errors.New("unknown image format (want JPEG, PNG, WebP or GIF)")

// Decode reads and decodes the poster at path. The format is sniffed from
// the content, never trusted from the extension. EXIF orientation (JPEG
// APP1, PNG eXIf, WebP EXIF chunk) is applied, so the result is upright.
// Errors name the file: `decode poster "x.jpg": ...`.
func Decode(path string) (image.Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("decode poster %q: %w", path, err)
	}
	img, err := decodeBytes(b)
	if err != nil {
		return nil, fmt.Errorf("decode poster %q: %w", path, err)
	}
	return img, nil
}

// DecodeBytes decodes an in-memory poster as Decode does. Truncated or
// corrupt input gives an error, never a panic.
func DecodeBytes(b []byte) (image.Image, error) {
	img, err := decodeBytes(b)
	if err != nil {
		return nil, fmt.Errorf("decode poster: %w", err)
	}
	return img, nil
}

// Format names the sniffed format of b ("jpeg", "png", "webp", "gif"), or
// "" when it is none of them.
func Format(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff:
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	}
	return ""
}

// maxPixels bounds the decoded size so a hostile header cannot make us
// allocate gigabytes: 40 megapixels (e.g. 5000×8000) is far beyond any
// poster in our data (typically 300×447). A variable so the fuzz test can
// lower it.
var maxPixels = 40_000_000

// maxAspect bounds the ratio of the longer side to the shorter: a poster is
// about 2:3, and a shortest-edge resize of a 1×N strip would be 232·N
// pixels wide.
const maxAspect = 100

func decodeBytes(b []byte) (img image.Image, err error) {
	format := Format(b)
	if format == "" {
		return nil, ErrUnknownFormat
	}
	// The standard decoders are meant not to panic on bad input, but a
	// poster collection is untrusted input and one bad file must not kill
	// a batch: turn any panic into an error.
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%s decoder panicked: %v", format, r)
		}
	}()
	cfg, err := decodeConfig(format, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels ||
		max(cfg.Width, cfg.Height) > maxAspect*min(cfg.Width, cfg.Height) {
		return nil, fmt.Errorf("%s: unsupported size %dx%d", format, cfg.Width, cfg.Height)
	}
	r := bytes.NewReader(b)
	switch format {
	case "jpeg":
		img, err = jpeg.Decode(r)
	case "png":
		img, err = png.Decode(r)
	case "webp":
		img, err = webp.Decode(r)
		if err == nil {
			img = fromVP8(img)
		}
	case "gif":
		img, err = gif.Decode(r) // the first frame
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", format, err)
	}
	if o := exifOrientation(format, b); o > 1 {
		img = orient(img, o)
	}
	return img, nil
}

func decodeConfig(format string, b []byte) (image.Config, error) {
	r := bytes.NewReader(b)
	switch format {
	case "jpeg":
		return jpeg.DecodeConfig(r)
	case "png":
		return png.DecodeConfig(r)
	case "webp":
		return webp.DecodeConfig(r)
	default:
		return gif.DecodeConfig(r)
	}
}

// fromVP8 converts x/image/webp's lossy results as libwebp would; lossless
// (VP8L) pictures arrive as *image.NRGBA and pass through.
func fromVP8(img image.Image) image.Image {
	switch m := img.(type) {
	case *image.NYCbCrA:
		if m.Rect.Min == (image.Point{}) && m.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			return vp8ToNRGBA(&m.YCbCr, m.A, m.AStride)
		}
	case *image.YCbCr:
		if m.Rect.Min == (image.Point{}) && m.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			return vp8ToNRGBA(m, nil, 0)
		}
	}
	return img
}
