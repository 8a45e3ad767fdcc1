package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/reelmatch/reelmatch/internal/embed"
)

// TestEmbedTextDim embeds the builtin encoder's intros at another LSA size:
// only the intros are recomputed, and bad values are usage errors.
func TestEmbedTextDim(t *testing.T) {
	work := copyWork(t, synthWork(t, synthTestMovies))
	stdout, stderr, code := runCLI(t, "--json", "-q", "embed", "--work", string(work), "--encoder", "builtin", "--text-dim", "16")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var sum embed.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.TextDim != 16 || sum.TextsComputed != synthTestMovies || sum.ImagesComputed != 0 {
		t.Errorf("summary %+v: want 16-d intros, all intros and no poster recomputed", sum)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--text-dim", "4"}, "--text-dim must be in [8, 256]"},
		{[]string{"--text-dim", "300"}, "--text-dim"},
		{[]string{"--text-dim", "64", "--encoder", "clip-vit-b32"}, "builtin encoder only"},
	} {
		_, stderr, code := runCLI(t, append([]string{"embed", "--work", string(work)}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
}
