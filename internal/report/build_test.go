package report

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/evalrun/evalruntest"
	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

func TestReadEpochs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nan := math.NaN()
	for _, tc := range []struct {
		name    string
		path    string
		want    []Epoch
		wantErr string
	}{
		{"missing file is no curve", filepath.Join(dir, "none.json"), nil, ""},
		{"with and without validation", write("h.json", `{"epochs":[
			{"epoch":1,"train_loss":3.2,"val":{"loss":3.3,"score":0.55}},
			{"epoch":2,"train_loss":2.9}],"best_epoch":1}`),
			[]Epoch{{Epoch: 1, TrainLoss: 3.2, ValLoss: 3.3, ValMRP: 0.55, Kept: true}, {Epoch: 2, TrainLoss: 2.9, ValLoss: nan, ValMRP: nan}}, ""},
		{"corrupt", write("bad.json", `{"epochs":[`), nil, "rerun `reelmatch train`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readEpochs(tc.path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("epochs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBuild builds the report data of a small WORK: both splits, the
// examples and the heat map follow the options, and a spoiled saved
// evaluation is redone in memory with a note.
func TestBuild(t *testing.T) {
	work := evalruntest.ColorWork(t)
	name := encodertest.ColorEncoderName
	var notes []string
	opts := Options{Examples: 2, Seed: 1, HeatmapSize: 2, Notef: func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }}
	d, err := Build(t.Context(), work, []string{name}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 {
		t.Errorf("notes %q for a WORK with current evaluations", notes)
	}
	if len(d.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(d.Runs))
	}
	r := d.Runs[0]
	got := map[string]any{
		"encoder": r.Encoder, "movies": d.Movies, "train": d.Train, "test": d.Test,
		"splits": len(r.Splits), "test n": r.Splits[0].N, "all n": r.Splits[1].N,
		"test r1": r.Splits[0].P2I.R1, "all ranks": r.Splits[1].I2P.Ranks,
		"poster examples": len(r.PosterQueries), "intro examples": len(r.IntroQueries),
		"first example's hits": len(r.PosterQueries[0].Hits), "true rank": r.PosterQueries[0].TrueRank,
		"heat map": len(r.Heatmap), "heat map names": len(r.HeatmapNames),
		"thumbnail": len(r.PosterQueries[0].Poster) > 0, "settings: seed": d.Settings["seed"],
	}
	want := map[string]any{
		"encoder": name, "movies": 3, "train": 1, "test": 2,
		"splits": 2, "test n": 2, "all n": 3,
		"test r1": 1.0, "all ranks": []int{1, 1, 1},
		"poster examples": 2, "intro examples": 2,
		"first example's hits": 2, "true rank": 1,
		"heat map": 2, "heat map names": 2,
		"thumbnail": true, "settings: seed": "1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report data (-want +got):\n%s", diff)
	}

	// A saved evaluation that no longer matches the run is redone.
	if err := os.WriteFile(work.Eval(name, "test"), []byte(`{"encoder":"x","split":"test","n":7}`), 0o644); err != nil {
		t.Fatal(err)
	}
	d2, err := Build(t.Context(), work, []string{name}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "evaluated split test in memory") {
		t.Errorf("notes %q, want one about split test", notes)
	}
	if diff := cmp.Diff(d.Runs[0].Splits, d2.Runs[0].Splits); diff != "" {
		t.Errorf("in-memory metrics differ from the saved ones (-saved +memory):\n%s", diff)
	}
}

func TestBuildErrors(t *testing.T) {
	work := evalruntest.ColorWork(t)
	for _, tc := range []struct {
		name string
		work workdir.Dir
		runs []string
		want string
	}{
		{"no manifest", workdir.Dir(t.TempDir()), []string{"x"}, "manifest"},
		{"no runs", work, nil, "run `reelmatch train --work"},
		{"unknown run", work, []string{"nope"}, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(t.Context(), tc.work, tc.runs, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestThumbnail(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name        string
		w, h, wantW int
		wantH       int
	}{
		{"scaled down", 400, 600, ThumbWidth, 240},
		{"never up", 40, 60, 40, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := reeltest.WriteFile(t, filepath.Join(dir, tc.name+".png"), reeltest.PNG(t, image.NewGray(image.Rect(0, 0, tc.w, tc.h))))
			b, err := Thumbnail(p, ThumbWidth)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Width != tc.wantW || cfg.Height != tc.wantH {
				t.Errorf("thumbnail %dx%d, want %dx%d", cfg.Width, cfg.Height, tc.wantW, tc.wantH)
			}
		})
	}
	if _, err := Thumbnail(filepath.Join(dir, "missing.png"), ThumbWidth); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("missing poster: %v", err)
	}
}
