package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/progress"
)

func init() { commands = append(commands, newPrepareCommand) }

// PrepareOptions are the flags of `reelmatch prepare`.
type PrepareOptions struct {
	Data      string
	Work      string
	Train     string
	StopWords string
	Workers   int
	Recheck   bool
}

func newPrepareCommand(g *globalOptions) *cobra.Command {
	opts := PrepareOptions{}
	cmd := &cobra.Command{
		Use:   "prepare --data DIR --work WORK",
		Short: "Check a dataset folder and write the manifest of kept movies",
		Long: `prepare reads DIR/info.csv (columns id, name, intro in any order), the
posters DIR/poster/<id>.{jpg,jpeg,png,webp} and DIR/train.txt (training ids,
one per line, '#' comments), keeps every movie with a non-empty intro and a
poster that passes the poster rule embed applies too (a regular file within
the image file cap, 50 MiB; at most 16,777,216 pixels; sides at most 1000:1;
fully decodable; caps in README "Limits and safety"), cleans the intros (see "reelmatch clean") and writes
WORK/manifest.json. Movies not listed in train.txt are test movies.

Dropped movies are listed by reason (no_poster, undecodable_poster,
not_regular_file, too_large, extreme_aspect_ratio, empty_intro,
duplicate_id, train_id_not_kept) and make the exit code 3; the manifest
still holds the kept ones. Problems with the input as a whole (a
missing file, folder or column, a malformed row, one id with two different
rows, nothing kept) stop with one line naming the file, line and fix.
Running prepare again on unchanged data leaves the manifest untouched.

Leak check: a test movie whose cleaned intro is identical or nearly so to a
training movie's (Jaccard similarity of the cleaned token sets at least
0.8) or whose poster has the same SHA-256 as a training poster would make
the held-out scores optimistic. Each such pair is a warning on stderr with
both ids; the movies are kept (they are not broken data), and
reelmatch eval --exclude-leaks leaves them out of the held-out split.

With --json, stdout is {"movies":N,"train":T,"test":U,"dropped":{"<reason>":[ids]},
"leaks":[{"kind":"intro"|"poster","test":ID,"train":ID,"similarity":J}]}.

Environment: REELMATCH_DATA and REELMATCH_WORK give --data and --work defaults.` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPrepare(cmd.Context(), opts, g, args)
		},
	}
	f := cmd.Flags()
	addDataFlag(f, &opts.Data)
	addWorkFlag(f, &opts.Work, "WORK folder the manifest goes to")
	f.StringVar(&opts.Train, "train", "", "training id list (default DIR/train.txt)")
	f.StringVar(&opts.StopWords, "stopwords", "", "stop-word file, one word a line, replacing NLTK's English list")
	intFlag(f, &opts.Workers, "workers", 0, workersRange, "posters decoded in parallel (0: number of CPUs)")
	f.BoolVar(&opts.Recheck, "recheck", false, "decode every poster again, even those the existing manifest already checked")
	return cmd
}

// prepareJSON is the --json result of prepare.
type prepareJSON struct {
	Movies  int                 `json:"movies"`
	Train   int                 `json:"train"`
	Test    int                 `json:"test"`
	Dropped map[string][]string `json:"dropped"`
	// Leaks are test movies sharing an intro or a poster with a training
	// movie (dataset.FindLeaks); always present, [] when none.
	Leaks []dataset.Leak `json:"leaks"`
}

func runPrepare(ctx context.Context, opts PrepareOptions, g *globalOptions, _ []string) error {
	if err := checkData("prepare", opts.Data); err != nil {
		return err
	}
	work, err := workDir("prepare", opts.Work)
	if err != nil {
		return err
	}
	if err := checkFlag("workers", workersRange.Check(opts.Workers)); err != nil {
		return err
	}
	pipe, err := cleanPipeline(opts.StopWords)
	if err != nil {
		return err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	if g.Verbose > 0 {
		g.logf("prepare: data=%s work=%s train=%s stopwords=%s workers=%d textprep=%s",
			opts.Data, opts.Work, prepareDefault(opts.Train, "DIR/train.txt"), prepareDefault(opts.StopWords, "NLTK English (179)"), workers, pipe.Fingerprint())
	}
	// Posters the current manifest lists with the same hash decoded last
	// time; a missing or unreadable manifest just means checking them all.
	var prev *dataset.Manifest
	if !opts.Recheck {
		prev, _ = dataset.Load(work.Manifest())
	}
	man, rep, err := dataset.Prepare(ctx, opts.Data, dataset.Options{
		Previous:  prev,
		TrainFile: opts.Train,
		Pipeline:  pipe,
		Workers:   workers,
		// Warnings say which data was left out, so they show even under
		// --quiet.
		Warnf: func(format string, args ...any) { fmt.Fprintf(g.stderr, "warning: "+format+"\n", args...) },
		NewBar: func(total int) progress.Bar {
			return progress.NewLabeled(g.progress(), total, "checking posters", "posters")
		},
	})
	if err != nil {
		return err
	}
	if g.Verbose > 0 {
		if c, ok := dataset.ClosestIntros(man.Movies); ok {
			g.logf("leak check: the most similar test/train intros below the threshold %.2f are test %s and train %s (Jaccard %.2f of the cleaned tokens)",
				dataset.IntroLeakJaccard, c.Test, c.Train, c.Similarity)
		}
	}
	if n := len(rep.IgnoredPosters); n > 0 && g.Verbose > 0 {
		g.logf("ignored %d poster file(s) whose id has no row in info.csv: %s", n, strings.Join(shortList(rep.IgnoredPosters, 10), " "))
	}
	path := work.Manifest()
	changed, err := man.SaveIfChanged(path)
	if err != nil {
		return err
	}
	if g.JSON {
		out := prepareJSON{Movies: rep.Movies, Train: rep.Train, Test: rep.Test, Dropped: map[string][]string{}, Leaks: rep.Leaks}
		for reason, ids := range rep.Dropped {
			if len(ids) == 0 {
				continue
			}
			s := make([]string, len(ids))
			for i, id := range ids {
				s[i] = string(id)
			}
			out.Dropped[string(reason)] = s
		}
		if !changed {
			g.logf("manifest unchanged: %s", path)
		}
		if err := g.printJSON(out); err != nil {
			return err
		}
	} else {
		w := g.stdout
		fmt.Fprintf(w, "kept %d movies: %d train, %d test\n", rep.Movies, rep.Train, rep.Test)
		if n := rep.DroppedCount(); n > 0 {
			fmt.Fprintf(w, "dropped %d:\n", n)
			for _, reason := range droppedOrder {
				ids := rep.Dropped[reason]
				if len(ids) == 0 {
					continue
				}
				s := make([]string, len(ids))
				for i, id := range ids {
					s[i] = string(id)
				}
				fmt.Fprintf(w, "  %-20s %5d  %s\n", reason, len(ids), strings.Join(shortList(s, 20), " "))
			}
		} else {
			fmt.Fprintln(w, "dropped 0")
		}
		fmt.Fprintln(w, leakLine(rep.Leaks))
		if changed {
			fmt.Fprintf(w, "manifest written: %s\n", path)
		} else {
			fmt.Fprintf(w, "manifest unchanged: %s\n", path)
		}
	}
	if n := rep.DroppedCount(); n > 0 {
		return partialDataError{fmt.Sprintf("left %d entries out (%s); the manifest holds the %d kept movies", n, dropCounts(rep), rep.Movies)}
	}
	return nil
}

// leakLine is the one-line summary of the leak check.
func leakLine(leaks []dataset.Leak) string {
	ids := dataset.LeakedTestIDs(leaks)
	if len(ids) == 0 {
		return "leaks: none (no test movie shares an intro or a poster with the training split)"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	noun, verb := "movie", "shares"
	if len(ids) > 1 {
		noun, verb = "movies", "share"
	}
	return fmt.Sprintf("leaks: %d test %s %s an intro or a poster with the training split: %s (kept; eval --exclude-leaks leaves them out)",
		len(ids), noun, verb, strings.Join(shortList(s, 20), " "))
}

// droppedOrder is the order reasons are printed in.
var droppedOrder = dataset.Reasons

func dropCounts(rep *dataset.Report) string {
	var parts []string
	for _, r := range droppedOrder {
		if n := len(rep.Dropped[r]); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, r))
		}
	}
	return strings.Join(parts, ", ")
}

// shortList shortens a list for display, saying how many were cut.
func shortList(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string{}, s[:n]...), fmt.Sprintf("... (%d more)", len(s)-n))
}

func prepareDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
