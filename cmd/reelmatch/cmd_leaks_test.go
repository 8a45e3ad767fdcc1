package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/synth"
)

// leakyDataset writes a synthetic catalogue in which one test movie has
// the intro of a training movie (as the real set's 2559 has 2565's), and
// returns the folder with both ids.
func leakyDataset(t *testing.T) (data, testID, trainID string) {
	t.Helper()
	data = filepath.Join(t.TempDir(), "data")
	if err := synth.Write(data, pipelineMovies, 3); err != nil {
		t.Fatal(err)
	}
	editCatalogue(t, data, func(rows [][]string, train map[string]bool) {
		var src, dst int
		for i, r := range rows[1:] {
			switch {
			case train[r[0]] && src == 0:
				src = i + 1
			case !train[r[0]] && dst == 0:
				dst = i + 1
			}
		}
		// Punctuation and case change nothing after cleaning.
		rows[dst][2] = strings.ToUpper(rows[src][2]) + "!"
		testID, trainID = rows[dst][0], rows[src][0]
	})
	return data, testID, trainID
}

// TestLeakCheckCLI: prepare warns about the copied intro (ids on stderr,
// "leaks" in --json, exit 0), run carries the same list, and
// --exclude-leaks leaves the test movie out and names it.
func TestLeakCheckCLI(t *testing.T) {
	data, testID, trainID := leakyDataset(t)
	work := filepath.Join(t.TempDir(), "work")

	stdout, stderr, code := runCLI(t, "prepare", "--data", data, "--work", work, "--json", "-q")
	if code != exitOK {
		t.Fatalf("prepare: exit %d, stderr %q", code, stderr)
	}
	var prep prepareJSON
	if err := json.Unmarshal([]byte(stdout), &prep); err != nil {
		t.Fatalf("prepare stdout %q: %v", stdout, err)
	}
	want := []dataset.Leak{{Kind: dataset.LeakIntro, Test: reel.MovieID(testID), Train: reel.MovieID(trainID), Similarity: 1}}
	if diff := cmp.Diff(want, prep.Leaks); diff != "" {
		t.Errorf("prepare leaks (-want +got):\n%s", diff)
	}
	if !strings.Contains(stderr, "warning: leak: test movie "+testID+" (") || !strings.Contains(stderr, "train movie "+trainID+" (") {
		t.Errorf("stderr %q: want a leak warning naming %s and %s", stderr, testID, trainID)
	}
	stdout, _, _ = runCLI(t, "prepare", "--data", data, "--work", work)
	if !strings.Contains(stdout, "leaks: 1 test movie shares an intro or a poster with the training split: "+testID) {
		t.Errorf("prepare summary lacks the leak line:\n%s", stdout)
	}

	stdout, stderr, code = runCLI(t, "run", "--data", data, "--work", work, "--encoder", "builtin", "--epochs", "1", "--exclude-leaks", "--json", "-q", "--baselines=false")
	if code != exitOK {
		t.Fatalf("run: exit %d, stderr %q", code, stderr)
	}
	var res struct {
		Prepare prepareJSON
		Eval    struct{ Test, All map[string]any }
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("run stdout: %v", err)
	}
	if diff := cmp.Diff(want, res.Prepare.Leaks); diff != "" {
		t.Errorf("run's prepare leaks (-want +got):\n%s", diff)
	}
	nTest := int(res.Prepare.Test)
	if got := res.Eval.Test["n"]; got != float64(nTest-1) {
		t.Errorf("run --exclude-leaks: test n = %v, want %d", got, nTest-1)
	}
	if got := res.Eval.Test["excluded_leaks"]; !cmp.Equal(got, []any{testID}) {
		t.Errorf("run: excluded_leaks = %v, want [%s]", got, testID)
	}
	if _, ok := res.Eval.All["excluded_leaks"]; ok || res.Eval.All["n"] != float64(pipelineMovies) {
		t.Errorf("split all changed by --exclude-leaks: %v", res.Eval.All)
	}

	stdout, _, code = runCLI(t, "eval", "--work", work, "--exclude-leaks")
	if code != exitOK || !strings.Contains(stdout, "left out 1 held-out movie(s) sharing an intro or a poster with the training split (--exclude-leaks): "+testID) {
		t.Errorf("eval --exclude-leaks: exit %d\n%s", code, stdout)
	}
	stdout, _, _ = runCLI(t, "eval", "--work", work)
	if strings.Contains(stdout, "left out") {
		t.Errorf("eval without --exclude-leaks left movies out:\n%s", stdout)
	}
}
