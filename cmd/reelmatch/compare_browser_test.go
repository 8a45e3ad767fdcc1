package main

import (
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/synth"
)

// TestReportComparisonLayout writes the report of a WORK holding every run
// `run` trains (two seeds, the control, the baselines) and the seed
// protocol, and opens it at a laptop's and a phone's width: the runs side
// by side and the two readings are shown, and nothing is wider than the
// window (the wide tables scroll in place).
func TestReportComparisonLayout(t *testing.T) {
	dir := t.TempDir()
	data, work := filepath.Join(dir, "data"), filepath.Join(dir, "work")
	if err := synth.Write(data, pipelineMovies, 3); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{append([]string{"--seeds", "1,2", "--epochs", "1"}, fastLinear...), {"--protocol", "seed"}} {
		args := append([]string{"run", "--data", data, "--work", work, "--encoder", "builtin", "-q"}, extra...)
		if _, stderr, code := runCLI(t, args...); code != exitOK {
			t.Fatalf("run %v: exit %d: %s", extra, code, stderr)
		}
	}
	out := filepath.Join(dir, "report.html")
	if _, stderr, code := runCLI(t, "report", "--work", work, "--out", out, "--examples", "1"); code != exitOK {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	for _, w := range layoutWidths {
		t.Run(w.name, func(t *testing.T) {
			b := reeltest.NewBrowser(t)
			b.Do("open report", chromedp.EmulateViewport(w.width, w.height), chromedp.Navigate("file://"+out),
				chromedp.WaitVisible(chromedp.CSS(`table.compare`)))
			if n := reeltest.Eval[int](b, `document.querySelectorAll("table.compare tbody tr.run").length`); n != 6 {
				t.Errorf("comparison lists %d runs, want 6 (2 seeds, control, mlp and linear baselines, seed protocol)", n)
			}
			if n := reeltest.Eval[int](b, `document.querySelectorAll("table.readings tbody tr").length`); n != 3 {
				t.Errorf("readings table has %d rows, want all, train and test", n)
			}
			if over := reeltest.Eval[int](b, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
				wide := reeltest.Eval[string](b, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5).slice(0, 6).map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : "") + " right " + Math.round(e.getBoundingClientRect().right)).join("; ")`)
				t.Errorf("at %s px the report is %d px wider than the window: %s", w.name, over, wide)
			}
		})
	}
}
