package main

import (
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reelmatch/reelmatch/internal/dataset"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// Hostile input files (issue 10 items 1-3): FIFOs, devices, folders, huge
// and sparse files, decompression bombs, truncated images and odd shapes,
// given to every command that reads them.

// posterPNG is a PNG of w×h varied pixels (varied, so the encoders see a
// picture and the file is not tiny).
func posterPNG(t testing.TB, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x * 3), uint8(y * 5), uint8(x ^ y), 255})
		}
	}
	return reeltest.PNG(t, img)
}

// queryCases are the inputs a query image (search/encode --image) must
// refuse, each with the line that says why.
var queryCases = []struct {
	name   string
	setup  func(t *testing.T, dir string) // makes $DIR/q.png
	stderr string
}{
	{"dev zero", func(t *testing.T, dir string) { symlink(t, dir, "q.png", "/dev/zero") }, "q.png: is a character device, not a regular file"},
	{"fifo", func(t *testing.T, dir string) { mkfifo(t, dir, "q.png") }, "q.png: is a named pipe (FIFO), not a regular file"},
	{"folder", func(t *testing.T, dir string) {
		if err := os.Mkdir(filepath.Join(dir, "q.png"), 0o755); err != nil {
			t.Fatal(err)
		}
	}, "q.png: is a folder, not a regular file"},
	{"sparse 1 TiB", func(t *testing.T, dir string) { sparseFile(t, dir, "q.png", 1<<40) }, "q.png: is 1 TiB, over the 50 MiB limit for image files (REELMATCH_MAX_IMAGE_BYTES raises it)"},
	{"png bomb 6300x6300", func(t *testing.T, dir string) {
		reeltest.WriteFile(t, filepath.Join(dir, "q.png"), reeltest.PNGBomb(t, 6300, 6300))
	}, "image over the pixel budget: the png is 6300x6300, 39.7 megapixels; the budget is 16.8 megapixels"},
	{"jpeg bomb 65535x65535", func(t *testing.T, dir string) {
		reeltest.WriteFile(t, filepath.Join(dir, "q.png"), reeltest.JPEGHeader(65535, 65535))
	}, "the jpeg is 65535x65535"},
	{"truncated png", func(t *testing.T, dir string) {
		b := posterPNG(t, 60, 90)
		reeltest.WriteFile(t, filepath.Join(dir, "q.png"), b[:len(b)/2])
	}, "png: invalid format"},
	{"text file", func(t *testing.T, dir string) {
		reeltest.WriteFile(t, filepath.Join(dir, "q.png"), []byte("id,name,intro\n"))
	}, "unknown image format"},
	{"100000:1 strip", func(t *testing.T, dir string) {
		reeltest.WriteFile(t, filepath.Join(dir, "q.png"), reeltest.PNGBomb(t, 100000, 1))
	}, "extreme aspect ratio: the png is 100000x1, more than 1000:1"},
}

func TestHostileQueryImage(t *testing.T) {
	var cases []hostileCase
	for _, q := range queryCases {
		setup := func(t *testing.T, dir string) { hostileWork(t, dir); q.setup(t, dir) }
		cases = append(cases, hostileCase{
			Name: "search --image " + q.name, Setup: setup,
			Args: []string{"search", "--work", "$DIR/work", "--image", "$DIR/q.png"},
			Exit: exitFailure, Stderr: []string{q.stderr},
			MaxRSS: 400 << 20,
		}, hostileCase{
			Name: "encode --image " + q.name, Setup: setup,
			Args: []string{"encode", "--encoder", "builtin", "--work", "$DIR/work", "--image", "$DIR/q.png"},
			Exit: exitFailure, Stderr: []string{q.stderr},
			MaxRSS: 400 << 20,
		})
	}
	// Shapes the rule accepts are searched like any poster.
	for _, size := range []image.Point{{2000, 10}, {10, 2000}, {1, 1}} {
		cases = append(cases, hostileCase{
			Name: "search --image " + strings.ReplaceAll(image.Rectangle{Max: size}.Size().String(), ",", "x"),
			Setup: func(t *testing.T, dir string) {
				hostileWork(t, dir)
				reeltest.WriteFile(t, filepath.Join(dir, "q.png"), posterPNG(t, size.X, size.Y))
			},
			Args:   []string{"search", "--work", "$DIR/work", "--image", "$DIR/q.png", "-k", "3"},
			Exit:   exitOK,
			Stdout: []string{"nearest intros to image $DIR/q.png", " 3. "},
		})
	}
	runHostileCases(t, cases)
}

func TestHostileWhitespaceQuery(t *testing.T) {
	runHostileCases(t, []hostileCase{{
		Name:  "search --text of spaces",
		Setup: hostileWork,
		Args:  []string{"search", "--work", "$DIR/work", "--text", " \t  "},
		Exit:  exitUsage, Stderr: []string{"--text is only whitespace"},
	}, {
		Name:  "encode --text of spaces",
		Setup: hostileWork,
		Args:  []string{"encode", "--encoder", "builtin", "--work", "$DIR/work", "--text", "   "},
		Exit:  exitUsage, Stderr: []string{"--text is only whitespace"},
	}})
}

// TestHostileDataset gives prepare and run a data folder whose files are
// not what they claim: whole-input problems stop with one line and write
// nothing; broken posters are dropped with their reason.
func TestHostileDataset(t *testing.T) {
	data := func(t *testing.T, dir string) { hostileData(t, dir, 12) }
	prepareArgs := []string{"prepare", "--data", "$DIR/data", "--work", "$DIR/work"}
	cases := []hostileCase{{
		Name: "info.csv is a FIFO",
		Setup: func(t *testing.T, dir string) {
			data(t, dir)
			os.Remove(filepath.Join(dir, "data", "info.csv"))
			mkfifo(t, dir, "data/info.csv")
		},
		Args: prepareArgs, Exit: exitFailure,
		Stderr: []string{"info.csv: is a named pipe (FIFO), not a regular file"},
	}, {
		Name:  "info.csv links to /dev/zero",
		Setup: func(t *testing.T, dir string) { data(t, dir); symlink(t, dir, "data/info.csv", "/dev/zero") },
		Args:  prepareArgs, Exit: exitFailure,
		Stderr: []string{"info.csv: is a character device, not a regular file"},
	}, {
		Name:  "train.txt is a sparse 1 TiB file",
		Setup: func(t *testing.T, dir string) { data(t, dir); sparseFile(t, dir, "data/train.txt", 1<<40) },
		Args:  prepareArgs, Exit: exitFailure,
		Stderr: []string{"train.txt: is 1 TiB, over the 256 MiB limit for table files (REELMATCH_MAX_TABLE_BYTES raises it)"},
	}, {
		Name:  "train.txt over a lowered cap",
		Setup: data,
		Args:  prepareArgs, Env: []string{"REELMATCH_MAX_TABLE_BYTES=20"}, Exit: exitFailure,
		Stderr: []string{"info.csv: is ", "over the 20 B limit for table files"},
	}, {
		Name: "--stopwords is a FIFO",
		Setup: func(t *testing.T, dir string) {
			data(t, dir)
			mkfifo(t, dir, "stop.txt")
		},
		Args: append(prepareArgs, "--stopwords", "$DIR/stop.txt"), Exit: exitUsage,
		Stderr: []string{"--stopwords: $DIR/stop.txt: is a named pipe (FIFO)"},
	}, {
		Name: "hostile posters are dropped with their reasons",
		Setup: func(t *testing.T, dir string) {
			data(t, dir)
			p := func(id string) string { return "data/poster/" + id + ".jpg" }
			os.Remove(filepath.Join(dir, p("1")))
			mkfifo(t, dir, p("1"))
			symlink(t, dir, p("2"), "/dev/zero")
			symlink(t, dir, p("3"), filepath.Join(dir, "data"))
			sparseFile(t, dir, p("4"), 1<<40)
			reeltest.WriteFile(t, filepath.Join(dir, p("5")), reeltest.PNGBomb(t, 6300, 6300))
			reeltest.WriteFile(t, filepath.Join(dir, p("6")), reeltest.PNGHeader(30000, 30000))
			reeltest.WriteFile(t, filepath.Join(dir, p("7")), reeltest.PNGBomb(t, 20000, 2))
			b := reeltest.ReadFile(t, filepath.Join(dir, p("8")))
			reeltest.WriteFile(t, filepath.Join(dir, p("8")), b[:len(b)/3])
			reeltest.WriteFile(t, filepath.Join(dir, p("9")), posterPNG(t, 2000, 10))
			reeltest.WriteFile(t, filepath.Join(dir, p("10")), posterPNG(t, 10, 2000))
		},
		Args: append(prepareArgs, "--json"), Exit: exitPartialData, Unchanged: []string{"data"},
		Stdout: []string{`"movies": 4`, `"not_regular_file": [
      "1",
      "2",
      "3"
    ]`, `"too_large": [
      "4",
      "5",
      "6"
    ]`, `"extreme_aspect_ratio": [
      "7"
    ]`, `"undecodable_poster": [
      "8"
    ]`},
		Stderr: []string{"1.jpg: is a named pipe (FIFO)", "2.jpg: is a character device", "3.jpg: is a folder",
			"4.jpg: is 1 TiB", "5.jpg: image over the pixel budget", "6.jpg: image over the pixel budget: the png is 30000x30000",
			"7.jpg: extreme aspect ratio", "dropped movie 8 (undecodable_poster)"},
	}}
	runHostileCases(t, cases)
}

// TestHostileRunOddPosters: run on a folder with odd posters finishes (exit
// 3, the broken ones dropped) and embeds the odd shapes the rule accepts.
func TestHostileRunOddPosters(t *testing.T) {
	runHostileCases(t, []hostileCase{{
		Name: "run with odd posters",
		Setup: func(t *testing.T, dir string) {
			hostileData(t, dir, 40)
			p := func(id string) string { return filepath.Join(dir, "data", "poster", id+".jpg") }
			reeltest.WriteFile(t, p("1"), posterPNG(t, 2000, 10))
			reeltest.WriteFile(t, p("2"), posterPNG(t, 10, 2000))
			reeltest.WriteFile(t, p("3"), posterPNG(t, 1, 1))
			reeltest.WriteFile(t, p("4"), reeltest.PNGHeader(30000, 30000))
			os.Remove(p("5"))
			mkfifo(t, dir, "data/poster/5.jpg")
			symlink(t, dir, "data/poster/6.jpg", "/dev/zero")
		},
		Args:      []string{"run", "-q", "--data", "$DIR/data", "--work", "$DIR/work", "--encoder", "builtin", "--epochs", "2"},
		Exit:      exitPartialData,
		Unchanged: []string{"data"},
		Timeout:   60 * time.Second,
		Stderr:    []string{"4.jpg: image over the pixel budget", "5.jpg: is a named pipe", "6.jpg: is a character device"},
		Check: func(t *testing.T, dir string, r hostileResult) {
			man, err := dataset.Load(filepath.Join(dir, "work", "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"1", "2", "3"} {
				if _, ok := man.ByID(reel.MovieID(id)); !ok {
					t.Errorf("odd but valid poster %s was not kept", id)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "work", "runs", "builtin")); err != nil {
				t.Errorf("run did not train: %v", err)
			}
		},
	}})
}

// TestHostileInterrupt: Ctrl-C in the middle of a long prepare ends it with
// exit 130 within seconds, and writes no manifest.
func TestHostileInterrupt(t *testing.T) {
	runHostileCases(t, []hostileCase{{
		Name: "prepare of 16-megapixel posters, interrupted",
		Setup: func(t *testing.T, dir string) {
			// 1,200 posters at the pixel budget: each decodes in
			// milliseconds, all of them take seconds even on an idle
			// machine, so the Ctrl-C lands mid-way in any build.
			const n = 1200
			hostileData(t, dir, n)
			big := reeltest.PNGBomb(t, 4096, 4096)
			for i := 1; i <= n; i++ {
				reeltest.WriteFile(t, filepath.Join(dir, "data", "poster", strconv.Itoa(i)+".jpg"), big)
			}
		},
		Args:           []string{"prepare", "--data", "$DIR/data", "--work", "$DIR/work"},
		InterruptAfter: 1500 * time.Millisecond,
		Exit:           exitInterrupted,
		Stderr:         []string{"reelmatch: interrupted"},
		Timeout:        15 * time.Second,
		Check: func(t *testing.T, dir string, r hostileResult) {
			if r.Elapsed > 8*time.Second {
				t.Errorf("took %s to stop after Ctrl-C", r.Elapsed)
			}
		},
	}})
}

func TestHostileLimitEnv(t *testing.T) {
	var cases []hostileCase
	for _, env := range []struct{ kv, msg string }{
		{"REELMATCH_MAX_IMAGE_BYTES=abc", `REELMATCH_MAX_IMAGE_BYTES: "abc" is not a size`},
		{"REELMATCH_MAX_IMAGE_BYTES=1.5GiB", "unknown unit"},
		{"REELMATCH_MAX_MODEL_BYTES=0", "the model file cap must be at least 1 byte"},
		{"REELMATCH_MAX_IMAGE_PIXELS=-1", "REELMATCH_MAX_IMAGE_PIXELS: the pixel budget must be between 1 and"},
		{"REELMATCH_MAX_IMAGE_PIXELS=NaN", `REELMATCH_MAX_IMAGE_PIXELS="NaN": want a whole number of pixels`},
		{"REELMATCH_MAX_IMAGE_PIXELS=99999999999", "between 1 and 268435456"},
		{"REELMATCH_DECODE_MEMORY=1KiB", "REELMATCH_DECODE_MEMORY: the decode memory budget must be at least 16 MiB"},
	} {
		cases = append(cases, hostileCase{
			Name: env.kv, Setup: hostileWork, Env: []string{env.kv},
			Args: []string{"search", "--work", "$DIR/work", "--text", "a detective"},
			Exit: exitUsage, Stderr: []string{env.msg},
		})
	}
	cases = append(cases, hostileCase{
		Name: "a lowered pixel budget applies",
		Setup: func(t *testing.T, dir string) {
			hostileWork(t, dir)
			reeltest.WriteFile(t, filepath.Join(dir, "q.png"), posterPNG(t, 100, 150))
		},
		Env:  []string{"REELMATCH_MAX_IMAGE_PIXELS=10000"},
		Args: []string{"search", "--work", "$DIR/work", "--image", "$DIR/q.png"},
		Exit: exitFailure, Stderr: []string{"the png is 100x150, 0.015 megapixels; the budget is 0.010 megapixels"},
	})
	runHostileCases(t, cases)
}

// TestHostileModelFiles: model, tokenizer and config files that are not
// regular files are refused with their name, by both runtimes, before
// anything reads them (ONNX Runtime opens models by path itself).
func TestHostileModelFiles(t *testing.T) {
	models := func(replace string, with func(t *testing.T, dir, name string)) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := reeltest.LinkModels(filepath.Join(dir, "models")); err != nil {
				t.Fatal(err)
			}
			name := filepath.Join("models", filepath.FromSlash(replace))
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			with(t, dir, name)
			reeltest.WriteFile(t, filepath.Join(dir, "q.png"), posterPNG(t, 60, 90))
		}
	}
	fifo := func(t *testing.T, dir, name string) { mkfifo(t, dir, name) }
	zero := func(t *testing.T, dir, name string) { symlink(t, dir, name, "/dev/zero") }
	var cases []hostileCase
	for _, backend := range []string{"ort", "go"} {
		cases = append(cases, hostileCase{
			Name:  "image model is a FIFO, " + backend,
			Setup: models("resnet50/onnx/model.onnx", fifo),
			Args:  []string{"encode", "--encoder", "resnet50-distilbert", "--models", "$DIR/models", "--backend", backend, "--image", "$DIR/q.png"},
			Exit:  exitFailure, Stderr: []string{"model.onnx: is a named pipe (FIFO), not a regular file: pass the path of an ONNX file"},
		}, hostileCase{
			Name:  "text model links to /dev/zero, " + backend,
			Setup: models("distilbert/model.onnx", zero),
			Args:  []string{"encode", "--encoder", "resnet50-distilbert", "--models", "$DIR/models", "--backend", backend, "--text", "a heist"},
			Exit:  exitFailure, Stderr: []string{"model.onnx: is a character device"},
		})
	}
	cases = append(cases, hostileCase{
		Name:  "tokenizer.json links to /dev/zero",
		Setup: models("distilbert/tokenizer.json", zero),
		Args:  []string{"encode", "--encoder", "resnet50-distilbert", "--models", "$DIR/models", "--text", "a heist"},
		Exit:  exitFailure, Stderr: []string{"tokenizer.json: is a character device"},
	}, hostileCase{
		Name:  "tokenizer_config.json is a FIFO",
		Setup: models("distilbert/tokenizer_config.json", fifo),
		Args:  []string{"encode", "--encoder", "resnet50-distilbert", "--models", "$DIR/models", "--text", "a heist"},
		Exit:  exitFailure, Stderr: []string{"tokenizer_config.json: is a named pipe"},
	}, hostileCase{
		Name: "huge sparse tokenizer.json",
		Setup: models("distilbert/tokenizer.json", func(t *testing.T, dir, name string) {
			sparseFile(t, dir, name, 1<<40)
		}),
		Args: []string{"encode", "--encoder", "resnet50-distilbert", "--models", "$DIR/models", "--text", "a heist"},
		Exit: exitFailure, Stderr: []string{"tokenizer.json: is 1 TiB, over the 64 MiB limit for config files"},
	})
	runHostileCases(t, cases)
}

// TestHostileWorkFiles: files of WORK replaced by a FIFO or a link to
// /dev/zero (a hostile or damaged WORK) stop search, serve, eval and
// report with the file's name instead of blocking or reading forever.
func TestHostileWorkFiles(t *testing.T) {
	type swap struct {
		file string
		with string // "fifo" or "zero"
	}
	var cases []hostileCase
	for _, sw := range []swap{
		{"work/manifest.json", "fifo"},
		{"work/features/builtin.safetensors", "fifo"},
		{"work/features/builtin.safetensors", "zero"},
		{"work/features/builtin.state", "fifo"},
		{"work/runs/builtin/heads.safetensors", "fifo"},
		{"work/runs/builtin/config.json", "zero"},
	} {
		setup := func(t *testing.T, dir string) {
			hostileWork(t, dir)
			if err := os.Remove(filepath.Join(dir, sw.file)); err != nil {
				t.Fatal(err)
			}
			if sw.with == "fifo" {
				mkfifo(t, dir, sw.file)
			} else {
				symlink(t, dir, sw.file, "/dev/zero")
			}
		}
		want := filepath.Base(sw.file) + ": is a named pipe (FIFO), not a regular file"
		if sw.with == "zero" {
			want = filepath.Base(sw.file) + ": is a character device, not a regular file"
		}
		for _, args := range [][]string{
			{"search", "--work", "$DIR/work", "--text", "a heist"},
			{"serve", "--work", "$DIR/work", "--addr", "127.0.0.1:0"},
			{"eval", "--work", "$DIR/work"},
		} {
			if sw.file == "work/features/builtin.state" && args[0] == "eval" {
				continue // eval reads no encoder
			}
			c := hostileCase{
				Name: args[0] + " with " + sw.file + " as " + sw.with, Setup: setup, Args: args,
				Exit: exitFailure, Stderr: []string{want},
			}
			if sw.file == "work/features/builtin.state" && args[0] == "serve" {
				// Browsing needs no encoder: serve says why search is off,
				// serves, and stops on Ctrl-C.
				c.Exit, c.InterruptWhen = exitOK, "Ctrl-C to stop"
				c.Stderr = []string{"warning: text and image search disabled: open encoder builtin: read encoder state: ", want}
			}
			cases = append(cases, c)
		}
	}
	runHostileCases(t, cases)
}
