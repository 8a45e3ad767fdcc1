package server

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/reelmatch/reelmatch/internal/imageprep"
)

// Upload limits. Memory of uploads in progress is bounded by MaxUploads
// bodies of at most MaxUploadBytes plus the process's decode memory budget
// (imageprep.DecodeMemory), whatever the number of clients: uploads beyond
// MaxUploads wait without their body being read.
const (
	// DefaultMaxUploads is how many uploads may be read, decoded and
	// searched at once. Image search is serialised on the encoder anyway,
	// so more would only hold more bodies in memory.
	DefaultMaxUploads = 8
	// DefaultUploadWait is how long an upload waits for a slot, then for
	// its share of the decode memory, before the server answers 503.
	DefaultUploadWait = 5 * time.Second
	// DefaultUploadReadTimeout is how long a client has to send its
	// upload once it holds a slot, so a slow client cannot keep one long
	// (408 after it).
	DefaultUploadReadTimeout = 10 * time.Second
	// multipartSlack is what a multipart body may add to the image: part
	// headers, boundaries and small fields.
	multipartSlack = 64 << 10
)

// retryAfter is the Retry-After of a 503 for a busy server, in seconds.
const retryAfter = "1"

// busy answers 503 with Retry-After.
func busy(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", retryAfter)
	writeError(w, http.StatusServiceUnavailable, msg)
}

// acquireUpload takes an upload slot, waiting up to the upload wait. It
// answers the request itself (503, or nothing when the client left) and
// returns false when it could not.
func (s *Server) acquireUpload(w http.ResponseWriter, r *http.Request) bool {
	select {
	case s.uploads <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(s.uploadWait())
	defer t.Stop()
	select {
	case s.uploads <- struct{}{}:
		return true
	case <-t.C:
		busy(w, fmt.Sprintf("server busy: %d image searches in progress; retry in a second", cap(s.uploads)))
	case <-r.Context().Done():
	}
	return false
}

func (s *Server) releaseUpload() { <-s.uploads }

func (s *Server) uploadWait() time.Duration { return cmp.Or(s.opts.UploadWait, DefaultUploadWait) }

// uploadError is a refused upload: the status and the message to send.
type uploadError struct {
	status int
	msg    string
}

func (e *uploadError) Error() string { return e.msg }

var errTooBig = &uploadError{http.StatusRequestEntityTooLarge, fmt.Sprintf("upload is larger than %d MiB: send a smaller poster", MaxUploadBytes>>20)}

// readUpload reads the poster of an upload request: the whole body, or
// the multipart field "image". It reads at most MaxUploadBytes (plus the
// multipart framing) into a buffer sized from Content-Length, and says 413
// for anything larger, before reading it when Content-Length tells.
func readUpload(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxUploadBytes+multipartSlack {
		return nil, errTooBig
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxUploadBytes+multipartSlack)
	var src io.Reader = r.Body
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, &uploadError{http.StatusBadRequest, "malformed multipart upload: " + err.Error()}
		}
		for {
			part, err := mr.NextPart()
			if err != nil {
				return nil, bodyError(err, `multipart upload needs a file field named "image"`)
			}
			if part.FormName() == "image" {
				src = part
				break
			}
		}
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), MaxUploadBytes)+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(src, MaxUploadBytes+1)); err != nil {
		return nil, bodyError(err, "upload unreadable")
	}
	if buf.Len() > MaxUploadBytes {
		return nil, errTooBig
	}
	if buf.Len() == 0 {
		return nil, &uploadError{http.StatusBadRequest, `no image: POST the poster as the body or as multipart field "image"`}
	}
	return buf.Bytes(), nil
}

// bodyError is 413 when the body hit its limit, 408 when the client was
// too slow, else 400 with msg.
func bodyError(err error, msg string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooBig
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return &uploadError{http.StatusRequestTimeout, "upload too slow: send the image within the read timeout of the server"}
	}
	if errors.Is(err, io.EOF) {
		return &uploadError{http.StatusBadRequest, msg}
	}
	return &uploadError{http.StatusBadRequest, msg + ": " + err.Error()}
}

// searchImage answers POST /api/search/image. Each upload takes a slot
// (MaxUploads), then its body is read within the cap, sniffed, checked
// against the poster rule from its header (a bomb gets 413 before any
// pixel exists), and decoded once its share of the decode memory is free.
func (s *Server) searchImage(w http.ResponseWriter, r *http.Request) {
	k, maxD, ok := s.resultParams(w, r)
	if !ok {
		return
	}
	if r.ContentLength > MaxUploadBytes+multipartSlack {
		writeError(w, errTooBig.status, errTooBig.msg)
		return
	}
	if !s.acquireUpload(w, r) {
		return
	}
	defer s.releaseUpload()
	// A slow client holds its slot for the read timeout at most.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(cmp.Or(s.opts.UploadReadTimeout, DefaultUploadReadTimeout)))
	data, err := readUpload(w, r)
	if err != nil {
		var ue *uploadError
		errors.As(err, &ue)
		writeError(w, ue.status, ue.msg)
		return
	}
	if ct := http.DetectContentType(data); !allowedUploads[ct] && !isWebP(data) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("upload looks like %s; send a JPEG, PNG, WebP or GIF poster", ct))
		return
	}
	dctx, cancel := context.WithTimeout(r.Context(), s.uploadWait())
	img, release, err := s.opts.DecodeImage(dctx, data)
	cancel()
	switch {
	case err == nil:
	case errors.Is(err, imageprep.ErrBusy) && r.Context().Err() == nil:
		busy(w, "server busy: too many large images being decoded; retry in a second")
		return
	case errors.Is(err, imageprep.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "uploaded image refused: "+strings.TrimPrefix(err.Error(), "decode image: "))
		return
	default:
		writeError(w, http.StatusBadRequest, "cannot decode the uploaded image: "+strings.TrimPrefix(err.Error(), "decode image: "))
		return
	}
	defer release()
	hs, err := s.opts.Engine.SearchImage(r.Context(), img, k)
	if err != nil {
		s.fail(w, err)
		return
	}
	b := img.Bounds()
	body := map[string]any{"query": map[string]any{"image": map[string]int{"width": b.Dx(), "height": b.Dy()}}, "direction": PosterToIntro, "k": k}
	body["results"] = s.hits(within(body, hs, maxD), "")
	writeJSON(w, http.StatusOK, body)
}
