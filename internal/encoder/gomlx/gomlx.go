package gomlx

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX graph code reads best with the dot import, as in its examples.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/gomlx/onnx-gomlx/onnx"
	"github.com/gomlx/onnx-gomlx/onnx/parser"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/inputfile"
)

// Name is the runtime's registry key, the value of --backend.
const Name = "go"

func init() { encoder.RegisterRuntime(Runtime{}) }

// Runtime opens ONNX models with onnx-gomlx on the pure-Go backend. The
// zero value is ready.
type Runtime struct{}

// Name returns "go".
func (Runtime) Name() string { return Name }

// Available always returns nil: the pure-Go backend needs nothing installed.
func (Runtime) Available() error { return nil }

// backend is shared by every session: it owns a worker pool sized to
// GOMAXPROCS. SessionOptions.Threads is not applied, because the backend's
// "parallelism=N" option prints to stdout (compute gobackend.New), which
// reelmatch reserves for results. Ops run one after another
// ("ops_sequential"), each still using the worker pool: with the default
// mode, concurrent matrix multiplications can each wait for workers the
// others hold, which on 2 cores hung GoMLX training (see internal/heads).
var backend = sync.OnceValues(func() (compute.Backend, error) { return gobackend.New("ops_sequential") })

// batchBuckets are the batch sizes executables are compiled for; a batch
// is padded to the next one, and batches beyond the last are padded to a
// multiple of it. Powers of two up to the encoders' usual batch of 32 keep
// padding under half the batch while compiling at most seven graphs.
var batchBuckets = []int{1, 2, 4, 8, 16, 32, 64}

// Open parses the model, rewrites the patterns onnx-gomlx cannot build,
// refuses unsupported operators, and loads the weights. Graphs are built
// and compiled lazily, on the first Run with each input shape.
func (Runtime) Open(modelPath string, opts encoder.SessionOptions) (encoder.Session, error) {
	s, err := open(modelPath)
	if err != nil {
		return nil, err // not a typed nil *Session inside the interface
	}
	return s, nil
}

func open(modelPath string) (s *Session, err error) {
	data, err := inputfile.ReadFile(context.Background(), modelPath, inputfile.Model)
	if err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	data, _, err = rewriteModel(data)
	if err != nil {
		return nil, fmt.Errorf("open model %q: %w", modelPath, err)
	}
	if err := checkSupported(filepath.Base(modelPath), data); err != nil {
		return nil, err
	}
	be, err := backend()
	if err != nil {
		return nil, fmt.Errorf("open model %q: start the Go backend: %w", modelPath, err)
	}
	// onnx-gomlx panics on malformed graphs; report those as errors.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("open model %q: %v", modelPath, r)
		}
	}()
	m, err := parser.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("open model %q: %w", modelPath, err)
	}
	m.WithBaseDir(filepath.Dir(modelPath))
	store := model.NewStore()
	if err := m.VariablesToScope(store.RootScope()); err != nil {
		return nil, fmt.Errorf("open model %q: load weights: %w", modelPath, err)
	}
	s = &Session{path: modelPath, model: m, store: store, backend: be, execs: map[string]*model.Exec{}}
	names, shps := m.Inputs()
	for i, n := range names {
		s.inputs = append(s.inputs, tensorInfo(n, shps[i]))
	}
	names, shps = m.Outputs()
	for i, n := range names {
		s.outputs = append(s.outputs, tensorInfo(n, shps[i]))
	}
	s.padBatch = batchLeading(s.inputs) && batchLeading(s.outputs)
	return s, nil
}

// batchLeading reports whether every tensor's first dimension is dynamic,
// which is how the encoders' exports mark the batch axis.
func batchLeading(infos []encoder.TensorInfo) bool {
	for _, in := range infos {
		if len(in.Shape) == 0 || in.Shape[0] >= 0 {
			return false
		}
	}
	return len(infos) > 0
}

func tensorInfo(name string, s shapes.Shape) encoder.TensorInfo {
	ti := encoder.TensorInfo{Name: name}
	switch s.DType {
	case dtypes.Float32:
		ti.DType = "float32"
	case dtypes.Int64:
		ti.DType = "int64"
	default:
		ti.DType = strings.ToLower(s.DType.String())
	}
	for _, d := range s.Dimensions {
		if d < 0 {
			d = -1
		}
		ti.Shape = append(ti.Shape, int64(d))
	}
	return ti
}

// Session is one loaded model. Run calls are serialised by a mutex.
type Session struct {
	path            string
	model           onnx.Model
	store           *model.Store
	backend         compute.Backend
	inputs, outputs []encoder.TensorInfo
	padBatch        bool

	mu    sync.Mutex
	execs map[string]*model.Exec // by requested output names, joined by "\x00"
}

var _ encoder.Session = (*Session)(nil)

// Inputs lists the model's inputs as declared in the file.
func (s *Session) Inputs() []encoder.TensorInfo { return s.inputs }

// Outputs lists the model's outputs as declared in the file.
func (s *Session) Outputs() []encoder.TensorInfo { return s.outputs }

// Close drops the compiled executables and weights.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.execs {
		e.Finalize()
	}
	s.execs = nil
	if s.model != nil {
		s.model.Close()
		s.model = nil
	}
	return nil
}

// Run feeds every model input and returns the requested outputs (nil means
// all). A failure to build the graph for these shapes wraps
// encoder.ErrUnsupportedModel.
func (s *Session) Run(inputs map[string]encoder.Tensor, outputs []string) (map[string]encoder.Tensor, error) {
	if err := encoder.CheckInputs(s.inputs, inputs); err != nil {
		return nil, fmt.Errorf("run %q: %w", s.path, err)
	}
	if outputs == nil {
		outputs = infoNames(s.outputs)
	}
	for _, name := range outputs {
		if !slices.ContainsFunc(s.outputs, func(o encoder.TensorInfo) bool { return o.Name == name }) {
			return nil, fmt.Errorf("run %q: model has no output %q (outputs: %v)", s.path, name, infoNames(s.outputs))
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.execs == nil {
		return nil, fmt.Errorf("run %q: session is closed", s.path)
	}
	exec, err := s.exec(outputs)
	if err != nil {
		return nil, err
	}
	batch, padded := 0, 0
	if s.padBatch && sameBatch(s.inputs, inputs) {
		batch = int(inputs[s.inputs[0].Name].Shape[0])
		padded = bucket(batch)
	}
	args := make([]any, len(s.inputs))
	for i, info := range s.inputs {
		args[i] = toTensor(inputs[info.Name], batch, padded)
	}
	var results []*tensors.Tensor
	if e := exceptions.TryCatch[error](func() { results, err = exec.Exec(args...) }); e != nil {
		err = e
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: pure-Go backend failed to build or run the graph (%s); use --backend ort",
			encoder.ErrUnsupportedModel, filepath.Base(s.path), firstLine(err))
	}
	res := make(map[string]encoder.Tensor, len(outputs))
	for i, name := range outputs {
		t, err := fromTensor(results[i], batch, padded)
		if err != nil {
			return nil, fmt.Errorf("run %q: output %q: %w", s.path, name, err)
		}
		res[name] = t
	}
	return res, nil
}

// exec returns the executor for an output set, creating it on first use.
// model.Exec compiles and caches one executable per input shape.
func (s *Session) exec(outputs []string) (*model.Exec, error) {
	key := strings.Join(outputs, "\x00")
	if e, ok := s.execs[key]; ok {
		return e, nil
	}
	inNames := infoNames(s.inputs)
	m := s.model
	e, err := model.NewExec(s.backend, s.store, func(scope *model.Scope, g *Graph, xs []*Node) []*Node {
		feed := make(map[string]*Node, len(xs))
		for i, x := range xs {
			feed[inNames[i]] = x
		}
		return m.CallGraph(scope, g, feed, outputs...)
	})
	if err != nil {
		return nil, fmt.Errorf("run %q: %w", s.path, err)
	}
	e.SetMaxCache(2 * len(batchBuckets))
	s.execs[key] = e
	return e, nil
}

// sameBatch reports whether all inputs share their leading dimension, so
// it is a batch axis that padding may extend.
func sameBatch(infos []encoder.TensorInfo, inputs map[string]encoder.Tensor) bool {
	n := inputs[infos[0].Name].Shape[0]
	for _, in := range infos {
		if inputs[in.Name].Shape[0] != n {
			return false
		}
	}
	return n > 0
}

// bucket is the batch size a batch of n is padded to.
func bucket(n int) int {
	for _, b := range batchBuckets {
		if n <= b {
			return b
		}
	}
	last := batchBuckets[len(batchBuckets)-1]
	return (n + last - 1) / last * last
}

// toTensor converts an input, padding its leading (batch) axis from batch
// to padded rows by repeating the last row, so padding rows are valid
// inputs (a zero attention mask row could yield NaNs in its own output).
func toTensor(t encoder.Tensor, batch, padded int) *tensors.Tensor {
	dims := make([]int, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int(d)
	}
	if padded > batch && batch > 0 {
		dims[0] = padded
		if t.F32 != nil {
			return tensors.FromFlatDataAndDimensions(padRows(t.F32, batch, padded), dims...)
		}
		return tensors.FromFlatDataAndDimensions(padRows(t.I64, batch, padded), dims...)
	}
	if t.F32 != nil {
		return tensors.FromFlatDataAndDimensions(t.F32, dims...)
	}
	return tensors.FromFlatDataAndDimensions(t.I64, dims...)
}

func padRows[T any](data []T, batch, padded int) []T {
	row := len(data) / batch
	out := make([]T, 0, row*padded)
	out = append(out, data...)
	last := data[len(data)-row:]
	for range padded - batch {
		out = append(out, last...)
	}
	return out
}

// fromTensor copies a result out, dropping padding rows.
func fromTensor(t *tensors.Tensor, batch, padded int) (encoder.Tensor, error) {
	defer t.FinalizeAll()
	sh := t.Shape()
	out := encoder.Tensor{}
	for _, d := range sh.Dimensions {
		out.Shape = append(out.Shape, int64(d))
	}
	keep := -1
	if padded > batch && len(out.Shape) > 0 && out.Shape[0] == int64(padded) {
		out.Shape[0] = int64(batch)
		keep = sh.Size() / padded * batch
	}
	var err error
	switch sh.DType {
	case dtypes.Float32:
		out.F32, err = tensors.CopyFlatData[float32](t)
		if keep >= 0 && err == nil {
			out.F32 = out.F32[:keep:keep]
		}
	case dtypes.Int64:
		out.I64, err = tensors.CopyFlatData[int64](t)
		if keep >= 0 && err == nil {
			out.I64 = out.I64[:keep:keep]
		}
	default:
		return encoder.Tensor{}, fmt.Errorf("unsupported output type %s (only float32 and int64)", sh.DType)
	}
	return out, err
}

func infoNames(infos []encoder.TensorInfo) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.Name
	}
	return out
}

// firstLine keeps error messages to one line and to the point: GoMLX
// wraps a graph-building panic in "failed during graph construction/
// compilation: ... panicked: <cause>" and may append stack traces.
func firstLine(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "panicked: "); i >= 0 {
		msg = msg[i+len("panicked: "):]
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}
