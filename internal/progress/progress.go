package progress

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar counts work done toward a total. The zero-cost Nop bar is used when
// output is not a terminal or is quieted. Methods are safe for concurrent use.
type Bar interface {
	Add(n int)
	Finish()
}

// Options choose where and whether bars are drawn.
type Options struct {
	Quiet bool
	// Out is where bars go; nil means os.Stderr.
	Out io.Writer
	// Force draws even when Out is not a terminal (tests).
	Force bool
}

// New starts a bar for total units of work, labelled with the unit it
// counts ("posters").
func New(o Options, total int, unit string) Bar {
	return NewLabeled(o, total, unit, unit)
}

// NewLabeled starts a bar for total units of work: label says what is
// being done ("embedding posters", "epoch 3/30") and unit what the count,
// the rate and the time left count ("posters", "batches"):
//
//	embedding posters  40% |████      | (120/300 posters, 52 posters/s) [2s:3s]
func NewLabeled(o Options, total int, label, unit string) Bar {
	out := o.Out
	if out == nil {
		out = os.Stderr
	}
	if o.Quiet || (!o.Force && !isTerminal(out)) {
		return nop{}
	}
	return newBar(progressbar.NewOptions(total,
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	))
}

// settle is how long a bar holds back its first counts: a rate measured
// over the first milliseconds (a cached batch done at once) reads as
// millions per second.
const settle = 300 * time.Millisecond

// bar draws b: at once with its label and nothing done, then the counts.
// Counts added within settle of the start are held back and drawn with the
// first later Add (or at Finish), so the first rate shown is a real one.
type bar struct {
	b       *progressbar.ProgressBar
	start   time.Time
	mu      sync.Mutex
	pending int
}

// newBar starts b's clock now (it would otherwise start at the first Add,
// and a first Add of a whole batch would read as an absurd rate).
func newBar(b *progressbar.ProgressBar) *bar {
	b.StartWithoutRender()
	return &bar{b: b, start: time.Now()}
}

func (b *bar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if time.Since(b.start) < settle {
		b.pending += n
		return
	}
	_ = b.b.Add(b.pending + n)
	b.pending = 0
}

func (b *bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending > 0 {
		_ = b.b.Add(b.pending)
		b.pending = 0
	}
	_ = b.b.Finish()
}

type nop struct{}

func (nop) Add(int) {}
func (nop) Finish() {}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewBytes starts a bar counting bytes toward total (-1 when unknown), drawn
// with byte units; start is what was already done (a resumed download).
func NewBytes(o Options, total, start int64, what string) Bar {
	out := o.Out
	if out == nil {
		out = os.Stderr
	}
	if o.Quiet || (!o.Force && !isTerminal(out)) {
		return nop{}
	}
	b := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)
	if start > 0 {
		_ = b.Set64(start)
	}
	return newBar(b)
}
