package dataset

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// BenchmarkPrepare runs Prepare over a synthetic 500-movie dataset with
// 150x224 JPEG posters (half the real posters' 300x448 side).
func BenchmarkPrepare(b *testing.B) {
	const n = 500
	f := newFixture(b)
	img := image.NewRGBA(image.Rect(0, 0, 150, 224))
	for y := range 224 {
		for x := range 150 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var info, train strings.Builder
	info.WriteString("id,name,intro\n")
	for i := range n {
		img.Pix[0] = uint8(i) // distinct files
		f.poster(fmt.Sprintf("%d.jpg", i), reeltest.JPEG(b, img, 85))
		fmt.Fprintf(&info, "%d,Movie %d,\"When two kids find and play a magical board game, they release a man trapped in it for decades.\"\n", i, i)
		if i%5 != 0 {
			fmt.Fprintf(&train, "%d\n", i)
		}
	}
	f.info(info.String())
	f.train(train.String())
	for b.Loop() {
		man, _, err := Prepare(context.Background(), f.dir, Options{})
		if err != nil || len(man.Movies) != n {
			b.Fatalf("err %v", err)
		}
	}
}
