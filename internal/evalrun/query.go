package evalrun

import (
	"context"
	"fmt"
	"image"
	"sync"

	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/search"
)

// Gallery is a split of a Space as two search indexes: posters and intros.
// It is safe for concurrent searches.
type Gallery struct {
	Space *Space
	Split string
	// Posters and Intros are the exact indexes (Rank, Vector, and the
	// reference answers of eval and report).
	Posters *search.Index
	Intros  *search.Index
	pos     map[reel.MovieID]int // id -> index into Space.Movies

	autoOnce                sync.Once
	autoPosters, autoIntros search.Searcher
	autoErr                 error
}

// Gallery indexes one split of s ("all" for every movie).
func (s *Space) Gallery(split string) (*Gallery, error) {
	idx, err := s.Subset(split)
	if err != nil {
		return nil, err
	}
	dim := 0
	if len(s.Image) > 0 {
		dim = len(s.Image[0])
	}
	g := &Gallery{Space: s, Split: split, Posters: search.New(dim), Intros: search.New(dim), pos: make(map[reel.MovieID]int, len(s.Movies))}
	for i, m := range s.Movies {
		g.pos[m.ID] = i
	}
	for _, i := range idx {
		id := s.Movies[i].ID
		if err := g.Posters.Add(id, s.Image[i]); err != nil {
			return nil, err
		}
		if err := g.Intros.Add(id, s.Text[i]); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Searchers returns the indexes serve and search query, of the kind
// search.AutoKind chooses for the gallery's size: the exact indexes
// themselves for every catalogue up to 2^24 values (131k vectors of 128),
// int8 or HNSW past that. They are built on the first call.
func (g *Gallery) Searchers() (posters, intros search.Searcher, err error) {
	g.autoOnce.Do(func() {
		if g.autoPosters, g.autoErr = search.Auto(g.Posters); g.autoErr != nil {
			return
		}
		g.autoIntros, g.autoErr = search.Auto(g.Intros)
	})
	return g.autoPosters, g.autoIntros, g.autoErr
}

// Movie returns a movie of the Space (any split) by id.
func (g *Gallery) Movie(id reel.MovieID) (reel.Movie, bool) {
	i, ok := g.pos[id]
	if !ok {
		return reel.Movie{}, false
	}
	return g.Space.Movies[i], true
}

// ErrUnknownID is wrapped when a query names a movie the manifest lacks.
var ErrUnknownID = fmt.Errorf("unknown movie id")

// ByPoster returns the k intros nearest to movie id's poster, from the
// index Searchers chose. The query movie may be outside the gallery's
// split.
func (g *Gallery) ByPoster(id reel.MovieID, k int) ([]reel.Hit, error) {
	i, ok := g.pos[id]
	if !ok {
		return nil, fmt.Errorf("%w %q: it is not in the manifest (see `reelmatch search --help`; ids are info.csv's first column)", ErrUnknownID, id)
	}
	_, intros, err := g.Searchers()
	if err != nil {
		return nil, err
	}
	return intros.Search(g.Space.Image[i], k)
}

// ByIntro returns the k posters nearest to movie id's intro, from the
// index Searchers chose.
func (g *Gallery) ByIntro(id reel.MovieID, k int) ([]reel.Hit, error) {
	i, ok := g.pos[id]
	if !ok {
		return nil, fmt.Errorf("%w %q: it is not in the manifest (see `reelmatch search --help`; ids are info.csv's first column)", ErrUnknownID, id)
	}
	posters, _, err := g.Searchers()
	if err != nil {
		return nil, err
	}
	return posters.Search(g.Space.Text[i], k)
}

// EncodeText maps free text into the shared space (unit vector) the way
// embed encoded intros (same text-input setting; enc must come from
// embed.OpenEncoder so a fitted encoder has its state). Search the result
// against Gallery.Posters.
func (s *Space) EncodeText(ctx context.Context, enc encoder.Encoder, text string) ([]float32, error) {
	textInput := s.Features.TextInput
	vecs, err := enc.Text().Encode(ctx, []string{embed.QueryText(text, textInput)})
	if err != nil {
		return nil, fmt.Errorf("encode query text: %w", err)
	}
	if len(vecs) != 1 {
		return nil, fmt.Errorf("encode query text: encoder returned %d vectors for 1 text", len(vecs))
	}
	_, out, err := s.Heads.Project(nil, vecs)
	if err != nil {
		return nil, fmt.Errorf("project query text: %w", err)
	}
	return out[0], nil
}

// EncodeImageFile decodes a poster file, encodes it as embed encoded
// posters and projects it through the image head (unit vector). Search the
// result against Gallery.Intros.
func (s *Space) EncodeImageFile(ctx context.Context, enc encoder.Encoder, path string) ([]float32, error) {
	img, release, err := imageprep.DecodeFile(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("query image: %w", err) // err names the file
	}
	defer release()
	v, err := s.EncodeImage(ctx, enc, img)
	if err != nil {
		return nil, fmt.Errorf("query image %q: %w", path, err)
	}
	return v, nil
}

// EncodeImage encodes a decoded poster as embed encoded posters and
// projects it through the image head (unit vector). The web server calls it
// with uploads; enc's towers need not be safe for concurrent use, so
// callers serialise calls on one enc.
func (s *Space) EncodeImage(ctx context.Context, enc encoder.Encoder, img image.Image) ([]float32, error) {
	tower := enc.Image()
	in, err := tower.Prepare(img)
	if err != nil {
		return nil, fmt.Errorf("prepare query image: %w", err)
	}
	vecs, err := tower.Encode(ctx, [][]float32{in})
	if err != nil {
		return nil, fmt.Errorf("encode query image: %w", err)
	}
	if len(vecs) != 1 {
		return nil, fmt.Errorf("encode query image: encoder returned %d vectors for 1 image", len(vecs))
	}
	out, _, err := s.Heads.Project(vecs, nil)
	if err != nil {
		return nil, fmt.Errorf("project query image: %w", err)
	}
	return out[0], nil
}
