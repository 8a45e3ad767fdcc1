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

	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/safetensors"
)

// ErrNotFound is wrapped by Load and Stat when no cache file exists yet;
// the message tells the user to run `reelmatch embed`.
var ErrNotFound = errors.New("feature cache not found")

// formatVersion is bumped when the file layout changes; a file of another
// version cannot be loaded, so embed rebuilds it. Version 2 added the
// checksum (safetensors.Seal) and the shard keys.
const formatVersion = "2"

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
	keyShard       = "shard"
	keyManifest    = "manifest_sha256"
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
	// Shard is "I/N" for a shard file (the I-th of N slices of a manifest,
	// written by `embed --shard`), empty for a whole cache. Manifest is the
	// digest of the manifest a shard was cut from, so shards of different
	// manifests are not merged; a whole cache leaves it empty.
	Shard    string
	Manifest string
}

// Info is the header of a cache file, read without its vectors.
type Info struct {
	Encoder, Fingerprint, TextInput string
	Movies                          int
	ImageDim, TextDim               int
}

// Load reads a whole cache file. A missing file gives an error wrapping
// ErrNotFound (and fs.ErrNotExist) that says to run `reelmatch embed`.
func Load(path string) (*Features, error) { return load(path, safetensors.ReadFile) }

// load reads a cache file with read (safetensors.ReadFile or MapFile).
func load(path string, read func(string) (*safetensors.File, error)) (*Features, error) {
	file, err := read(path)
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

// ErrCorrupt is wrapped by Load when a cache's checksum does not match its
// content or it holds NaN or ±Inf.
var ErrCorrupt = errors.New("feature cache is damaged")

func notFound(path string, err error) error {
	return fmt.Errorf("%w: %q: run `reelmatch embed` first (%w)", ErrNotFound, path, err)
}

// Stat reads only the header of a cache file.
func Stat(path string) (*Info, error) {
	fh, err := inputfile.Open(path, inputfile.Cache) // a FIFO or device never blocks
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
	f.Shard, f.Manifest = m[keyShard], m[keyManifest]
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
	if err := file.Verify(); err != nil {
		return nil, fmt.Errorf("%w: %w (it changed after embed wrote it)", ErrCorrupt, err)
	}
	var bad *safetensors.NonFiniteError
	if err := file.CheckFinite(); errors.As(err, &bad) {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, nonFinite(f, bad))
	} else if err != nil {
		return nil, err
	}
	return f, nil
}

// nonFinite names the movie whose row holds a NaN or ±Inf.
func nonFinite(f *Features, e *safetensors.NonFiniteError) string {
	what := "poster"
	if e.Tensor == tensorText {
		what = "intro"
	}
	if len(e.Index) == 2 && e.Index[0] < len(f.IDs) {
		return fmt.Sprintf("the %s vector of movie %s (row %d) holds %v", what, f.IDs[e.Index[0]], e.Index[0], e.Value)
	}
	return e.Error()
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
	tensors := map[string]safetensors.Tensor{tensorImage: img, tensorText: txt}
	var bad *safetensors.NonFiniteError
	if errors.As((&safetensors.File{Tensors: tensors}).CheckFinite(), &bad) {
		return fmt.Errorf("save feature cache %q: %s", path, nonFinite(f, bad))
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
	if f.Shard != "" {
		meta[keyShard] = f.Shard
	}
	if f.Manifest != "" {
		meta[keyManifest] = f.Manifest
	}
	if err := safetensors.WriteFile(path, tensors, safetensors.Seal(tensors, meta)); err != nil {
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

// Index finds reusable rows by content: image rows by poster SHA-256, text
// rows by TextHash. The zero Index (or one built from a nil or stale cache)
// misses everything.
type Index struct {
	image map[string][]float32 // poster SHA-256 -> row
	text  map[string][]float32 // text SHA-256 -> row
}

// Key says which cached rows are still valid: image rows made under
// ImageFingerprint, and text rows made under TextFingerprint from the
// TextInput setting.
type Key struct {
	ImageFingerprint, TextFingerprint, TextInput string
}

// Lookup indexes f's rows that are valid for k. f may be nil.
func (f *Features) Lookup(k Key) *Index {
	ix := &Index{}
	if f == nil {
		return ix
	}
	imageOK := f.ImageFingerprint == k.ImageFingerprint
	textOK := f.TextFingerprint == k.TextFingerprint && f.TextInput == k.TextInput
	for i := range f.IDs {
		if imageOK {
			ix.AddImage(f.PosterHashes[i], f.Image[i])
		}
		if textOK {
			ix.AddText(f.TextHashes[i], f.Text[i])
		}
	}
	return ix
}

// AddImage records the image row of a poster with the given hash.
func (ix *Index) AddImage(posterHash string, v []float32) {
	if ix.image == nil {
		ix.image = map[string][]float32{}
	}
	ix.image[posterHash] = v
}

// AddText records the text row of a text with the given TextHash.
func (ix *Index) AddText(textHash string, v []float32) {
	if ix.text == nil {
		ix.text = map[string][]float32{}
	}
	ix.text[textHash] = v
}

// Image returns the cached image row for a poster with the given hash, if
// any. Rows are addressed by content alone: two movies sharing a poster
// file share its vector.
func (ix *Index) Image(posterHash string) ([]float32, bool) {
	v, ok := ix.image[posterHash]
	return v, ok
}

// Text returns the cached text row for a text with the given TextHash, if
// any.
func (ix *Index) Text(textHash string) ([]float32, bool) {
	v, ok := ix.text[textHash]
	return v, ok
}

// Len is the number of image and of text rows the index holds.
func (ix *Index) Len() (images, texts int) { return len(ix.image), len(ix.text) }

// TextHash is the content key of a text row: the hex SHA-256 of the text
// as encoded (UTF-8).
func TextHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}
