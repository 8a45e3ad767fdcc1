package ort

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/ortlib"
)

// Name is the runtime's registry key, the value of --backend.
const Name = "ort"

func init() { encoder.RegisterRuntime(Runtime{}) }

// Runtime opens ONNX models with ONNX Runtime. The zero value is ready.
type Runtime struct{}

// Name returns "ort".
func (Runtime) Name() string { return Name }

// ParallelRuns is true: ONNX Runtime's Run is safe for concurrent use and
// concurrent calls run in parallel, each on its calling thread plus the
// session's intra-op pool.
func (Runtime) ParallelRuns() bool { return true }

var (
	envOnce sync.Once
	envErr  error
	envLib  string
)

// Available finds the shared library and initialises the ONNX Runtime
// environment, once per process; later calls return the first result.
func (Runtime) Available() error {
	envOnce.Do(func() {
		envLib, envErr = libraryPath(ortlib.OSEnv())
		if envErr != nil {
			return
		}
		onnxruntime.SetSharedLibraryPath(envLib)
		if err := onnxruntime.InitializeEnvironment(onnxruntime.WithLogLevelError()); err != nil {
			envErr = fmt.Errorf("%w: load ONNX Runtime from %q: %v; run `make setup` (scripts/setup.sh) or point %s at libonnxruntime.so.%s",
				encoder.ErrBackendUnavailable, envLib, err, ortlib.EnvVar, ortlib.Version)
		}
	})
	return envErr
}

// libraryPath finds the library in env, turning a miss into the error
// Available reports.
func libraryPath(env ortlib.Env) (string, error) {
	p, err := env.Find()
	if err != nil {
		return "", fmt.Errorf("%w: %w", encoder.ErrBackendUnavailable, err)
	}
	return p, nil
}

// LibraryPath is the library file Available loaded, or "" when it is
// unavailable.
func LibraryPath() string {
	if (Runtime{}).Available() != nil {
		return ""
	}
	return envLib
}

// Options are the ONNX Runtime session settings. Open uses DefaultOptions
// with Threads from encoder.SessionOptions; benchmarks sweep the others.
type Options struct {
	// Threads is the intra-op thread count; 0 means runtime.NumCPU().
	Threads int
	// InterOpThreads is the thread count for running independent graph
	// branches in parallel; encoders are sequential graphs, so 1.
	InterOpThreads int
	// Spinning lets idle intra-op threads busy-wait for work
	// (session.intra_op.allow_spinning): lower latency, but it burns CPU
	// that other goroutines (image decoding) could use.
	Spinning bool
	// MemPattern pre-plans memory for repeated runs with one input shape.
	MemPattern bool
	// OptLevel is the graph optimisation level, 0 (none) to 3 (all, with
	// layout transformations), as ONNX Runtime numbers ORT_ENABLE_*.
	OptLevel int
}

// DefaultOptions are the settings Open uses, picked with BenchmarkSettings
// on the 2-core reference machine (batch 8, best of several runs): all
// graph optimisations (basic and extended were 15-25% slower on ResNet-50
// and ViT-B/32); memory patterns on (no measurable difference); spinning
// off. Spinning was at best equal on ResNet-50 (23.4 vs 23.2 img/s) and 10%
// faster on DistilBERT (40 vs 36 texts/s) on an idle machine, but busy-waiting
// threads halved throughput whenever the CPU was shared (11.4 img/s), and
// the embed pipeline shares it with poster decoding.
func DefaultOptions() Options {
	return Options{InterOpThreads: 1, Spinning: false, MemPattern: true, OptLevel: 3}
}

var optLevels = []onnxruntime.GraphOptimizationLevel{
	onnxruntime.GraphOptimizationLevelDisableAll,
	onnxruntime.GraphOptimizationLevelEnableBasic,
	onnxruntime.GraphOptimizationLevelEnableExtended,
	onnxruntime.GraphOptimizationLevelEnableAll,
}

// Open loads a model with DefaultOptions and opts.Threads.
func (r Runtime) Open(modelPath string, opts encoder.SessionOptions) (encoder.Session, error) {
	o := DefaultOptions()
	o.Threads = opts.Threads
	s, err := OpenWithOptions(modelPath, o)
	if err != nil {
		return nil, err // not a typed nil *Session inside the interface
	}
	return s, nil
}

// OpenWithOptions loads a model with explicit ONNX Runtime settings.
func OpenWithOptions(modelPath string, o Options) (*Session, error) {
	if err := (Runtime{}).Available(); err != nil {
		return nil, err
	}
	// ONNX Runtime opens the file by path itself: apply the input file
	// rule (a regular file within the model cap) to the path first.
	if _, err := inputfile.Check(modelPath, inputfile.Model); err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	ins, outs, err := onnxruntime.GetInputOutputInfo(modelPath)
	if err != nil {
		return nil, fmt.Errorf("open model %q: %w", modelPath, err)
	}
	s := &Session{path: modelPath}
	for _, in := range ins {
		s.inputs = append(s.inputs, tensorInfo(in))
	}
	for _, out := range outs {
		s.outputs = append(s.outputs, tensorInfo(out))
	}
	so, err := sessionOptions(o)
	if err != nil {
		return nil, fmt.Errorf("open model %q: %w", modelPath, err)
	}
	defer so.Destroy()
	s.sess, err = onnxruntime.NewDynamicAdvancedSession(modelPath, names(s.inputs), names(s.outputs), so)
	if err != nil {
		return nil, fmt.Errorf("open model %q: %w", modelPath, err)
	}
	return s, nil
}

func sessionOptions(o Options) (*onnxruntime.SessionOptions, error) {
	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	inter := max(o.InterOpThreads, 1)
	level := optLevels[min(max(o.OptLevel, 0), len(optLevels)-1)]
	spin := "0"
	if o.Spinning {
		spin = "1"
	}
	err = errors.Join(
		so.SetIntraOpNumThreads(threads),
		so.SetInterOpNumThreads(inter),
		so.SetGraphOptimizationLevel(level),
		so.SetMemPattern(o.MemPattern),
		so.SetCpuMemArena(true),
		// Key from onnxruntime_session_options_config_keys.h.
		so.AddSessionConfigEntry("session.intra_op.allow_spinning", spin),
	)
	if err != nil {
		so.Destroy()
		return nil, fmt.Errorf("session options: %w", err)
	}
	return so, nil
}

func names(infos []encoder.TensorInfo) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.Name
	}
	return out
}

func tensorInfo(in onnxruntime.InputOutputInfo) encoder.TensorInfo {
	ti := encoder.TensorInfo{Name: in.Name, Shape: slices.Clone([]int64(in.Dimensions))}
	switch in.DataType {
	case onnxruntime.TensorElementDataTypeFloat:
		ti.DType = "float32"
	case onnxruntime.TensorElementDataTypeInt64:
		ti.DType = "int64"
	default:
		ti.DType = in.DataType.String()
	}
	return ti
}

// Session is one loaded model. Safe for concurrent use.
type Session struct {
	path            string
	sess            *onnxruntime.DynamicAdvancedSession
	inputs, outputs []encoder.TensorInfo
}

var _ encoder.Session = (*Session)(nil)

// Inputs lists the model's inputs as declared in the file.
func (s *Session) Inputs() []encoder.TensorInfo { return s.inputs }

// Outputs lists the model's outputs as declared in the file.
func (s *Session) Outputs() []encoder.TensorInfo { return s.outputs }

// Run feeds every model input (extra names are an error, so typos surface)
// and returns the requested outputs; nil outputs means all of them.
func (s *Session) Run(inputs map[string]encoder.Tensor, outputs []string) (map[string]encoder.Tensor, error) {
	if s.sess == nil {
		return nil, fmt.Errorf("run %q: session is closed", s.path)
	}
	if err := encoder.CheckInputs(s.inputs, inputs); err != nil {
		return nil, fmt.Errorf("run %q: %w", s.path, err)
	}
	if outputs == nil {
		outputs = names(s.outputs)
	}
	for _, name := range outputs {
		if !slices.ContainsFunc(s.outputs, func(o encoder.TensorInfo) bool { return o.Name == name }) {
			return nil, fmt.Errorf("run %q: model has no output %q (outputs: %v)", s.path, name, names(s.outputs))
		}
	}

	in := make([]onnxruntime.Value, len(s.inputs))
	defer destroyAll(in)
	for i, info := range s.inputs {
		v, err := newValue(inputs[info.Name])
		if err != nil {
			return nil, fmt.Errorf("run %q: input %q: %w", s.path, info.Name, err)
		}
		in[i] = v
	}
	out := make([]onnxruntime.Value, len(s.outputs))
	defer destroyAll(out)
	if err := s.sess.Run(in, out); err != nil {
		return nil, fmt.Errorf("run %q: %w", s.path, err)
	}
	res := make(map[string]encoder.Tensor, len(outputs))
	for i, info := range s.outputs {
		if !slices.Contains(outputs, info.Name) {
			continue
		}
		t, err := fromValue(out[i])
		if err != nil {
			return nil, fmt.Errorf("run %q: output %q: %w", s.path, info.Name, err)
		}
		res[info.Name] = t
	}
	return res, nil
}

// Close releases the session. Closing twice is harmless.
func (s *Session) Close() error {
	if s.sess == nil {
		return nil
	}
	err := s.sess.Destroy()
	s.sess = nil
	if err != nil {
		return fmt.Errorf("close %q: %w", s.path, err)
	}
	return nil
}

func newValue(t encoder.Tensor) (onnxruntime.Value, error) {
	shape := onnxruntime.NewShape(t.Shape...)
	if t.F32 != nil {
		return onnxruntime.NewTensor(shape, t.F32)
	}
	return onnxruntime.NewTensor(shape, t.I64)
}

// fromValue copies an output out of ONNX Runtime's memory, which is freed
// when the value is destroyed.
func fromValue(v onnxruntime.Value) (encoder.Tensor, error) {
	switch t := v.(type) {
	case *onnxruntime.Tensor[float32]:
		return encoder.Tensor{Shape: slices.Clone([]int64(t.GetShape())), F32: slices.Clone(t.GetData())}, nil
	case *onnxruntime.Tensor[int64]:
		return encoder.Tensor{Shape: slices.Clone([]int64(t.GetShape())), I64: slices.Clone(t.GetData())}, nil
	case nil:
		return encoder.Tensor{}, errors.New("runtime returned no value")
	}
	return encoder.Tensor{}, fmt.Errorf("unsupported output type %s (only float32 and int64 tensors)", strconv.Quote(fmt.Sprintf("%T", v)))
}

func destroyAll(vs []onnxruntime.Value) {
	for _, v := range vs {
		if v != nil {
			v.Destroy()
		}
	}
}
