package synth

import (
	"bytes"
	"encoding/csv"
	"image/jpeg"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteLayoutAndDeterminism(t *testing.T) {
	const n = 50
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if err := Write(dir, n, 42); err != nil {
			t.Fatal(err)
		}
	}
	if err := Write(c, n, 43); err != nil {
		t.Fatal(err)
	}
	filesA, filesB, filesC := readDir(t, a), readDir(t, b), readDir(t, c)
	if len(filesA) != n+2 {
		t.Errorf("%d files, want %d posters + info.csv + train.txt", len(filesA), n)
	}
	if diff := cmp.Diff(filesA, filesB); diff != "" {
		t.Error("two writes with one seed differ")
	}
	if bytes.Equal(filesA["info.csv"], filesC["info.csv"]) || bytes.Equal(filesA["poster/1.jpg"], filesC["poster/1.jpg"]) {
		t.Error("another seed gave the same data")
	}

	rows, err := csv.NewReader(bytes.NewReader(filesA["info.csv"])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"id", "name", "intro"}, rows[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if len(rows) != n+1 {
		t.Fatalf("%d rows, want %d", len(rows)-1, n)
	}
	for i, r := range rows[1:] {
		if r[0] != strconv.Itoa(i+1) || r[1] == "" || len(strings.Fields(r[2])) < 10 {
			t.Errorf("row %d = %q: want id %d, a name and an intro of 10+ words", i+1, r, i+1)
		}
		img, err := jpeg.Decode(bytes.NewReader(filesA["poster/"+r[0]+".jpg"]))
		if err != nil {
			t.Fatalf("poster %s: %v", r[0], err)
		}
		if got := img.Bounds().Size(); got.X != posterW || got.Y != posterH {
			t.Errorf("poster %s is %v, want %dx%d", r[0], got, posterW, posterH)
		}
	}
	train := strings.Fields(string(filesA["train.txt"]))
	if len(train) != 40 {
		t.Errorf("train.txt lists %d ids, want 40 (80%% of %d)", len(train), n)
	}
	prev := 0
	for _, s := range train {
		id, err := strconv.Atoi(s)
		if err != nil || id <= prev || id > n {
			t.Fatalf("train.txt: %q after %d is not an increasing id in 1..%d", s, prev, n)
		}
		prev = id
	}
}

func TestGenresMatchIntros(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, 60, 5); err != nil {
		t.Fatal(err)
	}
	movieGenres := Genres(60, 5)
	rows, err := csv.NewReader(bytes.NewReader(mustRead(t, filepath.Join(dir, "info.csv")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i, r := range rows[1:] {
		g := genreByName(movieGenres[i])
		seen[g.name]++
		// Every template sentence uses the movie's own genre words.
		first := strings.ToLower(r[2])
		found := false
		for _, w := range append(append(append([]string{}, g.nouns...), g.verbs...), g.adjectives...) {
			if strings.Contains(first, w) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("movie %s (%s): intro %q has none of the genre's words", r[0], g.name, r[2])
		}
	}
	if len(seen) != len(genres) {
		t.Errorf("60 movies cover %d genres, want all %d", len(seen), len(genres))
	}
}

func genreByName(name string) *genre {
	for i := range genres {
		if genres[i].name == name {
			return &genres[i]
		}
	}
	return nil
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWriteRejectsEmpty(t *testing.T) {
	if err := Write(t.TempDir(), 0, 1); err == nil {
		t.Fatal("Write of 0 movies succeeded")
	}
}

// BenchmarkWrite measures the default demo size.
func BenchmarkWrite(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		if err := Write(dir, DefaultMovies, 1); err != nil {
			b.Fatal(err)
		}
	}
}
