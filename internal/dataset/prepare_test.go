package dataset

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/textprep"
)

func prepare(t *testing.T, dir string) (*Manifest, *Report, error) {
	t.Helper()
	return Prepare(context.Background(), dir, Options{Workers: 2})
}

// TestPrepareKeepsValidMovies covers the happy path with the awkward but
// valid inputs: BOM, CRLF, columns in another order plus an extra one,
// quoted multi-line fields, every poster format, train.txt comments and
// numeric id ordering.
func TestPrepareKeepsValidMovies(t *testing.T) {
	f := newFixture(t)
	f.info("\ufeffintro,year,id,name\r\n" +
		"\"Two kids find a magical board game,\r\nand release a man.\",1995,2,Jumanji (1995)\r\n" +
		"A cowboy doll is jealous.,1995,10,\"Toy Story, the \"\"first\"\" (1995)\"\r\n" +
		"Women and policemen.,1996,1,Heat\r\n" +
		"A webp poster.,2000,abc,WebP Movie\r\n" +
		"A lossy webp poster.,2001,7,Lossy\r\n" +
		"A progressive jpeg.,2002,8,Progressive\r\n")
	files := map[reel.MovieID][]byte{
		"2":   jpegBytes(t, 2),
		"10":  pngBytes(t, 10),
		"1":   jpegBytes(t, 1),
		"abc": reeltest.ReadFile(t, "testdata/poster.webp"),
		"7":   reeltest.ReadFile(t, "testdata/poster_lossy.webp"),
		"8":   reeltest.ReadFile(t, "testdata/progressive.jpg"),
	}
	names := map[reel.MovieID]string{"2": "2.jpg", "10": "10.png", "1": "1.JPEG", "abc": "abc.webp", "7": "7.webp", "8": "8.jpg"}
	for id, data := range files {
		f.poster(names[id], data)
	}
	f.poster("999.jpg", jpegBytes(t, 9)) // no row: ignored
	f.poster("notes.txt", []byte("not a poster"))
	f.train("# training ids\n\n2\n10   # a comment\r\nabc\n")

	man, rep, err := prepare(t, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	p := textprep.Default()
	movie := func(id reel.MovieID, name, intro string, split reel.Split) reel.Movie {
		return reel.Movie{ID: id, Name: name, Intro: intro, CleanIntro: p.Clean(intro),
			PosterPath: filepath.Join(f.dir, PosterDir, names[id]), Split: split,
			PosterHash: reeltest.SHA256(files[id]), IntroHash: reeltest.SHA256([]byte(intro))}
	}
	want := []reel.Movie{
		movie("1", "Heat", "Women and policemen.", reel.SplitTest),
		movie("2", "Jumanji (1995)", "Two kids find a magical board game,\nand release a man.", reel.SplitTrain),
		movie("7", "Lossy", "A lossy webp poster.", reel.SplitTest),
		movie("8", "Progressive", "A progressive jpeg.", reel.SplitTest),
		movie("10", `Toy Story, the "first" (1995)`, "A cowboy doll is jealous.", reel.SplitTrain),
		movie("abc", "WebP Movie", "A webp poster.", reel.SplitTrain),
	}
	if diff := cmp.Diff(want, man.Movies); diff != "" {
		t.Errorf("movies (-want +got):\n%s", diff)
	}
	if got := man.Movies[0].CleanIntro; got != "woman policeman" {
		t.Errorf("clean intro of 1 = %q, want %q", got, "woman policeman")
	}
	wantRep := &Report{Movies: 6, Train: 3, Test: 3, Dropped: map[Reason][]reel.MovieID{}, IgnoredPosters: []string{"999.jpg"}}
	if diff := cmp.Diff(wantRep, rep, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	abs, _ := filepath.Abs(f.dir)
	if man.DataDir != abs || man.Version != ManifestVersion || man.TextPrep != p.Fingerprint() {
		t.Errorf("manifest header = %q v%d %q", man.DataDir, man.Version, man.TextPrep)
	}
	if got := IDs(man.Split(reel.SplitTrain)); !cmp.Equal(got, []reel.MovieID{"2", "10", "abc"}) {
		t.Errorf("train ids = %v", got)
	}
	if mv, ok := man.ByID("abc"); !ok || mv.Name != "WebP Movie" {
		t.Errorf("ByID(abc) = %v, %v", mv, ok)
	}
	if _, ok := man.ByID("999"); ok {
		t.Error("ByID(999) found a movie that has no row")
	}
}

// TestPrepareDrops checks that every bad movie is dropped with its reason
// and a warning, and the rest are kept.
func TestPrepareDrops(t *testing.T) {
	f := newFixture(t)
	good := jpegBytes(t, 1)
	f.info("id,name,intro\n" +
		"1,Good,A good movie.\n" +
		"2,No Poster,Nobody drew one.\n" +
		"3,Corrupt,Bytes are noise.\n" +
		"4,Truncated,Half a file.\n" +
		"5,Empty Intro,\n" +
		"6,Blank Intro,\"  \n \"\n" +
		"1,Good,A good movie.\n" +
		"7,Empty File,Zero bytes.\n" +
		"8,Wrong Format,A GIF named jpg.\n")
	f.poster("1.jpg", good)
	f.poster("3.jpg", []byte("\xff\xd8\xff\xe0 this is not really a jpeg"))
	f.poster("4.jpg", good[:len(good)/2])
	f.poster("5.jpg", good)
	f.poster("6.jpg", good)
	f.poster("7.jpg", nil)
	f.poster("8.jpg", []byte("GIF89a\x01\x00\x01\x00"))
	f.train("1\n42\n3\n")
	var warnings []string
	man, rep, err := Prepare(context.Background(), f.dir, Options{Warnf: func(format string, args ...any) {
		warnings = append(warnings, format)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]reel.MovieID{"1"}, IDs(man.Movies)); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	want := map[Reason][]reel.MovieID{
		NoPoster:          {"2"},
		UndecodablePoster: {"3", "4", "7", "8"},
		EmptyIntro:        {"5", "6"},
		DuplicateID:       {"1"},
		TrainIDNotKept:    {"42"},
	}
	if diff := cmp.Diff(want, rep.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if rep.DroppedCount() != 9 || rep.Movies != 1 || rep.Train != 1 || rep.Test != 0 {
		t.Errorf("counts: dropped %d movies %d train %d test %d", rep.DroppedCount(), rep.Movies, rep.Train, rep.Test)
	}
	if len(warnings) != len(rep.Warnings) || len(rep.Warnings) < 9 {
		t.Errorf("got %d Warnf calls and %d report warnings, want one per dropped entry at least", len(warnings), len(rep.Warnings))
	}
	for _, id := range []string{"3.jpg", "4.jpg"} {
		if !containsSub(rep.Warnings, id) {
			t.Errorf("no warning names poster %s: %q", id, rep.Warnings)
		}
	}
}

func containsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestPrepareLatin1 reads a Latin-1 info.csv as text, with a warning.
func TestPrepareLatin1(t *testing.T) {
	f := newFixture(t)
	f.info("id,name,intro\n1,Am\xe9lie (2001),A shy waitress in Montmartre \x96 caf\xe9 life.\n")
	f.poster("1.jpg", jpegBytes(t, 1))
	f.train("1\n")
	man, rep, err := prepare(t, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Latin1 || !containsSub(rep.Warnings, "Latin-1") {
		t.Errorf("Latin1 = %v, warnings %q", rep.Latin1, rep.Warnings)
	}
	mv := man.Movies[0]
	if mv.Name != "Amélie (2001)" || mv.Intro != "A shy waitress in Montmartre – café life." {
		t.Errorf("converted name %q intro %q", mv.Name, mv.Intro)
	}
	if mv.CleanIntro != "shy waitress montmartre café life" {
		t.Errorf("clean intro %q", mv.CleanIntro)
	}
}

// TestPrepareErrors checks each problem with the input as a whole: a
// DataError naming the file and line, worded on one line.
func TestPrepareErrors(t *testing.T) {
	okPoster := func(f *fixture) { f.poster("1.jpg", jpegBytes(t, 1)) }
	tests := []struct {
		name     string
		setup    func(f *fixture)
		file     string // base name of DataError.File
		line     int
		contains string
	}{
		{"missing info.csv", func(f *fixture) { okPoster(f); f.train("1\n") }, InfoFile, 0, "file not found"},
		{"missing poster folder", func(f *fixture) {
			f.info("id,name,intro\n1,A,b\n")
			f.train("1\n")
			os.Remove(filepath.Join(f.dir, PosterDir))
		}, PosterDir, 0, "poster folder not found"},
		{"missing train.txt", func(f *fixture) { f.info("id,name,intro\n1,A,b\n"); okPoster(f) }, TrainFile, 0, "file not found"},
		{"missing column", func(f *fixture) { f.info("id,title,intro\n1,A,b\n"); okPoster(f); f.train("1\n") }, InfoFile, 1, `missing column "name"`},
		{"empty file", func(f *fixture) { f.info(""); okPoster(f); f.train("1\n") }, InfoFile, 0, "file is empty"},
		{"header only", func(f *fixture) { f.info("id,name,intro\n"); okPoster(f); f.train("1\n") }, InfoFile, 0, "no movie kept"},
		{"too many fields", func(f *fixture) {
			f.info("id,name,intro\n1,A,b\n2,Heat, Part 2,c\n")
			okPoster(f)
			f.train("1\n")
		}, InfoFile, 3, "row has 4 fields, the header has 3"},
		{"too few fields after multi-line row", func(f *fixture) {
			f.info("id,name,intro\n1,A,\"line one\nline two\"\n2,B\n")
			okPoster(f)
			f.train("1\n")
		}, InfoFile, 4, "row has 2 fields"},
		{"bare quote", func(f *fixture) {
			f.info("id,name,intro\n1,A,b\n2,The \"Heat\",c\n")
			okPoster(f)
			f.train("1\n")
		}, InfoFile, 3, `bare "`},
		{"unclosed quote", func(f *fixture) {
			f.info("id,name,intro\n1,A,b\n2,B,\"never closed\n")
			okPoster(f)
			f.train("1\n")
		}, InfoFile, 3, "quote"},
		{"duplicate id different content", func(f *fixture) {
			f.info("id,name,intro\n1,A,b\n2,B,c\n1,A,another intro\n")
			okPoster(f)
			f.train("1\n")
		}, InfoFile, 4, "id 1 already used on line 2"},
		{"empty id", func(f *fixture) { f.info("id,name,intro\n ,A,b\n"); okPoster(f); f.train("1\n") }, InfoFile, 2, "empty id"},
		{"path in id", func(f *fixture) { f.info("id,name,intro\n../x,A,b\n"); okPoster(f); f.train("1\n") }, InfoFile, 2, "path separator"},
		{"utf-16", func(f *fixture) { f.info("\xff\xfei\x00d\x00"); okPoster(f); f.train("1\n") }, InfoFile, 1, "UTF-16"},
		{"everything dropped", func(f *fixture) {
			f.info("id,name,intro\n1,A,\n2,B,c\n")
			okPoster(f)
			f.train("1\n")
		}, InfoFile, 0, "no movie kept (1 no_poster, 1 empty_intro)"},
		{"two ids on a train line", func(f *fixture) { f.info("id,name,intro\n1,A,b\n"); okPoster(f); f.train("\n1 2\n") }, TrainFile, 2, "is not one id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.setup(f)
			_, _, err := prepare(t, f.dir)
			var de *DataError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v (%T), want *DataError", err, err)
			}
			if filepath.Base(de.File) != tt.file || de.Line != tt.line {
				t.Errorf("error at %s:%d, want %s:%d (%v)", filepath.Base(de.File), de.Line, tt.file, tt.line, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.contains) || strings.Contains(msg, "\n") || de.Fix == "" {
				t.Errorf("error %q: want one line containing %q and a fix", msg, tt.contains)
			}
		})
	}
}

func TestPrepareMissingDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	_, _, err := prepare(t, dir)
	var de *DataError
	if !errors.As(err, &de) || de.File != dir || !strings.Contains(err.Error(), "--data") {
		t.Fatalf("err = %v", err)
	}
}

func TestPrepareCanceled(t *testing.T) {
	f := newFixture(t)
	f.info("id,name,intro\n1,A,b\n")
	f.poster("1.jpg", jpegBytes(t, 1))
	f.train("1\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Prepare(ctx, f.dir, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestPrepareSeveralPosters picks .jpg over .png for one id, with a warning.
func TestPrepareSeveralPosters(t *testing.T) {
	f := newFixture(t)
	f.info("id,name,intro\n1,A,b\n")
	f.poster("1.png", pngBytes(t, 1))
	f.poster("1.jpg", jpegBytes(t, 1))
	f.train("1\n")
	man, rep, err := prepare(t, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := filepath.Base(man.Movies[0].PosterPath); got != "1.jpg" {
		t.Errorf("poster %s, want 1.jpg", got)
	}
	if !containsSub(rep.Warnings, "several posters") {
		t.Errorf("warnings %q", rep.Warnings)
	}
}

// TestPreparePrevious checks the rerun shortcut: a poster whose path and
// hash match the previous manifest is not decoded again, and a changed
// poster is.
func TestPreparePrevious(t *testing.T) {
	f := newFixture(t)
	f.info("id,name,intro\n1,A,One.\n2,B,Two.\n")
	f.poster("1.jpg", jpegBytes(t, 1))
	f.poster("2.jpg", jpegBytes(t, 2))
	f.train("1\n")
	first, _, err := prepare(t, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	// Poster 2 changes into garbage: its hash no longer matches, so it is
	// decoded and dropped.
	f.poster("2.jpg", []byte("garbage"))
	man, rep, err := Prepare(context.Background(), f.dir, Options{Previous: first})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]reel.MovieID{"1"}, IDs(man.Movies)); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]reel.MovieID{"2"}, rep.Dropped[UndecodablePoster]); diff != "" {
		t.Errorf("undecodable (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(first.Movies[0], man.Movies[0]); diff != "" {
		t.Errorf("unchanged movie differs (-first +again):\n%s", diff)
	}
	// A previous manifest that vouches for the garbage bytes skips the
	// decode: proof that the shortcut is taken.
	trusting := &Manifest{PosterRule: imageprep.Rule(), Movies: []reel.Movie{{ID: "2", PosterPath: first.Movies[1].PosterPath, PosterHash: reeltest.SHA256([]byte("garbage"))}}}
	man, _, err = Prepare(context.Background(), f.dir, Options{Previous: trusting})
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Movies) != 2 {
		t.Errorf("kept %v, want both (poster 2 vouched for by the previous manifest)", IDs(man.Movies))
	}
	// The same manifest made under another poster rule vouches for
	// nothing: every poster is checked again.
	trusting.PosterRule = "poster-rule/v0 pixels<=40000000"
	man, rep, err = Prepare(context.Background(), f.dir, Options{Previous: trusting})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]reel.MovieID{"2"}, rep.Dropped[UndecodablePoster]); diff != "" {
		t.Errorf("under another rule, undecodable (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(imageprep.Rule(), man.PosterRule); diff != "" {
		t.Errorf("manifest rule (-want +got):\n%s", diff)
	}
}
