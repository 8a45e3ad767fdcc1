package report

import (
	"context"

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
	return imageprep.Thumbnail(context.Background(), path, width, thumbQuality)
}
