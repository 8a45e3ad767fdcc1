// Package vecmath holds the few float32 vector kernels that metrics, search
// and the heads share: dot products, L2 normalisation, a many-to-many
// cosine matrix, and DotPanels, which scores one query against many rows
// stored in panels of eight (see PanelRows). It owns arithmetic only, no
// files and no models.
//
// With GOEXPERIMENT=simd on amd64 CPUs that have AVX2 and FMA, Dot and
// DotPanels use 8-wide fused multiply-adds (simd/archsimd); everywhere else
// they fall back to portable loops. Both give the same results up to
// float32 rounding (about 1e-6 relative for unit vectors). DotPanels also
// promises that a row's score never depends on where the row sits, which
// lets callers score a row alone and in bulk with identical results.
//
// DotPanelsMulti is search's scan kernel: several queries against the
// same panels, four queries × two panels per inner loop on AVX-512 CPUs
// (one 16-lane fused multiply-add covers two columns), with the same
// position-independence, also across queries. The int8 panels
// (DotPanelsInt8, QuantizeRow, QuantizeQuery) and their error measures
// (Int8RowError, QueryError, Int8Lower) serve search's int8 index.
package vecmath
