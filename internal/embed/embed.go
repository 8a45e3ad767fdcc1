package embed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/embcache"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/progress"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/shard"
	"github.com/reelmatch/reelmatch/internal/vecmath"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// DefaultBatchSize is the number of posters or intros per Encode call; the
// seed's DataLoader used 32.
const DefaultBatchSize = 32

// Options tune Run. Zero values mean defaults.
type Options struct {
	// BatchSize is the number of inputs per Encode call (default 32).
	BatchSize int
	// Workers is the number of goroutines decoding and preparing posters
	// (default runtime.NumCPU()).
	Workers int
	// TextInput is "raw", "clean" or "" for the encoder's default (see
	// ResolveTextInput). It must be what the encoder was built with.
	TextInput string
	// Shard selects one slice of the manifest (see internal/shard); Run then
	// writes workdir.Dir.FeatureShard instead of the feature cache. The zero
	// Shard embeds every movie.
	Shard shard.Spec
	// Progress controls the stderr bars.
	Progress progress.Options
}

func (o Options) withDefaults() Options {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	return o
}

// EncoderConfig returns cfg as Run makes the best use of it: unless set,
// ImageStreams is the number of CPUs (at most cfg.Threads when that is
// set), so a runtime that runs calls in parallel (ONNX Runtime) encodes
// that many poster batches side by side on one thread each, rather than
// one batch on every thread: a single-threaded call never waits inside an
// operator for a thread that the poster decoding took, which on 2 cores
// is what separates embed from the model's own speed. The batches, and so
// the vectors, are the same either way.
func EncoderConfig(cfg encoder.Config) encoder.Config {
	if cfg.ImageStreams == 0 {
		cfg.ImageStreams = runtime.NumCPU()
		if cfg.Threads > 0 {
			cfg.ImageStreams = min(cfg.ImageStreams, cfg.Threads)
		}
	}
	return cfg
}

// Summary reports what Run or Merge did. Every movie's image row and text
// row is either computed in this run or reused: taken from the file being
// rewritten (the feature cache, or a shard file), from the feature cache
// (for a shard), from the checkpoint an interrupted run left, or (Merge)
// from the shard files. Rates count computed rows only.
type Summary struct {
	Encoder     string `json:"encoder"`
	Fingerprint string `json:"fingerprint"`
	TextInput   string `json:"text_input"`
	// Shard is "I/N" for a shard run, else empty.
	Shard string `json:"shard,omitempty"`
	// Features is the path of the file written: the feature cache, or the
	// shard file.
	Features string `json:"features"`
	// Movies is the number of movies in the file: the whole manifest, or
	// the shard's slice of it.
	Movies int `json:"movies"`
	// Computed counts movies with at least one row computed in this run,
	// Reused those whose rows were all reused (Computed + Reused = Movies).
	Computed       int `json:"computed"`
	Reused         int `json:"reused"`
	ImagesComputed int `json:"images_computed"`
	TextsComputed  int `json:"texts_computed"`
	// ImagesReused and TextsReused count reused rows (ImagesComputed +
	// ImagesReused = Movies, and the same for texts).
	ImagesReused int `json:"images_reused"`
	TextsReused  int `json:"texts_reused"`
	// ImagesResumed and TextsResumed count the reused rows that came from
	// the checkpoint of an interrupted run.
	ImagesResumed int `json:"images_resumed"`
	TextsResumed  int `json:"texts_resumed"`
	// Shards is the number of shard files Merge joined.
	Shards   int `json:"shards,omitempty"`
	ImageDim int `json:"image_dim"`
	TextDim  int `json:"text_dim"`
	// Fitted is true when the encoder state was fitted (not restored).
	Fitted bool `json:"fitted"`
	// Changed is false when the file already held exactly these rows and
	// nothing was written.
	Changed         bool    `json:"changed"`
	Seconds         float64 `json:"seconds"`
	ImageSeconds    float64 `json:"image_seconds"`
	TextSeconds     float64 `json:"text_seconds"`
	ImagesPerSecond float64 `json:"images_per_second"`
	TextsPerSecond  float64 `json:"texts_per_second"`
}

// Run embeds the movies of man (all of them, or the slice opts.Shard
// selects) with enc and writes the feature cache at work.Features, or the
// shard file at work.FeatureShard, reusing valid rows. Movies missing from
// the manifest are dropped. A poster that cannot be decoded fails the run
// with an error naming the file.
//
// Computed rows are appended to a checkpoint (work.Checkpoint) batch by
// batch, so a run stopped by kill -9, Ctrl-C or an error loses at most the
// batches in flight: the next run reuses the checkpoint's rows, and removes
// it once the file is saved. The file written is the same, byte for byte,
// as an uninterrupted run's.
func Run(ctx context.Context, work workdir.Dir, man *dataset.Manifest, enc encoder.Encoder, opts Options) (_ *Summary, err error) {
	start := time.Now()
	opts = opts.withDefaults()
	p, err := begin(ctx, work, man, enc, opts.TextInput)
	if err != nil {
		return nil, err
	}
	sum := p.summary()
	var movies []reel.Movie
	var texts, textHashes []string
	for i, m := range man.Movies {
		if opts.Shard.Owns(m.ID) {
			movies = append(movies, m)
			texts = append(texts, p.texts[i])
			textHashes = append(textHashes, p.textHashes[i])
		}
	}
	sum.Movies = len(movies)
	name := enc.Name()
	out := p.features(movies, textHashes)
	var sources []source
	if opts.Shard.IsZero() {
		sum.Features = work.Features(name)
	} else {
		sum.Features = work.FeatureShard(name, opts.Shard.Index, opts.Shard.Count)
		sum.Shard = opts.Shard.String()
		out.Shard, out.Manifest = sum.Shard, p.manifest
	}
	// A missing, unreadable or stale file is a miss, not an error: it is
	// rebuilt.
	old, _ := embcache.Load(sum.Features)
	sources = append(sources, source{ix: old.Lookup(p.key)})
	if !opts.Shard.IsZero() {
		// A shard reuses what the feature cache of WORK already holds
		// (reading the whole cache costs its size in memory).
		whole, _ := embcache.Load(work.Features(name))
		sources = append(sources, source{ix: whole.Lookup(p.key)})
	}

	ckPath := work.Checkpoint(name, opts.Shard.Index, opts.Shard.Count)
	var ck *embcache.Checkpoint
	openCk := func() error {
		ck, err = embcache.OpenCheckpoint(ckPath, p.checkpointHeader())
		if errors.Is(err, embcache.ErrCheckpointBusy) {
			return fmt.Errorf("another `reelmatch embed` of %s is running on %s (it holds %s): wait for it to finish", describe(name, opts.Shard), work, ckPath)
		}
		return err
	}
	if _, serr := os.Lstat(ckPath); serr == nil {
		if err := openCk(); err != nil {
			return nil, err
		}
		sources = append(sources, source{ix: ck.Rows(), resumed: true})
	} else if !errors.Is(serr, fs.ErrNotExist) {
		return nil, fmt.Errorf("checkpoint: %w", serr)
	}
	defer func() {
		if ck != nil && err != nil {
			ck.Close() // keep the rows for the next run
		}
	}()

	var imgMiss, txtMiss []int
	for i, m := range movies {
		if v, resumed, ok := lookup(sources, (*embcache.Index).Image, m.PosterHash, sum.ImageDim); ok && m.PosterHash != "" {
			out.Image[i] = v
			sum.ImagesReused++
			if resumed {
				sum.ImagesResumed++
			}
		} else {
			imgMiss = append(imgMiss, i)
		}
		if v, resumed, ok := lookup(sources, (*embcache.Index).Text, textHashes[i], sum.TextDim); ok {
			out.Text[i] = v
			sum.TextsReused++
			if resumed {
				sum.TextsResumed++
			}
		} else {
			txtMiss = append(txtMiss, i)
		}
	}
	if ck == nil && len(imgMiss)+len(txtMiss) > 0 {
		if err := openCk(); err != nil {
			return nil, err
		}
	}
	keep := func(what string, dst [][]float32, hash func(i int) string, app func([]string, [][]float32) error) func([]int) error {
		return func(rows []int) error {
			hashes, vecs := make([]string, len(rows)), make([][]float32, len(rows))
			for k, i := range rows {
				if j := vecmath.FirstNonFinite(dst[i]); j >= 0 {
					return fmt.Errorf("encoder %s returned %v in the %s vector of movie %s: the model or its input is broken", name, dst[i][j], what, movies[i].ID)
				}
				hashes[k], vecs[k] = hash(i), dst[i]
			}
			return app(hashes, vecs)
		}
	}

	// Intros go first: they are the quick tower, so a run stopped during
	// the posters has every intro in the checkpoint, and each poster done
	// makes a whole movie the rerun reuses.
	t0 := time.Now()
	if len(txtMiss) > 0 {
		save := keep("intro", out.Text, func(i int) string { return textHashes[i] }, ck.AppendTexts)
		if err := encodeTexts(ctx, enc.Text(), texts, txtMiss, out.Text, opts, save); err != nil {
			return nil, err
		}
	}
	sum.TextSeconds = time.Since(t0).Seconds()
	t0 = time.Now()
	if len(imgMiss) > 0 {
		save := keep("poster", out.Image, func(i int) string { return movies[i].PosterHash }, ck.AppendImages)
		if err := encodeImages(ctx, enc.Image(), movies, imgMiss, out.Image, opts, save); err != nil {
			return nil, err
		}
	}
	sum.ImageSeconds = time.Since(t0).Seconds()

	sum.ImagesComputed, sum.TextsComputed = len(imgMiss), len(txtMiss)
	computed := make([]bool, len(movies))
	for _, i := range imgMiss {
		computed[i] = true
	}
	for _, i := range txtMiss {
		computed[i] = true
	}
	for _, c := range computed {
		if c {
			sum.Computed++
		}
	}
	sum.Reused = len(movies) - sum.Computed
	sum.Changed = sum.Computed > 0 || !sameRows(old, out)
	if sum.Changed {
		if err := out.Save(sum.Features); err != nil {
			return nil, err
		}
	}
	if ck != nil {
		if err := ck.Remove(); err != nil {
			return nil, err
		}
	}
	sum.Seconds = time.Since(start).Seconds()
	if sum.ImagesComputed > 0 && sum.ImageSeconds > 0 {
		sum.ImagesPerSecond = float64(sum.ImagesComputed) / sum.ImageSeconds
	}
	if sum.TextsComputed > 0 && sum.TextSeconds > 0 {
		sum.TextsPerSecond = float64(sum.TextsComputed) / sum.TextSeconds
	}
	return sum, nil
}

// source is one place Run reuses rows from; resumed marks the checkpoint.
type source struct {
	ix      *embcache.Index
	resumed bool
}

// lookup finds a row of the right length in the first source that has it.
func lookup(sources []source, get func(*embcache.Index, string) ([]float32, bool), hash string, dim int) ([]float32, bool, bool) {
	for _, s := range sources {
		if v, ok := get(s.ix, hash); ok && len(v) == dim {
			return v, s.resumed, true
		}
	}
	return nil, false, false
}

// describe names what a run embeds, for messages.
func describe(encoder string, s shard.Spec) string {
	if s.IsZero() {
		return encoder
	}
	return fmt.Sprintf("%s shard %s", encoder, s)
}

// TowerFingerprinter is an optional ability of an encoder: separate
// fingerprints for its towers, so that a change to one (refitting the text
// model, say) does not invalidate the other's cached rows. Without it both
// towers use the encoder's Fingerprint.
type TowerFingerprinter interface {
	ImageFingerprint() string
	TextFingerprint() string
}

func towerKey(enc encoder.Encoder, textInput string) embcache.Key {
	if tf, ok := enc.(TowerFingerprinter); ok {
		return embcache.Key{ImageFingerprint: tf.ImageFingerprint(), TextFingerprint: tf.TextFingerprint(), TextInput: textInput}
	}
	fp := enc.Fingerprint()
	return embcache.Key{ImageFingerprint: fp, TextFingerprint: fp, TextInput: textInput}
}

// sameRows reports whether the cache on disk already is out: same header
// and the same movies with the same content keys, in the same order.
func sameRows(old, out *embcache.Features) bool {
	return old != nil && old.Encoder == out.Encoder && old.Fingerprint == out.Fingerprint &&
		old.ImageFingerprint == out.ImageFingerprint && old.TextFingerprint == out.TextFingerprint &&
		old.TextInput == out.TextInput && old.Shard == out.Shard && old.Manifest == out.Manifest && slices.Equal(old.IDs, out.IDs) &&
		slices.Equal(old.PosterHashes, out.PosterHashes) && slices.Equal(old.TextHashes, out.TextHashes)
}

// imageBatch is one batch of posters on its way to Encode. Workers fill
// inputs[k] and errs[k] and call done.Done; Run waits on done, in order.
// The goroutine running Encode sets vecs and err and closes encoded.
type imageBatch struct {
	rows    []int // manifest indices
	inputs  [][]float32
	errs    []error
	done    sync.WaitGroup
	vecs    [][]float32
	err     error
	encoded chan struct{}
}

// lookahead is how many prepared or preparing batches may wait behind the
// ones in Encode; it bounds memory to about lookahead+streams batches of
// prepared inputs while keeping the workers busy during Encode.
const lookahead = 2

// encodeImages computes the image rows of movies[miss] into dst; save is
// called with the rows of each batch once they are in dst.
func encodeImages(ctx context.Context, tower encoder.ImageTower, movies []reel.Movie, miss []int, dst [][]float32, opts Options, save func(rows []int) error) error {
	if len(miss) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bar := progress.NewLabeled(opts.Progress, len(miss), "embedding posters", "posters")
	defer bar.Finish()

	type job struct {
		b *imageBatch
		k int
	}
	jobs := make(chan job)
	batches := make(chan *imageBatch, lookahead)
	var workers sync.WaitGroup
	for range opts.Workers {
		workers.Go(func() {
			for j := range jobs {
				m := movies[j.b.rows[j.k]]
				j.b.inputs[j.k], j.b.errs[j.k] = preparePoster(ctx, tower, m)
				j.b.done.Done()
			}
		})
	}
	// The feeder hands out batches in order; sending on batches blocks once
	// lookahead batches wait, which bounds memory.
	go func() {
		defer close(batches)
		defer close(jobs)
		for lo := 0; lo < len(miss); lo += opts.BatchSize {
			rows := miss[lo:min(lo+opts.BatchSize, len(miss))]
			b := &imageBatch{rows: rows, inputs: make([][]float32, len(rows)), errs: make([]error, len(rows))}
			b.done.Add(len(rows))
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
			for k := range rows {
				select {
				case jobs <- job{b, k}:
				case <-ctx.Done():
					// Unsent jobs still count as pending; release them
					// so nobody waits forever.
					for range len(rows) - k {
						b.done.Done()
					}
					return
				}
			}
		}
	}()
	// A tower that runs several Encode calls at once (ParallelEncoder) gets
	// that many whole batches in flight; their rows are placed and saved in
	// batch order, as with one.
	streams := 1
	if p, ok := tower.(encoder.ParallelEncoder); ok {
		streams = max(1, p.EncodeStreams())
	}
	var encoders sync.WaitGroup
	defer workers.Wait()
	defer encoders.Wait()
	defer cancel()

	finish := func(b *imageBatch) error {
		<-b.encoded
		if b.err != nil {
			return fmt.Errorf("encode posters: %w", b.err)
		}
		if err := place(dst, b.rows, b.vecs, tower.Dim(), "poster"); err != nil {
			return err
		}
		if err := save(b.rows); err != nil {
			return err
		}
		bar.Add(len(b.rows))
		return nil
	}
	var inflight []*imageBatch
	for b := range batches {
		b.done.Wait()
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, err := range b.errs {
			if err != nil {
				return err
			}
		}
		b.encoded = make(chan struct{})
		encoders.Go(func() {
			defer close(b.encoded)
			b.vecs, b.err = tower.Encode(ctx, b.inputs)
		})
		inflight = append(inflight, b)
		// Every stream busy: the oldest batch is saved before the next is
		// taken (with one stream, right after its Encode, as before).
		if len(inflight) == streams {
			if err := finish(inflight[0]); err != nil {
				return err
			}
			inflight = inflight[1:]
		}
	}
	for _, b := range inflight {
		if err := finish(b); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// decodePoster reads one poster file (sniffed format, EXIF orientation
// applied) under the poster rule prepare applied, within the process's
// decode memory budget; its errors name the file. The caller calls release
// once done with the pixels.
func decodePoster(ctx context.Context, path string) (img image.Image, release func(), err error) {
	if path == "" {
		return nil, nil, errNoPoster
	}
	return imageprep.DecodeFile(ctx, path)
}

func preparePoster(ctx context.Context, tower encoder.ImageTower, m reel.Movie) ([]float32, error) {
	img, release, err := decodePoster(ctx, m.PosterPath)
	if err != nil {
		return nil, fmt.Errorf("movie %s: %w (rerun `reelmatch prepare` if the file changed)", m.ID, err)
	}
	defer release()
	in, err := tower.Prepare(img)
	if err != nil {
		return nil, fmt.Errorf("prepare poster %q of movie %s: %w", m.PosterPath, m.ID, err)
	}
	return in, nil
}

// place copies Encode's output rows to their manifest slots after checking
// their count and length.
func place(dst [][]float32, rows []int, vecs [][]float32, dim int, what string) error {
	if len(vecs) != len(rows) {
		return fmt.Errorf("encode %ss: encoder returned %d vectors for %d inputs", what, len(vecs), len(rows))
	}
	for k, i := range rows {
		if len(vecs[k]) != dim {
			return fmt.Errorf("encode %ss: vector %d has length %d, the tower's Dim is %d", what, k, len(vecs[k]), dim)
		}
		dst[i] = vecs[k]
	}
	return nil
}

// encodeTexts computes the text rows of texts[miss] into dst; save is
// called with the rows of each batch once they are in dst.
func encodeTexts(ctx context.Context, tower encoder.TextTower, texts []string, miss []int, dst [][]float32, opts Options, save func(rows []int) error) error {
	if len(miss) == 0 {
		return nil
	}
	bar := progress.NewLabeled(opts.Progress, len(miss), "embedding intros", "intros")
	defer bar.Finish()
	// Sorting by length keeps texts of similar length in one batch, so a
	// padded ONNX batch wastes little; the stable sort keeps runs
	// deterministic.
	order := slices.Clone(miss)
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(texts[a]), len(texts[b])) })
	batch := make([]string, 0, opts.BatchSize)
	for lo := 0; lo < len(order); lo += opts.BatchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows := order[lo:min(lo+opts.BatchSize, len(order))]
		batch = batch[:0]
		for _, i := range rows {
			batch = append(batch, texts[i])
		}
		vecs, err := tower.Encode(ctx, batch)
		if err != nil {
			return fmt.Errorf("encode intros: %w", err)
		}
		if err := place(dst, rows, vecs, tower.Dim(), "intro"); err != nil {
			return err
		}
		if err := save(rows); err != nil {
			return err
		}
		bar.Add(len(rows))
	}
	return nil
}

// OpenEncoder builds the named encoder the way embed last ran it in work:
// an empty cfg.TextInput is taken from the saved state or feature cache, a
// zero cfg.TextDim from the saved state, and a Fitter's saved state is
// restored. A Fitter without a matching
// state is an error that says to run embed.
func OpenEncoder(work workdir.Dir, name string, cfg encoder.Config) (encoder.Encoder, error) {
	h, body, err := readState(work.EncoderState(name))
	if err != nil {
		return nil, err
	}
	if cfg.TextInput == "" {
		if h != nil {
			cfg.TextInput = h.TextInput
		} else if info, err := embcache.Stat(work.Features(name)); err == nil {
			cfg.TextInput = info.TextInput
		}
	}
	if cfg.TextDim == 0 && h != nil {
		cfg.TextDim = h.TextDim
	}
	enc, err := encoder.New(name, cfg)
	if err != nil {
		return nil, err
	}
	f, ok := enc.(encoder.Fitter)
	if !ok {
		return enc, nil
	}
	fail := func(format string, args ...any) (encoder.Encoder, error) {
		enc.Close()
		return nil, fmt.Errorf(format, args...)
	}
	if h == nil {
		return fail("encoder %s has no fitted state in %s: run `reelmatch embed --encoder %s` first", name, work, name)
	}
	if base := baseFingerprint(enc); h.BaseFingerprint != base {
		return fail("encoder %s state in %s was fitted with other settings (text input %q, text dimension %d): rerun `reelmatch embed --encoder %s`", name, work, h.TextInput, h.TextDim, name)
	}
	if err := f.UnmarshalState(body); err != nil {
		return fail("restore encoder %s state: %w (rerun `reelmatch embed --encoder %s`)", name, err, name)
	}
	return enc, nil
}

// errNoPoster is returned for a movie without a poster path.
var errNoPoster = errors.New("movie has no poster path")
