package hub

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/hub/hubtest"
	"github.com/reelmatch/reelmatch/internal/progress"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

func testClient(h *hubtest.Hub, token string) *Client {
	return &Client{Endpoint: h.URL, Token: token, HTTP: &http.Client{}}
}

func TestDownloadFull(t *testing.T) {
	onnx := reeltest.ReadFixture(t, "resnet-tiny/model.onnx")
	cfg := reeltest.ReadFixture(t, "clip-tiny/preprocessor_config.json")
	tests := []struct {
		name, path string
		data       []byte
		lfs        bool
	}{
		{"lfs", "onnx/model.onnx", onnx, true},
		{"small", "preprocessor_config.json", cfg, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := hubtest.New(t)
			h.Token = "secret"
			h.Add("org/model", "main", tc.path, tc.data, tc.lfs)
			dest := filepath.Join(t.TempDir(), "preset", filepath.FromSlash(tc.path))
			res, err := testClient(h, "secret").Download(context.Background(), "org/model", "", tc.path, dest)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(dest)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Fatalf("downloaded %d bytes differ from the served %d", len(got), len(tc.data))
			}
			want := Result{Path: dest, Size: int64(len(tc.data)), SHA256: reeltest.SHA256(tc.data), Downloaded: int64(len(tc.data))}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(dest + ".partial"); !os.IsNotExist(err) {
				t.Errorf("partial file left behind: %v", err)
			}
			for _, a := range h.CDNAuthorization() {
				if a != "" {
					t.Errorf("token leaked to the CDN host: %q", a)
				}
			}
			// A second call finds the file complete and transfers nothing.
			again, err := testClient(h, "secret").Download(context.Background(), "org/model", "main", tc.path, dest)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Skipped || again.Downloaded != 0 {
				t.Errorf("second download = %+v, want skipped", again)
			}
		})
	}
}

func TestDownloadResume(t *testing.T) {
	data := reeltest.ReadFixture(t, "resnet-tiny/model.onnx")
	tests := []struct {
		name        string
		have        int
		ignoreRange bool
		wantRange   string
		wantResumed bool
		wantBytes   int
	}{
		{"range honoured", 100_000, false, "bytes=100000-", true, len(data) - 100_000},
		{"range ignored restarts", 100_000, true, "bytes=100000-", false, len(data)},
		{"partial complete", len(data), false, "", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := hubtest.New(t)
			h.IgnoreRange(tc.ignoreRange)
			h.Add("org/model", "main", "onnx/model.onnx", data, true)
			dest := filepath.Join(t.TempDir(), "model.onnx")
			if err := os.WriteFile(dest+".partial", data[:tc.have], 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := testClient(h, "").Download(context.Background(), "org/model", "main", "onnx/model.onnx", dest)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(dest)
			if !bytes.Equal(got, data) {
				t.Fatal("resumed file differs from the served one")
			}
			var wantRanges []string
			if tc.wantRange != "" {
				wantRanges = []string{tc.wantRange}
			}
			if diff := cmp.Diff(wantRanges, h.Ranges()); diff != "" {
				t.Errorf("Range headers (-want +got):\n%s", diff)
			}
			if res.Resumed != tc.wantResumed || res.Downloaded != int64(tc.wantBytes) {
				t.Errorf("resumed=%v downloaded=%d, want %v %d", res.Resumed, res.Downloaded, tc.wantResumed, tc.wantBytes)
			}
		})
	}
}

func TestDownloadInterruptedThenResumed(t *testing.T) {
	data := reeltest.ReadFixture(t, "resnet-tiny/model.onnx")
	h := hubtest.New(t)
	h.Add("org/model", "main", "onnx/model.onnx", data, true)
	h.CutNextAfter(200_000)
	dest := filepath.Join(t.TempDir(), "model.onnx")
	c := testClient(h, "")
	if _, err := c.Download(context.Background(), "org/model", "main", "onnx/model.onnx", dest); err == nil {
		t.Fatal("download through a dropped connection succeeded")
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("final file exists after an interrupted download: %v", err)
	}
	fi, err := os.Stat(dest + ".partial")
	if err != nil || fi.Size() == 0 || fi.Size() > 200_000 {
		t.Fatalf("partial file after interruption: %v, %v", fi, err)
	}
	res, err := c.Download(context.Background(), "org/model", "main", "onnx/model.onnx", dest)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.Downloaded != int64(len(data))-fi.Size() {
		t.Errorf("second call %+v, want a resume of %d bytes", res, int64(len(data))-fi.Size())
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
		t.Error("resumed file differs")
	}
}

func TestDownloadChecksumMismatch(t *testing.T) {
	data := reeltest.ReadFixture(t, "resnet-tiny/model.onnx")
	h := hubtest.New(t)
	h.Corrupt(true)
	h.Add("org/model", "main", "onnx/model.onnx", data, true)
	dest := filepath.Join(t.TempDir(), "model.onnx")
	_, err := testClient(h, "").Download(context.Background(), "org/model", "main", "onnx/model.onnx", dest)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	for _, p := range []string{dest, dest + ".partial"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after a checksum mismatch", p)
		}
	}
}

func TestDownloadErrors(t *testing.T) {
	cfg := reeltest.ReadFixture(t, "clip-tiny/preprocessor_config.json")
	tests := []struct {
		name      string
		token     string
		repo      string
		wantErr   error
		wantInMsg string
	}{
		{"no token", "", "org/gated", ErrUnauthorized, "set HF_TOKEN"},
		{"wrong token", "nope", "org/gated", ErrUnauthorized, "rejected HF_TOKEN"},
		{"missing file", "secret", "org/other", ErrNotFound, "org/other@main/config.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := hubtest.New(t)
			h.Token = "secret"
			h.Add("org/gated", "main", "config.json", cfg, false)
			dest := filepath.Join(t.TempDir(), "config.json")
			_, err := testClient(h, tc.token).Download(context.Background(), tc.repo, "main", "config.json", dest)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantInMsg) {
				t.Errorf("message %q lacks %q", err, tc.wantInMsg)
			}
			if _, err := os.Stat(dest); !os.IsNotExist(err) {
				t.Errorf("destination exists after an error")
			}
		})
	}
}

func TestHeadFollowsRenamedRepo(t *testing.T) {
	data := reeltest.ReadFixture(t, "resnet-tiny/model.onnx")
	h := hubtest.New(t)
	h.Renamed["old/model"] = "org/model"
	h.Add("org/model", "main", "onnx/model.onnx", data, true)
	m, err := testClient(h, "").Head(context.Background(), "old/model", "main", "onnx/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	want := Meta{Size: int64(len(data)), SHA256: reeltest.SHA256(data), ETag: reeltest.SHA256(data), Commit: hubtest.Commit}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("meta (-want +got):\n%s", diff)
	}
}

func TestNewClientFromEnvironment(t *testing.T) {
	data := reeltest.ReadFixture(t, "clip-tiny/preprocessor_config.json")
	h := hubtest.New(t)
	h.Token = "tok"
	h.Add("org/model", "main", "preprocessor_config.json", data, false)
	t.Setenv("HF_ENDPOINT", h.URL+"/")
	t.Setenv("HF_TOKEN", "tok")
	c := NewClient()
	if c.Endpoint != h.URL {
		t.Errorf("endpoint %q, want %q", c.Endpoint, h.URL)
	}
	want := h.URL + "/org/model/resolve/main/a%20b/c.json"
	if got := c.URL("org/model", "", "a b/c.json"); got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	dest := filepath.Join(t.TempDir(), "p.json")
	if _, err := c.Download(context.Background(), "org/model", "main", "preprocessor_config.json", dest); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_ENDPOINT", "")
	if got := NewClient().Endpoint; got != DefaultEndpoint {
		t.Errorf("default endpoint %q", got)
	}
}

func TestCacheRoot(t *testing.T) {
	tests := []struct {
		name                      string
		models, hfHome, xdg, home string
		want                      string
	}{
		{"REELMATCH_MODELS wins", "/m", "/hf", "/x", "/h", "/m"},
		{"HF_HOME", "", "/hf", "/x", "/h", "/hf/reelmatch/models"},
		{"XDG_CACHE_HOME", "", "", "/x", "/h", "/x/reelmatch/models"},
		{"home", "", "", "", "/h", "/h/.cache/reelmatch/models"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("REELMATCH_MODELS", tc.models)
			t.Setenv("HF_HOME", tc.hfHome)
			t.Setenv("XDG_CACHE_HOME", tc.xdg)
			t.Setenv("HOME", tc.home)
			got, err := CacheRoot()
			if err != nil {
				t.Fatal(err)
			}
			if got != filepath.FromSlash(tc.want) {
				t.Errorf("CacheRoot() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDownloadDrawsProgress(t *testing.T) {
	data := reeltest.ReadFixture(t, "resnet-tiny/model.onnx")
	h := hubtest.New(t)
	h.Add("org/model", "main", "onnx/model.onnx", data, true)
	var bar bytes.Buffer
	c := testClient(h, "")
	c.Progress = progress.Options{Force: true, Out: &bar}
	if _, err := c.Download(context.Background(), "org/model", "main", "onnx/model.onnx", filepath.Join(t.TempDir(), "m.onnx")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(bar.String(), "model.onnx") {
		t.Errorf("no progress bar naming the file on stderr: %q", bar.String())
	}
	c.Progress = progress.Options{Quiet: true, Force: true, Out: &bar}
	bar.Reset()
	if _, err := c.Download(context.Background(), "org/model", "main", "onnx/model.onnx", filepath.Join(t.TempDir(), "m.onnx")); err != nil {
		t.Fatal(err)
	}
	if bar.Len() != 0 {
		t.Errorf("--quiet drew %q", bar.String())
	}
}
