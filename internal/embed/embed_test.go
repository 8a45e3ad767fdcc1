package embed

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/synth"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

func init() {
	encoder.Register(encodertest.HashEncoderName, func(cfg encoder.Config) (encoder.Encoder, error) {
		return &encodertest.HashEncoder{}, nil
	})
}

// prepareSynth writes a synthetic dataset of n movies and its manifest.
func prepareSynth(t testing.TB, n int) (workdir.Dir, *dataset.Manifest) {
	t.Helper()
	dir, data := writeSynth(t, n)
	return prepareManifest(t, dir, data)
}

// writeSynth writes a synthetic dataset of n movies into dir/data, dir a
// new temporary folder.
func writeSynth(t testing.TB, n int) (dir, data string) {
	t.Helper()
	dir = t.TempDir()
	data = filepath.Join(dir, "data")
	if err := synth.Write(data, n, 7); err != nil {
		t.Fatal(err)
	}
	return dir, data
}

// prepareManifest prepares the dataset in data and saves its manifest in
// dir/work.
func prepareManifest(t testing.TB, dir, data string) (workdir.Dir, *dataset.Manifest) {
	t.Helper()
	man, _, err := dataset.Prepare(context.Background(), data, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	work := workdir.Dir(filepath.Join(dir, "work"))
	if err := man.Save(work.Manifest()); err != nil {
		t.Fatal(err)
	}
	return work, man
}

func TestRunFitsOnTrainOnlyAndRerunIsNoOp(t *testing.T) {
	ctx := context.Background()
	work, man := prepareSynth(t, 40)
	enc := &encodertest.HashEncoder{}
	sum, err := Run(ctx, work, man, enc, Options{BatchSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	n := len(man.Movies)
	want := Summary{Encoder: enc.Name(), Fingerprint: enc.Fingerprint(), TextInput: "raw", Features: work.Features(enc.Name()),
		Movies: n, Computed: n, ImagesComputed: n, TextsComputed: n, ImageDim: encodertest.HashImageDim, TextDim: encodertest.HashTextDim,
		Fitted: true, Changed: true}
	if diff := cmp.Diff(want, *sum, ignoreTimes); diff != "" {
		t.Errorf("first run summary (-want +got):\n%s", diff)
	}
	if sum.ImagesPerSecond <= 0 || sum.TextsPerSecond <= 0 {
		t.Errorf("rates %v images/s, %v texts/s, want positive", sum.ImagesPerSecond, sum.TextsPerSecond)
	}
	var train []string
	for _, m := range man.Split(reel.SplitTrain) {
		train = append(train, m.Intro)
	}
	if diff := cmp.Diff(train, enc.FitTexts()); diff != "" {
		t.Errorf("Fit saw other texts than the training intros (-want +got):\n%s", diff)
	}
	if len(train) == 0 || len(train) == n {
		t.Fatalf("synthetic split has %d of %d movies in train", len(train), n)
	}

	// The cache holds, in manifest order, what the encoder gives each movie.
	f, err := embcache.Load(work.Features(enc.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dataset.IDs(man.Movies), f.IDs); diff != "" {
		t.Errorf("cache ids (-manifest +cache):\n%s", diff)
	}
	for i, m := range man.Movies {
		img, release, err := decodePoster(ctx, m.PosterPath)
		if err != nil {
			t.Fatal(err)
		}
		wantImg, _ := enc.Image().Prepare(img)
		release()
		wantTxt, _ := enc.Text().Encode(ctx, []string{m.Intro})
		if !slices.Equal(wantImg, f.Image[i]) || !slices.Equal(wantTxt[0], f.Text[i]) {
			t.Fatalf("movie %s: cached rows differ from a direct encoding", m.ID)
		}
	}

	// A rerun with a fresh encoder restores the state and computes nothing.
	st, err := os.Stat(work.Features(enc.Name()))
	if err != nil {
		t.Fatal(err)
	}
	again := &encodertest.HashEncoder{}
	sum2, err := Run(ctx, work, man, again, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want.Computed, want.Reused, want.ImagesComputed, want.TextsComputed, want.Fitted, want.Changed = 0, n, 0, 0, false, false
	want.ImagesReused, want.TextsReused = n, n
	if diff := cmp.Diff(want, *sum2, ignoreTimes); diff != "" {
		t.Errorf("rerun summary (-want +got):\n%s", diff)
	}
	if again.Fits.Load()+again.Prepared.Load()+again.TextsEncoded.Load() != 0 {
		t.Errorf("rerun fitted %d times, prepared %d posters, encoded %d texts; want none",
			again.Fits.Load(), again.Prepared.Load(), again.TextsEncoded.Load())
	}
	st2, err := os.Stat(work.Features(enc.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if !st2.ModTime().Equal(st.ModTime()) {
		t.Error("an unchanged rerun rewrote the feature cache")
	}
}

var ignoreTimes = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".Seconds", ".ImageSeconds", ".TextSeconds", ".ImagesPerSecond", ".TextsPerSecond":
		return true
	}
	return false
}, cmp.Ignore())

func TestRunReembedsOnlyChangedMovies(t *testing.T) {
	ctx := context.Background()
	work, man := prepareSynth(t, 30)
	if _, err := Run(ctx, work, man, &encodertest.HashEncoder{}, Options{}); err != nil {
		t.Fatal(err)
	}
	// Change one test movie's intro, and give another movie a third one's
	// poster file.
	test := man.Split(reel.SplitTest)
	var changedIntro int
	for i, m := range man.Movies {
		if m.ID == test[0].ID {
			changedIntro = i
		}
	}
	man.Movies[changedIntro].Intro += " A new ending."
	posterMovie := (changedIntro + 1) % len(man.Movies)
	donor := (changedIntro + 2) % len(man.Movies)
	man.Movies[posterMovie].PosterPath = man.Movies[donor].PosterPath
	man.Movies[posterMovie].PosterHash = man.Movies[donor].PosterHash
	// And drop a test movie (dropping a training movie would refit).
	drop := test[len(test)-1].ID
	man.Movies = slices.DeleteFunc(man.Movies, func(m reel.Movie) bool { return m.ID == drop })

	enc := &encodertest.HashEncoder{}
	sum, err := Run(ctx, work, man, enc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The donor's poster is already cached under its hash, so even the
	// swapped poster is reused: only the edited intro is computed.
	got := [5]int{sum.Computed, sum.ImagesComputed, sum.TextsComputed, sum.Reused, int(enc.Fits.Load())}
	if want := [5]int{1, 0, 1, len(man.Movies) - 1, 0}; got != want {
		t.Errorf("computed, images, texts, reused, fits = %v, want %v", got, want)
	}
	if !sum.Changed {
		t.Error("summary says nothing changed")
	}
	f, err := embcache.Load(work.Features(enc.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.IDs) != len(man.Movies) {
		t.Errorf("cache has %d movies, manifest %d", len(f.IDs), len(man.Movies))
	}
	if !slices.Equal(f.Image[posterMovie], f.Image[donor]) {
		t.Error("movie with the donor's poster has another image row")
	}

	// A poster whose content changed is recomputed.
	other := man.Movies[(changedIntro+3)%len(man.Movies)]
	man.Movies[posterMovie].PosterPath, man.Movies[posterMovie].PosterHash = other.PosterPath, "edited-"+other.PosterHash
	enc = &encodertest.HashEncoder{}
	sum, err = Run(ctx, work, man, enc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.ImagesComputed != 1 || sum.TextsComputed != 0 || enc.Prepared.Load() != 1 {
		t.Errorf("after a poster edit: %d images and %d texts computed, %d prepared; want 1, 0, 1", sum.ImagesComputed, sum.TextsComputed, enc.Prepared.Load())
	}
}

func TestRunInvalidation(t *testing.T) {
	ctx := context.Background()
	work, man := prepareSynth(t, 20)
	if _, err := Run(ctx, work, man, &encodertest.HashEncoder{}, Options{}); err != nil {
		t.Fatal(err)
	}
	n := len(man.Movies)
	tests := []struct {
		name       string
		enc        *encodertest.HashEncoder
		opts       Options
		wantFitted bool
		wantImages int
		wantTexts  int
	}{
		// A new model version (another fingerprint) recomputes everything.
		// (The fake's fitted state is keyed by its fingerprint, so it also
		// refits.)
		{"fingerprint", &encodertest.HashEncoder{Salt: "v2"}, Options{}, true, n, n},
		// Another text input refits (new training texts) and so changes
		// the fingerprint as well.
		{"text input", &encodertest.HashEncoder{Salt: "v2"}, Options{TextInput: TextClean}, true, n, n},
		{"same again", &encodertest.HashEncoder{Salt: "v2"}, Options{TextInput: TextClean}, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, err := Run(ctx, work, man, tt.enc, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := []any{sum.Fitted, sum.ImagesComputed, sum.TextsComputed}
			if diff := cmp.Diff([]any{tt.wantFitted, tt.wantImages, tt.wantTexts}, got); diff != "" {
				t.Errorf("fitted, images, texts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunBatchesTextsByLength(t *testing.T) {
	work, man := prepareSynth(t, 25)
	enc := &encodertest.HashEncoder{}
	if _, err := Run(context.Background(), work, man, enc, Options{BatchSize: 4}); err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, b := range enc.TextBatches() {
		if len(b) > 4 {
			t.Errorf("batch of %d texts, want at most 4", len(b))
		}
		all = append(all, b...)
	}
	if len(all) != len(man.Movies) {
		t.Fatalf("%d texts encoded, want %d", len(all), len(man.Movies))
	}
	if !slices.IsSortedFunc(all, func(a, b string) int { return len(a) - len(b) }) {
		t.Error("texts were not encoded in order of length")
	}
}

func TestRunPosterError(t *testing.T) {
	work, man := prepareSynth(t, 10)
	bad := man.Movies[3].PosterPath
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), work, man, &encodertest.HashEncoder{}, Options{BatchSize: 2, Workers: 3})
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("err %v, want one naming %s", err, bad)
	}
	if _, err := os.Stat(work.Features(encodertest.HashEncoderName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed run left a feature cache (stat err %v)", err)
	}
}

func TestRunCancelled(t *testing.T) {
	work, man := prepareSynth(t, 30)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, work, man, &encodertest.HashEncoder{}, Options{BatchSize: 2})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
}

func TestOpenEncoder(t *testing.T) {
	ctx := context.Background()
	work, man := prepareSynth(t, 20)
	if _, err := OpenEncoder(work, encodertest.HashEncoderName, encoder.Config{}); err == nil || !strings.Contains(err.Error(), "reelmatch embed") {
		t.Fatalf("before embed: err %v, want one saying to run embed", err)
	}
	sum, err := Run(ctx, work, man, &encodertest.HashEncoder{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := OpenEncoder(work, encodertest.HashEncoderName, encoder.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if enc.Fingerprint() != sum.Fingerprint {
		t.Errorf("reopened fingerprint %s, embed used %s", enc.Fingerprint(), sum.Fingerprint)
	}
	f, err := embcache.Load(sum.Features)
	if err != nil {
		t.Fatal(err)
	}
	got, err := enc.Text().Encode(ctx, []string{QueryText(man.Movies[0].Intro, f.TextInput)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f.Text[0], got[0]); diff != "" {
		t.Errorf("query text encodes unlike its cached intro (-cached +query):\n%s", diff)
	}
}

func TestResolveTextInput(t *testing.T) {
	tests := []struct {
		name      string
		enc       any
		requested string
		want      string
		wantErr   bool
	}{
		{"explicit raw", &encodertest.HashEncoder{}, "raw", "raw", false},
		{"explicit clean", &encodertest.HashEncoder{}, "clean", "clean", false},
		{"encoder default", &encodertest.HashEncoder{}, "", "raw", false},
		{"encoder default clean", &encodertest.HashEncoder{TextInputDefault: "clean"}, "", "clean", false},
		{"no default", nil, "", "clean", false},
		{"bad", nil, "lower", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveTextInput(tt.enc, tt.requested)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestMovieAndQueryText(t *testing.T) {
	m := reel.Movie{Intro: "The Cowboys were riding.", CleanIntro: "cowboy riding"}
	if got := MovieText(m, TextRaw); got != m.Intro {
		t.Errorf("raw: %q", got)
	}
	if got := MovieText(m, TextClean); got != m.CleanIntro {
		t.Errorf("clean: %q", got)
	}
	if got := QueryText(m.Intro, TextRaw); got != m.Intro {
		t.Errorf("raw query: %q", got)
	}
	// A movie without a stored clean intro is cleaned like a query.
	m.CleanIntro = ""
	if got, want := MovieText(m, TextClean), QueryText(m.Intro, TextClean); got != want || got == "" || got == m.Intro {
		t.Errorf("clean fallback %q, query %q", got, want)
	}
}

// TestBuiltinEndToEnd embeds the synthetic set with the builtin encoder and
// checks that both towers carry the genre: a test movie's nearest training
// movie (cosine) shares its genre far more often than chance (1 in 6).
func TestBuiltinEndToEnd(t *testing.T) {
	ctx := context.Background()
	work, man := prepareSynth(t, 300)
	enc, err := encoder.New(builtin.Name, encoder.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(ctx, work, man, enc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.TextInput != TextClean || !sum.Fitted || sum.Computed != 300 {
		t.Errorf("summary %+v: want text input clean, fitted, 300 computed", sum)
	}
	f, err := embcache.Load(sum.Features)
	if err != nil {
		t.Fatal(err)
	}
	genres := synth.Genres(300, 7)
	genreOf := func(id reel.MovieID) string {
		for i, g := range genres {
			if string(id) == strconv.Itoa(i+1) {
				return g
			}
		}
		t.Fatalf("no genre for %s", id)
		return ""
	}
	for _, tower := range []struct {
		name string
		rows [][]float32
		min  float64
	}{{"image", f.Image, 0.5}, {"text", f.Text, 0.8}} {
		var hits, total int
		for i, m := range man.Movies {
			if m.Split != reel.SplitTest {
				continue
			}
			best, bestSim := -1, -2.0
			for j, o := range man.Movies {
				if o.Split != reel.SplitTrain {
					continue
				}
				if s := reeltest.Cosine(tower.rows[i], tower.rows[j]); s > bestSim {
					best, bestSim = j, s
				}
			}
			total++
			if genreOf(m.ID) == genreOf(man.Movies[best].ID) {
				hits++
			}
		}
		acc := float64(hits) / float64(total)
		t.Logf("%s: nearest-neighbour genre accuracy %.2f on %d test movies", tower.name, acc, total)
		if acc < tower.min {
			t.Errorf("%s: nearest-neighbour genre accuracy %.2f, want >= %.2f", tower.name, acc, tower.min)
		}
	}

	// A rerun with a fresh encoder is a no-op.
	enc2, err := encoder.New(builtin.Name, encoder.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sum2, err := Run(ctx, work, man, enc2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum2.Changed || sum2.Computed != 0 || sum2.Fitted || sum2.Fingerprint != sum.Fingerprint {
		t.Errorf("rerun summary %+v: want nothing changed, same fingerprint", sum2)
	}

	// Editing training intros refits the text model. A new word in two of
	// them enters the vocabulary (minimum document frequency 2), so the
	// state changes and every text row is recomputed, but no poster.
	edited := 0
	for i, m := range man.Movies {
		if m.Split == reel.SplitTrain && edited < 2 {
			man.Movies[i].CleanIntro += " sequel"
			edited++
		}
	}
	enc3, err := encoder.New(builtin.Name, encoder.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sum3, err := Run(ctx, work, man, enc3, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !sum3.Fitted || sum3.TextsComputed != 300 || sum3.ImagesComputed != 0 {
		t.Errorf("after a training edit: fitted %v, %d texts and %d images computed; want true, 300, 0", sum3.Fitted, sum3.TextsComputed, sum3.ImagesComputed)
	}

	// Another text dimension refits and re-embeds the intros only, and
	// OpenEncoder rebuilds the encoder with the dimension embed used.
	enc4, err := encoder.New(builtin.Name, encoder.Config{TextDim: 16})
	if err != nil {
		t.Fatal(err)
	}
	sum4, err := Run(ctx, work, man, enc4, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !sum4.Fitted || sum4.TextsComputed != 300 || sum4.ImagesComputed != 0 || sum4.TextDim != 16 {
		t.Errorf("text dimension 16: %+v; want fitted, 300 texts and no image recomputed, text dim 16", sum4)
	}
	reopened, err := OpenEncoder(work, builtin.Name, encoder.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if d := reopened.Text().Dim(); d != 16 || reopened.Fingerprint() != sum4.Fingerprint {
		t.Errorf("reopened encoder: text dim %d, fingerprint %s; want 16 and %s", d, reopened.Fingerprint(), sum4.Fingerprint)
	}
}
