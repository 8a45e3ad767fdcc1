package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestSearchMaxDistance checks --max-distance against the unfiltered
// answer: it keeps exactly the results at that distance or nearer, and
// says "no close match" (exit 0) with the nearest distance when it keeps
// none.
func TestSearchMaxDistance(t *testing.T) {
	work := string(synthWork(t, synthTestMovies))
	query := []string{"--json", "-q", "search", "--work", work, "--intro", "1", "-k", "5"}
	stdout, stderr, code := runCLI(t, query...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var all searchJSON
	if err := json.Unmarshal([]byte(stdout), &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Results) != 5 || all.Query.MaxDistance != 2 || all.NearestDistance != nil {
		t.Fatalf("unfiltered search: %+v", all)
	}
	between := (all.Results[1].Distance + all.Results[2].Distance) / 2
	for _, tc := range []struct {
		name string
		max  float64
		want int
	}{
		{"keeps the two nearest", float64(between), 2},
		{"keeps none", float64(all.Results[0].Distance) / 2, 0},
		{"keeps all", 2, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, append(query, "--max-distance", fmt.Sprint(tc.max))...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got searchJSON
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Results) != tc.want || got.Query.MaxDistance != tc.max {
				t.Errorf("%d results with max_distance %v, want %d with %v", len(got.Results), got.Query.MaxDistance, tc.want, tc.max)
			}
			for i, r := range got.Results {
				if r != all.Results[i] {
					t.Errorf("result %d is %+v, want %+v", i, r, all.Results[i])
				}
			}
			if (tc.want == 0) != (got.NearestDistance != nil) || (got.NearestDistance != nil && *got.NearestDistance != float64(all.Results[0].Distance)) {
				t.Errorf("nearest_distance %v, want %v only when nothing is kept", got.NearestDistance, all.Results[0].Distance)
			}
		})
	}
	text, _, code := runCLI(t, "search", "--work", work, "--intro", "1", "--max-distance", fmt.Sprint(all.Results[0].Distance/2))
	if code != exitOK || !strings.Contains(text, "no close match: no poster within distance") || !strings.Contains(text, fmt.Sprintf("nearest is at %.4f", all.Results[0].Distance)) {
		t.Errorf("exit %d, output %q: want no close match with the nearest distance", code, text)
	}
	for _, bad := range []string{"-0.1", "2.5", "nan", "inf", "x"} {
		if _, stderr, code := runCLI(t, "search", "--work", work, "--intro", "1", "--max-distance", bad); code != exitUsage || !strings.Contains(stderr, "--max-distance") {
			t.Errorf("--max-distance %s: exit %d, stderr %q; want a usage error", bad, code, stderr)
		}
	}
}
