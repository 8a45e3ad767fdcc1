package pretrained

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
	"github.com/reelmatch/reelmatch/internal/inputfile"
)

// Model files are hundreds of megabytes; hashing them on every command
// would cost about a second. Digests are remembered by absolute path, size
// and modification time, in memory and in a small JSON file in the user's
// cache folder, so a file is hashed once until it changes.

type hashKey struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime_ns"`
}

type hashEntry struct {
	hashKey
	SHA256 string `json:"sha256"`
}

var (
	hashMu     sync.Mutex
	hashMemo   map[hashKey]string
	hashLoaded bool
)

// hashCacheFile is where digests persist; "" disables persistence. Tests
// point it at a temporary folder.
var hashCacheFile = func() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "reelmatch", "filehashes.json")
}

// fileSHA256 returns the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	key := hashKey{Path: abs, Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	hashMu.Lock()
	if !hashLoaded {
		hashMemo = loadHashCache()
		hashLoaded = true
	}
	sum, ok := hashMemo[key]
	hashMu.Unlock()
	if ok {
		return sum, nil
	}
	f, err := inputfile.Open(abs, inputfile.Model)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %q: %w", path, err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	hashMu.Lock()
	hashMemo[key] = sum
	saveHashCache(hashMemo)
	hashMu.Unlock()
	return sum, nil
}

func loadHashCache() map[hashKey]string {
	m := map[hashKey]string{}
	p := hashCacheFile()
	if p == "" {
		return m
	}
	b, err := inputfile.ReadFile(context.Background(), p, inputfile.Config)
	if err != nil {
		return m
	}
	var entries []hashEntry
	if json.Unmarshal(b, &entries) != nil {
		return m // a damaged cache is only a cache: start afresh
	}
	for _, e := range entries {
		m[e.hashKey] = e.SHA256
	}
	return m
}

// saveHashCache writes the memo, keeping entries whose files still exist
// unchanged. Failure only costs a rehash later, so it is not reported.
func saveHashCache(m map[hashKey]string) {
	p := hashCacheFile()
	if p == "" {
		return
	}
	entries := make([]hashEntry, 0, len(m))
	for k, v := range m {
		if fi, err := os.Stat(k.Path); err != nil || fi.Size() != k.Size || fi.ModTime().UnixNano() != k.MTime {
			delete(m, k)
			continue
		}
		entries = append(entries, hashEntry{k, v})
	}
	b, err := json.MarshalIndent(entries, "", " ")
	if err != nil {
		return
	}
	_ = atomicfile.WriteFile(p, b, 0o644)
}
