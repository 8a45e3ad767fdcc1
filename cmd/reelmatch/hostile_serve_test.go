package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// liveURL waits for serve --json to print its URL.
func liveURL(t testing.TB, p *hostileProc) string {
	t.Helper()
	out := p.WaitStdout(t, "}", 30*time.Second)
	var j serveJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil || j.URL == "" {
		t.Fatalf("serve --json printed %q: %v", out, err)
	}
	return strings.TrimSuffix(j.URL, "/")
}

// probe is one request to a live server and what must come back.
type probe struct {
	name, method, path string
	host               string // Host header; "" for the server's own
	contentType        string
	body               []byte
	status             int
	header             map[string]string // headers that must have these values
	errorHas           string            // fragment of the JSON error
}

func (pr probe) run(t *testing.T, base string) {
	t.Helper()
	req, err := http.NewRequest(pr.method, base+pr.path, bytes.NewReader(pr.body))
	if err != nil {
		t.Fatal(err)
	}
	if pr.body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	if pr.host != "" {
		req.Host = pr.host
	}
	if pr.contentType != "" {
		req.Header.Set("Content-Type", pr.contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s: %v", pr.name, err)
		return
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != pr.status {
		t.Errorf("%s: status %d, want %d: %s", pr.name, res.StatusCode, pr.status, b)
	}
	want := map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
	}
	for k, v := range pr.header {
		want[k] = v
	}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s: %s is %q, want %q", pr.name, k, got, v)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: Content-Security-Policy %q lacks frame-ancestors 'none'", pr.name, csp)
	}
	if pr.errorHas != "" && !strings.Contains(string(b), pr.errorHas) {
		t.Errorf("%s: body %s lacks %q", pr.name, b, pr.errorHas)
	}
}

// burst uploads body from n clients at once and counts the statuses.
func burst(t testing.TB, base string, body []byte, n int) map[int]int {
	t.Helper()
	return uploads(t, base, body, n, n)
}

// uploads sends body total times from clients goroutines at once and
// counts the statuses (0 for a transport error).
func uploads(t testing.TB, base string, body []byte, total, clients int) map[int]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	next := make(chan struct{})
	go func() {
		defer close(next)
		for range total {
			next <- struct{}{}
		}
	}()
	for range clients {
		wg.Go(func() {
			for range next {
				upload(t, client, base, body, &mu, counts)
			}
		})
	}
	wg.Wait()
	return counts
}

// upload posts body once and counts its status (0 for a transport error).
func upload(t testing.TB, client *http.Client, base string, body []byte, mu *sync.Mutex, counts map[int]int) {
	code := 0
	res, err := client.Post(base+"/api/search/image?k=3", "application/octet-stream", bytes.NewReader(body))
	if err == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		code = res.StatusCode
		if code == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	} else {
		t.Errorf("upload: %v", err)
	}
	mu.Lock()
	counts[code]++
	mu.Unlock()
}

// TestHostileServe runs the real serve on 127.0.0.1:0 and probes it as a
// hostile client would: wrong methods, oversized bodies, blank queries,
// DNS-rebinding Host headers, then 40 concurrent decompression bombs and
// 40 concurrent images at the pixel budget, with the server's memory
// watched from outside.
func TestHostileServe(t *testing.T) {
	bomb := reeltest.PNGBomb(t, 6300, 6300)
	atBudget := reeltest.PNGBombRGBA(t, 4096, 4096)
	poster := posterPNG(t, 300, 450)
	tooBig := append(append([]byte{}, poster...), make([]byte, 11<<20)...)
	runHostileCases(t, []hostileCase{{
		Name:    "serve under hostile clients",
		Setup:   hostileWork,
		Args:    []string{"serve", "--work", "$DIR/work", "--addr", "127.0.0.1:0", "--json", "--allowed-host", "movies.example.org"},
		Exit:    exitOK,
		Timeout: 120 * time.Second,
		MaxRSS:  1 << 30,
		Live: func(t *testing.T, p *hostileProc) {
			base := liveURL(t, p)
			u, _ := url.Parse(base)
			port := u.Port()
			for _, pr := range []probe{
				{name: "page", method: "GET", path: "/", status: 200},
				{name: "POST on the page", method: "POST", path: "/", status: 405, header: map[string]string{"Allow": "GET, HEAD"}},
				{name: "DELETE a movie", method: "DELETE", path: "/api/movies/1", status: 405, header: map[string]string{"Allow": "GET, HEAD"}},
				{name: "GET the upload endpoint", method: "GET", path: "/api/search/image", status: 405, header: map[string]string{"Allow": "POST"}},
				{name: "body over the cap", method: "POST", path: "/api/search/image", contentType: "image/png", body: tooBig, status: 413, errorHas: "larger than 10 MiB"},
				{name: "bomb", method: "POST", path: "/api/search/image", contentType: "image/png", body: bomb, status: 413, errorHas: "6300x6300"},
				{name: "whitespace query", method: "GET", path: "/api/search?text=%20%09%20", status: 400, errorHas: "text is empty"},
				{name: "rebinding Host", method: "GET", path: "/api/info", host: "attacker.example:" + port, status: 403, errorHas: "is not allowed"},
				{name: "localhost Host", method: "GET", path: "/api/info", host: "localhost:" + port, status: 200},
				{name: "IPv6 loopback Host", method: "GET", path: "/api/info", host: "[::1]:" + port, status: 200},
				{name: "proxy Host", method: "GET", path: "/api/info", host: "movies.example.org", status: 200},
				{name: "unknown endpoint", method: "GET", path: "/api/../../etc/passwd", status: 404},
				{name: "normal upload", method: "POST", path: "/api/search/image", contentType: "image/png", body: poster, status: 200},
			} {
				pr.run(t, base)
			}
			rss0, _ := p.Memory(t)

			logMem := func(what string) {
				time.Sleep(1500 * time.Millisecond)
				rss, peak := p.Memory(t)
				t.Logf("after %s: RSS %d MiB, peak %d MiB", what, rss>>20, peak>>20)
			}
			counts := burst(t, base, bomb, 40)
			logMem("bombs")
			if counts[http.StatusRequestEntityTooLarge] != 40 {
				t.Errorf("40 bombs: statuses %v, want 40 × 413", counts)
			}
			counts = burst(t, base, atBudget, 40)
			logMem("at budget")
			if counts[200] == 0 || counts[200]+counts[503] != 40 {
				t.Errorf("40 images at the pixel budget: statuses %v, want 200s and 503s only", counts)
			}
			counts = burst(t, base, poster, 40)
			logMem("posters")
			if counts[200]+counts[503] != 40 || counts[200] < 20 {
				t.Errorf("40 posters: statuses %v, want mostly 200", counts)
			}
			_, peak := p.Memory(t)
			t.Logf("serve RSS: %d MiB idle, %d MiB peak over the bursts", rss0>>20, peak>>20)
			if raceDetector {
				// The race detector's shadow memory is no measure of
				// serve's: the plain run holds the budgets.
				return
			}
			if peak > 1<<30 {
				t.Errorf("peak RSS %d MiB, over 1 GiB", peak>>20)
			}
			// Memory returns after the burst.
			deadline := time.Now().Add(10 * time.Second)
			for {
				rss, _ := p.Memory(t)
				if rss < rss0+100<<20 {
					t.Logf("RSS back to %d MiB", rss>>20)
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("RSS still %d MiB 10 s after the burst (idle %d MiB)", rss>>20, rss0>>20)
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
		},
	}})
}

func TestHostileServeFlags(t *testing.T) {
	runHostileCases(t, []hostileCase{{
		Name:  "--allowed-host with a scheme",
		Setup: hostileWork,
		Args:  []string{"serve", "--work", "$DIR/work", "--addr", "127.0.0.1:0", "--allowed-host", "http://movies.example.org/"},
		Exit:  exitUsage, Stderr: []string{`--allowed-host: "http://movies.example.org/" is not a host name`},
	}, {
		Name:  "--allowed-host empty",
		Setup: hostileWork,
		Args:  []string{"serve", "--work", "$DIR/work", "--addr", "127.0.0.1:0", "--allowed-host", ""},
		Exit:  exitUsage, Stderr: []string{"--allowed-host: empty host name"},
	}})
}

func TestServeAllowedHosts(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		extra []string
		want  []string
	}{
		{"127.0.0.1:8080", nil, []string{"localhost", "127.0.0.1", "::1"}},
		{"localhost:0", []string{"movies.example.org"}, []string{"localhost", "127.0.0.1", "::1", "movies.example.org"}},
		{"[::1]:9000", nil, []string{"localhost", "127.0.0.1", "::1"}},
		{"127.0.0.9:80", nil, []string{"localhost", "127.0.0.1", "::1", "127.0.0.9"}},
		{"0.0.0.0:8080", nil, nil},
		{":8080", nil, nil},
		{"10.1.2.3:80", []string{"movies.example.org"}, []string{"localhost", "127.0.0.1", "::1", "movies.example.org", "10.1.2.3"}},
	} {
		got := serveAllowedHosts(tc.addr, tc.extra)
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("serveAllowedHosts(%q, %q) = %q, want %q", tc.addr, tc.extra, got, tc.want)
		}
	}
}
