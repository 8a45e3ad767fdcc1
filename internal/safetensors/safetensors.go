// Package safetensors reads and writes the safetensors format
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header naming each tensor's dtype, shape and byte range, then
// the raw little-endian data. It is used for golden fixtures, the feature
// cache and head checkpoints.
//
// Reading converts every float dtype (F64, F32, F16, BF16) to float32 and
// every integer dtype to int64, since that is all reelmatch computes with.
// Writing produces F32 and I64 tensors only.
package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
	"github.com/reelmatch/reelmatch/internal/inputfile"
)

// ErrNotFound is returned by File.Tensor for an unknown tensor name.
var ErrNotFound = errors.New("tensor not found")

// Tensor is one named tensor. Exactly one of F32 or I64 is set.
type Tensor struct {
	Shape []int
	F32   []float32 // row-major data for float tensors
	I64   []int64   // row-major data for integer tensors
}

// Len is the number of elements the shape implies.
func (t Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a whole safetensors file held in memory.
type File struct {
	Metadata map[string]string
	Tensors  map[string]Tensor
}

// Tensor returns the named tensor or an error that names it and the file.
func (f *File) Tensor(name string) (Tensor, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return Tensor{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return t, nil
}

// Names lists the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for n := range f.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type headerEntry struct {
	Dtype       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// maxHeader bounds the JSON header so a corrupt length cannot exhaust memory.
const maxHeader = 100 << 20

// ReadFile loads a whole safetensors file: a regular file (after
// symlinks) within inputfile.Cache's cap; a FIFO, device or folder is
// refused before anything is read.
func ReadFile(path string) (*File, error) {
	f, err := inputfile.Open(path, inputfile.Cache)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	file, err := Read(bufio.NewReaderSize(f, 1<<20), f.Size())
	if err != nil {
		return nil, fmt.Errorf("read safetensors %q: %w", path, err)
	}
	return file, nil
}

// Read parses a safetensors stream of the given total size.
func Read(r io.Reader, size int64) (*File, error) {
	var hlen uint64
	if err := binary.Read(r, binary.LittleEndian, &hlen); err != nil {
		return nil, fmt.Errorf("header length: %w", err)
	}
	if hlen > maxHeader || int64(hlen)+8 > size {
		return nil, fmt.Errorf("header length %d does not fit a file of %d bytes", hlen, size)
	}
	hbuf := make([]byte, hlen)
	if _, err := io.ReadFull(r, hbuf); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	meta, entries, err := parseHeader(hbuf, size)
	if err != nil {
		return nil, err
	}
	out := &File{Metadata: meta, Tensors: map[string]Tensor{}}
	var pos int64
	for _, e := range entries {
		start, end := e.DataOffsets[0], e.DataOffsets[1]
		if _, err := io.CopyN(io.Discard, r, start-pos); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", e.name, err)
		}
		buf := make([]byte, end-start)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", e.name, err)
		}
		pos = end
		t, err := decode(e.Dtype, e.Shape, buf)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", e.name, err)
		}
		out.Tensors[e.name] = t
	}
	return out, nil
}

// namedEntry is one tensor of the header.
type namedEntry struct {
	name string
	headerEntry
}

// parseHeader decodes the JSON header of a file of size bytes: the
// metadata, and the tensors sorted by data offset with their offsets
// checked to lie in order inside the data section.
func parseHeader(hbuf []byte, size int64) (map[string]string, []namedEntry, error) {
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(hbuf, &raw); err != nil {
		return nil, nil, fmt.Errorf("header JSON: %w", err)
	}
	meta := map[string]string{}
	var entries []namedEntry
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, fmt.Errorf("metadata: %w", err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		entries = append(entries, namedEntry{name, e})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].DataOffsets[0] < entries[j].DataOffsets[0] })
	dataSize := size - 8 - int64(len(hbuf))
	var pos int64
	for _, e := range entries {
		start, end := e.DataOffsets[0], e.DataOffsets[1]
		if start < pos || end < start || end > dataSize {
			return nil, nil, fmt.Errorf("tensor %q: bad data offsets [%d,%d] (data is %d bytes)", e.name, start, end, dataSize)
		}
		pos = end
	}
	return meta, entries, nil
}

func decode(dtype string, shape []int, b []byte) (Tensor, error) {
	t := Tensor{Shape: append([]int{}, shape...)}
	n := t.Len()
	width := map[string]int{"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}[dtype]
	if width == 0 {
		return t, fmt.Errorf("unsupported dtype %q", dtype)
	}
	if len(b) != n*width {
		return t, fmt.Errorf("%d bytes for %d elements of %s", len(b), n, dtype)
	}
	le := binary.LittleEndian
	switch dtype {
	case "F64", "F32", "F16", "BF16":
		t.F32 = make([]float32, n)
		for i := range n {
			switch dtype {
			case "F64":
				t.F32[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
			case "F32":
				t.F32[i] = math.Float32frombits(le.Uint32(b[4*i:]))
			case "F16":
				t.F32[i] = Float16ToFloat32(le.Uint16(b[2*i:]))
			case "BF16":
				t.F32[i] = math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
			}
		}
	default:
		t.I64 = make([]int64, n)
		for i := range n {
			switch dtype {
			case "I64":
				t.I64[i] = int64(le.Uint64(b[8*i:]))
			case "I32":
				t.I64[i] = int64(int32(le.Uint32(b[4*i:])))
			case "I16":
				t.I64[i] = int64(int16(le.Uint16(b[2*i:])))
			case "I8":
				t.I64[i] = int64(int8(b[i]))
			default: // U8, BOOL
				t.I64[i] = int64(b[i])
			}
		}
	}
	return t, nil
}

// Float16ToFloat32 converts an IEEE 754 half-precision value.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		frac &= 0x3ff
		return math.Float32frombits(sign | e<<23 | frac<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// WriteFile atomically writes tensors and metadata to path. Tensors are laid
// out in sorted name order so the same input always gives the same bytes.
func WriteFile(path string, tensors map[string]Tensor, metadata map[string]string) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return Write(w, tensors, metadata)
	})
}

// Write encodes tensors and metadata to w.
func Write(w io.Writer, tensors map[string]Tensor, metadata map[string]string) error {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, n := range names {
		t := tensors[n]
		if (t.F32 == nil) == (t.I64 == nil) && t.Len() != 0 {
			return fmt.Errorf("tensor %q: set exactly one of F32 and I64", n)
		}
		dtype, width, count := "F32", 4, len(t.F32)
		if t.I64 != nil {
			dtype, width, count = "I64", 8, len(t.I64)
		}
		if count != t.Len() {
			return fmt.Errorf("tensor %q: shape %v wants %d elements, has %d", n, t.Shape, t.Len(), count)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[n] = headerEntry{Dtype: dtype, Shape: shape, DataOffsets: [2]int64{off, off + int64(count*width)}}
		off += int64(count * width)
	}
	hbuf, err := json.Marshal(header)
	if err != nil {
		return err
	}
	// Pad the header with spaces to a multiple of 8, as the reference writer does.
	for len(hbuf)%8 != 0 {
		hbuf = append(hbuf, ' ')
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := binary.Write(bw, binary.LittleEndian, uint64(len(hbuf))); err != nil {
		return err
	}
	if _, err := bw.Write(hbuf); err != nil {
		return err
	}
	var scratch [8]byte
	for _, n := range names {
		t := tensors[n]
		for _, v := range t.F32 {
			binary.LittleEndian.PutUint32(scratch[:4], math.Float32bits(v))
			if _, err := bw.Write(scratch[:4]); err != nil {
				return err
			}
		}
		for _, v := range t.I64 {
			binary.LittleEndian.PutUint64(scratch[:8], uint64(v))
			if _, err := bw.Write(scratch[:8]); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}
