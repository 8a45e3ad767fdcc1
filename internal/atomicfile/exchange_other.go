//go:build !linux

package atomicfile

import "errors"

// exchange is not available: WriteDir sets the old folder aside instead.
func exchange(a, b string) error { return errors.ErrUnsupported }
