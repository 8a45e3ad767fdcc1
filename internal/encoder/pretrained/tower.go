package pretrained

import (
	"context"
	"fmt"
	"image"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/tokenize"
)

// ONNX input and output names used by the supported exports (Hugging Face
// optimum / transformers.js naming, and the fixtures' exports).
const (
	inPixelValues   = "pixel_values"
	inInputIDs      = "input_ids"
	inAttentionMask = "attention_mask"
	inTokenTypeIDs  = "token_type_ids"

	outPooler     = "pooler_output"
	outFeatures   = "features"
	outLastHidden = "last_hidden_state"
	outImageEmbed = "image_embeds"
	outTextEmbed  = "text_embeds"
	outLogits     = "logits"
)

// imageInput is the input an image model is fed: pixel_values when it has
// one, else its first input. ins must not be empty.
func imageInput(ins []valueInfo) string {
	if slices.Contains(names(ins), inPixelValues) {
		return inPixelValues
	}
	return ins[0].Name
}

// pickOutput chooses the output to read: the first of preferred the model
// has, else its first output. A classifier's logits are refused, since
// they are not features.
func pickOutput(path string, outs []valueInfo, preferred []string) (valueInfo, error) {
	for _, p := range preferred {
		for _, o := range outs {
			if o.Name == p {
				return o, nil
			}
		}
	}
	if len(outs) == 0 {
		return valueInfo{}, fmt.Errorf("%w: %s has no outputs", encoder.ErrUnsupportedModel, path)
	}
	if outs[0].Name == outLogits {
		return valueInfo{}, fmt.Errorf("%w: %s is a classifier or masked-LM export (its output is %q); use a feature-extraction export with one of %q", encoder.ErrUnsupportedModel, path, outLogits, preferred)
	}
	return outs[0], nil
}

func names(vs []valueInfo) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name
	}
	return out
}

// staticLastDim is the last dimension of a shape when it is fixed, else 0.
func staticLastDim(shape []int64) int {
	if len(shape) == 0 || shape[len(shape)-1] <= 0 {
		return 0
	}
	return int(shape[len(shape)-1])
}

// imageTower runs an ONNX image model on [N, 3, H, W] batches.
type imageTower struct {
	// slots holds one token per Encode that may run at once (see
	// imageStreams).
	slots  chan struct{}
	sess   encoder.Session
	recipe imageprep.Recipe
	input  string
	output string
	h, w   int
	dim    int
}

// imageStreams is how many Encode calls an image tower on the model with
// these operators lets run at once, and the session options that share the
// threads between them: Config.ImageStreams calls of Threads/ImageStreams
// threads each (at least 1) where the runtime runs calls in parallel and
// the model is int8, else one call with every thread. An int8 model's
// operators are short, so the threads of one call spend much of their time
// waiting for each other, the more so while posters are decoded on the
// same cores; float32 operators are long, and side-by-side calls would
// only add their activations to memory (measured in docs/models.md).
func imageStreams(rt encoder.Runtime, cfg encoder.Config, ops map[string]bool) (streams int, opts encoder.SessionOptions) {
	p, ok := rt.(encoder.ParallelRunner)
	if cfg.ImageStreams <= 1 || !ok || !p.ParallelRuns() || !hasIntegerOps(ops) {
		return 1, encoder.SessionOptions{Threads: cfg.Threads}
	}
	threads := cfg.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	return cfg.ImageStreams, encoder.SessionOptions{Threads: max(1, threads/cfg.ImageStreams)}
}

func newImageTower(rt encoder.Runtime, path string, recipe imageprep.Recipe, preferred []string, cfg encoder.Config) (*imageTower, error) {
	ins, outs, ops, err := modelGraph(path)
	if err != nil {
		return nil, err
	}
	if len(ins) == 0 {
		return nil, fmt.Errorf("%w: %s has no inputs", encoder.ErrUnsupportedModel, path)
	}
	input := imageInput(ins)
	out, err := pickOutput(path, outs, preferred)
	if err != nil {
		return nil, err
	}
	h, w := recipe.Size()
	if h == 0 || w == 0 {
		return nil, fmt.Errorf("image recipe %q has no fixed output size; it cannot feed batches", recipe.Name)
	}
	streams, opts := imageStreams(rt, cfg, ops)
	sess, err := rt.Open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("open image model %s: %w", path, err)
	}
	t := &imageTower{slots: make(chan struct{}, streams), sess: sess, recipe: recipe, input: input, output: out.Name, h: h, w: w}
	// Shapes [N, D] and [N, D, 1, 1] say D; a feature map [N, C, h, w]
	// says C at index 1.
	switch len(out.Shape) {
	case 2:
		t.dim = staticLastDim(out.Shape)
	case 4:
		if out.Shape[1] > 0 {
			t.dim = int(out.Shape[1])
		}
	}
	if t.dim == 0 {
		// The export left the width symbolic: run one blank image.
		v, err := t.Encode(context.Background(), [][]float32{make([]float32, 3*h*w)})
		if err != nil {
			sess.Close()
			return nil, fmt.Errorf("probe image model %s: %w", path, err)
		}
		t.dim = len(v[0])
	}
	return t, nil
}

func (t *imageTower) Dim() int { return t.dim }

// EncodeStreams is how many Encode calls may run at once, each with its
// share of the threads (encoder.ParallelEncoder).
func (t *imageTower) EncodeStreams() int { return cap(t.slots) }

// Prepare applies the recipe: [3, H, W] float32, safe for concurrent use.
func (t *imageTower) Prepare(img image.Image) ([]float32, error) {
	return t.recipe.Apply(img), nil
}

// Encode stacks inputs into [N, 3, H, W] and reads one vector per row:
// [N, D] as is, [N, D, 1, 1] flattened, a feature map [N, C, h, w] averaged
// over h and w (global average pooling, as ResNet's avgpool does). Up to
// EncodeStreams calls run at once; each is one session call on its batch.
func (t *imageTower) Encode(ctx context.Context, inputs [][]float32) ([][]float32, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	per := 3 * t.h * t.w
	pix := make([]float32, 0, len(inputs)*per)
	for i, in := range inputs {
		if len(in) != per {
			return nil, fmt.Errorf("image input %d has %d values, want 3x%dx%d = %d", i, len(in), t.h, t.w, per)
		}
		pix = append(pix, in...)
	}
	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res, err := t.sess.Run(map[string]encoder.Tensor{
		t.input: {Shape: []int64{int64(len(inputs)), 3, int64(t.h), int64(t.w)}, F32: pix},
	}, []string{t.output})
	<-t.slots
	if err != nil {
		return nil, err
	}
	return rowsPooled(res[t.output], len(inputs), t.output)
}

// rowsPooled splits a [N, D, rest...] float tensor into N vectors of D,
// averaging over the trailing dimensions.
func rowsPooled(out encoder.Tensor, n int, name string) ([][]float32, error) {
	if len(out.Shape) < 2 || out.Shape[0] != int64(n) || out.F32 == nil {
		return nil, fmt.Errorf("output %q has shape %v, want [%d, D, ...] float32", name, out.Shape, n)
	}
	d := int(out.Shape[1])
	rest := 1
	for _, s := range out.Shape[2:] {
		rest *= int(s)
	}
	if len(out.F32) != n*d*rest {
		return nil, fmt.Errorf("output %q has %d values for shape %v", name, len(out.F32), out.Shape)
	}
	vecs := make([][]float32, n)
	for i := range n {
		v := make([]float32, d)
		row := out.F32[i*d*rest : (i+1)*d*rest]
		if rest == 1 {
			copy(v, row)
		} else {
			for c := range d {
				var s float64
				for _, x := range row[c*rest : (c+1)*rest] {
					s += float64(x)
				}
				v[c] = float32(s / float64(rest))
			}
		}
		vecs[i] = v
	}
	return vecs, nil
}

func (t *imageTower) Close() error { return t.sess.Close() }

// textTower tokenizes texts and runs an ONNX text model. A [N, L, D]
// output is pooled by taking position 0 ([CLS], as the seed did with
// DistilBERT); a [N, D] output (CLIP's projected text_embeds) is used as is.
type textTower struct {
	mu        sync.Mutex
	sess      encoder.Session
	tk        tokenize.Tokenizer
	inputs    []string
	output    string
	cls       bool
	dim       int
	chunk     bool
	truncated atomic.Int64
}

// maxRowsPerRun bounds one session call when chunking multiplies rows, so
// memory stays near what a normal batch uses.
const maxRowsPerRun = 64

func newTextTower(rt encoder.Runtime, path string, tk tokenize.Tokenizer, preferred []string, chunk bool, opts encoder.SessionOptions) (*textTower, error) {
	ins, outs, err := modelIO(path)
	if err != nil {
		return nil, err
	}
	t := &textTower{tk: tk, chunk: chunk}
	for _, in := range ins {
		switch in.Name {
		case inInputIDs, inAttentionMask, inTokenTypeIDs:
			t.inputs = append(t.inputs, in.Name)
		default:
			return nil, fmt.Errorf("%w: %s wants input %q; supported inputs are %s, %s, %s", encoder.ErrUnsupportedModel, path, in.Name, inInputIDs, inAttentionMask, inTokenTypeIDs)
		}
	}
	if !slices.Contains(t.inputs, inInputIDs) {
		return nil, fmt.Errorf("%w: %s has no %q input (inputs %q)", encoder.ErrUnsupportedModel, path, inInputIDs, names(ins))
	}
	out, err := pickOutput(path, outs, preferred)
	if err != nil {
		return nil, err
	}
	t.output = out.Name
	switch len(out.Shape) {
	case 3:
		t.cls = true
	case 2:
	default:
		// Unknown rank: decided by the probe below.
	}
	t.dim = staticLastDim(out.Shape)
	sess, err := rt.Open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("open text model %s: %w", path, err)
	}
	t.sess = sess
	if t.dim == 0 || (len(out.Shape) != 2 && len(out.Shape) != 3) {
		res, err := t.run([]tokenize.Encoding{tk.Encode("a")})
		if err != nil {
			sess.Close()
			return nil, fmt.Errorf("probe text model %s: %w", path, err)
		}
		o := res[t.output]
		t.cls = len(o.Shape) == 3
		t.dim = int(o.Shape[len(o.Shape)-1])
	}
	return t, nil
}

func (t *textTower) Dim() int { return t.dim }

// Encode tokenizes texts, pads each session batch to its longest row (so
// the length-sorted batches embed sends waste little), and returns one
// vector per text. With chunking, a text longer than the window is split
// into windows whose L2-normalised vectors are averaged.
func (t *textTower) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	var encs []tokenize.Encoding
	owner := make([]int, 0, len(texts))
	for i, s := range texts {
		if t.chunk {
			ws := tokenize.Chunks(t.tk, s)
			encs = append(encs, ws...)
			for range ws {
				owner = append(owner, i)
			}
			continue
		}
		e := t.tk.Encode(s)
		if e.Truncated() {
			t.truncated.Add(1)
		}
		encs = append(encs, e)
		owner = append(owner, i)
	}
	rows := make([][]float32, 0, len(encs))
	for lo := 0; lo < len(encs); lo += maxRowsPerRun {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		part := encs[lo:min(lo+maxRowsPerRun, len(encs))]
		res, err := t.run(part)
		if err != nil {
			return nil, err
		}
		vs, err := t.pool(res[t.output], len(part))
		if err != nil {
			return nil, err
		}
		rows = append(rows, vs...)
	}
	if !t.chunk {
		return rows, nil
	}
	// Every text goes through the average, one window or many, so all
	// vectors of a chunked run are on the same scale.
	return averageWindows(rows, owner, len(texts), t.dim), nil
}

// run pads encodings to the longest and calls the session.
func (t *textTower) run(encs []tokenize.Encoding) (map[string]encoder.Tensor, error) {
	ids, mask, seqLen := padLongest(encs, t.tk.PadID())
	shape := []int64{int64(len(encs)), int64(seqLen)}
	in := map[string]encoder.Tensor{}
	for _, name := range t.inputs {
		switch name {
		case inInputIDs:
			in[name] = encoder.Tensor{Shape: shape, I64: ids}
		case inAttentionMask:
			in[name] = encoder.Tensor{Shape: shape, I64: mask}
		case inTokenTypeIDs:
			in[name] = encoder.Tensor{Shape: shape, I64: make([]int64, len(ids))}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sess.Run(in, []string{t.output})
}

// padLongest packs encodings into [batch, seqLen] ids and mask, seqLen
// being the longest encoding. Unlike tokenize.Pad it never pads CLIP rows
// to 77: with a causal mask and end-of-text pooling, the padding after a
// row's end does not change its vector, and shorter rows cost less.
func padLongest(encs []tokenize.Encoding, pad int64) (ids, mask []int64, seqLen int) {
	for _, e := range encs {
		seqLen = max(seqLen, len(e.IDs))
	}
	ids = make([]int64, len(encs)*seqLen)
	mask = make([]int64, len(encs)*seqLen)
	for i, e := range encs {
		row := ids[i*seqLen : (i+1)*seqLen]
		n := copy(row, e.IDs)
		for j := n; j < seqLen; j++ {
			row[j] = pad
		}
		for j := range n {
			mask[i*seqLen+j] = 1
		}
	}
	return ids, mask, seqLen
}

// pool reads one vector per row from [N, L, D] (position 0) or [N, D].
func (t *textTower) pool(out encoder.Tensor, n int) ([][]float32, error) {
	if out.F32 == nil || len(out.Shape) < 2 || out.Shape[0] != int64(n) {
		return nil, fmt.Errorf("output %q has shape %v, want [%d, ...] float32", t.output, out.Shape, n)
	}
	if !t.cls {
		return rowsPooled(out, n, t.output)
	}
	if len(out.Shape) != 3 {
		return nil, fmt.Errorf("output %q has shape %v, want [%d, L, D]", t.output, out.Shape, n)
	}
	l, d := int(out.Shape[1]), int(out.Shape[2])
	if len(out.F32) != n*l*d {
		return nil, fmt.Errorf("output %q has %d values for shape %v", t.output, len(out.F32), out.Shape)
	}
	vecs := make([][]float32, n)
	for i := range n {
		vecs[i] = slices.Clone(out.F32[i*l*d : i*l*d+d])
	}
	return vecs, nil
}

// averageWindows averages each text's L2-normalised window vectors.
func averageWindows(rows [][]float32, owner []int, n, dim int) [][]float32 {
	out := make([][]float32, n)
	count := make([]int, n)
	for i := range out {
		out[i] = make([]float32, dim)
	}
	for k, v := range rows {
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		inv := float32(1)
		if ss > 0 {
			inv = float32(1 / math.Sqrt(ss))
		}
		dst := out[owner[k]]
		for j, x := range v {
			dst[j] += x * inv
		}
		count[owner[k]]++
	}
	for i, v := range out {
		if count[i] > 1 {
			c := float32(count[i])
			for j := range v {
				v[j] /= c
			}
		}
	}
	return out
}

func (t *textTower) Close() error { return t.sess.Close() }
