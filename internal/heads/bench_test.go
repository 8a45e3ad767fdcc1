package heads

import (
	"context"
	"fmt"
	"testing"
)

// The seed's feature sizes: ResNet-50 pooled features and DistilBERT's
// [CLS] vector; 3,242 is the MovieLens poster set.
const (
	benchImageDim = 2048
	benchTextDim  = 768
	benchPairs    = 3242
)

// BenchmarkTrainEpoch times one epoch over 3,242 pairs with the default
// head sizes (graph compilation excluded: a warm-up epoch runs first).
func BenchmarkTrainEpoch(b *testing.B) {
	img, txt := synthPairs(benchPairs, benchImageDim, benchTextDim, 32, 0.5, 1)
	cfg := DefaultConfig()
	cfg.ImageDim, cfg.TextDim = benchImageDim, benchTextDim
	tr, err := newTrainer(cfg, newWeights(cfg, 1))
	if err != nil {
		b.Fatal(err)
	}
	defer tr.close()
	batch := cfg.BatchSize
	steps := benchPairs / batch
	imgFlat, txtFlat := flatten(img), flatten(txt)
	epoch := func() {
		for s := range steps {
			lo, hi := s*batch, (s+1)*batch
			if _, err := tr.trainStep(imgFlat[lo*benchImageDim:hi*benchImageDim], txtFlat[lo*benchTextDim:hi*benchTextDim], batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	epoch()
	b.ResetTimer()
	for b.Loop() {
		epoch()
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/epoch")
}

// BenchmarkHeadForward times Model.Project over N pairs (both towers), the
// inference path of eval, search and serve (N=1: one search query).
func BenchmarkHeadForward(b *testing.B) {
	for _, n := range []int{1, 32, 1000, benchPairs} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			img, txt := synthPairs(n, benchImageDim, benchTextDim, 32, 0.5, 2)
			cfg := DefaultConfig()
			cfg.ImageDim, cfg.TextDim = benchImageDim, benchTextDim
			m := newModel(cfg, newWeights(cfg, 1))
			for b.Loop() {
				if _, _, err := m.Project(img, txt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTrain times a short full Train call on synthetic pairs with
// validation, as `reelmatch train` runs it.
func BenchmarkTrain(b *testing.B) {
	img, txt := synthPairs(600, 256, 128, 16, 0.5, 3)
	cfg := DefaultConfig()
	cfg.Hidden, cfg.EmbedDim, cfg.Epochs = []int{128, 128, 128}, 64, 2
	val := &Pairs{Img: img[500:], Txt: txt[500:]}
	for b.Loop() {
		if _, _, err := Train(context.Background(), img[:500], txt[:500], val, cfg, TrainOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPreciseBN times recomputing every BatchNorm's statistics over
// 3,242 pairs (both towers, default head sizes): the cost --precise-bn adds
// to each validated epoch and once to the kept weights.
func BenchmarkPreciseBN(b *testing.B) {
	img, txt := synthPairs(benchPairs, benchImageDim, benchTextDim, 32, 0.5, 1)
	cfg := DefaultConfig()
	cfg.ImageDim, cfg.TextDim = benchImageDim, benchTextDim
	w := newWeights(cfg, 1)
	for b.Loop() {
		w.preciseBN(img, txt)
	}
}
