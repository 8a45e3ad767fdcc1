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
// kept epoch marked.
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
	if h.BestEpoch > 0 && h.BestEpoch <= len(h.Epochs) {
		e := h.Epochs[h.BestEpoch-1]
		y := e.TrainLoss
		if e.Val != nil {
			y = e.Val.Loss
		}
		best, err := plotter.NewScatter(plotter.XYs{{X: float64(e.Epoch), Y: y}})
		if err != nil {
			return fmt.Errorf("loss plot: %w", err)
		}
		best.Shape = draw.RingGlyph{}
		best.Radius = vg.Points(6)
		p.Add(best)
		p.Legend.Add(fmt.Sprintf("kept (epoch %d)", h.BestEpoch), best)
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
