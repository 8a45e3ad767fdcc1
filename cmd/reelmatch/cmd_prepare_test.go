package main

import (
	"encoding/json"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// writeDataset makes a data folder: info.csv as given, a valid JPEG poster
// for each id in posters (each file different, so prepare's leak check sees
// no shared poster), and train.txt.
func writeDataset(t *testing.T, info string, posters []string, train string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "poster"), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, id := range posters {
		img := image.NewRGBA(image.Rect(0, 0, 4, 6))
		for i := range img.Pix {
			img.Pix[i] = uint8(i * 7)
		}
		img.Set(0, 0, color.White)
		img.Set(3, 5, color.RGBA{uint8(k), uint8(k >> 8), 0, 255})
		reeltest.WriteFile(t, filepath.Join(dir, "poster", id+".jpg"), reeltest.JPEG(t, img, 0))
	}
	reeltest.WriteFile(t, filepath.Join(dir, "info.csv"), []byte(info))
	reeltest.WriteFile(t, filepath.Join(dir, "train.txt"), []byte(train))
	return dir
}

const threeMovies = "id,name,intro\n1,Toy Story,A cowboy doll is jealous.\n2,Jumanji,Two kids play a game.\n3,Heat,Thieves feel the heat.\n"

func TestPrepareCLIJSON(t *testing.T) {
	data := writeDataset(t, threeMovies, []string{"1", "2", "3"}, "1\n3\n")
	work := filepath.Join(t.TempDir(), "work")
	stdout, stderr, code := runCLI(t, "prepare", "--data", data, "--work", work, "--json", "-q")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout)
	}
	want := map[string]any{"movies": 3.0, "train": 2.0, "test": 1.0, "dropped": map[string]any{}, "leaks": []any{}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("json (-want +got):\n%s", diff)
	}
	man, err := dataset.Load(workdir.Dir(work).Manifest())
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Movies) != 3 || man.Movies[1].CleanIntro != "two kid play game" {
		t.Errorf("manifest movies %+v", man.Movies)
	}
}

// TestPrepareCLIPartial drops movies: the summary lists them by reason and
// the exit code is 3 (partial data), with the manifest written.
func TestPrepareCLIPartial(t *testing.T) {
	info := threeMovies + "4,Empty,\n5,No Poster,Nothing drawn.\n"
	data := writeDataset(t, info, []string{"1", "2", "3", "4"}, "1\n9\n")
	os.WriteFile(filepath.Join(data, "poster", "3.jpg"), []byte("\xff\xd8\xff truncated"), 0o644)
	work := t.TempDir()

	stdout, stderr, code := runCLI(t, "prepare", "--data", data, "--work", work, "--json")
	if code != exitPartialData {
		t.Fatalf("exit %d, want %d; stderr %q", code, exitPartialData, stderr)
	}
	var got struct {
		Movies, Train, Test int
		Dropped             map[string][]string
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout %q: %v", stdout, err)
	}
	want := map[string][]string{"undecodable_poster": {"3"}, "empty_intro": {"4"}, "no_poster": {"5"}, "train_id_not_kept": {"9"}}
	if diff := cmp.Diff(want, got.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if got.Movies != 2 || got.Train != 1 || got.Test != 1 {
		t.Errorf("counts %+v", got)
	}
	if !strings.Contains(stderr, "warning: poster ") || !strings.Contains(stderr, `{"error":"left 4 entries out`) {
		t.Errorf("stderr %q: want a warning for the bad poster and a JSON error line", stderr)
	}
	if _, err := os.Stat(workdir.Dir(work).Manifest()); err != nil {
		t.Errorf("manifest not written: %v", err)
	}

	stdout, _, code = runCLI(t, "prepare", "--data", data, "--work", work)
	if code != exitPartialData || !strings.Contains(stdout, "kept 2 movies: 1 train, 1 test") || !strings.Contains(stdout, "undecodable_poster") {
		t.Errorf("human summary exit %d:\n%s", code, stdout)
	}
}

// TestPrepareCLIErrors checks that bad input stops with exit 1 and a single
// line naming the file, line and fix.
func TestPrepareCLIErrors(t *testing.T) {
	tests := []struct {
		name, info, train string
		want              string // substring of the one error line
	}{
		{"missing column", "id,title,intro\n1,A,b\n", "1\n", `info.csv:1: missing column "name"`},
		{"malformed row", "id,name,intro\n1,A,b\n2,B,c,d\n", "1\n", "info.csv:3: row has 4 fields, the header has 3 (put fields holding commas"},
		{"duplicate id", "id,name,intro\n1,A,b\n1,A,other\n", "1\n", "info.csv:3: id 1 already used on line 2 with a different name or intro (keep one row per id)"},
		{"nothing kept", "id,name,intro\n1,A,\n", "1\n", "no movie kept (1 empty_intro)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := writeDataset(t, tt.info, []string{"1"}, tt.train)
			_, stderr, code := runCLI(t, "prepare", "--data", data, "--work", t.TempDir())
			if code != exitFailure {
				t.Fatalf("exit %d, want %d; stderr %q", code, exitFailure, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "reelmatch: ") || !strings.Contains(last, tt.want) {
				t.Errorf("error line %q, want it to contain %q", last, tt.want)
			}
		})
	}
	t.Run("missing poster folder", func(t *testing.T) {
		data := writeDataset(t, threeMovies, nil, "1\n")
		os.Remove(filepath.Join(data, "poster"))
		_, stderr, code := runCLI(t, "prepare", "--data", data, "--work", t.TempDir())
		if code != exitFailure || !strings.Contains(stderr, "poster: poster folder not found (put one poster per movie in poster/<id>.jpg, .jpeg") {
			t.Errorf("exit %d stderr %q", code, stderr)
		}
	})
	t.Run("no --data", func(t *testing.T) {
		t.Setenv("REELMATCH_DATA", "")
		_, stderr, code := runCLI(t, "prepare", "--work", t.TempDir())
		if code != exitUsage || !strings.Contains(stderr, "--data") {
			t.Errorf("exit %d stderr %q", code, stderr)
		}
	})
	t.Run("stray argument", func(t *testing.T) {
		_, _, code := runCLI(t, "prepare", "extra", "--data", t.TempDir())
		if code != exitUsage {
			t.Errorf("exit %d, want %d", code, exitUsage)
		}
	})
}

// TestPrepareCLIUnchanged runs prepare twice on the same data: the second
// run says "manifest unchanged" and does not rewrite the file.
func TestPrepareCLIUnchanged(t *testing.T) {
	data := writeDataset(t, threeMovies, []string{"1", "2", "3"}, "1\n")
	work := t.TempDir()
	t.Setenv("REELMATCH_DATA", data)
	t.Setenv("REELMATCH_WORK", work)
	if stdout, stderr, code := runCLI(t, "prepare"); code != exitOK || !strings.Contains(stdout, "manifest written") {
		t.Fatalf("first run exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	path := workdir.Dir(work).Manifest()
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	stdout, _, code := runCLI(t, "prepare")
	if code != exitOK || !strings.Contains(stdout, "manifest unchanged") {
		t.Fatalf("second run exit %d stdout %q", code, stdout)
	}
	if st, err := os.Stat(path); err != nil || !st.ModTime().Equal(old) {
		t.Errorf("manifest was rewritten (mtime %v)", st.ModTime())
	}
	_, stderr, code := runCLI(t, "prepare", "--json")
	if code != exitOK || !strings.Contains(stderr, "manifest unchanged") {
		t.Errorf("json run exit %d stderr %q", code, stderr)
	}
}

func TestPrepareCLIStopWords(t *testing.T) {
	data := writeDataset(t, threeMovies, []string{"1", "2", "3"}, "1\n")
	work := t.TempDir()
	sw := filepath.Join(t.TempDir(), "stop.txt")
	os.WriteFile(sw, []byte("cowboy\n"), 0o644)
	if _, stderr, code := runCLI(t, "prepare", "--data", data, "--work", work, "--stopwords", sw); code != exitOK {
		t.Fatalf("exit %d stderr %q", code, stderr)
	}
	man, err := dataset.Load(workdir.Dir(work).Manifest())
	if err != nil {
		t.Fatal(err)
	}
	if got := man.Movies[0].CleanIntro; got != "a doll is jealous" {
		t.Errorf("clean intro with custom stop words = %q", got)
	}
}
