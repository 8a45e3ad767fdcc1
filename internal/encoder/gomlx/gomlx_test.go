package gomlx

import (
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
)

func TestConformance(t *testing.T) {
	encodertest.Run(t, Runtime{})
}
