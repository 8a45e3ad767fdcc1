package embed

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
	"github.com/reelmatch/reelmatch/internal/encoder/encodertest"
	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/synth"
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
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := synth.Write(data, n, 7); err != nil {
		t.Fatal(err)
	}
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
