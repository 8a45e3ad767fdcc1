// Command reelmatch learns to match movie posters with their plot intros and
// back. See README.md and docs/cli.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/progress"
)

// Exit codes, listed in every command's long help.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitPartialData = 3
	exitInterrupted = 130
)

const exitCodesHelp = `

Exit codes: 0 ok, 1 failure, 2 usage error, 3 partial data, 130 interrupted.`

// globalOptions are the flags every command shares.
type globalOptions struct {
	JSON    bool
	Quiet   bool
	Verbose int

	stdout io.Writer
	stderr io.Writer
}

// progress returns bar options honouring --quiet.
func (g *globalOptions) progress() progress.Options {
	return progress.Options{Quiet: g.Quiet, Out: g.stderr}
}

// printJSON writes v as the one JSON document on stdout.
func (g *globalOptions) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// logf prints a notice to stderr unless --quiet.
func (g *globalOptions) logf(format string, args ...any) {
	if !g.Quiet {
		fmt.Fprintf(g.stderr, format+"\n", args...)
	}
}

// usageError is a mistake in how the command was called (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// noArgs rejects positional arguments as a usage error (exit 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.Name(), strings.Join(args, " "))
	}
	return nil
}

// partialDataError means the command finished but left some input out
// (exit 3).
type partialDataError struct{ msg string }

func (e partialDataError) Error() string { return e.msg }

// commands holds the constructors of every subcommand; each cmd_<verb>.go
// adds its own in init so that files do not collide.
var commands []func(g *globalOptions) *cobra.Command

func newRootCommand(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "reelmatch",
		Short: "Learn to match movie posters with their plot intros, and back",
		Long: `reelmatch aligns movie posters and plot intros in one embedding space
(frozen encoders plus projection heads: regularised CCA by default, or
the seed's MLP heads with a CLIP-style loss), measures the alignment on
held-out movies and lets you browse it.` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	setUsage(root)
	pf := root.PersistentFlags()
	pf.BoolVar(&g.JSON, "json", false, "print results as one JSON document")
	envDefault(pf.Lookup("json"), "REELMATCH_JSON")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "no progress bars or notices")
	envDefault(pf.Lookup("quiet"), "REELMATCH_QUIET")
	pf.CountVarP(&g.Verbose, "verbose", "v", "print more (repeatable)")
	for _, c := range commands {
		root.AddCommand(c(g))
	}
	// Every command checks its environment defaults before it runs (a
	// subcommand that sets its own PersistentPreRunE must call
	// checkEnvDefaults too).
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return checkEnvDefaults(cmd) }
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	return root
}

// envOr returns the environment variable's value, or def when unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code; tests call it.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan struct{})
	defer close(done)
	go exitIfStuck(ctx, done, stderr)
	g := &globalOptions{stdout: stdout, stderr: stderr}
	root := newRootCommand(g)
	root.SetArgs(args)
	err := applyLimits()
	if err == nil {
		err = root.ExecuteContext(ctx)
	}
	if err == nil {
		return exitOK
	}
	code := exitFailure
	var ue usageError
	var pe partialDataError
	switch {
	case errors.As(err, &ue):
		code = exitUsage
	case errors.As(err, &pe):
		code = exitPartialData
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		code = exitInterrupted
		err = errors.New("interrupted")
	}
	if g.JSON {
		b, _ := json.Marshal(map[string]string{"error": err.Error()})
		fmt.Fprintln(stderr, string(b))
	} else {
		fmt.Fprintln(stderr, "reelmatch: "+err.Error())
	}
	return code
}

// interruptGrace is how long a command has to stop after Ctrl-C or
// SIGTERM (serve's shutdown takes up to server.ShutdownGrace).
const interruptGrace = 10 * time.Second

// exitIfStuck ends the process with exit code 130 when, after a first
// Ctrl-C or SIGTERM, the command has not returned within interruptGrace or
// a second signal arrives: no read or computation that misses its context
// can keep reelmatch running. done closes when run returns.
func exitIfStuck(ctx context.Context, done <-chan struct{}, stderr io.Writer) {
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	timer := time.NewTimer(interruptGrace)
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-again:
	case <-timer.C:
	}
	fmt.Fprintln(stderr, "reelmatch: interrupted")
	os.Exit(exitInterrupted)
}
