// Package metrics scores cross-modal retrieval from a distance matrix, as pure
// functions with no files and no models.
//
// D is [nPosters][nIntros] with D[i][j] = 1 - cos(poster i, intro j), and
// poster i matches intro i. Poster-to-intro queries are the rows (each poster
// ranks every intro); intro-to-poster queries are the columns.
//
// Conventions, the same everywhere in reelmatch:
//
//   - Ranks are 1-based. The rank of the true match is 1 plus the number of
//     candidates strictly nearer than it, so ties are resolved in the query's
//     favour (an optimistic rank; see TieHalf for the other choice). NaN
//     distances count as infinitely far.
//   - R@K is the fraction of queries whose rank is at most K.
//   - Median rank is the lower median of the ranks (an integer, like the
//     "MedR" of the retrieval literature), mean rank their plain average,
//     MRR the average of 1/rank.
//   - Top-1 accuracy is the fraction of queries where argmin over the
//     candidates, ties broken by the lower index (as torch.argmin does), is
//     the true match. It differs from R@1 only when distances tie.
//   - Mean rank percentile is, averaged over queries, the fraction of the
//     n-1 wrong candidates that are farther than the true match, ties
//     counting half. Chance is 0.5 and a perfect model scores 1. It is the
//     same number as 1 - (rank-1)/(n-1) averaged, up to ties.
//
// The seed project reported "accuracy along dim 0 / dim 1" of 65.66% and
// 66.30% with a lost get_acc function. Values that high on ~3,000 movies are
// not top-1 accuracies; they look like mean rank percentiles. reelmatch
// therefore reports both, and the docs say that the comparison is a guess.
//
// Bootstrap confidence intervals resample the queries (movies) with
// replacement from a fixed seed and take the percentile interval of each
// metric; see Bootstrap.
package metrics
