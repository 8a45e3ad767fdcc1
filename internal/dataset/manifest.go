package dataset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/reel"
)

// ManifestVersion is the manifest layout version; Load rejects others.
const ManifestVersion = 1

// ErrNoManifest means the WORK folder has no manifest yet.
var ErrNoManifest = errors.New("no manifest")

// Manifest is the list of kept movies written by prepare.
type Manifest struct {
	Version int `json:"version"`
	// DataDir is the absolute path of the dataset folder.
	DataDir string `json:"data_dir"`
	// TextPrep is the textprep.Pipeline fingerprint that made CleanIntro.
	TextPrep string `json:"textprep"`
	// PosterRule is the imageprep.Rule the posters passed; a rerun of
	// prepare under another rule checks every poster again.
	PosterRule string `json:"poster_rule,omitempty"`
	// Movies is sorted by id (numeric ids numerically, see CompareIDs).
	Movies []reel.Movie `json:"movies"`

	byID map[reel.MovieID]int
}

// Load reads a manifest written by Save. A missing file wraps ErrNoManifest
// and says to run prepare.
func Load(path string) (*Manifest, error) {
	data, err := inputfile.ReadFile(context.Background(), path, inputfile.Table)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (run `reelmatch prepare` first)", path, ErrNoManifest)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err) // err names the file
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("read manifest %s: %w (rerun `reelmatch prepare`)", path, err)
	}
	if m.Version != ManifestVersion {
		return nil, fmt.Errorf("manifest %s has version %d, this reelmatch reads %d (rerun `reelmatch prepare`)", path, m.Version, ManifestVersion)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("manifest %s: %w (rerun `reelmatch prepare`)", path, err)
	}
	return &m, nil
}

// check validates ids and splits and builds the id index.
func (m *Manifest) check() error {
	m.byID = make(map[reel.MovieID]int, len(m.Movies))
	for i, mv := range m.Movies {
		if mv.ID == "" {
			return fmt.Errorf("movie %d has no id", i)
		}
		if _, dup := m.byID[mv.ID]; dup {
			return fmt.Errorf("id %s appears twice", mv.ID)
		}
		if mv.Split != reel.SplitTrain && mv.Split != reel.SplitTest {
			return fmt.Errorf("movie %s has split %q, want %q or %q", mv.ID, mv.Split, reel.SplitTrain, reel.SplitTest)
		}
		m.byID[mv.ID] = i
	}
	return nil
}

// Marshal returns the manifest as written to disk: indented JSON and a
// final newline. Equal manifests give equal bytes.
func (m *Manifest) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// Save writes the manifest to path atomically.
func (m *Manifest) Save(path string) error {
	_, err := m.save(path, false)
	return err
}

// SaveIfChanged writes the manifest unless path already holds exactly the
// same bytes, in which case the file (and its mtime) is left alone and
// changed is false.
func (m *Manifest) SaveIfChanged(path string) (changed bool, err error) {
	return m.save(path, true)
}

func (m *Manifest) save(path string, onlyIfChanged bool) (bool, error) {
	data, err := m.Marshal()
	if err != nil {
		return false, err
	}
	if onlyIfChanged {
		if old, err := inputfile.ReadFile(context.Background(), path, inputfile.Table); err == nil && bytes.Equal(old, data) {
			return false, nil
		}
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return false, fmt.Errorf("save manifest: %w", err)
	}
	return true, nil
}

// Split returns the movies of one split, in manifest order.
func (m *Manifest) Split(s reel.Split) []reel.Movie {
	var out []reel.Movie
	for _, mv := range m.Movies {
		if mv.Split == s {
			out = append(out, mv)
		}
	}
	return out
}

// SplitFingerprint is the hex SHA-256 of one split's movies: each id with
// its poster and intro hashes, in manifest order. A run records the
// fingerprint of the training split it was fitted on, so an edited
// train.txt or manifest after training is detected (the test split would
// otherwise hold movies the heads were trained on).
func (m *Manifest) SplitFingerprint(s reel.Split) string {
	h := sha256.New()
	for _, mv := range m.Movies {
		if mv.Split == s {
			fmt.Fprintf(h, "%q %s %s\n", mv.ID, mv.PosterHash, mv.IntroHash)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ByID returns the movie with the given id.
func (m *Manifest) ByID(id reel.MovieID) (reel.Movie, bool) {
	if m.byID != nil && len(m.byID) == len(m.Movies) {
		if i, ok := m.byID[id]; ok && m.Movies[i].ID == id {
			return m.Movies[i], true
		}
		return reel.Movie{}, false
	}
	// A manifest built by hand has no index; fall back to a scan.
	for _, mv := range m.Movies {
		if mv.ID == id {
			return mv, true
		}
	}
	return reel.Movie{}, false
}

// IDs returns the ids of movies, in order.
func IDs(movies []reel.Movie) []reel.MovieID {
	out := make([]reel.MovieID, len(movies))
	for i, mv := range movies {
		out[i] = mv.ID
	}
	return out
}

// CompareIDs orders ids the way the manifest does: ids made only of ASCII
// digits come first, in numeric order (any length, leading zeros ignored,
// then the shorter spelling first); all other ids follow in byte order.
func CompareIDs(a, b reel.MovieID) int {
	na, nb := isDigits(string(a)), isDigits(string(b))
	switch {
	case na && nb:
		ta, tb := strings.TrimLeft(string(a), "0"), strings.TrimLeft(string(b), "0")
		if c := len(ta) - len(tb); c != 0 {
			return c
		}
		if c := strings.Compare(ta, tb); c != 0 {
			return c
		}
		return len(a) - len(b)
	case na:
		return -1
	case nb:
		return 1
	}
	return strings.Compare(string(a), string(b))
}

func sortMovies(ms []reel.Movie) {
	slices.SortFunc(ms, func(x, y reel.Movie) int { return CompareIDs(x.ID, y.ID) })
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
