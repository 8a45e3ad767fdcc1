package search

import "github.com/reelmatch/reelmatch/internal/vecmath"

var (
	normalized = vecmath.Normalized
	dotKernel  = vecmath.Dot
)
