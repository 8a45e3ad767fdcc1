package imageprep

import "math"

// This file is a Go port of the arithmetic of Pillow's ImagingResample
// (src/libImaging/Resample.c): separable convolution, horizontal pass then
// vertical pass, on 8-bit samples with fixed-point coefficients and a
// rounding/clipping back to uint8 between the passes. torchvision's
// Resize on a PIL image, and the seed's preprocessing, call exactly this, so
// matching it bit for bit makes our tensors equal to the references'.
// golang.org/x/image/draw cannot be used: its kernels neither widen with
// the scale factor the way Pillow's do (support = filter support × scale
// when downscaling) nor reproduce the 22-bit fixed point and the uint8
// rounding between passes.

// Filter is a resampling filter, numbered as Pillow's Image.Resampling enum
// (the numbers HF preprocessor_config.json files store in "resample").
type Filter int

// Pillow's filter numbers (PIL/Image.py, class Resampling).
const (
	Nearest  Filter = 0
	Lanczos  Filter = 1
	Bilinear Filter = 2
	Bicubic  Filter = 3
	Box      Filter = 4
	Hamming  Filter = 5
)

// String names the filter as Pillow does.
func (f Filter) String() string {
	switch f {
	case Nearest:
		return "nearest"
	case Lanczos:
		return "lanczos"
	case Bilinear:
		return "bilinear"
	case Bicubic:
		return "bicubic"
	case Box:
		return "box"
	case Hamming:
		return "hamming"
	}
	return "unknown"
}

// kernel returns the filter function and its support at scale 1, or false
// for a filter this package does not implement (Nearest, which Pillow does
// not route through ImagingResample either).
func (f Filter) kernel() (func(float64) float64, float64, bool) {
	switch f {
	case Box:
		return boxFilter, 0.5, true
	case Bilinear:
		return bilinearFilter, 1, true
	case Hamming:
		return hammingFilter, 1, true
	case Bicubic:
		return bicubicFilter, 2, true
	case Lanczos:
		return lanczosFilter, 3, true
	}
	return nil, 0, false
}

func boxFilter(x float64) float64 {
	if x > -0.5 && x <= 0.5 {
		return 1
	}
	return 0
}

func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

func hammingFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x == 0 {
		return 1
	}
	if x >= 1 {
		return 0
	}
	x *= math.Pi
	// Pillow writes 0.54f and 0.46f: float constants widened to double.
	return math.Sin(x) / x * (float64(float32(0.54)) + float64(float32(0.46))*math.Cos(x))
}

// bicubicFilter is Keys' cubic convolution with a = -0.5, as Pillow uses.
func bicubicFilter(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return ((a+2)*x-(a+3))*x*x + 1
	}
	if x < 2 {
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

func lanczosFilter(x float64) float64 {
	if -3 <= x && x < 3 {
		return sinc(x) * sinc(x/3)
	}
	return 0
}

// precisionBits is Pillow's PRECISION_BITS (32 - 8 - 2): 8 bits of result
// and two bits of headroom for kernels with negative lobes.
const precisionBits = 32 - 8 - 2

// coeffs holds the fixed-point weights of one resampling direction: output
// pixel i reads n[i] input pixels starting at lo[i] with weights
// k[i*ksize : i*ksize+n[i]].
type coeffs struct {
	ksize int
	prec  uint // fixed-point bits of k
	lo, n []int
	k     []int32
}

// Arithmetic names an implementation of antialiased resampling whose
// rounding a Recipe reproduces. Both share Pillow's filter support, centre
// and normalisation; they differ in fixed-point precision.
type Arithmetic int

const (
	// PillowArithmetic is Pillow's ImagingResample on 8-bit images: 22-bit
	// coefficients (what torchvision.transforms.Resize does on a PIL
	// image).
	PillowArithmetic Arithmetic = iota
	// TorchArithmetic is ATen's uint8 antialiased kernel
	// (aten/src/ATen/native/cpu/UpSampleKernel.cpp
	// _compute_index_ranges_int16_weights and UpSampleKernelAVXAntialias.h):
	// int16 coefficients at the largest precision (< 22 bits) at which the
	// axis' largest weight still fits, and a = -0.5 cubic evaluated in
	// ATen's operation order. torchvision.transforms.v2.functional.resize
	// on a uint8 tensor does this, and so do HF's default ("fast") image
	// processors.
	TorchArithmetic
)

// torchBicubic is ATen's HelperInterpCubic::aa_filter (a = -0.5) with
// cubic_convolution1/2 (aten/src/ATen/native/UpSample.h), whose operation
// order differs from Pillow's in the last bits.
func torchBicubic(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return ((a+2)*x-(a+3))*x*x + 1
	}
	if x < 2 {
		return ((a*x-5*a)*x+8*a)*x - 4*a
	}
	return 0
}

// precompute mirrors Pillow's precompute_coeffs followed by
// normalize_coeffs_8bpc (or ATen's int16 variant) for resampling [in0,in1)
// of an axis of inSize pixels onto outSize pixels.
func precompute(inSize int, in0, in1 float64, outSize int, f Filter, arith Arithmetic) coeffs {
	fn, support, _ := f.kernel()
	if arith == TorchArithmetic && f == Bicubic {
		fn = torchBicubic
	}
	scale := (in1 - in0) / float64(outSize)
	filterscale := max(scale, 1)
	support *= filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, lo: make([]int, outSize), n: make([]int, outSize), k: make([]int32, outSize*ksize)}
	w := make([]float64, outSize*ksize)
	wtMax := 0.0
	for xx := range outSize {
		center := in0 + (float64(xx)+0.5)*scale
		ss := 1 / filterscale
		xmin := max(int(center-support+0.5), 0) // C truncation toward zero, as Pillow
		xmax := min(int(center+support+0.5), inSize) - xmin
		xmax = min(max(xmax, 0), ksize) // ATen clamps a rare off-by-one
		ww := 0.0
		wx := w[xx*ksize : xx*ksize+xmax]
		for x := range wx {
			wx[x] = fn((float64(x+xmin) - center + 0.5) * ss)
			ww += wx[x]
		}
		if ww != 0 {
			for x := range wx {
				wx[x] /= ww
				wtMax = max(wtMax, wx[x])
			}
		}
		c.lo[xx], c.n[xx] = xmin, xmax
	}
	c.prec = precisionBits
	if arith == TorchArithmetic {
		for c.prec = 0; c.prec < 22; c.prec++ {
			if int(0.5+wtMax*float64(int(1)<<(c.prec+1))) >= 1<<15 {
				break
			}
		}
	}
	scaleK := float64(int(1) << c.prec)
	for i, v := range w {
		v *= scaleK
		if v < 0 {
			c.k[i] = int32(-0.5 + v)
		} else {
			c.k[i] = int32(0.5 + v)
		}
	}
	return c
}

// clip8 turns a fixed-point sum into a byte like Pillow's clip8 lookup table.
func clip8(ss int32, prec uint) uint8 {
	v := ss >> prec
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// plane is an 8-bit image stored planar: ch (1 or 3) channels of w×h
// samples each, rows without padding. Planar rows make each resampling
// pass a plain dot product over contiguous bytes.
type plane struct {
	w, h, ch int
	c        [][]uint8
}

func newPlane(w, h, ch int) plane {
	buf := make([]uint8, w*h*ch)
	p := plane{w: w, h: h, ch: ch, c: make([][]uint8, ch)}
	for i := range ch {
		p.c[i] = buf[i*w*h : (i+1)*w*h : (i+1)*w*h]
	}
	return p
}

// window is the part of a resized image that is kept: columns [x0,x0+w) and
// rows [y0,y0+h) of an outW×outH resize. A centre crop only ever needs the
// window, so the resampler computes nothing outside it; every computed pixel
// is the same as in the full resize.
type window struct {
	outW, outH int
	x0, y0     int
	w, h       int
}

// resize resamples src to win.outW×win.outH with filter f and returns the
// pixels inside win, exactly as Pillow's Image.resize followed by crop.
func resize(src plane, win window, f Filter, arith Arithmetic) plane {
	needH := win.outW != src.w
	needV := win.outH != src.h
	if !needH && !needV {
		return cropPlane(src, win.x0, win.y0, win.w, win.h)
	}
	vert := precompute(src.h, 0, float64(src.h), win.outH, f, arith)
	tmp := src
	rowOff := 0 // row of src that tmp row 0 holds
	colOff := 0 // column of the resize that tmp column 0 holds
	if needH {
		hor := precompute(src.w, 0, float64(src.w), win.outW, f, arith)
		// Rows of src the kept output rows read (Pillow's ybox_first/last,
		// narrowed to the window).
		y0, y1 := win.y0, win.y0+win.h
		if needV {
			y0 = vert.lo[win.y0]
			last := win.y0 + win.h - 1
			y1 = vert.lo[last] + vert.n[last]
		}
		tmp = newPlane(win.w, y1-y0, src.ch)
		horizontalPass(tmp, src, y0, hor, win.x0)
		rowOff, colOff = y0, win.x0
	}
	if !needV {
		return cropPlane(tmp, win.x0-colOff, win.y0-rowOff, win.w, win.h)
	}
	out := newPlane(win.w, win.h, src.ch)
	acc := make([]int32, win.w)
	for ch := range src.ch {
		verticalPass(out.c[ch], out.w, tmp.c[ch], tmp.w, vert, win.y0, rowOff, win.x0-colOff, acc)
	}
	return out
}

// horizontal fills dst (rows of dstW samples: output columns from x0, input
// rows from y0) from src (rows of srcW samples).
func horizontal(dst []uint8, dstW int, src []uint8, srcW int, y0 int, c coeffs, x0 int) {
	half := int32(1) << (c.prec - 1)
	ks := c.ksize
	rows := len(dst) / dstW
	for yy := range rows {
		in := src[(yy+y0)*srcW : (yy+y0+1)*srcW]
		out := dst[yy*dstW : (yy+1)*dstW]
		for xx := range out {
			ox := xx + x0
			lo, n := c.lo[ox], c.n[ox]
			k := c.k[ox*ks : ox*ks+n]
			p := in[lo : lo+n]
			p = p[:len(k)]
			s := half
			for x, kx := range k {
				s += int32(p[x]) * kx
			}
			out[xx] = clip8(s, c.prec)
		}
	}
}

// vertical fills dst (rows of dstW samples, output rows from y0) from src
// (rows of srcW samples) whose row 0 is input row rowOff; dst column xx
// reads src column xx+colOff. acc is scratch of dstW values.
func vertical(dst []uint8, dstW int, src []uint8, srcW int, c coeffs, y0, rowOff, colOff int, acc []int32) {
	half := int32(1) << (c.prec - 1)
	ks := c.ksize
	rows := len(dst) / dstW
	acc = acc[:dstW]
	for yy := range rows {
		oy := yy + y0
		lo, n := c.lo[oy]-rowOff, c.n[oy]
		k := c.k[oy*ks : oy*ks+n]
		for i := range acc {
			acc[i] = half
		}
		for y, ky := range k {
			row := src[(lo+y)*srcW+colOff : (lo+y)*srcW+colOff+dstW]
			row = row[:len(acc)]
			for i, v := range row {
				acc[i] += int32(v) * ky
			}
		}
		out := dst[yy*dstW : (yy+1)*dstW]
		out = out[:len(acc)]
		for i, s := range acc {
			out[i] = clip8(s, c.prec)
		}
	}
}

func cropPlane(src plane, x0, y0, w, h int) plane {
	if x0 == 0 && y0 == 0 && w == src.w && h == src.h {
		return src
	}
	out := newPlane(w, h, src.ch)
	for ch := range src.ch {
		for y := range h {
			copy(out.c[ch][y*w:(y+1)*w], src.c[ch][(y+y0)*src.w+x0:])
		}
	}
	return out
}
