package synth

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/textprep"
	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// TestExampleQueriesMatchGenres checks that the demo's example queries
// speak the synthetic catalogue's language: with the builtin text tower
// fitted on the training intros, as embed fits it, the intros nearest to
// each query are of the genre it describes. (Trained heads then carry this
// to the posters; the demo prints such a query for the user to try.)
func TestExampleQueriesMatchGenres(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, DefaultMovies, 1); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(mustRead(t, filepath.Join(dir, "info.csv")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	train := map[string]bool{}
	for _, id := range strings.Fields(string(mustRead(t, filepath.Join(dir, "train.txt")))) {
		train[id] = true
	}
	clean := textprep.Default()
	var intros, fit []string
	for _, r := range rows[1:] {
		c := clean.Clean(r[2])
		intros = append(intros, c)
		if train[r[0]] {
			fit = append(fit, c)
		}
	}
	enc, err := encoder.New(builtin.Name, encoder.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	ctx := context.Background()
	if err := enc.(encoder.Fitter).Fit(ctx, fit); err != nil {
		t.Fatal(err)
	}
	vecs, err := enc.Text().Encode(ctx, intros)
	if err != nil {
		t.Fatal(err)
	}
	genres := Genres(DefaultMovies, 1)
	for _, tc := range []struct{ query, genre string }{
		{"a haunted house at midnight", "horror"},
		{"a detective hunts a serial killer", "horror"},
		{"a sheriff duels an outlaw in a desert town", "western"},
		{"astronauts explore a distant galaxy", "scifi"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			q, err := enc.Text().Encode(ctx, []string{clean.Clean(tc.query)})
			if err != nil {
				t.Fatal(err)
			}
			qv := vecmath.Normalized(q[0])
			order := make([]int, len(vecs))
			for i := range order {
				order[i] = i
			}
			score := func(i int) float32 { return vecmath.Dot(qv, vecmath.Normalized(vecs[i])) }
			slices.SortStableFunc(order, func(a, b int) int {
				if sa, sb := score(a), score(b); sa != sb {
					if sa > sb {
						return -1
					}
					return 1
				}
				return 0
			})
			var got []string
			hits := 0
			for _, i := range order[:10] {
				got = append(got, strconv.Itoa(i+1)+":"+genres[i])
				if genres[i] == tc.genre {
					hits++
				}
			}
			if genres[order[0]] != tc.genre || hits < 8 {
				t.Errorf("nearest intros %v: want %s first and in 8 of 10", got, tc.genre)
			}
		})
	}
}
