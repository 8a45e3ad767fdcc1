package embcache

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/reelmatch/reelmatch/internal/vecmath"
)

// A checkpoint is the append-only record of the rows an unfinished embed
// run computed, so that a run stopped by kill -9, Ctrl-C or a failure loses
// at most the batch in flight. Layout:
//
//	"reelmatch-checkpoint 1\n"
//	one line of JSON: CheckpointHeader
//	records: kind ('I' image or 'T' text), hash length (1 byte), hash,
//	         dim float32 little-endian (dim from the header), CRC-32C of
//	         everything before it in the record (4 bytes little-endian)
//
// A reader keeps the records up to the first torn or damaged one and drops
// the rest; a header that does not match the run discards the file.

const checkpointMagic = "reelmatch-checkpoint 1\n"

// maxCheckpointHeader bounds the header line.
const maxCheckpointHeader = 64 << 10

// syncEvery is how often appended rows are synced to disk. A killed process
// loses nothing the kernel holds; syncing bounds what a power cut loses.
const syncEvery = 2 * time.Second

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrCheckpointBusy is wrapped by OpenCheckpoint when another process holds
// the checkpoint (another embed of the same encoder and shard in WORK).
var ErrCheckpointBusy = errors.New("checkpoint in use by another process")

// CheckpointHeader says what the rows of a checkpoint were computed under.
// Rows are reused only when the whole header matches.
type CheckpointHeader struct {
	Encoder          string `json:"encoder"`
	ImageFingerprint string `json:"image_fingerprint"`
	TextFingerprint  string `json:"text_fingerprint"`
	TextInput        string `json:"text_input"`
	ImageDim         int    `json:"image_dim"`
	TextDim          int    `json:"text_dim"`
}

// Checkpoint is an open checkpoint file, locked against other processes.
// Its methods are not safe for concurrent use.
type Checkpoint struct {
	path     string
	f        *os.File
	head     CheckpointHeader
	rows     *Index
	buf      []byte
	lastSync time.Time
}

// OpenCheckpoint opens or creates the checkpoint at path for a run with
// header h, takes an exclusive lock on it (ErrCheckpointBusy when another
// process holds it), and reads the rows a previous run left (Rows). A file
// with another header is emptied; a torn or damaged tail is cut off.
func OpenCheckpoint(path string, h CheckpointHeader) (*Checkpoint, error) {
	if h.ImageDim <= 0 || h.TextDim <= 0 {
		return nil, fmt.Errorf("open checkpoint %q: dims %d and %d must be positive", path, h.ImageDim, h.TextDim)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open checkpoint: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %q (%w)", ErrCheckpointBusy, path, err)
	}
	c := &Checkpoint{path: path, f: f, head: h, rows: &Index{}, lastSync: time.Now()}
	if err := c.recover(); err != nil {
		f.Close()
		return nil, fmt.Errorf("open checkpoint %q: %w", path, err)
	}
	return c, nil
}

// recover reads the valid prefix of the file into c.rows, then truncates
// the file to it (or rewrites the header) and positions for appending.
func (c *Checkpoint) recover() error {
	st, err := c.f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("not a regular file")
	}
	want, err := json.Marshal(c.head)
	if err != nil {
		return err
	}
	want = append([]byte(checkpointMagic), append(want, '\n')...)
	r := bufio.NewReaderSize(io.LimitReader(c.f, st.Size()), 1<<20)
	valid := int64(0)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err == nil && bytes.Equal(got, want) {
		valid = int64(len(want))
		for {
			n, err := c.readRecord(r)
			if err != nil {
				break // io.EOF, a torn tail or a damaged record: keep what came before
			}
			valid += n
		}
	}
	if valid == 0 {
		if err := c.f.Truncate(0); err != nil {
			return err
		}
		if _, err := c.f.WriteAt(want, 0); err != nil {
			return err
		}
		valid = int64(len(want))
		c.rows = &Index{}
	} else if valid < st.Size() {
		if err := c.f.Truncate(valid); err != nil {
			return err
		}
	}
	_, err = c.f.Seek(valid, io.SeekStart)
	return err
}

// readRecord reads one record into c.rows and returns its length.
func (c *Checkpoint) readRecord(r *bufio.Reader) (int64, error) {
	var pre [2]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return 0, err
	}
	dim := c.head.ImageDim
	switch pre[0] {
	case 'I':
	case 'T':
		dim = c.head.TextDim
	default:
		return 0, fmt.Errorf("bad record kind %q", pre[0])
	}
	rec := make([]byte, 2+int(pre[1])+4*dim+4)
	copy(rec, pre[:])
	if _, err := io.ReadFull(r, rec[2:]); err != nil {
		return 0, err
	}
	body, sum := rec[:len(rec)-4], binary.LittleEndian.Uint32(rec[len(rec)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return 0, fmt.Errorf("record checksum mismatch")
	}
	hash := string(body[2 : 2+int(pre[1])])
	vec := make([]float32, dim)
	for i := range vec {
		vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[2+int(pre[1])+4*i:]))
	}
	if vecmath.FirstNonFinite(vec) >= 0 {
		return 0, fmt.Errorf("record holds NaN or Inf")
	}
	if pre[0] == 'I' {
		c.rows.AddImage(hash, vec)
	} else {
		c.rows.AddText(hash, vec)
	}
	return int64(len(rec)), nil
}

// Rows are the rows recovered when the checkpoint was opened.
func (c *Checkpoint) Rows() *Index { return c.rows }

// AppendImages records image rows by poster hash.
func (c *Checkpoint) AppendImages(posterHashes []string, rows [][]float32) error {
	return c.append('I', c.head.ImageDim, posterHashes, rows)
}

// AppendTexts records text rows by TextHash.
func (c *Checkpoint) AppendTexts(textHashes []string, rows [][]float32) error {
	return c.append('T', c.head.TextDim, textHashes, rows)
}

func (c *Checkpoint) append(kind byte, dim int, hashes []string, rows [][]float32) error {
	if len(hashes) != len(rows) {
		return fmt.Errorf("checkpoint %q: %d hashes for %d rows", c.path, len(hashes), len(rows))
	}
	c.buf = c.buf[:0]
	for i, h := range hashes {
		if len(h) > 255 || len(rows[i]) != dim {
			return fmt.Errorf("checkpoint %q: row %d: hash of %d bytes, %d values (want at most 255 and %d)", c.path, i, len(h), len(rows[i]), dim)
		}
		start := len(c.buf)
		c.buf = append(c.buf, kind, byte(len(h)))
		c.buf = append(c.buf, h...)
		for _, v := range rows[i] {
			c.buf = binary.LittleEndian.AppendUint32(c.buf, math.Float32bits(v))
		}
		c.buf = binary.LittleEndian.AppendUint32(c.buf, crc32.Checksum(c.buf[start:], crcTable))
	}
	if _, err := c.f.Write(c.buf); err != nil {
		return fmt.Errorf("checkpoint %q: %w", c.path, err)
	}
	if time.Since(c.lastSync) >= syncEvery {
		c.lastSync = time.Now()
		if err := c.f.Sync(); err != nil {
			return fmt.Errorf("checkpoint %q: %w", c.path, err)
		}
	}
	return nil
}

// Close syncs and closes the checkpoint, keeping it for the next run.
func (c *Checkpoint) Close() error {
	serr := c.f.Sync()
	if err := c.f.Close(); err != nil {
		return fmt.Errorf("checkpoint %q: %w", c.path, err)
	}
	if serr != nil {
		return fmt.Errorf("checkpoint %q: %w", c.path, serr)
	}
	return nil
}

// Remove deletes and closes the checkpoint, once the cache it fed is saved.
func (c *Checkpoint) Remove() error {
	rerr := os.Remove(c.path)
	c.f.Close()
	if rerr != nil {
		return fmt.Errorf("remove checkpoint: %w", rerr)
	}
	return nil
}
