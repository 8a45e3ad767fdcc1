//go:build !unix

package embcache

import "os"

// lockFile does nothing where flock(2) does not exist: two runs of the same
// shard at once are then the user's to avoid.
func lockFile(*os.File) error { return nil }
