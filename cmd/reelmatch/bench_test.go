package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/server"
	"github.com/reelmatch/reelmatch/internal/server/engine"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// benchMovies is the size of the real MovieLens poster set (3,242 kept
// movies), so the gallery, the index scans and the JSON pages have the
// sizes a user meets.
const benchMovies = 3242

// benchConcurrency is the number of text searches fired at once.
const benchConcurrency = 200

// BenchmarkServe measures `reelmatch serve` over loopback on a synthetic
// WORK of 3,242 movies (builtin encoder, trained heads): a burst of 200
// concurrent free-text searches (each encoded by the real text tower and
// heads, then ranked over every poster), reporting per-request p50 and p99
// latency, and the page's first load (index.html, then style.css and
// app.js, then /api/info and the first /api/movies page, each stage in
// parallel as a browser does, on fresh connections).
//
//	go test -run '^$' -bench Serve -benchtime 20x ./cmd/reelmatch
func BenchmarkServe(b *testing.B) {
	work := synthWork(b, benchMovies)
	srv := startServe(b, work)
	space := loadSpace(b, work)
	// Queries as a user types them: the first sentence of a plot.
	queries := make([]string, benchConcurrency)
	for i := range queries {
		intro := space.Movies[(i*16)%len(space.Movies)].Intro
		if j := strings.IndexByte(intro, '.'); j > 0 {
			intro = intro[:j]
		}
		queries[i] = srv.URL + "api/search?k=10&text=" + url.QueryEscape(intro)
	}

	// The same burst against /healthz is the baseline: what the HTTP stack
	// and the machine cost before any search work.
	health := make([]string, benchConcurrency)
	for i := range health {
		health[i] = srv.URL + "healthz"
	}
	for _, bc := range []struct {
		name string
		urls []string
	}{{"text-search", queries}, {"healthz-baseline", health}} {
		b.Run(fmt.Sprintf("%s/concurrent=%d", bc.name, benchConcurrency), func(b *testing.B) {
			burstLatencies(b, bc.urls)
		})
	}

	// One search through the handler alone, no network and no
	// concurrency: the server's CPU cost per search.
	b.Run("text-search/handler", func(b *testing.B) {
		h := newBenchServer(b, work)
		var i int
		for b.Loop() {
			u, _ := url.Parse(queries[i%len(queries)])
			i++
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u.RequestURI(), nil))
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})

	b.Run("first-load", func(b *testing.B) {
		stages := [][]string{
			{""},
			{"style.css", "app.js"},
			{"api/info", "api/movies?offset=0&limit=60"},
		}
		var worst time.Duration
		for b.Loop() {
			// A new transport per load: a first visit opens new connections.
			client := &http.Client{Transport: &http.Transport{}}
			t0 := time.Now()
			for _, paths := range stages {
				errs := make([]error, len(paths))
				var wg sync.WaitGroup
				for i, p := range paths {
					wg.Go(func() { errs[i] = fetch(client, srv.URL+p) })
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			worst = max(worst, time.Since(t0))
			client.CloseIdleConnections()
		}
		b.ReportMetric(ms(worst), "worst-ms")
	})
}

// newBenchServer builds the handler runServe serves for WORK.
func newBenchServer(b *testing.B, work workdir.Dir) http.Handler {
	eng, err := engine.Open(context.Background(), work, "builtin", encoder.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close() })
	if err := eng.SearchErr(); err != nil {
		b.Fatal(err)
	}
	return server.New(server.Options{Engine: eng})
}

// burstLatencies fires every url at once per iteration and reports the
// per-request p50 and p99 latency over all iterations.
func burstLatencies(b *testing.B, urls []string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(urls), MaxConnsPerHost: len(urls)}}
	defer client.CloseIdleConnections()
	var lat []time.Duration
	var failed atomic.Int64
	for b.Loop() {
		burst := make([]time.Duration, len(urls))
		var wg sync.WaitGroup
		for i, u := range urls {
			wg.Go(func() {
				t0 := time.Now()
				if err := fetch(client, u); err != nil {
					failed.Add(1)
					return
				}
				burst[i] = time.Since(t0)
			})
		}
		wg.Wait()
		lat = append(lat, burst...)
	}
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
	slices.Sort(lat)
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
}

// fetch GETs url, reads the whole body and wants 200.
func fetch(c *http.Client, u string) error {
	res, err := c.Get(u)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, res.StatusCode)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
