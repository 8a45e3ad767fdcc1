package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageErrorsBeforeWork runs commands whose flags or data cannot work:
// each stops with the exit code and a one-line message naming what is
// wrong, before writing anything to WORK.
func TestUsageErrorsBeforeWork(t *testing.T) {
	data := writeDataset(t, threeMovies, []string{"1", "2", "3"}, "1\n3\n")
	allTrain := writeDataset(t, threeMovies, []string{"1", "2", "3"}, "1\n2\n3\n")
	file := filepath.Join(t.TempDir(), "info.csv")
	if err := os.WriteFile(file, []byte(threeMovies), 0o644); err != nil {
		t.Fatal(err)
	}
	trained := string(synthWork(t, synthTestMovies))
	for _, tc := range []struct {
		name string
		args []string // WORK is appended when work is true
		work bool
		code int
		want string
	}{
		{"unknown encoder", []string{"run", "--data", data, "--encoder", "nope"}, true, exitUsage, `unknown encoder "nope": --encoder takes one of builtin, `},
		{"unknown encoder for embed", []string{"embed", "--encoder", "nope"}, true, exitUsage, `unknown encoder "nope"`},
		{"unknown backend", []string{"embed", "--backend", "cuda"}, true, exitUsage, `unknown backend "cuda": --backend takes go or ort, or nothing for automatic`},
		{"unknown long-text", []string{"embed", "--long-text", "wrap"}, true, exitUsage, `--long-text must be truncate or chunk, got "wrap"`},
		{"unknown image-prep", []string{"encode", "--text", "x", "--image-prep", "pil"}, false, exitUsage, `--image-prep must be seed, torchvision or clip, got "pil"`},
		{"every movie in train.txt", []string{"run", "--data", allTrain, "--encoder", "builtin"}, true, exitUsage, "the test split is empty (every kept movie is listed in " + filepath.Join(allTrain, "train.txt") + ")"},
		{"missing --data folder", []string{"prepare", "--data", filepath.Join(data, "nope")}, true, exitUsage, "--data " + filepath.Join(data, "nope") + ": no such folder"},
		{"--data is a file", []string{"run", "--data", file}, true, exitUsage, "--data " + file + " is a file"},
		{"eval of a missing WORK", []string{"eval", "--work", filepath.Join(data, "no-work")}, false, exitUsage, "--work " + filepath.Join(data, "no-work") + ": no such folder"},
		{"serve of a missing WORK", []string{"serve", "--work", filepath.Join(data, "no-work")}, false, exitUsage, "no such folder"},
		{"embed of a missing WORK", []string{"embed", "--encoder", "builtin", "--work", filepath.Join(data, "no-work")}, false, exitUsage, "no such folder"},
		{"train of a missing WORK", []string{"train", "--encoder", "builtin", "--work", filepath.Join(data, "no-work")}, false, exitUsage, "no such folder"},
		{"tune of a missing WORK", []string{"tune", "--encoder", "builtin", "--work", filepath.Join(data, "no-work")}, false, exitUsage, "no such folder"},
		{"report of a missing WORK", []string{"report", "--work", filepath.Join(data, "no-work")}, false, exitUsage, "no such folder"},
		{"search without a query", []string{"search", "--work", trained}, false, exitUsage, "search needs a query: one of --poster ID"},
		{"search with two queries", []string{"search", "--work", trained, "--text", "x", "--poster", "1"}, false, exitUsage, "got --poster and --text"},
		{"serve on a bad address", []string{"serve", "--work", trained, "--addr", "8080"}, false, exitUsage, `--addr "8080" is not HOST:PORT`},
		{"serve on a port out of range", []string{"serve", "--work", trained, "--addr", "127.0.0.1:70000"}, false, exitUsage, "the port must be a number from 0 to 65535"},
		{"serve on another machine's address", []string{"serve", "--work", trained, "--addr", "192.0.2.1:8080"}, false, exitUsage, "192.0.2.1 is not an address of this machine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			work := filepath.Join(t.TempDir(), "work")
			if tc.work {
				args = append(args, "--work", work)
			}
			stdout, stderr, code := runCLI(t, args...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if code != tc.code || !strings.Contains(last, tc.want) || stdout != "" {
				t.Errorf("exit %d, last stderr line %q, stdout %q; want exit %d and %q", code, last, stdout, tc.code, tc.want)
			}
			if _, err := os.Stat(work); err == nil {
				t.Errorf("WORK %s was created", work)
			}
		})
	}
}

// TestEvalEmptySplit evaluates a run trained on a dataset whose
// train.txt lists every movie: eval's default split is empty, a usage
// error that points at --split all.
func TestEvalEmptySplit(t *testing.T) {
	data := writeDataset(t, threeMovies, []string{"1", "2", "3"}, "1\n2\n3\n")
	work := filepath.Join(t.TempDir(), "work")
	for _, args := range [][]string{
		{"prepare", "--data", data},
		{"embed", "--encoder", "builtin"},
		{"train", "--encoder", "builtin", "--epochs", "1", "--val-fraction", "0"},
	} {
		if _, stderr, code := runCLI(t, append(args, "--work", work, "-q")...); code != exitOK {
			t.Fatalf("%s: exit %d: %s", args[0], code, stderr)
		}
	}
	_, stderr, code := runCLI(t, "eval", "--work", work)
	if code != exitUsage || !strings.Contains(stderr, "split test of run builtin has no movies") || !strings.Contains(stderr, "--split all") {
		t.Errorf("exit %d stderr %q; want exit %d naming the empty split and --split all", code, stderr, exitUsage)
	}
}

// TestPathNamedOnce feeds a file that is not an image: the error names it
// once, not once per layer.
func TestPathNamedOnce(t *testing.T) {
	trained := string(synthWork(t, synthTestMovies))
	notImage := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notImage, []byte("not a poster"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "none.jpg")
	for _, tc := range []struct {
		name string
		args []string
		path string
		want string
	}{
		{"search, not an image", []string{"search", "--work", trained, "--image", notImage}, notImage, "unknown image format"},
		{"encode, not an image", []string{"encode", "--image", notImage}, notImage, "unknown image format"},
		{"encode, missing", []string{"encode", "--image", missing}, missing, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != exitFailure || strings.Count(stderr, tc.path) != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d stderr %q: want exit 1, %q once and %q", code, stderr, tc.path, tc.want)
			}
		})
	}
}

// checkColumns checks that every table in out (a header line starting
// "direction" and the rows below it) is aligned: splitting each line at
// runs of two or more spaces, a row's k-th cell overlaps the header's k-th
// column name, whether the column is aligned left or right.
func checkColumns(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	tables := 0
	for i, h := range lines {
		if !strings.HasPrefix(h, "direction ") {
			continue
		}
		tables++
		head := cellSpans(h)
		for _, row := range lines[i+1:] {
			if !strings.HasPrefix(row, "poster->intro") && !strings.HasPrefix(row, "intro->poster") && !strings.HasPrefix(row, "chance") {
				break
			}
			cells := cellSpans(row)
			if len(cells) > len(head) {
				t.Errorf("row %q has %d cells, the header %q %d", row, len(cells), h, len(head))
				continue
			}
			for k, c := range cells {
				if c[1] <= head[k][0] || c[0] >= head[k][1] {
					t.Errorf("cell %d of %q is not under %q:\n%s\n%s", k, row[c[0]:c[1]], h[head[k][0]:head[k][1]], h, row)
				}
			}
		}
	}
	if tables == 0 {
		t.Errorf("no table in:\n%s", out)
	}
}

// cellSpans returns the [start, end) byte spans of line's cells, cells
// being separated by two or more spaces.
func cellSpans(line string) [][2]int {
	var out [][2]int
	start := -1
	for p := 0; p <= len(line); p++ {
		gap := p == len(line) || (line[p] == ' ' && (p+1 == len(line) || line[p+1] == ' '))
		switch {
		case start < 0 && p < len(line) && line[p] != ' ':
			start = p
		case start >= 0 && gap:
			out = append(out, [2]int{start, p})
			start = -1
		}
	}
	return out
}
