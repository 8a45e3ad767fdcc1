// Package builtin is the "builtin" encoder: it needs no weights, so the
// whole pipeline runs offline and fast.
//
// The image tower computes hand-crafted poster features in Prepare, on the
// poster resized to 64x96 and to 128x192 (so features do not depend on
// resolution), in named blocks (ImageBlocks): a joint HSV colour histogram,
// a 4x4 grid of mean CIE Lab colour, a grey-level histogram, global
// brightness, saturation, contrast, colourfulness and edge statistics,
// uniform local-binary-pattern texture histograms at two scales, a colour
// histogram per horizontal band, the skin-coloured share per cell of a 3x3
// grid, and a lettering density per horizontal band. Histograms are
// square-rooted (the Hellinger map). Encode returns the features unchanged;
// the heads standardise them with the training split's statistics.
//
// The text tower is latent semantic analysis: TF-IDF over unigrams and
// bigrams with sublinear term frequency, fitted on the training split only
// (encoder.Fitter), reduced by a randomized truncated SVD of rank 256 of
// which the first Config.TextDim components are kept (DefaultTextDim).
// The fitted vocabulary, IDF weights and SVD components are the encoder
// state that embed saves beside the feature cache; the fingerprint covers
// the feature recipe versions, the text-input setting and a hash of that
// state.
//
// The text settings (which intro, how many components) are chosen by
// `reelmatch tune`, by cross-validation inside the training split. The
// image blocks were designed with the feature probe (internal/probe); its
// ablation, now cross-validated on the training split, is in
// docs/builtin-features.md with the split that chose and the split that
// scored each table.
package builtin
