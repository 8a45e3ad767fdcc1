package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Help texts. cobra's default usage template lists flags with pflag's
// FlagUsages, which (pflag v1.1) shows every boolean flag as
// "--json[=true|false]" and turns a back-quoted word of the usage into the
// value's placeholder. Ours lists them as ripgrep, restic and git do:
// "-h, --help", "--json", "--work string" and the usage as written.

// usageTemplate is cobra's default template (v1.10) with flagUsages in
// place of FlagUsages.
const usageTemplate = `Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}{{$cmds := .Commands}}

Available Commands:{{range $cmds}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{flagUsages .LocalFlags | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{flagUsages .InheritedFlags | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`

func init() { cobra.AddTemplateFunc("flagUsages", flagUsages) }

// setUsage gives root (and so every command) the usage template above.
func setUsage(root *cobra.Command) { root.SetUsageTemplate(usageTemplate) }

// flagUsages lists the visible flags of f, one a line: the names, the
// value's type (none for a boolean or a count), then the usage and the
// default when it is not the zero value.
func flagUsages(f *pflag.FlagSet) string {
	type row struct{ names, usage string }
	var rows []row
	width := 0
	f.VisitAll(func(fl *pflag.Flag) {
		if fl.Hidden {
			return
		}
		names := "      --" + fl.Name
		if fl.Shorthand != "" && fl.ShorthandDeprecated == "" {
			names = "  -" + fl.Shorthand + ", --" + fl.Name
		}
		switch t := fl.Value.Type(); t {
		case "bool", "count":
		case "float64":
			names += " float"
		case "int64":
			names += " int"
		default:
			names += " " + t
		}
		usage := fl.Usage
		if d := fl.DefValue; !zeroDefault(d) {
			if fl.Value.Type() == "string" {
				d = fmt.Sprintf("%q", d)
			}
			usage += " (default " + d + ")"
		}
		if fl.Deprecated != "" {
			usage += " (deprecated: " + fl.Deprecated + ")"
		}
		rows = append(rows, row{names, usage})
		width = max(width, len(names))
	})
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s   %s\n", width, r.names, r.usage)
	}
	return b.String()
}

// zeroDefault reports whether a flag's default is not worth printing.
func zeroDefault(def string) bool {
	switch def {
	case "", "false", "0", "[]", "<nil>":
		return true
	}
	return false
}
