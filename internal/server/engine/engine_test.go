package engine

import (
	"context"
	"errors"
	"fmt"
	"image"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/evalrun/evalruntest"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/server"
)

func init() {
	// Open finds the run's encoder by name, as serve does.
	encoder.Register(encodertest.ColorEncoderName, func(encoder.Config) (encoder.Encoder, error) {
		return encodertest.ColorEncoder{}, nil
	})
}

// TestOpen serves the colour catalogue: neighbours, both searches and the
// header's summary come from the run, with the encoder opened by name.
func TestOpen(t *testing.T) {
	work := evalruntest.ColorWork(t)
	e, err := Open(t.Context(), work, encodertest.ColorEncoderName, encoder.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.SearchErr(); err != nil {
		t.Fatalf("search is off: %v", err)
	}
	ids := func(hs []reel.Hit) []reel.MovieID {
		out := make([]reel.MovieID, len(hs))
		for i, h := range hs {
			out[i] = h.ID
		}
		return out
	}
	t.Run("neighbours", func(t *testing.T) {
		for _, dir := range []server.Direction{server.PosterToIntro, server.IntroToPoster} {
			hs, rank, err := e.Neighbors("g", dir, 1)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]reel.MovieID{"g"}, ids(hs)); diff != "" || rank != 1 {
				t.Errorf("%v: rank %d, hits (-want +got):\n%s", dir, rank, diff)
			}
		}
		if _, _, err := e.Neighbors("nope", server.PosterToIntro, 1); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("unknown id: %v, want ErrNotFound", err)
		}
	})
	t.Run("search", func(t *testing.T) {
		hs, err := e.SearchText(t.Context(), "blue and more blue", 3)
		if err != nil || len(hs) != 3 || hs[0].ID != "b" {
			t.Errorf("text search: %v %v, want b first of 3", ids(hs), err)
		}
		red := image.NewRGBA(image.Rect(0, 0, 4, 4))
		for i := 0; i < len(red.Pix); i += 4 {
			red.Pix[i], red.Pix[i+3] = 250, 255
		}
		hs, err = e.SearchImage(t.Context(), red, 1)
		if err != nil || len(hs) != 1 || hs[0].ID != "r" {
			t.Errorf("image search: %v %v, want r", ids(hs), err)
		}
	})
	t.Run("info", func(t *testing.T) {
		res, err := evalrun.ReadResult(work, encodertest.ColorEncoderName, evalrun.SplitTest)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"run": encodertest.ColorEncoderName, "encoder": encodertest.ColorEncoderName, "heads": "none", "movies": 3, "train": 1, "test": 2, "gallery": "all", "index": "exact",
			"search": true, "metrics": "held-out (n=2): mean rank pct 100.0% [100.0, 100.0] / 100.0% [100.0, 100.0] (chance 50%) · R@10 100.0% (chance 100.0%)", "test_metrics": res,
		}
		if diff := cmp.Diff(want, e.Info()); diff != "" {
			t.Errorf("info (-want +got):\n%s", diff)
		}
	})
}

// TestWithoutEncoder checks browsing goes on without an encoder and both
// searches say why they cannot answer.
func TestWithoutEncoder(t *testing.T) {
	work := evalruntest.ColorWork(t)
	space, err := evalrun.Load(work, encodertest.ColorEncoderName)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(work, space)
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.New("no fitted state: run embed")
	e.SetEncoder(nil, cause)
	if _, err := e.SearchText(context.Background(), "red", 1); !errors.Is(err, server.ErrUnavailable) || e.SearchErr() != cause {
		t.Errorf("text search: %v, want ErrUnavailable", err)
	}
	if _, err := e.SearchImage(context.Background(), image.NewGray(image.Rect(0, 0, 2, 2)), 1); !errors.Is(err, server.ErrUnavailable) {
		t.Errorf("image search: %v, want ErrUnavailable", err)
	}
	if got, want := fmt.Sprint(e.Info()["search_error"]), "model not loaded: no fitted state: run embed"; got != want {
		t.Errorf("search_error %q, want %q", got, want)
	}
	if hs, _, err := e.Neighbors("r", server.PosterToIntro, 3); err != nil || len(hs) != 3 {
		t.Errorf("neighbours without an encoder: %v %v", hs, err)
	}
}

func TestHeadline(t *testing.T) {
	s := func(mrp, r10 float64) metrics.Scores { return metrics.Scores{MeanRankPercentile: mrp, R10: r10} }
	r := &evalrun.Result{N: 648, PosterToIntro: s(0.60, 0.04), IntroToPoster: s(0.58, 0.02), Chance: metrics.ChanceFor(648)}
	if got, want := headline(r), "held-out (n=648): mean rank pct 60.0% / 58.0% (chance 50%) · R@10 3.0% (chance 1.5%)"; got != want {
		t.Errorf("headline %q, want %q", got, want)
	}
	r.PosterToIntro.CI = &metrics.Intervals{MeanRankPercentile: metrics.Interval{0.581, 0.619}}
	r.IntroToPoster.CI = &metrics.Intervals{MeanRankPercentile: metrics.Interval{0.56, 0.6}}
	if got, want := headline(r), "held-out (n=648): mean rank pct 60.0% [58.1, 61.9] / 58.0% [56.0, 60.0] (chance 50%) · R@10 3.0% (chance 1.5%)"; got != want {
		t.Errorf("headline with intervals %q, want %q", got, want)
	}
}
