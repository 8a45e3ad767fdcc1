package pretrained

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/quantize"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// End-to-end encoder benchmarks: JPEG bytes -> decode -> recipe -> model
// for posters, text -> tokenizer -> model for intros, at batch 1, 8, 32.
//
// REELMATCH_BENCH_MODELS names a folder made by
// ../shared/tools/make_bench_models.py (random weights, real sizes):
// resnet50.onnx, distilbert.onnx, vit_b_32.onnx (standing in for CLIP's
// vision tower: same ViT-B/32 compute, output "features") and
// clip_text.onnx. Without it the tiny fixtures run, which measures only
// the plumbing. REELMATCH_BENCH_BACKEND is "ort" (default), "go", or both
// comma-separated; the pure-Go backend is slow at real sizes.
// REELMATCH_BENCH_PRECISION is "float32", "int8" or both comma-separated
// (default both): int8 runs the models as `reelmatch models quantize`
// writes them, the ResNet calibrated on the fixture posters.
//
//	REELMATCH_BENCH_MODELS=/tmp/benchmodels go test -run '^$' -bench . ./internal/encoder/pretrained/

var benchBatches = []int{1, 8, 32}

// benchCLIPPreprocessor is openai/clip-vit-base-patch32's
// preprocessor_config.json (the fixture's is scaled down to 64 pixels).
const benchCLIPPreprocessor = `{"crop_size": 224, "do_center_crop": true, "do_normalize": true, "do_resize": true,
"feature_extractor_type": "CLIPFeatureExtractor", "image_mean": [0.48145466, 0.4578275, 0.40821073],
"image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": 224}`

func benchBackends() []string {
	v := os.Getenv("REELMATCH_BENCH_BACKEND")
	if v == "" {
		return []string{"ort"}
	}
	return strings.Split(v, ",")
}

// benchFiles returns the files for an encoder: real-size bench models when
// REELMATCH_BENCH_MODELS is set, else the tiny fixtures.
func benchFiles(b *testing.B, name string) Files {
	b.Helper()
	dir := os.Getenv("REELMATCH_BENCH_MODELS")
	if dir == "" {
		b.Log("REELMATCH_BENCH_MODELS unset: benchmarking the tiny fixtures (plumbing only)")
		switch name {
		case NameCLIP:
			d := filepath.Join(testModels, PresetCLIP)
			return Files{ImageModel: filepath.Join(d, "onnx", "vision_model.onnx"), TextModel: filepath.Join(d, "onnx", "text_model.onnx"),
				Tokenizer: filepath.Join(d, "tokenizer.json"), Preprocessor: filepath.Join(d, "preprocessor_config.json")}
		default:
			return Files{ImageModel: filepath.Join(testModels, PresetResNet50, "onnx", "model.onnx"),
				TextModel: filepath.Join(testModels, PresetDistilBERT, "model.onnx"),
				Tokenizer: filepath.Join(testModels, PresetDistilBERT, "tokenizer.json")}
		}
	}
	switch name {
	case NameCLIP:
		pre := filepath.Join(b.TempDir(), "preprocessor_config.json")
		if err := os.WriteFile(pre, []byte(benchCLIPPreprocessor), 0o644); err != nil {
			b.Fatal(err)
		}
		return Files{ImageModel: filepath.Join(dir, "vit_b_32.onnx"), TextModel: filepath.Join(dir, "clip_text.onnx"),
			Tokenizer: filepath.Join(testModels, PresetCLIP, "tokenizer.json"), Preprocessor: pre}
	default:
		return Files{ImageModel: filepath.Join(dir, "resnet50.onnx"), TextModel: filepath.Join(dir, "distilbert.onnx"),
			Tokenizer: filepath.Join(testModels, PresetDistilBERT, "tokenizer.json")}
	}
}

func benchPrecisions() []string {
	v := os.Getenv("REELMATCH_BENCH_PRECISION")
	if v == "" {
		return []string{"float32", "int8"}
	}
	return strings.Split(v, ",")
}

// quantizedFiles returns f with its two models quantized into a
// temporary folder, as Quantize does it.
func quantizedFiles(b *testing.B, name string, f Files) Files {
	b.Helper()
	dir := b.TempDir()
	var posters []string
	if name == NameResNetDistilBERT {
		paths, _ := filepath.Glob(filepath.Join(reeltest.Fixture(b, "images"), "*.jpg"))
		posters = paths
	}
	out := f
	for _, m := range []struct {
		src  string
		dst  *string
		opts quantize.Options
	}{{f.ImageModel, &out.ImageModel, quantize.Options{}}, {f.TextModel, &out.TextModel, quantize.Options{}}} {
		if m.dst == &out.ImageModel && name == NameResNetDistilBERT {
			rt, err := encoder.OpenRuntime("ort")
			if err != nil {
				b.Fatal(err)
			}
			batches, _, err := calibrationBatches(context.Background(), m.src, QuantizeOptions{CalibrationImages: posters})
			if err != nil {
				b.Fatal(err)
			}
			m.opts = quantize.Options{Calibration: batches, Runtime: rt, TempDir: dir}
		}
		*m.dst = filepath.Join(dir, filepath.Base(filepath.Dir(m.src))+"-"+filepath.Base(m.src))
		qf, err := quantizeFile(m.src, *m.dst, m.opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: %+v", filepath.Base(m.src), qf.Report)
	}
	return out
}

func benchEncoder(b *testing.B, name, backend, precision string) *Encoder {
	b.Helper()
	files := benchFiles(b, name)
	if precision == "int8" {
		files = quantizedFiles(b, name, files)
	}
	enc, err := Build(name, files, encoder.Config{Backend: backend})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { enc.Close() })
	return enc
}

// benchPosters are the fixture JPEGs, held in memory so disk speed does
// not count.
func benchPosters(b *testing.B) [][]byte {
	b.Helper()
	paths, _ := filepath.Glob(filepath.Join(reeltest.Fixture(b, "images"), "*.jpg"))
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, data)
	}
	if len(out) == 0 {
		b.Fatal("no JPEG fixtures in " + reeltest.FixturesDir + "/images")
	}
	return out
}

// benchIntros are texts of 33 words, the median intro length of the
// MovieLens poster set, cut from the golden sentences.
func benchIntros(n int) []string {
	words := strings.Fields("A cowboy doll is profoundly threatened and jealous when a new spaceman figure supplants him as top toy in a boy's room. " +
		"When two kids find and play a magical board game, they release a man trapped for decades in it. " +
		"John and Max resolve to save their beloved bait shop from turning into an Italian restaurant, just as its new female owner catches Max's attention.")
	out := make([]string, n)
	for i := range out {
		w := make([]string, 33)
		for j := range w {
			w[j] = words[(i*7+j)%len(words)]
		}
		out[i] = strings.Join(w, " ")
	}
	return out
}

// prepareParallel decodes and prepares a batch on every CPU, as embed's
// workers do.
func prepareParallel(b *testing.B, tower encoder.ImageTower, jpegs [][]byte, n int) [][]float32 {
	in := make([][]float32, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				img, release, err := imageprep.DecodeBytes(context.Background(), jpegs[i%len(jpegs)])
				if err != nil {
					b.Error(err)
					continue
				}
				in[i], _ = tower.Prepare(img)
				release()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return in
}

func benchImages(b *testing.B, name string) {
	jpegs := benchPosters(b)
	for _, backend := range benchBackends() {
		for _, precision := range benchPrecisions() {
			b.Run(backend+"/"+precision, func(b *testing.B) {
				benchImagesOn(b, benchEncoder(b, name, backend, precision), jpegs)
			})
		}
	}
}

func benchImagesOn(b *testing.B, enc *Encoder, jpegs [][]byte) {
	for _, n := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			// One untimed call compiles shapes (go) and warms caches.
			if _, err := enc.Image().Encode(context.Background(), prepareParallel(b, enc.Image(), jpegs, n)); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := enc.Image().Encode(context.Background(), prepareParallel(b, enc.Image(), jpegs, n)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

func benchTexts(b *testing.B, name string) {
	for _, backend := range benchBackends() {
		for _, precision := range benchPrecisions() {
			b.Run(backend+"/"+precision, func(b *testing.B) {
				benchTextsOn(b, benchEncoder(b, name, backend, precision))
			})
		}
	}
}

func benchTextsOn(b *testing.B, enc *Encoder) {
	for _, n := range benchBatches {
		texts := benchIntros(n)
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			if _, err := enc.Text().Encode(context.Background(), texts); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := enc.Text().Encode(context.Background(), texts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "texts/s")
		})
	}
}

func BenchmarkResNet50Posters(b *testing.B)  { benchImages(b, NameResNetDistilBERT) }
func BenchmarkDistilBERTIntros(b *testing.B) { benchTexts(b, NameResNetDistilBERT) }
func BenchmarkCLIPPosters(b *testing.B)      { benchImages(b, NameCLIP) }
func BenchmarkCLIPIntros(b *testing.B)       { benchTexts(b, NameCLIP) }
