package reeltest

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// Cosine is the cosine similarity of a and b in float64, or 0 when either
// is all zeros.
func Cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// CheckError fails the test unless err is a one-line error containing
// message and, when is is not nil, wrapping is.
func CheckError(t testing.TB, err, is error, message string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", message)
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("error %v does not wrap %v", err, is)
	}
	if !strings.Contains(err.Error(), message) {
		t.Errorf("error %q lacks %q", err, message)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
}
