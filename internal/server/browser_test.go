package server

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// TestBrowser opens the page in a real browser, runs a text search, clicks a
// poster and checks its neighbours are shown with the true match marked.
func TestBrowser(t *testing.T) {
	ts, _ := newTestServer(t, 24)
	b := reeltest.NewBrowser(t)

	b.Do("open page", chromedp.Navigate(ts.URL), chromedp.WaitVisible(chromedp.CSS(`#grid .card img`)))
	if n := b.Count(`#grid .card`); n != 24 {
		t.Errorf("grid shows %d posters, want 24", n)
	}
	b.Do("wait for header", chromedp.WaitVisible(chromedp.CSS(`#info`)))
	if info := b.Text(`#info`); !strings.Contains(info, "fake") {
		t.Errorf("header info %q does not name the encoder", info)
	}

	b.Do("text search",
		chromedp.SendKeys(chromedp.CSS(`#text-query`), "a detective hunts a serial killer"),
		chromedp.Click(chromedp.CSS(`#text-search button`)),
		chromedp.WaitVisible(chromedp.CSS(`#search-results .card`)))
	if n := b.Count(`#search-results .card`); n != 10 {
		t.Errorf("text search shows %d posters, want 10", n)
	}

	b.Do("click a poster",
		chromedp.Click(chromedp.CSS(`#grid .card[data-id="7"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#neighbors li`)))
	if n := b.Count(`#neighbors li`); n != DefaultK {
		t.Errorf("poster shows %d intros, want %d", n, DefaultK)
	}
	if m := b.Text(`#neighbors li.match`); !strings.Contains(m, "true match") || !strings.Contains(m, "number 7") {
		t.Errorf("true match not highlighted: %q", m)
	}

	b.Do("click an intro",
		chromedp.Click(chromedp.CSS(`#neighbors li.match`)),
		chromedp.WaitVisible(chromedp.CSS(`#neighbors .card`)))
	if n := b.Count(`#neighbors .card`); n != DefaultK {
		t.Errorf("intro shows %d posters, want %d", n, DefaultK)
	}

	b.Screenshot("server-page.png")
}
