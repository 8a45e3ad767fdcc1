// Package evalrun is the eval stage of a WORK folder: it loads a run's heads
// and the cached features, projects every movie of the manifest into the
// shared space (a Space), builds D = 1 - cos for a split (rows posters,
// columns intros), scores it with metrics, and writes eval_<split>.json and
// distance_<split>.safetensors into the run folder. The CLI (eval, search,
// run), the web server and the report all go through it, so they agree on
// which movies a split holds and in what order.
//
// Splits: "test" holds only movies not listed in train.txt, so it measures
// generalisation; "all" is the seed's protocol (every movie, training pairs
// included) and is not a held-out measure; "train" is the training split.
//
// It owns no arithmetic (metrics, vecmath) and no model code (heads).
package evalrun
