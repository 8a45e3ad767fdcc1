package evalrun

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/heads"
	"github.com/reelmatch/reelmatch/internal/progress"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// retrievalQuery is one entry of a case's queries.json: exactly one of
// Poster, Intro, Text or Image (a path relative to the case folder), the
// gallery split (default all), k, and the expected ids, nearest first.
type retrievalQuery struct {
	Name   string   `json:"name"`
	Poster string   `json:"poster"`
	Intro  string   `json:"intro"`
	Text   string   `json:"text"`
	Image  string   `json:"image"`
	Split  string   `json:"split"`
	K      int      `json:"k"`
	Want   []string `json:"want"`
}

// buildWork turns a case folder (movies.csv with id,name,intro,split and
// posters/<id>.png) into a WORK folder: manifest, fake-encoder features and
// identity heads, the way prepare, embed and train would leave it.
func buildWork(t testing.TB, caseDir string) workdir.Dir {
	t.Helper()
	f, err := os.Open(filepath.Join(caseDir, "movies.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	man := &dataset.Manifest{Version: dataset.ManifestVersion, DataDir: caseDir}
	for _, r := range rows[1:] {
		poster, err := filepath.Abs(filepath.Join(caseDir, "posters", r[0]+".png"))
		if err != nil {
			t.Fatal(err)
		}
		man.Movies = append(man.Movies, reel.Movie{ID: reel.MovieID(r[0]), Name: r[1], Intro: r[2], Split: reel.Split(r[3]), PosterPath: poster})
	}
	work := workdir.Dir(t.TempDir())
	if err := man.Save(work.Manifest()); err != nil {
		t.Fatal(err)
	}
	enc := encodertest.ColorEncoder{}
	if _, err := embed.Run(context.Background(), work, man, enc, embed.Options{Progress: progress.Options{Quiet: true}}); err != nil {
		t.Fatal(err)
	}
	m := heads.Identity()
	m.Settings.Encoder = enc.Name()
	m.Settings.Fingerprint = enc.Fingerprint()
	if err := m.Save(work.Run(enc.Name())); err != nil {
		t.Fatal(err)
	}
	return work
}

// TestRetrievalCases walks testdata/retrieval/<case>/ and checks every
// query's top-k ids.
func TestRetrievalCases(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "retrieval", "*"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no retrieval cases: %v", err)
	}
	ctx := context.Background()
	enc := encodertest.ColorEncoder{}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, "queries.json"))
			if err != nil {
				t.Fatal(err)
			}
			var qs []retrievalQuery
			if err := json.Unmarshal(b, &qs); err != nil {
				t.Fatalf("queries.json: %v", err)
			}
			work := buildWork(t, dir)
			space, err := Load(work, enc.Name())
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range qs {
				t.Run(q.Name, func(t *testing.T) {
					split := q.Split
					if split == "" {
						split = SplitAll
					}
					g, err := space.Gallery(split)
					if err != nil {
						t.Fatal(err)
					}
					var hits []reel.Hit
					switch {
					case q.Poster != "":
						hits, err = g.ByPoster(reel.MovieID(q.Poster), q.K)
					case q.Intro != "":
						hits, err = g.ByIntro(reel.MovieID(q.Intro), q.K)
					case q.Text != "":
						var v []float32
						if v, err = space.EncodeText(ctx, enc, q.Text); err == nil {
							hits, err = g.Posters.Search(v, q.K)
						}
					case q.Image != "":
						var v []float32
						if v, err = space.EncodeImageFile(ctx, enc, filepath.Join(dir, q.Image)); err == nil {
							hits, err = g.Intros.Search(v, q.K)
						}
					default:
						t.Fatal("query names no poster, intro, text or image")
					}
					if err != nil {
						t.Fatal(err)
					}
					got := make([]string, len(hits))
					for i, h := range hits {
						got[i] = string(h.ID)
					}
					if diff := cmp.Diff(q.Want, got); diff != "" {
						t.Errorf("top-%d (-want +got):\n%s", q.K, diff)
					}
				})
			}
		})
	}
}
