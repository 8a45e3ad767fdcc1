package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/metrics"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

type options struct {
	work    string
	encoder string
	ablate  bool
	lambdas string
	ccaReg  string
	ccaK    string
	only    string
	drop    string
	text    int
}

func run() error {
	var o options
	flag.StringVar(&o.work, "work", "work", "WORK folder with manifest.json and the feature cache")
	flag.StringVar(&o.encoder, "encoder", builtin.Name, "encoder whose cache to read")
	flag.BoolVar(&o.ablate, "ablate", false, "also score each image block alone and the rest without it")
	flag.StringVar(&o.lambdas, "lambda", "3,10,30", "ridge penalties λ, relative to the number of training pairs")
	flag.StringVar(&o.ccaReg, "cca-reg", "0.5,0.7,0.9", "CCA shrinkage of both covariances towards the identity, in [0,1)")
	flag.StringVar(&o.ccaK, "cca-k", "16,32,64", "CCA components kept")
	flag.StringVar(&o.only, "only", "", "comma-separated image blocks to keep (default all)")
	flag.StringVar(&o.drop, "drop", "", "comma-separated image blocks to leave out")
	flag.IntVar(&o.text, "text-dims", 0, "keep only the first N text dimensions (LSA components come largest first; 0 keeps all)")
	flag.Parse()

	work := workdir.Dir(o.work)
	man, err := dataset.Load(work.Manifest())
	if err != nil {
		return err
	}
	feats, err := embcache.Load(work.Features(o.encoder))
	if err != nil {
		return err
	}
	trI, trT, err := feats.Rows(dataset.IDs(man.Split(reel.SplitTrain)))
	if err != nil {
		return err
	}
	teI, teT, err := feats.Rows(dataset.IDs(man.Split(reel.SplitTest)))
	if err != nil {
		return err
	}
	if o.text > 0 {
		trT, teT = firstCols(trT, o.text), firstCols(teT, o.text)
	}
	blocks := builtin.ImageBlocks()
	if o.encoder != builtin.Name || sumLen(blocks) != len(trI[0]) {
		blocks = []builtin.Block{{Name: "all", Len: len(trI[0])}}
	}
	fmt.Printf("train %d, test %d, image dim %d, text dim %d\n", len(trI), len(teI), len(trI[0]), len(trT[0]))
	sel := func(keep func(string) bool) []int {
		var cols []int
		off := 0
		for _, b := range blocks {
			if keep(b.Name) {
				for j := range b.Len {
					cols = append(cols, off+j)
				}
			}
			off += b.Len
		}
		return cols
	}
	base := sel(func(n string) bool {
		if o.only != "" && !inList(o.only, n) {
			return false
		}
		return !inList(o.drop, n)
	})
	p := probe{o: o, trT: trT, teT: teT}
	p.report("all", pick(trI, base), pick(teI, base))
	if o.ablate {
		for _, b := range blocks {
			name := b.Name
			p.report("only "+name, pick(trI, sel(func(n string) bool { return n == name })), pick(teI, sel(func(n string) bool { return n == name })))
			p.report("drop "+name, pick(trI, sel(func(n string) bool { return n != name })), pick(teI, sel(func(n string) bool { return n != name })))
		}
	}
	return nil
}

type probe struct {
	o        options
	trT, teT [][]float32
}

// report prints the best ridge and the best CCA setting for one image
// feature selection (best by the mean of both directions' MRP).
func (p probe) report(name string, trI, teI [][]float32) {
	if len(trI[0]) == 0 {
		return
	}
	x, xt := standardize(trI, teI)
	y, yt := standardize(p.trT, p.teT)
	var best, bestCCA result
	for _, l := range floats(p.o.lambdas) {
		r := ridge(x, y, xt, yt, l)
		r.setting = fmt.Sprintf("ridge λ=%g", l)
		if r.score() > best.score() {
			best = r
		}
	}
	for _, reg := range floats(p.o.ccaReg) {
		for _, k := range floats(p.o.ccaK) {
			r := cca(x, y, xt, yt, reg, int(k))
			r.setting = fmt.Sprintf("cca reg=%g k=%d", reg, int(k))
			if r.score() > bestCCA.score() {
				bestCCA = r
			}
		}
	}
	fmt.Printf("%-22s dim %4d | %-16s MRP p2i %.4f i2p %.4f R@10 %.4f %.4f | %-18s MRP p2i %.4f i2p %.4f R@10 %.4f %.4f\n",
		name, len(trI[0]), best.setting, best.p2i, best.i2p, best.r10p, best.r10i,
		bestCCA.setting, bestCCA.p2i, bestCCA.i2p, bestCCA.r10p, bestCCA.r10i)
}

type result struct {
	setting              string
	p2i, i2p, r10p, r10i float64
}

func (r result) score() float64 { return (r.p2i + r.i2p) / 2 }

func evaluate(a, b *mat.Dense) result {
	rep := metrics.Evaluate(metrics.Distance(rows(a), rows(b)))
	return result{p2i: rep.PosterToIntro.MeanRankPercentile, i2p: rep.IntroToPoster.MeanRankPercentile,
		r10p: rep.PosterToIntro.R10, r10i: rep.IntroToPoster.R10}
}

// ridge fits W = (XᵀX + λnI)⁻¹XᵀY on the training rows and compares XₜW
// with Yₜ.
func ridge(x, y, xt, yt *mat.Dense, lambda float64) result {
	n, d := x.Dims()
	var xtx mat.Dense
	xtx.Mul(x.T(), x)
	for i := range d {
		xtx.Set(i, i, xtx.At(i, i)+lambda*float64(n))
	}
	var xty, w, pred mat.Dense
	xty.Mul(x.T(), y)
	if err := w.Solve(&xtx, &xty); err != nil {
		return result{}
	}
	pred.Mul(xt, &w)
	return evaluate(&pred, yt)
}

// cca is canonical correlation analysis with both covariances shrunk
// towards the identity by reg, keeping k components weighted by their
// canonical correlations.
func cca(x, y, xt, yt *mat.Dense, reg float64, k int) result {
	wx := invSqrtCov(x, reg)
	wy := invSqrtCov(y, reg)
	n, _ := x.Dims()
	var cxy, t mat.Dense
	cxy.Mul(x.T(), y)
	cxy.Scale(1/float64(n), &cxy)
	t.Product(wx, &cxy, wy)
	var svd mat.SVD
	if !svd.Factorize(&t, mat.SVDThin) {
		return result{}
	}
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	s := svd.Values(nil)
	k = min(k, len(s))
	var a, b, pa, pb mat.Dense
	a.Mul(wx, u.Slice(0, u.RawMatrix().Rows, 0, k))
	b.Mul(wy, v.Slice(0, v.RawMatrix().Rows, 0, k))
	pa.Mul(xt, &a)
	pb.Mul(yt, &b)
	for j := range k {
		for i := range pa.RawMatrix().Rows {
			pa.Set(i, j, pa.At(i, j)*s[j])
			pb.Set(i, j, pb.At(i, j)*s[j])
		}
	}
	return evaluate(&pa, &pb)
}

func invSqrtCov(x *mat.Dense, reg float64) *mat.Dense {
	n, d := x.Dims()
	var c mat.SymDense
	c.SymOuterK(1/float64(n), x.T())
	for i := range d {
		for j := i; j < d; j++ {
			v := (1 - reg) * c.At(i, j)
			if i == j {
				v += reg
			}
			c.SetSym(i, j, v)
		}
	}
	var eig mat.EigenSym
	eig.Factorize(&c, true)
	vals := eig.Values(nil)
	var vec mat.Dense
	eig.VectorsTo(&vec)
	scaled := mat.DenseCopyOf(&vec)
	for k := range d {
		inv := 1 / math.Sqrt(max(vals[k], 1e-9))
		for i := range d {
			scaled.Set(i, k, scaled.At(i, k)*inv)
		}
	}
	out := mat.NewDense(d, d, nil)
	out.Mul(scaled, vec.T())
	return out
}

// standardize scales columns to zero mean and unit variance on the
// training rows and applies the same to the test rows.
func standardize(tr, te [][]float32) (*mat.Dense, *mat.Dense) {
	d := len(tr[0])
	mean, sd := make([]float64, d), make([]float64, d)
	for _, r := range tr {
		for j, v := range r {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(len(tr))
	}
	for _, r := range tr {
		for j, v := range r {
			dv := float64(v) - mean[j]
			sd[j] += dv * dv
		}
	}
	for j := range sd {
		sd[j] = math.Sqrt(sd[j] / float64(len(tr)))
		if sd[j] < 1e-9 {
			sd[j] = 1
		}
	}
	conv := func(rs [][]float32) *mat.Dense {
		m := mat.NewDense(len(rs), d, nil)
		for i, r := range rs {
			for j, v := range r {
				m.Set(i, j, (float64(v)-mean[j])/sd[j])
			}
		}
		return m
	}
	return conv(tr), conv(te)
}

func rows(m *mat.Dense) [][]float32 {
	r, c := m.Dims()
	out := make([][]float32, r)
	for i := range out {
		out[i] = make([]float32, c)
		for j := range c {
			out[i][j] = float32(m.At(i, j))
		}
	}
	return out
}

func pick(rs [][]float32, cols []int) [][]float32 {
	out := make([][]float32, len(rs))
	for i, r := range rs {
		out[i] = make([]float32, len(cols))
		for j, c := range cols {
			out[i][j] = r[c]
		}
	}
	return out
}

func firstCols(rs [][]float32, k int) [][]float32 {
	out := make([][]float32, len(rs))
	for i, r := range rs {
		out[i] = r[:min(k, len(r))]
	}
	return out
}

func sumLen(bs []builtin.Block) int {
	n := 0
	for _, b := range bs {
		n += b.Len
	}
	return n
}

func inList(list, name string) bool {
	for _, s := range strings.Split(list, ",") {
		if s == name {
			return true
		}
	}
	return false
}

func floats(s string) []float64 {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "probe: ignoring %q: %v\n", f, err)
			continue
		}
		out = append(out, v)
	}
	return out
}
