package imageprep

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"

	"golang.org/x/image/draw"
)

// Thumbnail decodes the image file at path as DecodeFile does (the poster
// rule, the decode memory budget) and returns it scaled to width pixels
// (never up) as a JPEG of the given quality, for pages that show posters.
func Thumbnail(ctx context.Context, path string, width, quality int) ([]byte, error) {
	img, release, err := DecodeFile(ctx, path)
	if err != nil {
		return nil, err
	}
	defer release()
	bd := img.Bounds()
	if bd.Dx() > width {
		dst := image.NewRGBA(image.Rect(0, 0, width, max(1, bd.Dy()*width/bd.Dx())))
		draw.CatmullRom.Scale(dst, dst.Bounds(), img, bd, draw.Src, nil)
		img = dst
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("encode thumbnail of %q: %w", path, err)
	}
	return buf.Bytes(), nil
}
