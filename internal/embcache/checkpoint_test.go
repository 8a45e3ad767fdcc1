package embcache

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var testHeader = CheckpointHeader{Encoder: "fake", ImageFingerprint: "i1", TextFingerprint: "t1", TextInput: "clean", ImageDim: 2, TextDim: 3}

// writeCheckpoint records two batches of images and one of texts, then
// closes the checkpoint as an interrupted run would.
func writeCheckpoint(t *testing.T, path string) {
	t.Helper()
	c, err := OpenCheckpoint(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	steps := []error{
		c.AppendImages([]string{"p1", "p2"}, [][]float32{{1, 2}, {3, 4}}),
		c.AppendTexts([]string{"t1"}, [][]float32{{5, 6, 7}}),
		c.AppendImages([]string{"p3"}, [][]float32{{8, 9}}),
		c.Close(),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}

type recovered struct {
	Images map[string][]float32
	Texts  map[string][]float32
}

func rowsOf(c *Checkpoint) recovered {
	return recovered{Images: c.Rows().image, Texts: c.Rows().text}
}

func TestCheckpointRecovers(t *testing.T) {
	all := recovered{
		Images: map[string][]float32{"p1": {1, 2}, "p2": {3, 4}, "p3": {8, 9}},
		Texts:  map[string][]float32{"t1": {5, 6, 7}},
	}
	// One image record is 1+1+2+8+4 = 16 bytes, a text record 1+1+2+12+4 = 20.
	tests := []struct {
		name   string
		damage func(b []byte) []byte
		header CheckpointHeader
		want   recovered
	}{
		{"intact", func(b []byte) []byte { return b }, testHeader, all},
		{"torn last record", func(b []byte) []byte { return b[:len(b)-5] }, testHeader, recovered{
			Images: map[string][]float32{"p1": {1, 2}, "p2": {3, 4}},
			Texts:  map[string][]float32{"t1": {5, 6, 7}},
		}},
		{"flipped byte in the text record", func(b []byte) []byte { b[len(b)-16-10] ^= 1; return b }, testHeader, recovered{
			Images: map[string][]float32{"p1": {1, 2}, "p2": {3, 4}},
		}},
		{"other fingerprint", func(b []byte) []byte { return b }, CheckpointHeader{Encoder: "fake", ImageFingerprint: "i2", TextFingerprint: "t1", TextInput: "clean", ImageDim: 2, TextDim: 3}, recovered{}},
		{"garbage", func(b []byte) []byte { return []byte("not a checkpoint") }, testHeader, recovered{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "fake.checkpoint")
			writeCheckpoint(t, path)
			writeFile(t, path, tt.damage(readFile(t, path)))
			c, err := OpenCheckpoint(path, tt.header)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, rowsOf(c), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("recovered rows (-want +got):\n%s", diff)
			}
			// Appending after recovery continues a valid file.
			if err := c.AppendTexts([]string{"t9"}, [][]float32{{1, 1, 1}}); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			c, err = OpenCheckpoint(path, tt.header)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, ok := c.Rows().Text("t9"); !ok {
				t.Error("a row appended after recovery was lost")
			}
			if got, want := len(c.Rows().image), len(tt.want.Images); got != want {
				t.Errorf("after append: %d image rows, want %d", got, want)
			}
		})
	}
}

func TestCheckpointLockAndRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "fake.checkpoint")
	c, err := OpenCheckpoint(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCheckpoint(path, testHeader); !errors.Is(err, ErrCheckpointBusy) {
		t.Errorf("second open: %v, want ErrCheckpointBusy", err)
	}
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("checkpoint still there after Remove (stat: %v)", err)
	}
}

func TestCheckpointRejectsBadRows(t *testing.T) {
	c, err := OpenCheckpoint(filepath.Join(t.TempDir(), "c"), testHeader)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.AppendImages([]string{"p"}, [][]float32{{1, 2, 3}}); err == nil {
		t.Error("a row of the wrong length was appended")
	}
	if err := c.AppendTexts([]string{"a", "b"}, [][]float32{{1, 2, 3}}); err == nil {
		t.Error("two hashes for one row were accepted")
	}
}
