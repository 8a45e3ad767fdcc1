package report

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"

	"golang.org/x/image/draw"

	"github.com/reelmatch/reelmatch/internal/imageprep"
)

// Thumbnail sizes.
const (
	// ThumbWidth is the inlined thumbnail width in pixels: twice the
	// 110-150 px the report displays them at would double the file for no
	// visible gain on a normal screen, so ~160 px it is.
	ThumbWidth = 160
	// thumbQuality keeps a 160 px poster near 6-8 KB.
	thumbQuality = 80
)

// Thumbnail decodes a poster and scales it to width pixels (never up), as
// a JPEG.
func Thumbnail(path string, width int) ([]byte, error) {
	img, err := imageprep.Decode(path)
	if err != nil {
		return nil, err
	}
	bd := img.Bounds()
	if bd.Dx() > width {
		dst := image.NewRGBA(image.Rect(0, 0, width, max(1, bd.Dy()*width/bd.Dx())))
		draw.CatmullRom.Scale(dst, dst.Bounds(), img, bd, draw.Src, nil)
		img = dst
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: thumbQuality}); err != nil {
		return nil, fmt.Errorf("encode thumbnail of %q: %w", path, err)
	}
	return buf.Bytes(), nil
}
