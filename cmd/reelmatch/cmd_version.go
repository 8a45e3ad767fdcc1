package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newVersionCommand) }

// version is set by the linker (-X main.version=...); otherwise the module's
// build info is used.
var version = ""

func newVersionCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the reelmatch version",
		Long: `version prints the version of this binary: the one set when it was
released, else the module version Go recorded when it was built: a
pseudo-version such as v0.0.0-20261206230143-37e512035bc4 (date and commit)
for a build from a git clone, (devel) when built without version control
information.

With --json, stdout is {"version":V}.` + exitCodesHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			if v == "" {
				if bi, ok := debug.ReadBuildInfo(); ok {
					v = bi.Main.Version
				}
			}
			if g.JSON {
				return g.printJSON(map[string]string{"version": v})
			}
			_, err := fmt.Fprintln(g.stdout, "reelmatch", v)
			return err
		},
	}
}
