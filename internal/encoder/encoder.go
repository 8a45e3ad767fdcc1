package encoder

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sort"
	"strings"
	"sync"
)

// ErrUnknownEncoder is returned by New for a name nobody registered.
var ErrUnknownEncoder = errors.New("unknown encoder")

// ImageTower turns posters into vectors.
type ImageTower interface {
	// Dim is the length of every vector Encode returns.
	Dim() int
	// Prepare turns one decoded poster into the tower's input (for ONNX
	// towers a [3,H,W] float32 tensor, for hand-crafted towers the features
	// themselves). It is safe for concurrent use, so callers decode and
	// prepare posters on several goroutines while Encode runs.
	Prepare(img image.Image) ([]float32, error)
	// Encode maps a batch of prepared inputs to one vector each, in order.
	// It is not necessarily safe for concurrent use, unless the tower is a
	// ParallelEncoder. Outputs are not L2-normalised.
	Encode(ctx context.Context, inputs [][]float32) ([][]float32, error)
}

// ParallelEncoder is an optional ability of an ImageTower: up to
// EncodeStreams() Encode calls may run at once, each on its own share of
// the runtime's threads, so a caller with many batches (embed) keeps that
// many in flight.
type ParallelEncoder interface {
	EncodeStreams() int
}

// TextTower turns intros into vectors.
type TextTower interface {
	// Dim is the length of every vector Encode returns.
	Dim() int
	// Encode maps a batch of texts to one vector each, in order. Not
	// necessarily safe for concurrent use. Outputs are not L2-normalised.
	Encode(ctx context.Context, texts []string) ([][]float32, error)
}

// Encoder is a named pair of towers.
type Encoder interface {
	// Name is the registry name ("builtin", "resnet50-distilbert", ...).
	Name() string
	// Fingerprint is a hex digest of everything that determines the
	// outputs: model file hashes, preprocessing settings, fitted state.
	// A cache made under another fingerprint is stale.
	Fingerprint() string
	Image() ImageTower
	Text() TextTower
	// Close releases runtime sessions.
	Close() error
}

// Fitter is implemented by encoders that learn from the training split
// before they can encode (the builtin encoder's TF-IDF and SVD). embed calls
// Fit with the training movies' texts when no saved state matches, then
// saves MarshalState beside the feature cache; later commands restore it
// with UnmarshalState before encoding new text.
type Fitter interface {
	Fit(ctx context.Context, trainTexts []string) error
	MarshalState() ([]byte, error)
	UnmarshalState(state []byte) error
}

// SharedSpace is implemented by encoders whose two towers embed into one
// space, so their raw outputs can be compared without trained heads (CLIP).
type SharedSpace interface {
	SharedSpace() bool
}

// Config is what every encoder is built from. Zero values mean defaults.
type Config struct {
	// ModelsDir is a folder holding the encoder's model files in the
	// preset's layout; empty means the models cache (see `reelmatch models`).
	ModelsDir string
	// Backend selects the ONNX runtime: "ort", "go" or "" (ort when its
	// library is found, else go).
	Backend string
	// TextDim is the size of the text vectors where an encoder has a choice
	// (builtin: how many LSA components it keeps); 0 means its default.
	// Encoders without a choice refuse any other value.
	TextDim int
	// TextInput selects "raw" or "clean" intros; encoders only record it in
	// their fingerprint, callers pick the text.
	TextInput string
	// LongText is "truncate" or "chunk" for texts beyond the model window.
	LongText string
	// Threads bounds runtime threads; 0 means the number of CPUs.
	Threads int
	// ImageStreams is how many image Encode calls may run at once, each
	// one runtime call on Threads/ImageStreams threads (at least 1), where
	// the runtime runs calls in parallel (ParallelRunner) and the tower
	// gains from it (the pretrained encoders: int8 models); the tower then
	// reports it as a ParallelEncoder. 0 or 1: one call at a time with
	// every thread, the lowest latency for one poster (search, serve).
	// embed sets it and runs whole batches side by side. Batches are what
	// they are with one stream, so the vectors do not change.
	ImageStreams int
	// ImagePrep names the image preprocessing recipe where an encoder has a
	// choice ("seed", "torchvision", "clip"); empty means its default.
	ImagePrep string
}

// Factory builds an encoder from a Config.
type Factory func(cfg Config) (Encoder, error)

var (
	mu        sync.Mutex
	factories = map[string]Factory{}
	shared    = map[string]bool{}
)

// RegisterSharedSpace records that the named encoder's towers embed into
// one space (its SharedSpace method returns true), so callers can ask
// HasSharedSpace without building it: opening CLIP loads 600 MB of models.
func RegisterSharedSpace(name string) {
	mu.Lock()
	defer mu.Unlock()
	shared[name] = true
}

// HasSharedSpace reports whether the named encoder was registered with a
// shared space.
func HasSharedSpace(name string) bool {
	mu.Lock()
	defer mu.Unlock()
	return shared[name]
}

// Register makes a factory available by name. It panics on a duplicate,
// which is a programmer error.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[name]; dup {
		panic("encoder: Register called twice for " + name)
	}
	factories[name] = f
}

// New builds the named encoder.
func New(name string, cfg Config) (Encoder, error) {
	mu.Lock()
	f, ok := factories[name]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w %q: the encoders are %s", ErrUnknownEncoder, name, strings.Join(Names(), ", "))
	}
	return f(cfg)
}

// Names lists the registered encoder names, sorted.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
