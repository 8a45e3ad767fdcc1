package engine

import (
	"context"
	"image"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/encoder"
)

// overlapTower is a text and image tower that counts Encode calls running
// at the same time (its Prepare may overlap, by contract).
type overlapTower struct {
	inside, worst *atomic.Int32
}

func (overlapTower) Dim() int { return 1 }

func (t overlapTower) enter() {
	n := t.inside.Add(1)
	for {
		w := t.worst.Load()
		if n <= w || t.worst.CompareAndSwap(w, n) {
			break
		}
	}
	time.Sleep(time.Millisecond) // widen the window an overlap would need
	t.inside.Add(-1)
}

func (t overlapTower) Encode(_ context.Context, texts []string) ([][]float32, error) {
	t.enter()
	return make([][]float32, len(texts)), nil
}

func (t overlapTower) Prepare(image.Image) ([]float32, error) { return []float32{0}, nil }

type overlapImage struct{ overlapTower }

func (t overlapImage) Encode(_ context.Context, in [][]float32) ([][]float32, error) {
	t.enter()
	return make([][]float32, len(in)), nil
}

type overlapEncoder struct{ overlapTower }

func (overlapEncoder) Name() string                { return "overlap" }
func (overlapEncoder) Fingerprint() string         { return "overlap" }
func (e overlapEncoder) Text() encoder.TextTower   { return e.overlapTower }
func (e overlapEncoder) Image() encoder.ImageTower { return overlapImage{e.overlapTower} }
func (overlapEncoder) Close() error                { return nil }

// TestSerialEncoderSerialisesEncode checks that the engine's encoder
// wrapper never lets two tower Encode calls (text or image) run at once,
// since towers need not be safe for concurrent use.
func TestSerialEncoderSerialisesEncode(t *testing.T) {
	var inside, worst atomic.Int32
	e := &Engine{info: map[string]any{}}
	e.SetEncoder(overlapEncoder{overlapTower{&inside, &worst}}, nil)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if i%2 == 0 {
				_, _ = e.enc.Text().Encode(context.Background(), []string{"x"})
				return
			}
			_, _ = e.enc.Image().Encode(context.Background(), [][]float32{{0}})
		})
	}
	wg.Wait()
	if w := worst.Load(); w != 1 {
		t.Errorf("at most %d tower Encode calls ran at once, want 1", w)
	}
}
