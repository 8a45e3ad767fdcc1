package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/reeltest"
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

// BenchmarkServeUploads measures image uploads to a real `reelmatch serve`
// process (this test binary run as the CLI, see hostile_test.go) over
// loopback, 40 clients at once, on the synthetic WORK of 3,242 movies
// (builtin encoder): uploads answered per second, the share answered 200
// (the others get 413, or 503 with Retry-After when every upload slot or
// the decode memory is taken), and the server's resident memory at its
// peak (VmHWM) and 1.5 s after the burst. Each image kind gets a fresh
// server, so each peak is its own.
//
//	go test -run '^$' -bench ServeUploads -benchtime 200x ./cmd/reelmatch
func BenchmarkServeUploads(b *testing.B) {
	const clients = 40
	work := synthWork(b, benchMovies)
	for _, bc := range []struct {
		name string
		body []byte
	}{
		{"bomb-6300x6300", reeltest.PNGBomb(b, 6300, 6300)},
		{"rgba-4096x4096", reeltest.PNGBombRGBA(b, 4096, 4096)},
		{"poster-300x450", posterPNG(b, 300, 450)},
	} {
		b.Run(fmt.Sprintf("%s/clients=%d", bc.name, clients), func(b *testing.B) {
			p := startServeProcess(b, work)
			base := liveURL(b, p)
			b.ResetTimer()
			counts := uploads(b, base, bc.body, b.N, clients)
			b.StopTimer()
			_, peak := p.Memory(b)
			time.Sleep(1500 * time.Millisecond)
			after, _ := p.Memory(b)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "uploads/s")
			b.ReportMetric(100*float64(counts[http.StatusOK])/float64(b.N), "ok-%")
			b.ReportMetric(float64(peak>>20), "peak-RSS-MiB")
			b.ReportMetric(float64(after>>20), "after-RSS-MiB")
		})
	}
}

// startServeProcess starts `reelmatch serve --json` (this test binary as
// the CLI) on 127.0.0.1:0 over work as a subprocess and stops it (SIGTERM)
// when the benchmark ends.
func startServeProcess(b *testing.B, work workdir.Dir) *hostileProc {
	b.Helper()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(self, "serve", "-q", "--json", "--work", string(work), "--addr", "127.0.0.1:0")
	cmd.Env = hostileEnv(b.TempDir())
	p := &hostileProc{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p.Pid = cmd.Process.Pid
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return p
}
