package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/reelmatch/reelmatch/internal/progress"
)

// DefaultEndpoint is the public hub, used when HF_ENDPOINT is unset.
const DefaultEndpoint = "https://huggingface.co"

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrUnauthorized means the hub refused the request (401/403): the
	// repository is gated or private, or the token is wrong. The hub also
	// answers 401 for repositories that do not exist when no token is sent.
	ErrUnauthorized = errors.New("not authorised")
	// ErrNotFound means the hub has no such repository, revision or file.
	ErrNotFound = errors.New("not found on the hub")
	// ErrChecksum means the downloaded bytes do not match the size or the
	// SHA-256 the hub published; nothing is left at the destination.
	ErrChecksum = errors.New("checksum mismatch")
)

// maxSameHostRedirects bounds the HEAD redirect chain (huggingface_hub
// follows relative redirects the same way, for renamed repositories).
const maxSameHostRedirects = 5

// Client downloads files from one hub endpoint. The zero value is not
// usable; build it with NewClient. Methods are safe for concurrent use on
// different destinations.
type Client struct {
	// Endpoint is the hub's base URL without a trailing slash.
	Endpoint string
	// Token, when not empty, is sent as "Authorization: Bearer <Token>".
	Token string
	// HTTP is the client used for every request.
	HTTP *http.Client
	// Progress chooses whether and where byte bars are drawn.
	Progress progress.Options
}

// NewClient returns a client configured from HF_ENDPOINT and HF_TOKEN.
func NewClient() *Client {
	ep := strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/")
	if ep == "" {
		ep = DefaultEndpoint
	}
	return &Client{Endpoint: ep, Token: os.Getenv("HF_TOKEN"), HTTP: http.DefaultClient}
}

// URL is where a file of a repository at a revision is resolved.
func (c *Client) URL(repo, revision, path string) string {
	if revision == "" {
		revision = "main"
	}
	return c.Endpoint + "/" + repo + "/resolve/" + url.PathEscape(revision) + "/" + escapePath(path)
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// Meta is what the hub says about a file before it is downloaded.
type Meta struct {
	// Size is the file's length in bytes, or -1 when the hub did not say.
	Size int64
	// SHA256 is the lower-case hex digest published for LFS files, or "".
	SHA256 string
	// ETag is the raw entity tag (the git blob id for small files).
	ETag string
	// Commit is the revision's commit id when the hub sends X-Repo-Commit.
	Commit string
}

// Head asks the hub for a file's metadata without downloading it.
func (c *Client) Head(ctx context.Context, repo, revision, path string) (Meta, error) {
	u := c.URL(repo, revision, path)
	hc := *c.httpClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for range maxSameHostRedirects + 1 {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		if err != nil {
			return Meta{}, fmt.Errorf("hub request %s: %w", u, err)
		}
		c.authorize(req)
		// The hub compresses small files on request; ask for identity so
		// Content-Length is the file's own size.
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := hc.Do(req)
		if err != nil {
			return Meta{}, fmt.Errorf("hub request %s: %w", u, err)
		}
		resp.Body.Close()
		if err := c.statusError(resp, repo, revision, path); err != nil {
			return Meta{}, err
		}
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err != nil {
				return Meta{}, fmt.Errorf("hub request %s: redirect without location: %w", u, err)
			}
			// A redirect to another host is the LFS/Xet CDN: this reply
			// already carries X-Linked-Etag and X-Linked-Size.
			if loc.Host != resp.Request.URL.Host || resp.Header.Get("X-Linked-Etag") != "" {
				return metaFrom(resp.Header), nil
			}
			u = loc.String()
			continue
		}
		return metaFrom(resp.Header), nil
	}
	return Meta{}, fmt.Errorf("hub request %s: more than %d redirects", u, maxSameHostRedirects)
}

func metaFrom(h http.Header) Meta {
	m := Meta{Size: -1, Commit: h.Get("X-Repo-Commit")}
	etag := h.Get("X-Linked-Etag")
	if etag == "" {
		etag = h.Get("ETag")
	}
	etag = strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	m.ETag = etag
	if isHexLen(etag, sha256.Size*2) {
		m.SHA256 = strings.ToLower(etag)
	}
	size := h.Get("X-Linked-Size")
	if size == "" {
		size = h.Get("Content-Length")
	}
	if n, err := strconv.ParseInt(size, 10, 64); err == nil && n >= 0 {
		m.Size = n
	}
	return m
}

func isHexLen(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) authorize(req *http.Request) {
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.Header.Set("User-Agent", "reelmatch")
}

// statusError turns a failing status into an error that says what to do.
func (c *Client) statusError(resp *http.Response, repo, revision, path string) error {
	what := fmt.Sprintf("%s@%s/%s", repo, orMain(revision), path)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		if c.Token == "" {
			return fmt.Errorf("%s: %w (HTTP %d): the repository is gated, private or missing; set HF_TOKEN to a Hugging Face access token and accept the model's terms on its page", what, ErrUnauthorized, resp.StatusCode)
		}
		return fmt.Errorf("%s: %w (HTTP %d): the hub rejected HF_TOKEN for this repository; check the token and that your account can read the repository", what, ErrUnauthorized, resp.StatusCode)
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: %w (HTTP 404)", what, ErrNotFound)
	case resp.StatusCode >= 400:
		return fmt.Errorf("%s: hub answered HTTP %d", what, resp.StatusCode)
	}
	return nil
}

func orMain(rev string) string {
	if rev == "" {
		return "main"
	}
	return rev
}

// Result says what Download did.
type Result struct {
	Path       string
	Size       int64
	SHA256     string // computed digest of the file on disk; "" when skipped
	Downloaded int64  // bytes transferred by this call
	Resumed    bool   // a partial file was continued
	Skipped    bool   // dest already held a file of the expected size
}

// Download fetches repo@revision/path into dest. When dest already exists
// with the size the hub reports, nothing is transferred. Bytes are written
// to dest+".partial", which a later call resumes; the partial file is
// renamed onto dest only after the size and, for LFS files, the SHA-256
// check out. On a checksum mismatch the partial file is removed, so the next
// call starts over.
func (c *Client) Download(ctx context.Context, repo, revision, path, dest string) (Result, error) {
	res := Result{Path: dest}
	meta, err := c.Head(ctx, repo, revision, path)
	if err != nil {
		return res, err
	}
	if fi, err := os.Stat(dest); err == nil && fi.Mode().IsRegular() && (meta.Size < 0 || fi.Size() == meta.Size) {
		res.Skipped, res.Size = true, fi.Size()
		return res, nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return res, fmt.Errorf("create folder for %q: %w", dest, err)
	}
	partial := dest + ".partial"
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return res, fmt.Errorf("open %q: %w", partial, err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return res, fmt.Errorf("seek %q: %w", partial, err)
	}
	if meta.Size >= 0 && have > meta.Size {
		// Longer than the file can be: stale, from another revision.
		if err := f.Truncate(0); err != nil {
			return res, fmt.Errorf("truncate %q: %w", partial, err)
		}
		have = 0
	}
	h := sha256.New()
	if have > 0 {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return res, fmt.Errorf("seek %q: %w", partial, err)
		}
		if _, err := io.CopyN(h, f, have); err != nil {
			return res, fmt.Errorf("read %q: %w", partial, err)
		}
	}
	if meta.Size < 0 || have < meta.Size {
		n, resumed, err := c.get(ctx, repo, revision, path, f, h, &have, meta.Size)
		res.Downloaded, res.Resumed = n, resumed
		if err != nil {
			return res, err
		}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if meta.Size >= 0 && have != meta.Size {
		return res, c.discard(&f, partial, fmt.Errorf("%s: %w: got %d bytes, the hub says %d", path, ErrChecksum, have, meta.Size))
	}
	if meta.SHA256 != "" && sum != meta.SHA256 {
		return res, c.discard(&f, partial, fmt.Errorf("%s: %w: sha256 %s, the hub published %s", path, ErrChecksum, sum, meta.SHA256))
	}
	if err := f.Sync(); err != nil {
		return res, fmt.Errorf("sync %q: %w", partial, err)
	}
	if err := f.Close(); err != nil {
		f = nil
		return res, fmt.Errorf("close %q: %w", partial, err)
	}
	f = nil
	if err := os.Rename(partial, dest); err != nil {
		return res, fmt.Errorf("rename into %q: %w", dest, err)
	}
	res.Size, res.SHA256 = have, sum
	return res, nil
}

// discard removes a partial file whose content is wrong and returns err.
func (c *Client) discard(f **os.File, partial string, err error) error {
	(*f).Close()
	*f = nil
	os.Remove(partial)
	return err
}

// get streams the file from offset *have into f (positioned at its end),
// updating h and *have. It reports the bytes transferred and whether the
// server honoured the Range request.
func (c *Client) get(ctx context.Context, repo, revision, path string, f *os.File, h hash.Hash, have *int64, size int64) (int64, bool, error) {
	u := c.URL(repo, revision, path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, false, fmt.Errorf("hub request %s: %w", u, err)
	}
	c.authorize(req)
	req.Header.Set("Accept-Encoding", "identity")
	if *have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", *have))
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, false, fmt.Errorf("download %s: %w", u, err)
	}
	defer resp.Body.Close()
	if err := c.statusError(resp, repo, revision, path); err != nil {
		return 0, false, err
	}
	resumed := false
	switch resp.StatusCode {
	case http.StatusPartialContent:
		resumed = true
	case http.StatusOK:
		if *have > 0 {
			// The server ignored Range: start over.
			if err := f.Truncate(0); err != nil {
				return 0, false, fmt.Errorf("truncate %q: %w", f.Name(), err)
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return 0, false, fmt.Errorf("seek %q: %w", f.Name(), err)
			}
			h.Reset()
			*have = 0
		}
	default:
		return 0, false, fmt.Errorf("download %s: unexpected HTTP %d", u, resp.StatusCode)
	}
	total := size
	if total < 0 {
		total = -1
	}
	bar := progress.NewBytes(c.Progress, total, *have, filepath.Base(path))
	defer bar.Finish()
	w := io.MultiWriter(f, h, barWriter{bar})
	n, err := io.Copy(w, resp.Body)
	*have += n
	if err != nil {
		return n, resumed, fmt.Errorf("download %s (have %d bytes in %q; run again to resume): %w", u, *have, f.Name(), err)
	}
	return n, resumed, nil
}

type barWriter struct{ b progress.Bar }

func (w barWriter) Write(p []byte) (int, error) { w.b.Add(len(p)); return len(p), nil }
