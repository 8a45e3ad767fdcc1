package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tree returns every file under dir with its content, and every folder
// with "/" as its content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			out[rel] = "/"
			return nil
		}
		b, err := os.ReadFile(path)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeFiles(files map[string]string) func(string) error {
	return func(dir string) error {
		for name, content := range files {
			if err := WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				return err
			}
		}
		return nil
	}
}

// holdLock opens path and locks it as a live writer would, until the test
// ends.
func holdLock(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := lock(f); err != nil {
		t.Fatal(err)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	if err := WriteFile(path, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A failing fill leaves the previous content and no temporary.
	boom := errors.New("boom")
	err := Write(path, 0o644, func(w io.Writer) error {
		io.WriteString(w, "half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write: %v, want boom", err)
	}
	// Leftovers of a killed writer (unlocked) go; a live writer's stays.
	stale := filepath.Join(dir, ".a.json.tmp-123")
	live := filepath.Join(dir, ".a.json.tmp-456")
	other := filepath.Join(dir, ".b.json.tmp-789")
	for _, p := range []string{stale, live, other} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	holdLock(t, live)
	if err := WriteFile(path, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{".": "/", "a.json": "two", ".a.json.tmp-456": "x", ".b.json.tmp-789": "x"}
	if diff := cmp.Diff(want, tree(t, dir)); diff != "" {
		t.Errorf("folder (-want +got)\n%s", diff)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600", st.Mode(), err)
	}
}

func TestWriteDir(t *testing.T) {
	for _, mode := range []string{"exchange", "set aside"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "set aside" {
				swapExchange = func(a, b string) error { return errors.ErrUnsupported }
				t.Cleanup(func() { swapExchange = exchange })
			}
			parent := t.TempDir()
			run := filepath.Join(parent, "run")
			// First write creates the folder.
			if err := WriteDir(run, writeFiles(map[string]string{"heads": "h1", "config.json": "c1", "eval_test.json": "e1"})); err != nil {
				t.Fatal(err)
			}
			first := tree(t, run)
			// A failing fill leaves it byte for byte.
			boom := errors.New("boom")
			err := WriteDir(run, func(tmp string) error {
				writeFiles(map[string]string{"heads": "h2"})(tmp)
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("WriteDir: %v, want boom", err)
			}
			if diff := cmp.Diff(first, tree(t, run)); diff != "" {
				t.Errorf("after a failed write (-want +got)\n%s", diff)
			}
			// A successful one replaces the whole folder: no file of the
			// previous run (eval_test.json) survives.
			if err := WriteDir(run, writeFiles(map[string]string{"heads": "h3", "config.json": "c3"})); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{".": "/", "heads": "h3", "config.json": "c3"}
			if diff := cmp.Diff(want, tree(t, run)); diff != "" {
				t.Errorf("after a write (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff([]string{"run"}, names(t, parent)); diff != "" {
				t.Errorf("leftovers beside the run (-want +got)\n%s", diff)
			}
			if st, err := os.Stat(run); err != nil || st.Mode().Perm() != 0o755 {
				t.Errorf("mode %v (%v), want 0755", st.Mode(), err)
			}
		})
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// TestRecoverDir builds the states a writer killed at each point leaves
// and checks the next WriteDir (through RecoverDir) ends with one complete
// folder: the previous one, or the new one when the swap had happened.
func TestRecoverDir(t *testing.T) {
	mk := func(t *testing.T, dir, content string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "heads"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, parent string)
		want  map[string]string // files of parent after RecoverDir
	}{
		{"killed while filling", func(t *testing.T, p string) {
			mk(t, filepath.Join(p, "run"), "old")
			mk(t, filepath.Join(p, ".run.tmp-1"), "half")
		}, map[string]string{"run/heads": "old"}},
		{"killed after the exchange", func(t *testing.T, p string) {
			mk(t, filepath.Join(p, "run"), "new")
			mk(t, filepath.Join(p, ".run.tmp-1"), "old")
		}, map[string]string{"run/heads": "new"}},
		{"killed between the renames", func(t *testing.T, p string) {
			mk(t, filepath.Join(p, ".run.old-1"), "old")
			mk(t, filepath.Join(p, ".run.tmp-2"), "new")
		}, map[string]string{"run/heads": "old"}},
		{"killed before removing the old one", func(t *testing.T, p string) {
			mk(t, filepath.Join(p, "run"), "new")
			mk(t, filepath.Join(p, ".run.old-1"), "old")
		}, map[string]string{"run/heads": "new"}},
		{"first write killed", func(t *testing.T, p string) {
			mk(t, filepath.Join(p, ".run.tmp-1"), "half")
		}, map[string]string{}},
		{"live writers are left alone", func(t *testing.T, p string) {
			mk(t, filepath.Join(p, ".run.old-1"), "old")
			mk(t, filepath.Join(p, ".run.tmp-2"), "new")
			holdLock(t, filepath.Join(p, ".run.old-1"))
			holdLock(t, filepath.Join(p, ".run.tmp-2"))
		}, map[string]string{".run.old-1/heads": "old", ".run.tmp-2/heads": "new"}},
		{"other runs are left alone", func(t *testing.T, p string) {
			mk(t, filepath.Join(p, "run"), "a")
			mk(t, filepath.Join(p, ".run2.tmp-1"), "b")
			mk(t, filepath.Join(p, "run.linear"), "c")
		}, map[string]string{"run/heads": "a", ".run2.tmp-1/heads": "b", "run.linear/heads": "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			tc.setup(t, parent)
			if err := RecoverDir(filepath.Join(parent, "run")); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range tree(t, parent) {
				if v != "/" {
					got[k] = v
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestWriteDirKilled kills (SIGKILL) a process while it fills the new
// folder: the previous folder is intact, and the next WriteDir removes the
// killed one's temporary folder.
func TestWriteDirKilled(t *testing.T) {
	if dir := os.Getenv("ATOMICFILE_TEST_WRITER"); dir != "" {
		// The child: fill a new run, then hang until killed.
		WriteDir(dir, func(tmp string) error {
			writeFiles(map[string]string{"heads": "half"})(tmp)
			os.WriteFile(dir+".ready", nil, 0o644)
			time.Sleep(time.Minute)
			return nil
		})
		os.Exit(3)
	}
	parent := t.TempDir()
	run := filepath.Join(parent, "run")
	if err := WriteDir(run, writeFiles(map[string]string{"heads": "old"})); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestWriteDirKilled$")
	child.Env = append(os.Environ(), "ATOMICFILE_TEST_WRITER="+run)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !exists(run + ".ready") {
		if time.Now().After(deadline) {
			child.Process.Kill()
			t.Fatal("the writer never got to fill its folder")
		}
		time.Sleep(5 * time.Millisecond)
	}
	os.Remove(run + ".ready")
	// A live writer's temporary folder survives a recovery...
	if err := RecoverDir(run); err != nil {
		t.Fatal(err)
	}
	if got := names(t, parent); len(got) != 2 || !strings.HasPrefix(got[0], ".run.tmp-") {
		t.Fatalf("while the writer runs: %v, want its temporary folder and run", got)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	if diff := cmp.Diff(map[string]string{".": "/", "heads": "old"}, tree(t, run)); diff != "" {
		t.Errorf("run after the kill (-want +got)\n%s", diff)
	}
	// ...and goes once the writer is dead.
	if err := RecoverDir(run); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"run"}, names(t, parent)); diff != "" {
		t.Errorf("after recovery (-want +got)\n%s", diff)
	}
}
