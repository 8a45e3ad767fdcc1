package progress

import (
	"bytes"
	"strings"
	"testing"
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
			for range 10 {
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
	b.Add(10)
	got := buf.String()
	for _, want := range []string{"epoch 3/30", "(10/40, ", " batches/s)", "s:"} {
		if !strings.Contains(got, want) {
			t.Errorf("bar %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "epoch 3/30/s") {
		t.Errorf("bar %q counts the label, not the unit", got)
	}
}
