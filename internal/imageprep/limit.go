package imageprep

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/reelmatch/reelmatch/internal/inputfile"
)

// The poster rule: every image reelmatch decodes (dataset posters in
// prepare and embed, query images, uploads, calibration images) passes
// it, so a poster prepare keeps is a poster embed can encode.
const (
	// DefaultMaxPixels is the pixel budget of one image: 16,777,216 pixels
	// (4096×4096, or 3344×5016 at a poster's 2:3). Posters are typically
	// 300×450 and high-resolution ones 2000×3000. At the worst case of
	// about 29 bytes per pixel (a progressive CMYK JPEG, decoded and
	// prepared) one image needs under 500 MiB; an 8-bit PNG or baseline
	// JPEG of this size 60-150 MiB.
	DefaultMaxPixels = 1 << 24
	// MaxAspect bounds the ratio of the longer side to the shorter. A
	// shortest-edge resize (torchvision's 232, CLIP's 224) of a 1000:1
	// strip is 232,000 pixels along its long side, whose resampling
	// weights take about 12 MiB; any aspect up to this embeds correctly.
	MaxAspect = 1000
	// DefaultDecodeMemory is the memory that images being decoded and
	// prepared may take at once, over the whole process (see Acquire).
	DefaultDecodeMemory = 256 << 20
	// MaxJPEGScans bounds the scans of a progressive JPEG, whose number a
	// file can inflate to make decoding take minutes: libjpeg-turbo's
	// recommended limit (its -limitscans option).
	MaxJPEGScans = 500
)

// ErrTooLarge is wrapped when an image's declared size is over the pixel
// budget; it is refused before any pixel is allocated.
var ErrTooLarge = errors.New("image over the pixel budget")

// ErrExtremeAspect is wrapped when one side of an image is more than
// MaxAspect times the other.
var ErrExtremeAspect = errors.New("extreme aspect ratio")

var maxPixels atomic.Int64

func init() { maxPixels.Store(DefaultMaxPixels) }

// MaxPixels is the current pixel budget of one image.
func MaxPixels() int64 { return maxPixels.Load() }

// SetMaxPixels changes the pixel budget; n must be between 1 and 1<<28
// (268 megapixels, where one image can need 8 GiB).
func SetMaxPixels(n int64) error {
	if n < 1 || n > 1<<28 {
		return fmt.Errorf("the pixel budget must be between 1 and %d, got %d", 1<<28, n)
	}
	maxPixels.Store(n)
	return nil
}

// Rule describes the poster rule in force (file cap, pixel budget, aspect
// bound, decoder version), so a manifest checked under another rule is
// checked again.
func Rule() string {
	return fmt.Sprintf("poster-rule/v1 bytes<=%d pixels<=%d aspect<=%d jpeg-scans<=%d",
		inputfile.Image.Cap(), MaxPixels(), MaxAspect, MaxJPEGScans)
}

// Info is what an image's header says about it.
type Info struct {
	Format        string // "jpeg", "png", "webp" or "gif"
	Width, Height int
	// Cost is the most memory, in bytes, that decoding the image and
	// preparing it with any Recipe may allocate (TestCostBoundsAllocations
	// checks the estimate).
	Cost int64
}

// Inspect reads an encoded image's header and applies the poster rule
// without decoding pixels: the format must be known, both sides at least
// 1, the pixel count within MaxPixels (ErrTooLarge), the aspect within
// MaxAspect (ErrExtremeAspect), and a JPEG's scans within MaxJPEGScans.
func Inspect(b []byte) (info Info, err error) {
	format := Format(b)
	if format == "" {
		return Info{}, ErrUnknownFormat
	}
	defer func() {
		if r := recover(); r != nil {
			info, err = Info{}, fmt.Errorf("%s header decoder panicked: %v", format, r)
		}
	}()
	cfg, err := decodeConfig(format, b)
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w", format, err)
	}
	w, h := cfg.Width, cfg.Height
	info = Info{Format: format, Width: w, Height: h}
	px := int64(w) * int64(h)
	switch {
	case w <= 0 || h <= 0:
		return Info{}, fmt.Errorf("%s header: the image is %dx%d", format, w, h)
	case px > MaxPixels():
		have, budget := megapixels(px), megapixels(MaxPixels())
		if have == budget {
			have, budget = fmt.Sprintf("%d pixels", px), fmt.Sprintf("%d pixels", MaxPixels())
		}
		return Info{}, fmt.Errorf("%w: the %s is %dx%d, %s; the budget is %s (REELMATCH_MAX_IMAGE_PIXELS raises it)",
			ErrTooLarge, format, w, h, have, budget)
	case int64(max(w, h)) > MaxAspect*int64(min(w, h)):
		return Info{}, fmt.Errorf("%w: the %s is %dx%d, more than %d:1", ErrExtremeAspect, format, w, h, MaxAspect)
	}
	if format == "jpeg" {
		if n := jpegScans(b); n > MaxJPEGScans {
			return Info{}, fmt.Errorf("jpeg has %d scans, more than %d", n, MaxJPEGScans)
		}
	}
	bpp := decodeBytesPerPixel(format, cfg.ColorModel)
	if exifOrientation(format, b) > 1 {
		bpp += 7 // orient: an 8-bit plane and an NRGBA copy
	}
	// Preparing: an 8-bit RGB plane and resampling passes, then the
	// weights of a shortest-edge resize, which grow with the aspect ratio:
	// per output pixel along the long side (232 per unit of aspect), up to
	// 7 taps (Lanczos) of a float64 and an int32, and two ints.
	const prepBPP = 5
	aspect := int64(max(w, h)/min(w, h) + 1)
	info.Cost = px*(bpp+prepBPP) + 2<<20 + aspect*232*(7*12+16)
	return info, nil
}

// megapixels writes a pixel count for a message: "39.7 megapixels",
// "0.015 megapixels".
func megapixels(px int64) string {
	mp := float64(px) / 1e6
	if mp >= 1 {
		return fmt.Sprintf("%.1f megapixels", mp)
	}
	return fmt.Sprintf("%.3f megapixels", mp)
}

// decodeBytesPerPixel is what the decoders allocate per pixel, at worst,
// for a header's colour model.
func decodeBytesPerPixel(format string, m color.Model) int64 {
	switch format {
	case "jpeg":
		// A progressive JPEG keeps every DCT coefficient (64 int32 per
		// 8×8 block, 4 bytes per pixel and component) beside the decoded
		// planes; CMYK is then converted into an image.CMYK.
		switch m {
		case color.GrayModel:
			return 5
		case color.CMYKModel:
			return 24
		}
		return 15
	case "png":
		switch m {
		case color.GrayModel:
			return 2
		case color.Gray16Model:
			return 3
		case color.RGBA64Model, color.NRGBA64Model:
			return 9
		}
		if _, ok := m.(color.Palette); ok {
			return 2
		}
		return 5
	case "webp":
		// Lossy: YCbCr 4:2:0 and alpha, converted to NRGBA; lossless:
		// NRGBA plus the decoder's ARGB words.
		return 12
	}
	return 2 // GIF: one paletted frame
}

// jpegScans counts start-of-scan markers. Entropy-coded data escapes 0xFF
// as 0xFF00, so 0xFFDA only occurs as a marker (or inside an embedded
// thumbnail, which only overcounts).
func jpegScans(b []byte) int {
	n := 0
	for i := 0; i+1 < len(b); i++ {
		if b[i] == 0xff && b[i+1] == 0xda {
			n++
		}
	}
	return n
}

// budget is the process's decode memory: a weighted semaphore over bytes.
type budget struct {
	sem  *semaphore.Weighted
	size int64
}

var (
	budgetMu  sync.Mutex
	curBudget = &budget{sem: semaphore.NewWeighted(DefaultDecodeMemory), size: DefaultDecodeMemory}
)

// DecodeMemory is the current decode memory budget in bytes.
func DecodeMemory() int64 {
	budgetMu.Lock()
	defer budgetMu.Unlock()
	return curBudget.size
}

// SetDecodeMemory changes the decode memory budget; n must be at least
// 16 MiB. Images already holding a share keep it until released.
func SetDecodeMemory(n int64) error {
	if n < 16<<20 {
		return fmt.Errorf("the decode memory budget must be at least 16 MiB, got %s", inputfile.FormatBytes(n))
	}
	budgetMu.Lock()
	defer budgetMu.Unlock()
	curBudget = &budget{sem: semaphore.NewWeighted(n), size: n}
	return nil
}

// ErrBusy is wrapped when ctx ends while an image waits for its share of
// the decode memory.
var ErrBusy = errors.New("waiting for decode memory")

// inFlight counts the bytes held; sinceFree the bytes granted since
// memory was last returned to the operating system.
var (
	inFlight  atomic.Int64
	sinceFree atomic.Int64
	freeMu    sync.Mutex
	freeTimer *time.Timer
	lastFree  time.Time
)

// Returning memory to the operating system (debug.FreeOSMemory, a full
// garbage collection) once the decoders go idle after a burst keeps a
// server's footprint from staying at its peak: it happens when at least
// burstBytes were granted since the last time, at most every freeEvery,
// and idleFor after the last share was released.
const (
	burstBytes = 64 << 20
	freeEvery  = 5 * time.Second
	idleFor    = 200 * time.Millisecond
)

// Acquire waits until cost bytes of the decode memory are free (an image
// costing more than the whole budget waits until it has it all) and
// returns the function that gives them back, which must be called once the
// pixels are no longer used. When ctx ends first, it returns an error
// wrapping ErrBusy and ctx's error.
func Acquire(ctx context.Context, cost int64) (release func(), err error) {
	budgetMu.Lock()
	b := curBudget
	budgetMu.Unlock()
	n := min(max(cost, 1), b.size)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBusy, err)
	}
	inFlight.Add(n)
	sinceFree.Add(n)
	var once sync.Once
	return func() {
		once.Do(func() {
			b.sem.Release(n)
			if inFlight.Add(-n) == 0 && sinceFree.Load() >= burstBytes {
				scheduleFree()
			}
		})
	}, nil
}

// scheduleFree returns memory to the operating system once the decoders
// have been idle for idleFor, unless a free happened within freeEvery (then
// it waits for that much) or decoding resumed meanwhile.
func scheduleFree() {
	freeMu.Lock()
	defer freeMu.Unlock()
	if freeTimer != nil {
		freeTimer.Stop()
	}
	wait := max(idleFor, freeEvery-time.Since(lastFree))
	freeTimer = time.AfterFunc(wait, func() {
		if inFlight.Load() != 0 || sinceFree.Load() < burstBytes {
			return // busy again: the release that ends it schedules anew
		}
		sinceFree.Store(0)
		freeMu.Lock()
		lastFree = time.Now()
		freeMu.Unlock()
		debug.FreeOSMemory()
	})
}
