package embed

import (
	"context"
	"os"
	"testing"

	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/encoder/builtin"
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
