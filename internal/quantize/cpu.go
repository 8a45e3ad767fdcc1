package quantize

import (
	"runtime"

	"golang.org/x/sys/cpu"
)

// HasVNNI reports whether this CPU multiplies 8-bit integers with VNNI
// (AVX-512 VNNI or AVX-VNNI), which accumulates in 32 bits. x86 CPUs
// without it saturate at 16 bits on full-range int8 weights, so
// Options.ReduceRange should be set for models that will run on them.
func HasVNNI() bool {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "386" {
		return true // ARM's int8 dot products accumulate in 32 bits
	}
	return cpu.X86.HasAVX512VNNI || cpu.X86.HasAVXVNNI
}
