package embcache

import "github.com/reelmatch/reelmatch/internal/safetensors"

// Map is Load through a read-only memory map (safetensors.MapFile): the
// vectors stay in the file's pages instead of being copied into the heap,
// which keeps a large cache out of the process's anonymous memory (the
// kernel can drop its pages and read them again). The checksum and finite
// checks read every page once. The mapping lives as long as the process:
// for a cache loaded once, as serve does.
func Map(path string) (*Features, error) { return load(path, safetensors.MapFile) }
