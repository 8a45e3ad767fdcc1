package reeltest

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestImageFiles encodes a small image both ways and decodes it back: PNG
// is lossless, JPEG keeps the size and format.
func TestImageFiles(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 6))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 9)
		if i%4 == 3 {
			img.Pix[i] = 255 // opaque, so PNG keeps every value exactly
		}
	}
	img.Set(0, 0, color.RGBA{255, 255, 255, 255})
	for _, tc := range []struct {
		name, format string
		data         []byte
	}{
		{"png", "png", PNG(t, img)},
		{"jpeg default quality", "jpeg", JPEG(t, img, 0)},
		{"jpeg quality 95", "jpeg", JPEG(t, img, 95)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := WriteFile(t, filepath.Join(t.TempDir(), "a", "b", "poster"), tc.data)
			if got := ReadFile(t, path); !bytes.Equal(got, tc.data) {
				t.Fatalf("read back %d bytes, wrote %d", len(got), len(tc.data))
			}
			got, format, err := image.Decode(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if format != tc.format || got.Bounds() != img.Bounds() {
				t.Errorf("decoded a %s of %v, want a %s of %v", format, got.Bounds(), tc.format, img.Bounds())
			}
			if tc.format == "png" {
				for y := range 6 {
					for x := range 4 {
						if w, g := color.RGBAModel.Convert(img.At(x, y)), color.RGBAModel.Convert(got.At(x, y)); w != g {
							t.Fatalf("PNG pixel (%d, %d) = %v, want %v", x, y, g, w)
						}
					}
				}
			}
		})
	}
}

// TestSHA256 checks the digest against FIPS 180-2's "abc" example.
func TestSHA256(t *testing.T) {
	if got, want := SHA256([]byte("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("SHA256(abc) = %s, want %s", got, want)
	}
}

// TestHTTPJSON sends GetJSON and both forms of PostImage to a server that
// echoes what it received.
func TestHTTPJSON(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		echo := map[string]any{"method": r.Method}
		if r.Method == http.MethodPost {
			var body io.Reader = r.Body
			if f, _, err := r.FormFile("image"); err == nil {
				body, echo["field"] = f, "image"
			}
			data, err := io.ReadAll(body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			echo["body"] = string(data)
		}
		w.WriteHeader(http.StatusTeapot)
		json.NewEncoder(w).Encode(echo)
	}))
	t.Cleanup(ts.Close)
	for _, tc := range []struct {
		name string
		call func() (int, map[string]any)
		want map[string]any
	}{
		{"get", func() (int, map[string]any) { return GetJSON(t, ts.URL) }, map[string]any{"method": "GET"}},
		{"post raw", func() (int, map[string]any) { return PostImage(t, ts.URL, []byte("jpeg bytes"), "") },
			map[string]any{"method": "POST", "body": "jpeg bytes"}},
		{"post multipart", func() (int, map[string]any) { return PostImage(t, ts.URL, []byte("jpeg bytes"), "image") },
			map[string]any{"method": "POST", "body": "jpeg bytes", "field": "image"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tc.call()
			if status != http.StatusTeapot {
				t.Errorf("status %d, want %d", status, http.StatusTeapot)
			}
			if diff := cmp.Diff(tc.want, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}
