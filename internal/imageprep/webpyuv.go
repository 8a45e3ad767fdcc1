package imageprep

import "image"

// x/image/webp hands back lossy (VP8) pictures as 4:2:0 *image.YCbCr,
// whose At and color.YCbCrToRGB treat them as full-range JFIF and repeat
// chroma. VP8 is limited-range BT.601, and libwebp (which Pillow uses)
// interpolates chroma; the two disagree by 7.5 levels on average on our
// test poster. vp8ToNRGBA converts as libwebp's default RGB output does
// (src/dsp/yuv.h VP8YUVToR/G/B, src/dsp/upsampling.c UPSAMPLE_FUNC).

func vp8Clip8(v int32) uint8 {
	const yuvFix2 = 6
	const mask = (256 << yuvFix2) - 1
	if v&^mask == 0 {
		return uint8(v >> yuvFix2)
	}
	if v < 0 {
		return 0
	}
	return 255
}

func multHi(v, coeff int32) int32 { return (v * coeff) >> 8 }

func vp8Pixel(y, u, v uint8) (uint8, uint8, uint8) {
	yy, uu, vv := int32(y), int32(u), int32(v)
	return vp8Clip8(multHi(yy, 19077) + multHi(vv, 26149) - 14234),
		vp8Clip8(multHi(yy, 19077) - multHi(uu, 6419) - multHi(vv, 13320) + 8708),
		vp8Clip8(multHi(yy, 19077) + multHi(uu, 33050) - 17685)
}

// vp8ToNRGBA converts a decoded VP8 picture (alpha from a, when non-nil).
func vp8ToNRGBA(m *image.YCbCr, alpha []uint8, alphaStride int) *image.NRGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	cw := (w + 1) / 2
	uvRow := func(cy int) ([]uint8, []uint8) {
		return m.Cb[cy*m.CStride : cy*m.CStride+cw], m.Cr[cy*m.CStride : cy*m.CStride+cw]
	}
	put := func(y int, row []uint8, uv []uint32) {
		dst := out.Pix[y*out.Stride:]
		for x := range w {
			r, g, b := vp8Pixel(row[x], uint8(uv[x]&0xff), uint8(uv[x]>>16))
			dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = r, g, b, 255
			if alpha != nil {
				dst[4*x+3] = alpha[y*alphaStride+x]
			}
		}
	}
	top := make([]uint32, w)
	bot := make([]uint32, w)
	// upsample is UPSAMPLE_FUNC: chroma for the row pair (t, b) between
	// chroma rows tu/tv (nearer to t) and cu/cv (nearer to b), with u in
	// the low and v in the high half of each word as libwebp packs them.
	upsample := func(tu, tv, cu, cv []uint8) {
		load := func(u, v []uint8, i int) uint32 { return uint32(u[i]) | uint32(v[i])<<16 }
		tl, l := load(tu, tv, 0), load(cu, cv, 0)
		top[0] = (3*tl + l + 0x00020002) >> 2
		bot[0] = (3*l + tl + 0x00020002) >> 2
		last := (w - 1) >> 1
		for x := 1; x <= last; x++ {
			t, uv := load(tu, tv, x), load(cu, cv, x)
			avg := tl + t + l + uv + 0x00080008
			d12 := (avg + 2*(t+l)) >> 3
			d03 := (avg + 2*(tl+uv)) >> 3
			top[2*x-1] = (d12 + tl) >> 1
			top[2*x] = (d03 + t) >> 1
			bot[2*x-1] = (d03 + l) >> 1
			bot[2*x] = (d12 + uv) >> 1
			tl, l = t, uv
		}
		if w&1 == 0 {
			top[w-1] = (3*tl + l + 0x00020002) >> 2
			bot[w-1] = (3*l + tl + 0x00020002) >> 2
		}
		for i := range w { // keep each half to its 8-bit sample
			top[i] &= 0x00ff00ff
			bot[i] &= 0x00ff00ff
		}
	}
	// io_dec.c EmitFancyRGB: row 0 alone from chroma row 0, then row
	// pairs (2k-1, 2k) between chroma rows k-1 and k, and a last odd row
	// from the last chroma row alone.
	u0, v0 := uvRow(0)
	upsample(u0, v0, u0, v0)
	put(0, m.Y[0:], top)
	for y := 1; y+1 < h; y += 2 {
		pu, pv := uvRow((y - 1) / 2)
		cu, cv := uvRow((y + 1) / 2)
		upsample(pu, pv, cu, cv)
		put(y, m.Y[y*m.YStride:], top)
		put(y+1, m.Y[(y+1)*m.YStride:], bot)
	}
	if h > 1 && h%2 == 0 {
		lu, lv := uvRow((h - 1) / 2)
		upsample(lu, lv, lu, lv)
		put(h-1, m.Y[(h-1)*m.YStride:], top)
	}
	return out
}
