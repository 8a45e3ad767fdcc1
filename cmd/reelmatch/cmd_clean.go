package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/textprep"
)

func init() { commands = append(commands, newCleanCommand) }

// CleanOptions are the flags of `reelmatch clean`.
type CleanOptions struct {
	StopWords string
}

func newCleanCommand(g *globalOptions) *cobra.Command {
	opts := CleanOptions{}
	cmd := &cobra.Command{
		Use:   `clean "TEXT"`,
		Short: "Print an intro as the seed's preprocessing cleans it",
		Long: `clean runs the text preprocessing that prepare applies to every intro:
Unicode word segmentation, punctuation and whitespace dropped (hyphens,
apostrophes and periods split words: "self-destructing" gives "self
destructing", "couldn't" gives "couldn t"), lower case, English stop words
removed (NLTK's 179-word list, or --stopwords FILE, one word a line), then
WordNet noun lemmas as NLTK's WordNetLemmatizer gives them ("women" -> "woman",
"dies" -> "dy").

With --json, stdout is {"text": ..., "clean": ..., "tokens": [...]}.` + exitCodesHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef(`clean takes one argument, the text in quotes: reelmatch clean "TEXT" (got %d)`, len(args))
			}
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runClean(cmd.Context(), opts, g, args)
		},
	}
	cmd.Flags().StringVar(&opts.StopWords, "stopwords", "", "stop-word file, one word a line, replacing NLTK's English list")
	return cmd
}

func runClean(_ context.Context, opts CleanOptions, g *globalOptions, args []string) error {
	pipe, err := cleanPipeline(opts.StopWords)
	if err != nil {
		return err
	}
	text := args[0]
	tokens := pipe.Tokens(text)
	clean := pipe.Clean(text)
	if g.JSON {
		return g.printJSON(struct {
			Text   string   `json:"text"`
			Clean  string   `json:"clean"`
			Tokens []string `json:"tokens"`
		}{text, clean, tokens})
	}
	_, err = fmt.Fprintln(g.stdout, clean)
	return err
}

// cleanPipeline is textprep.Default(), or the same chain with the stop
// words read from path.
func cleanPipeline(path string) (*textprep.Pipeline, error) {
	if path == "" {
		return textprep.Default(), nil
	}
	f, err := inputfile.Open(path, inputfile.Table)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usagef("--stopwords %s: file not found", path)
	}
	if err != nil {
		return nil, usagef("--stopwords: %v", err) // err names the file
	}
	defer f.Close()
	sw, err := textprep.ParseStopWords(f, path)
	if err != nil {
		return nil, err
	}
	return textprep.New(sw), nil
}
