package inputfile

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// setCap changes a kind's cap for one test.
func setCap(t *testing.T, k Kind, n int64) {
	t.Helper()
	old := k.Cap()
	if err := SetCap(k, n); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = SetCap(k, old) })
}

func TestReadFileRule(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", n)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := write("small.txt", 10)
	atCap := write("atcap.txt", 100)
	overCap := write("overcap.txt", 101)
	sparse := filepath.Join(dir, "sparse.bin")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 40); err != nil { // 1 TiB, no blocks
		t.Fatal(err)
	}
	f.Close()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := func(name, target string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	toZero := link("zero.png", "/dev/zero")
	toSmall := link("small-link.txt", small)
	toFifo := link("fifo-link", fifo)
	toLink := link("link-link", toZero)
	setCap(t, Table, 100)

	tests := []struct {
		name    string
		path    string
		want    string // content, when no error
		wantErr error
		msg     string // fragment of the message
	}{
		{"small", small, strings.Repeat("x", 10), nil, ""},
		{"exactly the cap", atCap, strings.Repeat("x", 100), nil, ""},
		{"symlink to a regular file", toSmall, strings.Repeat("x", 10), nil, ""},
		{"one byte over", overCap, "", ErrTooLarge, "is 101 B, over the 100 B limit for table files (REELMATCH_MAX_TABLE_BYTES raises it)"},
		{"sparse 1 TiB", sparse, "", ErrTooLarge, "is 1 TiB"},
		{"folder", dir, "", ErrNotRegular, "is a folder, not a regular file: pass the path of a text file"},
		{"fifo", fifo, "", ErrNotRegular, "is a named pipe (FIFO)"},
		{"symlink to fifo", toFifo, "", ErrNotRegular, "is a named pipe (FIFO)"},
		{"dev zero", "/dev/zero", "", ErrNotRegular, "/dev/zero: is a character device"},
		{"symlink to dev zero", toZero, "", ErrNotRegular, "zero.png: is a character device"},
		{"symlink chain to dev zero", toLink, "", ErrNotRegular, "is a character device"},
		{"missing", filepath.Join(dir, "nope"), "", fs.ErrNotExist, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			var got []byte
			var err error
			go func() {
				defer close(done)
				got, err = ReadFile(context.Background(), tt.path, Table)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("ReadFile blocked")
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, string(got)); diff != "" {
					t.Errorf("content (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.msg)
			}
			// Check gives the same verdict without opening.
			if _, cerr := Check(tt.path, Table); !errors.Is(cerr, tt.wantErr) {
				t.Errorf("Check err = %v, want %v", cerr, tt.wantErr)
			}
		})
	}
}

func TestFileGrowsPastCap(t *testing.T) {
	setCap(t, Table, 10)
	p := filepath.Join(t.TempDir(), "grows.txt")
	if err := os.WriteFile(p, []byte("12345678"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p, Table)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("9abcdef")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	_, err = io.ReadAll(f)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "grew past the 10 B limit") {
		t.Fatalf("err = %v, want it to say the file grew past the cap", err)
	}
}

func TestReadFileCancelled(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadFile(ctx, p, Config); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestReadAtStaysWithinSizeAtOpen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.bin")
	if err := os.WriteFile(p, []byte("abcdef"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p, Weights)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4)
	n, err := f.ReadAt(buf, 4)
	if n != 2 || !errors.Is(err, io.EOF) || string(buf[:n]) != "ef" {
		t.Fatalf("ReadAt = %d %v %q, want 2 EOF \"ef\"", n, err, buf[:n])
	}
	if f.Size() != 6 || f.Name() != p {
		t.Errorf("Size, Name = %d %q", f.Size(), f.Name())
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{"52428800", 52428800, ""},
		{"50MiB", 50 << 20, ""},
		{"50 MiB", 50 << 20, ""},
		{"2G", 2 << 30, ""},
		{"1kb", 1024, ""},
		{"7B", 7, ""},
		{"", 0, "is not a size"},
		{"-1", 0, "is not a size"},
		{"1.5GiB", 0, "unknown unit"},
		{"nan", 0, "is not a size"},
		{"12 parsecs", 0, "unknown unit"},
		{"99999999999999999999", 0, "too large"},
		{"9999999999TiB", 0, "too large"},
	}
	for _, tt := range tests {
		got, err := ParseBytes(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseBytes(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	got := []string{FormatBytes(812), FormatBytes(50 << 20), FormatBytes(3 << 29), FormatBytes(1<<40 + 1<<39)}
	want := []string{"812 B", "50 MiB", "1.5 GiB", "1.5 TiB"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestKinds(t *testing.T) {
	var got []string
	for _, k := range Kinds() {
		got = append(got, k.EnvVar()+"="+FormatBytes(k.DefaultCap()))
	}
	want := []string{
		"REELMATCH_MAX_IMAGE_BYTES=50 MiB", "REELMATCH_MAX_TABLE_BYTES=256 MiB",
		"REELMATCH_MAX_CONFIG_BYTES=64 MiB", "REELMATCH_MAX_MODEL_BYTES=2 GiB",
		"REELMATCH_MAX_WEIGHTS_BYTES=1 GiB", "REELMATCH_MAX_CACHE_BYTES=64 GiB",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := SetCap(Image, 0); err == nil {
		t.Error("SetCap(Image, 0) accepted a zero cap")
	}
}
