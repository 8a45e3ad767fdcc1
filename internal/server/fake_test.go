package server

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// fakeEngine ranks by a fixed rule so answers are known in advance: the
// distance between movie i's query side and movie j's other side is
// |i-j|/n, so a movie's own pair is always rank 1 and its neighbours follow.
type fakeEngine struct {
	movies []reel.Movie
	byID   map[reel.MovieID]int
	// unavailable, when set, is what both searches fail with (wrapped in
	// ErrUnavailable), as a run whose encoder cannot be opened does.
	unavailable error
	// entered, when set, receives one value as each image search starts,
	// which then waits for release (or its context).
	entered chan struct{}
	release chan struct{}
}

func newFakeEngine(t testing.TB, n int) *fakeEngine {
	t.Helper()
	dir := t.TempDir()
	e := &fakeEngine{byID: map[reel.MovieID]int{}}
	genres := []string{"detective thriller", "romantic comedy", "space adventure", "haunted house horror"}
	for i := range n {
		id := reel.MovieID(fmt.Sprint(i + 1))
		path := filepath.Join(dir, string(id)+".png")
		writePNG(t, path, 300, 450, color.RGBA{uint8(40 * i), uint8(255 - 30*i), 120, 255})
		e.byID[id] = i
		e.movies = append(e.movies, reel.Movie{
			ID: id, Name: fmt.Sprintf("Movie %d (199%d)", i+1, i%10),
			Intro:      fmt.Sprintf("A %s number %d: a detective hunts a serial killer.", genres[i%len(genres)], i+1),
			PosterPath: path, Split: reel.SplitTest,
		})
	}
	return e
}

func writePNG(t testing.TB, path string, w, h int, c color.Color) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	reeltest.WriteFile(t, path, reeltest.PNG(t, img))
}

func (e *fakeEngine) Movies() []reel.Movie { return e.movies }

func (e *fakeEngine) Movie(id reel.MovieID) (reel.Movie, bool) {
	i, ok := e.byID[id]
	if !ok {
		return reel.Movie{}, false
	}
	return e.movies[i], true
}

func (e *fakeEngine) rankAround(center, k int) []reel.Hit {
	hs := make([]reel.Hit, len(e.movies))
	for j := range e.movies {
		d := center - j
		if d < 0 {
			d = -d
		}
		hs[j] = reel.Hit{ID: e.movies[j].ID, Distance: float32(d) / float32(len(e.movies))}
	}
	sort.SliceStable(hs, func(a, b int) bool { return hs[a].Distance < hs[b].Distance })
	return hs[:min(k, len(hs))]
}

func (e *fakeEngine) Neighbors(id reel.MovieID, _ Direction, k int) ([]reel.Hit, int, error) {
	i, ok := e.byID[id]
	if !ok {
		return nil, 0, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return e.rankAround(i, k), 1, nil
}

func (e *fakeEngine) SearchText(_ context.Context, text string, k int) ([]reel.Hit, error) {
	if e.unavailable != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, e.unavailable)
	}
	if strings.Contains(text, "explode") {
		return nil, fmt.Errorf("encoder crashed at /secret/path")
	}
	return e.rankAround(len(text)%len(e.movies), k), nil
}

func (e *fakeEngine) SearchImage(ctx context.Context, img image.Image, k int) ([]reel.Hit, error) {
	if e.unavailable != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, e.unavailable)
	}
	if e.entered != nil {
		e.entered <- struct{}{}
		select {
		case <-e.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return e.rankAround(img.Bounds().Dx()%len(e.movies), k), nil
}

func (e *fakeEngine) Info() map[string]any {
	return map[string]any{"encoder": "fake", "movies": len(e.movies)}
}
