package main

import (
	"encoding/json"
	jsonpkg "encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBenchSearchFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"n zero", []string{"--n", "0"}, `invalid argument "0" for "--n" flag: must be in [1, 10000000], got 0`},
		{"n negative", []string{"--n", "-5"}, `"--n" flag: must be in [1, 10000000], got -5`},
		{"n too large", []string{"--n", "20000000"}, `"--n" flag: must be in [1, 10000000], got 20000000`},
		{"dim zero", []string{"--dim", "0"}, `"--dim" flag: must be in [1, 4096], got 0`},
		{"dim too large", []string{"--dim", "5000"}, `"--dim" flag: must be in [1, 4096], got 5000`},
		{"n times dim", []string{"--n", "10000000", "--dim", "200"}, "--n times --dim must be at most"},
		{"concurrency zero", []string{"--concurrency", "0"}, `"--concurrency" flag: must be in [1, 1024], got 0`},
		{"concurrency too large", []string{"--concurrency", "5000"}, `"--concurrency" flag: must be in [1, 1024], got 5000`},
		{"k zero", []string{"--k", "0"}, `--k" flag: must be in [1, 1000], got 0`},
		{"k above n", []string{"--n", "5", "--k", "6"}, "--k must be at most --n (5), got 6"},
		{"queries zero", []string{"--queries", "0"}, `"--queries" flag: must be in [1, 100000], got 0`},
		{"unknown index", []string{"--index", "ivf"}, `--index must be one of exact, int8, hnsw, got "ivf"`},
		{"not a number", []string{"--n", "ten"}, `invalid argument "ten" for "--n"`},
		{"hnsw m", []string{"--hnsw-m", "1"}, `"--hnsw-m" flag: must be in [2, 256], got 1`},
		{"stray argument", []string{"extra"}, "search takes no arguments"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, json := range []bool{false, true} {
				args := []string{"bench", "search"}
				if json {
					args = append(args, "--json") // first, so a bad flag after it still sees it
				}
				args = append(args, tt.args...)
				stdout, stderr, code := runCLI(t, args...)
				msg := stderr
				if json {
					var doc struct{ Error string }
					if err := jsonpkg.Unmarshal([]byte(stderr), &doc); err != nil {
						t.Errorf("--json error is not a JSON object: %q", stderr)
					}
					msg = doc.Error
				}
				if code != exitUsage || !strings.Contains(msg, tt.want) || stdout != "" {
					t.Errorf("json=%v: exit %d, stderr %q, stdout %q; want exit %d and %q", json, code, stderr, stdout, exitUsage, tt.want)
				}
				if strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
					t.Errorf("json=%v: error is not one line: %q", json, stderr)
				}
			}
		})
	}
}

// TestBenchSearchJSON runs one small case per index and checks the
// document: exactly the keys, and figures that hang together.
func TestBenchSearchJSON(t *testing.T) {
	wantKeys := []string{"build_seconds", "bytes_per_vector", "concurrency", "dim", "index", "n", "p50_ms", "p99_ms", "peak_rss_bytes", "recall_at_10"}
	for _, tt := range []struct {
		index      string
		conc       string
		bytesPerV  float64 // 0: only > 0 is checked
		wantRecall float64 // -1: at least 0.9
	}{
		// 500 rows fill 63 panels of 8 (504 rows) of 16 float32.
		{"exact", "1", 504.0 * 16 * 4 / 500, 1},
		{"exact", "8", 504.0 * 16 * 4 / 500, 1},
		// int8: the float32 panels, 504x16 codes, and 12 bytes of scale,
		// sum and error per row; its rescore is exact by construction.
		{"int8", "3", (504.0*16*4 + 504*16 + 500*12) / 500, 1},
		{"hnsw", "4", 0, -1},
	} {
		t.Run(tt.index+"/"+tt.conc, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, "bench", "search", "--json", "--n", "500", "--dim", "16", "--index", tt.index, "--concurrency", tt.conc, "--queries", "40", "--seed", "3")
			if code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
			}
			var keys []string
			for k := range doc {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if diff := cmp.Diff(wantKeys, keys); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			num := func(k string) float64 { f, _ := doc[k].(float64); return f }
			if doc["index"] != tt.index || num("n") != 500 || num("dim") != 16 || num("concurrency") != map[string]float64{"1": 1, "3": 3, "4": 4, "8": 8}[tt.conc] {
				t.Errorf("case echoed wrong: %v", doc)
			}
			if tt.bytesPerV != 0 && num("bytes_per_vector") != tt.bytesPerV {
				t.Errorf("bytes_per_vector = %v, want %v", num("bytes_per_vector"), tt.bytesPerV)
			}
			if num("bytes_per_vector") < 64 {
				t.Errorf("bytes_per_vector = %v, below the 64 bytes of a 16-value float32 row", num("bytes_per_vector"))
			}
			if r := num("recall_at_10"); (tt.wantRecall >= 0 && r != tt.wantRecall) || r < 0.9 || r > 1 {
				t.Errorf("recall_at_10 = %v, want %v", r, tt.wantRecall)
			}
			if p50, p99 := num("p50_ms"), num("p99_ms"); !(p50 > 0 && p50 <= p99) {
				t.Errorf("p50 %v, p99 %v", p50, p99)
			}
			if num("peak_rss_bytes") < 1<<20 || num("build_seconds") <= 0 {
				t.Errorf("peak_rss_bytes %v, build_seconds %v", num("peak_rss_bytes"), num("build_seconds"))
			}
		})
	}
}

// TestBenchSearchTable runs the table: every index at concurrency 1 and 32,
// each in a child process (this test binary, run as reelmatch).
func TestBenchSearchTable(t *testing.T) {
	t.Setenv(asCLIEnv, "1")
	stdout, stderr, code := runCLI(t, "bench", "search", "--n", "300", "--dim", "8", "--queries", "40")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var rows []string
	for _, l := range lines[2 : len(lines)-1] {
		f := strings.Fields(l)
		rows = append(rows, f[0]+"/"+f[1])
		if recall := f[len(f)-1]; f[0] != "hnsw" && recall != "1.0000" {
			t.Errorf("row %q: recall %s, want 1.0000", l, recall)
		}
	}
	want := []string{"exact/1", "exact/32", "int8/1", "int8/32", "hnsw/1", "hnsw/32"}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("cases (-want +got):\n%s\n%s", diff, stdout)
	}
	if !strings.HasPrefix(lines[0], "bench search: n=300 dim=8 k=10 queries=40 seed=1") || !strings.Contains(lines[1], "peak RSS MiB") || !strings.HasPrefix(lines[len(lines)-1], "load average") {
		t.Errorf("table layout:\n%s", stdout)
	}
}

// TestBenchSearchTableLeavesOutHNSW checks that a large table runs exact
// and int8 only, and says how to ask for hnsw.
func TestBenchSearchTableLeavesOutHNSW(t *testing.T) {
	t.Setenv(asCLIEnv, "1")
	stdout, stderr, code := runCLI(t, "bench", "search", "--n", "100001", "--dim", "1", "--queries", "5", "--concurrency", "1")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stdout, "hnsw") || !strings.Contains(stdout, "exact") || !strings.Contains(stdout, "int8") {
		t.Errorf("table:\n%s", stdout)
	}
	if !strings.Contains(stderr, "hnsw left out above n=100000") || !strings.Contains(stderr, "--index hnsw") {
		t.Errorf("stderr %q does not say hnsw was left out", stderr)
	}
}
