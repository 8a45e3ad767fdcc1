package report

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/evalrun/evalruntest"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/scoreboard"
)

func testResult(split string, n int, mrp, top1 float64) *evalrun.Result {
	s := metrics.Scores{MeanRankPercentile: mrp, R10: 0.04, Top1Acc: top1,
		CI: &metrics.Intervals{MeanRankPercentile: metrics.Interval{mrp - 0.02, mrp + 0.02}, R10: metrics.Interval{0.03, 0.05}, Top1Acc: metrics.Interval{top1, top1}}}
	bo := metrics.BootstrapOptions{}.WithDefaults()
	return &evalrun.Result{Split: split, N: n, PosterToIntro: s, IntroToPoster: s, Chance: metrics.ChanceFor(n), Bootstrap: &bo}
}

// TestRenderComparison renders the content sections issue 11 asks for: the
// runs side by side with the seeds' mean ± sd and the control, both
// readings of the seed's number, and the leak check, with no steer towards
// one reading of the seed's figure.
func TestRenderComparison(t *testing.T) {
	mlp := func(seed int64, shuffled bool) heads.Settings {
		c := heads.DefaultConfig()
		c.Seed = seed
		return heads.Settings{Heads: heads.KindMLP, Encoder: "builtin", Config: c, ShufflePairs: shuffled}
	}
	board, err := scoreboard.New(evalrun.SplitTest, []scoreboard.Run{
		scoreboard.NewRun("builtin", mlp(1, false), testResult(evalrun.SplitTest, 648, 0.603, 0)),
		scoreboard.NewRun("builtin.seed2", mlp(2, false), testResult(evalrun.SplitTest, 648, 0.599, 0)),
		scoreboard.NewRun("builtin.shuffled", mlp(1, true), testResult(evalrun.SplitTest, 648, 0.501, 0)),
		scoreboard.NewRun("builtin.linear", heads.Settings{Heads: heads.KindLinear, Encoder: "builtin"}, testResult(evalrun.SplitTest, 648, 0.608, 0)),
	})
	if err != nil {
		t.Fatal(err)
	}
	d := sampleData(t)
	d.Compare = board
	d.SeedProtocol = &SeedProtocol{Run: "builtin.seed-protocol", Rows: scoreboard.ReadingRows([]*evalrun.Result{
		testResult(evalrun.SplitTest, 648, 0.546, 0), testResult(evalrun.SplitAll, 3242, 0.9097, 0.7995), testResult(evalrun.SplitTrain, 2594, 1, 0.9996)})}
	d.Leaks = []dataset.Leak{{Kind: dataset.LeakIntro, Test: "2559", Train: "2565", Similarity: 1}}
	var buf bytes.Buffer
	if err := Render(&buf, d); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{
		"Runs side by side, held out (n = 648)", "<th>MRP p-&gt;i [95% CI]</th>",
		`<tr class="run"><td>builtin.shuffled</td><td>MLP heads, pairs shuffled</td><td>1</td><td>50.10%<span class="ci">[48.10, 52.10]</span></td>`,
		`<tr class="seeds"><td></td><td>mean ± sd of 2 seeds</td><td></td><td>60.10%<span class="ci">± 0.28</span></td>`,
		`<tr class="chance"><td>chance</td>`, "control: the same training",
		"Both readings of run <b>builtin.seed-protocol</b>",
		`<tr><td>all (training pairs included)</td><td>3242</td><td>79.95%<span class="ci">[79.95, 79.95]</span></td>`,
		`<tr><td>test (held out)</td><td>648</td><td>0.00%<span class="ci">[0.00, 0.00]</span></td>`,
		"cannot be read as a measure of alignment",
		"<b>Leak check:</b> 1 held-out movie(s)", "test 2559 / train 2565: intro", "--exclude-leaks",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, steer := range []string{"far better than a top-1 accuracy", "behave like a", "upper bound", "far above chance"} {
		if strings.Contains(html, steer) {
			t.Errorf("report still says %q", steer)
		}
	}
	// all rows come before the held-out row in the readings table.
	if strings.Index(html, "<tr><td>all (training pairs included)") > strings.Index(html, "<tr><td>test (held out)") {
		t.Errorf("readings table does not start with split all")
	}

	d.Compare, d.SeedProtocol, d.Leaks = nil, nil, nil
	buf.Reset()
	if err := Render(&buf, d); err != nil {
		t.Fatal(err)
	}
	html = buf.String()
	for _, want := range []string{"reelmatch run --protocol seed", "Leak check: no held-out movie shares"} {
		if !strings.Contains(html, want) {
			t.Errorf("report without comparison lacks %q", want)
		}
	}
	if strings.Contains(html, "Runs side by side") {
		t.Errorf("report without a comparison shows one")
	}
}

// TestBuildCompare builds the report of a WORK holding the main run, a copy
// under a control-like name and a seed-protocol run: the comparison lists
// every run of the encoder and the seed protocol gets its readings.
func TestBuildCompare(t *testing.T) {
	work := evalruntest.ColorWork(t)
	main := encodertest.ColorEncoderName
	evalruntest.CopyRun(t, work, main, main+".copy", main+".seed-protocol")
	var notes []string
	d, err := Build(context.Background(), work, []string{main}, Options{Notef: func(f string, a ...any) { notes = append(notes, f) }})
	if err != nil {
		t.Fatal(err)
	}
	if d.Compare == nil || len(d.Compare.Runs) != 3 {
		t.Fatalf("comparison %+v, want 3 runs", d.Compare)
	}
	sp := d.SeedProtocol
	if sp == nil || sp.Run != main+".seed-protocol" || len(sp.Rows) != 3 || sp.Rows[0].Split != evalrun.SplitAll || sp.Rows[2].Split != evalrun.SplitTest {
		t.Errorf("seed protocol %+v", sp)
	}
	if len(d.Leaks) != 0 {
		t.Errorf("leaks %v", d.Leaks)
	}
	// The copies have no saved evaluation: each of their splits (test of
	// the copy; test, all and train of the seed protocol) is evaluated in
	// memory and noted once; the main run's saved files are used.
	if len(notes) != 4 {
		t.Errorf("%d notes, want 4 (one per split evaluated in memory): %q", len(notes), notes)
	}
}
