package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCleanCLI(t *testing.T) {
	stdout, stderr, code := runCLI(t, "clean", "Two brothers couldn't stop the self-destructing policemen!")
	if code != exitOK {
		t.Fatalf("exit %d stderr %q", code, stderr)
	}
	if want := "two brother stop self destructing policeman\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
}

func TestCleanCLIJSON(t *testing.T) {
	stdout, _, code := runCLI(t, "clean", "--json", "The women's glasses.")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var got struct {
		Text   string   `json:"text"`
		Clean  string   `json:"clean"`
		Tokens []string `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	want := struct {
		Text   string   `json:"text"`
		Clean  string   `json:"clean"`
		Tokens []string `json:"tokens"`
	}{"The women's glasses.", "woman glass", []string{"woman", "glass"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	stdout, _, _ = runCLI(t, "clean", "--json", "the")
	if !strings.Contains(stdout, `"tokens": []`) {
		t.Errorf("empty result should print tokens as [], got %s", stdout)
	}
}

func TestCleanCLIStopWords(t *testing.T) {
	sw := filepath.Join(t.TempDir(), "stop.txt")
	os.WriteFile(sw, []byte("# custom\nbrothers\n"), 0o644)
	stdout, _, code := runCLI(t, "clean", "--stopwords", sw, "The brothers")
	if code != exitOK || stdout != "the\n" {
		t.Errorf("exit %d stdout %q", code, stdout)
	}
	_, stderr, code := runCLI(t, "clean", "--stopwords", filepath.Join(t.TempDir(), "none.txt"), "x")
	if code != exitUsage || !strings.Contains(stderr, "none.txt: file not found") {
		t.Errorf("missing file: exit %d stderr %q", code, stderr)
	}
}

func TestCleanCLIUsage(t *testing.T) {
	for _, args := range [][]string{{"clean"}, {"clean", "a", "b"}} {
		if _, stderr, code := runCLI(t, args...); code != exitUsage || !strings.Contains(stderr, `reelmatch clean "TEXT"`) {
			t.Errorf("%q: exit %d stderr %q", args, code, stderr)
		}
	}
}
