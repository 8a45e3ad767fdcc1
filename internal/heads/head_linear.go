package heads

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/reelmatch/reelmatch/internal/bound"
)

// Ranges of the closed-form heads' settings, for flag and file checks.
var (
	// LambdaRange bounds the ridge penalty (relative to the pairs).
	LambdaRange = bound.Float{Min: 0, Max: 1e6, OpenMin: true}
	// ShrinkRange bounds the CCA covariance shrinkage.
	ShrinkRange = bound.Float{Min: 0, Max: 1, OpenMax: true}
	// CCADimRange bounds the CCA components kept.
	CCADimRange = bound.Int{Min: 1, Max: 4096}
	// FoldsRange bounds the cross-validation folds.
	FoldsRange = bound.Int{Min: 2, Max: 100}
	// GridLenRange bounds how many values one grid flag may list.
	GridLenRange = bound.Int{Min: 1, Max: 100}
)

// LinearConfig holds the one or two settings of a closed-form linear head.
// Which fields apply depends on the kind: KindLinear uses Lambda, KindCCA
// Shrink and Dim.
type LinearConfig struct {
	// Lambda is the ridge penalty relative to the number of training pairs
	// n: W = (XᵀX + Lambda·n·I)⁻¹ XᵀY on standardised features, so one value
	// means the same shrinkage whatever the training-set size.
	Lambda float64 `json:"lambda,omitempty"`
	// Shrink pulls both CCA covariance matrices towards the identity:
	// C' = (1-Shrink)·C + Shrink·I on standardised features (regularised
	// CCA, Vinod 1976), in [0,1).
	Shrink float64 `json:"shrink,omitempty"`
	// Dim is how many canonical components CCA keeps (largest correlations
	// first); each is weighted by its canonical correlation on both sides.
	Dim int `json:"dim,omitempty"`
}

// String is the setting as grids print it.
func (c LinearConfig) String() string {
	if c.Dim > 0 {
		return fmt.Sprintf("shrink %g, dim %d", c.Shrink, c.Dim)
	}
	return fmt.Sprintf("lambda %g", c.Lambda)
}

// Validate reports a setting kind cannot use, naming it.
func (c LinearConfig) Validate(kind string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadConfig, fmt.Sprintf(format, args...))
	}
	switch kind {
	case KindLinear:
		if err := LambdaRange.Check(c.Lambda); err != nil {
			return bad("ridge lambda %v", err)
		}
	case KindCCA:
		if err := ShrinkRange.Check(c.Shrink); err != nil {
			return bad("cca shrink %v", err)
		}
		if err := CCADimRange.Check(c.Dim); err != nil {
			return bad("cca dim %v", err)
		}
	default:
		return bad("%q is not a linear head kind (want %q or %q)", kind, KindLinear, KindCCA)
	}
	return nil
}

// FitLinear fits a closed-form head of kind (KindLinear or KindCCA) on
// matching rows img[i], txt[i], with c's regularisation. Both sides are
// standardised with the pairs' mean and deviation, and the standardisation
// is folded into the saved Linear layers, so the model takes raw features
// like the MLP heads. The result has no hidden layers: each tower is one
// Linear, saved under the MLP heads' tensor names (img.net.0.weight, ...).
//
//   - KindLinear (ridge regression from posters to intros): the poster tower
//     is the ridge map W into the standardised intro space, the intro tower
//     the standardisation alone.
//   - KindCCA: both towers project onto the first c.Dim canonical directions,
//     each scaled by its canonical correlation.
func FitLinear(kind string, img, txt [][]float32, c LinearConfig) (*Model, error) {
	if err := c.Validate(kind); err != nil {
		return nil, err
	}
	p, err := NewPosterSide(img)
	if err != nil {
		return nil, err
	}
	f, err := p.Fit(kind, txt, c.Shrink)
	if err != nil {
		return nil, err
	}
	return f.Model(c)
}

// PosterSide is the poster half of closed-form fits on one set of poster
// features: the standardised rows and the decompositions that do not
// depend on the intro features, so fits against several intro feature
// sets (`reelmatch tune`'s text settings) or several settings share them.
// Not safe for concurrent use.
type PosterSide struct {
	n      int
	xs     *standardizer
	x      *mat.Dense // standardised, [n, dx]
	xtxEig *mat.EigenSym
	wx     map[float64]*mat.Dense // CCA whitening by shrinkage
}

// NewPosterSide standardises poster features img [n][dx] for Fit.
func NewPosterSide(img [][]float32) (*PosterSide, error) {
	if len(img) < 2 {
		return nil, fmt.Errorf("%w: a linear head needs at least 2 pairs, got %d", ErrNoPairs, len(img))
	}
	if err := checkPairs("training", img, img); err != nil {
		return nil, err
	}
	p := &PosterSide{n: len(img), xs: newStandardizer(img), wx: map[float64]*mat.Dense{}}
	p.x = p.xs.dense(img)
	return p, nil
}

// LinearFit is a closed-form fit of one kind on one pair of feature sets,
// ready to build the head for any setting that shares its decompositions
// (every ridge λ; every CCA dimension at its shrinkage).
type LinearFit struct {
	kind       string
	p          *PosterSide
	ys         *standardizer
	y          *mat.Dense // standardised intro rows, [n, dy]
	xty        *mat.Dense // Xᵀ Y (ridge)
	shrink     float64
	ccaA, ccaB *mat.Dense // [dx, r] and [dy, r] canonical directions, strongest first
	ccaCorr    []float64  // [r]
}

// Fit prepares a head of kind on the poster side and matching intro rows
// txt [n][dy]; shrink is read for KindCCA only.
func (p *PosterSide) Fit(kind string, txt [][]float32, shrink float64) (*LinearFit, error) {
	if len(txt) != p.n {
		return nil, fmt.Errorf("training pairs: %d poster rows but %d intro rows", p.n, len(txt))
	}
	if err := checkPairs("training", txt, txt); err != nil {
		return nil, err
	}
	f := &LinearFit{kind: kind, p: p, ys: newStandardizer(txt), shrink: shrink}
	f.y = f.ys.dense(txt)
	switch kind {
	case KindLinear:
		if p.xtxEig == nil {
			var xtx mat.SymDense
			xtx.SymOuterK(1, p.x.T())
			eig := &mat.EigenSym{}
			if !eig.Factorize(&xtx, true) {
				return nil, fmt.Errorf("ridge: eigendecomposition of XᵀX did not converge")
			}
			p.xtxEig = eig
		}
		f.xty = &mat.Dense{}
		f.xty.Mul(p.x.T(), f.y)
	case KindCCA:
		if err := (LinearConfig{Shrink: shrink, Dim: 1}).Validate(kind); err != nil {
			return nil, err
		}
		if err := f.fitCCA(); err != nil {
			return nil, err
		}
	default:
		return nil, LinearConfig{}.Validate(kind)
	}
	return f, nil
}

// fitCCA computes every canonical direction of the shrunk covariances:
// with Wx = Cxx'^(-1/2), Wy = Cyy'^(-1/2) and Wx Cxy Wy = U S Vᵀ, the
// directions are A = Wx U and B = Wy V with correlations S.
func (f *LinearFit) fitCCA() error {
	p := f.p
	wx, ok := p.wx[f.shrink]
	if !ok {
		var err error
		if wx, err = invSqrtCov(p.x, f.shrink); err != nil {
			return fmt.Errorf("cca poster covariance: %w", err)
		}
		p.wx[f.shrink] = wx
	}
	wy, err := invSqrtCov(f.y, f.shrink)
	if err != nil {
		return fmt.Errorf("cca intro covariance: %w", err)
	}
	var cxy, t mat.Dense
	cxy.Mul(p.x.T(), f.y)
	cxy.Scale((1-f.shrink)/float64(p.n), &cxy)
	t.Product(wx, &cxy, wy)
	var svd mat.SVD
	if !svd.Factorize(&t, mat.SVDThin) {
		return fmt.Errorf("cca: singular value decomposition did not converge")
	}
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	f.ccaCorr = svd.Values(nil)
	f.ccaA, f.ccaB = &mat.Dense{}, &mat.Dense{}
	f.ccaA.Mul(wx, &u)
	f.ccaB.Mul(wy, &v)
	return nil
}

// Model builds the head for setting c, which must share the fit's
// shrinkage for KindCCA.
func (f *LinearFit) Model(c LinearConfig) (*Model, error) {
	if err := c.Validate(f.kind); err != nil {
		return nil, err
	}
	if f.kind == KindCCA && c.Shrink != f.shrink {
		return nil, fmt.Errorf("%w: a cca fit at shrink %g cannot make a head at shrink %g", ErrBadConfig, f.shrink, c.Shrink)
	}
	p := f.p
	dx, dy := p.xs.dim(), f.ys.dim()
	var a, b *mat.Dense // [dx, out] and [dy, out], maps of standardised features
	switch f.kind {
	case KindLinear:
		// W = V diag(1/(λ_i + λn)) Vᵀ XᵀY from XᵀX = V diag(λ_i) Vᵀ.
		var v mat.Dense
		p.xtxEig.VectorsTo(&v)
		vals := p.xtxEig.Values(nil)
		var vtxy mat.Dense
		vtxy.Mul(v.T(), f.xty)
		pen := c.Lambda * float64(p.n)
		for i := range dx {
			s := 1 / (max(vals[i], 0) + pen)
			for j := range dy {
				vtxy.Set(i, j, vtxy.At(i, j)*s)
			}
		}
		a = &mat.Dense{}
		a.Mul(&v, &vtxy)
		b = mat.NewDense(dy, dy, nil)
		for j := range dy {
			b.Set(j, j, 1)
		}
	case KindCCA:
		k := min(c.Dim, len(f.ccaCorr))
		a = mat.DenseCopyOf(f.ccaA.Slice(0, dx, 0, k))
		b = mat.DenseCopyOf(f.ccaB.Slice(0, dy, 0, k))
		for j := range k {
			s := f.ccaCorr[j]
			for i := range dx {
				a.Set(i, j, a.At(i, j)*s)
			}
			for i := range dy {
				b.Set(i, j, b.At(i, j)*s)
			}
		}
	}
	_, out := a.Dims()
	img, err := p.xs.linear(a)
	if err != nil {
		return nil, fmt.Errorf("%s poster map: %w", f.kind, err)
	}
	txt, err := f.ys.linear(b)
	if err != nil {
		return nil, fmt.Errorf("%s intro map: %w", f.kind, err)
	}
	// Temperature 1 records that the logit scale is the plain cosine: a
	// linear head has no softmax to sharpen.
	cfg := Config{ImageDim: dx, TextDim: dy, Hidden: []int{}, EmbedDim: out, Temperature: 1}
	m := newModel(cfg, &weights{Img: tower{Linears: []linear{img}}, Txt: tower{Linears: []linear{txt}}})
	m.Settings.Heads = f.kind
	lc := c
	m.Settings.Linear = &lc
	m.Settings.TrainPairs = p.n
	return m, nil
}

// invSqrtCov returns (C')^(-1/2) for the shrunk covariance C' =
// (1-shrink)·XᵀX/n + shrink·I of standardised rows x.
func invSqrtCov(x *mat.Dense, shrink float64) (*mat.Dense, error) {
	n, d := x.Dims()
	var c mat.SymDense
	c.SymOuterK((1-shrink)/float64(n), x.T())
	for i := range d {
		c.SetSym(i, i, c.At(i, i)+shrink)
	}
	var eig mat.EigenSym
	if !eig.Factorize(&c, true) {
		return nil, fmt.Errorf("eigendecomposition did not converge")
	}
	vals := eig.Values(nil)
	var vec mat.Dense
	eig.VectorsTo(&vec)
	// Unshrunk covariances of rank-deficient features have zero
	// eigenvalues; a floor keeps their directions finite.
	floor := 1e-9 * max(vals[d-1], 1e-300)
	scaled := mat.DenseCopyOf(&vec)
	for k := range d {
		inv := 1 / math.Sqrt(max(vals[k], floor))
		for i := range d {
			scaled.Set(i, k, scaled.At(i, k)*inv)
		}
	}
	out := mat.NewDense(d, d, nil)
	out.Mul(scaled, vec.T())
	return out, nil
}

// dim is the number of features s standardises.
func (s *standardizer) dim() int { return len(s.mean) }

// dense returns rows standardised by s as a float64 matrix [n, dim].
func (s *standardizer) dense(rows [][]float32) *mat.Dense {
	d := s.dim()
	m := mat.NewDense(len(rows), d, nil)
	for i, r := range rows {
		for j, v := range r {
			m.Set(i, j, (float64(v)-s.mean[j])*s.scale[j])
		}
	}
	return m
}

// linear turns a map a [dim, out] of standardised features into one
// torch.nn.Linear of raw features (weight [out, dim] and bias [out]): the
// standardisation is folded in as standardizer.fold does for the MLP heads.
// A weight that does not fit float32 is an error.
func (s *standardizer) linear(a *mat.Dense) (linear, error) {
	d, out := a.Dims()
	l := linear{In: d, Out: out, W: make([]float32, out*d), B: make([]float32, out)}
	for o := range out {
		shift := 0.0
		for j := range d {
			w := a.At(j, o) * s.scale[j]
			shift -= w * s.mean[j]
			if math.IsNaN(w) || math.Abs(w) > math.MaxFloat32 {
				return linear{}, fmt.Errorf("weight [%d,%d] is %g", o, j, w)
			}
			l.W[o*d+j] = float32(w)
		}
		if math.IsNaN(shift) || math.Abs(shift) > math.MaxFloat32 {
			return linear{}, fmt.Errorf("bias [%d] is %g", o, shift)
		}
		l.B[o] = float32(shift)
	}
	return l, nil
}
