package hub

import (
	"errors"
	"os"
	"path/filepath"
)

// CacheRoot is the folder that holds one subfolder per model preset. In
// order of precedence: $REELMATCH_MODELS; $HF_HOME/reelmatch/models when
// HF_HOME is set (so moving the Hugging Face cache to a bigger disk moves
// reelmatch's models too); ${XDG_CACHE_HOME:-~/.cache}/reelmatch/models.
// reelmatch does not share huggingface_hub's blobs/snapshots layout.
func CacheRoot() (string, error) {
	if d := os.Getenv("REELMATCH_MODELS"); d != "" {
		return d, nil
	}
	if d := os.Getenv("HF_HOME"); d != "" {
		return filepath.Join(d, "reelmatch", "models"), nil
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return "", errors.New("cannot locate the models cache: set REELMATCH_MODELS or HOME")
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "reelmatch", "models"), nil
}
