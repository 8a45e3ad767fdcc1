package server

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// do sends one request and returns the response with its body read.
func do(t *testing.T, method, url string, body io.Reader, header map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if len(b) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &obj); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, url, b, err)
		}
	}
	return res, obj
}

func TestMethodNotAllowed(t *testing.T) {
	ts, _ := newTestServer(t, 4)
	for _, tc := range []struct {
		method, path, allow string
	}{
		{"POST", "/", "GET, HEAD"},
		{"DELETE", "/index.html", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
		{"PUT", "/api/info", "GET, HEAD"},
		{"POST", "/api/movies", "GET, HEAD"},
		{"PATCH", "/api/movies/1", "GET, HEAD"},
		{"POST", "/api/movies/1/neighbors", "GET, HEAD"},
		{"POST", "/api/search?text=x", "GET, HEAD"},
		{"GET", "/api/search/image", "POST"},
		{"PUT", "/api/search/image", "POST"},
		{"DELETE", "/posters/1", "GET, HEAD"},
		{"OPTIONS", "/api/info", "GET, HEAD"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			res, body := do(t, tc.method, ts.URL+tc.path, nil, nil)
			if res.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405", res.StatusCode)
			}
			if got := res.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if msg, _ := body["error"].(string); !strings.Contains(msg, "method "+tc.method+" not allowed") {
				t.Errorf("error %q", msg)
			}
		})
	}
	// The right methods still work, HEAD included.
	for _, tc := range []struct{ method, path string }{{"GET", "/"}, {"HEAD", "/"}, {"HEAD", "/api/info"}, {"GET", "/posters/1"}} {
		if res, _ := do(t, tc.method, ts.URL+tc.path, nil, nil); res.StatusCode != http.StatusOK {
			t.Errorf("%s %s: status %d", tc.method, tc.path, res.StatusCode)
		}
	}
	if res, _ := do(t, "GET", ts.URL+"/api/nope", nil, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown endpoint: status %d, want 404", res.StatusCode)
	}
}

// TestSecurityHeaders: every response, errors included, forbids framing
// and sniffing.
func TestSecurityHeaders(t *testing.T) {
	e := newFakeEngine(t, 4)
	ts := httptest.NewServer(New(Options{Engine: e, AllowedHosts: LoopbackHosts}))
	t.Cleanup(ts.Close)
	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
		status             int
	}{
		{"page", "GET", "/", nil, 200},
		{"script", "GET", "/app.js", nil, 200},
		{"api", "GET", "/api/movies", nil, 200},
		{"poster", "GET", "/posters/2", nil, 200},
		{"404", "GET", "/api/movies/nope", nil, 404},
		{"405", "POST", "/api/info", nil, 405},
		{"400", "GET", "/api/search?text=%20%20", nil, 400},
		{"403 host", "GET", "/", map[string]string{"Host": "evil.example"}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := do(t, tc.method, ts.URL+tc.path, nil, tc.header)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			got := map[string]string{}
			for _, kv := range securityHeaders {
				got[kv[0]] = res.Header.Get(kv[0])
			}
			want := map[string]string{}
			for _, kv := range securityHeaders {
				want[kv[0]] = kv[1]
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if csp := got["Content-Security-Policy"]; !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("CSP %q lacks frame-ancestors 'none'", csp)
			}
		})
	}
}

// TestHostCheck: a loopback server answers only loopback names (and those
// added for a proxy), whatever the port; DNS-rebinding names get 403.
func TestHostCheck(t *testing.T) {
	e := newFakeEngine(t, 3)
	ts := httptest.NewServer(New(Options{Engine: e, AllowedHosts: append(LoopbackHosts, "Movies.Example.org")}))
	t.Cleanup(ts.Close)
	for _, tc := range []struct {
		host   string
		status int
	}{
		{"localhost", 200},
		{"localhost:8080", 200},
		{"LOCALHOST.:1", 200},
		{"127.0.0.1", 200},
		{"127.0.0.1:65535", 200},
		{"[::1]", 200},
		{"[::1]:8080", 200},
		{"movies.example.org", 200},
		{"movies.example.org:443", 200},
		{"evil.example", 403},
		{"127.0.0.1.nip.io", 403},
		{"localhost.evil.example", 403},
		{"attacker.localhost", 403},
		{"127.0.0.2", 403},
		{"[::2]:80", 403},
		{"0.0.0.0", 403},
	} {
		t.Run(tc.host, func(t *testing.T) {
			res, body := do(t, "GET", ts.URL+"/api/info", nil, map[string]string{"Host": tc.host})
			if res.StatusCode != tc.status {
				t.Fatalf("Host %q: status %d, want %d", tc.host, res.StatusCode, tc.status)
			}
			if tc.status == 403 {
				msg, _ := body["error"].(string)
				if !strings.Contains(msg, "is not allowed: this server answers to localhost, 127.0.0.1, ::1, movies.example.org (start it with --allowed-host NAME") {
					t.Errorf("error %q", msg)
				}
			}
		})
	}
	// Without AllowedHosts (a server bound to all interfaces) any Host is
	// answered.
	open, _ := newTestServer(t, 2)
	if res, _ := do(t, "GET", open.URL+"/api/info", nil, map[string]string{"Host": "anything.example"}); res.StatusCode != 200 {
		t.Errorf("no host check: status %d", res.StatusCode)
	}
}

func TestCheckHostName(t *testing.T) {
	for name, ok := range map[string]bool{
		"movies.example.org": true, "10.0.0.5": true, "::1": true, "[::1]": true,
		"": false, "http://x": false, "x:8080": false, "a/b": false, "user@x": false,
	} {
		if err := CheckHostName(name); (err == nil) != ok {
			t.Errorf("CheckHostName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

// TestUploadLimits: bodies over the cap are 413 however they come; a
// decompression bomb is 413 from its header; wrong fields are 400.
func TestUploadLimits(t *testing.T) {
	ts, _ := newTestServer(t, 5)
	good := jpegBytes(t, 40, 60)
	big := append(append([]byte{}, good...), make([]byte, MaxUploadBytes)...)
	multipartBody := func(field string, data []byte) (io.Reader, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("note", "hello")
		fw, _ := mw.CreateFormFile(field, "p.jpg")
		_, _ = fw.Write(data)
		_ = mw.Close()
		return &buf, mw.FormDataContentType()
	}
	for _, tc := range []struct {
		name   string
		body   func() (io.Reader, string)
		status int
		msg    string
	}{
		{"raw over the cap", func() (io.Reader, string) { return bytes.NewReader(big), "image/jpeg" }, 413, "upload is larger than 10 MiB"},
		{"chunked over the cap", func() (io.Reader, string) { return io.MultiReader(bytes.NewReader(big)), "image/jpeg" }, 413, "upload is larger than 10 MiB"},
		{"multipart over the cap", func() (io.Reader, string) { return multipartBody("image", big) }, 413, "upload is larger than 10 MiB"},
		{"multipart with the field after another", func() (io.Reader, string) { return multipartBody("image", good) }, 200, ""},
		{"multipart without the field", func() (io.Reader, string) { return multipartBody("file", good) }, 400, `multipart upload needs a file field named "image"`},
		{"png bomb", func() (io.Reader, string) {
			return bytes.NewReader(reeltest.PNGBomb(t, 6300, 6300)), "image/png"
		}, 413, "uploaded image refused: image over the pixel budget: the png is 6300x6300"},
		{"jpeg bomb header", func() (io.Reader, string) { return bytes.NewReader(reeltest.JPEGHeader(60000, 60000)), "image/jpeg" }, 413, "the jpeg is 60000x60000"},
		{"strip", func() (io.Reader, string) { return bytes.NewReader(reeltest.PNGBomb(t, 50000, 2)), "image/png" }, 400, "extreme aspect ratio"},
		{"2000x10 is fine", func() (io.Reader, string) { return bytes.NewReader(reeltest.PNGBomb(t, 2000, 10)), "image/png" }, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := tc.body()
			res, obj := do(t, "POST", ts.URL+"/api/search/image?k=2", body, map[string]string{"Content-Type": ct})
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %v", res.StatusCode, tc.status, obj)
			}
			if msg, _ := obj["error"].(string); !strings.Contains(msg, tc.msg) {
				t.Errorf("error %q, want it to contain %q", msg, tc.msg)
			}
		})
	}
	res, obj := do(t, "GET", ts.URL+"/api/search?text=%20%09%20", nil, nil)
	if res.StatusCode != 400 || !strings.Contains(obj["error"].(string), "text is empty") {
		t.Errorf("whitespace text: %d %v", res.StatusCode, obj)
	}
}
