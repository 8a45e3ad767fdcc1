package embcache

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/reelmatch/reelmatch/internal/safetensors"
)

// Map is Load through a read-only memory map (safetensors.MapFile): the
// vectors stay in the file's pages instead of being copied into the heap,
// which keeps a large cache out of the process's anonymous memory (the
// kernel can drop its pages and read them again). The checksum and finite
// checks read every page once. The mapping lives as long as the process:
// for a cache loaded once, as serve does.
func Map(path string) (*Features, error) {
	file, err := safetensors.MapFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("load feature cache: %w", err)
	}
	f, err := fromFile(file)
	if err != nil {
		return nil, fmt.Errorf("load feature cache %q: %w (rerun `reelmatch embed` to rebuild it)", path, err)
	}
	return f, nil
}
