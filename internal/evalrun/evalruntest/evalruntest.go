package evalruntest

import (
	"context"
	"image"
	"image/color"
	"path/filepath"
	"testing"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/progress"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// ColorMovies are the catalogue ColorWork writes: each poster is one flat colour and
// each intro names it, so the fake colour encoder pairs them exactly.
var ColorMovies = []struct {
	id, word string
	rgb      color.RGBA
	split    reel.Split
}{
	{"r", "red", color.RGBA{255, 0, 0, 255}, reel.SplitTrain},
	{"g", "green", color.RGBA{0, 255, 0, 255}, reel.SplitTest},
	{"b", "blue", color.RGBA{0, 0, 255, 255}, reel.SplitTest},
}

// ColorWork returns a fresh WORK folder holding ColorMovies as prepare,
// embed (encodertest.ColorEncoder) and train (identity heads) would leave
// it, with eval's saved results of splits test and all. The run is named
// encodertest.ColorEncoderName.
func ColorWork(t testing.TB) workdir.Dir {
	t.Helper()
	dir := t.TempDir()
	man := &dataset.Manifest{Version: dataset.ManifestVersion, DataDir: dir}
	for _, m := range ColorMovies {
		img := image.NewRGBA(image.Rect(0, 0, 8, 12))
		for i := 0; i < len(img.Pix); i += 4 {
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = m.rgb.R, m.rgb.G, m.rgb.B, 255
		}
		p := reeltest.WriteFile(t, filepath.Join(dir, "poster", m.id+".png"), reeltest.PNG(t, img))
		man.Movies = append(man.Movies, reel.Movie{ID: reel.MovieID(m.id), Name: "The " + m.word + " one", Intro: "all " + m.word, Split: m.split, PosterPath: p})
	}
	work := workdir.Dir(filepath.Join(dir, "work"))
	if err := man.Save(work.Manifest()); err != nil {
		t.Fatal(err)
	}
	enc := encodertest.ColorEncoder{}
	if _, err := embed.Run(context.Background(), work, man, enc, embed.Options{Progress: progress.Options{Quiet: true}}); err != nil {
		t.Fatal(err)
	}
	m := heads.Identity()
	m.Settings.Encoder, m.Settings.Fingerprint = enc.Name(), enc.Fingerprint()
	if err := m.Save(work.Run(enc.Name())); err != nil {
		t.Fatal(err)
	}
	space, err := evalrun.Load(work, enc.Name())
	if err != nil {
		t.Fatal(err)
	}
	for _, split := range []string{evalrun.SplitTest, evalrun.SplitAll} {
		ev, err := space.Evaluate(split, evalrun.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ev.Save(work); err != nil {
			t.Fatal(err)
		}
	}
	return work
}

// CopyRun saves the heads of run src of work again under each of names, as
// other runs of the same encoder (baselines, controls) would sit beside it.
func CopyRun(t testing.TB, work workdir.Dir, src string, names ...string) {
	t.Helper()
	m, err := heads.Load(work.Run(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		m.Settings.Run = name
		if err := m.Save(work.Run(name)); err != nil {
			t.Fatal(err)
		}
	}
}
