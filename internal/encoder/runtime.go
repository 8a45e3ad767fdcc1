package encoder

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
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

// TensorInfo describes one input or output of a model as the model file
// declares it.
type TensorInfo struct {
	Name string
	// DType is the element type: "float32", "int64", or the ONNX name of
	// another type, which Run does not accept.
	DType string
	// Shape has -1 for a dimension fixed only at run time (batch, sequence).
	// An output's declared shape may be incomplete; Run returns the actual one.
	Shape []int64
}

// Session runs one ONNX model.
type Session interface {
	// Run feeds the named inputs and returns the named outputs. Safe for
	// concurrent use only if the runtime says so (ParallelRunner); callers
	// serialise otherwise.
	Run(inputs map[string]Tensor, outputs []string) (map[string]Tensor, error)
	// Inputs and Outputs list the model's declared inputs and outputs in
	// file order, so encoders can check names and shapes (a ResNet's
	// features may be [N,2048], [N,2048,1,1] or a [N,2048,h,w] map) at load.
	Inputs() []TensorInfo
	Outputs() []TensorInfo
	Close() error
}

// SessionOptions tune a session.
type SessionOptions struct {
	Threads int // intra-op threads; 0 means the number of CPUs
}

// ParallelRunner is an optional ability of a Runtime: Run calls on one of
// its sessions from several goroutines execute in parallel (ONNX Runtime),
// rather than one after the other, so a caller with many batches can open
// the session with fewer threads and run batches side by side.
type ParallelRunner interface {
	ParallelRuns() bool
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
		return nil, fmt.Errorf("unknown backend %q (known: %s)", backend, strings.Join(runtimeNames(), ", "))
	}
	if err := r.Available(); err != nil {
		return nil, err
	}
	return r, nil
}

// RuntimeNames lists the registered runtimes' names, sorted: the values
// --backend takes besides empty (automatic).
func RuntimeNames() []string {
	mu.Lock()
	defer mu.Unlock()
	return runtimeNames()
}

// runtimeNames is RuntimeNames with mu held.
func runtimeNames() []string {
	names := make([]string, 0, len(runtimes))
	for n := range runtimes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Check reports whether t is well formed: exactly one of F32 and I64 set,
// no negative dimension, and as many values as the shape holds. name is the
// input or output name the error mentions.
func (t Tensor) Check(name string) error {
	n := int64(1)
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("tensor %q: negative dimension in shape %v", name, t.Shape)
		}
		n *= d
	}
	var have int
	switch {
	case t.F32 != nil && t.I64 != nil:
		return fmt.Errorf("tensor %q: both F32 and I64 are set", name)
	case t.F32 != nil:
		have = len(t.F32)
	case t.I64 != nil:
		have = len(t.I64)
	case n != 0:
		return fmt.Errorf("tensor %q: no data for shape %v", name, t.Shape)
	}
	if int64(have) != n {
		return fmt.Errorf("tensor %q: shape %v holds %d values, got %d", name, t.Shape, n, have)
	}
	return nil
}

// DType is "float32" or "int64", the element type of the set field; an
// empty tensor (neither set) reports "".
func (t Tensor) DType() string {
	switch {
	case t.F32 != nil:
		return "float32"
	case t.I64 != nil:
		return "int64"
	}
	return ""
}

// CheckInputs verifies that inputs holds exactly the model's inputs, each
// well formed, of the declared element type and rank, and matching every
// fixed dimension. Runtimes call it first in Session.Run.
func CheckInputs(want []TensorInfo, inputs map[string]Tensor) error {
	for name := range inputs {
		if !slices.ContainsFunc(want, func(w TensorInfo) bool { return w.Name == name }) {
			return fmt.Errorf("model has no input %q (inputs: %v)", name, tensorNames(want))
		}
	}
	for _, w := range want {
		t, ok := inputs[w.Name]
		if !ok {
			return fmt.Errorf("missing input %q (inputs: %v)", w.Name, tensorNames(want))
		}
		if err := t.Check(w.Name); err != nil {
			return err
		}
		if t.DType() != w.DType {
			return fmt.Errorf("input %q is %s, model wants %s", w.Name, t.DType(), w.DType)
		}
		if len(t.Shape) != len(w.Shape) {
			return fmt.Errorf("input %q has shape %v, model wants rank %d %v", w.Name, t.Shape, len(w.Shape), w.Shape)
		}
		for i, d := range w.Shape {
			if d >= 0 && t.Shape[i] != d {
				return fmt.Errorf("input %q has shape %v, model wants %v", w.Name, t.Shape, w.Shape)
			}
		}
	}
	return nil
}

func tensorNames(infos []TensorInfo) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.Name
	}
	return out
}
