// Command probe measures how much cross-modal signal a WORK folder's cached
// features carry, without training the heads: it fits a linear map on the
// training split (ridge regression from poster to intro features, or
// regularised CCA) and scores the held-out split with the same metrics as
// `reelmatch eval` (mean rank percentile and R@10, both directions).
//
// It is a developer tool for tuning the builtin encoder's features:
//
//	go run ./internal/encoder/builtin/internal/probe --work WORK [--ablate] [--drop BLOCKS] [--text-dims N]
//
// where WORK was made by `reelmatch embed --encoder builtin`. With
// --ablate it also scores each image feature block alone and the whole
// set without it (blocks from builtin.ImageBlocks).
//
// The numbers in docs/builtin-features.md were made with it. It reads only
// the WORK folder and prints to stdout; it is not part of the reelmatch
// binary.
package main
