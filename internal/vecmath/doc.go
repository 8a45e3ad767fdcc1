// Package vecmath holds the few float32 vector kernels that metrics and
// search share: dot products, L2 normalisation and a many-to-many cosine
// matrix. It owns arithmetic only, no files and no models.
//
// With GOEXPERIMENT=simd on amd64 CPUs that have AVX2 and FMA, Dot uses
// 8-wide fused multiply-adds (simd/archsimd); everywhere else it falls back to
// a portable loop with four accumulators. Both give the same results up to
// float32 rounding (about 1e-6 relative for unit vectors).
package vecmath
