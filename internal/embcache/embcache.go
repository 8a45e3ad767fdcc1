package embcache

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/safetensors"
)

// ErrNotFound is wrapped by Load and Stat when no cache file exists yet;
// the message tells the user to run `reelmatch embed`.
var ErrNotFound = errors.New("feature cache not found")

// formatVersion is bumped when the file layout changes; a file of another
// version is treated as absent by Lookup (its rows are all misses).
const formatVersion = "1"

// Metadata keys and tensor names of the safetensors file.
const (
	keyFormat      = "reelmatch_features"
	keyEncoder     = "encoder"
	keyFingerprint = "fingerprint"
	keyImageFP     = "image_fingerprint"
	keyTextFP      = "text_fingerprint"
	keyTextInput   = "text_input"
	keyIDs         = "ids"
	keyPosterHash  = "poster_sha256"
	keyTextHash    = "text_sha256"
	tensorImage    = "image"
	tensorText     = "text"
)

// Features is one encoder's vectors for a list of movies. Image[i] and
// Text[i] belong to IDs[i]. PosterHashes[i] is the hex SHA-256 of the poster
// file (from the manifest) and TextHashes[i] the hex SHA-256 of the exact
// text the text tower encoded (the raw or the cleaned intro, see TextHash),
// so a change in the intro or in its cleaning both show up. Vectors are raw
// encoder outputs (not L2-normalised).
type Features struct {
	Encoder string
	// Fingerprint is the encoder's fingerprint; ImageFingerprint and
	// TextFingerprint those of its towers (equal to Fingerprint for
	// encoders that do not tell them apart), which decide reuse.
	Fingerprint      string
	ImageFingerprint string
	TextFingerprint  string
	// TextInput is "raw" or "clean": which intro the text rows encode.
	TextInput    string
	IDs          []reel.MovieID
	PosterHashes []string
	TextHashes   []string
	Image        [][]float32 // [n][imageDim]
	Text         [][]float32 // [n][textDim]
}

// Info is the header of a cache file, read without its vectors.
type Info struct {
	Encoder, Fingerprint, TextInput string
	Movies                          int
	ImageDim, TextDim               int
}

// Load reads a whole cache file. A missing file gives an error wrapping
// ErrNotFound (and fs.ErrNotExist) that says to run `reelmatch embed`.
func Load(path string) (*Features, error) {
	file, err := safetensors.ReadFile(path)
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

func notFound(path string, err error) error {
	return fmt.Errorf("%w: %q: run `reelmatch embed` first (%w)", ErrNotFound, path, err)
}

// Stat reads only the header of a cache file.
func Stat(path string) (*Info, error) {
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("stat feature cache: %w", err)
	}
	defer fh.Close()
	r := bufio.NewReader(fh)
	var hlen uint64
	if err := binary.Read(r, binary.LittleEndian, &hlen); err != nil {
		return nil, fmt.Errorf("stat feature cache %q: header length: %w", path, err)
	}
	if hlen > 100<<20 {
		return nil, fmt.Errorf("stat feature cache %q: header length %d is implausible", path, hlen)
	}
	hbuf := make([]byte, hlen)
	if _, err := io.ReadFull(r, hbuf); err != nil {
		return nil, fmt.Errorf("stat feature cache %q: header: %w", path, err)
	}
	var header struct {
		Meta  map[string]string `json:"__metadata__"`
		Image struct {
			Shape []int `json:"shape"`
		} `json:"image"`
		Text struct {
			Shape []int `json:"shape"`
		} `json:"text"`
	}
	if err := json.Unmarshal(hbuf, &header); err != nil {
		return nil, fmt.Errorf("stat feature cache %q: header JSON: %w", path, err)
	}
	if header.Meta[keyFormat] != formatVersion {
		return nil, fmt.Errorf("stat feature cache %q: not a reelmatch feature cache of format %s (rerun `reelmatch embed`)", path, formatVersion)
	}
	info := &Info{Encoder: header.Meta[keyEncoder], Fingerprint: header.Meta[keyFingerprint], TextInput: header.Meta[keyTextInput]}
	if s := header.Image.Shape; len(s) == 2 {
		info.Movies, info.ImageDim = s[0], s[1]
	}
	if s := header.Text.Shape; len(s) == 2 {
		info.TextDim = s[1]
	}
	return info, nil
}

func fromFile(file *safetensors.File) (*Features, error) {
	m := file.Metadata
	if m[keyFormat] != formatVersion {
		return nil, fmt.Errorf("metadata %q is %q, want %q", keyFormat, m[keyFormat], formatVersion)
	}
	f := &Features{Encoder: m[keyEncoder], Fingerprint: m[keyFingerprint], TextInput: m[keyTextInput],
		ImageFingerprint: m[keyImageFP], TextFingerprint: m[keyTextFP]}
	for key, dst := range map[string]any{keyIDs: &f.IDs, keyPosterHash: &f.PosterHashes, keyTextHash: &f.TextHashes} {
		if err := json.Unmarshal([]byte(m[key]), dst); err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
	}
	n := len(f.IDs)
	if len(f.PosterHashes) != n || len(f.TextHashes) != n {
		return nil, fmt.Errorf("%d ids but %d poster hashes and %d intro hashes", n, len(f.PosterHashes), len(f.TextHashes))
	}
	var err error
	if f.Image, err = rows(file, tensorImage, n); err != nil {
		return nil, err
	}
	if f.Text, err = rows(file, tensorText, n); err != nil {
		return nil, err
	}
	return f, nil
}

func rows(file *safetensors.File, name string, n int) ([][]float32, error) {
	t, err := file.Tensor(name)
	if err != nil {
		return nil, err
	}
	if len(t.Shape) != 2 || t.Shape[0] != n || t.F32 == nil {
		return nil, fmt.Errorf("tensor %q has shape %v, want [%d, dim] float", name, t.Shape, n)
	}
	dim := t.Shape[1]
	out := make([][]float32, n)
	for i := range out {
		out[i] = t.F32[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return out, nil
}

// Save atomically writes f to path. Every row of Image must have one
// length, and every row of Text one length.
func (f *Features) Save(path string) error {
	n := len(f.IDs)
	if len(f.Image) != n || len(f.Text) != n || len(f.PosterHashes) != n || len(f.TextHashes) != n {
		return fmt.Errorf("save feature cache %q: %d ids, %d image rows, %d text rows, %d poster hashes, %d intro hashes",
			path, n, len(f.Image), len(f.Text), len(f.PosterHashes), len(f.TextHashes))
	}
	img, err := flatten(f.Image)
	if err != nil {
		return fmt.Errorf("save feature cache %q: image rows: %w", path, err)
	}
	txt, err := flatten(f.Text)
	if err != nil {
		return fmt.Errorf("save feature cache %q: text rows: %w", path, err)
	}
	meta := map[string]string{
		keyFormat:      formatVersion,
		keyEncoder:     f.Encoder,
		keyFingerprint: f.Fingerprint,
		keyImageFP:     f.ImageFingerprint,
		keyTextFP:      f.TextFingerprint,
		keyTextInput:   f.TextInput,
		keyIDs:         mustJSON(nonNil(f.IDs)),
		keyPosterHash:  mustJSON(nonNil(f.PosterHashes)),
		keyTextHash:    mustJSON(nonNil(f.TextHashes)),
	}
	tensors := map[string]safetensors.Tensor{tensorImage: img, tensorText: txt}
	if err := safetensors.WriteFile(path, tensors, meta); err != nil {
		return fmt.Errorf("save feature cache: %w", err)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil { // only strings and string-kinded ids go in
		panic(err)
	}
	return string(b)
}

func flatten(rows [][]float32) (safetensors.Tensor, error) {
	dim := 0
	if len(rows) > 0 {
		dim = len(rows[0])
	}
	data := make([]float32, 0, len(rows)*dim)
	for i, r := range rows {
		if len(r) != dim {
			return safetensors.Tensor{}, fmt.Errorf("row %d has %d values, row 0 has %d", i, len(r), dim)
		}
		data = append(data, r...)
	}
	return safetensors.Tensor{Shape: []int{len(rows), dim}, F32: data}, nil
}

// Rows returns the image and text rows of ids, in that order. The slices
// share memory with f. An id the cache lacks is an error naming it.
func (f *Features) Rows(ids []reel.MovieID) (img, txt [][]float32, err error) {
	at := make(map[reel.MovieID]int, len(f.IDs))
	for i, id := range f.IDs {
		at[id] = i
	}
	img = make([][]float32, len(ids))
	txt = make([][]float32, len(ids))
	for k, id := range ids {
		i, ok := at[id]
		if !ok {
			return nil, nil, fmt.Errorf("movie %s is not in the %s feature cache: rerun `reelmatch embed --encoder %s`", id, f.Encoder, f.Encoder)
		}
		img[k], txt[k] = f.Image[i], f.Text[i]
	}
	return img, txt, nil
}

// Index finds reusable rows of a cache for one encoder fingerprint and
// text-input setting. The zero Index (or one built from a nil or stale
// cache) misses everything.
type Index struct {
	f     *Features
	image map[string]int // poster SHA-256 -> row
	text  map[string]int // text SHA-256 -> row
}

// Key says which cached rows are still valid: image rows made under
// ImageFingerprint, and text rows made under TextFingerprint from the
// TextInput setting.
type Key struct {
	ImageFingerprint, TextFingerprint, TextInput string
}

// Lookup indexes f's rows that are valid for k. f may be nil.
func (f *Features) Lookup(k Key) *Index {
	ix := &Index{f: f, image: map[string]int{}, text: map[string]int{}}
	if f == nil {
		return ix
	}
	imageOK := f.ImageFingerprint == k.ImageFingerprint
	textOK := f.TextFingerprint == k.TextFingerprint && f.TextInput == k.TextInput
	for i := range f.IDs {
		if imageOK {
			ix.image[f.PosterHashes[i]] = i
		}
		if textOK {
			ix.text[f.TextHashes[i]] = i
		}
	}
	return ix
}

// Image returns the cached image row for a poster with the given hash, if
// any. Rows are addressed by content alone: two movies sharing a poster
// file share its vector.
func (ix *Index) Image(posterHash string) ([]float32, bool) {
	i, ok := ix.image[posterHash]
	if !ok {
		return nil, false
	}
	return ix.f.Image[i], true
}

// Text returns the cached text row for a text with the given TextHash, if
// any.
func (ix *Index) Text(textHash string) ([]float32, bool) {
	i, ok := ix.text[textHash]
	if !ok {
		return nil, false
	}
	return ix.f.Text[i], true
}

// TextHash is the content key of a text row: the hex SHA-256 of the text
// as encoded (UTF-8).
func TextHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}
