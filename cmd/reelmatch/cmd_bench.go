package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/bound"
	"github.com/reelmatch/reelmatch/internal/search"
	"github.com/reelmatch/reelmatch/internal/searchbench"
)

func init() { commands = append(commands, newBenchCommand) }

func newBenchCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:           "bench",
		Short:         "Measure reelmatch's parts on synthetic data",
		Long:          `bench measures one part of reelmatch on synthetic data; see its subcommands.` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.AddCommand(newBenchSearchCommand(g))
	return cmd
}

// BenchSearchOptions are the flags of `reelmatch bench search`.
type BenchSearchOptions struct {
	N           int
	Dim         int
	Index       string
	Concurrency int
	K           int
	Seed        int64
	Queries     int
	HNSW        search.HNSWOptions
}

func newBenchSearchCommand(g *globalOptions) *cobra.Command {
	opts := BenchSearchOptions{}
	cmd := &cobra.Command{
		Use:   "search --n N --dim D [--index exact|int8|hnsw] [--concurrency C] [--k 10] [--seed S] [--queries Q]",
		Short: "Measure search indexes on N seeded random unit vectors",
		Long: `bench search builds a search index over N random unit vectors of D values
(independent normal components, normalised; drawn from --seed) and sends it
--queries random unit queries for the --k nearest, --concurrency at a time
(each client sends its next query when its last one returns). It reports:

  build_seconds     time to build the index from the float32 rows
  bytes_per_vector  the index's memory (vectors, codes, graph; not ids) / N
  peak_rss_bytes    the process's peak resident memory (VmHWM) from just
                    before the build to the last query: the float32 rows
                    the index is built from (4·D bytes per vector), the
                    index, and the queries
  p50_ms, p99_ms    per-query latency percentiles (nearest rank), after
                    one untimed round of --concurrency queries
  recall_at_10      mean share of the exact index's 10 nearest that the
                    index returns in its 10 (1 for exact, the reference)

Indexes (--index): exact (float32 scan; concurrent queries share one scan),
int8 (int8 scan with a proven error bound per row, every row that can
still be among the k nearest rescored in float32: the exact hits; same
batching), hnsw (approximate: a navigable small-world graph with
--hnsw-m links per node, --hnsw-ef-construction and --hnsw-ef-search
candidate lists; built on every core; its reference answers come from an
exact index built and dropped before the peak RSS is reset).

Without --json, bench search prints a table. Each case (index and
concurrency) runs in its own child process of this binary, so each peak RSS
is that case's alone; --index omitted runs every index (hnsw only up to
N = 100,000: its build takes half an hour at 1M on 2 cores, so ask for it
with --index hnsw), --concurrency omitted runs 1 and 32. With --json, it runs one case in this process,
--index exact and --concurrency 1 unless given, and prints
{"n","dim","index","concurrency","build_seconds","bytes_per_vector",
"peak_rss_bytes","p50_ms","p99_ms","recall_at_10"}.

Limits: N up to 10,000,000, D up to 4096, N·D up to 2^30 (4 GiB of
float32), --concurrency up to 1024, --k up to 1000 and at most N, --queries
up to 100,000. The machine's load changes the latencies: compare indexes
within one run, and note the load (uptime).` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			return runBenchSearch(cmd.Context(), opts, f.Changed("index"), f.Changed("concurrency"), g)
		},
	}
	f := cmd.Flags()
	intFlag(f, &opts.N, "n", 100_000, searchbench.NRange, "number of vectors")
	intFlag(f, &opts.Dim, "dim", 128, searchbench.DimRange, "values per vector")
	f.StringVar(&opts.Index, "index", search.KindExact, "index kind: "+strings.Join(search.Kinds, ", ")+" (table: all unless given)")
	intFlag(f, &opts.Concurrency, "concurrency", 1, searchbench.ConcurrencyRange, "queries in flight at once (table: 1 and 32 unless given)")
	intFlagP(f, &opts.K, "k", "k", 10, searchbench.KRange, "hits per query")
	int64Flag(f, &opts.Seed, "seed", 1, bound.AnyInt64, "seed of the vectors and queries")
	intFlag(f, &opts.Queries, "queries", 200, searchbench.QueriesRange, "number of timed queries")
	def := search.DefaultHNSWOptions()
	opts.HNSW.Seed = def.Seed
	intFlag(f, &opts.HNSW.M, "hnsw-m", def.M, search.HNSWMRange, "hnsw: links per node (2·M on layer 0)")
	intFlag(f, &opts.HNSW.EfConstruction, "hnsw-ef-construction", def.EfConstruction, search.HNSWEfRange, "hnsw: candidate list while building")
	intFlag(f, &opts.HNSW.EfSearch, "hnsw-ef-search", def.EfSearch, search.HNSWEfRange, "hnsw: candidate list while searching")
	return cmd
}

func (o BenchSearchOptions) caseOptions() searchbench.Options {
	return searchbench.Options{N: o.N, Dim: o.Dim, Index: o.Index, Concurrency: o.Concurrency, K: o.K, Seed: uint64(o.Seed), Queries: o.Queries, HNSW: o.HNSW}
}

func runBenchSearch(ctx context.Context, opts BenchSearchOptions, indexGiven, concGiven bool, g *globalOptions) error {
	if err := opts.caseOptions().Check(); err != nil {
		return usagef("bench search: %v", err)
	}
	if g.JSON {
		res, note, err := searchbench.Run(ctx, opts.caseOptions())
		if err != nil {
			return err
		}
		if note != "" {
			g.logf("bench search: %s", note)
		}
		return g.printJSON(res)
	}
	indexes := search.Kinds
	if indexGiven {
		indexes = []string{opts.Index}
	} else if opts.N > tableHNSWMax {
		indexes = slices.DeleteFunc(slices.Clone(indexes), func(k string) bool { return k == search.KindHNSW })
		g.logf("bench search: hnsw left out above n=%d (its build takes about 1.5 ms of CPU per 128-d vector here, half an hour at 1M on 2 cores, more at 512-d): ask for it with --index hnsw", tableHNSWMax)
	}
	concs := []int{1, 32}
	if concGiven {
		concs = []int{opts.Concurrency}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench search: find this binary to run each case: %w", err)
	}
	load := loadAverage()
	var results []searchbench.Result
	for _, index := range indexes {
		for _, c := range concs {
			o := opts
			o.Index, o.Concurrency = index, c
			g.logf("bench search: %s, n=%d, dim=%d, concurrency %d ...", index, o.N, o.Dim, c)
			r, err := benchChild(ctx, exe, o, g)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
	}
	return printBenchSearch(g.stdout, opts, results, load, loadAverage())
}

// tableHNSWMax is the largest n for which the table includes hnsw
// unasked.
const tableHNSWMax = 100_000

// benchChild runs one case as `bench search --json` in a child process of
// exe, so its peak RSS is its own, and decodes its result.
func benchChild(ctx context.Context, exe string, o BenchSearchOptions, g *globalOptions) (searchbench.Result, error) {
	args := []string{"bench", "search", "--json", "--quiet",
		"--n", strconv.Itoa(o.N), "--dim", strconv.Itoa(o.Dim), "--index", o.Index,
		"--concurrency", strconv.Itoa(o.Concurrency), "--k", strconv.Itoa(o.K),
		"--seed", strconv.FormatInt(o.Seed, 10), "--queries", strconv.Itoa(o.Queries),
		"--hnsw-m", strconv.Itoa(o.HNSW.M), "--hnsw-ef-construction", strconv.Itoa(o.HNSW.EfConstruction),
		"--hnsw-ef-search", strconv.Itoa(o.HNSW.EfSearch)}
	cmd := exec.CommandContext(ctx, exe, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return searchbench.Result{}, ctx.Err()
		}
		return searchbench.Result{}, fmt.Errorf("bench search case %s/concurrency %d: %w: %s", o.Index, o.Concurrency, err, strings.TrimSpace(stderr.String()))
	}
	var r searchbench.Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return r, fmt.Errorf("bench search case %s/concurrency %d: read its result: %w", o.Index, o.Concurrency, err)
	}
	return r, nil
}

func printBenchSearch(w io.Writer, o BenchSearchOptions, rs []searchbench.Result, loadBefore, loadAfter string) error {
	fmt.Fprintf(w, "bench search: n=%d dim=%d k=%d queries=%d seed=%d (each case in its own process)\n", o.N, o.Dim, o.K, o.Queries, o.Seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "index\tconcurrency\tbuild s\tbytes/vector\tpeak RSS MiB\tp50 ms\tp99 ms\trecall@10\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%.0f\t%.2f\t%.2f\t%.4f\t\n", r.Index, r.Concurrency, r.BuildSeconds, r.BytesPerVector, float64(r.PeakRSSBytes)/(1<<20), r.P50Ms, r.P99Ms, r.RecallAt10)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "load average (1, 5, 15 min): %s before, %s after\n", loadBefore, loadAfter)
	return err
}

// loadAverage is the first three fields of /proc/loadavg, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
