package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

func TestManifestRoundTrip(t *testing.T) {
	f := newFixture(t)
	f.info("id,name,intro\n3,C,Three brothers.\n1,A,One.\n")
	f.poster("1.jpg", jpegBytes(t, 1))
	f.poster("3.jpg", jpegBytes(t, 3))
	f.train("3\n")
	man, _, err := prepare(t, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	path := workdir.Dir(filepath.Join(t.TempDir(), "work")).Manifest()
	if err := man.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(man, got, cmpopts.IgnoreUnexported(Manifest{})); diff != "" {
		t.Errorf("loaded manifest (-saved +loaded):\n%s", diff)
	}
	if mv, ok := got.ByID("3"); !ok || mv.CleanIntro != "three brother" {
		t.Errorf("ByID(3) = %+v %v", mv, ok)
	}
}

// TestSaveIfChangedKeepsFile is the "second prepare is a no-op" contract:
// the same manifest is not rewritten (the mtime stays), a different one is.
func TestSaveIfChangedKeepsFile(t *testing.T) {
	f := newFixture(t)
	f.info("id,name,intro\n1,A,One.\n")
	f.poster("1.jpg", jpegBytes(t, 1))
	f.train("1\n")
	path := filepath.Join(t.TempDir(), "manifest.json")
	man, _, err := prepare(t, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := man.SaveIfChanged(path); err != nil || !changed {
		t.Fatalf("first save: changed %v err %v", changed, err)
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	again, _, err := prepare(t, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := again.SaveIfChanged(path); err != nil || changed {
		t.Fatalf("second save: changed %v err %v, want unchanged", changed, err)
	}
	if st, _ := os.Stat(path); !st.ModTime().Equal(old) {
		t.Errorf("mtime %v, want untouched %v", st.ModTime(), old)
	}
	f.info("id,name,intro\n1,A,One changed.\n")
	third, _, err := prepare(t, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := third.SaveIfChanged(path); err != nil || !changed {
		t.Fatalf("third save: changed %v err %v, want rewritten", changed, err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "manifest.json"))
	if !errors.Is(err, ErrNoManifest) || !strings.Contains(err.Error(), "run `reelmatch prepare` first") {
		t.Errorf("missing: %v", err)
	}
	tests := map[string]string{
		"garbage":   "{not json",
		"version":   `{"version": 99, "movies": []}`,
		"dup ids":   `{"version": 1, "movies": [{"id":"1","split":"train"},{"id":"1","split":"test"}]}`,
		"bad split": `{"version": 1, "movies": [{"id":"1","split":"valid"}]}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name+".json")
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), "rerun `reelmatch prepare`") {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestCompareIDs(t *testing.T) {
	ids := []reel.MovieID{"b", "10", "a", "2", "007", "7", "1", "100", "1a"}
	ms := make([]reel.Movie, len(ids))
	for i, id := range ids {
		ms[i].ID = id
	}
	sortMovies(ms)
	want := []reel.MovieID{"1", "2", "7", "007", "10", "100", "1a", "a", "b"}
	if diff := cmp.Diff(want, IDs(ms)); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestManifestByIDWithoutIndex(t *testing.T) {
	m := &Manifest{Movies: []reel.Movie{{ID: "1", Name: "A"}, {ID: "2", Name: "B", Split: reel.SplitTest}}}
	if mv, ok := m.ByID("2"); !ok || mv.Name != "B" {
		t.Errorf("ByID(2) = %v %v", mv, ok)
	}
	if got := m.Split(reel.SplitTest); len(got) != 1 || got[0].ID != "2" {
		t.Errorf("Split(test) = %v", got)
	}
}

// TestSplitFingerprint checks the training split's fingerprint changes
// with any change to which movies are in it or to their poster or intro,
// and not with changes to the other split.
func TestSplitFingerprint(t *testing.T) {
	base := func() *Manifest {
		return &Manifest{Version: ManifestVersion, Movies: []reel.Movie{
			{ID: "1", Split: reel.SplitTrain, PosterHash: "p1", IntroHash: "i1"},
			{ID: "2", Split: reel.SplitTrain, PosterHash: "p2", IntroHash: "i2"},
			{ID: "3", Split: reel.SplitTest, PosterHash: "p3", IntroHash: "i3"},
		}}
	}
	want := base().SplitFingerprint(reel.SplitTrain)
	for _, tc := range []struct {
		name string
		edit func(m *Manifest)
		same bool
	}{
		{"unchanged", func(*Manifest) {}, true},
		{"test movie edited", func(m *Manifest) { m.Movies[2].IntroHash = "x" }, true},
		{"test movie added", func(m *Manifest) {
			m.Movies = append(m.Movies, reel.Movie{ID: "4", Split: reel.SplitTest})
		}, true},
		{"training movie moved to test", func(m *Manifest) { m.Movies[1].Split = reel.SplitTest }, false},
		{"test movie moved to training", func(m *Manifest) { m.Movies[2].Split = reel.SplitTrain }, false},
		{"training poster changed", func(m *Manifest) { m.Movies[0].PosterHash = "x" }, false},
		{"training intro changed", func(m *Manifest) { m.Movies[0].IntroHash = "x" }, false},
		{"training id changed", func(m *Manifest) { m.Movies[0].ID = "9" }, false},
	} {
		m := base()
		tc.edit(m)
		if got := m.SplitFingerprint(reel.SplitTrain); (got == want) != tc.same {
			t.Errorf("%s: fingerprint equal %v, want %v", tc.name, got == want, tc.same)
		}
	}
}
