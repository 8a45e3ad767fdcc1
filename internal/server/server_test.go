package server

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

func newTestServer(t testing.TB, n int) (*httptest.Server, *fakeEngine) {
	t.Helper()
	e := newFakeEngine(t, n)
	ts := httptest.NewServer(New(Options{Engine: e}))
	t.Cleanup(ts.Close)
	return ts, e
}

func resultIDs(t testing.TB, body map[string]any) []string {
	t.Helper()
	rs, ok := body["results"].([]any)
	if !ok {
		t.Fatalf("no results in %v", body)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.(map[string]any)["id"].(string))
	}
	return ids
}

func TestAPI(t *testing.T) {
	ts, _ := newTestServer(t, 12)
	for _, tc := range []struct {
		name       string
		path       string
		wantStatus int
		check      func(t *testing.T, body map[string]any)
	}{
		{"health", "/healthz", 200, func(t *testing.T, b map[string]any) {
			if b["status"] != "ok" || b["movies"].(float64) != 12 {
				t.Errorf("got %v", b)
			}
		}},
		{"movies first page", "/api/movies?offset=0&limit=5", 200, func(t *testing.T, b map[string]any) {
			if b["total"].(float64) != 12 || len(b["movies"].([]any)) != 5 {
				t.Errorf("got %v", b)
			}
		}},
		{"movies last page", "/api/movies?offset=10&limit=5", 200, func(t *testing.T, b map[string]any) {
			if n := len(b["movies"].([]any)); n != 2 {
				t.Errorf("got %d movies, want 2", n)
			}
		}},
		{"movies offset past end", "/api/movies?offset=99", 200, func(t *testing.T, b map[string]any) {
			if n := len(b["movies"].([]any)); n != 0 {
				t.Errorf("got %d movies, want 0", n)
			}
		}},
		{"movies bad limit", "/api/movies?limit=abc", 400, nil},
		{"movies negative offset", "/api/movies?offset=-3", 400, nil},
		{"movie", "/api/movies/3", 200, func(t *testing.T, b map[string]any) {
			if b["id"] != "3" || b["poster"] != "/posters/3" || !strings.Contains(b["intro"].(string), "number 3") {
				t.Errorf("got %v", b)
			}
		}},
		{"movie unknown", "/api/movies/999", 404, nil},
		{"neighbors poster to intro", "/api/movies/5/neighbors?direction=poster_to_intro&k=3", 200, func(t *testing.T, b map[string]any) {
			if diff := cmp.Diff([]string{"5", "4", "6"}, resultIDs(t, b)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			first := b["results"].([]any)[0].(map[string]any)
			if first["is_match"] != true || first["rank"].(float64) != 1 || b["true_rank"].(float64) != 1 {
				t.Errorf("true match not marked: %v", b)
			}
		}},
		{"neighbors default direction and k", "/api/movies/1/neighbors", 200, func(t *testing.T, b map[string]any) {
			if b["direction"] != "poster_to_intro" || len(resultIDs(t, b)) != DefaultK {
				t.Errorf("got %v", b)
			}
		}},
		{"neighbors k clamped high", "/api/movies/1/neighbors?direction=intro_to_poster&k=1000", 200, func(t *testing.T, b map[string]any) {
			if b["k"].(float64) != MaxK || len(resultIDs(t, b)) != 12 {
				t.Errorf("got k=%v n=%d", b["k"], len(resultIDs(t, b)))
			}
		}},
		{"neighbors k clamped low", "/api/movies/1/neighbors?k=-4", 200, func(t *testing.T, b map[string]any) {
			if len(resultIDs(t, b)) != 1 {
				t.Errorf("got %v", b)
			}
		}},
		{"neighbors bad k", "/api/movies/1/neighbors?k=five", 400, nil},
		{"neighbors bad direction", "/api/movies/1/neighbors?direction=sideways", 400, nil},
		{"neighbors unknown id", "/api/movies/nope/neighbors", 404, nil},
		{"search text", "/api/search?text=" + url.QueryEscape("a detective hunts a serial killer") + "&k=4", 200, func(t *testing.T, b map[string]any) {
			if len(resultIDs(t, b)) != 4 {
				t.Errorf("got %v", b)
			}
		}},
		{"search empty text", "/api/search?text=%20", 400, nil},
		{"search text too long", "/api/search?text=" + strings.Repeat("a", MaxQueryRunes+1), 400, nil},
		{"search invalid utf8", "/api/search?text=%ff%fe", 400, nil},
		{"search internal error hides detail", "/api/search?text=explode", 500, func(t *testing.T, b map[string]any) {
			if strings.Contains(fmt.Sprint(b), "secret") {
				t.Errorf("internal detail leaked: %v", b)
			}
		}},
		{"unknown api", "/api/nothing", 404, nil},
		{"poster unknown", "/posters/..%2f..%2fetc%2fpasswd", 404, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := reeltest.GetJSON(t, ts.URL+tc.path)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %v", status, tc.wantStatus, body)
			}
			if status >= 400 {
				if msg, _ := body["error"].(string); msg == "" {
					t.Errorf("error response without message: %v", body)
				}
			}
			if tc.check != nil {
				tc.check(t, body)
			}
		})
	}
}

func TestPosterThumbnail(t *testing.T) {
	ts, _ := newTestServer(t, 3)
	res, err := http.Get(ts.URL + "/posters/2")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("status %d type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	img, err := jpeg.Decode(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if w := img.Bounds().Dx(); w != thumbWidth {
		t.Errorf("thumbnail width %d, want %d", w, thumbWidth)
	}
}

func TestPage(t *testing.T) {
	ts, _ := newTestServer(t, 3)
	for path, want := range map[string]string{"/": "<title>reelmatch</title>", "/app.js": "showPoster", "/style.css": ".grid"} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: status %d, missing %q", path, res.StatusCode, want)
		}
	}
	res, err := http.Get(ts.URL + "/../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == 200 {
		t.Errorf("path traversal served a file")
	}
}

func jpegBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(0, 0, color.White)
	return reeltest.JPEG(t, img, 0)
}

func TestSearchImage(t *testing.T) {
	ts, _ := newTestServer(t, 10)
	good := jpegBytes(t, 37, 50)
	for _, tc := range []struct {
		name       string
		data       []byte
		field      string
		wantStatus int
	}{
		{"raw body", good, "", 200},
		{"multipart", good, "image", 200},
		{"multipart wrong field", good, "file", 400},
		{"empty", nil, "", 400},
		{"not an image", []byte("#!/bin/sh\nrm -rf /\n"), "", 400},
		{"truncated jpeg", good[:len(good)/3], "", 400},
		{"too large", append(append([]byte{}, good...), make([]byte, MaxUploadBytes)...), "", 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := reeltest.PostImage(t, ts.URL+"/api/search/image?k=3", tc.data, tc.field)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %v", status, tc.wantStatus, body)
			}
			if status == 200 {
				// The fake ranks around width 37 % 10 = 7, i.e. movie id "8".
				if diff := cmp.Diff([]string{"8", "7", "9"}, resultIDs(t, body)); diff != "" {
					t.Errorf("ids (-want +got):\n%s", diff)
				}
			}
		})
	}
	res, err := http.Get(ts.URL + "/api/search/image")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET on upload endpoint: status %d, want 405", res.StatusCode)
	}
}

// TestUnavailable checks that an Engine without an encoder still browses
// and answers both searches 503 with the reason.
func TestUnavailable(t *testing.T) {
	e := newFakeEngine(t, 6)
	e.unavailable = fmt.Errorf("encoder clip-vit-b32: models folder /m lacks vision_model.onnx")
	ts := httptest.NewServer(New(Options{Engine: e}))
	t.Cleanup(ts.Close)
	want := "model not loaded: encoder clip-vit-b32: models folder /m lacks vision_model.onnx"
	status, body := reeltest.GetJSON(t, ts.URL+"/api/search?text=space")
	if status != http.StatusServiceUnavailable || body["error"] != want {
		t.Errorf("text search: status %d body %v, want 503 %q", status, body, want)
	}
	status, body = reeltest.PostImage(t, ts.URL+"/api/search/image", jpegBytes(t, 20, 30), "image")
	if status != http.StatusServiceUnavailable || body["error"] != want {
		t.Errorf("image search: status %d body %v, want 503 %q", status, body, want)
	}
	status, body = reeltest.GetJSON(t, ts.URL+"/api/movies/3/neighbors?k=2")
	if status != http.StatusOK {
		t.Errorf("neighbours without a model: status %d body %v, want 200", status, body)
	}
}

// TestConcurrentRequests hammers every endpoint at once; run with -race.
func TestConcurrentRequests(t *testing.T) {
	ts, _ := newTestServer(t, 20)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range []string{
				fmt.Sprintf("/api/movies/%d/neighbors?k=5", i%20+1),
				fmt.Sprintf("/posters/%d", i%20+1),
				"/api/search?text=space+adventure",
				"/api/movies?offset=5&limit=10",
			} {
				res, err := http.Get(ts.URL + p)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					errs <- fmt.Errorf("GET %s: status %d", p, res.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
