// Package atomicfile writes files and folders so that readers see either
// the old content or the new, never a torn write, and so that a process
// killed at any point (kill -9 included) leaves the previous version intact.
//
// A file is written to a temporary sibling (".NAME.tmp-*"), synced, then
// renamed over the target (Write, WriteFile). A folder is filled in a
// temporary sibling folder and swapped into place (WriteDir). A writer
// holds an exclusive lock (flock) on its temporary file or folder from
// creation to rename, so the next writer of the same target can tell the
// leftovers of a killed process (unlocked) from another writer's work in
// progress (locked) and removes only the former.
package atomicfile

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// tmpInfix separates a target's name from the random suffix of its
// temporary siblings: ".NAME.tmp-RANDOM".
const tmpInfix = ".tmp-"

// WriteFile atomically replaces path with data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	})
}

// Write atomically replaces path with what fill writes. If fill fails, the
// target is left untouched and the temporary file is removed. Temporary
// files that killed writers of the same path left behind are removed.
func Write(path string, perm os.FileMode, fill func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create folder %q: %w", dir, err)
	}
	tmp, err := createLocked(dir, "."+filepath.Base(path)+tmpInfix+"*")
	if err != nil {
		return fmt.Errorf("create temporary file in %q: %w", dir, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
		tmp.Close() // after the rename: closing releases the lock
	}()
	removeStale(dir, "."+filepath.Base(path)+tmpInfix, tmp.Name())
	if err := fill(tmp); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %q: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename into %q: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// createLocked creates a new file named by pattern in dir (os.CreateTemp)
// and locks it. A cleaner that grabbed the lock first may have removed the
// file between its creation and the lock; then another one is made.
func createLocked(dir, pattern string) (*os.File, error) {
	for {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		if err := lock(f); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, err
		}
		if linked(f) {
			return f, nil
		}
		f.Close()
	}
}

// removeStale removes the entries of dir whose names start with prefix
// (temporaries of one target), except keep, that no live writer holds
// locked. Errors are ignored: a leftover is only untidy, and the next
// writer tries again.
func removeStale(dir, prefix, keep string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if !strings.HasPrefix(e.Name(), prefix) || path == keep {
			continue
		}
		removeIfUnlocked(path)
	}
}

// removeIfUnlocked removes path (a file or a whole folder) when no process
// holds its lock, and reports whether it did.
func removeIfUnlocked(path string) bool {
	f, err := openNonBlocking(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if ok, err := tryLock(f); err != nil || !ok {
		return false
	}
	// Remove what we locked, not something renamed into its place since.
	if st, err := os.Lstat(path); err != nil || !sameFile(f, st) {
		return false
	}
	return os.RemoveAll(path) == nil
}

func sameFile(f *os.File, st os.FileInfo) bool {
	fst, err := f.Stat()
	return err == nil && os.SameFile(fst, st)
}

// syncDir flushes a folder's entries (a rename) to disk; errors are
// ignored, as some file systems cannot sync a folder.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// openNonBlocking opens path for reading (and locking) without blocking:
// a named pipe put where a file or folder is expected would otherwise
// block the open until a writer came.
func openNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
