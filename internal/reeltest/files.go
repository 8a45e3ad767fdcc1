package reeltest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// ReadFile returns the bytes of path; the test fails when it cannot be read.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ReadFixture returns the bytes of the golden fixture rel (see Fixture).
func ReadFixture(t testing.TB, rel string) []byte {
	t.Helper()
	return ReadFile(t, Fixture(t, rel))
}

// WriteFile writes data to path, making its missing parent folders; the
// test fails on any error. It returns path so that a test can build a
// folder and name its files in one step.
func WriteFile(t testing.TB, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// JPEG encodes img as a JPEG file of the given quality (1-100; 0 means the
// standard library's default, 75).
func JPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var opts *jpeg.Options
	if quality != 0 {
		opts = &jpeg.Options{Quality: quality}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// PNG encodes img as a PNG file.
func PNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// SHA256 returns the lower-case hex SHA-256 of b, the form manifests and
// the model hub print.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
