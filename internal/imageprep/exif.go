package imageprep

import (
	"bytes"
	"encoding/binary"
	"image"
)

// exifOrientation returns the EXIF Orientation tag (1..8) of an encoded
// image, or 0 when there is none or it cannot be read. A broken EXIF block
// is ignored rather than failing the decode, as Pillow's exif_transpose
// would leave such an image as stored.
func exifOrientation(format string, b []byte) int {
	var tiff []byte
	switch format {
	case "jpeg":
		tiff = jpegExif(b)
	case "png":
		tiff = chunk(b[8:], "eXIf", false)
	case "webp":
		tiff = chunk(b[12:], "EXIF", true)
	}
	if len(tiff) >= 6 && string(tiff[:6]) == "Exif\x00\x00" {
		tiff = tiff[6:]
	}
	return tiffOrientation(tiff)
}

// jpegExif finds the TIFF payload of the first Exif APP1 segment, scanning
// marker segments up to the start of scan.
func jpegExif(b []byte) []byte {
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xff {
			return nil
		}
		marker := b[i+1]
		if marker == 0xff { // fill byte
			i++
			continue
		}
		if marker == 0xda || marker == 0xd9 { // SOS, EOI: no more headers
			return nil
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return nil
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xe1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return seg[6:]
		}
		i += 2 + n
	}
	return nil
}

// chunk returns the payload of the first chunk named name in a PNG
// (big-endian length, type, data, CRC) or RIFF (type, little-endian
// length, data, pad byte) chunk stream.
func chunk(b []byte, name string, riff bool) []byte {
	for len(b) >= 8 {
		var n int
		var typ string
		if riff {
			typ, n = string(b[:4]), int(binary.LittleEndian.Uint32(b[4:]))
		} else {
			n, typ = int(binary.BigEndian.Uint32(b[:4])), string(b[4:8])
		}
		if n < 0 || n > len(b)-8 {
			return nil
		}
		if typ == name {
			return b[8 : 8+n]
		}
		skip := 8 + n
		if riff {
			skip += n & 1
		} else {
			skip += 4
		}
		if skip > len(b) {
			return nil
		}
		b = b[skip:]
	}
	return nil
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int(bo.Uint32(t[4:]))
	if off < 8 || off+2 > len(t) {
		return 0
	}
	n := int(bo.Uint16(t[off:]))
	for i := range n {
		e := off + 2 + 12*i
		if e+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		typ := bo.Uint16(t[e+2:])
		var v int
		switch typ {
		case 3: // SHORT
			v = int(bo.Uint16(t[e+8:]))
		case 4: // LONG, seen in some writers
			v = int(bo.Uint32(t[e+8:]))
		default:
			return 0
		}
		if v < 1 || v > 8 {
			return 0
		}
		return v
	}
	return 0
}

// orient returns img transformed for display per EXIF orientation o (2..8),
// as Pillow's ImageOps.exif_transpose does. The result is an *image.Gray
// for grey inputs and an opaque *image.NRGBA otherwise (alpha is dropped,
// which Apply would do anyway).
func orient(img image.Image, o int) image.Image {
	src := toPlane(img)
	W, H := src.w, src.h
	w, h := W, H
	if o >= 5 {
		w, h = H, W
	}
	// at maps an output pixel to the input pixel it shows.
	at := func(x, y int) (int, int) {
		switch o {
		case 2:
			return W - 1 - x, y
		case 3:
			return W - 1 - x, H - 1 - y
		case 4:
			return x, H - 1 - y
		case 5:
			return y, x
		case 6:
			return y, H - 1 - x
		case 7:
			return W - 1 - y, H - 1 - x
		case 8:
			return W - 1 - y, x
		}
		return x, y
	}
	if src.ch == 1 {
		out := image.NewGray(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				sx, sy := at(x, y)
				out.Pix[y*out.Stride+x] = src.c[0][sy*W+sx]
			}
		}
		return out
	}
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			sx, sy := at(x, y)
			i := sy*W + sx
			d := out.Pix[y*out.Stride+4*x:]
			d[0], d[1], d[2], d[3] = src.c[0][i], src.c[1][i], src.c[2][i], 255
		}
	}
	return out
}
