package heads

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/reelmatch/reelmatch/internal/atomicfile"
)

// WriteLossPlot draws the training loss and, when there was validation, the
// validation loss per epoch as a PNG at path (written atomically), with the
// epochs behind the kept weights marked (the best one, or every one
// averaged into them).
func (h *History) WriteLossPlot(path string) error {
	if len(h.Epochs) == 0 {
		return fmt.Errorf("loss plot: no epochs to draw")
	}
	p := plot.New()
	p.Title.Text = "Contrastive loss per epoch"
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = "loss"
	p.Add(plotter.NewGrid())

	var trainPts, valPts plotter.XYs
	for _, e := range h.Epochs {
		trainPts = append(trainPts, plotter.XY{X: float64(e.Epoch), Y: e.TrainLoss})
		if e.Val != nil {
			valPts = append(valPts, plotter.XY{X: float64(e.Epoch), Y: e.Val.Loss})
		}
	}
	add := func(name string, pts plotter.XYs, c color.Color, dashed bool) error {
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, s.Color = c, c
		l.Width = vg.Points(1.5)
		if dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		s.Shape = draw.CircleGlyph{}
		s.Radius = vg.Points(2)
		p.Add(l, s)
		p.Legend.Add(name, l, s)
		return nil
	}
	if err := add("train", trainPts, color.RGBA{R: 31, G: 119, B: 180, A: 255}, false); err != nil {
		return fmt.Errorf("loss plot: %w", err)
	}
	if len(valPts) > 0 {
		if err := add("validation", valPts, color.RGBA{R: 214, G: 39, B: 40, A: 255}, true); err != nil {
			return fmt.Errorf("loss plot: %w", err)
		}
	}
	// Mark what the saved weights are: the best epoch, or every epoch
	// averaged into them (train --average-epochs).
	var kept plotter.XYs
	for _, e := range h.Epochs {
		averaged := h.AverageFrom > 0 && e.Epoch >= h.AverageFrom && e.Epoch <= h.BestEpoch
		if averaged || (h.AverageFrom == 0 && e.Epoch == h.BestEpoch) {
			y := e.TrainLoss
			if e.Val != nil {
				y = e.Val.Loss
			}
			kept = append(kept, plotter.XY{X: float64(e.Epoch), Y: y})
		}
	}
	if len(kept) > 0 {
		ring, err := plotter.NewScatter(kept)
		if err != nil {
			return fmt.Errorf("loss plot: %w", err)
		}
		ring.Shape = draw.RingGlyph{}
		ring.Radius = vg.Points(6)
		p.Add(ring)
		p.Legend.Add(keptLabel(h), ring)
	}
	p.Legend.Top = true
	w, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("loss plot: %w", err)
	}
	return atomicfile.Write(path, 0o644, func(out io.Writer) error {
		_, err := w.WriteTo(out)
		return err
	})
}

// keptLabel says which weights training saved: one epoch, or the mean of a
// span of epochs.
func keptLabel(h *History) string {
	if h.AverageFrom > 0 && h.AverageFrom < h.BestEpoch {
		return fmt.Sprintf("kept: mean of epochs %d-%d", h.AverageFrom, h.BestEpoch)
	}
	return fmt.Sprintf("kept: epoch %d", h.BestEpoch)
}
