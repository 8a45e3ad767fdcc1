package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/evalrun"
	"github.com/reelmatch/reelmatch/internal/imageprep"
	"github.com/reelmatch/reelmatch/internal/reel"
	"github.com/reelmatch/reelmatch/internal/server"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

func init() { commands = append(commands, newServeCommand) }

// defaultServeAddr binds loopback only: the server has no authentication.
const defaultServeAddr = "127.0.0.1:8080"

// shutdownGrace is how long in-flight requests get to finish after Ctrl-C
// or SIGTERM before their connections are closed.
const shutdownGrace = 5 * time.Second

// ServeOptions are the flags of `reelmatch serve`.
type ServeOptions struct {
	Work string
	Run  string
	Addr string
	encoderOptions

	// onListen, when set, is called with the page's URL once the listener
	// is bound (tests pass --addr 127.0.0.1:0 and learn the port here).
	onListen func(url string)
}

func newServeCommand(g *globalOptions) *cobra.Command {
	opts := ServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve --work WORK [--run NAME | --encoder E] [--addr 127.0.0.1:8080]",
		Short: "Browse a trained run in the browser: neighbours, text and poster search",
		Long: `serve starts a web server over one trained run of WORK and prints its URL.
The page lists every movie of the manifest; clicking a poster shows its
nearest intros, clicking an intro its nearest posters, with the true match
and its rank marked. Free text finds posters and an uploaded image finds
intros, encoded exactly as embed encoded the catalogue (same encoder, fitted
state and text cleaning) and projected by the run's heads. The gallery is
every movie (the seed's browsing setting); each movie shows its split.

When the encoder cannot be opened (model files missing, say) the page still
browses and shows neighbours; the two searches answer 503 with the reason.

The server binds 127.0.0.1 by default and has no authentication: bind
another address only on a network you trust. Ctrl-C or SIGTERM stops it
gracefully (in-flight requests get 5 s) with exit code 0. The HTTP API is
described in docs/api.md.

With --json, stdout is {"url","run","encoder","movies","search"} once the
server listens (search is false when the encoder could not be opened).

Which run: --run NAME, else --encoder E's main run, else the only run in
WORK, else the only main run among several; otherwise serve stops (exit 2)
and lists the runs. Environment: REELMATCH_WORK, REELMATCH_RUN,
REELMATCH_ENCODER, REELMATCH_MODELS, REELMATCH_BACKEND and REELMATCH_ADDR
give defaults.` + exitCodesHelp,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), opts, g, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Work, "work", envOr("REELMATCH_WORK", "work"), "WORK folder holding the manifest, features and runs")
	f.StringVar(&opts.Addr, "addr", envOr("REELMATCH_ADDR", defaultServeAddr), "address to listen on (port 0 picks a free port)")
	opts.encoderOptions.AddFlags(f)
	// serve picks a run, not an encoder to build: no default beyond the
	// only run in WORK.
	opts.Encoder = envOr("REELMATCH_ENCODER", "")
	fl := f.Lookup("encoder")
	fl.DefValue, fl.Usage = "", "encoder whose main run to serve (default: the only one in WORK)"
	addRunNameFlag(f, &opts.Run, "run to serve, a folder of WORK/runs (default: the encoder's main run)")
	return cmd
}

func runServe(ctx context.Context, opts ServeOptions, g *globalOptions, _ []string) error {
	if err := opts.check(); err != nil {
		return err
	}
	if opts.Addr == "" {
		return usagef("serve needs --addr HOST:PORT, e.g. %s", defaultServeAddr)
	}
	work, name, err := resolveRun("serve", opts.Work, opts.Encoder, opts.Run)
	if err != nil {
		return err
	}
	start := time.Now()
	space, err := evalrun.Load(work, name)
	if err != nil {
		return err
	}
	eng, err := newRunEngine(work, space)
	if err != nil {
		return err
	}
	enc, err := openQueryEncoder(work, space, opts.encoderOptions)
	if err == nil {
		// One query of each kind now loads lazy state (the lemmatizer's
		// data, runtime sessions), so the first user does not wait for it,
		// and shows the model really runs before search is offered.
		if err = warmUp(ctx, space, enc); err != nil {
			enc.Close()
			enc = nil
		}
	}
	if err != nil {
		// Browsing needs no encoder: serve it and say why search is off.
		fmt.Fprintf(g.stderr, "warning: text and image search disabled: %v\n", err)
		eng.setEncoder(nil, err)
	} else {
		defer enc.Close()
		eng.setEncoder(enc, nil)
	}
	if g.Verbose > 0 {
		g.logf("serve: work=%s run=%s addr=%s models=%q backend=%q movies=%d search=%v loaded in %s",
			work, name, opts.Addr, opts.Models, opts.Backend, len(space.Movies), enc != nil, time.Since(start).Round(time.Millisecond))
	}
	level := slog.LevelWarn
	if g.Verbose > 0 {
		level = slog.LevelInfo
	}
	srv := server.New(server.Options{
		Engine:      eng,
		DecodeImage: imageprep.DecodeBytes,
		Logger:      slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level})),
	})
	return listenAndServe(ctx, srv, opts, g, serveJSON{Run: name, Encoder: space.Encoder, Movies: len(space.Movies), Search: enc != nil})
}

// serveJSON is what serve prints on stdout under --json once it listens,
// so a script that asked for port 0 learns the address.
type serveJSON struct {
	URL     string `json:"url"`
	Run     string `json:"run"`
	Encoder string `json:"encoder"`
	Movies  int    `json:"movies"`
	Search  bool   `json:"search"`
}

// listenAndServe binds opts.Addr, prints the URL and serves until ctx is
// cancelled, then shuts down gracefully.
func listenAndServe(ctx context.Context, srv *server.Server, opts ServeOptions, g *globalOptions, out serveJSON) error {
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using the port? pick one with --addr)", opts.Addr, err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	hs := srv.HTTPServer(addr.String())
	url := "http://" + addr.String() + "/"
	// The URL is the command's whole point, so it shows even under --quiet.
	fmt.Fprintf(g.stderr, "serving %s (%d movies) at %s (Ctrl-C to stop)\n", out.Run, out.Movies, url)
	if g.JSON {
		out.URL = url
		if err := g.printJSON(out); err != nil {
			ln.Close()
			return err
		}
	}
	if !addr.IP.IsLoopback() {
		fmt.Fprintf(g.stderr, "warning: %s is reachable from other machines and the server has no authentication\n", addr)
	}
	if opts.onListen != nil {
		opts.onListen(url)
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		// Requests still running after the grace period are cut off; so are
		// connections a client opened but never used, which net/http counts
		// as busy for 5 s. Stopping was asked for, so this is no failure.
		hs.Close()
		g.logf("server on %s: closed the connections still open after %s", addr, shutdownGrace)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", addr, err)
	}
	g.logf("server on %s stopped", addr)
	return nil
}

// openQueryEncoder opens the run's encoder for free-text and image queries,
// restored as embed left it, and checks it still produces the cached
// features' fingerprint (otherwise queries would land in another space).
func openQueryEncoder(work workdir.Dir, space *evalrun.Space, o encoderOptions) (encoder.Encoder, error) {
	cfg := o.config()
	if cfg.TextInput == "" {
		cfg.TextInput = space.Features.TextInput
	} else if fti := space.Features.TextInput; fti != "" && cfg.TextInput != fti {
		return nil, fmt.Errorf("--text-input %s differs from the %s the features were embedded with: drop the flag or rerun `reelmatch embed --text-input %s`", cfg.TextInput, fti, cfg.TextInput)
	}
	enc, err := embed.OpenEncoder(work, space.Encoder, cfg)
	if err != nil {
		return nil, fmt.Errorf("open encoder %s: %w", space.Encoder, err)
	}
	if fp := space.Features.Fingerprint; fp != "" && enc.Fingerprint() != fp {
		enc.Close()
		return nil, fmt.Errorf("encoder %s now has fingerprint %.12s but the feature cache was made with %.12s: rerun `reelmatch embed --work %s --encoder %s`", space.Encoder, enc.Fingerprint(), fp, work, space.Encoder)
	}
	return enc, nil
}

// warmUp encodes one text and one small image through enc and the heads.
func warmUp(ctx context.Context, space *evalrun.Space, enc encoder.Encoder) error {
	if _, err := space.EncodeText(ctx, enc, "a detective hunts a serial killer"); err != nil {
		return fmt.Errorf("warm-up text query: %w", err)
	}
	img := image.NewGray(image.Rect(0, 0, 40, 60))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	if _, err := space.EncodeImage(ctx, enc, img); err != nil {
		return fmt.Errorf("warm-up image query: %w", err)
	}
	return nil
}

// runEngine is server.Engine over one run: every movie of the manifest
// projected by the run's heads, indexed as one gallery.
type runEngine struct {
	space *evalrun.Space
	gal   *evalrun.Gallery
	pos   map[reel.MovieID]int // id -> row of space.Image/Text
	info  map[string]any

	// enc is the run's encoder wrapped so that only its towers' Encode
	// calls are serialised (towers are not safe for concurrent use,
	// encoder.TextTower); nil when search is unavailable.
	enc    encoder.Encoder
	encErr error
}

// serialEncoder serialises the Encode calls of an encoder's towers on one
// mutex and nothing else: query text cleaning, poster Prepare (safe for
// concurrent use by contract), the heads projection and the index scan run
// in parallel. With one lock around the whole of EncodeText, bursts of 200
// concurrent searches waited 8.7 ms per request on it; with this one, 0.6
// ms (mutex profiles of 50 bursts on fresh connections). The wrapper hides
// the encoder's optional interfaces (Fitter, SharedSpace): the query path
// uses none.
type serialEncoder struct {
	encoder.Encoder
	mu *sync.Mutex
}

func (s serialEncoder) Text() encoder.TextTower   { return serialText{s.Encoder.Text(), s.mu} }
func (s serialEncoder) Image() encoder.ImageTower { return serialImage{s.Encoder.Image(), s.mu} }

type serialText struct {
	encoder.TextTower
	mu *sync.Mutex
}

func (t serialText) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.TextTower.Encode(ctx, texts)
}

type serialImage struct {
	encoder.ImageTower
	mu *sync.Mutex
}

func (t serialImage) Encode(ctx context.Context, inputs [][]float32) ([][]float32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ImageTower.Encode(ctx, inputs)
}

var _ server.Engine = (*runEngine)(nil)

func newRunEngine(work workdir.Dir, space *evalrun.Space) (*runEngine, error) {
	gal, err := space.Gallery(evalrun.SplitAll)
	if err != nil {
		return nil, err
	}
	e := &runEngine{space: space, gal: gal, pos: make(map[reel.MovieID]int, len(space.Movies))}
	train := 0
	for i, m := range space.Movies {
		e.pos[m.ID] = i
		if m.Split == reel.SplitTrain {
			train++
		}
	}
	e.info = map[string]any{
		"run":     space.Run,
		"encoder": space.Encoder,
		"heads":   space.Heads.Settings.Heads,
		"movies":  len(space.Movies),
		"train":   train,
		"test":    len(space.Movies) - train,
		"gallery": evalrun.SplitAll,
	}
	if r, err := evalrun.ReadResult(work, space.Run, evalrun.SplitTest); err == nil {
		e.info["metrics"] = headline(r)
		e.info["test_metrics"] = r
	}
	return e, nil
}

// headline is the page header's one-line summary of the held-out split,
// each metric averaged over the two directions.
func headline(r *evalrun.Result) string {
	p, i := r.PosterToIntro, r.IntroToPoster
	return fmt.Sprintf("held-out (n=%d): mean rank pct %.0f%% · R@10 %.1f%% (chance %.1f%%)",
		r.N, 50*(p.MeanRankPercentile+i.MeanRankPercentile), 50*(p.R10+i.R10), 100*r.Chance.R10)
}

func (e *runEngine) setEncoder(enc encoder.Encoder, err error) {
	e.enc, e.encErr = nil, err
	if enc != nil {
		e.enc = serialEncoder{Encoder: enc, mu: new(sync.Mutex)}
	}
	e.info["search"] = enc != nil
	if err != nil {
		e.info["search_error"] = fmt.Sprintf("%v: %v", server.ErrUnavailable, err)
	} else {
		delete(e.info, "search_error")
	}
}

// Movies lists every movie in manifest order.
func (e *runEngine) Movies() []reel.Movie { return e.space.Movies }

// Movie returns one movie of the manifest.
func (e *runEngine) Movie(id reel.MovieID) (reel.Movie, bool) { return e.gal.Movie(id) }

// Neighbors ranks the other modality for a movie's poster or intro and
// gives its own pair's rank among all candidates.
func (e *runEngine) Neighbors(id reel.MovieID, dir server.Direction, k int) ([]reel.Hit, int, error) {
	i, ok := e.pos[id]
	if !ok {
		return nil, 0, fmt.Errorf("%w: %q", server.ErrNotFound, id)
	}
	q, gallery := e.space.Image[i], e.gal.Intros
	if dir == server.IntroToPoster {
		q, gallery = e.space.Text[i], e.gal.Posters
	}
	hits, err := gallery.Search(q, k)
	if err != nil {
		return nil, 0, err
	}
	rank, err := gallery.Rank(q, id)
	if err != nil {
		return nil, 0, err
	}
	return hits, rank, nil
}

// unavailable is the error both searches give without an encoder.
func (e *runEngine) unavailable() error {
	return fmt.Errorf("%w: %v", server.ErrUnavailable, e.encErr)
}

// SearchText finds the posters nearest to free text.
func (e *runEngine) SearchText(ctx context.Context, text string, k int) ([]reel.Hit, error) {
	if e.enc == nil {
		return nil, e.unavailable()
	}
	v, err := e.space.EncodeText(ctx, e.enc, text)
	if err != nil {
		return nil, err
	}
	return e.gal.Posters.Search(v, k)
}

// SearchImage finds the intros nearest to an uploaded poster.
func (e *runEngine) SearchImage(ctx context.Context, img image.Image, k int) ([]reel.Hit, error) {
	if e.enc == nil {
		return nil, e.unavailable()
	}
	v, err := e.space.EncodeImage(ctx, e.enc, img)
	if err != nil {
		return nil, err
	}
	return e.gal.Intros.Search(v, k)
}

// Info describes the run for the page header.
func (e *runEngine) Info() map[string]any { return e.info }
