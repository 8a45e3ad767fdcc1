package hubtest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Commit is the X-Repo-Commit every reply carries.
const Commit = "0123456789abcdef0123456789abcdef01234567"

// Hub is the fake. Set its fields before requests start, except the
// failure switches, which are guarded and may change between requests.
type Hub struct {
	// URL is the hub endpoint (http://127.0.0.1:port).
	URL string
	// Token, when set, is required as "Bearer <Token>" on /resolve/.
	Token string
	// Renamed maps an old "org/name" to the new one (307 redirect).
	Renamed map[string]string

	files  map[string][]byte
	lfs    map[string]bool
	cdnURL string

	mu          sync.Mutex
	corrupt     bool
	ignoreRange bool
	cutAfter    int
	cdnAuth     []string
	ranges      []string
}

// New starts a hub and its CDN; both close when the test ends.
func New(t testing.TB) *Hub {
	t.Helper()
	h := &Hub{files: map[string][]byte{}, lfs: map[string]bool{}, Renamed: map[string]string{}}
	cdnMux := http.NewServeMux()
	cdnMux.HandleFunc("/cdn/{key...}", h.cdn)
	cdn := httptest.NewServer(cdnMux)
	t.Cleanup(cdn.Close)
	// "localhost" while the hub is "127.0.0.1": another host to an HTTP
	// client, so it must not receive the token.
	h.cdnURL = strings.Replace(cdn.URL, "127.0.0.1", "localhost", 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/{org}/{name}/resolve/{rev}/{path...}", h.resolve)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	return h
}

// Add serves data as repo@rev/path; lfs files go through the CDN.
func (h *Hub) Add(repo, rev, path string, data []byte, lfs bool) {
	k := repo + "/" + rev + "/" + path
	h.files[k] = data
	h.lfs[k] = lfs
}

// Corrupt makes the CDN flip one byte of what it serves, while the hub
// still publishes the true SHA-256.
func (h *Hub) Corrupt(on bool) { h.mu.Lock(); h.corrupt = on; h.mu.Unlock() }

// IgnoreRange makes the CDN answer Range requests with the whole file.
func (h *Hub) IgnoreRange(on bool) { h.mu.Lock(); h.ignoreRange = on; h.mu.Unlock() }

// CutNextAfter makes the next CDN download drop the connection after n
// bytes.
func (h *Hub) CutNextAfter(n int) { h.mu.Lock(); h.cutAfter = n; h.mu.Unlock() }

// CDNAuthorization lists the Authorization headers the CDN received.
func (h *Hub) CDNAuthorization() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.cdnAuth...)
}

// Ranges lists the Range headers of CDN downloads ("" for none).
func (h *Hub) Ranges() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ranges...)
}

func (h *Hub) resolve(w http.ResponseWriter, r *http.Request) {
	repo := r.PathValue("org") + "/" + r.PathValue("name")
	if to, ok := h.Renamed[repo]; ok {
		http.Redirect(w, r, "/"+to+"/resolve/"+r.PathValue("rev")+"/"+r.PathValue("path"), http.StatusTemporaryRedirect)
		return
	}
	if h.Token != "" && r.Header.Get("Authorization") != "Bearer "+h.Token {
		http.Error(w, "Invalid credentials", http.StatusUnauthorized)
		return
	}
	k := repo + "/" + r.PathValue("rev") + "/" + r.PathValue("path")
	data, ok := h.files[k]
	if !ok {
		http.Error(w, "Entry not found", http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", Commit)
	if h.lfs[k] {
		sum := sha256.Sum256(data)
		w.Header().Set("X-Linked-Etag", `"`+hex.EncodeToString(sum[:])+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
		http.Redirect(w, r, h.cdnURL+"/cdn/"+k, http.StatusFound)
		return
	}
	blob := sha1.Sum(append([]byte(fmt.Sprintf("blob %d\x00", len(data))), data...))
	w.Header().Set("ETag", `"`+hex.EncodeToString(blob[:])+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func (h *Hub) cdn(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.cdnAuth = append(h.cdnAuth, r.Header.Get("Authorization"))
	if r.Method == http.MethodGet {
		h.ranges = append(h.ranges, r.Header.Get("Range"))
	}
	data := h.files[r.PathValue("key")]
	corrupt, ignoreRange, cut := h.corrupt, h.ignoreRange, h.cutAfter
	if r.Method == http.MethodGet {
		h.cutAfter = 0
	}
	h.mu.Unlock()
	if corrupt {
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	switch {
	case cut > 0:
		// Promise the whole file, send part of it, then drop the connection.
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	case ignoreRange:
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	default:
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}
}
