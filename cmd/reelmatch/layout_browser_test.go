package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// layoutWidths are the window widths the layout tests check: a laptop and
// a phone.
var layoutWidths = []struct {
	name          string
	width, height int64
}{{"1280", 1280, 900}, {"400", 400, 800}}

// visibleJS is a JavaScript function reporting why the element matching a
// selector is not fully visible in the window below the sticky header
// ("" when it is): hidden under the header, cut off at the bottom, or
// wider than the window.
const visibleJS = `(sel) => {
  const e = document.querySelector(sel);
  if (!e) return "no element " + sel;
  const r = e.getBoundingClientRect(), h = document.querySelector("header").getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return sel + " has no size";
  if (r.top < h.bottom - 0.5) return sel + " top " + Math.round(r.top) + " is under the header (bottom " + Math.round(h.bottom) + ")";
  if (r.bottom > window.innerHeight + 0.5) return sel + " bottom " + Math.round(r.bottom) + " is below the window (" + window.innerHeight + ")";
  if (r.left < -0.5 || r.right > window.innerWidth + 0.5) return sel + " spans " + Math.round(r.left) + "-" + Math.round(r.right) + " of a " + window.innerWidth + " px window";
  return "";
}`

// settle waits until smooth scrolling has stopped (the scroll position is
// the same on two animation frames in a row).
var settle = chromedp.Poll[chromedp.Void](`(() => {
  const y = window.scrollY;
  return new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(window.scrollY === y && !document.getAnimations().length))));
})()`)

// TestServeLayout opens the page at a laptop's and a phone's width: after a
// text search, after one with a max distance nothing is within, after
// clicking a poster and after clicking an intro, the results panel's Close
// button and the first result's title (or the "no close match" message)
// are in view below the sticky header, and nothing is wider than the
// window.
func TestServeLayout(t *testing.T) {
	work := synthWork(t, synthTestMovies)
	srv := startServe(t, work)
	for _, w := range layoutWidths {
		t.Run(w.name, func(t *testing.T) {
			b := reeltest.NewBrowser(t)
			b.Log = srv.Stderr
			b.Do("open page", chromedp.EmulateViewport(w.width, w.height), chromedp.Navigate(srv.URL),
				chromedp.WaitVisible(chromedp.CSS(`#grid .card img`)),
				chromedp.Poll[chromedp.Void](`document.querySelector("#info").textContent.includes("held-out")`))
			b.ScreenshotViewport("ui-" + w.name + "-home.png")
			visible := func(step string, selectors ...string) {
				t.Helper()
				for _, sel := range selectors {
					if why := reeltest.Eval[string](b, "("+visibleJS+")("+fmt.Sprintf("%q", sel)+")"); why != "" {
						t.Errorf("%s at %s px: %s", step, w.name, why)
					}
				}
				if over := reeltest.Eval[int](b, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
					t.Errorf("%s at %s px: the page is %d px wider than the window", step, w.name, over)
				}
			}
			visible("home", "#grid .card figcaption")

			b.Do("text search",
				chromedp.SendKeys(chromedp.CSS(`#text-query`), "a haunted house at midnight"),
				chromedp.Click(chromedp.CSS(`#text-search button`)),
				chromedp.WaitVisible(chromedp.CSS(`#search-results .card`)), settle)
			b.ScreenshotViewport("ui-" + w.name + "-search.png")
			visible("text search", "#results .close", "#results h2", "#search-results .card figcaption")

			b.Do("search with a tiny max distance",
				chromedp.SendKeys(chromedp.CSS(`#max-distance`), "0.01"),
				chromedp.Click(chromedp.CSS(`#text-search button`)),
				chromedp.WaitVisible(chromedp.CSS(`#no-match`)), settle)
			b.ScreenshotViewport("ui-" + w.name + "-nomatch.png")
			visible("no close match", "#results .close", "#no-match")
			if msg := b.Text(`#no-match`); !strings.HasPrefix(msg, "No close match: no poster within distance 0.01. The nearest is at 0.") {
				t.Errorf("no-match message %q", msg)
			}
			if n := b.Count(`#results .card`); n != 0 {
				t.Errorf("%d far posters shown as matches", n)
			}
			b.Do("clear the max distance", chromedp.Evaluate[chromedp.Void](`document.querySelector("#max-distance").value = ""`))

			b.Do("click a poster",
				chromedp.Evaluate[chromedp.Void](`document.querySelector("#grid .card[data-id='7']").click()`),
				chromedp.WaitVisible(chromedp.CSS(`#neighbors li`)), settle)
			b.ScreenshotViewport("ui-" + w.name + "-poster.png")
			visible("poster neighbours", "#results .close", "#results h2")

			b.Do("click an intro",
				chromedp.Evaluate[chromedp.Void](`document.querySelector("#neighbors li").click()`),
				chromedp.WaitVisible(chromedp.CSS(`#neighbors .card`)), settle)
			b.ScreenshotViewport("ui-" + w.name + "-intro.png")
			visible("intro neighbours", "#results .close", "#results h2")
		})
	}
}

// TestReportLayout opens the report at a laptop's and a phone's width:
// nothing is wider than the window.
func TestReportLayout(t *testing.T) {
	work := synthWork(t, synthTestMovies)
	out := filepath.Join(t.TempDir(), "report.html")
	if _, stderr, code := runCLI(t, "report", "--work", string(work), "--out", out); code != exitOK {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	for _, w := range layoutWidths {
		t.Run(w.name, func(t *testing.T) {
			b := reeltest.NewBrowser(t)
			b.Do("open report", chromedp.EmulateViewport(w.width, w.height), chromedp.Navigate("file://"+out),
				chromedp.WaitVisible(chromedp.CSS(`h1`)),
				chromedp.Poll[chromedp.Void](`[...document.images].every(i => i.complete)`))
			if os.Getenv(reeltest.ScreenshotDirEnv) != "" {
				// A window at a time, as a person scrolls through it.
				pages := reeltest.Eval[int](b, `Math.ceil(document.documentElement.scrollHeight / window.innerHeight)`)
				for k := range min(pages, 30) {
					b.Do("scroll", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.scrollTo(0, %d * window.innerHeight)`, k)))
					b.ScreenshotViewport(fmt.Sprintf("report-%s-%02d.png", w.name, k))
				}
			}
			if over := reeltest.Eval[int](b, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
				wide := reeltest.Eval[string](b, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5).slice(0, 6).map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : "") + " right " + Math.round(e.getBoundingClientRect().right)).join("; ")`)
				t.Errorf("at %s px the report is %d px wider than the window: %s", w.name, over, wide)
			}
		})
	}
}
