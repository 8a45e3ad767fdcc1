package imageprep

import (
	"image"
	"image/color"
)

// toPlane converts a decoded image into 8-bit samples the way Pillow's
// Image.convert("RGB") would, keeping one channel for grayscale images: a
// grey image resized once and replicated equals the replicated image
// resized, because every channel is resampled with the same arithmetic.
//
// Alpha is dropped without compositing onto a background, as
// convert("RGB") does for RGBA (and the `tall_rgba` golden confirms):
// the colour of a fully transparent pixel is whatever the file stores.
func toPlane(img image.Image) plane {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.Gray:
		p := newPlane(w, h, 1)
		for y := range h {
			copy(p.c[0][y*w:(y+1)*w], m.Pix[y*m.Stride:])
		}
		return p
	case *image.Gray16:
		// Pillow would clip I;16 to 255 (Convert.c I16_RGB), whitening the
		// picture; we keep the high byte, as Pillow does for 16-bit RGB.
		p := newPlane(w, h, 1)
		for y := range h {
			row := m.Pix[y*m.Stride:]
			for x := range w {
				p.c[0][y*w+x] = row[2*x]
			}
		}
		return p
	}
	p := newPlane(w, h, 3)
	R, G, B := p.c[0], p.c[1], p.c[2]
	switch m := img.(type) {
	case *image.YCbCr:
		ycbcrToRGB(p, m)
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[y*m.Stride:]
			for x := range w {
				i := y*w + x
				R[i], G[i], B[i] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.RGBA:
		for y := range h {
			row := m.Pix[y*m.Stride:]
			for x := range w {
				r, g, bb, a := row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]
				if a != 255 {
					r, g, bb = unpremul(r, a), unpremul(g, a), unpremul(bb, a)
				}
				i := y*w + x
				R[i], G[i], B[i] = r, g, bb
			}
		}
	case *image.NRGBA64:
		for y := range h {
			row := m.Pix[y*m.Stride:]
			for x := range w {
				// High byte: Pillow unpacks 16-bit PNG RGB as "RGB;16B".
				i := y*w + x
				R[i], G[i], B[i] = row[8*x], row[8*x+2], row[8*x+4]
			}
		}
	case *image.CMYK:
		for y := range h {
			row := m.Pix[y*m.Stride:]
			for x := range w {
				i := y*w + x
				R[i], G[i], B[i] = cmykToRGB(row[4*x], row[4*x+1], row[4*x+2], row[4*x+3])
			}
		}
	case *image.Paletted:
		lut := make([][3]uint8, len(m.Palette))
		for i, c := range m.Palette {
			lut[i] = straightRGB(c)
		}
		for y := range h {
			row := m.Pix[y*m.Stride:]
			for x := range w {
				var c [3]uint8
				if int(row[x]) < len(lut) {
					c = lut[row[x]]
				}
				i := y*w + x
				R[i], G[i], B[i] = c[0], c[1], c[2]
			}
		}
	default:
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := straightRGB(img.At(x, y))
				R[i], G[i], B[i] = c[0], c[1], c[2]
				i++
			}
		}
	}
	return p
}

// straightRGB returns a colour's non-premultiplied 8-bit RGB, dropping alpha.
func straightRGB(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.NRGBA64:
		return [3]uint8{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8)}
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}

func unpremul(v, a uint8) uint8 {
	if a == 0 {
		return 0
	}
	return uint8((uint32(v)*255 + uint32(a)/2) / uint32(a))
}

// cmykToRGB is Pillow's cmyk2rgb (Convert.c): channel = (255-k) -
// round(c·(255-k)/255), with MULDIV255's rounding.
func cmykToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	nk := 255 - int32(k)
	f := func(v uint8) uint8 {
		t := int32(v)*nk + 128
		return uint8(nk - ((t>>8)+t)>>8)
	}
	return f(c), f(m), f(y)
}
