package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// asideInfix names a folder set aside during a swap: ".NAME.old-RANDOM".
const asideInfix = ".old-"

// swapExchange is exchange; tests replace it to drive the set-aside path.
var swapExchange = exchange

// WriteDir atomically replaces the folder dir with one that fill writes.
//
// fill gets a new, empty temporary folder beside dir (".NAME.tmp-*") and
// writes the whole content into it. Only when fill returns nil is that
// folder moved into place, and then the previous dir, if any, is removed.
// If fill fails, or the process is killed at any point, dir keeps its
// previous content byte for byte and the next WriteDir or RecoverDir of
// the same dir removes the leftovers.
//
// Where the system can (Linux), the new folder and the previous one are
// exchanged in one step, so a reader never finds dir missing. Elsewhere
// dir is renamed aside (".NAME.old-*"), the new folder renamed in, and the
// old one removed; a writer killed between the two renames leaves dir
// missing, and RecoverDir renames the set-aside folder back.
func WriteDir(dir string, fill func(tmp string) error) (err error) {
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create folder %q: %w", parent, err)
	}
	if err := RecoverDir(dir); err != nil {
		return err
	}
	tmp, held, err := mkdirLocked(parent, "."+base+tmpInfix+"*")
	if err != nil {
		return fmt.Errorf("create temporary folder in %q: %w", parent, err)
	}
	defer held.Close() // releases the lock, after the swap
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := fill(tmp); err != nil {
		return err
	}
	syncDir(tmp)
	if err := swapIn(tmp, dir); err != nil {
		return fmt.Errorf("move %q into place: %w", dir, err)
	}
	syncDir(parent)
	return nil
}

// mkdirLocked makes a new folder named by pattern in parent (os.MkdirTemp,
// then mode 0755) and returns it with the open handle that holds its lock.
func mkdirLocked(parent, pattern string) (string, *os.File, error) {
	for {
		dir, err := os.MkdirTemp(parent, pattern)
		if err != nil {
			return "", nil, err
		}
		f, err := os.Open(dir)
		if err == nil {
			if err = lock(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			os.Remove(dir)
			return "", nil, err
		}
		if linked(f) {
			if err := os.Chmod(dir, 0o755); err != nil {
				f.Close()
				os.Remove(dir)
				return "", nil, err
			}
			return dir, f, nil
		}
		f.Close() // a cleaner removed it before we locked it
	}
}

// swapIn moves the finished folder tmp to dir and removes what dir held.
func swapIn(tmp, dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		err := os.Rename(tmp, dir)
		if err == nil || !exists(dir) {
			return err
		}
		// Another writer put a dir there meanwhile: replace it below.
	}
	err := swapExchange(tmp, dir)
	if err == nil {
		// tmp now holds the previous folder.
		os.RemoveAll(tmp)
		return nil
	}
	if !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOSYS) {
		return err
	}
	return swapAside(tmp, dir)
}

// swapAside replaces dir by tmp in two renames: dir to a set-aside name,
// tmp to dir. It holds dir's lock throughout, so RecoverDir leaves the
// set-aside folder alone while this writer lives, and restores it if the
// writer dies before the second rename.
func swapAside(tmp, dir string) error {
	old, err := openNonBlocking(dir)
	if err != nil {
		return err
	}
	defer old.Close()
	if err := lock(old); err != nil {
		return err
	}
	aside := filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+asideInfix+strconv.FormatUint(rand.Uint64(), 36))
	if err := os.Rename(dir, aside); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if back := os.Rename(aside, dir); back != nil {
			return fmt.Errorf("%w (and the previous folder is in %q: %v)", err, aside, back)
		}
		return err
	}
	os.RemoveAll(aside)
	return nil
}

// RecoverDir tidies what killed writers of dir (WriteDir) left: if dir is
// missing and a set-aside copy that no live writer holds exists, it is
// renamed back to dir; then every unlocked temporary or set-aside folder of
// dir is removed. Folders of writers still running are left alone.
func RecoverDir(dir string) error {
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	entries, err := os.ReadDir(parent)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("recover %q: %w", dir, err)
	}
	asidePrefix := "." + base + asideInfix
	if !exists(dir) {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), asidePrefix) && restore(filepath.Join(parent, e.Name()), dir) {
				break
			}
		}
	}
	removeStale(parent, "."+base+tmpInfix, "")
	removeStale(parent, asidePrefix, "")
	return nil
}

// restore renames the set-aside folder aside back to dir when no live
// writer holds it.
func restore(aside, dir string) bool {
	f, err := openNonBlocking(aside)
	if err != nil {
		return false
	}
	defer f.Close()
	if ok, err := tryLock(f); err != nil || !ok {
		return false
	}
	return os.Rename(aside, dir) == nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
