package imageprep

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"

	"golang.org/x/image/webp"

	"github.com/reelmatch/reelmatch/internal/inputfile"
)

// ErrUnknownFormat is returned (wrapped) when the bytes are none of the
// formats Decode reads.
var ErrUnknownFormat = errors.New("unknown image format (want JPEG, PNG, WebP or GIF)")

// DecodeFile reads the image at path as an input file of kind
// inputfile.Image (a regular file within its cap, read interruptibly) and
// decodes it with DecodeBytes. Errors name the file once.
func DecodeFile(ctx context.Context, path string) (image.Image, func(), error) {
	b, err := inputfile.ReadFile(ctx, path, inputfile.Image)
	if err != nil {
		return nil, nil, err // names the path already
	}
	img, release, err := decode(ctx, b)
	if err != nil {
		return nil, nil, fmt.Errorf("decode %q: %w", path, err)
	}
	return img, release, nil
}

// DecodeBytes decodes an in-memory image: the format is sniffed from the
// content, never trusted from a name, and EXIF orientation (JPEG APP1,
// PNG eXIf, WebP EXIF chunk) is applied, so the result is upright. The
// header is checked against the poster rule first (see Inspect), then the
// image waits for its share of the decode memory (see Acquire) and is
// decoded. The caller must call release once it no longer uses the pixels
// (after Recipe.Apply, say). Truncated or corrupt input gives an error,
// never a panic; ctx ending while waiting gives an error wrapping ErrBusy.
func DecodeBytes(ctx context.Context, b []byte) (img image.Image, release func(), err error) {
	img, release, err = decode(ctx, b)
	if err != nil {
		return nil, nil, fmt.Errorf("decode image: %w", err)
	}
	return img, release, nil
}

// Check tells whether b is a usable poster: the poster rule (Inspect), then
// a full decode under the decode memory budget, whose pixels are dropped.
// prepare keeps exactly the posters Check accepts, which are the posters
// embed can encode.
func Check(ctx context.Context, b []byte) error {
	_, release, err := decode(ctx, b)
	if err != nil {
		return err
	}
	release()
	return nil
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

// decode is DecodeBytes without the wrapping.
func decode(ctx context.Context, b []byte) (image.Image, func(), error) {
	info, err := Inspect(b)
	if err != nil {
		return nil, nil, err
	}
	release, err := Acquire(ctx, info.Cost)
	if err != nil {
		return nil, nil, err
	}
	img, err := decodePixels(info.Format, b)
	if err != nil {
		release()
		return nil, nil, err
	}
	return img, release, nil
}

// decodePixels decodes b, whose header Inspect accepted.
func decodePixels(format string, b []byte) (img image.Image, err error) {
	// The standard decoders are meant not to panic on bad input, but a
	// poster collection is untrusted input and one bad file must not kill
	// a batch: turn any panic into an error.
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%s decoder panicked: %v", format, r)
		}
	}()
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
		if strings.HasPrefix(err.Error(), format+":") { // "png: invalid format: ..."
			return nil, err
		}
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
