package reeltest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// PNGBomb is a valid PNG of w×h black grey pixels: a decompression bomb,
// since its compressed rows take about a thousandth of the pixels (a
// 6300×6300 one is about 40 KB and decodes to 40 MB; the same as RGBA
// would be 160 MB). It is built row by row, without allocating the image.
func PNGBomb(t testing.TB, w, h int) []byte {
	t.Helper()
	return pngBomb(t, w, h, 0, 1)
}

// PNGBombRGBA is PNGBomb with 8-bit RGBA pixels (transparent black), which
// decode to four bytes each: the most memory a PNG of a given size takes
// at 8 bits.
func PNGBombRGBA(t testing.TB, w, h int) []byte {
	t.Helper()
	return pngBomb(t, w, h, 6, 4)
}

// pngBomb writes w×h zero pixels of the given PNG colour type and bytes
// per pixel.
func pngBomb(t testing.TB, w, h int, colorType byte, bpp int) []byte {
	t.Helper()
	var idat bytes.Buffer
	zw, err := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	row := make([]byte, 1+w*bpp) // filter byte 0, then the samples
	for range h {
		if _, err := zw.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	b := bytes.NewBuffer(pngHeader(w, h, colorType))
	pngChunk(b, "IDAT", idat.Bytes())
	pngChunk(b, "IEND", nil)
	return b.Bytes()
}

// PNGHeader is the signature and header chunk of an 8-bit greyscale PNG
// of w×h pixels, with no pixel data: enough for a decoder to read the
// size, cheap to make for any size.
func PNGHeader(w, h int) []byte { return pngHeader(w, h, 0) }

func pngHeader(w, h int, colorType byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, colorType // 8 bits per sample
	pngChunk(&b, "IHDR", ihdr)
	return b.Bytes()
}

func pngChunk(b *bytes.Buffer, name string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	b.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(name))
	crc.Write(data)
	b.WriteString(name)
	b.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	b.Write(n[:])
}

// JPEGHeader is the start of a baseline JPEG whose frame header declares
// w×h pixels (at most 65535 each) and three components, with no image
// data: what a decompression bomb shows a decoder before any pixel.
func JPEGHeader(w, h int) []byte {
	return []byte{0xff, 0xd8, // SOI
		0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, // APP0 JFIF
		0xff, 0xc0, 0, 17, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3, // SOF0
		1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
		0xff, 0xd9} // EOI
}
