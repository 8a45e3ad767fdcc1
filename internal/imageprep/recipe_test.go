package imageprep

import (
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

func TestFromCLIPConfig(t *testing.T) {
	got, err := FromCLIPConfig(reeltest.Fixture(t, clipConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := Recipe{
		Name: "clip", Resize: ResizeShortestEdge, ShortestEdge: 64, Filter: Bicubic,
		Arithmetic: TorchArithmetic, CropHeight: 64, CropWidth: 64, CropRounding: CropRoundHalfEven,
		Rescale: 0.00392156862745098, Mean: clipMean, Std: clipStd, FusedRescale: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recipe (-want +got):\n%s", diff)
	}
	if _, err := FromCLIPConfig("testdata/missing.json"); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: error %v, want one naming the file", err)
	}
}

func TestParseCLIPConfig(t *testing.T) {
	def := Recipe{
		Name: "clip", Resize: ResizeShortestEdge, ShortestEdge: 224, Filter: Bicubic,
		Arithmetic: TorchArithmetic, CropHeight: 224, CropWidth: 224, CropRounding: CropRoundHalfEven,
		Rescale: 1.0 / 255, Mean: clipMean, Std: clipStd, FusedRescale: true,
	}
	with := func(f func(*Recipe)) Recipe { r := def; f(&r); return r }
	tests := []struct {
		name, json string
		want       Recipe
		wantErr    string
	}{
		{name: "defaults", json: `{}`, want: def},
		{name: "exact size", json: `{"size": {"height": 32, "width": 48}}`,
			want: with(func(r *Recipe) { r.Resize, r.ShortestEdge, r.Height, r.Width = ResizeExact, 0, 32, 48 })},
		{name: "int sizes", json: `{"size": 96, "crop_size": 80}`,
			want: with(func(r *Recipe) { r.ShortestEdge, r.CropHeight, r.CropWidth = 96, 80, 80 })},
		{name: "no resize no crop", json: `{"do_resize": false, "do_center_crop": false}`,
			want: with(func(r *Recipe) { r.Resize, r.ShortestEdge, r.CropHeight, r.CropWidth = NoResize, 0, 0, 0 })},
		{name: "no normalize", json: `{"do_normalize": false}`,
			want: with(func(r *Recipe) { r.Mean, r.Std = [3]float32{}, [3]float32{} })},
		{name: "no rescale", json: `{"do_rescale": false}`, want: with(func(r *Recipe) { r.Rescale = 1 })},
		{name: "bilinear custom stats", json: `{"resample": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}`,
			want: with(func(r *Recipe) {
				r.Filter, r.Mean, r.Std = Bilinear, [3]float32{0.5, 0.5, 0.5}, [3]float32{0.5, 0.5, 0.5}
			})},
		{name: "nearest", json: `{"resample": 0}`, wantErr: "resample 0 (nearest) is not supported"},
		{name: "bad json", json: `{"size": }`, wantErr: "invalid character"},
		{name: "two means", json: `{"image_mean": [0.5, 0.5]}`, wantErr: "image_mean has 2 values"},
		{name: "zero std", json: `{"image_std": [0.5, 0, 0.5]}`, wantErr: "image_std[1] is zero"},
		{name: "empty size", json: `{"size": {}}`, wantErr: "want shortest_edge or height and width"},
		{name: "bad crop", json: `{"crop_size": {"height": 0}}`, wantErr: "crop_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCLIPConfig([]byte(tt.json))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("recipe (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSizeAndShape(t *testing.T) {
	clip224, err := ParseCLIPConfig([]byte(`{"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}}`))
	if err != nil {
		t.Fatal(err)
	}
	noCrop := TorchVision()
	noCrop.CropHeight, noCrop.CropWidth = 0, 0
	tests := []struct {
		name         string
		r            Recipe
		w, h         int // input size
		wantH, wantW int // Size()
		outH, outW   int // Apply's actual shape
	}{
		{"seed", Seed(), 300, 447, 224, 224, 224, 224},
		{"torchvision", TorchVision(), 300, 447, 224, 224, 224, 224},
		{"clip224", clip224, 300, 447, 224, 224, 224, 224},
		// int(232 * 447 / 300) = 345: the longer side is truncated.
		{"shortest edge only", noCrop, 300, 447, 0, 0, 345, 232},
		{"shortest edge landscape", noCrop, 447, 300, 0, 0, 232, 345},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, w := tt.r.Size()
			if h != tt.wantH || w != tt.wantW {
				t.Errorf("Size() = %d, %d, want %d, %d", h, w, tt.wantH, tt.wantW)
			}
			got := tt.r.Apply(image.NewGray(image.Rect(0, 0, tt.w, tt.h)))
			if len(got) != 3*tt.outH*tt.outW {
				t.Errorf("Apply gave %d values, want 3*%d*%d", len(got), tt.outH, tt.outW)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	clip, err := FromCLIPConfig(reeltest.Fixture(t, clipConfig))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, r := range []Recipe{Seed(), TorchVision(), clip} {
		fp := r.Fingerprint()
		if fp != r.Fingerprint() {
			t.Errorf("%s: fingerprint not stable", r.Name)
		}
		if other, ok := seen[fp]; ok {
			t.Errorf("%s and %s share fingerprint %s", r.Name, other, fp)
		}
		seen[fp] = r.Name
	}
	changed := Seed()
	changed.Filter = Bicubic
	if changed.Fingerprint() == Seed().Fingerprint() {
		t.Error("changing the filter kept the fingerprint")
	}
}

// TestCropPads: a crop larger than the resized image pads with zero
// samples, centred, as torchvision's center_crop does.
func TestCropPads(t *testing.T) {
	r := Recipe{Name: "pad", CropHeight: 4, CropWidth: 6, Rescale: 1}
	img := image.NewGray(image.Rect(0, 0, 2, 2))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	got := r.Apply(img)
	// One channel of the 4×6 output: the 2×2 block sits at rows 1-2,
	// columns 2-3.
	want := []float32{
		0, 0, 0, 0, 0, 0,
		0, 0, 200, 200, 0, 0,
		0, 0, 200, 200, 0, 0,
		0, 0, 0, 0, 0, 0,
	}
	for c := range 3 {
		if diff := cmp.Diff(want, got[c*24:(c+1)*24]); diff != "" {
			t.Errorf("channel %d (-want +got):\n%s", c, diff)
		}
	}
}

// TestAlphaDropped: RGBA pixels keep their stored colour whatever their
// alpha, as Pillow's convert("RGB") does (no compositing on white/black).
func TestAlphaDropped(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.NRGBA{R: 10, G: 20, B: 30, A: 0})
	got := Recipe{Rescale: 1}.Apply(img)
	if diff := cmp.Diff([]float32{10, 20, 30}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestCMYKToRGB pins Pillow's cmyk2rgb arithmetic (Convert.c).
func TestCMYKToRGB(t *testing.T) {
	tests := []struct {
		c, m, y, k uint8
		want       [3]uint8
	}{
		{0, 0, 0, 0, [3]uint8{255, 255, 255}},
		{255, 255, 255, 0, [3]uint8{0, 0, 0}},
		{0, 0, 0, 255, [3]uint8{0, 0, 0}},
		{128, 64, 0, 100, [3]uint8{77, 116, 155}}, // 155 - round(c·155/255)
	}
	for _, tt := range tests {
		r, g, b := cmykToRGB(tt.c, tt.m, tt.y, tt.k)
		if got := [3]uint8{r, g, b}; got != tt.want {
			t.Errorf("cmykToRGB(%d,%d,%d,%d) = %v, want %v", tt.c, tt.m, tt.y, tt.k, got, tt.want)
		}
	}
}

// TestApplyIntoMatchesApply: filling one slot of a batch buffer gives
// Apply's values.
func TestApplyIntoMatchesApply(t *testing.T) {
	img := decodeFile(t, testPath(t, "images/poster_rgb.jpg"))
	r := Seed()
	batch := make([]float32, 2*3*224*224)
	r.ApplyInto(batch[3*224*224:], img)
	if diff := cmp.Diff(r.Apply(img), batch[3*224*224:]); diff != "" {
		t.Errorf("(-Apply +ApplyInto):\n%s", diff)
	}
}

// TestEmptyImage: an empty image gives an all-padding tensor, not a panic.
func TestEmptyImage(t *testing.T) {
	for _, r := range []Recipe{Seed(), TorchVision()} {
		got := r.Apply(image.NewRGBA(image.Rectangle{}))
		if len(got) != 3*224*224 {
			t.Fatalf("%s: %d values", r.Name, len(got))
		}
		if want := -r.Mean[2] / r.Std[2]; got[len(got)-1] != want {
			t.Errorf("%s: last value %v, want the zero level %v", r.Name, got[len(got)-1], want)
		}
	}
}
