//go:build unix

package embcache

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f without waiting. The lock
// goes with the process: a killed run leaves no stale lock behind. NFS
// clients map it to a POSIX lock on the server.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
