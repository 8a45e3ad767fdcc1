// Package tune chooses a run's settings by k-fold cross-validation inside
// the training split: the builtin encoder's text settings (which intro it
// reads and how many LSA components it keeps) and the heads (MLP, ridge or
// CCA, with their regularisation, dropout and weight-averaging window).
//
// Folds are by movie and drawn from the training split only; the caller
// passes nothing else to Run. Every fitted step is refitted per fold on the
// fold's training part: the builtin TF-IDF vocabulary, IDF and SVD, the
// feature standardisation, the heads and the MLP's validation slice. The
// held-out split is read once, afterwards, by Test, which fits the chosen
// settings on the whole training split and scores the test movies.
//
// The search is staged to fit a 2-core budget: every text setting is
// scored with the closed-form heads (cheap), and the MLP grid is scored on
// the text setting the closed-form heads liked best; the chosen setting is
// the best mean over folds of the mean rank percentile (both directions
// averaged) among everything scored.
//
// It owns no file layout beyond the tune file's JSON (Result); the CLI
// (`reelmatch tune`) reads WORK and writes WORK/tune/<encoder>.json.
package tune
