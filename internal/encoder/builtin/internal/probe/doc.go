// Command probe measures how much cross-modal signal a WORK folder's cached
// features carry, without training the MLP heads: for an image feature
// selection it cross-validates the closed-form heads of `reelmatch train
// --heads linear|cca` (ridge and regularised CCA, the default grids) on the
// training split and prints the setting each chose with its mean ± sd over
// folds (mean rank percentile, both directions). With --test it also
// scores those chosen settings once on the held-out split; the held-out
// numbers never choose anything.
//
// It is a developer tool for studying the builtin encoder's feature blocks:
//
//	go run ./internal/encoder/builtin/internal/probe --work WORK [--ablate] [--test] [--drop BLOCKS] [--text-dims N]
//
// where WORK was made by `reelmatch embed --encoder builtin`. With
// --ablate it also scores each image feature block alone and the whole
// set without it (blocks from builtin.ImageBlocks). The cached intro
// features were fitted on the whole training split, so inside a fold the
// TF-IDF has seen the fold's held-out intros; `reelmatch tune` refits it
// per fold and is what chooses the settings.
//
// docs/builtin-features.md gives the command behind each of its tables.
// It reads only the WORK folder and prints to stdout; it is not part of the
// reelmatch binary.
package main
