package imageprep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
)

// ResizeMode says how a Recipe chooses the resized size.
type ResizeMode int

const (
	// NoResize keeps the decoded size.
	NoResize ResizeMode = iota
	// ResizeExact resizes to Height×Width, ignoring the aspect ratio
	// (torchvision Resize((h, w))).
	ResizeExact
	// ResizeShortestEdge scales the shorter side to ShortestEdge and the
	// longer one to int(ShortestEdge·long/short), truncated, as both
	// torchvision (_compute_resized_output_size) and HF
	// (get_resize_output_image_size with default_to_square=False) do.
	ResizeShortestEdge
)

// CropRounding says how a centre crop places its window when the margin is
// odd.
type CropRounding int

const (
	// CropRoundHalfEven is torchvision's center_crop:
	// int(round((size - crop) / 2.0)) with Python's round half to even.
	// HF's fast (torchvision-backed) image processors use it too.
	CropRoundHalfEven CropRounding = iota
	// CropFloor is HF's slow image_transforms.center_crop:
	// (size - crop) // 2.
	CropFloor
)

// Recipe describes how a decoded image becomes a float32 tensor of layout
// [3, H, W] (channels R, G, B; rows top to bottom). A Recipe is a value: it
// is safe for concurrent use.
type Recipe struct {
	// Name identifies the recipe in fingerprints and logs.
	Name string
	// Resize, Height, Width and ShortestEdge choose the resized size.
	Resize        ResizeMode
	Height, Width int
	ShortestEdge  int
	// Filter is the resampling filter (Pillow's, antialiased: its support
	// widens by the scale factor when downscaling).
	Filter Filter
	// Arithmetic selects whose fixed-point rounding the resize reproduces.
	Arithmetic Arithmetic
	// CropHeight and CropWidth, when non-zero, take a centre crop after
	// resizing; a crop larger than the image pads with zeros.
	CropHeight, CropWidth int
	CropRounding          CropRounding
	// Rescale multiplies the 0..255 samples (1/255 for ToTensor).
	Rescale float64
	// Mean and Std normalise each channel after rescaling: (v - mean) / std.
	// Std zero means no normalisation.
	Mean, Std [3]float32
	// FusedRescale computes (v - mean/rescale) / (std/rescale) in float32,
	// as HF's torchvision-backed processors do
	// (_fuse_mean_std_and_rescale_factor), instead of rescaling first as
	// torchvision's ToTensor + Normalize do. The results differ in the
	// last bit of about two values in three.
	FusedRescale bool
}

// ImageNet statistics used by torchvision's pretrained weights
// (torchvision/transforms/_presets.py ImageClassification).
var (
	imageNetMean = [3]float32{0.485, 0.456, 0.406}
	imageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Seed is the seed project's recipe: PIL RGB, transforms.Resize((224, 224))
// (bilinear with antialias), ToTensor, ImageNet mean/std.
func Seed() Recipe {
	return Recipe{
		Name: "seed", Resize: ResizeExact, Height: 224, Width: 224,
		Filter: Bilinear, Rescale: 1.0 / 255, Mean: imageNetMean, Std: imageNetStd,
	}
}

// TorchVision is torchvision's ImageNet eval recipe for ResNet-50
// (IMAGENET1K_V2 transforms: resize_size 232, crop_size 224, bilinear with
// antialias, ImageNet mean/std).
func TorchVision() Recipe {
	return Recipe{
		Name: "torchvision", Resize: ResizeShortestEdge, ShortestEdge: 232,
		Filter: Bilinear, CropHeight: 224, CropWidth: 224, CropRounding: CropRoundHalfEven,
		Rescale: 1.0 / 255, Mean: imageNetMean, Std: imageNetStd,
	}
}

// Size is the output tensor's height and width, which every input shares
// when the recipe crops or resizes to an exact size; otherwise it depends on
// the input and Size returns 0, 0.
func (r Recipe) Size() (h, w int) {
	if r.CropHeight > 0 && r.CropWidth > 0 {
		return r.CropHeight, r.CropWidth
	}
	if r.Resize == ResizeExact {
		return r.Height, r.Width
	}
	return 0, 0 // depends on the input
}

// Fingerprint is a hex digest of every field, so a feature cache made
// with another recipe counts as stale.
func (r Recipe) Fingerprint() string {
	s := fmt.Sprintf("imageprep/v1 %+v", r)
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// resizedSize is the size the resize step produces for a w×h input.
func (r Recipe) resizedSize(w, h int) (int, int) {
	switch r.Resize {
	case ResizeExact:
		return r.Width, r.Height
	case ResizeShortestEdge:
		if w <= 0 || h <= 0 {
			return 0, 0
		}
		if w <= h {
			return r.ShortestEdge, int(float64(r.ShortestEdge) * float64(h) / float64(w))
		}
		return int(float64(r.ShortestEdge) * float64(w) / float64(h)), r.ShortestEdge
	}
	return w, h
}

// cropOffset places a crop of size crop in size, by the recipe's rounding.
func (r Recipe) cropOffset(size, crop int) int {
	d := size - crop
	if r.CropRounding == CropFloor {
		return floorDiv(d, 2)
	}
	// round(d/2) with ties to even: d odd gives k+0.5.
	q := floorDiv(d, 2)
	if d%2 != 0 && q%2 != 0 {
		q++
	}
	return q
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Apply turns img into a [3, H, W] row-major float32 tensor. It never
// fails: any decoded image has a defined result (an empty image gives
// an all-padding tensor).
func (r Recipe) Apply(img image.Image) []float32 {
	h, w := r.outSize(img.Bounds().Dx(), img.Bounds().Dy())
	out := make([]float32, 3*h*w)
	r.ApplyInto(out, img)
	return out
}

// outSize is the tensor size for a w×h input.
func (r Recipe) outSize(w, h int) (int, int) {
	rw, rh := r.resizedSize(w, h)
	if r.CropHeight > 0 && r.CropWidth > 0 {
		return r.CropHeight, r.CropWidth
	}
	return rh, rw
}

// ApplyInto writes Apply's result into dst, which must hold 3·H·W floats
// (for example one slot of a [batch, 3, H, W] buffer); it panics when dst
// has the wrong length, which is a programming error.
func (r Recipe) ApplyInto(dst []float32, img image.Image) {
	src := toPlane(img)
	rw, rh := r.resizedSize(src.w, src.h)
	oh, ow := r.outSize(src.w, src.h)
	if len(dst) != 3*oh*ow {
		panic(fmt.Sprintf("imageprep: ApplyInto dst has %d floats, want 3*%d*%d", len(dst), oh, ow))
	}
	// The crop window in resized coordinates, and where it lands in the
	// output (non-zero only when the crop pads).
	win := window{outW: rw, outH: rh, w: rw, h: rh}
	dx, dy := 0, 0
	if r.CropHeight > 0 && r.CropWidth > 0 {
		x0, y0 := r.cropOffset(rw, ow), r.cropOffset(rh, oh)
		win.x0, win.w, dx = clipSpan(x0, ow, rw)
		win.y0, win.h, dy = clipSpan(y0, oh, rh)
	}
	var pix plane
	if win.w > 0 && win.h > 0 && src.w > 0 && src.h > 0 {
		if r.Resize == NoResize {
			pix = cropPlane(src, win.x0, win.y0, win.w, win.h)
		} else {
			pix = resize(src, win, r.Filter, r.Arithmetic)
		}
	}
	r.normalize(dst, pix, oh, ow, dx, dy)
}

// clipSpan intersects the crop [off, off+crop) with [0, size): it returns
// the first kept resized index, how many are kept, and where they start in
// the output.
func clipSpan(off, crop, size int) (start, n, at int) {
	lo, hi := max(off, 0), min(off+crop, size)
	if hi <= lo {
		return 0, 0, 0
	}
	return lo, hi - lo, lo - off
}

// levels maps each channel's 0..255 samples to output values with the same
// float32 operations, in the same order, as the reference implementation.
func (r Recipe) levels() *[3][256]float32 {
	var lut [3][256]float32
	inv := float32(1 / r.Rescale) // HF: mean * (1 / rescale_factor)
	for c := range 3 {
		for v := range 256 {
			var f float32
			switch {
			case r.Std[c] == 0:
				f = float32(v) * float32(r.Rescale)
			case r.FusedRescale:
				f = (float32(v) - r.Mean[c]*inv) / (r.Std[c] * inv)
			case r.Rescale == 1.0/255:
				// ToTensor: x.float().div(255), then Normalize.
				f = (float32(v)/255 - r.Mean[c]) / r.Std[c]
			default:
				f = (float32(v)*float32(r.Rescale) - r.Mean[c]) / r.Std[c]
			}
			lut[c][v] = f
		}
	}
	return &lut
}

// normalize writes pix (placed at dx, dy in an oh×ow canvas whose other
// samples are zero) as normalised planes into dst.
func (r Recipe) normalize(dst []float32, pix plane, oh, ow, dx, dy int) {
	lut := r.levels()
	if pix.w != ow || pix.h != oh {
		for c := range 3 {
			z := lut[c][0]
			for i := c * oh * ow; i < (c+1)*oh*ow; i++ {
				dst[i] = z
			}
		}
	}
	if pix.w == 0 || pix.h == 0 {
		return
	}
	for c := range 3 {
		l := &lut[c]
		in := pix.c[min(c, pix.ch-1)]
		for y := range pix.h {
			o := dst[c*oh*ow+(y+dy)*ow+dx : c*oh*ow+(y+dy)*ow+dx+pix.w]
			row := in[y*pix.w : (y+1)*pix.w]
			for x, v := range row {
				o[x] = l[v]
			}
		}
	}
}
