package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// TestBrowser opens the page in a real browser, runs a text search, clicks a
// poster and checks its neighbours are shown with the true match marked.
func TestBrowser(t *testing.T) {
	ts, _ := newTestServer(t, 24)
	ctx := reeltest.NewBrowser(t)

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	count := func(selector string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+selector+"`"+`).length`))
		if err != nil {
			t.Fatalf("browser: count %s: %v", selector, err)
		}
		return n
	}
	text := func(selector string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector)))
		if err != nil {
			t.Fatalf("browser: text of %s: %v", selector, err)
		}
		return s
	}

	step("open page", chromedp.Navigate(ts.URL), chromedp.WaitVisible(chromedp.CSS(`#grid .card img`)))
	if n := count(`#grid .card`); n != 24 {
		t.Errorf("grid shows %d posters, want 24", n)
	}
	step("wait for header", chromedp.WaitVisible(chromedp.CSS(`#info`)))
	if info := text(`#info`); !strings.Contains(info, "fake") {
		t.Errorf("header info %q does not name the encoder", info)
	}

	step("text search",
		chromedp.SendKeys(chromedp.CSS(`#text-query`), "a detective hunts a serial killer"),
		chromedp.Click(chromedp.CSS(`#text-search button`)),
		chromedp.WaitVisible(chromedp.CSS(`#search-results .card`)))
	if n := count(`#search-results .card`); n != 10 {
		t.Errorf("text search shows %d posters, want 10", n)
	}

	step("click a poster",
		chromedp.Click(chromedp.CSS(`#grid .card[data-id="7"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#neighbors li`)))
	if n := count(`#neighbors li`); n != DefaultK {
		t.Errorf("poster shows %d intros, want %d", n, DefaultK)
	}
	if m := text(`#neighbors li.match`); !strings.Contains(m, "true match") || !strings.Contains(m, "number 7") {
		t.Errorf("true match not highlighted: %q", m)
	}

	step("click an intro",
		chromedp.Click(chromedp.CSS(`#neighbors li.match`)),
		chromedp.WaitVisible(chromedp.CSS(`#neighbors .card`)))
	if n := count(`#neighbors .card`); n != DefaultK {
		t.Errorf("intro shows %d posters, want %d", n, DefaultK)
	}

	if dir := os.Getenv("REELMATCH_SCREENSHOTS"); dir != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "server-page.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
