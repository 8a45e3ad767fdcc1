package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// TestServeBrowser opens the page of a real trained run in headless
// Chromium: the header names the run, a text search shows posters, a
// clicked poster shows its nearest intros with its own intro's rank, and a
// clicked intro shows posters.
func TestServeBrowser(t *testing.T) {
	work := synthWork(t, synthTestMovies)
	srv := startServe(t, work)
	ctx := reeltest.NewBrowser(t)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("browser: %s: %v\nserver stderr:\n%s", what, err, srv.Stderr)
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

	space, err := evalrun.Load(work, "builtin")
	if err != nil {
		t.Fatal(err)
	}
	gal, err := space.Gallery(evalrun.SplitAll)
	if err != nil {
		t.Fatal(err)
	}

	step("open page", chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS(`#grid .card img`)))
	if n := count(`#grid .card`); n != 60 {
		t.Errorf("first page shows %d posters, want 60", n)
	}
	// The header fills in asynchronously; wait for the metrics part.
	step("header", chromedp.Poll[chromedp.Void](`document.querySelector("#info").textContent.includes("held-out")`))
	if info := text(`#info`); !strings.Contains(info, "encoder builtin") || !strings.Contains(info, "240 movies") {
		t.Errorf("header %q does not name the run", info)
	}
	if n := count(`#grid img[src^="/posters/"]`); n != 60 {
		t.Errorf("%d grid images point at /posters/, want 60", n)
	}

	query := space.Manifest.Split(reel.SplitTest)[0]
	step("text search",
		chromedp.SendKeys(chromedp.CSS(`#text-query`), query.Intro[:min(len(query.Intro), 200)]),
		chromedp.Click(chromedp.CSS(`#text-search button`)),
		chromedp.WaitVisible(chromedp.CSS(`#search-results .card`)))
	if n := count(`#search-results .card`); n != 10 {
		t.Errorf("text search shows %d posters, want 10", n)
	}

	// Click a poster that is on the first page.
	id := space.Movies[6].ID
	hits, err := gal.ByPoster(id, 5)
	if err != nil {
		t.Fatal(err)
	}
	rank, err := gal.Intros.Rank(space.Image[6], id)
	if err != nil {
		t.Fatal(err)
	}
	step("click a poster",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#grid .card[data-id="%s"]`, id))),
		chromedp.WaitVisible(chromedp.CSS(`#neighbors li`)))
	if n := count(`#neighbors li`); n != 5 {
		t.Errorf("poster shows %d intros, want 5", n)
	}
	if got := text(`#neighbors li:first-child`); !strings.Contains(got, "#1") {
		t.Errorf("first intro %q lacks its rank", got)
	}
	firstID, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#neighbors li").dataset.id`))
	if err != nil || firstID != string(hits[0].ID) {
		t.Errorf("nearest intro is %q (%v), want %q", firstID, err, hits[0].ID)
	}
	if got := text(`#results .rank`); !strings.Contains(got, fmt.Sprintf("rank %d", rank)) {
		t.Errorf("rank line %q, want rank %d", got, rank)
	}
	if rank <= 5 && count(`#neighbors li.match`) != 1 {
		t.Errorf("own intro at rank %d is not marked", rank)
	}

	step("click an intro",
		chromedp.Click(chromedp.CSS(`#neighbors li`)),
		chromedp.WaitVisible(chromedp.CSS(`#neighbors .card`)))
	if n := count(`#neighbors .card`); n != 5 {
		t.Errorf("intro shows %d posters, want 5", n)
	}
	// Every poster thumbnail shown so far decoded (no broken images).
	broken, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.images].filter(i => i.complete && i.src && i.naturalWidth === 0).length`))
	if err != nil || broken != 0 {
		t.Errorf("%d broken images (%v)", broken, err)
	}

	if dir := os.Getenv("REELMATCH_SCREENSHOTS"); dir != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "serve-page.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestServeBrowserWithoutModel opens the page of a run whose encoder cannot
// be opened: the catalogue shows, both searches are greyed out and the
// reason is on the page.
func TestServeBrowserWithoutModel(t *testing.T) {
	work := copyWork(t, synthWork(t, synthTestMovies))
	if err := os.Remove(work.EncoderState("builtin")); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, work)
	ctx := reeltest.NewBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS(`#notice`))); err != nil {
		t.Fatalf("browser: open page: %v", err)
	}
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#notice`)))
	if err != nil || !strings.Contains(notice, "model not loaded") || !strings.Contains(notice, "reelmatch embed") {
		t.Errorf("notice %q (%v) does not give the reason", notice, err)
	}
	disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#text-query").disabled && document.querySelector("#image-file").disabled && document.querySelector("#text-search button").disabled`))
	if err != nil || !disabled {
		t.Errorf("search controls enabled (%v) without a model", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#grid .card img`))); err != nil {
		t.Fatalf("browser: catalogue: %v", err)
	}
}
