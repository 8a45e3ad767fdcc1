package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestHelpReadsCleanly renders every command's --help: flags are listed as
// "-h, --help" and "--json" (no "[=true|false]"), and nothing shows a
// literal back quote.
func TestHelpReadsCleanly(t *testing.T) {
	var walk func(c *cobra.Command) []string
	walk = func(c *cobra.Command) []string {
		out := []string{c.CommandPath()}
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() {
				out = append(out, walk(s)...)
			}
		}
		return out
	}
	var b bytes.Buffer
	paths := walk(newRootCommand(&globalOptions{stdout: &b, stderr: &b}))
	if len(paths) < 14 {
		t.Fatalf("found only %d commands: %v", len(paths), paths)
	}
	for _, path := range paths {
		args := append(strings.Fields(path)[1:], "--help")
		t.Run(strings.Join(args[:len(args)-1], " "), func(t *testing.T) {
			stdout, stderr, code := runCLI(t, args...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			for _, bad := range []string{"[=true|false]", "`"} {
				if strings.Contains(stdout, bad) {
					t.Errorf("help shows %q:\n%s", bad, stdout)
				}
			}
			for _, want := range []string{"\n  -h, --help   ", "\n      --json   ", "\n  -v, --verbose   ", "Exit codes: 0 ok"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("help lacks %q:\n%s", want, stdout)
				}
			}
		})
	}
}

func TestFlagUsages(t *testing.T) {
	f := pflag.NewFlagSet("x", pflag.ContinueOnError)
	f.BoolP("help", "h", false, "help for x")
	f.Bool("on", true, "on by default")
	f.String("work", "work", "WORK folder")
	f.String("models", "", "models `folder` as written")
	f.Int("k", 0, "results")
	f.Float64("lr", 0.001, "learning rate")
	f.CountP("verbose", "v", "print more (repeatable)")
	f.String("old", "", "gone")
	f.Lookup("old").Hidden = true
	want := `  -h, --help            help for x
      --k int           results
      --lr float        learning rate (default 0.001)
      --models string   models ` + "`folder`" + ` as written
      --on              on by default (default true)
  -v, --verbose         print more (repeatable)
      --work string     WORK folder (default "work")
`
	if diff := cmp.Diff(want, flagUsages(f)); diff != "" {
		t.Errorf("flagUsages (-want +got):\n%s", diff)
	}
}
