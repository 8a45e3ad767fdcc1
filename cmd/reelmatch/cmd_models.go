package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/encoder/pretrained"
	"github.com/reelmatch/reelmatch/internal/hub"
	"github.com/reelmatch/reelmatch/internal/inputfile"
)

func init() { commands = append(commands, newModelsCommand) }

// ModelsOptions are the flags of `reelmatch models list|pull`.
type ModelsOptions struct {
	// Dir is the models root (one folder per preset); empty means the
	// models cache.
	Dir string
	// Revision overrides the preset's hub revision (branch, tag or commit).
	Revision string
}

func newModelsCommand(g *globalOptions) *cobra.Command {
	opts := ModelsOptions{}
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List and download the pretrained encoders' model files",
		Long: `models lists the model presets the pretrained encoders are built from
and downloads them from the Hugging Face hub.

Files go to DIR/<preset>/<path in the repository>. DIR is --dir, else
$REELMATCH_MODELS, else $HF_HOME/reelmatch/models when HF_HOME is set, else
${XDG_CACHE_HOME:-~/.cache}/reelmatch/models. Pass the same folder to other
commands with --models.

Environment: HF_ENDPOINT (a hub mirror, default https://huggingface.co),
HF_TOKEN (sent as a Bearer token, for gated or private repositories).` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runModelsList(cmd.Context(), opts, g, args)
		},
	}
	cmd.PersistentFlags().StringVar(&opts.Dir, "dir", envOr("REELMATCH_MODELS", ""), "models root folder (default: the models cache)")

	list := &cobra.Command{
		Use:   "list [--dir D]",
		Short: "List presets, their repositories and files, and whether they are downloaded",
		Long: `list prints each preset (the encoders built from it, its hub repository,
its files with their sizes) and whether each file is in DIR.

With --json, stdout is {"dir": ..., "presets": [{"name", "repo", "revision",
"encoders", "dir", "complete", "files": [{"path", "size", "present"}]}]},
plus "quantization" (the folder's quantization.json) for a folder written
by models quantize;
size is the file's size on disk when present, else the size listed on the
hub when the preset was chosen (0 when unknown).` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runModelsList(cmd.Context(), opts, g, args)
		},
	}
	pull := &cobra.Command{
		Use:   "pull NAME [--dir D] [--revision R]",
		Short: "Download a preset's files (NAME is a preset or an encoder name)",
		Long: `pull downloads every file of a preset from the Hugging Face hub into
DIR/<preset>. NAME may be a preset (resnet50, distilbert, clip-vit-b32) or
an encoder (resnet50-distilbert pulls resnet50 and distilbert).

Files whose size already matches are skipped. An interrupted download
leaves <file>.partial, and the next pull resumes it. Sizes and, for LFS
files, the SHA-256 the hub publishes are checked before the file is moved
into place; a mismatch deletes the partial file and fails.

With --json, stdout is {"files": [{"preset", "path", "size", "sha256",
"status"}]} with status "downloaded", "resumed" or "present".` + exitCodesHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("models pull takes one preset or encoder name, got %d arguments", len(args))
			}
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runModelsPull(cmd.Context(), opts, g, args)
		},
	}
	pull.Flags().StringVar(&opts.Revision, "revision", "", "hub revision to download (default: the preset's)")
	cmd.AddCommand(list, pull, newModelsQuantizeCommand(g, &opts))
	return cmd
}

// modelsRoot is --dir or the models cache.
func modelsRoot(opts ModelsOptions) (string, error) {
	if opts.Dir != "" {
		return opts.Dir, nil
	}
	return hub.CacheRoot()
}

type modelFileJSON struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	Present bool   `json:"present"`
}

type modelPresetJSON struct {
	Name     string          `json:"name"`
	Repo     string          `json:"repo"`
	Revision string          `json:"revision"`
	Encoders []string        `json:"encoders"`
	Dir      string          `json:"dir"`
	Complete bool            `json:"complete"`
	Files    []modelFileJSON `json:"files"`
}

// presetEncoders lists the encoders built from a preset.
func presetEncoders(preset string) []string {
	var out []string
	for _, enc := range []string{pretrained.NameResNetDistilBERT, pretrained.NameCLIP} {
		ps, _ := pretrained.ResolvePresets(enc)
		for _, p := range ps {
			if p.Name == preset {
				out = append(out, enc)
			}
		}
	}
	return out
}

func runModelsList(_ context.Context, opts ModelsOptions, g *globalOptions, _ []string) error {
	root, err := modelsRoot(opts)
	if err != nil {
		return err
	}
	var out []modelPresetJSON
	for _, p := range pretrained.Presets() {
		dir := filepath.Join(root, p.Name)
		pj := modelPresetJSON{Name: p.Name, Repo: p.Repo, Revision: p.Revision, Encoders: presetEncoders(p.Name), Dir: dir, Complete: true}
		for _, f := range p.Files {
			fj := modelFileJSON{Path: f.Path, Size: f.ApproxSize}
			if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Path))); err == nil && fi.Mode().IsRegular() {
				fj.Present, fj.Size = true, fi.Size()
			} else {
				pj.Complete = false
			}
			pj.Files = append(pj.Files, fj)
		}
		out = append(out, pj)
	}
	quant := readQuantizeManifest(root)
	if g.JSON {
		doc := map[string]any{"dir": root, "presets": out}
		if quant != nil {
			doc["quantization"] = quant
		}
		return g.printJSON(doc)
	}
	fmt.Fprintf(g.stdout, "models folder: %s\n", root)
	if quant != nil {
		fmt.Fprintf(g.stdout, "an %s copy of %s made by `models quantize` (%s)\n", quant.Precision, quant.Encoder, pretrained.QuantizeManifestFile)
	}
	fmt.Fprintln(g.stdout)
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRESET\tENCODERS\tREPOSITORY\tFILE\tSIZE\tPRESENT")
	for i, p := range out {
		for j, f := range p.Files {
			name, encs, repo := "", "", ""
			if j == 0 {
				name, encs, repo = p.Name, strings.Join(p.Encoders, ","), p.Repo+"@"+p.Revision
			}
			present := "no"
			if f.Present {
				present = "yes"
			}
			size := "?"
			if f.Size > 0 {
				size = humanBytes(f.Size)
				if !f.Present {
					size = "~" + size
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, encs, repo, f.Path, size, present)
		}
		if g.Verbose > 0 {
			fmt.Fprintf(tw, "\t\t%s\t\t\t\n", pretrainedAbout(out[i].Name))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range out {
		if !p.Complete {
			fmt.Fprintf(g.stdout, "\nDownload a preset with `reelmatch models pull NAME`.\n")
			break
		}
	}
	return nil
}

// readQuantizeManifest returns the quantization.json of a models folder
// made by `models quantize`, or nil when there is none (or it is
// unreadable: list still lists the files).
func readQuantizeManifest(root string) *pretrained.QuantizeManifest {
	data, err := inputfile.ReadFile(context.Background(), filepath.Join(root, pretrained.QuantizeManifestFile), inputfile.Config)
	if err != nil {
		return nil
	}
	var m pretrained.QuantizeManifest
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	return &m
}

func pretrainedAbout(name string) string {
	p, _ := pretrained.LookupPreset(name)
	return p.About
}

func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

type pulledFileJSON struct {
	Preset string `json:"preset"`
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	Status string `json:"status"`
}

func runModelsPull(ctx context.Context, opts ModelsOptions, g *globalOptions, args []string) error {
	presets, err := pretrained.ResolvePresets(args[0])
	if err != nil {
		return usagef("%v", err)
	}
	root, err := modelsRoot(opts)
	if err != nil {
		return err
	}
	client := hub.NewClient()
	client.Progress = g.progress()
	var files []pulledFileJSON
	for _, p := range presets {
		rev := p.Revision
		if opts.Revision != "" {
			rev = opts.Revision
		}
		if g.Verbose > 0 {
			g.logf("models pull: %s from %s@%s (%s) into %s", p.Name, p.Repo, rev, client.Endpoint, filepath.Join(root, p.Name))
		}
		for _, f := range p.Files {
			dest := filepath.Join(root, p.Name, filepath.FromSlash(f.Path))
			res, err := client.Download(ctx, p.Repo, rev, f.Path, dest)
			if err != nil {
				return fmt.Errorf("pull %s: %w", p.Name, err)
			}
			status := "downloaded"
			switch {
			case res.Skipped:
				status = "present"
			case res.Resumed:
				status = "resumed"
			}
			g.logf("%s/%s: %s (%s)", p.Name, f.Path, status, humanBytes(res.Size))
			files = append(files, pulledFileJSON{Preset: p.Name, Path: f.Path, Size: res.Size, SHA256: res.SHA256, Status: status})
		}
	}
	if g.JSON {
		return g.printJSON(map[string]any{"files": files})
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRESET\tFILE\tSIZE\tSTATUS")
	for _, f := range files {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Preset, f.Path, humanBytes(f.Size), f.Status)
	}
	return tw.Flush()
}
