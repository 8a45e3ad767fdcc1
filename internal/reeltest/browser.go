package reeltest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// FindChromium locates a Chromium binary ($CHROMIUM, then the usual names on
// PATH). The test fails, never skips, without one: CI installs it.
func FindChromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: run `make setup` (installs Debian's chromium) or set CHROMIUM")
	return ""
}

// BrowserTimeout bounds one browser test, start-up included.
const BrowserTimeout = 60 * time.Second

// Browser is one headless Chromium tab driven by a test. Its helpers fail
// the test at once on a browser error, naming the step, so that a page test
// reads as a list of actions and checks.
type Browser struct {
	// Ctx is the chromedp tab context, for calls the helpers do not cover.
	Ctx context.Context
	// Log, when set, is printed under every failure: a server's stderr
	// usually says why a page did not load.
	Log fmt.Stringer

	t testing.TB
}

// NewBrowser starts headless Chromium with the flags that keep it off the
// network and opens a tab, closed when the test ends.
func NewBrowser(t testing.TB) *Browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(FindChromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, BrowserTimeout)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	return &Browser{Ctx: ctx, t: t}
}

// fatalf fails the test with the browser error and, when set, the log.
func (b *Browser) fatalf(format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if b.Log != nil {
		msg += "\nlog:\n" + b.Log.String()
	}
	b.t.Fatal(msg)
}

// Do runs actions in order; what names the step in the failure message.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.Ctx, actions...); err != nil {
		b.fatalf("browser: %s: %v", what, err)
	}
}

// Eval returns the value of the JavaScript expression js on b's page.
func Eval[T any](b *Browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.fatalf("browser: %s: %v", js, err)
	}
	return v
}

// Count returns how many elements match the CSS selector (none is 0, not a
// failure).
func (b *Browser) Count(selector string) int {
	b.t.Helper()
	lit, err := json.Marshal(selector) // a JSON string is a JavaScript string literal
	if err != nil {
		b.t.Fatal(err)
	}
	return Eval[int](b, "document.querySelectorAll("+string(lit)+").length")
}

// Text returns the visible text of the first element matching the CSS
// selector, waiting for one to appear.
func (b *Browser) Text(selector string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS(selector)))
	if err != nil {
		b.fatalf("browser: text of %s: %v", selector, err)
	}
	return s
}

// ScreenshotDirEnv names the folder Screenshot saves into; set it by hand
// to look at the pages the browser tests saw.
const ScreenshotDirEnv = "REELMATCH_SCREENSHOTS"

// Screenshot saves a full-page PNG as name in $REELMATCH_SCREENSHOTS when
// that is set. It is a by-product for people, not a check: tests run
// without it.
func (b *Browser) Screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv(ScreenshotDirEnv)
	if dir == "" {
		return
	}
	// chromedp encodes PNG only at quality 100; below that it writes JPEG.
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fatalf("browser: screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// ScreenshotViewport is Screenshot of what the window shows now (not the
// whole page): what a person at that scroll position sees.
func (b *Browser) ScreenshotViewport(name string) {
	b.t.Helper()
	dir := os.Getenv(ScreenshotDirEnv)
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fatalf("browser: screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
