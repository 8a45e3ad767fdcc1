package dataset

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reelmatch/reelmatch/internal/reel"
)

// TestPrepareOldMacLines reads info.csv and train.txt saved with classic
// Mac line ends (CR only) line by line, with a warning naming each file;
// CRLF files and a CR inside a quoted field are left as they are.
func TestPrepareOldMacLines(t *testing.T) {
	for _, tc := range []struct {
		name, info, train string
		warned            []string // files named in a CR-only warning
	}{
		{"CR only", "id,name,intro\r1,One,a red door\r2,Two,\"a blue\rsky\"\r", "1\r", []string{InfoFile, TrainFile}},
		{"CRLF", "id,name,intro\r\n1,One,a red door\r\n2,Two,\"a blue\rsky\"\r\n", "1\r\n", nil},
		{"LF with a CR in a field", "id,name,intro\n1,One,a red door\n2,Two,\"a blue\rsky\"\n", "1\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.info(tc.info)
			f.train(tc.train)
			f.poster("1.jpg", jpegBytes(t, 1))
			f.poster("2.jpg", jpegBytes(t, 2))
			man, rep, err := prepare(t, f.dir)
			if err != nil {
				t.Fatal(err)
			}
			type movie struct {
				ID    reel.MovieID
				Name  string
				Split reel.Split
			}
			var got []movie
			for _, m := range man.Movies {
				got = append(got, movie{m.ID, m.Name, m.Split})
			}
			want := []movie{{"1", "One", reel.SplitTrain}, {"2", "Two", reel.SplitTest}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("movies (-want +got):\n%s", diff)
			}
			var warned []string
			for _, file := range []string{InfoFile, TrainFile} {
				if containsSub(rep.Warnings, file+" has old Mac line ends") {
					warned = append(warned, file)
				}
			}
			if diff := cmp.Diff(tc.warned, warned); diff != "" {
				t.Errorf("CR-only warnings (-want +got):\n%s\nall warnings: %q", diff, rep.Warnings)
			}
		})
	}
}
