package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

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
	b := reeltest.NewBrowser(t)
	b.Log = srv.Stderr
	space, gal := loadGallery(t, work)

	b.Do("open page", chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS(`#grid .card img`)))
	if n := b.Count(`#grid .card`); n != 60 {
		t.Errorf("first page shows %d posters, want 60", n)
	}
	// The header fills in asynchronously; wait for the metrics part.
	b.Do("header", chromedp.Poll[chromedp.Void](`document.querySelector("#info").textContent.includes("held-out")`))
	if info := b.Text(`#info`); !strings.Contains(info, "encoder builtin") || !strings.Contains(info, "240 movies") {
		t.Errorf("header %q does not name the run", info)
	}
	if n := b.Count(`#grid img[src^="/posters/"]`); n != 60 {
		t.Errorf("%d grid images point at /posters/, want 60", n)
	}

	query := space.Manifest.Split(reel.SplitTest)[0]
	b.Do("text search",
		chromedp.SendKeys(chromedp.CSS(`#text-query`), query.Intro[:min(len(query.Intro), 200)]),
		chromedp.Click(chromedp.CSS(`#text-search button`)),
		chromedp.WaitVisible(chromedp.CSS(`#search-results .card`)))
	if n := b.Count(`#search-results .card`); n != 10 {
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
	b.Do("click a poster",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#grid .card[data-id="%s"]`, id))),
		chromedp.WaitVisible(chromedp.CSS(`#neighbors li`)))
	if n := b.Count(`#neighbors li`); n != 5 {
		t.Errorf("poster shows %d intros, want 5", n)
	}
	if got := b.Text(`#neighbors li:first-child`); !strings.Contains(got, "#1") {
		t.Errorf("first intro %q lacks its rank", got)
	}
	if firstID := reeltest.Eval[string](b, `document.querySelector("#neighbors li").dataset.id`); firstID != string(hits[0].ID) {
		t.Errorf("nearest intro is %q, want %q", firstID, hits[0].ID)
	}
	if got := b.Text(`#results .rank`); !strings.Contains(got, fmt.Sprintf("rank %d", rank)) {
		t.Errorf("rank line %q, want rank %d", got, rank)
	}
	if rank <= 5 && b.Count(`#neighbors li.match`) != 1 {
		t.Errorf("own intro at rank %d is not marked", rank)
	}

	b.Do("click an intro",
		chromedp.Click(chromedp.CSS(`#neighbors li`)),
		chromedp.WaitVisible(chromedp.CSS(`#neighbors .card`)))
	if n := b.Count(`#neighbors .card`); n != 5 {
		t.Errorf("intro shows %d posters, want 5", n)
	}
	// Every poster thumbnail shown so far decoded (no broken images).
	if broken := reeltest.Eval[int](b, `[...document.images].filter(i => i.complete && i.src && i.naturalWidth === 0).length`); broken != 0 {
		t.Errorf("%d broken images", broken)
	}

	b.Screenshot("serve-page.png")
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
	b := reeltest.NewBrowser(t)
	b.Log = srv.Stderr
	b.Do("open page", chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS(`#notice`)))
	if notice := b.Text(`#notice`); !strings.Contains(notice, "model not loaded") || !strings.Contains(notice, "reelmatch embed") {
		t.Errorf("notice %q does not give the reason", notice)
	}
	if !reeltest.Eval[bool](b, `document.querySelector("#text-query").disabled && document.querySelector("#image-file").disabled && document.querySelector("#text-search button").disabled`) {
		t.Error("search controls enabled without a model")
	}
	b.Do("catalogue", chromedp.WaitVisible(chromedp.CSS(`#grid .card img`)))
}
