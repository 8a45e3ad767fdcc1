package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/inputfile"
)

// Environment variables that change the input limits (README "Limits and
// safety"); REELMATCH_MAX_<KIND>_BYTES come from inputfile.Kind.EnvVar.
const (
	envMaxImagePixels = "REELMATCH_MAX_IMAGE_PIXELS"
	envDecodeMemory   = "REELMATCH_DECODE_MEMORY"
)

// applyLimits sets the input file caps, the pixel budget and the decode
// memory budget from the environment, or back to their defaults for the
// variables that are unset. A value that does not parse or is out of range
// is a usage error naming the variable.
func applyLimits() error {
	for _, k := range inputfile.Kinds() {
		n := k.DefaultCap()
		if v, ok := lookupEnv(k.EnvVar()); ok {
			var err error
			if n, err = inputfile.ParseBytes(v); err != nil {
				return usagef("%s: %v", k.EnvVar(), err)
			}
		}
		if err := inputfile.SetCap(k, n); err != nil {
			return usagef("%s: %v", k.EnvVar(), err)
		}
	}
	px := int64(imageprep.DefaultMaxPixels)
	if v, ok := lookupEnv(envMaxImagePixels); ok {
		var err error
		if px, err = strconv.ParseInt(v, 10, 64); err != nil {
			return usagef("%s=%q: want a whole number of pixels, e.g. %d", envMaxImagePixels, v, imageprep.DefaultMaxPixels)
		}
	}
	if err := imageprep.SetMaxPixels(px); err != nil {
		return usagef("%s: %v", envMaxImagePixels, err)
	}
	mem := int64(imageprep.DefaultDecodeMemory)
	if v, ok := lookupEnv(envDecodeMemory); ok {
		var err error
		if mem, err = inputfile.ParseBytes(v); err != nil {
			return usagef("%s: %v", envDecodeMemory, err)
		}
	}
	if mem != imageprep.DecodeMemory() {
		if err := imageprep.SetDecodeMemory(mem); err != nil {
			return usagef("%s: %v", envDecodeMemory, err)
		}
	}
	return nil
}

// limitsHelp lists the limits in force, for -v.
func limitsHelp() string {
	var parts []string
	for _, k := range inputfile.Kinds() {
		parts = append(parts, fmt.Sprintf("%s=%s", k, inputfile.FormatBytes(k.Cap())))
	}
	return fmt.Sprintf("file caps %s; pixels<=%d; decode memory %s",
		strings.Join(parts, " "), imageprep.MaxPixels(), inputfile.FormatBytes(imageprep.DecodeMemory()))
}
