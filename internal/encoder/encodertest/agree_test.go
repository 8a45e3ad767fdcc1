package encodertest_test

import (
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/encoder/gomlx"
	"github.com/reelmatch/reelmatch/internal/encoder/ort"
)

// TestRuntimesAgree checks that ONNX Runtime and the pure-Go backend give
// the same outputs on every fixture model.
func TestRuntimesAgree(t *testing.T) {
	encodertest.Agree(t, ort.Runtime{}, gomlx.Runtime{})
}
