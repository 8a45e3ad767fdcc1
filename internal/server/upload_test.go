package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// TestUploadSlots: beyond MaxUploads, an upload waits UploadWait and then
// gets 503 with Retry-After, without its body being read; the slots free
// up when the searches end.
func TestUploadSlots(t *testing.T) {
	e := newFakeEngine(t, 5)
	e.entered, e.release = make(chan struct{}, 4), make(chan struct{})
	ts := httptest.NewServer(New(Options{Engine: e, MaxUploads: 2, UploadWait: 200 * time.Millisecond}))
	t.Cleanup(ts.Close)
	good := jpegBytes(t, 30, 45)
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for range 2 {
		wg.Go(func() {
			status, _ := reeltest.PostImage(t, ts.URL+"/api/search/image", good, "")
			codes <- status
		})
	}
	<-e.entered
	<-e.entered // both slots taken, both searches waiting
	start := time.Now()
	res, body := do(t, "POST", ts.URL+"/api/search/image", strings.NewReader(string(good)), map[string]string{"Content-Type": "image/jpeg"})
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" {
		t.Errorf("third upload: status %d Retry-After %q, want 503 and 1: %v", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	if msg, _ := body["error"].(string); !strings.Contains(msg, "server busy: 2 image searches in progress") {
		t.Errorf("error %q", msg)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("answered after %s, want a wait of about 200 ms", waited)
	}
	close(e.release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("held upload: status %d", c)
		}
	}
	if status, _ := reeltest.PostImage(t, ts.URL+"/api/search/image", good, ""); status != 200 {
		t.Errorf("after the burst: status %d", status)
	}
}

// TestUploadDecodeBusy: an upload that cannot get its share of the decode
// memory in time gets 503 with Retry-After.
func TestUploadDecodeBusy(t *testing.T) {
	defer func(n int64) { _ = imageprep.SetDecodeMemory(n) }(imageprep.DecodeMemory())
	if err := imageprep.SetDecodeMemory(16 << 20); err != nil {
		t.Fatal(err)
	}
	hold, err := imageprep.Acquire(context.Background(), 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer hold()
	e := newFakeEngine(t, 3)
	ts := httptest.NewServer(New(Options{Engine: e, UploadWait: 100 * time.Millisecond}))
	t.Cleanup(ts.Close)
	res, body := do(t, "POST", ts.URL+"/api/search/image", strings.NewReader(string(jpegBytes(t, 20, 30))), map[string]string{"Content-Type": "image/jpeg"})
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d Retry-After %q, want 503 with Retry-After: %v", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	hold()
	if status, _ := reeltest.PostImage(t, ts.URL+"/api/search/image", jpegBytes(t, 20, 30), ""); status != 200 {
		t.Errorf("once memory is free: status %d", status)
	}
}

// TestUploadTooSlow: a client that stalls in the middle of its upload
// loses its slot after the read timeout, with 408.
func TestUploadTooSlow(t *testing.T) {
	e := newFakeEngine(t, 3)
	ts := httptest.NewServer(New(Options{Engine: e, MaxUploads: 1, UploadReadTimeout: 300 * time.Millisecond}))
	t.Cleanup(ts.Close)
	good := jpegBytes(t, 20, 30)
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/search/image HTTP/1.1\r\nHost: %s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", ts.Listener.Addr(), len(good))
	if _, err := conn.Write(good[:len(good)/2]); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestTimeout {
		t.Errorf("stalled upload: status %d, want 408", res.StatusCode)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("answered after %s", waited)
	}
	// The slot is free again.
	if status, _ := reeltest.PostImage(t, ts.URL+"/api/search/image", good, ""); status != 200 {
		t.Errorf("next upload: status %d", status)
	}
}
