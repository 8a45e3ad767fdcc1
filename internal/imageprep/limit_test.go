package imageprep

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// allocated returns the bytes f allocates (all of them, freed or not: an
// upper bound of what it held at once).
func allocated(f func()) int64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return int64(b.TotalAlloc - a.TotalAlloc)
}

// noise fills an image with varied samples so that encoders cannot
// compress it to nothing.
func noise[T interface{ Set(x, y int, c color.Color) }](m T, w, h int) T {
	for y := range h {
		for x := range w {
			v := uint8(x*7 + y*13)
			m.Set(x, y, color.NRGBA{v, v ^ 0x5a, v + 77, 200 + v%56})
		}
	}
	return m
}

// TestCostBoundsAllocations checks Inspect's Cost against what decoding
// and every recipe really allocate, over each format, colour model and
// shape the decoders distinguish.
func TestCostBoundsAllocations(t *testing.T) {
	clip, err := ParseCLIPConfig([]byte(`{"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}, "resample": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	recipes := []Recipe{Seed(), TorchVision(), clip}
	files := map[string][]byte{
		"nrgba.png":      reeltest.PNG(t, noise(image.NewNRGBA(image.Rect(0, 0, 1200, 1800)), 1200, 1800)),
		"rgba64.png":     reeltest.PNG(t, noise(image.NewNRGBA64(image.Rect(0, 0, 600, 900)), 600, 900)),
		"gray.png":       reeltest.PNG(t, noise(image.NewGray(image.Rect(0, 0, 1000, 1000)), 1000, 1000)),
		"paletted.png":   reeltest.PNG(t, noise(image.NewPaletted(image.Rect(0, 0, 500, 700), color.Palette{color.Black, color.White, color.Gray{90}}), 500, 700)),
		"ycbcr.jpg":      reeltest.JPEG(t, noise(image.NewNRGBA(image.Rect(0, 0, 1000, 1500)), 1000, 1500), 90),
		"wide 200:1.png": reeltest.PNG(t, noise(image.NewNRGBA(image.Rect(0, 0, 2000, 10)), 2000, 10)),
		"tall 1:200.jpg": reeltest.JPEG(t, noise(image.NewNRGBA(image.Rect(0, 0, 10, 2000)), 10, 2000), 90),
		"1000:1.png":     reeltest.PNG(t, noise(image.NewNRGBA(image.Rect(0, 0, 5000, 5)), 5000, 5)),
		"1:1000.png":     reeltest.PNG(t, noise(image.NewGray(image.Rect(0, 0, 3, 3000)), 3, 3000)),
		"1x1.png":        reeltest.PNG(t, image.NewNRGBA(image.Rect(0, 0, 1, 1))),
	}
	for _, dir := range []string{"testdata/decode", "testdata/orient"} {
		names, err := filepath.Glob(filepath.Join(dir, "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if !strings.HasSuffix(n, ".want.png") {
				files[n] = reeltest.ReadFile(t, n)
			}
		}
	}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			info, err := Inspect(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recipes {
				var img image.Image
				got := allocated(func() {
					var release func()
					img, release, err = DecodeBytes(context.Background(), b)
					if err == nil {
						out := r.Apply(img)
						release()
						if v := out[len(out)/2]; math.IsNaN(float64(v)) {
							t.Errorf("%s gave NaN", r.Name)
						}
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				if got > info.Cost {
					t.Errorf("%s: decoding %dx%d %T and applying %s allocated %d bytes, over the estimated cost %d",
						name, info.Width, info.Height, img, r.Name, got, info.Cost)
				}
			}
		})
	}
}

func TestInspectRule(t *testing.T) {
	defer func(n int64) { _ = SetMaxPixels(n) }(MaxPixels())
	if err := SetMaxPixels(DefaultMaxPixels); err != nil {
		t.Fatal(err)
	}
	scans := reeltest.JPEGHeader(100, 100)
	scans = scans[:len(scans)-2]
	for range MaxJPEGScans + 1 {
		scans = append(scans, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0)
	}
	tests := []struct {
		name string
		data []byte
		is   error
		msg  string
	}{
		{"at the budget", reeltest.JPEGHeader(4096, 4096), nil, ""},
		{"one row over", reeltest.JPEGHeader(4096, 4097), ErrTooLarge, "the jpeg is 4096x4097, 16781312 pixels; the budget is 16777216 pixels (REELMATCH_MAX_IMAGE_PIXELS raises it)"},
		{"6300x6300 png bomb", reeltest.PNGBomb(t, 6300, 6300), ErrTooLarge, "the png is 6300x6300, 39.7 megapixels"},
		{"30000x30000 png header", reeltest.PNGHeader(30000, 30000), ErrTooLarge, "the png is 30000x30000, 900.0 megapixels"},
		{"65535 square jpeg", reeltest.JPEGHeader(65535, 65535), ErrTooLarge, "4294.8 megapixels"},
		{"1000:1", reeltest.JPEGHeader(5000, 5), nil, ""},
		{"1001:1", reeltest.JPEGHeader(5005, 5), ErrExtremeAspect, "the jpeg is 5005x5, more than 1000:1"},
		{"scan bomb", scans, nil, "jpeg has 501 scans, more than 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			got := allocated(func() { _, err = Inspect(tt.data) })
			if got > 1<<20 {
				t.Errorf("Inspect allocated %d bytes, want under 1 MiB", got)
			}
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
	// A bomb is refused by DecodeBytes and Check before its pixels exist.
	bomb := reeltest.PNGBomb(t, 6300, 6300)
	var err error
	if got := allocated(func() { err = Check(context.Background(), bomb) }); got > 1<<20 || !errors.Is(err, ErrTooLarge) {
		t.Errorf("Check(bomb) = %v after allocating %d bytes, want ErrTooLarge under 1 MiB", err, got)
	}
	if err := SetMaxPixels(0); err == nil {
		t.Error("SetMaxPixels(0) accepted")
	}
}

// TestAcquire checks the decode memory budget: shares wait for each other
// (first come, first served),
// an image over the whole budget runs alone, and a waiter gives up with
// its context.
func TestAcquire(t *testing.T) {
	defer func(n int64) { _ = SetDecodeMemory(n) }(DecodeMemory())
	if err := SetDecodeMemory(64 << 20); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r1, err := Acquire(ctx, 40<<20)
	if err != nil {
		t.Fatal(err)
	}
	small, err := Acquire(ctx, 10<<20) // fits beside the first
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		r, err := Acquire(ctx, 40<<20)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	select {
	case <-got:
		t.Fatal("a second 40 MiB share was granted beside the first within 64 MiB")
	case <-time.After(100 * time.Millisecond):
	}
	small()
	small() // releasing twice is harmless
	select {
	case <-got:
		t.Fatal("granted 40 MiB beside 40 MiB")
	case <-time.After(50 * time.Millisecond):
	}
	r1()
	r2 := <-got
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := Acquire(short, 1<<30); !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire while busy = %v, want ErrBusy and DeadlineExceeded", err)
	}
	r2()
	huge, err := Acquire(ctx, 1<<30) // more than the budget: runs alone
	if err != nil {
		t.Fatal(err)
	}
	huge()
	if err := SetDecodeMemory(1 << 20); err == nil {
		t.Error("SetDecodeMemory(1 MiB) accepted")
	}
}

// TestExtremeAspectEmbeds: every shape the rule accepts goes through every
// recipe to a tensor of the recipe's size.
func TestExtremeAspectEmbeds(t *testing.T) {
	clip, err := ParseCLIPConfig([]byte(`{"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}, "resample": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []image.Point{{2000, 10}, {10, 2000}, {5000, 5}, {1, 1000}, {1, 1}} {
		b := reeltest.PNG(t, noise(image.NewNRGBA(image.Rect(0, 0, size.X, size.Y)), size.X, size.Y))
		path := reeltest.WriteFile(t, filepath.Join(t.TempDir(), "p.png"), b)
		img, release, err := DecodeFile(context.Background(), path)
		if err != nil {
			t.Fatalf("%v: %v", size, err)
		}
		for _, r := range []Recipe{Seed(), TorchVision(), clip} {
			out := r.Apply(img)
			if len(out) != 3*224*224 {
				t.Errorf("%v %s: %d values", size, r.Name, len(out))
			}
			for _, v := range out {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%v %s: %v", size, r.Name, v)
				}
			}
		}
		release()
	}
}

func TestDecodeFileRefusesNonRegular(t *testing.T) {
	if _, _, err := DecodeFile(context.Background(), "/dev/zero"); err == nil || !strings.Contains(err.Error(), "/dev/zero: is a character device, not a regular file") {
		t.Errorf("DecodeFile(/dev/zero) = %v", err)
	}
	dir := t.TempDir()
	if _, _, err := DecodeFile(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("DecodeFile(folder) = %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}
