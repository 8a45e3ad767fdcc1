package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/reelmatch/reelmatch/internal/bound"
	"github.com/reelmatch/reelmatch/internal/inputfile"
	"github.com/reelmatch/reelmatch/internal/search"
	"github.com/reelmatch/reelmatch/internal/server"
	"github.com/reelmatch/reelmatch/internal/server/engine"
)

func init() { commands = append(commands, newServeCommand) }

// defaultServeAddr binds loopback only: the server has no authentication.
const defaultServeAddr = "127.0.0.1:8080"

// serveMaxDistanceRange bounds serve --max-distance: a threshold of 0
// would hide everything but exact copies.
var serveMaxDistanceRange = bound.Float{Min: search.MaxDistanceRange.Min, Max: search.MaxDistanceRange.Max, OpenMin: true}

// ServeOptions are the flags of `reelmatch serve`.
type ServeOptions struct {
	Work string
	Run  string
	Addr string
	// AllowedHosts are Host names answered beside the loopback ones
	// (--allowed-host, for a reverse proxy).
	AllowedHosts []string
	// MaxDistance is the page's and the API's default threshold
	// (--max-distance; 2 shows every result).
	MaxDistance float64
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
another address only on a network you trust. Bound to loopback, it answers
only requests whose Host is localhost, 127.0.0.1 or [::1] (any port), so a
web page cannot reach it through DNS rebinding; --allowed-host NAME
(repeatable) adds the name a reverse proxy forwards, and on another address
restricts it to those names. Image uploads are bounded: at most 8 at once
(more wait 5 s, then get 503 with Retry-After), 10 MiB each, and the
decode memory budget of README "Limits and safety"; the process keeps a
soft memory limit of 768 MiB above what the run takes (GOMEMLIMIT
overrides). Ctrl-C or SIGTERM stops it gracefully (in-flight requests get
5 s) with exit code 0. The HTTP API is described in docs/api.md.

--max-distance D hides results farther than D (1 - cosine) from the page
and the API (a request's max_distance overrides it; the page has a field
for it too), so that far results are not shown as matches: the page says
"no close match" instead. The report shows which D keeps how many true
pairs of the held-out split.

With --json, stdout is {"url","run","encoder","movies","search","index"}
once the server listens (search is false when the encoder could not be
opened; index is the kind of index searches use: exact up to 2^24 values
(movies × embedding size, e.g. 131k movies of 128), int8 with a float32
rescore (the same hits) up to 2^29 (1M movies of 512), hnsw beyond;
/api/info says the same).

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
	f.StringArrayVar(&opts.AllowedHosts, "allowed-host", nil, "host name to answer besides localhost, 127.0.0.1 and [::1], e.g. a reverse proxy's (repeatable)")
	floatFlag(f, &opts.MaxDistance, "max-distance", search.MaxDistanceRange.Max, serveMaxDistanceRange, "hide results farther than this distance (1 - cosine) in the page and the API, which then say no close match")
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
	if err := checkAddr(opts.Addr); err != nil {
		return err
	}
	for _, h := range opts.AllowedHosts {
		if err := server.CheckHostName(h); err != nil {
			return usagef("--allowed-host: %v", err)
		}
	}
	work, name, err := resolveRun("serve", opts.Work, opts.Encoder, opts.Run)
	if err != nil {
		return err
	}
	// Bind first, so a port in use is said before the run loads.
	ln, err := listen(opts.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	start := time.Now()
	eng, err := engine.Open(ctx, work, name, opts.config())
	if err != nil {
		return err
	}
	defer eng.Close()
	if err := eng.SearchErr(); err != nil {
		// Browsing needs no encoder: serve it and say why search is off.
		fmt.Fprintf(g.stderr, "warning: text and image search disabled: %v\n", err)
	}
	movies, search := len(eng.Movies()), eng.SearchErr() == nil
	if g.Verbose > 0 {
		g.logf("serve: work=%s run=%s addr=%s models=%q backend=%q movies=%d search=%v index=%s loaded in %s",
			work, name, opts.Addr, opts.Models, opts.Backend, movies, search, eng.Index(), time.Since(start).Round(time.Millisecond))
	}
	level := slog.LevelWarn
	if g.Verbose > 0 {
		level = slog.LevelInfo
	}
	limit := setServeMemoryLimit()
	if g.Verbose > 0 {
		g.logf("serve: %s; soft memory limit %s", limitsHelp(), inputfile.FormatBytes(limit))
	}
	srv := server.New(server.Options{
		Engine:       eng,
		Logger:       slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level})),
		AllowedHosts: serveAllowedHosts(ln.Addr().String(), opts.AllowedHosts),
		MaxDistance:  opts.MaxDistance,
	})
	return serve(ctx, srv, ln, opts, g, serveJSON{Run: name, Encoder: eng.Encoder(), Movies: movies, Search: search, Index: eng.Index()})
}

// checkAddr rejects an --addr that is not HOST:PORT with a port in
// 0..65535 as a usage error, before anything is loaded.
func checkAddr(addr string) error {
	const example = "e.g. " + defaultServeAddr + " (this machine only) or 0.0.0.0:8080 (every interface); port 0 picks a free port"
	if addr == "" {
		return usagef("serve needs --addr HOST:PORT, %s", example)
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--addr %q is not HOST:PORT: %s", addr, example)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return usagef("--addr %s: the port must be a number from 0 to 65535, got %q", addr, port)
	}
	return nil
}

// listen binds addr, wording the usual failures with their fix: a port
// another program holds (exit 1), an address that is not this machine's or
// a port that needs root (exit 2: the flag is wrong).
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	switch {
	case err == nil:
		return ln, nil
	case errors.Is(err, syscall.EADDRINUSE):
		host, port, _ := net.SplitHostPort(addr)
		return nil, fmt.Errorf("port %s on %s is already in use (another reelmatch serve?): stop that program, or pick a free port with --addr %s:0", port, hostOrAll(host), hostOrAll(host))
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		host, _, _ := net.SplitHostPort(addr)
		return nil, usagef("--addr %s: %s is not an address of this machine: use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)", addr, host)
	case errors.Is(err, syscall.EACCES):
		return nil, usagef("--addr %s: ports below 1024 need root: pick another, e.g. 8080", addr)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return nil, usagef("--addr %s: unknown host %q: use an IP address such as 127.0.0.1", addr, dnsErr.Name)
	}
	return nil, fmt.Errorf("listen on %s: %w", addr, err)
}

// hostOrAll names an empty listen host as every interface does.
func hostOrAll(host string) string {
	if host == "" {
		return "0.0.0.0"
	}
	return host
}

// serveAllowedHosts is the Host names the server answers: the loopback
// names, extra and the IP address addr binds, when addr is a loopback
// address or extra is given; nil (any) otherwise.
func serveAllowedHosts(addr string, extra []string) []string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	loopback := strings.EqualFold(host, "localhost") || (ip != nil && ip.IsLoopback())
	if !loopback && len(extra) == 0 {
		return nil
	}
	hosts := append(slices.Clone(server.LoopbackHosts), extra...)
	if ip != nil && !slices.Contains(hosts, ip.String()) {
		hosts = append(hosts, ip.String()) // the address it was asked to bind
	}
	return hosts
}

// serveMemoryHeadroom is the soft memory limit serve keeps above what the
// loaded run takes: uploads in progress (8 bodies of 10 MiB), the decode
// memory budget and thumbnails fit in it, and the garbage collector works
// harder instead of letting the heap double past it.
const serveMemoryHeadroom = 768 << 20

// setServeMemoryLimit sets the Go runtime's soft memory limit to what the
// process uses now plus serveMemoryHeadroom, unless GOMEMLIMIT is set, and
// returns the limit in force.
func setServeMemoryLimit() int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	limit := int64(ms.Sys-ms.HeapReleased) + serveMemoryHeadroom
	debug.SetMemoryLimit(limit)
	return limit
}

// serveJSON is what serve prints on stdout under --json once it listens,
// so a script that asked for port 0 learns the address.
type serveJSON struct {
	URL     string `json:"url"`
	Run     string `json:"run"`
	Encoder string `json:"encoder"`
	Movies  int    `json:"movies"`
	Search  bool   `json:"search"`
	// Index is the kind of index searches use (search.AutoKind).
	Index string `json:"index"`
}

// serve prints the URL of ln and serves until ctx is cancelled, then shuts
// down gracefully.
func serve(ctx context.Context, srv *server.Server, ln net.Listener, opts ServeOptions, g *globalOptions, out serveJSON) error {
	addr := ln.Addr().(*net.TCPAddr)
	url := "http://" + addr.String() + "/"
	// The URL is the command's whole point, so it shows even under --quiet.
	fmt.Fprintf(g.stderr, "serving %s (%d movies) at %s (Ctrl-C to stop)\n", out.Run, out.Movies, url)
	if g.JSON {
		out.URL = url
		if err := g.printJSON(out); err != nil {
			return err
		}
	}
	if !addr.IP.IsLoopback() {
		fmt.Fprintf(g.stderr, "warning: %s is reachable from other machines and the server has no authentication\n", addr)
	}
	if opts.onListen != nil {
		opts.onListen(url)
	}
	forced, err := srv.Serve(ctx, ln)
	if forced {
		g.logf("server on %s: closed the connections still open after %s", addr, server.ShutdownGrace)
	}
	if err != nil {
		return err
	}
	g.logf("server on %s stopped", addr)
	return nil
}
