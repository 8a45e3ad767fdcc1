package server

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/reel"
)

// Direction says which modality is the query.
type Direction string

const (
	// PosterToIntro ranks intros for a poster.
	PosterToIntro Direction = "poster_to_intro"
	// IntroToPoster ranks posters for an intro.
	IntroToPoster Direction = "intro_to_poster"
)

// ErrNotFound is returned by an Engine for an unknown movie id.
var ErrNotFound = errors.New("movie not found")

// ErrBadQuery is wrapped by an Engine for a query it cannot use (an
// undecodable image, say); the server answers 400 with its message.
var ErrBadQuery = errors.New("bad query")

// ErrUnavailable is wrapped by an Engine that cannot answer a kind of query
// right now (the encoder's model files are missing, say): the server
// answers 503 with the error's message, "model not loaded: ...", and keeps
// serving everything else.
var ErrUnavailable = errors.New("model not loaded")

// Engine is what the server needs from a trained run. Implementations must
// be safe for concurrent use.
type Engine interface {
	// Movies lists the catalogue in display order.
	Movies() []reel.Movie
	// Movie returns one movie, or false.
	Movie(id reel.MovieID) (reel.Movie, bool)
	// Neighbors returns the k nearest items of the other modality for a
	// movie's poster or intro, nearest first, and the 1-based rank of the
	// movie's own pair among all candidates. Unknown ids wrap ErrNotFound.
	Neighbors(id reel.MovieID, dir Direction, k int) (hits []reel.Hit, trueRank int, err error)
	// SearchText returns the k posters nearest to free text. An Engine
	// without a usable encoder wraps ErrUnavailable.
	SearchText(ctx context.Context, text string, k int) ([]reel.Hit, error)
	// SearchImage returns the k intros nearest to an uploaded poster, or
	// an error wrapping ErrUnavailable as SearchText does.
	SearchImage(ctx context.Context, img image.Image, k int) ([]reel.Hit, error)
	// Info describes the run (encoder name, split sizes, metrics) for the page header.
	Info() map[string]any
}

// Limits of what one request may ask.
const (
	MaxK           = 100
	DefaultK       = 5
	MaxQueryRunes  = 1000
	MaxUploadBytes = 10 << 20
	MaxPageLimit   = 500
	thumbWidth     = 240
)

// Options configure a Server.
type Options struct {
	Engine Engine
	// DecodeImage decodes an uploaded poster and returns the function that
	// releases its memory once the search is done; nil means
	// imageprep.DecodeBytes, which applies the poster rule and the decode
	// memory budget.
	DecodeImage func(ctx context.Context, b []byte) (img image.Image, release func(), err error)
	// Logger receives internal errors; nil discards them.
	Logger *slog.Logger
	// AllowedHosts, when not empty, are the only names (port ignored) the
	// Host header may give; other requests get 403. A server bound to
	// loopback sets LoopbackHosts plus the names a reverse proxy uses,
	// which defeats DNS rebinding.
	AllowedHosts []string
	// MaxUploads bounds the image uploads being read, decoded or searched
	// at once (0 means DefaultMaxUploads); more wait up to UploadWait,
	// then get 503 with Retry-After.
	MaxUploads int
	// UploadWait is how long an upload waits for a slot and for its share
	// of the decode memory (0 means DefaultUploadWait).
	UploadWait time.Duration
	// UploadReadTimeout is how long an upload holding a slot may take to
	// arrive (0 means DefaultUploadReadTimeout); a slower one gets 408.
	UploadReadTimeout time.Duration
	// MaxDistance is the max_distance of requests that do not give one:
	// results farther than it are dropped (0 means none are).
	MaxDistance float64
}

// Server serves the API and the page.
type Server struct {
	opts   Options
	log    *slog.Logger
	mux    *http.ServeMux
	thumbs sync.Map // reel.MovieID -> *thumb
	// uploads holds one token per upload in progress (MaxUploads).
	uploads chan struct{}
}

type thumb struct {
	once sync.Once
	data []byte
	err  error
}

//go:embed web
var webFS embed.FS

// New builds a Server around an Engine.
func New(opts Options) *Server {
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.opts.DecodeImage == nil {
		s.opts.DecodeImage = imageprep.DecodeBytes
	}
	s.opts.AllowedHosts = normalizeHosts(opts.AllowedHosts)
	s.uploads = make(chan struct{}, cmp.Or(opts.MaxUploads, DefaultMaxUploads))
	static, _ := fs.Sub(webFS, "web")
	files := http.FileServerFS(static)
	get, post := []string{http.MethodGet}, []string{http.MethodPost}
	for _, rt := range []route{
		{"/", get, files.ServeHTTP},
		{"/healthz", get, s.health},
		{"/api/info", get, s.info},
		{"/api/movies", get, s.movies},
		{"/api/movies/{id}", get, s.movie},
		{"/api/movies/{id}/neighbors", get, s.neighbors},
		{"/api/search", get, s.searchText},
		{"/api/search/image", post, s.searchImage},
		{"/posters/{id}", get, s.poster},
	} {
		s.mux.HandleFunc(rt.pattern, only(rt))
	}
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	return s
}

// ServeHTTP implements http.Handler: it sets the security headers on
// every response, refuses a Host header outside AllowedHosts (when set),
// then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for _, kv := range securityHeaders {
		h.Set(kv[0], kv[1])
	}
	if len(s.opts.AllowedHosts) > 0 && !hostAllowed(r, s.opts.AllowedHosts) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("host %q is not allowed: this server answers to %s (start it with --allowed-host NAME to add a name)",
			r.Host, strings.Join(s.opts.AllowedHosts, ", ")))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// HTTPServer wraps the handler in an http.Server with timeouts, so a slow
// client cannot hold a connection open forever.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// movieJSON is a movie as the API shows it.
type movieJSON struct {
	ID     reel.MovieID `json:"id"`
	Name   string       `json:"name"`
	Intro  string       `json:"intro"`
	Split  reel.Split   `json:"split"`
	Poster string       `json:"poster"` // URL of the thumbnail
}

func toJSON(m reel.Movie) movieJSON {
	return movieJSON{ID: m.ID, Name: m.Name, Intro: m.Intro, Split: m.Split, Poster: posterURL(m.ID)}
}

func posterURL(id reel.MovieID) string { return "/posters/" + url.PathEscape(string(id)) }

type hitJSON struct {
	movieJSON
	Distance float32 `json:"distance"`
	Rank     int     `json:"rank"`
	IsMatch  bool    `json:"is_match,omitempty"`
}

func (s *Server) hits(hs []reel.Hit, query reel.MovieID) []hitJSON {
	out := make([]hitJSON, 0, len(hs))
	for i, h := range hs {
		m, ok := s.opts.Engine.Movie(h.ID)
		if !ok {
			continue
		}
		out = append(out, hitJSON{movieJSON: toJSON(m), Distance: h.Distance, Rank: i + 1, IsMatch: query != "" && h.ID == query})
	}
	return out
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "movies": len(s.opts.Engine.Movies())})
}

func (s *Server) movies(w http.ResponseWriter, r *http.Request) {
	all := s.opts.Engine.Movies()
	offset, err := intParam(r, "offset", 0, 0, len(all))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit, err := intParam(r, "limit", 60, 1, MaxPageLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	end := min(offset+limit, len(all))
	page := make([]movieJSON, 0, end-offset)
	for _, m := range all[offset:end] {
		page = append(page, toJSON(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": len(all), "offset": offset, "limit": limit, "movies": page})
}

func (s *Server) movie(w http.ResponseWriter, r *http.Request) {
	m, ok := s.opts.Engine.Movie(reel.MovieID(r.PathValue("id")))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no movie with id %q", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, toJSON(m))
}

func (s *Server) neighbors(w http.ResponseWriter, r *http.Request) {
	id := reel.MovieID(r.PathValue("id"))
	m, ok := s.opts.Engine.Movie(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no movie with id %q", id))
		return
	}
	dir := Direction(r.URL.Query().Get("direction"))
	if dir == "" {
		dir = PosterToIntro
	}
	if dir != PosterToIntro && dir != IntroToPoster {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("direction must be %s or %s, not %q", PosterToIntro, IntroToPoster, dir))
		return
	}
	k, maxD, ok := s.resultParams(w, r)
	if !ok {
		return
	}
	hs, rank, err := s.opts.Engine.Neighbors(id, dir, k)
	if err != nil {
		s.fail(w, err)
		return
	}
	body := map[string]any{"query": toJSON(m), "direction": dir, "k": k, "true_rank": rank}
	body["results"] = s.hits(within(body, hs, maxD), id)
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) searchText(w http.ResponseWriter, r *http.Request) {
	text := strings.TrimSpace(r.URL.Query().Get("text"))
	if text == "" {
		writeError(w, http.StatusBadRequest, "text is empty: pass ?text=a+detective+hunts+a+serial+killer")
		return
	}
	if !utf8.ValidString(text) {
		writeError(w, http.StatusBadRequest, "text is not valid UTF-8")
		return
	}
	if n := utf8.RuneCountInString(text); n > MaxQueryRunes {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("text has %d characters; the limit is %d", n, MaxQueryRunes))
		return
	}
	k, maxD, ok := s.resultParams(w, r)
	if !ok {
		return
	}
	hs, err := s.opts.Engine.SearchText(r.Context(), text, k)
	if err != nil {
		s.fail(w, err)
		return
	}
	body := map[string]any{"query": map[string]any{"text": text}, "direction": IntroToPoster, "k": k}
	body["results"] = s.hits(within(body, hs, maxD), "")
	writeJSON(w, http.StatusOK, body)
}

// allowedUploads are the sniffed content types accepted as posters.
var allowedUploads = map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true, "image/gif": true}

func isWebP(b []byte) bool {
	return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
}

// poster serves a movie's poster as a JPEG thumbnail, made once and kept in
// memory. Only files named by the Engine's movies are ever opened, so no
// request path reaches the file system.
func (s *Server) poster(w http.ResponseWriter, r *http.Request) {
	id := reel.MovieID(r.PathValue("id"))
	m, ok := s.opts.Engine.Movie(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no movie with id %q", id))
		return
	}
	v, _ := s.thumbs.LoadOrStore(id, &thumb{})
	t := v.(*thumb)
	t.once.Do(func() { t.data, t.err = s.makeThumb(m.PosterPath) })
	if t.err != nil {
		s.log.Error("poster thumbnail", "id", id, "err", t.err)
		writeError(w, http.StatusInternalServerError, "poster unavailable")
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(t.data))
}

func (s *Server) makeThumb(path string) ([]byte, error) {
	return imageprep.Thumbnail(context.Background(), path, thumbWidth, 82)
}

// fail maps an Engine error to a status without leaking internals.
func (s *Server) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrBadQuery):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "request cancelled")
	default:
		s.log.Error("request failed", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

func kParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("k")
	if v == "" {
		return DefaultK, nil
	}
	k, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("k must be a whole number, not %q", v)
	}
	return min(max(k, 1), MaxK), nil
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a whole number >= 0, not %q", name, v)
	}
	return min(max(n, lo), hi), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
