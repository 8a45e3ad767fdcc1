package embed

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/encoder/ort"
	"github.com/reelmatch/reelmatch/internal/encoder/pretrained"
	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/reeltest"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// BenchmarkEmbed embeds the 300-movie synthetic set with the builtin
// encoder: "cold" from an empty cache (fit, every poster decoded and
// prepared, every intro encoded), "warm" an unchanged rerun.
func BenchmarkEmbed(b *testing.B) {
	ctx := context.Background()
	work, man := prepareSynth(b, 300)
	open := func() encoder.Encoder {
		enc, err := encoder.New(builtin.Name, encoder.Config{})
		if err != nil {
			b.Fatal(err)
		}
		return enc
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			if err := os.RemoveAll(string(work) + "/features"); err != nil {
				b.Fatal(err)
			}
			if _, err := Run(ctx, work, man, open(), Options{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(man.Movies)*b.N)/b.Elapsed().Seconds(), "movies/s")
	})
	b.Run("warm", func(b *testing.B) {
		for b.Loop() {
			if _, err := Run(ctx, work, man, open(), Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEmbedPosters is the poster pipeline of Run without a model:
// posters of the real set's size (300x450 JPEG, 4:2:0) are read, decoded
// and prepared with the seed recipe into [3,224,224] inputs as for
// ResNet-50, batched and checkpointed, while the image tower's Encode
// costs nothing. Its posters/s is the ceiling the pipeline puts on embed,
// and cpu-ms/poster is what it takes from the cores ONNX Runtime needs.
//
//	go test -run '^$' -bench EmbedPosters -benchtime 3x ./internal/embed/
func BenchmarkEmbedPosters(b *testing.B) {
	ctx := context.Background()
	work, man := prepareRealSize(b, 128)
	enc := &prepOnlyEncoder{HashEncoder: &encodertest.HashEncoder{}, recipe: imageprep.Seed()}
	// Texts once, so every loop computes posters only.
	if _, err := Run(ctx, work, man, enc, Options{}); err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{8, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			cpu0 := cpuSeconds()
			for b.Loop() {
				enc.round++ // a new image fingerprint: every poster row is stale
				sum, err := Run(ctx, work, man, enc, Options{BatchSize: batch})
				if err != nil {
					b.Fatal(err)
				}
				if sum.ImagesComputed != len(man.Movies) || sum.TextsComputed != 0 {
					b.Fatalf("computed %d posters and %d intros, want %d and 0", sum.ImagesComputed, sum.TextsComputed, len(man.Movies))
				}
			}
			n := float64(len(man.Movies) * b.N)
			b.ReportMetric(n/b.Elapsed().Seconds(), "posters/s")
			b.ReportMetric((cpuSeconds()-cpu0)*1000/n, "cpu-ms/poster")
		})
	}
}

// prepOnlyEncoder is the fake hash encoder with a real image Prepare (a
// recipe) and an Encode that only reads its inputs. Its image fingerprint
// changes with round, its text fingerprint does not, so a new round
// recomputes the posters and reuses the intros.
type prepOnlyEncoder struct {
	*encodertest.HashEncoder
	recipe imageprep.Recipe
	round  int
}

func (e *prepOnlyEncoder) ImageFingerprint() string {
	return fmt.Sprintf("%s/prep-only/%d", e.Fingerprint(), e.round)
}

func (e *prepOnlyEncoder) TextFingerprint() string { return e.Fingerprint() }

func (e *prepOnlyEncoder) Image() encoder.ImageTower { return prepOnlyTower{e.recipe} }

type prepOnlyTower struct{ recipe imageprep.Recipe }

func (prepOnlyTower) Dim() int { return encodertest.HashImageDim }

func (t prepOnlyTower) Prepare(img image.Image) ([]float32, error) { return t.recipe.Apply(img), nil }

func (prepOnlyTower) Encode(ctx context.Context, inputs [][]float32) ([][]float32, error) {
	out := make([][]float32, len(inputs))
	for i, in := range inputs {
		out[i] = append([]float32(nil), in[:encodertest.HashImageDim]...)
	}
	return out, ctx.Err()
}

// prepareRealSize is prepareSynth with every poster scaled up to 300x450,
// the size of most real posters, before the manifest is made.
func prepareRealSize(t testing.TB, n int) (workdir.Dir, *dataset.Manifest) {
	t.Helper()
	dir, data := writeSynth(t, n)
	posters, err := filepath.Glob(filepath.Join(data, "poster", "*.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range posters {
		small := decodeTest(t, p)
		big := image.NewRGBA(image.Rect(0, 0, 300, 450))
		sb := small.Bounds()
		for y := range 450 {
			for x := range 300 {
				big.Set(x, y, small.At(sb.Min.X+x*sb.Dx()/300, sb.Min.Y+y*sb.Dy()/450))
			}
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, big, &jpeg.Options{Quality: 85}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return prepareManifest(t, dir, data)
}

func decodeTest(t testing.TB, path string) image.Image {
	t.Helper()
	img, release, err := imageprep.DecodeFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	release()
	return img
}

// cpuSeconds is the user+system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkEmbedVsRuntime times embed's posters against ONNX Runtime alone
// on the same image model, in the same process, in turn: each round runs
// the model alone, embed as `reelmatch embed` runs it, the model alone
// again, then embed with one stream. A shared machine's speed drifts, so
// each embed time is compared with the two runs of the model alone around
// it, and the median over rounds is reported:
//
//   - posters/s: the poster phase of Run (read, decode, recipe, model,
//     checkpoint) with the resnet50-distilbert encoder at the default batch
//     (32), built as `reelmatch embed` builds it (EncoderConfig: with an
//     int8 model, one batch per CPU side by side on one thread each);
//   - runtime-img/s: the image model alone on random [8,3,224,224] batches,
//     one call at a time with one thread per CPU (the reference setting of
//     internal/encoder/ort's BenchmarkRun at batch 8);
//   - ratio: posters/s over runtime-img/s;
//   - 1-stream-ratio: the same for embed with ImageStreams 1 (one batch at
//     a time on every thread, as embed ran every model before streams);
//   - cpu-ms/poster, 1-stream-cpu-ms/poster and runtime-cpu-ms/img: the
//     process's CPU time per item in each (all threads; wall time on a
//     shared machine varies more than CPU time does).
//
// REELMATCH_BENCH_MODELS names a models folder of the resnet50-distilbert
// preset, as `embed --models` takes it: the float32 models, or the int8
// copy `reelmatch models quantize` writes. The posters are 300x450 JPEGs
// made from the synthetic set, or the first 256 posters of a data folder
// (such as ../shared/data/movielens-posters) named by
// REELMATCH_BENCH_DATA. Relative paths are taken from the repository root
// (go test runs in the package's folder), as make bench-embed passes them.
//
//	REELMATCH_BENCH_MODELS=DIR go test -run '^$' -bench EmbedVsRuntime -benchtime 5x ./internal/embed/
func BenchmarkEmbedVsRuntime(b *testing.B) {
	dir := fromRoot(b, os.Getenv(encodertest.BenchEnv))
	if dir == "" {
		b.Skipf("%s unset: this benchmark needs a resnet50-distilbert models folder (see its comment)", encodertest.BenchEnv)
	}
	model := encodertest.BenchModel{Name: "resnet50", Path: filepath.Join(dir, "resnet50", "onnx", "model.onnx"), Image: 224, Real: true}
	if _, err := os.Stat(model.Path); err != nil {
		b.Skipf("%s=%s is not a resnet50-distilbert models folder (no resnet50/onnx/model.onnx): this benchmark needs one, as `embed --models` takes it", encodertest.BenchEnv, dir)
	}
	isolateCache(b)
	ctx := context.Background()
	const posters = 256
	var work workdir.Dir
	var man *dataset.Manifest
	if data := fromRoot(b, os.Getenv("REELMATCH_BENCH_DATA")); data != "" {
		work, man = prepareData(b, data, posters)
	} else {
		work, man = prepareRealSize(b, posters)
	}
	sess, err := ort.Runtime{}.Open(model.Path, encoder.SessionOptions{Threads: runtime.NumCPU()})
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	const rawBatch, rawRuns = 8, 16
	in := model.Inputs(rawBatch)
	if _, err := sess.Run(in, nil); err != nil { // warm-up
		b.Fatal(err)
	}
	var rawCPU, embedCPU, oneCPU float64 // CPU seconds
	raw := func() float64 {
		start, cpu0 := time.Now(), cpuSeconds()
		for range rawRuns {
			if _, err := sess.Run(in, nil); err != nil {
				b.Fatal(err)
			}
		}
		rawCPU += cpuSeconds() - cpu0
		return rawBatch * rawRuns / time.Since(start).Seconds()
	}
	open := func(streams int) *posterRounds {
		enc, err := encoder.New(pretrained.NameResNetDistilBERT, EncoderConfig(encoder.Config{ModelsDir: dir, Backend: "ort", ImageStreams: streams}))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { enc.Close() })
		b.Logf("streams=%d: the image tower runs %d batches at once", streams, enc.Image().(encoder.ParallelEncoder).EncodeStreams())
		// Intros once, so every round computes posters only.
		pr := &posterRounds{Encoder: enc, label: fmt.Sprintf("streams=%d", streams)}
		if _, err := Run(ctx, work, man, pr, Options{}); err != nil {
			b.Fatal(err)
		}
		return pr
	}
	embedRate := func(enc *posterRounds, cpu *float64) float64 {
		enc.round++ // a new image fingerprint: every poster row is stale
		cpu0 := cpuSeconds()
		defer func() { *cpu += cpuSeconds() - cpu0 }()
		sum, err := Run(ctx, work, man, enc, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if sum.ImagesComputed != len(man.Movies) || sum.TextsComputed != 0 {
			b.Fatalf("computed %d posters and %d intros, want %d and 0", sum.ImagesComputed, sum.TextsComputed, len(man.Movies))
		}
		return sum.ImagesPerSecond
	}
	streamed, one := open(0), open(1) // 0: EncoderConfig's choice
	var raws, embeds, ones []float64
	for b.Loop() {
		raws = append(raws, raw())
		embeds = append(embeds, embedRate(streamed, &embedCPU))
		raws = append(raws, raw())
		ones = append(ones, embedRate(one, &oneCPU))
	}
	raws = append(raws, raw())
	b.StopTimer()
	var ratios, oneRatios []float64
	for i := range embeds {
		ratios = append(ratios, embeds[i]/((raws[2*i]+raws[2*i+1])/2))
		oneRatios = append(oneRatios, ones[i]/((raws[2*i+1]+raws[2*i+2])/2))
	}
	b.ReportMetric(median(embeds), "posters/s")
	b.ReportMetric(median(raws), "runtime-img/s")
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(median(oneRatios), "1-stream-ratio")
	b.ReportMetric(embedCPU*1000/float64(len(embeds)*len(man.Movies)), "cpu-ms/poster")
	b.ReportMetric(oneCPU*1000/float64(len(ones)*len(man.Movies)), "1-stream-cpu-ms/poster")
	b.ReportMetric(rawCPU*1000/float64(len(raws)*rawBatch*rawRuns), "runtime-cpu-ms/img")
}

// fromRoot makes a relative path absolute from the repository root.
func fromRoot(t testing.TB, path string) string {
	t.Helper()
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	fixtures, err := reeltest.FixtureRoot() // ROOT/testdata/fixtures
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(filepath.Dir(filepath.Dir(fixtures)), path)
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// posterRounds is an encoder whose image fingerprint changes with label
// and round and whose text fingerprint does not, so a new round recomputes
// the posters and reuses the intros.
type posterRounds struct {
	encoder.Encoder
	label string
	round int
}

func (e *posterRounds) ImageFingerprint() string {
	return fmt.Sprintf("%s/%s/round/%d", e.Fingerprint(), e.label, e.round)
}

func (e *posterRounds) TextFingerprint() string { return e.Fingerprint() }

// prepareData prepares a data folder and keeps its first n movies.
func prepareData(t testing.TB, data string, n int) (workdir.Dir, *dataset.Manifest) {
	t.Helper()
	work, man := prepareManifest(t, t.TempDir(), data)
	if len(man.Movies) > n {
		man.Movies = man.Movies[:n]
		if err := man.Save(work.Manifest()); err != nil {
			t.Fatal(err)
		}
	}
	return work, man
}
