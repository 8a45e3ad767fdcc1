package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/bound"
	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/synth"
)

func init() { commands = append(commands, newDemoCommand) }

// DemoOptions are the flags of `reelmatch demo`.
type DemoOptions struct {
	Work   string
	Movies int
	Seed   int64
	// DataOnly stops after writing the synthetic dataset.
	DataOnly bool
	Train    TrainOptions
}

// demoQuery is the text search the demo suggests: its words are the
// synthetic horror films' (internal/synth), so horror posters come first.
const demoQuery = "a haunted house at midnight"

// defaultDemoWork is where the demo goes without --work: the user cache
// (~/.cache/reelmatch/demo on Linux), or ./reelmatch-demo when there is no
// user cache folder.
func defaultDemoWork() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "reelmatch", "demo")
	}
	return "reelmatch-demo"
}

func newDemoCommand(g *globalOptions) *cobra.Command {
	opts := DemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo [--work DIR]",
		Short: "Run the whole pipeline offline on a small synthetic dataset",
		Long: `demo writes a synthetic dataset (300 movies of six genres, drawn posters and
template intros; see internal/synth) into WORK/demo-data, then runs
"reelmatch run" on it with the builtin encoder, which needs no network and
no model files, and prints the metrics.

WORK defaults to the user cache folder ($XDG_CACHE_HOME/reelmatch/demo or
~/.cache/reelmatch/demo on Linux), or ./reelmatch-demo when the system has
none ($REELMATCH_DEMO_WORK overrides it); the path is printed with commands
to try next. Training flags are train's (--epochs, --seed, ...).

With --json, stdout is the document "reelmatch run --json" prints, plus
"work" and "data". --data-only writes the dataset and stops (--json:
{"work","data","movies"}).` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), opts, g, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Work, "work", envOr("REELMATCH_DEMO_WORK", defaultDemoWork()), "WORK folder for the demo data and artifacts")
	intFlag(f, &opts.Movies, "movies", synth.DefaultMovies, demoMoviesRange, "number of synthetic movies")
	int64Flag(f, &opts.Seed, "data-seed", 1, bound.AnyInt64, "seed of the synthetic dataset (--seed seeds training)")
	f.BoolVar(&opts.DataOnly, "data-only", false, "only write the synthetic dataset into WORK/demo-data (to try other commands on it)")
	addTrainFlags(f, &opts.Train)
	return cmd
}

// demoJSON is the --json document of demo.
type demoJSON struct {
	Work string `json:"work"`
	Data string `json:"data"`
	*runJSON
}

func runDemo(ctx context.Context, opts DemoOptions, g *globalOptions, _ []string) error {
	if err := checkFlag("movies", demoMoviesRange.Check(opts.Movies)); err != nil {
		return err
	}
	opts.Train.Work, opts.Train.Encoder = opts.Work, builtin.Name
	if err := checkTrainOptions(opts.Train); err != nil {
		return err
	}
	work, err := filepath.Abs(opts.Work)
	if err != nil {
		return fmt.Errorf("demo folder %q: %w", opts.Work, err)
	}
	data := filepath.Join(work, "demo-data")
	g.logf("demo: writing %d synthetic movies to %s", opts.Movies, data)
	if err := synth.Write(data, opts.Movies, opts.Seed); err != nil {
		return err
	}
	if opts.DataOnly {
		if g.JSON {
			return g.printJSON(map[string]any{"work": work, "data": data, "movies": opts.Movies})
		}
		_, err := fmt.Fprintf(g.stdout, "demo: %d synthetic movies in %s\n", opts.Movies, data)
		return err
	}
	ro := RunOptions{Data: data, Work: work, EmbedBatch: embed.DefaultBatchSize, Train: opts.Train}
	ro.Encoder = builtin.Name
	res, err := runPipeline(ctx, ro, g)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.printJSON(demoJSON{Work: work, Data: data, runJSON: res})
	}
	if err := printRunMetrics(g.stdout, res, false); err != nil {
		return err
	}
	q := demoQuery
	self, binary, onPath := invocation()
	where := "on your PATH"
	if !onPath {
		where = "not on your PATH; make install puts it there"
	}
	w := shellQuote(work)
	_, err = fmt.Fprintf(g.stdout, `
demo folder: %s
binary: %s (%s)
next:
  %s search --work %s --text %q
  %s search --work %s --poster 1
  %s serve  --work %s
  %s report --work %s
`, work, binary, where, self, w, q, self, w, self, w, self, w)
	return err
}

// invocation says how to run this binary again: "reelmatch" when that
// name on PATH is this very file, else its path (relative to the current
// folder when inside it, as bin/reelmatch after make demo). It also
// returns the binary's absolute path and whether PATH finds it.
func invocation() (command, binary string, onPath bool) {
	exe, err := os.Executable()
	if err != nil {
		return "reelmatch", "reelmatch", false
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	if p, err := exec.LookPath("reelmatch"); err == nil {
		a, aerr := os.Stat(p)
		b, berr := os.Stat(exe)
		if aerr == nil && berr == nil && os.SameFile(a, b) {
			return "reelmatch", exe, true
		}
	}
	command = shellQuote(exe)
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, exe); err == nil && !strings.HasPrefix(rel, "..") {
			if !strings.Contains(rel, string(filepath.Separator)) {
				rel = "." + string(filepath.Separator) + rel
			}
			command = shellQuote(rel)
		}
	}
	return command, exe, false
}

// shellQuote quotes a path for copying into a POSIX shell when needed.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r == '/' || r == '.' || r == '-' || r == '_' || r == '~' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}
