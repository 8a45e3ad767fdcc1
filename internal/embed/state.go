package embed

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// stateMagic opens every state file; the version after it is bumped when
// the envelope changes.
const stateMagic = "reelmatch-encoder-state 1\n"

// stateHeader says what a saved encoder state was fitted under. A state is
// reused only when all of it matches the current run.
type stateHeader struct {
	Encoder string `json:"encoder"`
	// BaseFingerprint identifies the encoder's recipe and settings without
	// its fitted state (see RecipeFingerprinter).
	BaseFingerprint string `json:"base_fingerprint"`
	TextInput       string `json:"text_input"`
	// TextDim is the text dimension of an encoder that has a choice
	// (TextDimmer); 0 otherwise.
	TextDim int `json:"text_dim,omitempty"`
	// TrainSHA256 digests the training texts (ids and text hashes), so a
	// changed training split refits.
	TrainSHA256 string `json:"train_sha256"`
	TrainTexts  int    `json:"train_texts"`
}

// readState reads a state file; a missing file returns (nil, nil, nil).
func readState(path string) (*stateHeader, []byte, error) {
	data, err := inputfile.ReadFile(context.Background(), path, inputfile.Weights)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read encoder state: %w", err)
	}
	r := bufio.NewReader(bytes.NewReader(data))
	magic := make([]byte, len(stateMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != stateMagic {
		return nil, nil, fmt.Errorf("encoder state %q: not a reelmatch state file (rerun `reelmatch embed`)", path)
	}
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, nil, fmt.Errorf("encoder state %q: header: %w (rerun `reelmatch embed`)", path, err)
	}
	var h stateHeader
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, nil, fmt.Errorf("encoder state %q: header: %w (rerun `reelmatch embed`)", path, err)
	}
	body := data[len(stateMagic)+len(line):]
	return &h, body, nil
}

func writeState(path string, h stateHeader, body []byte) error {
	line, err := json.Marshal(h)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString(stateMagic)
	buf.Write(line)
	buf.WriteByte('\n')
	buf.Write(body)
	if err := atomicfile.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("save encoder state: %w", err)
	}
	return nil
}

// trainDigest hashes the training texts in order with their ids.
func trainDigest(ids []reel.MovieID, texts []string) string {
	h := sha256.New()
	for i, id := range ids {
		fmt.Fprintf(h, "%d:%s\x00", len(id), id)
		sum := sha256.Sum256([]byte(texts[i]))
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ensureFitted restores the saved state of a Fitter when it was fitted
// under the same settings and training texts, and otherwise fits on the
// training texts and saves the state. It reports whether it fitted.
func ensureFitted(ctx context.Context, work workdir.Dir, enc encoder.Encoder, f encoder.Fitter, textInput string, trainIDs []reel.MovieID, trainTexts []string) (bool, error) {
	path := work.EncoderState(enc.Name())
	want := stateHeader{
		Encoder:         enc.Name(),
		BaseFingerprint: baseFingerprint(enc),
		TextInput:       textInput,
		TextDim:         textDimOf(enc),
		TrainSHA256:     trainDigest(trainIDs, trainTexts),
		TrainTexts:      len(trainTexts),
	}
	h, body, err := readState(path)
	if err == nil && h != nil && *h == want {
		if err := f.UnmarshalState(body); err == nil {
			return false, nil
		}
		// A state this build cannot read is refitted, like a stale one.
	}
	if len(trainTexts) == 0 {
		return false, fmt.Errorf("fit encoder %s: the manifest has no training movies (check train.txt and rerun `reelmatch prepare`)", enc.Name())
	}
	if err := f.Fit(ctx, trainTexts); err != nil {
		return false, fmt.Errorf("fit encoder %s: %w", enc.Name(), err)
	}
	body, err = f.MarshalState()
	if err != nil {
		return false, fmt.Errorf("fit encoder %s: marshal state: %w", enc.Name(), err)
	}
	if err := writeState(path, want, body); err != nil {
		return false, err
	}
	return true, nil
}

// TextDimmer is an optional ability of an encoder whose text dimension is
// a setting (encoder.Config.TextDim): the builtin encoder's LSA size. The
// saved state records it, so OpenEncoder rebuilds the encoder as embed ran
// it.
type TextDimmer interface {
	TextDim() int
}

func textDimOf(enc encoder.Encoder) int {
	if d, ok := enc.(TextDimmer); ok {
		return d.TextDim()
	}
	return 0
}

// RecipeFingerprinter is an optional ability of a Fitter: a fingerprint of
// its recipe and settings that leaves out the fitted state, so a saved state
// can be matched to the settings it was fitted under whether or not the
// encoder at hand is fitted already. Without it, the fingerprint of the
// encoder as given is used.
type RecipeFingerprinter interface {
	RecipeFingerprint() string
}

func baseFingerprint(enc encoder.Encoder) string {
	if r, ok := enc.(RecipeFingerprinter); ok {
		return r.RecipeFingerprint()
	}
	return enc.Fingerprint()
}
