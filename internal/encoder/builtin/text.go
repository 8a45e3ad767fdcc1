package builtin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/reelmatch/reelmatch/internal/bound"
	"github.com/reelmatch/reelmatch/internal/safetensors"
)

// textRecipe names the text feature recipe (tokenizer, n-grams, weighting,
// SVD settings); bump it whenever any of them changes.
const textRecipe = "builtin-text-v3"

// TF-IDF and SVD settings. sublinear tf, smooth idf and L2-normalised rows
// follow scikit-learn's TfidfVectorizer(sublinear_tf=True); the SVD is
// Halko, Martinsson and Tropp (2011), Algorithm 4.4, with scikit-learn's
// randomized_svd oversampling (10) and 4 power iterations (its choice for
// ranks over a tenth of the matrix's; TestRandomizedSVDMatchesExact checks
// that 4 recover the exact singular vectors).
//
// The SVD is always fitted at rank MaxTextDim and the first TextDim
// components (largest singular values first) are kept, so a smaller text
// dimension is exactly a prefix of a larger one: `reelmatch tune` fits once
// per fold and scores every dimension of its grid from that fit, as embed
// would produce it. The dimension is chosen by tune's cross-validation
// inside the training split (DefaultTextDim; docs/builtin-features.md).
//
// minDF 2 and maxFeatures are conventional LSA settings (scikit-learn
// users' usual min_df=2), not tuned.
const (
	minDF       = 2      // a term must occur in two training intros
	maxFeatures = 50_000 // keep the most frequent terms beyond this
	oversample  = 10
	powerIters  = 4
	svdSeed     = 2024 // fixed so that fits are reproducible
)

// MaxTextDim is the rank the SVD is fitted at and the largest text
// dimension. DefaultTextDim is the dimension an Encoder keeps unless told
// otherwise: chosen by `reelmatch tune` on the training split
// (docs/builtin-features.md).
const (
	MaxTextDim     = 256
	DefaultTextDim = 32
)

// TextDimRange bounds Config.TextDim for this encoder.
var TextDimRange = bound.Int{Min: 8, Max: MaxTextDim}

// tokens lower-cases text and returns its runs of letters and digits of two
// or more runes (scikit-learn's default token pattern \b\w\w+\b, without
// the underscore).
func tokens(text string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if len([]rune(w)) >= 2 {
			out = append(out, w)
		}
	}
	return out
}

// terms returns the unigrams then the bigrams of text.
func terms(text string) []string {
	tok := tokens(text)
	out := tok
	for i := 0; i+1 < len(tok); i++ {
		out = append(out, tok[i]+" "+tok[i+1])
	}
	return out
}

// textModel is the fitted state: the vocabulary with its IDF weights and
// the SVD components. Read-only after fitting, so Encode is safe for
// concurrent use.
type textModel struct {
	vocab      []string
	index      map[string]int32
	idf        []float32 // [V]
	dim        int       // output size (the encoder's text dimension)
	k          int       // fitted components, at most dim (fewer on a tiny training set)
	components []float32 // [V, k] term-major: row t is term t's loadings
}

// sparseRow is one document's L2-normalised TF-IDF vector.
type sparseRow struct {
	cols []int32
	vals []float64
}

// vectorize weights text's known terms by (1 + ln tf) * idf and scales the
// row to unit length.
func (m *textModel) vectorize(text string) sparseRow {
	tf := map[int32]int{}
	for _, t := range terms(text) {
		if j, ok := m.index[t]; ok {
			tf[j]++
		}
	}
	row := sparseRow{cols: make([]int32, 0, len(tf)), vals: make([]float64, 0, len(tf))}
	for j := range tf {
		row.cols = append(row.cols, j)
	}
	slices.Sort(row.cols) // map order is random; sums must not be
	var norm float64
	for _, j := range row.cols {
		w := (1 + math.Log(float64(tf[j]))) * float64(m.idf[j])
		row.vals = append(row.vals, w)
		norm += w * w
	}
	if norm > 0 {
		norm = math.Sqrt(norm)
		for i := range row.vals {
			row.vals[i] /= norm
		}
	}
	return row
}

// project maps a text to its m.dim LSA coordinates; components beyond
// the fitted k are zero.
func (m *textModel) project(text string) []float32 {
	out := make([]float32, m.dim)
	row := m.vectorize(text)
	for n, j := range row.cols {
		w := float32(row.vals[n])
		comp := m.components[int(j)*m.k : int(j+1)*m.k]
		for c, v := range comp {
			out[c] += w * v
		}
	}
	return out
}

// fitText learns the vocabulary, IDF and the rank-MaxTextDim SVD from the
// training texts and keeps the first dim components.
func fitText(ctx context.Context, texts []string, dim int) (*textModel, error) {
	n := len(texts)
	if n == 0 {
		return nil, fmt.Errorf("no training texts")
	}
	df := map[string]int{}
	for _, text := range texts {
		seen := map[string]bool{}
		for _, t := range terms(text) {
			if !seen[t] {
				seen[t] = true
				df[t]++
			}
		}
	}
	m := &textModel{}
	for _, need := range []int{minDF, 1} { // a tiny training set may have no repeated term
		m.vocab = m.vocab[:0]
		for t, c := range df {
			if c >= need {
				m.vocab = append(m.vocab, t)
			}
		}
		if len(m.vocab) > 0 {
			break
		}
	}
	if len(m.vocab) == 0 {
		return nil, fmt.Errorf("the %d training texts contain no words", n)
	}
	// Most frequent first (ties by term), so the cap keeps frequent terms
	// and the order is deterministic.
	slices.SortFunc(m.vocab, func(a, b string) int {
		if df[a] != df[b] {
			return df[b] - df[a]
		}
		return strings.Compare(a, b)
	})
	if len(m.vocab) > maxFeatures {
		m.vocab = m.vocab[:maxFeatures]
	}
	m.index = make(map[string]int32, len(m.vocab))
	m.idf = make([]float32, len(m.vocab))
	for j, t := range m.vocab {
		m.index[t] = int32(j)
		m.idf[j] = float32(math.Log(float64(1+n)/float64(1+df[t])) + 1)
	}
	rows := make([]sparseRow, n)
	for i, text := range texts {
		rows[i] = m.vectorize(text)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	comps, k, err := randomizedSVD(ctx, rows, len(m.vocab), MaxTextDim)
	if err != nil {
		return nil, err
	}
	m.k, m.dim, m.components = k, MaxTextDim, comps
	return m.truncate(dim), nil
}

// truncate returns m keeping its first dim components (a copy; m is not
// changed). Projections by the result are the first dim values of m's.
func (m *textModel) truncate(dim int) *textModel {
	k := min(m.k, dim)
	t := *m
	t.dim, t.k = dim, k
	t.components = make([]float32, len(m.vocab)*k)
	for j := range m.vocab {
		copy(t.components[j*k:(j+1)*k], m.components[j*m.k:j*m.k+k])
	}
	return &t
}

// randomizedSVD returns the top k right singular vectors of the sparse
// n x v matrix rows, as a [v, k] term-major float32 slice, with k at most
// want (fewer when the matrix is smaller).
//
// Subspace iteration runs on the n side only (Q = orth(A Aᵀ Q)), since the
// training set has far fewer intros than terms; then, with B = Qᵀ A, the
// small l x l eigenproblem B Bᵀ = Qᵀ A Aᵀ Q = W S² Wᵀ gives A's right
// singular vectors as V = Aᵀ Q W S⁻¹.
func randomizedSVD(ctx context.Context, rows []sparseRow, v, want int) ([]float32, int, error) {
	n := len(rows)
	k := min(want, n, v)
	l := min(k+oversample, n, v)
	rng := rand.New(rand.NewPCG(svdSeed, svdSeed))
	// Dense matrices are kept as slices of columns: [l][rows].
	omega := make([][]float64, l)
	for c := range omega {
		omega[c] = make([]float64, v)
		for j := range omega[c] {
			omega[c][j] = rng.NormFloat64()
		}
	}
	q := orthonormalize(mulA(rows, omega, n), 1)
	for it := range powerIters {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		passes := 1
		if it == powerIters-1 {
			passes = 2 // the final basis must be orthonormal to working precision
		}
		q = orthonormalize(mulA(rows, mulAT(rows, q, v), n), passes)
	}
	y := mulA(rows, mulAT(rows, q, v), n) // A Aᵀ Q, n x l
	gram := mat.NewSymDense(l, nil)
	for a := range l {
		for b := a; b < l; b++ {
			gram.SetSym(a, b, floats.Dot(q[a], y[b]))
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(gram, true) {
		return nil, 0, fmt.Errorf("truncated SVD: eigendecomposition did not converge")
	}
	vals := eig.Values(nil) // ascending
	var w mat.Dense
	eig.VectorsTo(&w)
	top := math.Sqrt(max(vals[l-1], 0))
	// M = Q W S⁻¹, keeping the k largest; null directions stay zero.
	m := make([][]float64, k)
	for out := range k {
		e := l - 1 - out // largest first
		m[out] = make([]float64, n)
		s := math.Sqrt(max(vals[e], 0))
		if s == 0 || s <= 1e-9*top {
			continue
		}
		for a := range l {
			if wa := w.At(a, e) / s; wa != 0 {
				floats.AddScaled(m[out], wa, q[a])
			}
		}
	}
	u := mulAT(rows, m, v) // [k][v]
	comps := make([]float32, v*k)
	for out, col := range u {
		// Fix the sign so the largest loading is positive (as
		// scikit-learn's svd_flip does), so that fits are reproducible.
		big := 0
		for j := range col {
			if math.Abs(col[j]) > math.Abs(col[big]) {
				big = j
			}
		}
		sign := 1.0
		if col[big] < 0 {
			sign = -1
		}
		for j, x := range col {
			comps[j*k+out] = float32(sign * x)
		}
	}
	return comps, k, nil
}

// mulA returns A X for sparse A (n rows) and X given as columns of length v.
func mulA(rows []sparseRow, x [][]float64, n int) [][]float64 {
	out := make([][]float64, len(x))
	for c := range x {
		col, xc := make([]float64, n), x[c]
		for i, r := range rows {
			var s float64
			for k, j := range r.cols {
				s += r.vals[k] * xc[j]
			}
			col[i] = s
		}
		out[c] = col
	}
	return out
}

// mulAT returns Aᵀ Y for sparse A and Y given as columns of length n.
func mulAT(rows []sparseRow, y [][]float64, v int) [][]float64 {
	out := make([][]float64, len(y))
	for c := range y {
		col, yc := make([]float64, v), y[c]
		for i, r := range rows {
			yi := yc[i]
			if yi == 0 {
				continue
			}
			for k, j := range r.cols {
				col[j] += r.vals[k] * yi
			}
		}
		out[c] = col
	}
	return out
}

// orthonormalize runs modified Gram-Schmidt over the columns in place,
// passes times (two passes give orthonormality to working precision:
// "twice is enough", Giraud et al. 2005), and returns them. Columns that
// vanish stay zero.
func orthonormalize(cols [][]float64, passes int) [][]float64 {
	for range passes {
		for a := range cols {
			for b := range a {
				if p := floats.Dot(cols[a], cols[b]); p != 0 {
					floats.AddScaled(cols[a], -p, cols[b])
				}
			}
			nrm := math.Sqrt(floats.Dot(cols[a], cols[a]))
			if nrm < 1e-12 {
				clear(cols[a])
				continue
			}
			for i := range cols[a] {
				cols[a][i] /= nrm
			}
		}
	}
	return cols
}

// State layout: a safetensors file with tensors "idf" [V] and "components"
// [V, k], and metadata "recipe", "vocab" (a JSON array of terms) and "dim"
// (the text dimension, k or more).
const (
	stateRecipe = "recipe"
	stateVocab  = "vocab"
	stateDim    = "dim"
	stateIDF    = "idf"
	stateComps  = "components"
)

func (m *textModel) marshal() ([]byte, error) {
	vocab, err := json.Marshal(m.vocab)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = safetensors.Write(&buf, map[string]safetensors.Tensor{
		stateIDF:   {Shape: []int{len(m.idf)}, F32: m.idf},
		stateComps: {Shape: []int{len(m.vocab), m.k}, F32: m.components},
	}, map[string]string{stateRecipe: textRecipe, stateVocab: string(vocab), stateDim: strconv.Itoa(m.dim)})
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func unmarshalText(state []byte) (*textModel, error) {
	f, err := safetensors.Read(bytes.NewReader(state), int64(len(state)))
	if err != nil {
		return nil, err
	}
	if got := f.Metadata[stateRecipe]; got != textRecipe {
		return nil, fmt.Errorf("state is of recipe %q, this build uses %q", got, textRecipe)
	}
	m := &textModel{}
	if m.dim, err = strconv.Atoi(f.Metadata[stateDim]); err != nil || TextDimRange.Check(m.dim) != nil {
		return nil, fmt.Errorf("text dimension %q: want a whole number %s", f.Metadata[stateDim], TextDimRange)
	}
	if err := json.Unmarshal([]byte(f.Metadata[stateVocab]), &m.vocab); err != nil {
		return nil, fmt.Errorf("vocabulary: %w", err)
	}
	idf, err := f.Tensor(stateIDF)
	if err != nil {
		return nil, err
	}
	comps, err := f.Tensor(stateComps)
	if err != nil {
		return nil, err
	}
	v := len(m.vocab)
	if len(idf.Shape) != 1 || idf.Shape[0] != v || idf.F32 == nil {
		return nil, fmt.Errorf("idf has shape %v, want [%d]", idf.Shape, v)
	}
	if len(comps.Shape) != 2 || comps.Shape[0] != v || comps.Shape[1] > m.dim || comps.F32 == nil {
		return nil, fmt.Errorf("components have shape %v, want [%d, at most %d]", comps.Shape, v, m.dim)
	}
	m.idf, m.k, m.components = idf.F32, comps.Shape[1], comps.F32
	m.index = make(map[string]int32, v)
	for j, t := range m.vocab {
		m.index[t] = int32(j)
	}
	return m, nil
}
