package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/report"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// writeReport runs `reelmatch report` and returns the HTML and stderr.
func writeReport(t *testing.T, work workdir.Dir, extra ...string) (string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.html")
	args := append([]string{"report", "--work", string(work), "--out", out}, extra...)
	stdout, stderr, code := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("report: exit %d\nstderr:\n%s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "wrote "+out) {
		t.Errorf("stdout %q does not name the file", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), stderr
}

// section returns the HTML between two headings' ids.
func section(html, fromID, toID string) string {
	i := strings.Index(html, `id="`+fromID+`"`)
	j := strings.Index(html, `id="`+toID+`"`)
	if i < 0 || j < i {
		return ""
	}
	return html[i:j]
}

var externalRef = regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import|<script|<link|<iframe`)

func TestReport(t *testing.T) {
	work := synthWork(t, synthTestMovies)
	html, _ := writeReport(t, work)
	res, err := evalrun.ReadResult(work, "builtin", evalrun.SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	all, err := evalrun.ReadResult(work, "builtin", evalrun.SplitAll)
	if err != nil {
		t.Fatal(err)
	}
	pct := func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }
	iv := func(v metrics.Interval) string { return fmt.Sprintf("[%.1f, %.1f]", 100*v[0], 100*v[1]) }
	for _, tc := range []struct {
		name string
		want string
		n    int
	}{
		{"sections, settings appendix included", `<h2 id="`, 6},
		{"metrics rows: two splits, two directions and chance", `<td>poster → intro</td>`, 2},
		{"test row", fmt.Sprintf(`<tr><td>test</td><td>poster → intro</td><td>%d</td>`, res.N), 1},
		{"all row", fmt.Sprintf(`<tr><td>all</td><td>intro → poster</td><td>%d</td>`, all.N), 1},
		{"test metrics and their intervals from eval_test.json, mean rank pct first", fmt.Sprintf("<tr><td>test</td><td>poster → intro</td><td>%d</td>\n<td>%s<span class=\"ci\">%s</span></td>\n<td>%s<span class=\"ci\">%s</span></td><td>%s<span class=\"ci\">%s</span></td><td>%s<span class=\"ci\">%s</span></td>",
			res.N, pct(res.PosterToIntro.MeanRankPercentile), iv(res.PosterToIntro.CI.MeanRankPercentile),
			pct(res.PosterToIntro.R1), iv(res.PosterToIntro.CI.R1), pct(res.PosterToIntro.R5), iv(res.PosterToIntro.CI.R5), pct(res.PosterToIntro.R10), iv(res.PosterToIntro.CI.R10)), 1},
		{"all labelled as the seed's protocol", "<b>all:</b> the seed&#39;s protocol, training pairs included", 1},
		{"seed figures", "65.66%", 1},
		{"rank histograms, test split", `<span>rank 2-5</span>`, 2},
		{"poster examples", `<div class="example">`, 3},
		{"intro examples", `<div class="example" style="grid-template-columns:1fr">`, 3},
		{"inlined thumbnails: 3 posters + 3x5 hits", `src="data:image/jpeg;base64,`, 18},
		{"heat map", `href="data:image/png;base64,`, 1},
		{"heat map scale", `<linearGradient id="hm-scale"`, 1},
		{"distance distribution", `aria-label="distance of true pairs versus random pairs"`, 1},
		{"threshold table rows", ` of true pairs)</span>`, 4},
		{"heat map size", "24 held-out movies", 1},
		{"settings", "builtin heads config", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Count(html, tc.want); got != tc.n {
				t.Errorf("%q occurs %d times, want %d", tc.want, got, tc.n)
			}
		})
	}
	if m := externalRef.FindString(html); m != "" {
		t.Errorf("report references something outside the file: %q", m)
	}
	hasHistory := fileExists(work.History("builtin"))
	if got := strings.Contains(html, "<polyline"); got != hasHistory {
		t.Errorf("loss curve shown: %v; history.json present: %v", got, hasHistory)
	}
	if hasHistory {
		var h heads.History
		raw, err := os.ReadFile(work.History("builtin"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("kept: epoch %d", h.BestEpoch)
		if h.AverageFrom > 0 {
			want = fmt.Sprintf("weights averaged: epochs %d-%d", h.AverageFrom, h.BestEpoch)
		}
		if !strings.Contains(html, want) {
			t.Errorf("loss curve does not mark %q", want)
		}
	}
	// Every example's true rank is the one the held-out matrix gives.
	ids, D, err := evalrun.LoadDistance(work.Distance("builtin", evalrun.SplitTest))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{} // id -> name as the report escapes it
	for _, m := range loadSpace(t, work).Movies {
		names[string(m.ID)] = template.HTMLEscapeString(m.Name)
	}
	examples := []struct {
		dir    metrics.Direction
		format string // the example's heading, from report.html.tmpl
	}{
		{metrics.PosterToIntro, `<b>%s</b><br><span class="muted">true intro at rank %d</span>`},
		{metrics.IntroToPoster, `<b>%s</b> <span class="muted">(true poster at rank %d)</span>`},
	}
	for _, ex := range examples {
		found := 0
		for i, q := range metrics.Queries(D, ex.dir) {
			if strings.Contains(html, fmt.Sprintf(ex.format, names[string(ids[i])], q.Rank)) {
				found++
			}
		}
		if found != 3 {
			t.Errorf("%v: %d examples state the matrix's true rank, want all 3", ex.dir, found)
		}
	}
}

// posterWidth is the width of the first poster of WORK (the synthetic
// posters all share one size).
func posterWidth(t *testing.T, work workdir.Dir) int {
	t.Helper()
	img, release, err := imageprep.DecodeFile(context.Background(), synthMovie(t, work, 0).PosterPath)
	if err != nil {
		t.Fatal(err)
	}
	release()
	return img.Bounds().Dx()
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestReportSeedAndSizes checks the examples follow --seed and the sizes
// follow their flags.
func TestReportSeedAndSizes(t *testing.T) {
	work := synthWork(t, synthTestMovies)
	a, _ := writeReport(t, work, "--seed", "7")
	b, _ := writeReport(t, work, "--seed", "7")
	c, _ := writeReport(t, work, "--seed", "8")
	ex := func(html string) string { return section(html, "examples", "discussion") }
	if ex(a) == "" || ex(a) != ex(b) {
		t.Errorf("the same seed gave different examples")
	}
	if ex(a) == ex(c) {
		t.Errorf("seeds 7 and 8 gave the same examples")
	}
	none, _ := writeReport(t, work, "--examples", "0", "--heatmap-size", "0")
	if strings.Contains(none, `<div class="example"`) || strings.Contains(none, "data:image/png") {
		t.Errorf("--examples 0 --heatmap-size 0 still shows examples or a heat map")
	}
	one, _ := writeReport(t, work, "--examples", "1", "--heatmap-size", "5")
	if n := strings.Count(one, `<div class="example"`); n != 2 || !strings.Contains(one, "5 held-out movies") {
		t.Errorf("--examples 1 --heatmap-size 5: %d examples", n)
	}
}

// TestReportWithoutSavedEval removes or spoils the saved evaluation: the
// report evaluates in memory, says so, and shows the true metrics.
func TestReportWithoutSavedEval(t *testing.T) {
	orig := synthWork(t, synthTestMovies)
	want, _ := writeReport(t, orig)
	for _, tc := range []struct {
		name string
		// note says the eval json had to be replaced (a stale matrix alone
		// is recomputed silently: the json still agrees with the new one).
		note  bool
		spoil func(t *testing.T, work workdir.Dir)
	}{
		{"files removed", true, func(t *testing.T, work workdir.Dir) {
			for _, p := range []string{work.Eval("builtin", "test"), work.Distance("builtin", "test")} {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"eval json from another run", true, func(t *testing.T, work workdir.Dir) {
			res, err := evalrun.ReadResult(work, "builtin", "test")
			if err != nil {
				t.Fatal(err)
			}
			res.PosterToIntro.R1, res.PosterToIntro.MeanRank = 0.987, 1.5
			b, _ := json.Marshal(res)
			if err := os.WriteFile(work.Eval("builtin", "test"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"distance matrix from other heads", false, func(t *testing.T, work workdir.Dir) {
			ids, D, err := evalrun.LoadDistance(work.Distance("builtin", "test"))
			if err != nil {
				t.Fatal(err)
			}
			for i := range D {
				D[i][i] += 0.01
			}
			if err := evalrun.SaveDistance(work.Distance("builtin", "test"), "builtin", "test", ids, D); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := copyWork(t, orig)
			tc.spoil(t, work)
			got, stderr := writeReport(t, work)
			if got := strings.Contains(stderr, "evaluated split test in memory"); got != tc.note || strings.Contains(stderr, "evaluated split all") {
				t.Errorf("stderr %q: want a note for split test: %v, none for all", stderr, tc.note)
			}
			// Metrics and rank histograms are the true ones; only the WORK
			// path differs.
			strip := func(html string) string {
				return strings.ReplaceAll(section(html, "metrics", "examples"), string(work), string(orig))
			}
			if diff := cmp.Diff(strip(want), strip(got)); diff != "" {
				t.Errorf("metrics sections differ (-saved +in memory):\n%s", diff)
			}
		})
	}
}

func TestReportErrors(t *testing.T) {
	work := synthWork(t, synthTestMovies)
	noRuns := copyWork(t, work)
	if err := os.RemoveAll(noRuns.Runs()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no manifest", []string{"report", "--work", t.TempDir()}, exitFailure, "reelmatch prepare"},
		{"no runs", []string{"report", "--work", string(noRuns)}, exitFailure, "reelmatch train"},
		{"negative examples", []string{"report", "--work", string(work), "--examples", "-1"}, exitUsage, "--examples"},
		{"huge heat map", []string{"report", "--work", string(work), "--heatmap-size", "5000"}, exitUsage, "--heatmap-size"},
		{"out is a folder", []string{"report", "--work", string(work), "--out", t.TempDir()}, exitFailure, "write report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d stderr %q; want exit %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}

// TestReportBrowser opens the report from disk in headless Chromium (no
// server, scripts irrelevant) and checks it renders: the metrics table,
// every inlined image decoded, the headings in order.
func TestReportBrowser(t *testing.T) {
	work := synthWork(t, synthTestMovies)
	out := filepath.Join(t.TempDir(), "report.html")
	if _, stderr, code := runCLI(t, "report", "--work", string(work), "--out", out); code != exitOK {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	b := reeltest.NewBrowser(t)
	b.Do("open report", chromedp.Navigate("file://"+out), chromedp.WaitVisible(chromedp.CSS(`svg.heatmap`)))
	eval := func(js string) string { t.Helper(); return reeltest.Eval[string](b, js) }
	// Wait until every image has loaded (data URIs decode asynchronously).
	b.Do("images never finished loading", chromedp.Poll[chromedp.Void](`[...document.images].every(i => i.complete)`))
	got := map[string]string{
		"headings":      eval(`[...document.querySelectorAll("h2")].map(h => h.textContent).join(" | ")`),
		"metrics rows":  eval(`String(document.querySelectorAll("table.metrics")[0].tBodies[0].rows.length)`),
		"first row":     eval(`[...document.querySelectorAll("table.metrics")[0].tBodies[0].rows[0].cells].slice(0, 3).map(c => c.textContent).join(",")`),
		"broken images": eval(`String([...document.images].filter(i => i.naturalWidth === 0).length)`),
		"images":        eval(`String(document.images.length)`),
		"heat map px":   eval(`document.querySelector("svg.heatmap image").getAttribute("width")`),
		"thumb px":      eval(`String(document.querySelector(".example img").naturalWidth)`),
	}
	res, err := evalrun.ReadResult(work, "builtin", evalrun.SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"headings":      "1. Retrieval metrics | 2. Training | 3. What the alignment retrieves | 4. The distance matrix, sampled | 5. Reading the results | Appendix: settings",
		"metrics rows":  "6",
		"first row":     fmt.Sprintf("test,poster → intro,%d", res.N),
		"broken images": "0",
		"images":        "18", // 3 poster queries, 3x5 posters for the intro queries
		"heat map px":   fmt.Sprint(24 * 12),
		"thumb px":      fmt.Sprint(min(report.ThumbWidth, posterWidth(t, work))),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rendered report (-want +got):\n%s", diff)
	}
	// Nothing overflows the page horizontally at 1280 px.
	if w := eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); w != "true" {
		wide := eval(`[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > window.innerWidth).slice(0, 5).map(e => e.tagName + "." + e.className + " right=" + Math.round(e.getBoundingClientRect().right)).join("; ")`)
		t.Errorf("report overflows the %s px window horizontally: %s", eval(`String(window.innerWidth)`), wide)
	}
}

func TestReportJSON(t *testing.T) {
	work := synthWork(t, synthTestMovies)
	out := filepath.Join(t.TempDir(), "r.html")
	stdout, stderr, code := runCLI(t, "--json", "report", "--work", string(work), "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got reportJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout %q is not one JSON document: %v", stdout, err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(reportJSON{Out: out, Bytes: int(st.Size()), Runs: []string{"builtin"}}, got); diff != "" {
		t.Errorf("--json (-want +got):\n%s", diff)
	}
}
