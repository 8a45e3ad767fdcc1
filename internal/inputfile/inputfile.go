package inputfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Kind is a class of input file; each has its own size cap.
type Kind int

// The kinds of input files and their default caps.
const (
	// Image: posters, query images (search/encode --image) and calibration
	// images. Default 50 MiB: a poster is typically 30-300 KiB and a 4096
	// by 4096 (the pixel budget) PNG of a photo rarely exceeds 30 MiB.
	Image Kind = iota
	// Table: info.csv, train.txt, stop-word lists. Default 256 MiB: the
	// 3,242-movie set's info.csv is about 1 MiB, so this allows catalogues
	// of hundreds of thousands of movies while prepare stays within a few
	// hundred MiB of memory.
	Table
	// Config: tokenizer.json, vocab files, tokenizer_config.json,
	// preprocessor_config.json, config.json and the JSON files reelmatch
	// writes itself. Default 64 MiB: the largest multilingual tokenizer.json
	// files are about 20 MiB.
	Config
	// Model: ONNX model files. Default 2 GiB, protobuf's limit for one
	// file (ResNet-50 is 98 MiB, CLIP ViT-B/32's image model 352 MiB).
	Model
	// Weights: projection heads and checkpoints (safetensors). Default
	// 1 GiB; heads of the default size are about 10 MiB.
	Weights
	// Cache: feature caches and other derived stores. Default 64 GiB:
	// about 6 million movies of 2,816 float32 features.
	Cache
	numKinds
)

var kindNames = [numKinds]string{"image", "table", "config", "model", "weights", "cache"}

var defaultCaps = [numKinds]int64{50 << 20, 256 << 20, 64 << 20, 2 << 30, 1 << 30, 64 << 30}

// caps holds the current cap of each kind; SetCap changes them.
var caps [numKinds]atomic.Int64

func init() {
	for k := range numKinds {
		caps[k].Store(defaultCaps[k])
	}
}

// Kinds lists every kind, in a fixed order.
func Kinds() []Kind {
	out := make([]Kind, numKinds)
	for k := range numKinds {
		out[k] = k
	}
	return out
}

func (k Kind) valid() bool { return k >= 0 && k < numKinds }

// String is the kind's name: "image", "table", "config", "model",
// "weights" or "cache".
func (k Kind) String() string {
	if !k.valid() {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// EnvVar is the environment variable the command line reads the kind's cap
// from, e.g. REELMATCH_MAX_IMAGE_BYTES.
func (k Kind) EnvVar() string {
	return "REELMATCH_MAX_" + strings.ToUpper(k.String()) + "_BYTES"
}

// Cap is the kind's current size cap in bytes.
func (k Kind) Cap() int64 { return caps[k].Load() }

// DefaultCap is the kind's cap when nothing changed it.
func (k Kind) DefaultCap() int64 { return defaultCaps[k] }

// SetCap changes the kind's cap; n must be at least 1 byte. It is safe to
// call at any time, but meant for start-up.
func SetCap(k Kind, n int64) error {
	if !k.valid() {
		return fmt.Errorf("unknown file kind %d", int(k))
	}
	if n < 1 {
		return fmt.Errorf("the %s file cap must be at least 1 byte, got %d", k, n)
	}
	caps[k].Store(n)
	return nil
}

// ErrNotRegular is wrapped when a path names a folder, named pipe, device
// or socket instead of a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped when a file is over its kind's cap, or grew past
// it while it was read.
var ErrTooLarge = errors.New("file too large")

// Error is the error Open, Check and ReadFile return for a file that
// breaks the rule. Its message names the file, what is wrong and the fix.
type Error struct {
	Path string
	Kind Kind
	// Err is ErrNotRegular or ErrTooLarge.
	Err error
	// Detail says what is wrong, without the path.
	Detail string
}

func (e *Error) Error() string { return e.Path + ": " + e.Detail }

// Unwrap returns ErrNotRegular or ErrTooLarge.
func (e *Error) Unwrap() error { return e.Err }

func notRegular(path string, k Kind, mode fs.FileMode) error {
	return &Error{Path: path, Kind: k, Err: ErrNotRegular, Detail: describe(mode) + ", not a regular file: pass the path of " + k.what()}
}

func tooLarge(path string, k Kind, size int64, grew bool) error {
	sz, limit := FormatBytes(size), FormatBytes(k.Cap())
	if d := size - k.Cap(); d < k.Cap()/100 {
		// Rounded, both would read the same.
		sz, limit = fmt.Sprintf("%d bytes", size), fmt.Sprintf("%d-byte", k.Cap())
	}
	d := fmt.Sprintf("is %s, over the %s limit for %s files", sz, limit, k)
	if grew {
		d = fmt.Sprintf("grew past the %s limit for %s files while it was read", FormatBytes(k.Cap()), k)
	}
	return &Error{Path: path, Kind: k, Err: ErrTooLarge, Detail: d + " (" + k.EnvVar() + " raises it)"}
}

// what names a file of the kind for the fix of a not-regular error.
func (k Kind) what() string {
	switch k {
	case Image:
		return "a JPEG, PNG, WebP or GIF file"
	case Table:
		return "a text file"
	case Config:
		return "a JSON or text file"
	case Model:
		return "an ONNX file"
	}
	return "a regular file"
}

func describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "is a folder"
	case m&fs.ModeNamedPipe != 0:
		return "is a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "is a socket"
	case m&fs.ModeCharDevice != 0:
		return "is a character device"
	case m&fs.ModeDevice != 0:
		return "is a block device"
	}
	return fmt.Sprintf("has mode %v", m)
}

// Check applies the rule to path without reading it: it must name a
// regular file (after symlinks) of at most k.Cap() bytes. Use it before
// handing a path to a library that opens the file itself (ONNX Runtime);
// read files with Open or ReadFile, which check the opened file again.
// Errors from the file system (fs.ErrNotExist, ...) come back as
// *fs.PathError.
func Check(path string, k Kind) (fs.FileInfo, error) {
	fi, err := os.Stat(path) // follows symlinks; never blocks on a FIFO
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(path, k, fi.Mode())
	}
	if fi.Size() > k.Cap() {
		return nil, tooLarge(path, k, fi.Size(), false)
	}
	return fi, nil
}

// File is an opened input file. Reads stop with an *Error wrapping
// ErrTooLarge once more than the kind's cap was read.
type File struct {
	f    *os.File
	path string
	kind Kind
	size int64 // at open
	left int64 // bytes still allowed
}

// Open opens path for reading after Check, with O_NONBLOCK so that a path
// replaced by a FIFO after the check cannot block, and checks the opened
// descriptor again.
func Open(path string, k Kind) (*File, error) {
	if _, err := Check(path, k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notRegular(path, k, fi.Mode())
	}
	if fi.Size() > k.Cap() {
		f.Close()
		return nil, tooLarge(path, k, fi.Size(), false)
	}
	return &File{f: f, path: path, kind: k, size: fi.Size(), left: k.Cap()}, nil
}

// Size is the file's size when it was opened.
func (f *File) Size() int64 { return f.size }

// Name is the path the file was opened with.
func (f *File) Name() string { return f.path }

// Read reads like os.File.Read, but fails once the file turns out larger
// than the cap.
func (f *File) Read(p []byte) (int, error) {
	if f.left <= 0 {
		// At the cap: one more byte means the file grew past it.
		var one [1]byte
		n, err := f.f.Read(one[:])
		if n > 0 {
			return 0, tooLarge(f.path, f.kind, 0, true)
		}
		return 0, err
	}
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.f.Read(p)
	f.left -= int64(n)
	return n, err
}

// ReadAt reads like os.File.ReadAt within the size the file had when it
// was opened.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	if rest := f.size - off; int64(len(p)) > rest {
		n, err := f.f.ReadAt(p[:rest], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return f.f.ReadAt(p, off)
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Fd is the file descriptor, for mapping the file into memory (reads
// through it are not capped; map at most Size bytes).
func (f *File) Fd() uintptr { return f.f.Fd() }

// chunk is how much ReadFile reads between checks of its context.
const chunk = 4 << 20

// ReadFile reads the whole file at path after the checks of Open. It reads
// in chunks of 4 MiB and returns ctx's error as soon as ctx is cancelled.
func ReadFile(ctx context.Context, path string, k Kind) ([]byte, error) {
	f, err := Open(path, k)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The size at open, plus one byte to notice growth without a
	// reallocation for files that did not change.
	buf := make([]byte, 0, f.size+1)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		end := min(cap(buf), len(buf)+chunk)
		n, err := f.Read(buf[len(buf):end])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			var ie *Error
			if errors.As(err, &ie) {
				return nil, err
			}
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
	}
}

// ParseBytes reads a size written as a whole number of bytes, optionally
// followed by a unit: B, KiB, MiB, GiB, TiB (powers of 1024; K, M, G, T and
// KB, MB, GB, TB are read as the same). It refuses negative, fractional
// and overflowing values.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size: write a whole number of bytes, or one with a unit such as 50MiB", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large a size", s)
	}
	shift := 0
	switch strings.ToUpper(strings.TrimSpace(t[i:])) {
	case "", "B":
	case "K", "KB", "KIB":
		shift = 10
	case "M", "MB", "MIB":
		shift = 20
	case "G", "GB", "GIB":
		shift = 30
	case "T", "TB", "TIB":
		shift = 40
	default:
		return 0, fmt.Errorf("%q has an unknown unit: use B, KiB, MiB, GiB or TiB", s)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q is too large a size", s)
	}
	return n << shift, nil
}

// FormatBytes writes n in the largest binary unit that keeps it at least 1:
// "812 B", "50 MiB", "1.5 GiB".
func FormatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, u := float64(n), 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	if u == 0 || v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), units[u])
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}
