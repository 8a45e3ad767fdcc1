package encoder

import (
	"errors"
	"fmt"
	"sort"
)

// ErrBackendUnavailable is wrapped by runtimes that cannot start here (the
// ONNX Runtime shared library is missing, say).
var ErrBackendUnavailable = errors.New("backend unavailable")

// ErrUnsupportedModel is wrapped by runtimes that cannot run a model graph
// (an operator they lack); the message names the operator.
var ErrUnsupportedModel = errors.New("unsupported model")

// Tensor is a dense row-major tensor passed to and from a Session. Exactly
// one of F32 and I64 is set.
type Tensor struct {
	Shape []int64
	F32   []float32
	I64   []int64
}

// Session runs one ONNX model.
type Session interface {
	// Run feeds the named inputs and returns the named outputs. Safe for
	// concurrent use only if the runtime says so; callers serialise.
	Run(inputs map[string]Tensor, outputs []string) (map[string]Tensor, error)
	Close() error
}

// SessionOptions tune a session.
type SessionOptions struct {
	Threads int // intra-op threads; 0 means the number of CPUs
}

// Runtime opens ONNX models.
type Runtime interface {
	// Name is "ort" or "go".
	Name() string
	// Available reports nil when the runtime can open sessions here, or an
	// error (wrapping ErrBackendUnavailable) that says how to set it up.
	Available() error
	Open(modelPath string, opts SessionOptions) (Session, error)
}

var runtimes = map[string]Runtime{}

// RegisterRuntime makes a runtime available by name; panics on a duplicate.
func RegisterRuntime(r Runtime) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := runtimes[r.Name()]; dup {
		panic("encoder: RegisterRuntime called twice for " + r.Name())
	}
	runtimes[r.Name()] = r
}

// OpenRuntime returns the runtime a backend name selects. "" picks "ort"
// when it is available and falls back to "go".
func OpenRuntime(backend string) (Runtime, error) {
	mu.Lock()
	defer mu.Unlock()
	if backend == "" {
		if r, ok := runtimes["ort"]; ok && r.Available() == nil {
			return r, nil
		}
		backend = "go"
	}
	r, ok := runtimes[backend]
	if !ok {
		names := make([]string, 0, len(runtimes))
		for n := range runtimes {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown backend %q (known: %v)", backend, names)
	}
	if err := r.Available(); err != nil {
		return nil, err
	}
	return r, nil
}
