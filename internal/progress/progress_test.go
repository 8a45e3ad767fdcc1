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
