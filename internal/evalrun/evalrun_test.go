package evalrun

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

func TestEvaluateSaveAndReload(t *testing.T) {
	work := buildWork(t, filepath.Join("testdata", "retrieval", "colors"))
	name := encodertest.ColorEncoderName
	space, err := Load(work, name)
	if err != nil {
		t.Fatal(err)
	}
	perfect := metrics.Scores{R1: 1, R5: 1, R10: 1, MedianRank: 1, MeanRank: 1, MRR: 1, Top1Acc: 1, MeanRankPercentile: 1}
	one := metrics.Interval{1, 1}
	// Every resample of perfect queries is perfect: each interval is [1, 1].
	perfectCI := metrics.Intervals{R1: one, R5: one, R10: one, MedianRank: one, MeanRank: one, MRR: one, Top1Acc: one, MeanRankPercentile: one}
	// Every colour's own intro names exactly that colour mix, so each
	// pair is the other's nearest: perfect scores on both splits.
	for _, tt := range []struct {
		split string
		ids   []reel.MovieID
	}{
		{SplitAll, []reel.MovieID{"1", "2", "3", "4", "5", "6"}},
		{SplitTest, []reel.MovieID{"4", "5", "6"}},
		{SplitTrain, []reel.MovieID{"1", "2", "3"}},
	} {
		t.Run(tt.split, func(t *testing.T) {
			ev, err := space.Evaluate(tt.split, Options{})
			if err != nil {
				t.Fatal(err)
			}
			n := len(tt.ids)
			withCI := perfect
			withCI.CI = &perfectCI
			bo := metrics.BootstrapOptions{Resamples: 1000, Seed: 1, Level: 0.95}
			want := Result{Run: name, Encoder: name, Split: tt.split, N: n, PosterToIntro: withCI, IntroToPoster: withCI, Chance: metrics.ChanceFor(n), Bootstrap: &bo}
			if diff := cmp.Diff(want, ev.Result); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if err := ev.Save(work); err != nil {
				t.Fatal(err)
			}
			ids, D, err := LoadDistance(work.Distance(name, tt.split))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.ids, ids); diff != "" {
				t.Errorf("distance ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(ev.D, D); diff != "" {
				t.Errorf("distance matrix round trip (-saved +loaded):\n%s", diff)
			}
			got, err := ReadResult(work, name, tt.split)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&ev.Result, got); diff != "" {
				t.Errorf("eval json round trip (-want +got):\n%s", diff)
			}
		})
	}
	ev, err := space.Evaluate(SplitAll, Options{Bootstrap: metrics.BootstrapOptions{Resamples: 200, Seed: 7}})
	if err != nil {
		t.Fatal(err)
	}
	if b := ev.Result.Bootstrap; b == nil || *b != (metrics.BootstrapOptions{Resamples: 200, Seed: 7, Level: 0.95}) {
		t.Errorf("bootstrap settings recorded as %+v, want 200 resamples, seed 7, level 0.95", b)
	}
	if _, err := space.Evaluate("valid", Options{}); err == nil || !strings.Contains(err.Error(), "test") {
		t.Errorf("unknown split: err %v, want one naming the accepted splits", err)
	}
}

func TestResolveRun(t *testing.T) {
	work := workdir.Dir(t.TempDir())
	if _, err := ResolveRun(work, "", ""); !errors.Is(err, ErrNoRun) || !strings.Contains(err.Error(), "reelmatch train") {
		t.Errorf("no runs: err %v, want ErrNoRun naming train", err)
	}
	save := func(run, encoder string) {
		t.Helper()
		m := heads.Identity()
		m.Settings.Run, m.Settings.Encoder = run, encoder
		if err := m.Save(work.Run(run)); err != nil {
			t.Fatal(err)
		}
	}
	// A folder without config.json is not a run.
	if err := os.MkdirAll(work.Run("half"), 0o755); err != nil {
		t.Fatal(err)
	}
	type want struct {
		run  string
		err  error
		frag []string
	}
	check := func(name, run, enc string, w want) {
		t.Helper()
		got, err := ResolveRun(work, run, enc)
		if w.err != nil {
			if !errors.Is(err, w.err) {
				t.Errorf("%s: err %v, want %v", name, err, w.err)
				return
			}
			for _, f := range w.frag {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("%s: err %q does not contain %q", name, err, f)
				}
			}
			return
		}
		if err != nil || got != w.run {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, w.run)
		}
	}
	// A run saved before runs were named: no encoder in config.json.
	save("builtin", "")
	check("one legacy run", "", "", want{run: "builtin"})
	check("encoder's main run", "", "builtin", want{run: "builtin"})
	check("unknown encoder", "", "clip-vit-b32", want{err: ErrNoRun, frag: []string{"clip-vit-b32", "builtin (builtin, heads none)", "--run"}})
	save("builtin.linear", "builtin")
	save("builtin.cca", "builtin")
	check("main run among its baselines", "", "", want{run: "builtin"})
	check("named run", "builtin.cca", "", want{run: "builtin.cca"})
	check("named run and its encoder", "builtin.cca", "builtin", want{run: "builtin.cca"})
	check("named run of another encoder", "builtin.cca", "clip-vit-b32", want{err: ErrAmbiguousRun, frag: []string{"builtin.cca", "encoder builtin, not clip-vit-b32"}})
	check("unknown run", "builtin.mlp", "", want{err: ErrNoRun, frag: []string{"builtin.mlp", "builtin.cca (builtin, heads none)", "--run builtin.mlp"}})
	save("clip-vit-b32", "clip-vit-b32")
	check("two main runs", "", "", want{err: ErrAmbiguousRun, frag: []string{"builtin (builtin", "builtin.linear (builtin", "clip-vit-b32 (clip-vit-b32", "--run NAME"}})
	check("encoder picks among main runs", "", "clip-vit-b32", want{run: "clip-vit-b32"})

	runs, err := ListRuns(work)
	if err != nil {
		t.Fatal(err)
	}
	wantRuns := []RunInfo{
		{Name: "builtin", Encoder: "builtin", Heads: "none"},
		{Name: "builtin.cca", Encoder: "builtin", Heads: "none"},
		{Name: "builtin.linear", Encoder: "builtin", Heads: "none"},
		{Name: "clip-vit-b32", Encoder: "clip-vit-b32", Heads: "none"},
	}
	if diff := cmp.Diff(wantRuns, runs); diff != "" {
		t.Errorf("ListRuns (-want +got):\n%s", diff)
	}
}

// TestLoadNamedRun loads a run whose name is not its encoder's: its
// config.json names the features to read, and the results carry both names
// and land in the run's own folder.
func TestLoadNamedRun(t *testing.T) {
	work := buildWork(t, filepath.Join("testdata", "retrieval", "colors"))
	enc := encodertest.ColorEncoderName
	main, err := heads.ReadSettings(work.Run(enc))
	if err != nil {
		t.Fatal(err)
	}
	m := heads.Identity()
	m.Settings = main
	m.Settings.Run = workdir.RunName(enc, "copy")
	if err := m.Save(work.Run(m.Settings.Run)); err != nil {
		t.Fatal(err)
	}
	space, err := Load(work, m.Settings.Run)
	if err != nil {
		t.Fatal(err)
	}
	if space.Run != m.Settings.Run || space.Encoder != enc {
		t.Errorf("space run %q encoder %q, want %q and %q", space.Run, space.Encoder, m.Settings.Run, enc)
	}
	ev, err := space.Evaluate(SplitTest, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Save(work); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResult(work, m.Settings.Run, SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	if got.Run != m.Settings.Run || got.Encoder != enc {
		t.Errorf("saved result run %q encoder %q", got.Run, got.Encoder)
	}
	if _, err := os.Stat(work.Eval(enc, SplitTest)); err == nil {
		t.Errorf("the named run's eval was written into the main run's folder")
	}
	if _, err := Load(work, "nope"); !errors.Is(err, ErrNoRun) || !strings.Contains(err.Error(), "--run nope") {
		t.Errorf("missing run: err %v, want ErrNoRun naming --run", err)
	}
}

func TestLoadErrors(t *testing.T) {
	work := buildWork(t, filepath.Join("testdata", "retrieval", "split-test"))
	name := encodertest.ColorEncoderName

	m := heads.Identity()
	m.Settings.Fingerprint = "something-else"
	if err := m.Save(work.Run(name)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(work, name); err == nil || !strings.Contains(err.Error(), "reelmatch train") {
		t.Errorf("stale heads: err %v, want one saying to rerun train", err)
	}
	// A run of an encoder whose features are not in WORK.
	other := heads.Identity()
	other.Settings.Encoder = "builtin"
	if err := other.Save(work.Run("builtin")); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(work, "builtin"); err == nil || !strings.Contains(err.Error(), "reelmatch embed") {
		t.Errorf("missing features: err %v, want one saying to run embed", err)
	}
	if err := os.RemoveAll(work.Run(name)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(work, name); !errors.Is(err, ErrNoRun) {
		t.Errorf("missing heads: err %v, want ErrNoRun", err)
	}
	if _, err := Load(workdir.Dir(t.TempDir()), name); err == nil || !strings.Contains(err.Error(), "reelmatch prepare") {
		t.Errorf("missing manifest: err %v, want one saying to run prepare", err)
	}
}

func TestUnknownIDs(t *testing.T) {
	work := buildWork(t, filepath.Join("testdata", "retrieval", "split-test"))
	space, err := Load(work, encodertest.ColorEncoderName)
	if err != nil {
		t.Fatal(err)
	}
	g, err := space.Gallery(SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(reel.MovieID, int) ([]reel.Hit, error){g.ByPoster, g.ByIntro} {
		if _, err := f("999", 3); !errors.Is(err, ErrUnknownID) || !strings.Contains(err.Error(), `"999"`) {
			t.Errorf("unknown id: err %v, want ErrUnknownID naming it", err)
		}
	}
	if _, err := space.EncodeImageFile(t.Context(), encodertest.ColorEncoder{}, filepath.Join(t.TempDir(), "nope.png")); err == nil || !strings.Contains(err.Error(), "nope.png") {
		t.Errorf("missing image: err %v, want one naming the file", err)
	}
}

func TestDistanceFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadDistance(filepath.Join(dir, "none.safetensors")); err == nil || !strings.Contains(err.Error(), "reelmatch eval") {
		t.Errorf("missing file: err %v", err)
	}
	if err := SaveDistance(filepath.Join(dir, "d.safetensors"), "e", "test", []reel.MovieID{"1", "2"}, [][]float32{{0, 1}}); err == nil {
		t.Error("saved a matrix with fewer rows than ids")
	}
}

// TestEvaluateExcludeLeaks gives a test movie the cleaned intro of a
// training movie: --exclude-leaks drops it from the test split only and
// names it in the result.
func TestEvaluateExcludeLeaks(t *testing.T) {
	work := buildWork(t, filepath.Join("testdata", "retrieval", "colors"))
	space, err := Load(work, encodertest.ColorEncoderName)
	if err != nil {
		t.Fatal(err)
	}
	for i := range space.Movies {
		space.Movies[i].CleanIntro = "intro of movie " + string(space.Movies[i].ID)
	}
	space.Movies[3].CleanIntro = space.Movies[0].CleanIntro // test movie 4 copies train movie 1
	tests := []struct {
		split    string
		exclude  bool
		n        int
		excluded []reel.MovieID
	}{
		{SplitTest, false, 3, nil},
		{SplitTest, true, 2, []reel.MovieID{"4"}},
		{SplitAll, true, 6, nil},
		{SplitTrain, true, 3, nil},
	}
	for _, tt := range tests {
		ev, err := space.Evaluate(tt.split, Options{ExcludeLeaks: tt.exclude})
		if err != nil {
			t.Fatal(err)
		}
		if ev.Result.N != tt.n || len(ev.IDs) != tt.n || len(ev.D) != tt.n {
			t.Errorf("%s exclude=%v: n %d, %d ids, %d rows; want %d", tt.split, tt.exclude, ev.Result.N, len(ev.IDs), len(ev.D), tt.n)
		}
		if diff := cmp.Diff(tt.excluded, ev.Result.ExcludedLeaks); diff != "" {
			t.Errorf("%s exclude=%v: excluded (-want +got):\n%s", tt.split, tt.exclude, diff)
		}
		if want := tt.split != SplitTrain && !(tt.split == SplitTest && tt.exclude); slices.Contains(ev.IDs, "4") != want {
			t.Errorf("%s exclude=%v: ids %v", tt.split, tt.exclude, ev.IDs)
		}
	}
}
