package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/synth"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// pipelineMovies and pipelineEpochs keep the end-to-end tests to a few
// seconds: enough movies for a 12-movie test split, two epochs.
const (
	pipelineMovies = 60
	pipelineEpochs = "2"
)

// runPipelineCLI writes a synthetic dataset and runs `reelmatch run` on it
// with the builtin encoder, returning the WORK folder and run's stdout. It
// trains the main run only (no control or baselines, which
// cmd_run_test.go covers) unless extra says otherwise.
func runPipelineCLI(t *testing.T, extra ...string) (workdir.Dir, string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := synth.Write(data, pipelineMovies, 3); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	args := append([]string{"run", "--data", data, "--work", work, "--encoder", "builtin", "--epochs", pipelineEpochs, "-q", "--control=false", "--baselines=false"}, extra...)
	stdout, stderr, code := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("run: exit %d\nstderr: %s", code, stderr)
	}
	return workdir.Dir(work), stdout
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var (
	directionKeys = sorted([]string{"r1", "r5", "r10", "median_rank", "mean_rank", "mrr", "top1_acc", "mean_rank_percentile"})
	evalKeys      = sorted([]string{"run", "encoder", "split", "n", "poster_to_intro", "intro_to_poster", "chance", "bootstrap"})
)

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// checkEvalDoc checks the exact key set of one eval document: every
// direction carries its bootstrap intervals, and "bootstrap" says how they
// were made.
func checkEvalDoc(t *testing.T, doc map[string]any, split string, n int) {
	t.Helper()
	if diff := cmp.Diff(evalKeys, keys(doc)); diff != "" {
		t.Errorf("top-level keys (-want +got):\n%s", diff)
	}
	if doc["run"] != "builtin" || doc["encoder"] != "builtin" || doc["split"] != split || doc["n"] != float64(n) {
		t.Errorf("encoder/split/n = %v/%v/%v, want builtin/%s/%d", doc["encoder"], doc["split"], doc["n"], split, n)
	}
	for _, dir := range []string{"poster_to_intro", "intro_to_poster"} {
		d, ok := doc[dir].(map[string]any)
		if !ok {
			t.Fatalf("%s is %T", dir, doc[dir])
		}
		want := sorted(append(slices.Clone(directionKeys), "ci"))
		ci, _ := d["ci"].(map[string]any)
		if diff := cmp.Diff(directionKeys, keys(ci)); diff != "" {
			t.Errorf("%s ci keys (-want +got):\n%s", dir, diff)
		}
		for _, k := range []string{"r1", "mean_rank_percentile"} {
			iv, _ := ci[k].([]any)
			if len(iv) != 2 {
				t.Errorf("%s ci %s = %v, want [lo, hi]", dir, k, ci[k])
				continue
			}
			lo, _ := iv[0].(float64)
			hi, _ := iv[1].(float64)
			if v, _ := d[k].(float64); lo > hi || lo < 0 || hi > 1 {
				t.Errorf("%s ci %s = %v around %v: not an interval inside [0, 1]", dir, k, iv, v)
			}
		}
		if diff := cmp.Diff(want, keys(d)); diff != "" {
			t.Errorf("%s keys (-want +got):\n%s", dir, diff)
		}
		mr, _ := d["median_rank"].(float64)
		if mr != float64(int(mr)) || mr < 1 || mr > float64(n) {
			t.Errorf("%s median_rank %v is not an integer rank in [1, %d]", dir, d["median_rank"], n)
		}
		for _, k := range []string{"r1", "r5", "r10", "mrr", "top1_acc", "mean_rank_percentile"} {
			if v, _ := d[k].(float64); v < 0 || v > 1 {
				t.Errorf("%s %s = %v, outside [0, 1]", dir, k, d[k])
			}
		}
	}
	if diff := cmp.Diff(map[string]any{"resamples": 1000.0, "seed": 1.0, "level": 0.95}, doc["bootstrap"]); diff != "" {
		t.Errorf("bootstrap (-want +got):\n%s", diff)
	}
	ch, _ := doc["chance"].(map[string]any)
	if diff := cmp.Diff([]string{"r1", "r10", "r5"}, keys(ch)); diff != "" {
		t.Errorf("chance keys (-want +got):\n%s", diff)
	}
	if ch["r1"] != 1/float64(n) {
		t.Errorf("chance r1 = %v, want 1/%d", ch["r1"], n)
	}
}

func TestPipelineCLI(t *testing.T) {
	work, runOut := runPipelineCLI(t)
	nTest := pipelineMovies - int(math.Round(pipelineMovies*synth.TrainFraction))

	t.Run("run prints stages and both splits", func(t *testing.T) {
		for _, want := range []string{"prepare: ", "embed: builtin", "train: ", "eval: ", "split test, n=12", "split all, n=60", evalrun.AllProtocolNote} {
			if !strings.Contains(runOut, want) {
				t.Errorf("run output lacks %q:\n%s", want, runOut)
			}
		}
		for _, split := range []string{"test", "all"} {
			for _, p := range []string{work.Eval("builtin", split), work.Distance("builtin", split)} {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("run did not write %s: %v", p, err)
				}
			}
		}
	})

	t.Run("eval --json has exactly the documented keys", func(t *testing.T) {
		for _, split := range []string{"test", "all", "train"} {
			stdout, stderr, code := runCLI(t, "eval", "--work", string(work), "--split", split, "--json", "-q")
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
				t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout)
			}
			n := map[string]int{"test": nTest, "all": pipelineMovies, "train": pipelineMovies - nTest}[split]
			checkEvalDoc(t, doc, split, n)
		}
	})

	t.Run("eval prints the primary figure with its interval; --ci every interval", func(t *testing.T) {
		stdout, stderr, code := runCLI(t, "eval", "--work", string(work), "-q")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{"mean rank pct [95% CI]", "R@10 [95% CI]", "95% CI: bootstrap over the 12 queries (gallery fixed), 1000 resamples, seed 1"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("eval output lacks %q:\n%s", want, stdout)
			}
		}
		if strings.Contains(stdout, "intervals of the other metrics") {
			t.Errorf("eval without --ci printed every interval:\n%s", stdout)
		}
		stdout, _, _ = runCLI(t, "eval", "--work", string(work), "--ci", "--resamples", "200", "-q")
		for _, want := range []string{"95% intervals of the other metrics:", "direction      R@1", "200 resamples"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("eval --ci --resamples 200 output lacks %q:\n%s", want, stdout)
			}
		}
		checkColumns(t, stdout)
		for _, bad := range []string{"0", "99", "100001", "x"} {
			if _, stderr, code := runCLI(t, "eval", "--work", string(work), "--resamples", bad); code != exitUsage || !strings.Contains(stderr, "resamples") {
				t.Errorf("--resamples %s: exit %d, stderr %q; want a usage error naming the flag", bad, code, stderr)
			}
		}
	})

	t.Run("eval json file matches stdout", func(t *testing.T) {
		stdout, _, code := runCLI(t, "eval", "--work", string(work), "--json", "-q")
		if code != exitOK {
			t.Fatal(code)
		}
		var fromOut, fromFile evalrun.Result
		if err := json.Unmarshal([]byte(stdout), &fromOut); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(work.Eval("builtin", "test"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &fromFile); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(fromOut, fromFile); diff != "" {
			t.Errorf("eval_test.json differs from --json (-stdout +file):\n%s", diff)
		}
		ids, D, err := evalrun.LoadDistance(work.Distance("builtin", "test"))
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != nTest || len(D) != nTest {
			t.Errorf("distance_test has %d ids, %d rows; want %d", len(ids), len(D), nTest)
		}
	})

	t.Run("eval human output labels split all", func(t *testing.T) {
		stdout, _, code := runCLI(t, "eval", "--work", string(work), "--split", "all")
		if code != exitOK || !strings.Contains(stdout, evalrun.AllProtocolNote) || !strings.Contains(stdout, "chance") {
			t.Errorf("exit %d, output:\n%s", code, stdout)
		}
		stdout, _, _ = runCLI(t, "eval", "--work", string(work))
		if strings.Contains(stdout, "seed's protocol") {
			t.Errorf("split test output carries the all-split label:\n%s", stdout)
		}
	})

	t.Run("eval usage and missing runs", func(t *testing.T) {
		if _, stderr, code := runCLI(t, "eval", "--work", string(work), "--split", "valid"); code != exitUsage || !strings.Contains(stderr, "test") {
			t.Errorf("bad split: exit %d, stderr %q", code, stderr)
		}
		empty := t.TempDir()
		if _, stderr, code := runCLI(t, "eval", "--work", empty); code != exitFailure || !strings.Contains(stderr, "reelmatch train") {
			t.Errorf("no run: exit %d, stderr %q", code, stderr)
		}
	})

	search := func(t *testing.T, args ...string) map[string]any {
		t.Helper()
		stdout, stderr, code := runCLI(t, append([]string{"search", "--work", string(work), "--json", "-q"}, args...)...)
		if code != exitOK {
			t.Fatalf("search %v: exit %d: %s", args, code, stderr)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("search %v: %v\n%s", args, err, stdout)
		}
		return doc
	}
	poster7 := filepath.Join(filepath.Dir(string(work)), "data", "poster", "7.jpg")
	for _, tt := range []struct {
		name    string
		args    []string
		k       int
		returns string
		first   string // expected first id, "" when not fixed
	}{
		{"poster", []string{"--poster", "3", "-k", "4"}, 4, "intro", ""},
		{"intro", []string{"--intro", "3"}, 5, "poster", ""},
		{"text", []string{"--text", "a haunted house and a cursed ghost", "-k", "3"}, 3, "poster", ""},
		// An image query with a poster file of the gallery gives the same
		// vector as --poster, so the same results.
		{"image", []string{"--image", poster7, "-k", "60"}, 60, "intro", ""},
		{"k clamped to the test gallery", []string{"--intro", "1", "--split", "test", "-k", "100"}, nTest, "poster", ""},
	} {
		t.Run("search "+tt.name, func(t *testing.T) {
			doc := search(t, tt.args...)
			if diff := cmp.Diff([]string{"query", "results"}, keys(doc)); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			q := doc["query"].(map[string]any)
			if q["returns"] != tt.returns {
				t.Errorf("returns %v, want %s", q["returns"], tt.returns)
			}
			if q["index"] != "exact" { // a small catalogue is searched exactly
				t.Errorf("index %v, want exact", q["index"])
			}
			res := doc["results"].([]any)
			if len(res) != tt.k {
				t.Fatalf("%d results, want %d", len(res), tt.k)
			}
			last := -1.0
			for i, r := range res {
				m := r.(map[string]any)
				if diff := cmp.Diff([]string{"distance", "id", "intro", "name", "poster"}, keys(m)); diff != "" {
					t.Errorf("result %d keys (-want +got):\n%s", i, diff)
				}
				d := m["distance"].(float64)
				if d < last-1e-6 {
					t.Errorf("result %d distance %v after %v: not nearest first", i, d, last)
				}
				last = d
			}
		})
	}
	t.Run("search image equals poster query", func(t *testing.T) {
		byImage := search(t, "--image", poster7, "-k", "5")["results"]
		byPoster := search(t, "--poster", "7", "-k", "5")["results"]
		ids := func(rs any) []string {
			var out []string
			for _, r := range rs.([]any) {
				out = append(out, r.(map[string]any)["id"].(string))
			}
			return out
		}
		if diff := cmp.Diff(ids(byPoster), ids(byImage)); diff != "" {
			t.Errorf("image file of poster 7 ranks differently from --poster 7 (-poster +image):\n%s", diff)
		}
	})
	t.Run("search errors", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			args []string
			code int
			want string
		}{
			{"unknown id", []string{"--poster", "99999"}, exitFailure, `"99999"`},
			{"missing image", []string{"--image", "/no/such/file.jpg"}, exitFailure, "/no/such/file.jpg"},
			{"not an image", []string{"--image", work.Manifest()}, exitFailure, "manifest.json"},
			{"k zero", []string{"--intro", "1", "-k", "0"}, exitUsage, "-k"},
			{"two queries", []string{"--intro", "1", "--text", "x"}, exitUsage, "one query at a time, got --intro and --text"},
			{"no query", nil, exitUsage, "search needs a query"},
			{"bad split", []string{"--intro", "1", "--split", "x"}, exitUsage, "split"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, stderr, code := runCLI(t, append([]string{"search", "--work", string(work)}, tt.args...)...)
				if code != tt.code || !strings.Contains(stderr, tt.want) {
					t.Errorf("exit %d (want %d), stderr %q (want it to name %q)", code, tt.code, stderr, tt.want)
				}
			})
		}
	})
}

func TestRunJSON(t *testing.T) {
	_, stdout := runPipelineCLI(t, "--json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout)
	}
	if diff := cmp.Diff([]string{"compare", "embed", "eval", "prepare", "protocol", "runs", "train"}, keys(doc)); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	ev := doc["eval"].(map[string]any)
	if diff := cmp.Diff([]string{"all", "test"}, keys(ev)); diff != "" {
		t.Errorf("eval keys (-want +got):\n%s", diff)
	}
	checkEvalDoc(t, ev["all"].(map[string]any), "all", pipelineMovies)
	if p := doc["prepare"].(map[string]any); p["movies"] != float64(pipelineMovies) {
		t.Errorf("prepare movies = %v", p["movies"])
	}
}

func TestDemoCLI(t *testing.T) {
	work := filepath.Join(t.TempDir(), "demo")
	stdout, stderr, code := runCLI(t, "demo", "--work", work, "--movies", "40", "--epochs", pipelineEpochs, "-q")
	if code != exitOK {
		t.Fatalf("demo: exit %d\nstderr: %s", code, stderr)
	}
	for _, want := range []string{"split test, n=8", "poster->intro", "R@1", "demo folder: " + work, "\nbinary: ", " search --work " + work, " serve  --work ", " report --work "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "demo-data", "info.csv")); err != nil {
		t.Errorf("demo data not written: %v", err)
	}
	if _, _, code := runCLI(t, "demo", "--work", work, "--movies", "3"); code != exitUsage {
		t.Errorf("--movies 3: exit %d, want usage", code)
	}
}
