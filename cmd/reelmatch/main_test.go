package main

import (
	"bytes"
	"strings"
	"testing"
)

// runCLI runs one command line in-process and returns stdout, stderr and the
// exit code.
func runCLI(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestUnknownFlagIsUsageError(t *testing.T) {
	_, stderr, code := runCLI(t, "version", "--no-such-flag")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr %q", code, exitUsage, stderr)
	}
	if !strings.Contains(stderr, "no-such-flag") {
		t.Errorf("stderr %q does not name the flag", stderr)
	}
}

func TestVersionJSON(t *testing.T) {
	stdout, _, code := runCLI(t, "--json", "version")
	if code != 0 || !strings.Contains(stdout, `"version"`) {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
}

// TestExtraArgumentIsUsageError passes a stray argument to commands that
// take none: noArgs makes it exit 2 and name the command.
func TestExtraArgumentIsUsageError(t *testing.T) {
	for _, verb := range []string{"version", "eval", "embed"} {
		t.Run(verb, func(t *testing.T) {
			_, stderr, code := runCLI(t, verb, "extra")
			if code != exitUsage || !strings.Contains(stderr, verb+" takes no arguments") {
				t.Errorf("exit %d, stderr %q; want exit %d naming %s", code, stderr, exitUsage, verb)
			}
		})
	}
}
