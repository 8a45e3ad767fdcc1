package server

import (
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// TestMaxDistance asks the API for neighbours and text search results
// with and without max_distance: the fake engine's movie j lies at
// distance |i-j|/n from movie i, so what is kept can be worked out.
func TestMaxDistance(t *testing.T) {
	ts, e := newTestServer(t, 10)
	id := string(e.movies[5].ID)
	for _, tc := range []struct {
		name, query string
		status      int
		results     int
		maxDistance any
	}{
		{"no threshold", "", 200, 5, 2.0},
		{"keeps distance 0.1 and nearer", "&max_distance=0.15", 200, 3, 0.15},
		{"keeps the exact one", "&max_distance=0", 200, 1, 0.0},
		{"negative", "&max_distance=-1", 400, 0, nil},
		{"above 2", "&max_distance=2.5", 400, 0, nil},
		{"not a number", "&max_distance=NaN", 400, 0, nil},
		{"text", "&max_distance=far", 400, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/movies/" + id + "/neighbors?k=5", "/api/search?k=5&text=abcde"} {
				status, body := reeltest.GetJSON(t, ts.URL+path+tc.query)
				if status != tc.status {
					t.Fatalf("%s: status %d (%v), want %d", path, status, body, tc.status)
				}
				if status != 200 {
					if body["error"] == nil {
						t.Errorf("%s: no error message", path)
					}
					continue
				}
				if n := len(body["results"].([]any)); n != tc.results || body["max_distance"] != tc.maxDistance {
					t.Errorf("%s: %d results, max_distance %v; want %d and %v", path, n, body["max_distance"], tc.results, tc.maxDistance)
				}
				if _, ok := body["nearest_distance"]; ok {
					t.Errorf("%s: nearest_distance given although results were kept", path)
				}
			}
		})
	}
}

// TestMaxDistanceDefault serves with Options.MaxDistance: requests without
// max_distance use it, and /api/info announces it to the page.
func TestMaxDistanceDefault(t *testing.T) {
	e := newFakeEngine(t, 10)
	ts := httptest.NewServer(New(Options{Engine: e, MaxDistance: 0.15}))
	t.Cleanup(ts.Close)
	_, body := reeltest.GetJSON(t, ts.URL+"/api/movies/"+string(e.movies[5].ID)+"/neighbors?k=5")
	if n := len(body["results"].([]any)); n != 3 || body["max_distance"] != 0.15 {
		t.Errorf("%d results with max_distance %v, want 3 with the server's 0.15", n, body["max_distance"])
	}
	_, info := reeltest.GetJSON(t, ts.URL+"/api/info")
	if info["max_distance"] != 0.15 {
		t.Errorf("info max_distance %v, want 0.15", info["max_distance"])
	}
	if _, ok := e.Info()["max_distance"]; ok {
		t.Error("the server wrote into the engine's info map")
	}
}

// TestWithin checks the response records a threshold that kept nothing
// with the nearest distance, for the page's "no close match".
func TestWithin(t *testing.T) {
	body := map[string]any{}
	kept := within(body, []reel.Hit{{ID: "a", Distance: 0.5}, {ID: "b", Distance: 0.7}}, 0.25)
	want := map[string]any{"max_distance": 0.25, "nearest_distance": 0.5}
	if diff := cmp.Diff(want, body); diff != "" || len(kept) != 0 {
		t.Errorf("kept %v; body (-want +got):\n%s", kept, diff)
	}
}
