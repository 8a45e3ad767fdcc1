package engine

import (
	"context"
	"fmt"
	"image"
	"sync"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/search"
	"github.com/reelmatch/reelmatch/internal/server"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// warmUpText is the query Open encodes before serving.
const warmUpText = "a detective hunts a serial killer"

// Engine is server.Engine over one run: every movie of the manifest
// projected by the run's heads, indexed as one gallery. It is safe for
// concurrent use once SetEncoder has been called.
type Engine struct {
	space *evalrun.Space
	gal   *evalrun.Gallery
	// posters and intros answer searches: the gallery's indexes of the
	// kind chosen by its size (evalrun.Gallery.Searchers).
	posters, intros search.Searcher
	pos             map[reel.MovieID]int // id -> row of space.Image/Text
	info            map[string]any

	// enc is the run's encoder wrapped so that only its towers' Encode
	// calls are serialised (towers are not safe for concurrent use,
	// encoder.TextTower); nil when search is unavailable.
	enc    encoder.Encoder
	encErr error
	// closer is the encoder Open opened, closed by Close.
	closer encoder.Encoder
}

var _ server.Engine = (*Engine)(nil)

// Open loads run name of work (a folder of WORK/runs) and opens its encoder for queries, restored
// as embed left it and configured by cfg (evalrun.Space.OpenEncoder). One
// query of each kind is run through the encoder before Open returns, so
// that lazy state (the lemmatizer's data, runtime sessions) is loaded
// before the first user waits for it, and so that search is offered only
// when the model really runs. An encoder that cannot be opened or fails
// its warm-up is no error: browsing and neighbours still work, both
// searches answer server.ErrUnavailable, and SearchErr says why. The
// caller closes the Engine.
func Open(ctx context.Context, work workdir.Dir, name string, cfg encoder.Config) (*Engine, error) {
	// The feature cache is mapped, not copied: serve keeps the run for its
	// lifetime, and a large cache then stays in reclaimable page cache.
	space, err := evalrun.LoadMapped(work, name)
	if err != nil {
		return nil, err
	}
	e, err := New(work, space)
	if err != nil {
		return nil, err
	}
	enc, err := space.OpenEncoder(work, cfg)
	if err == nil {
		if err = warmUp(ctx, space, enc); err != nil {
			enc.Close()
			enc = nil
		}
	}
	e.SetEncoder(enc, err)
	e.closer = enc
	return e, nil
}

// New indexes a loaded run, without an encoder: call SetEncoder before
// serving. work is where the run's saved test metrics are read from, for
// Info.
func New(work workdir.Dir, space *evalrun.Space) (*Engine, error) {
	gal, err := space.Gallery(evalrun.SplitAll)
	if err != nil {
		return nil, err
	}
	posters, intros, err := gal.Searchers()
	if err != nil {
		return nil, fmt.Errorf("index the gallery: %w", err)
	}
	e := &Engine{space: space, gal: gal, posters: posters, intros: intros, pos: make(map[reel.MovieID]int, len(space.Movies))}
	train := 0
	for i, m := range space.Movies {
		e.pos[m.ID] = i
		if m.Split == reel.SplitTrain {
			train++
		}
	}
	e.info = map[string]any{
		"run":     space.Run,
		"encoder": space.Encoder,
		"heads":   space.Heads.Settings.Heads,
		"movies":  len(space.Movies),
		"train":   train,
		"test":    len(space.Movies) - train,
		"gallery": evalrun.SplitAll,
		// index is the kind of index searches use: exact, int8 or hnsw
		// (search.AutoKind, by the gallery's size).
		"index": posters.Kind(),
	}
	if r, err := evalrun.ReadResult(work, space.Run, evalrun.SplitTest); err == nil {
		e.info["metrics"] = headline(r)
		e.info["test_metrics"] = r
	}
	return e, nil
}

// warmUp encodes one text and one small image through enc and the heads.
func warmUp(ctx context.Context, space *evalrun.Space, enc encoder.Encoder) error {
	if _, err := space.EncodeText(ctx, enc, warmUpText); err != nil {
		return fmt.Errorf("warm-up text query: %w", err)
	}
	img := image.NewGray(image.Rect(0, 0, 40, 60))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	if _, err := space.EncodeImage(ctx, enc, img); err != nil {
		return fmt.Errorf("warm-up image query: %w", err)
	}
	return nil
}

// headline is the page header's one-line summary of the held-out split:
// the mean rank percentile of both directions (poster → intro / intro →
// poster) with their bootstrap 95% intervals when the eval has them, and
// R@10 averaged over the directions.
func headline(r *evalrun.Result) string {
	p, i := r.PosterToIntro, r.IntroToPoster
	mrp := func(s metrics.Scores) string {
		if s.CI == nil {
			return fmt.Sprintf("%.1f%%", 100*s.MeanRankPercentile)
		}
		c := s.CI.MeanRankPercentile
		return fmt.Sprintf("%.1f%% [%.1f, %.1f]", 100*s.MeanRankPercentile, 100*c[0], 100*c[1])
	}
	return fmt.Sprintf("held-out (n=%d): mean rank pct %s / %s (chance 50%%) · R@10 %.1f%% (chance %.1f%%)",
		r.N, mrp(p), mrp(i), 50*(p.R10+i.R10), 100*r.Chance.R10)
}

// SetEncoder sets the encoder both searches use (not closed by Close), or
// none: with enc nil, searches answer server.ErrUnavailable wrapping err.
// Call it before serving.
func (e *Engine) SetEncoder(enc encoder.Encoder, err error) {
	e.enc, e.encErr = nil, err
	if enc != nil {
		e.enc = serialEncoder{Encoder: enc, mu: new(sync.Mutex)}
	}
	e.info["search"] = enc != nil
	if err != nil {
		e.info["search_error"] = fmt.Sprintf("%v: %v", server.ErrUnavailable, err)
	} else {
		delete(e.info, "search_error")
	}
}

// SearchErr is why text and image search are off, or nil when they work.
func (e *Engine) SearchErr() error { return e.encErr }

// Run is the name of the run served.
func (e *Engine) Run() string { return e.space.Run }

// Encoder is the name of the run's encoder.
func (e *Engine) Encoder() string { return e.space.Encoder }

// Close closes the encoder Open opened.
func (e *Engine) Close() error {
	if e.closer == nil {
		return nil
	}
	err := e.closer.Close()
	e.closer = nil
	return err
}

// Movies lists every movie in manifest order.
func (e *Engine) Movies() []reel.Movie { return e.space.Movies }

// Movie returns one movie of the manifest.
func (e *Engine) Movie(id reel.MovieID) (reel.Movie, bool) { return e.gal.Movie(id) }

// Neighbors ranks the other modality for a movie's poster or intro and
// gives its own pair's rank among all candidates.
func (e *Engine) Neighbors(id reel.MovieID, dir server.Direction, k int) ([]reel.Hit, int, error) {
	i, ok := e.pos[id]
	if !ok {
		return nil, 0, fmt.Errorf("%w: %q", server.ErrNotFound, id)
	}
	q, idx, exact := e.space.Image[i], e.intros, e.gal.Intros
	if dir == server.IntroToPoster {
		q, idx, exact = e.space.Text[i], e.posters, e.gal.Posters
	}
	hits, err := idx.Search(q, k)
	if err != nil {
		return nil, 0, err
	}
	// The true pair's rank is always the exact one.
	rank, err := exact.Rank(q, id)
	if err != nil {
		return nil, 0, err
	}
	return hits, rank, nil
}

// unavailable is the error both searches give without an encoder.
func (e *Engine) unavailable() error {
	return fmt.Errorf("%w: %v", server.ErrUnavailable, e.encErr)
}

// SearchText finds the posters nearest to free text.
func (e *Engine) SearchText(ctx context.Context, text string, k int) ([]reel.Hit, error) {
	if e.enc == nil {
		return nil, e.unavailable()
	}
	v, err := e.space.EncodeText(ctx, e.enc, text)
	if err != nil {
		return nil, err
	}
	return e.posters.Search(v, k)
}

// SearchImage finds the intros nearest to an uploaded poster.
func (e *Engine) SearchImage(ctx context.Context, img image.Image, k int) ([]reel.Hit, error) {
	if e.enc == nil {
		return nil, e.unavailable()
	}
	v, err := e.space.EncodeImage(ctx, e.enc, img)
	if err != nil {
		return nil, err
	}
	return e.intros.Search(v, k)
}

// Index is the kind of index searches use (search.KindExact, KindInt8 or
// KindHNSW).
func (e *Engine) Index() string { return e.posters.Kind() }

// Info describes the run for the page header.
func (e *Engine) Info() map[string]any { return e.info }
