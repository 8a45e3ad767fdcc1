package embcache_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/reel"
)

// Example stores two movies' vectors, reads them back by id, and shows
// which rows a later run may reuse.
func Example() {
	dir, err := os.MkdirTemp("", "embcache")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "features", "builtin.safetensors")

	f := &embcache.Features{
		Encoder: "builtin", Fingerprint: "3f2a", ImageFingerprint: "51c0", TextFingerprint: "e7d4", TextInput: "clean",
		IDs:          []reel.MovieID{"1", "2"},
		PosterHashes: []string{"aa11", "bb22"},
		TextHashes:   []string{embcache.TextHash("cowboy doll"), embcache.TextHash("board game")},
		Image:        [][]float32{{0.1, 0.9}, {0.7, 0.2}},
		Text:         [][]float32{{1, 0, 0}, {0, 1, 0}},
	}
	if err := f.Save(path); err != nil {
		log.Fatal(err)
	}

	cache, err := embcache.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	img, txt, err := cache.Rows([]reel.MovieID{"2"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("movie 2:", img[0], txt[0])

	// Same towers and setting: unchanged content is reused, a changed
	// poster is a miss.
	ix := cache.Lookup(embcache.Key{ImageFingerprint: "51c0", TextFingerprint: "e7d4", TextInput: "clean"})
	_, reuse := ix.Text(embcache.TextHash("board game"))
	_, stale := ix.Image("bb22-edited")
	fmt.Println("reuse text:", reuse, "reuse edited poster:", stale)
	// A refitted text tower keeps the posters but misses every text.
	ix = cache.Lookup(embcache.Key{ImageFingerprint: "51c0", TextFingerprint: "90ab", TextInput: "clean"})
	_, reuseImage := ix.Image("aa11")
	_, reuseText := ix.Text(embcache.TextHash("cowboy doll"))
	fmt.Println("after a refit, reuse poster:", reuseImage, "reuse text:", reuseText)
	// Output:
	// movie 2: [0.7 0.2] [0 1 0]
	// reuse text: true reuse edited poster: false
	// after a refit, reuse poster: true reuse text: false
}
