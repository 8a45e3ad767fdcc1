// Package builtin is the "builtin" encoder: it needs no weights, so the
// whole pipeline runs offline and fast.
//
// The image tower computes hand-crafted poster features in Prepare (the
// poster is first resized to a fixed 64x96, so features do not depend on
// resolution): a joint HSV colour histogram, a 4x4 grid of mean CIE Lab
// colour and of brightness contrast, edge-orientation histograms and a 4x4
// edge-density grid from Sobel gradients, a grey-level histogram, and global
// brightness, saturation, contrast and colourfulness statistics. Encode
// returns them unchanged.
//
// The text tower is latent semantic analysis: TF-IDF over unigrams and
// bigrams with sublinear term frequency, fitted on the training split only
// (encoder.Fitter), reduced to 256 dimensions by a randomized truncated SVD.
// The fitted vocabulary, IDF weights and SVD components are the encoder
// state that embed saves beside the feature cache; the fingerprint covers
// the feature recipe version, the text-input setting and a hash of that
// state.
package builtin
