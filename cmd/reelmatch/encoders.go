package main

// Every encoder implementation registers itself in init; this file is the
// one place that links them into the binary.
import (
	_ "github.com/reelmatch/reelmatch/internal/encoder/builtin"
	_ "github.com/reelmatch/reelmatch/internal/encoder/gomlx"
	_ "github.com/reelmatch/reelmatch/internal/encoder/ort"
	_ "github.com/reelmatch/reelmatch/internal/encoder/pretrained"
)
