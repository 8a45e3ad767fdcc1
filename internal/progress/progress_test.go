package progress

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     Options
		wantDraw bool
	}{
		{"quiet", Options{Quiet: true, Force: true}, false},
		{"not a terminal", Options{}, false},
		{"forced", Options{Force: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.opts.Out = &buf
			b := New(tc.opts, 10, "posters")
			for i := range 10 {
				if i == 5 {
					time.Sleep(settle) // a bar draws once its first rate means something
				}
				b.Add(1)
			}
			b.Finish()
			if drew := buf.Len() > 0; drew != tc.wantDraw {
				t.Fatalf("drew %v (%q), want %v", drew, buf.String(), tc.wantDraw)
			}
			if tc.wantDraw && !strings.Contains(buf.String(), "posters") {
				t.Errorf("bar output %q does not name the work", buf.String())
			}
		})
	}
}

// TestNewLabeled checks a bar names what it does and counts its unit, with
// a rate and the time left.
func TestNewLabeled(t *testing.T) {
	var buf bytes.Buffer
	b := NewLabeled(Options{Out: &buf, Force: true}, 40, "epoch 3/30", "batches")
	b.Add(5)
	if got := buf.String(); !strings.Contains(got, "epoch 3/30") || !strings.Contains(got, "(0/40, ") || strings.Contains(got, "(5/40") {
		t.Errorf("drew %q within the first %s: want the label at 0 (a rate over microseconds means nothing)", got, settle)
	}
	time.Sleep(settle + 50*time.Millisecond)
	b.Add(5)
	got := buf.String()
	for _, want := range []string{"epoch 3/30", "(10/40, ", " batches/s)", "s:"} {
		if !strings.Contains(got, want) {
			t.Errorf("bar %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "epoch 3/30/s") {
		t.Errorf("bar %q counts the label, not the unit", got)
	}
	// 10 batches in a little over settle: a rate of a few tens a second,
	// not the millions a first reading after microseconds gives.
	var rate float64
	if i := strings.Index(got, "(10/40, "); i >= 0 {
		fmt.Sscanf(got[i+len("(10/40, "):], "%g", &rate)
	}
	if rate <= 0 || rate > 100 {
		t.Errorf("bar %q shows a rate of %g batches/s, want 0-100", got, rate)
	}
}
