package builtin

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	xdraw "golang.org/x/image/draw"
	"gonum.org/v1/gonum/mat"

	_ "image/jpeg"
	_ "image/png"

	"github.com/reelmatch/reelmatch/internal/encoder"
)

func loadImage(t testing.TB, name string) image.Image {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return img
}

func newBuiltin(t testing.TB, textInput string) *Encoder {
	t.Helper()
	enc, err := encoder.New(Name, encoder.Config{TextInput: textInput})
	if err != nil {
		t.Fatal(err)
	}
	return enc.(*Encoder)
}

func TestImageFeaturesDeterministicAndDimStable(t *testing.T) {
	tower := newBuiltin(t, "").Image()
	names := []string{"landscape_rgb.png", "poster_rgb.png", "poster_rgb.jpg", "square_gray.png", "tall_rgba.png"}
	seen := map[string][]float32{}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			img := loadImage(t, name)
			a, err := tower.Prepare(img)
			if err != nil {
				t.Fatal(err)
			}
			b, err := tower.Prepare(img)
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != tower.Dim() {
				t.Fatalf("Prepare gave %d values, Dim is %d", len(a), tower.Dim())
			}
			if diff := cmp.Diff(a, b); diff != "" {
				t.Errorf("second Prepare differs (-first +second):\n%s", diff)
			}
			for i, v := range a {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("feature %d is %v", i, v)
				}
			}
			enc, err := tower.Encode(context.Background(), [][]float32{a})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(a, enc[0]); diff != "" {
				t.Errorf("Encode changed the features (-prepared +encoded):\n%s", diff)
			}
			seen[name] = a
		})
	}
	// The JPEG of a picture stays much nearer its PNG than other pictures
	// (the landscape is the poster's scene at another aspect ratio, so it
	// is left out).
	near := distance(seen["poster_rgb.png"], seen["poster_rgb.jpg"])
	for _, other := range []string{"square_gray.png", "tall_rgba.png"} {
		if far := distance(seen["poster_rgb.png"], seen[other]); far < 4*near {
			t.Errorf("poster PNG to JPEG distance %.4f, to %s %.4f: want at least 4 times as far", near, other, far)
		}
	}
}

// distance is the Euclidean distance relative to a's norm.
func distance(a, b []float32) float64 {
	var d, n float64
	for i := range a {
		d += float64(a[i]-b[i]) * float64(a[i]-b[i])
		n += float64(a[i]) * float64(a[i])
	}
	return math.Sqrt(d / n)
}

// testPoster draws a poster-like picture: a vertical gradient, a disc and
// a bar, at any size.
func testPoster(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(40 + 180*y/h), 30, uint8(200 - 150*y/h), 255}
			dx, dy := float64(x)/float64(w)-0.5, float64(y)/float64(h)-0.35
			if dx*dx+dy*dy < 0.04 {
				c = color.RGBA{250, 220, 40, 255}
			}
			if y > h*8/10 && y < h*9/10 {
				c = color.RGBA{255, 255, 255, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func TestImageFeaturesResolutionRobust(t *testing.T) {
	tower := newBuiltin(t, "").Image()
	ref, err := tower.Prepare(testPoster(300, 450))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range [][2]int{{150, 225}, {600, 900}, {1000, 1500}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			got, err := tower.Prepare(testPoster(size[0], size[1]))
			if err != nil {
				t.Fatal(err)
			}
			if d := distance(ref, got); d > 0.05 {
				t.Errorf("relative distance to the 300x450 features is %.4f, want <= 0.05", d)
			}
		})
	}
}

// TestImageFeaturesOfSolidColour checks the blocks against values worked
// out by hand for a uniform pure-red poster.
func TestImageFeaturesOfSolidColour(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 30, 45))
	xdraw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{255, 0, 0, 255}), image.Point{}, xdraw.Src)
	f, err := newBuiltin(t, "").Image().Prepare(img)
	if err != nil {
		t.Fatal(err)
	}
	red := lab(1, 0, 0)
	onehot := func(n, i int) []float32 {
		v := make([]float32, n)
		v[i] = 1
		return v
	}
	repeat := func(v []float32, times int) []float32 {
		var out []float32
		for range times {
			out = append(out, v...)
		}
		return out
	}
	want := map[string][]float32{
		// Hue 0, saturation 1, value 1: hue bin 0, top saturation and
		// value bins.
		"hsv":  onehot(hsvHistLen, achromaBins+(0*satBins+satBins-1)*valBins+valBins-1),
		"lab":  repeat(red[:], cells*cells),
		"gray": onehot(grayBins, bin(0.299, grayBins)),
		// L std, S std and V std are 0; colourfulness = 0.3 * hypot(1,
		// 0.5); all pixels are light and saturated; entropy, edges are 0;
		// the hue direction is (cos 0, sin 0) weighted by s*v = 1.
		"stats": {red[0], 0, 1, 0, 1, 0, red[1], red[2], float32(0.3 * math.Hypot(1, 0.5)), 0, 1, 1, 0, 0, 0, 1, 0},
		// No neighbour is brighter: pattern 0, the first uniform bin, at
		// both scales.
		"lbp": repeat(onehot(lbpBins, 0), lbpScales),
		// Chromatic, saturation above saturatedS, hue bin 0, in every band.
		"hsvbands": repeat(onehot(hsvBandBins, bandAchroma+0*2+1), hsvBandRows),
		// Pure red has Cr 255.5, outside the skin box.
		"skin":     make([]float32, skinLen),
		"textrows": make([]float32, textRowsLen),
	}
	off := 0
	for _, b := range ImageBlocks() {
		w, ok := want[b.Name]
		if !ok {
			t.Errorf("block %s has no expected values", b.Name)
		} else if diff := cmp.Diff(w, f[off:off+b.Len], cmpopts.EquateApprox(0, 1e-5)); diff != "" {
			t.Errorf("block %s of solid red (-want +got):\n%s", b.Name, diff)
		}
		off += b.Len
	}
	if off != len(f) {
		t.Errorf("blocks cover %d values, Prepare gave %d", off, len(f))
	}
	// CIE Lab of sRGB red is (53.24, 80.09, 67.20) (Lindbloom's calculator).
	if diff := cmp.Diff([3]float32{0.5324, 0.8009, 0.6720}, red, cmpopts.EquateApprox(0, 2e-3)); diff != "" {
		t.Errorf("Lab of red (-want +got):\n%s", diff)
	}
}

func TestTokensAndTerms(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"A cowboy doll's room!", []string{"cowboy", "doll", "room", "cowboy doll", "doll room"}},
		{"Éclair 2001: x café", []string{"éclair", "2001", "café", "éclair 2001", "2001 café"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, terms(tt.in)); diff != "" {
				t.Errorf("terms(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

var trainTexts = []string{
	"cowboy ride horse desert town sheriff",
	"sheriff duel outlaw desert town",
	"ghost haunt old mansion night",
	"ghost vampire night castle blood",
	"robot spaceship planet alien war",
	"alien planet invasion robot army",
	"lover kiss paris wedding heart",
	"wedding bride lover heart kiss",
	"cowboy horse ranch outlaw",
	"spaceship galaxy alien robot",
}

// testOnly words appear in no training text.
var testTexts = []string{"submarine whale reef captain", "ghost submarine cowboy"}

func TestFitUsesOnlyTrainTexts(t *testing.T) {
	e := newBuiltin(t, "")
	if err := e.Fit(context.Background(), trainTexts); err != nil {
		t.Fatal(err)
	}
	vocab := e.text.vocab
	for _, w := range []string{"submarine", "whale", "reef", "captain"} {
		if slices.Contains(vocab, w) {
			t.Errorf("vocabulary holds %q, which only test texts contain", w)
		}
	}
	for _, w := range []string{"cowboy", "ghost", "desert town", "lover"} {
		if !slices.Contains(vocab, w) {
			t.Errorf("vocabulary lacks the repeated training term %q", w)
		}
	}
	got, err := e.Text().Encode(context.Background(), testTexts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(make([]float32, DefaultTextDim), got[0]); diff != "" {
		t.Errorf("a text of unseen words should encode to zeros (-want +got):\n%s", diff)
	}
	if slices.Equal(got[1], make([]float32, DefaultTextDim)) {
		t.Error("a text with known words encoded to zeros")
	}
}

func TestTextNeedsFit(t *testing.T) {
	e := newBuiltin(t, "")
	if _, err := e.Text().Encode(context.Background(), []string{"ghost"}); err != ErrNotFitted {
		t.Fatalf("Encode before Fit: err %v, want ErrNotFitted", err)
	}
	if _, err := e.MarshalState(); err != ErrNotFitted {
		t.Fatalf("MarshalState before Fit: err %v, want ErrNotFitted", err)
	}
}

func TestStateRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := newBuiltin(t, "clean")
	unfitted := a.Fingerprint()
	if err := a.Fit(ctx, trainTexts); err != nil {
		t.Fatal(err)
	}
	if a.Fingerprint() == unfitted {
		t.Error("fingerprint did not change on fitting")
	}
	state, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	b := newBuiltin(t, "clean")
	if err := b.UnmarshalState(state); err != nil {
		t.Fatal(err)
	}
	if a.Fingerprint() != b.Fingerprint() {
		t.Errorf("fingerprints differ after round trip: %s vs %s", a.Fingerprint(), b.Fingerprint())
	}
	texts := append(slices.Clone(trainTexts), testTexts...)
	va, err := a.Text().Encode(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	vb, err := b.Text().Encode(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(va, vb); diff != "" {
		t.Errorf("restored encoder encodes differently (-fitted +restored):\n%s", diff)
	}
	// Fitting again on the same texts gives the same state.
	c := newBuiltin(t, "clean")
	if err := c.Fit(ctx, trainTexts); err != nil {
		t.Fatal(err)
	}
	if c.Fingerprint() != a.Fingerprint() {
		t.Error("two fits on the same texts gave different fingerprints")
	}
	// Another text-input setting is another fingerprint, with the same
	// recipe otherwise.
	raw := newBuiltin(t, "raw")
	if err := raw.UnmarshalState(state); err != nil {
		t.Fatal(err)
	}
	if raw.Fingerprint() == a.Fingerprint() || raw.RecipeFingerprint() == a.RecipeFingerprint() {
		t.Error("text input is not part of the fingerprint")
	}
	if err := b.UnmarshalState(state[:len(state)/2]); err == nil {
		t.Error("a truncated state was accepted")
	}
}

func TestUnknownTextInput(t *testing.T) {
	if _, err := New(encoder.Config{TextInput: "stemmed"}); err == nil {
		t.Fatal("text input \"stemmed\" was accepted")
	}
}

// TestRandomizedSVDMatchesExact compares the components with gonum's exact
// SVD on a matrix small enough that the random subspace is the whole row
// space, so the two must agree up to float32 rounding.
func TestRandomizedSVDMatchesExact(t *testing.T) {
	e := newBuiltin(t, "")
	if err := e.Fit(context.Background(), trainTexts); err != nil {
		t.Fatal(err)
	}
	m := e.text
	rows := make([]sparseRow, len(trainTexts))
	dense := mat.NewDense(len(trainTexts), len(m.vocab), nil)
	for i, text := range trainTexts {
		rows[i] = m.vectorize(text)
		for n, j := range rows[i].cols {
			dense.Set(i, int(j), rows[i].vals[n])
		}
	}
	var svd mat.SVD
	if !svd.Factorize(dense, mat.SVDThin) {
		t.Fatal("exact SVD failed")
	}
	var vt mat.Dense
	svd.VTo(&vt)
	sv := svd.Values(nil)
	checked := 0
	if m.k != len(trainTexts) {
		t.Fatalf("k = %d, want %d (the number of training texts)", m.k, len(trainTexts))
	}
	for c := range m.k {
		if sv[c] < 1e-9 || (c+1 < len(sv) && sv[c]-sv[c+1] < 1e-3) || (c > 0 && sv[c-1]-sv[c] < 1e-3) {
			continue // a null or repeated singular value has no unique vector
		}
		checked++
		exact := make([]float64, len(m.vocab))
		for j := range exact {
			exact[j] = vt.At(j, c)
		}
		// Singular vectors are unique up to sign.
		var agree float64
		for j := range exact {
			agree += exact[j] * float64(m.components[j*m.k+c])
		}
		sign := math.Copysign(1, agree)
		for j := range exact {
			if d := math.Abs(sign*exact[j] - float64(m.components[j*m.k+c])); d > 1e-4 {
				t.Fatalf("component %d, term %q: exact %.6f, randomized %.6f", c, m.vocab[j], sign*exact[j], m.components[j*m.k+c])
			}
		}
	}
	if checked < 4 {
		t.Errorf("only %d components had distinct singular values %v", checked, sv)
	}
}

// TestTextDimIsPrefix: the text dimension keeps the first components of one
// full-rank fit, so a smaller dimension encodes exactly the prefix of a
// larger one, and FitText (tune's path) encodes what the Encoder does.
func TestTextDimIsPrefix(t *testing.T) {
	ctx := context.Background()
	texts := append(append([]string(nil), trainTexts...), testTexts...)
	encode := func(dim int) ([][]float32, *Encoder) {
		t.Helper()
		enc, err := encoder.New(Name, encoder.Config{TextDim: dim})
		if err != nil {
			t.Fatal(err)
		}
		e := enc.(*Encoder)
		if err := e.Fit(ctx, trainTexts); err != nil {
			t.Fatal(err)
		}
		if e.Text().Dim() != dim {
			t.Errorf("Dim() = %d, want %d", e.Text().Dim(), dim)
		}
		out, err := e.Text().Encode(ctx, texts)
		if err != nil {
			t.Fatal(err)
		}
		return out, e
	}
	small, e8 := encode(8)
	large, e16 := encode(16)
	for i := range texts {
		if diff := cmp.Diff(large[i][:8], small[i]); diff != "" {
			t.Errorf("text %d: dim 8 is not the prefix of dim 16 (-16 +8):\n%s", i, diff)
		}
	}
	fit, err := FitText(ctx, trainTexts)
	if err != nil {
		t.Fatal(err)
	}
	viaFit, err := fit.Encode(texts, 8)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(small, viaFit); diff != "" {
		t.Errorf("FitText differs from the encoder (-encoder +FitText):\n%s", diff)
	}
	if e8.Fingerprint() == e16.Fingerprint() || e8.RecipeFingerprint() == e16.RecipeFingerprint() {
		t.Error("the text dimension does not change the fingerprints")
	}
	if e8.ImageFingerprint() != e16.ImageFingerprint() {
		t.Error("the text dimension changed the image fingerprint")
	}
	state, err := e16.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	fresh := newBuiltin(t, "")
	if err := fresh.UnmarshalState(state); err == nil || !strings.Contains(err.Error(), "16 components") {
		t.Errorf("restoring a 16-d state into a %d-d encoder: err %v", DefaultTextDim, err)
	}
	for _, dim := range []int{4, MaxTextDim + 1, -1} {
		if _, err := encoder.New(Name, encoder.Config{TextDim: dim}); err == nil {
			t.Errorf("text dimension %d accepted", dim)
		}
		if _, err := fit.Encode(texts, dim); err == nil {
			t.Errorf("FitText.Encode accepted dimension %d", dim)
		}
	}
}
