package embed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// plan is what Run, Merge and Fit share: the text each movie's text tower
// sees, the encoder fitted (or restored) on the training split, and the keys
// that say which stored rows are valid.
type plan struct {
	enc       encoder.Encoder
	textInput string
	// texts and textHashes are per manifest movie, in manifest order.
	texts, textHashes []string
	key               embcache.Key
	fitted            bool
	// manifest digests the manifest's movies (see manifestDigest).
	manifest string
}

// begin resolves the text input and fits or restores a Fitter on the whole
// manifest's training split, whatever slice is embedded afterwards, so every
// shard gets the same state: fitting is deterministic, and the state file is
// written atomically, so shards racing on a shared folder write the same
// bytes.
func begin(ctx context.Context, work workdir.Dir, man *dataset.Manifest, enc encoder.Encoder, textInput string) (*plan, error) {
	textInput, err := ResolveTextInput(enc, textInput)
	if err != nil {
		return nil, err
	}
	p := &plan{enc: enc, textInput: textInput, texts: make([]string, len(man.Movies)), textHashes: make([]string, len(man.Movies))}
	var trainIDs []reel.MovieID
	var trainTexts []string
	for i, m := range man.Movies {
		p.texts[i] = MovieText(m, textInput)
		p.textHashes[i] = embcache.TextHash(p.texts[i])
		if m.Split == reel.SplitTrain {
			trainIDs = append(trainIDs, m.ID)
			trainTexts = append(trainTexts, p.texts[i])
		}
	}
	if f, ok := enc.(encoder.Fitter); ok {
		if p.fitted, err = ensureFitted(ctx, work, enc, f, textInput, trainIDs, trainTexts); err != nil {
			return nil, err
		}
	}
	p.key = towerKey(enc, textInput)
	p.manifest = manifestDigest(man.Movies, p.textHashes)
	return p, nil
}

// manifestDigest identifies a manifest by what decides its rows and its
// fitted state: every movie's id, split, poster hash and encoded-text hash,
// in order. Paths are left out, so WORK copies on other machines (with the
// data elsewhere) agree.
func manifestDigest(movies []reel.Movie, textHashes []string) string {
	h := sha256.New()
	for i, m := range movies {
		fmt.Fprintf(h, "%d:%s %s %s %s\n", len(m.ID), m.ID, m.Split, m.PosterHash, textHashes[i])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (p *plan) summary() *Summary {
	return &Summary{Encoder: p.enc.Name(), Fingerprint: p.enc.Fingerprint(), TextInput: p.textInput,
		ImageDim: p.enc.Image().Dim(), TextDim: p.enc.Text().Dim(), Fitted: p.fitted}
}

// features is an empty feature file for movies: header, ids and content
// hashes set, rows to fill.
func (p *plan) features(movies []reel.Movie, textHashes []string) *embcache.Features {
	n := len(movies)
	f := &embcache.Features{
		Encoder: p.enc.Name(), Fingerprint: p.enc.Fingerprint(), TextInput: p.textInput,
		ImageFingerprint: p.key.ImageFingerprint, TextFingerprint: p.key.TextFingerprint,
		IDs:          make([]reel.MovieID, n),
		PosterHashes: make([]string, n),
		TextHashes:   textHashes,
		Image:        make([][]float32, n),
		Text:         make([][]float32, n),
	}
	if f.TextHashes == nil {
		f.TextHashes = []string{}
	}
	for i, m := range movies {
		f.IDs[i], f.PosterHashes[i] = m.ID, m.PosterHash
	}
	return f
}

func (p *plan) checkpointHeader() embcache.CheckpointHeader {
	return embcache.CheckpointHeader{
		Encoder: p.enc.Name(), ImageFingerprint: p.key.ImageFingerprint, TextFingerprint: p.key.TextFingerprint,
		TextInput: p.textInput, ImageDim: p.enc.Image().Dim(), TextDim: p.enc.Text().Dim(),
	}
}

// FitSummary reports what Fit did.
type FitSummary struct {
	Encoder     string `json:"encoder"`
	Fingerprint string `json:"fingerprint"`
	TextInput   string `json:"text_input"`
	// State is the path of the fitted state, empty for encoders that learn
	// nothing from data.
	State string `json:"state,omitempty"`
	// Fitted is true when the state was fitted now, false when the saved
	// state matched (or the encoder needs none).
	Fitted bool `json:"fitted"`
}

// Fit fits an encoder that learns from data (encoder.Fitter) on the
// manifest's training split and saves its state, or checks that the saved
// state matches; it embeds nothing. Running it once before starting shards
// saves each shard the fitting; shards do without it.
func Fit(ctx context.Context, work workdir.Dir, man *dataset.Manifest, enc encoder.Encoder, textInput string) (*FitSummary, error) {
	p, err := begin(ctx, work, man, enc, textInput)
	if err != nil {
		return nil, err
	}
	out := &FitSummary{Encoder: enc.Name(), Fingerprint: enc.Fingerprint(), TextInput: p.textInput, Fitted: p.fitted}
	if _, ok := enc.(encoder.Fitter); ok {
		out.State = work.EncoderState(enc.Name())
	}
	return out, nil
}
