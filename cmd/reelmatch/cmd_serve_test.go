package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/server"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// syncBuffer is a bytes.Buffer safe for the server's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// servedRun is a `reelmatch serve` running in-process on a free loopback
// port.
type servedRun struct {
	URL    string
	Stdout *syncBuffer
	Stderr *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// Stop cancels the command's context, as Ctrl-C does, and returns what
// runServe returned.
func (s *servedRun) Stop(tb testing.TB) error {
	tb.Helper()
	// Drop this process's idle client connections first, as a browser
	// tab closing would; a connection dialled but never used would
	// otherwise hold Shutdown for net/http's 5 s.
	http.DefaultClient.CloseIdleConnections()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // so a second Stop (the cleanup) sees it too
		return err
	case <-time.After(server.ShutdownGrace + 5*time.Second):
		tb.Fatal("serve did not stop after its context was cancelled")
		return nil
	}
}

// startServe runs serve on WORK at 127.0.0.1:0 and waits until it listens.
func startServe(tb testing.TB, work workdir.Dir) *servedRun {
	tb.Helper()
	return startServeJSON(tb, work, false)
}

// startServeJSON is startServe with the global --json flag set or not.
func startServeJSON(tb testing.TB, work workdir.Dir, jsonOut bool) *servedRun {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	s := &servedRun{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	opts := ServeOptions{Work: string(work), Addr: "127.0.0.1:0", onListen: func(u string) { urls <- u }}
	g := &globalOptions{JSON: jsonOut, stdout: s.Stdout, stderr: s.Stderr}
	go func() { s.done <- runServe(ctx, opts, g, nil) }()
	select {
	case s.URL = <-urls:
	case err := <-s.done:
		cancel()
		tb.Fatalf("serve exited before listening: %v\nstderr:\n%s", err, s.Stderr)
	case <-time.After(60 * time.Second):
		cancel()
		tb.Fatalf("serve did not listen within 60 s; stderr:\n%s", s.Stderr)
	}
	tb.Cleanup(func() {
		if err := s.Stop(tb); err != nil {
			tb.Errorf("serve returned %v after cancel, want nil", err)
		}
	})
	return s
}

// postPoster uploads a file as multipart field "image".
func postPoster(tb testing.TB, u, path string) (int, map[string]any) {
	tb.Helper()
	return reeltest.PostImage(tb, u, reeltest.ReadFile(tb, path), "image")
}

// apiHit is one result as the API returns it.
type apiHit struct {
	ID       string  `json:"id"`
	Distance float32 `json:"distance"`
	Rank     int     `json:"rank"`
	IsMatch  bool    `json:"is_match"`
	Split    string  `json:"split"`
}

func hitsOf(tb testing.TB, body map[string]any) []apiHit {
	tb.Helper()
	raw, err := json.Marshal(body["results"])
	if err != nil {
		tb.Fatal(err)
	}
	var hs []apiHit
	if err := json.Unmarshal(raw, &hs); err != nil {
		tb.Fatalf("results %s: %v", raw, err)
	}
	return hs
}

// wantHits turns expected index hits into API hits for comparison.
func wantHits(hs []reel.Hit, query reel.MovieID, split func(reel.MovieID) string) []apiHit {
	out := make([]apiHit, len(hs))
	for i, h := range hs {
		out[i] = apiHit{ID: string(h.ID), Distance: h.Distance, Rank: i + 1, IsMatch: query != "" && h.ID == query, Split: split(h.ID)}
	}
	return out
}

// closeDistances compares float32 distances that went through JSON.
var closeDistances = cmp.Comparer(func(a, b float32) bool { return a-b < 1e-5 && b-a < 1e-5 })

// TestServeAPI serves a real trained run and checks every answer against
// an independent computation: neighbours against the run's gallery, the
// true match's rank against the saved distance matrix, and free-text and
// upload search against the movies whose own intro or poster is the query.
func TestServeAPI(t *testing.T) {
	work := synthWork(t, synthTestMovies)
	srv := startServe(t, work)
	space, gal := loadGallery(t, work)
	split := func(id reel.MovieID) string { m, _ := gal.Movie(id); return string(m.Split) }
	// Ranks of every true match over all movies, from the matrix eval saved.
	ids, D, err := evalrun.LoadDistance(work.Distance("builtin", evalrun.SplitAll))
	if err != nil {
		t.Fatal(err)
	}
	rankOf := map[metrics.Direction]map[reel.MovieID]int{}
	for _, dir := range []metrics.Direction{metrics.PosterToIntro, metrics.IntroToPoster} {
		rankOf[dir] = map[reel.MovieID]int{}
		for i, q := range metrics.Queries(D, dir) {
			rankOf[dir][ids[i]] = q.Rank
		}
	}

	t.Run("info", func(t *testing.T) {
		status, info := reeltest.GetJSON(t, srv.URL+"api/info")
		res, err := evalrun.ReadResult(work, "builtin", evalrun.SplitTest)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"encoder": "builtin", "movies": float64(synthTestMovies), "search": true, "gallery": "all", "index": "exact",
			"train": float64(len(space.Manifest.Split(reel.SplitTrain))), "test": float64(len(space.Manifest.Split(reel.SplitTest))),
		}
		got := map[string]any{}
		for k := range want {
			got[k] = info[k]
		}
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("info (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(info["metrics"].(string), fmt.Sprintf("held-out (n=%d): mean rank pct ", res.N)) {
			t.Errorf("headline %q", info["metrics"])
		}
	})

	t.Run("movies", func(t *testing.T) {
		_, body := reeltest.GetJSON(t, srv.URL+"api/movies?limit=500")
		raw, _ := json.Marshal(body["movies"])
		var ms []struct{ ID, Split string }
		if err := json.Unmarshal(raw, &ms); err != nil {
			t.Fatal(err)
		}
		var want []struct{ ID, Split string }
		for _, m := range space.Movies {
			want = append(want, struct{ ID, Split string }{string(m.ID), string(m.Split)})
		}
		if diff := cmp.Diff(want, ms); diff != "" {
			t.Errorf("catalogue (-want +got):\n%s", diff)
		}
	})

	// A few held-out movies and a training one, both directions.
	test := space.Manifest.Split(reel.SplitTest)
	queries := []reel.MovieID{test[0].ID, test[1].ID, test[len(test)-1].ID, space.Manifest.Split(reel.SplitTrain)[3].ID}
	for _, id := range queries {
		for _, tc := range []struct {
			dir    string
			mdir   metrics.Direction
			expect func(reel.MovieID, int) ([]reel.Hit, error)
		}{
			{"poster_to_intro", metrics.PosterToIntro, gal.ByPoster},
			{"intro_to_poster", metrics.IntroToPoster, gal.ByIntro},
		} {
			t.Run(fmt.Sprintf("neighbors %s %s", id, tc.dir), func(t *testing.T) {
				status, body := reeltest.GetJSON(t, srv.URL+"api/movies/"+string(id)+"/neighbors?k=7&direction="+tc.dir)
				if status != 200 {
					t.Fatalf("status %d: %v", status, body)
				}
				hs, err := tc.expect(id, 7)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(wantHits(hs, id, split), hitsOf(t, body), closeDistances); diff != "" {
					t.Errorf("neighbours (-want +got):\n%s", diff)
				}
				if got, want := int(body["true_rank"].(float64)), rankOf[tc.mdir][id]; got != want {
					t.Errorf("true_rank %d, want %d (from the saved distance matrix)", got, want)
				}
			})
		}
	}

	t.Run("text search finds what the movie's own intro finds", func(t *testing.T) {
		m := test[2]
		status, body := reeltest.GetJSON(t, srv.URL+"api/search?k=6&text="+url.QueryEscape(m.Intro))
		if status != 200 {
			t.Fatalf("status %d: %v", status, body)
		}
		hs, err := gal.ByIntro(m.ID, 6)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantHits(hs, "", split), hitsOf(t, body), closeDistances); diff != "" {
			t.Errorf("posters for the intro of %s (-want +got):\n%s", m.ID, diff)
		}
	})

	t.Run("upload finds what the movie's own poster finds", func(t *testing.T) {
		m := test[3]
		status, body := postPoster(t, srv.URL+"api/search/image?k=6", m.PosterPath)
		if status != 200 {
			t.Fatalf("status %d: %v", status, body)
		}
		hs, err := gal.ByPoster(m.ID, 6)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantHits(hs, "", split), hitsOf(t, body), closeDistances); diff != "" {
			t.Errorf("intros for the poster of %s (-want +got):\n%s", m.ID, diff)
		}
	})

	t.Run("concurrent searches agree with sequential ones", func(t *testing.T) {
		// The encoder is shared under a lock; run with -race.
		urls := make([]string, 12)
		want := make([]string, len(urls))
		for i := range urls {
			urls[i] = srv.URL + "api/search?k=3&text=" + url.QueryEscape(test[i].Intro)
			_, body := reeltest.GetJSON(t, urls[i])
			want[i] = fmt.Sprint(hitsOf(t, body))
		}
		bodies := make([]map[string]any, 3*len(urls))
		var wg sync.WaitGroup
		poster, err := os.ReadFile(test[0].PosterPath)
		if err != nil {
			t.Fatal(err)
		}
		for i := range bodies {
			wg.Go(func() {
				res, err := http.Get(urls[i%len(urls)])
				if err != nil {
					t.Error(err)
					return
				}
				defer res.Body.Close()
				if err := json.NewDecoder(res.Body).Decode(&bodies[i]); err != nil {
					t.Error(err)
				}
			})
			if i%4 == 0 {
				// Uploads interleave with the text queries.
				wg.Go(func() {
					res, err := http.Post(srv.URL+"api/search/image?k=2", "image/jpeg", bytes.NewReader(poster))
					if err != nil {
						t.Error(err)
						return
					}
					res.Body.Close()
					if res.StatusCode != 200 {
						t.Errorf("upload: status %d", res.StatusCode)
					}
				})
			}
		}
		wg.Wait()
		got := make([]string, len(urls))
		for i, body := range bodies {
			if g := fmt.Sprint(hitsOf(t, body)); i < len(urls) {
				got[i] = g
			} else if g != got[i%len(urls)] {
				t.Errorf("query %d answered %s, then %s", i%len(urls), got[i%len(urls)], g)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("concurrent answers (-sequential +concurrent):\n%s", diff)
		}
	})

	t.Run("poster thumbnail", func(t *testing.T) {
		res, err := http.Get(srv.URL + "posters/" + string(test[0].ID))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if _, err := jpeg.Decode(res.Body); err != nil || res.StatusCode != 200 {
			t.Errorf("status %d, decode %v", res.StatusCode, err)
		}
	})

	t.Run("unknown movie", func(t *testing.T) {
		if status, _ := reeltest.GetJSON(t, srv.URL+"api/movies/no-such-id/neighbors"); status != 404 {
			t.Errorf("status %d, want 404", status)
		}
	})
}

// TestServeWithoutModel removes the encoder's fitted state: browsing and
// neighbours still work, both searches answer 503 with the reason.
func TestServeWithoutModel(t *testing.T) {
	work := copyWork(t, synthWork(t, synthTestMovies))
	if err := os.Remove(work.EncoderState("builtin")); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, work)
	if s := srv.Stderr.String(); !strings.Contains(s, "warning: text and image search disabled") || !strings.Contains(s, "reelmatch embed") {
		t.Errorf("stderr does not explain why search is off:\n%s", s)
	}
	_, info := reeltest.GetJSON(t, srv.URL+"api/info")
	if info["search"] != false || !strings.HasPrefix(fmt.Sprint(info["search_error"]), "model not loaded: ") {
		t.Errorf("info %v: want search false and search_error", info)
	}
	status, body := reeltest.GetJSON(t, srv.URL+"api/search?text=haunted+house")
	if msg := fmt.Sprint(body["error"]); status != http.StatusServiceUnavailable || !strings.HasPrefix(msg, "model not loaded: ") || !strings.Contains(msg, "no fitted state") {
		t.Errorf("text search: status %d body %v, want 503 model not loaded", status, body)
	}
	man := synthMovie(t, work, 0)
	status, body = postPoster(t, srv.URL+"api/search/image", man.PosterPath)
	if status != http.StatusServiceUnavailable || !strings.HasPrefix(fmt.Sprint(body["error"]), "model not loaded: ") {
		t.Errorf("image search: status %d body %v, want 503", status, body)
	}
	if status, body := reeltest.GetJSON(t, srv.URL+"api/movies/"+string(man.ID)+"/neighbors"); status != 200 || len(hitsOf(t, body)) != 5 {
		t.Errorf("neighbours: status %d body %v", status, body)
	}
}

// synthMovie returns movie i of WORK's manifest.
func synthMovie(tb testing.TB, work workdir.Dir, i int) reel.Movie {
	tb.Helper()
	return loadSpace(tb, work).Movies[i]
}

// loadSpace loads WORK's builtin run as serve does.
func loadSpace(tb testing.TB, work workdir.Dir) *evalrun.Space {
	tb.Helper()
	space, err := evalrun.Load(work, "builtin")
	if err != nil {
		tb.Fatal(err)
	}
	return space
}

// loadGallery loads WORK's builtin run and the gallery of all its movies,
// the one serve answers from.
func loadGallery(tb testing.TB, work workdir.Dir) (*evalrun.Space, *evalrun.Gallery) {
	tb.Helper()
	space := loadSpace(tb, work)
	gal, err := space.Gallery(evalrun.SplitAll)
	if err != nil {
		tb.Fatal(err)
	}
	return space, gal
}

// TestServeShutdown cancels the command's context, as main's signal
// handler does on Ctrl-C: serve returns nil and the port is closed. It runs
// under --json, so stdout holds the one document naming the URL.
func TestServeShutdown(t *testing.T) {
	srv := startServeJSON(t, synthWork(t, synthTestMovies), true)
	var out serveJSON
	if err := json.Unmarshal([]byte(srv.Stdout.String()), &out); err != nil {
		t.Fatalf("stdout %q is not one JSON document: %v", srv.Stdout, err)
	}
	if diff := cmp.Diff(serveJSON{URL: srv.URL, Run: "builtin", Encoder: "builtin", Movies: synthTestMovies, Search: true, Index: "exact"}, out); diff != "" {
		t.Errorf("--json output (-want +got):\n%s", diff)
	}
	if status, _ := reeltest.GetJSON(t, srv.URL+"healthz"); status != 200 {
		t.Fatalf("healthz: %d", status)
	}
	start := time.Now()
	if err := srv.Stop(t); err != nil {
		t.Fatalf("serve returned %v, want nil", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("an idle server took %s to stop", d)
	}
	u, _ := url.Parse(srv.URL)
	if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after shutdown", u.Host)
	}
	if !strings.Contains(srv.Stderr.String(), "serving builtin (240 movies) at "+srv.URL) {
		t.Errorf("stderr lacks the URL line:\n%s", srv.Stderr)
	}
}

// TestServeErrors runs serve through the CLI for each way it can fail
// before serving.
func TestServeErrors(t *testing.T) {
	work := string(synthWork(t, synthTestMovies))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"empty work", []string{"serve", "--work", t.TempDir()}, exitFailure, "run `reelmatch train"},
		{"unknown run", []string{"serve", "--work", work, "--encoder", "clip-vit-b32"}, exitFailure, "clip-vit-b32"},
		{"bad text input", []string{"serve", "--work", work, "--text-input", "shouty"}, exitUsage, "--text-input"},
		{"extra argument", []string{"serve", "--work", work, "now"}, exitUsage, "takes no arguments"},
		{"port in use", []string{"serve", "--work", work, "--addr", busy.Addr().String()}, exitFailure, "is already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d stderr %q; want exit %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}
