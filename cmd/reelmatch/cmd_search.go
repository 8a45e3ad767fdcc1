package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/search"
)

func init() { commands = append(commands, newSearchCommand) }

// SearchOptions are the flags of `reelmatch search`.
type SearchOptions struct {
	Work    string
	Encoder string
	Run     string
	Split   string
	Poster  string
	Intro   string
	Text    string
	Image   string
	K       int
	// MaxDistance drops results farther than it (2 keeps all).
	MaxDistance float64
	Models      string
	Backend     string
}

func newSearchCommand(g *globalOptions) *cobra.Command {
	opts := SearchOptions{}
	cmd := &cobra.Command{
		Use:   `search --work WORK [--run NAME | --encoder E] (--poster ID | --intro ID | --text "TEXT" | --image FILE) [-k 5] [--max-distance D]`,
		Short: "Find the nearest intros for a poster, or posters for an intro",
		Long: `search ranks the other modality by cosine similarity in the run's shared
space and prints the k nearest, nearest first, with id, name, distance
(1 - cosine) and the intro or poster path.

Queries (exactly one):
  --poster ID   a movie's poster; returns intros
  --intro ID    a movie's intro; returns posters
  --text TEXT   any text, encoded like the intros (same encoder, same fitted
                state, same cleaning); returns posters
  --image FILE  any image file, encoded like the posters; returns intros

The gallery is every movie of the manifest (--split all, the default);
--split test or train restricts it. A --poster/--intro movie may lie outside
the gallery.

The index searched is chosen by the gallery's size (movies × embedding
size): exact up to 2^24 values (131k movies of 128), int8 with a float32
rescore (the same hits) up to 2^29 (1M movies of 512), hnsw (approximate)
beyond; -v and --json name it.

--max-distance D keeps only the results at distance D or less, so that far
results are not shown as if they were matches; when none is left, search
says "no close match" and how far the nearest one was (exit 0). D is in
[0, 2] (2 keeps everything); the report's section "how far a true match
is" shows which D keeps how many true pairs of the held-out split.

With --json, stdout is {"query":{...,"index",...,"max_distance"},"results":
[{"id","name","distance","intro","poster"}],"nearest_distance"}; results is
empty, and nearest_distance says how far the nearest was, when nothing is
within --max-distance.

Which run: --run NAME, else --encoder E's main run, else the only run in
WORK, else the only main run among several; otherwise search stops (exit 2)
and lists the runs. Environment: REELMATCH_WORK, REELMATCH_RUN,
REELMATCH_ENCODER, REELMATCH_MODELS and REELMATCH_BACKEND give defaults.` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSearch(cmd.Context(), opts, g, args)
		},
	}
	f := cmd.Flags()
	addRunFlags(f, &opts.Work, &opts.Encoder, &opts.Run, "search")
	f.StringVar(&opts.Split, "split", evalrun.SplitAll, "gallery: all (every movie), test or train")
	f.StringVar(&opts.Poster, "poster", "", "query with this movie's poster")
	f.StringVar(&opts.Intro, "intro", "", "query with this movie's intro")
	f.StringVar(&opts.Text, "text", "", "query with free text")
	f.StringVar(&opts.Image, "image", "", "query with an image file")
	intFlagP(f, &opts.K, "k", "k", 5, kRange, "number of results")
	floatFlag(f, &opts.MaxDistance, "max-distance", search.MaxDistanceRange.Max, search.MaxDistanceRange, "show only results at this distance (1 - cosine) or nearer; say no close match when none is")
	f.StringVar(&opts.Models, "models", envOr("REELMATCH_MODELS", ""), "models folder for pretrained encoders (default: the models cache)")
	f.StringVar(&opts.Backend, "backend", envOr("REELMATCH_BACKEND", ""), "ONNX runtime for pretrained encoders: ort, go or empty for automatic")
	return cmd
}

// searchQueryJSON describes the query in --json output.
type searchQueryJSON struct {
	Kind    string `json:"kind"` // poster, intro, text or image
	ID      string `json:"id,omitempty"`
	Name    string `json:"name,omitempty"`
	Text    string `json:"text,omitempty"`
	File    string `json:"file,omitempty"`
	Run     string `json:"run"`
	Encoder string `json:"encoder"`
	Split   string `json:"split"`
	Gallery int    `json:"gallery"`
	// Index is the kind of index searched: exact, int8 or hnsw, by the
	// gallery's size (search.AutoKind).
	Index string `json:"index"`
	K     int    `json:"k"`
	// MaxDistance is --max-distance (2 keeps every result).
	MaxDistance float64 `json:"max_distance"`
	// Returns says which modality the results are: intro or poster.
	Returns string `json:"returns"`
}

// searchResultJSON is one hit in --json output.
type searchResultJSON struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Distance float32 `json:"distance"`
	Intro    string  `json:"intro"`
	Poster   string  `json:"poster"`
}

type searchJSON struct {
	Query   searchQueryJSON    `json:"query"`
	Results []searchResultJSON `json:"results"`
	// NearestDistance is the nearest result's distance when
	// --max-distance left none.
	NearestDistance *float64 `json:"nearest_distance,omitempty"`
}

func runSearch(ctx context.Context, opts SearchOptions, g *globalOptions, _ []string) error {
	var kinds []string
	for _, q := range []struct{ flag, val string }{{"--poster", opts.Poster}, {"--intro", opts.Intro}, {"--text", opts.Text}, {"--image", opts.Image}} {
		if q.val != "" {
			kinds = append(kinds, q.flag)
		}
	}
	switch len(kinds) {
	case 0:
		return usagef("search needs a query: one of --poster ID, --intro ID, --text TEXT or --image FILE")
	case 1:
	default:
		return usagef("search takes one query at a time, got %s: keep one of them", strings.Join(kinds, " and "))
	}
	if opts.Text != "" && strings.TrimSpace(opts.Text) == "" {
		return usagef("--text is only whitespace: pass words to search for, e.g. --text \"a detective hunts a serial killer\"")
	}
	if err := checkFlag("k", kRange.Check(opts.K)); err != nil {
		return err
	}
	if err := evalrun.CheckSplit(opts.Split); err != nil {
		return usagef("--split: %v", err)
	}
	if opts.Image != "" {
		// Check the file before loading anything, so the message is about
		// it: a regular file within the image cap.
		if _, err := inputfile.Check(opts.Image, inputfile.Image); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("query image %q does not exist: pass the path of a JPEG, PNG, WebP or GIF file", opts.Image)
			}
			return fmt.Errorf("query image: %w", err) // err names the file
		}
	}
	work, name, err := resolveRun("search", opts.Work, opts.Encoder, opts.Run)
	if err != nil {
		return err
	}
	loadStart := time.Now()
	space, err := evalrun.Load(work, name)
	if err != nil {
		return err
	}
	gal, err := space.Gallery(opts.Split)
	if err != nil {
		return err
	}
	posters, intros, err := gal.Searchers()
	if err != nil {
		return err
	}
	if g.Verbose > 0 {
		g.logf("search: loaded %s (%d movies projected, gallery %d, %s index) in %s", name, len(space.Movies), gal.Posters.Len(), posters.Kind(), time.Since(loadStart).Round(time.Millisecond))
	}
	q := searchQueryJSON{Run: name, Encoder: space.Encoder, Split: opts.Split, Gallery: gal.Posters.Len(), Index: posters.Kind(), K: min(opts.K, gal.Posters.Len())}
	var hits []reel.Hit
	start := time.Now()
	switch {
	case opts.Poster != "", opts.Intro != "":
		id := reel.MovieID(opts.Poster)
		q.Kind, q.Returns = "poster", "intro"
		if opts.Intro != "" {
			id = reel.MovieID(opts.Intro)
			q.Kind, q.Returns = "intro", "poster"
		}
		m, ok := gal.Movie(id)
		if !ok {
			return fmt.Errorf("movie id %q is not in %s (ids are info.csv's first column, e.g. %s; a movie dropped by prepare has no vectors)", id, work.Manifest(), exampleIDs(space.Movies))
		}
		q.ID, q.Name = string(m.ID), m.Name
		if q.Kind == "poster" {
			hits, err = gal.ByPoster(id, opts.K)
		} else {
			hits, err = gal.ByIntro(id, opts.K)
		}
	default:
		enc, oerr := space.OpenEncoder(work, encoder.Config{ModelsDir: opts.Models, Backend: opts.Backend})
		if oerr != nil {
			return oerr
		}
		defer enc.Close()
		encStart := time.Now()
		var v []float32
		if opts.Text != "" {
			q.Kind, q.Text, q.Returns = "text", opts.Text, "poster"
			v, err = space.EncodeText(ctx, enc, opts.Text)
		} else {
			q.Kind, q.File, q.Returns = "image", opts.Image, "intro"
			v, err = space.EncodeImageFile(ctx, enc, opts.Image)
		}
		if err != nil {
			return err
		}
		if g.Verbose > 0 {
			g.logf("search: encoded the %s query in %s", q.Kind, time.Since(encStart).Round(time.Microsecond))
		}
		start = time.Now()
		if q.Kind == "text" {
			hits, err = posters.Search(v, opts.K)
		} else {
			hits, err = intros.Search(v, opts.K)
		}
	}
	if err != nil {
		return err
	}
	if g.Verbose > 0 {
		g.logf("search: top-%d over %d movies (%s index) took %s", opts.K, gal.Posters.Len(), posters.Kind(), time.Since(start).Round(time.Microsecond))
	}
	q.MaxDistance = opts.MaxDistance
	hits, nearest := search.Within(hits, opts.MaxDistance)
	out := searchJSON{Query: q, Results: make([]searchResultJSON, len(hits))}
	if len(hits) == 0 && !math.IsNaN(nearest) {
		out.NearestDistance = &nearest
	}
	for i, h := range hits {
		m, _ := gal.Movie(h.ID)
		out.Results[i] = searchResultJSON{ID: string(h.ID), Name: m.Name, Distance: h.Distance, Intro: m.Intro, Poster: m.PosterPath}
	}
	if g.JSON {
		return g.printJSON(out)
	}
	return printSearch(g.stdout, out)
}

func printSearch(w io.Writer, s searchJSON) error {
	q := s.Query
	var what string
	switch q.Kind {
	case "poster", "intro":
		what = fmt.Sprintf("the %s of %s %q", q.Kind, q.ID, q.Name)
	case "text":
		what = fmt.Sprintf("text %q", clip(q.Text, 60))
	case "image":
		what = fmt.Sprintf("image %s", q.File)
	}
	gallery := "all movies of the manifest"
	if q.Split != evalrun.SplitAll {
		gallery = q.Split + " movies"
	}
	source := "encoder " + q.Encoder
	if q.Run != "" && q.Run != q.Encoder {
		source = fmt.Sprintf("run %s, encoder %s", q.Run, q.Encoder)
	}
	fmt.Fprintf(w, "nearest %ss to %s (%s; gallery: %s, %d)\n", q.Returns, what, source, gallery, q.Gallery)
	if len(s.Results) == 0 && s.NearestDistance != nil {
		_, err := fmt.Fprintf(w, "no close match: no %s within distance %g (the nearest is at %.4f; raise --max-distance to see it)\n", q.Returns, q.MaxDistance, *s.NearestDistance)
		return err
	}
	for i, r := range s.Results {
		detail := r.Poster
		if q.Returns == "intro" {
			detail = clip(r.Intro, 70)
		}
		fmt.Fprintf(w, "%2d. %-8s %.4f  %-34s %s\n", i+1, r.ID, r.Distance, clip(r.Name, 34), detail)
	}
	return nil
}

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// exampleIDs names a few ids of the manifest for error messages.
func exampleIDs(ms []reel.Movie) string {
	var ids []string
	for i := 0; i < len(ms) && i < 3; i++ {
		ids = append(ids, string(ms[i].ID))
	}
	return strings.Join(ids, ", ")
}
