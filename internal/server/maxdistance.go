package server

import (
	"fmt"
	"maps"
	"math"
	"net/http"
	"strconv"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/search"
)

// maxDistanceParam reads ?max_distance=D, the farthest result to return:
// a finite number in [0, 2] (D = 1 − cosine). Without it, the server's
// Options.MaxDistance applies, and 2 (every result) when that is unset.
func (s *Server) maxDistanceParam(r *http.Request) (float64, error) {
	v := r.URL.Query().Get("max_distance")
	if v == "" {
		if d := s.opts.MaxDistance; d > 0 {
			return d, nil
		}
		return search.MaxDistanceRange.Max, nil
	}
	d, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("max_distance must be a number in [0, 2], not %q", v)
	}
	if err := search.MaxDistanceRange.Check(d); err != nil {
		return 0, fmt.Errorf("max_distance %v", err)
	}
	return d, nil
}

// within drops the hits farther than maxDistance and records the
// threshold in body, with the nearest hit's distance when none is left
// (so a page can say "no close match" and how far the nearest was).
func within(body map[string]any, hs []reel.Hit, maxDistance float64) []reel.Hit {
	kept, nearest := search.Within(hs, maxDistance)
	body["max_distance"] = maxDistance
	if len(kept) == 0 && !math.IsNaN(nearest) {
		body["nearest_distance"] = nearest
	}
	return kept
}

// info answers /api/info: the Engine's description of the run, plus the
// server's default max_distance when one is set.
func (s *Server) info(w http.ResponseWriter, _ *http.Request) {
	info := s.opts.Engine.Info()
	if d := s.opts.MaxDistance; d > 0 && d < search.MaxDistanceRange.Max {
		info = maps.Clone(info)
		info["max_distance"] = d
	}
	writeJSON(w, http.StatusOK, info)
}

// resultParams reads a search's k and max_distance; a bad value is
// answered 400 here and ok is false.
func (s *Server) resultParams(w http.ResponseWriter, r *http.Request) (k int, maxD float64, ok bool) {
	k, err := kParam(r)
	if err == nil {
		maxD, err = s.maxDistanceParam(r)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return 0, 0, false
	}
	return k, maxD, true
}
