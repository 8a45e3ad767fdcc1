package dataset

import (
	"context"
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// prepareWithin runs Prepare and fails the test when it takes longer
// than a few seconds (a FIFO read would block forever).
func prepareWithin(t *testing.T, dir string) (*Manifest, *Report, error) {
	t.Helper()
	type result struct {
		man *Manifest
		rep *Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		man, rep, err := Prepare(context.Background(), dir, Options{})
		done <- result{man, rep, err}
	}()
	select {
	case r := <-done:
		return r.man, r.rep, r.err
	case <-time.After(20 * time.Second):
		t.Fatal("Prepare did not return within 20 s")
	}
	return nil, nil, nil
}

// TestPrepareHostilePosters: every poster the rule refuses is dropped with
// its reason, quickly and without reading what is not a regular file; odd
// but usable shapes are kept.
func TestPrepareHostilePosters(t *testing.T) {
	f := newFixture(t)
	ids := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}
	var csv strings.Builder
	csv.WriteString("id,name,intro\n")
	plots := []string{"heist", "space", "love", "mars", "war", "sea", "ghost", "town", "robot", "desert", "jungle"}
	for i, id := range ids {
		csv.WriteString(id + ",Movie " + id + ",A " + plots[i] + " story.\n")
	}
	f.info(csv.String())
	f.train("1\n2\n")
	poster := func(name string) string { return filepath.Join(f.dir, PosterDir, name) }
	f.poster("1.jpg", jpegBytes(t, 1))
	f.poster("2.png", reeltest.PNG(t, image.NewGray(image.Rect(0, 0, 2000, 10)))) // 200:1 embeds fine
	if err := syscall.Mkfifo(poster("3.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", poster("4.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), poster("5.png")); err != nil { // a folder
		t.Fatal(err)
	}
	sparse, err := os.Create(poster("6.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sparse.Truncate(inputfile.Image.Cap() + 1); err != nil {
		t.Fatal(err)
	}
	sparse.Close()
	f.poster("7.png", reeltest.PNGBomb(t, 6300, 6300))
	f.poster("8.png", reeltest.PNGHeader(30000, 30000))
	f.poster("9.png", reeltest.PNG(t, image.NewGray(image.Rect(0, 0, 5005, 5))))
	good := pngBytes(t, 10)
	f.poster("10.png", good[:len(good)-20]) // truncated
	f.poster("11.webp", reeltest.PNG(t, image.NewGray(image.Rect(0, 0, 10, 10000))))

	man, rep, err := prepareWithin(t, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]reel.MovieID{"1", "2", "11"}, IDs(man.Movies)); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	want := map[Reason][]reel.MovieID{
		NotRegularFile:    {"3", "4", "5"},
		TooLarge:          {"6", "7", "8"},
		ExtremeAspect:     {"9"},
		UndecodablePoster: {"10"},
	}
	if diff := cmp.Diff(want, rep.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	warnings := strings.Join(rep.Warnings, "\n")
	for _, frag := range []string{
		"3.jpg: is a named pipe (FIFO), not a regular file",
		"4.jpg: is a character device, not a regular file",
		"5.png: is a folder, not a regular file",
		"6.jpg: is 52428801 bytes, over the 52428800-byte limit for image files (REELMATCH_MAX_IMAGE_BYTES raises it); dropped movie 6 (too_large)",
		"7.png: image over the pixel budget: the png is 6300x6300, 39.7 megapixels",
		"9.png: extreme aspect ratio: the png is 5005x5, more than 1000:1; dropped movie 9 (extreme_aspect_ratio)",
	} {
		if !strings.Contains(warnings, frag) {
			t.Errorf("warnings lack %q:\n%s", frag, warnings)
		}
	}
	if diff := cmp.Diff(imageprep.Rule(), man.PosterRule); diff != "" {
		t.Errorf("rule (-want +got):\n%s", diff)
	}
}

// TestPrepareHostileTables: info.csv and train.txt that are not regular
// files or are too large stop prepare with a DataError naming them.
func TestPrepareHostileTables(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture)
		msg   string
	}{
		{"info.csv is a FIFO", func(f *fixture) {
			if err := syscall.Mkfifo(filepath.Join(f.dir, InfoFile), 0o644); err != nil {
				t.Fatal(err)
			}
			f.train("1\n")
		}, "info.csv: is a named pipe (FIFO), not a regular file: pass the path of a text file"},
		{"info.csv links to /dev/zero", func(f *fixture) {
			if err := os.Symlink("/dev/zero", filepath.Join(f.dir, InfoFile)); err != nil {
				t.Fatal(err)
			}
			f.train("1\n")
		}, "info.csv: is a character device"},
		{"info.csv is a folder", func(f *fixture) {
			if err := os.Mkdir(filepath.Join(f.dir, InfoFile), 0o755); err != nil {
				t.Fatal(err)
			}
			f.train("1\n")
		}, "info.csv: is a folder"},
		{"train.txt is huge", func(f *fixture) {
			f.info("id,name,intro\n1,A,One.\n")
			f.poster("1.jpg", jpegBytes(t, 1))
			tr, err := os.Create(filepath.Join(f.dir, TrainFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Truncate(1 << 40); err != nil {
				t.Fatal(err)
			}
			tr.Close()
		}, "train.txt: is 1 TiB, over the 256 MiB limit for table files (REELMATCH_MAX_TABLE_BYTES raises it)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.setup(f)
			_, _, err := prepareWithin(t, f.dir)
			var de *DataError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want a DataError containing %q", err, tt.msg)
			}
		})
	}
}
