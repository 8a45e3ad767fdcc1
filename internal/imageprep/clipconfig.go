package imageprep

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/reelmatch/reelmatch/internal/inputfile"
)

// hfConfig is the subset of an HF image processor's
// preprocessor_config.json this package honours. Pointers tell a missing
// field (take CLIPImageProcessor's default) from a zero one.
type hfConfig struct {
	ImageProcessorType string          `json:"image_processor_type"`
	DoResize           *bool           `json:"do_resize"`
	Size               json.RawMessage `json:"size"`
	Resample           *int            `json:"resample"`
	DoCenterCrop       *bool           `json:"do_center_crop"`
	CropSize           json.RawMessage `json:"crop_size"`
	DoRescale          *bool           `json:"do_rescale"`
	RescaleFactor      *float64        `json:"rescale_factor"`
	DoNormalize        *bool           `json:"do_normalize"`
	ImageMean          []float64       `json:"image_mean"`
	ImageStd           []float64       `json:"image_std"`
	DoConvertRGB       *bool           `json:"do_convert_rgb"`
}

// hfSize is HF's size dict; an integer also appears in older configs.
type hfSize struct {
	ShortestEdge int `json:"shortest_edge"`
	Height       int `json:"height"`
	Width        int `json:"width"`
}

func parseSize(raw json.RawMessage) (hfSize, error) {
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return hfSize{ShortestEdge: n, Height: n, Width: n}, nil
	}
	var s hfSize
	err := json.Unmarshal(raw, &s)
	return s, err
}

// OpenAI CLIP's normalisation constants (transformers
// image_utils.OPENAI_CLIP_MEAN / OPENAI_CLIP_STD), the defaults of
// CLIPImageProcessor.
var (
	clipMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	clipStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// FromCLIPConfig reads an HF CLIPImageProcessor preprocessor_config.json at
// path and returns the recipe it describes, as transformers' default
// (torchvision-backed, "fast") processor applies it: ATen's uint8 resize
// arithmetic, torchvision's centre crop, rescale fused into normalisation.
// That processor made the clip-tiny golden, which this reproduces exactly. Every field is read from the
// file; a missing one takes CLIPImageProcessor's default (shortest edge
// 224, bicubic, centre crop 224, rescale 1/255, OpenAI CLIP mean/std).
func FromCLIPConfig(preprocessorConfigJSON string) (Recipe, error) {
	b, err := inputfile.ReadFile(context.Background(), preprocessorConfigJSON, inputfile.Config)
	if err != nil {
		return Recipe{}, fmt.Errorf("read image preprocessor config: %w", err)
	}
	r, err := ParseCLIPConfig(b)
	if err != nil {
		return Recipe{}, fmt.Errorf("image preprocessor config %q: %w", preprocessorConfigJSON, err)
	}
	return r, nil
}

// ParseCLIPConfig is FromCLIPConfig on the file's content.
func ParseCLIPConfig(data []byte) (Recipe, error) {
	var c hfConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return Recipe{}, err
	}
	on := func(p *bool) bool { return p == nil || *p }
	r := Recipe{Name: "clip", Filter: Bicubic, Arithmetic: TorchArithmetic, CropRounding: clipCropRounding, FusedRescale: true}
	if c.Resample != nil {
		r.Filter = Filter(*c.Resample)
	}
	if _, _, ok := r.Filter.kernel(); !ok {
		return Recipe{}, fmt.Errorf("resample %d (%s) is not supported; use 1-5 (Pillow's antialiased filters)", r.Filter, r.Filter)
	}
	if on(c.DoResize) {
		size := hfSize{ShortestEdge: 224}
		if len(c.Size) > 0 {
			var err error
			if size, err = parseSize(c.Size); err != nil {
				return Recipe{}, fmt.Errorf("size: %w", err)
			}
		}
		switch {
		case size.ShortestEdge > 0:
			r.Resize, r.ShortestEdge = ResizeShortestEdge, size.ShortestEdge
		case size.Height > 0 && size.Width > 0:
			r.Resize, r.Height, r.Width = ResizeExact, size.Height, size.Width
		default:
			return Recipe{}, fmt.Errorf("size %s: want shortest_edge or height and width", c.Size)
		}
	}
	if on(c.DoCenterCrop) {
		crop := hfSize{Height: 224, Width: 224}
		if len(c.CropSize) > 0 {
			var err error
			if crop, err = parseSize(c.CropSize); err != nil {
				return Recipe{}, fmt.Errorf("crop_size: %w", err)
			}
		}
		if crop.Height <= 0 || crop.Width <= 0 {
			return Recipe{}, fmt.Errorf("crop_size %s: want height and width", c.CropSize)
		}
		r.CropHeight, r.CropWidth = crop.Height, crop.Width
	}
	r.Rescale = 1
	if on(c.DoRescale) {
		r.Rescale = 1.0 / 255
		if c.RescaleFactor != nil {
			r.Rescale = *c.RescaleFactor
		}
	}
	if on(c.DoNormalize) {
		r.Mean, r.Std = clipMean, clipStd
		if c.ImageMean != nil {
			if len(c.ImageMean) != 3 {
				return Recipe{}, fmt.Errorf("image_mean has %d values, want 3", len(c.ImageMean))
			}
			for i, v := range c.ImageMean {
				r.Mean[i] = float32(v)
			}
		}
		if c.ImageStd != nil {
			if len(c.ImageStd) != 3 {
				return Recipe{}, fmt.Errorf("image_std has %d values, want 3", len(c.ImageStd))
			}
			for i, v := range c.ImageStd {
				if v == 0 {
					return Recipe{}, fmt.Errorf("image_std[%d] is zero", i)
				}
				r.Std[i] = float32(v)
			}
		}
	}
	// do_convert_rgb false would hand a grey or RGBA image to the model
	// as is; every model here takes 3 channels, so we always convert.
	_ = c.DoConvertRGB
	return r, nil
}

// clipCropRounding is how HF's CLIP processor places its centre crop.
const clipCropRounding = CropRoundHalfEven
