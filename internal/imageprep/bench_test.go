package imageprep

import (
	"context"
	"os"
	"testing"
	"time"
)

// loop runs body under b.Loop and reports process CPU milliseconds per
// operation as "cpu-ms/op" (see processCPU).
func loop(b *testing.B, body func()) {
	start := processCPU()
	for b.Loop() {
		body()
	}
	b.ReportMetric(float64(processCPU()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkImageprep measures one 300×447 JPEG poster (the typical size in
// our data) through decoding alone, and through decoding plus each recipe
// ("decode+…") or the recipe alone on an already decoded image.
func BenchmarkImageprep(b *testing.B) {
	data, err := os.ReadFile("testdata/bench_poster.jpg")
	if err != nil {
		b.Fatal(err)
	}
	clip224, err := ParseCLIPConfig([]byte(`{"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}, "resample": 3}`))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		loop(b, func() {
			_, release, err := DecodeBytes(context.Background(), data)
			if err != nil {
				b.Fatal(err)
			}
			release()
		})
	})
	img, release, err := DecodeBytes(context.Background(), data)
	if err != nil {
		b.Fatal(err)
	}
	release()
	for _, r := range []Recipe{Seed(), TorchVision(), clip224} {
		out := make([]float32, 3*224*224)
		b.Run("decode+"+r.Name, func(b *testing.B) {
			loop(b, func() {
				img, release, err := DecodeBytes(context.Background(), data)
				if err != nil {
					b.Fatal(err)
				}
				r.ApplyInto(out, img)
				release()
			})
		})
		b.Run(r.Name, func(b *testing.B) {
			loop(b, func() { r.ApplyInto(out, img) })
		})
	}
}
