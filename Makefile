# reelmatch: the README's quickstart commands.
#   make demo        run the whole pipeline on the built-in synthetic demo, offline
#   make install     put reelmatch on your PATH: go install into GOBIN, else
#                    GOPATH/bin (~/go/bin); PREFIX=/usr/local puts it in /usr/local/bin
#   make test        install what the tests need (scripts/setup.sh), then run every test
#   make bench       run the benchmarks (BENCH_MODELS=DIR for real-size ONNX models)
#   make bench-embed BENCH_MODELS=DIR [BENCH_DATA=DIR]
#                    embed's posters/s over ONNX Runtime's images/s on the same model, in
#                    one run (DIR: a resnet50-distilbert models folder, float32 or int8)
#   make test-scale  sharded embedding on a one-node Slurm cluster (as root; scripts/test-scale.sh)

GO ?= go
BIN := bin/reelmatch
ORT_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/reelmatch/onnxruntime/1.24.1/libonnxruntime.so.1
export ORT_LIB ?= $(ORT_CACHE)
export GOEXPERIMENT ?= simd
# Where make install puts the binary (go install's own choice unless PREFIX).
PREFIX ?=
BINDIR := $(if $(PREFIX),$(PREFIX)/bin,$(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin))

.PHONY: build install deps test test-scale demo bench bench-embed setup vet fmt

# Every package whose own code runs goroutines or shares state between them
# (scripts/race-packages) is tested under the race detector, the rest
# without it; each package's tests run once. checkptr is off because
# GoMLX's SIMD matrix kernels trip it under -race (a false alarm in
# third-party pointer arithmetic); the race detector itself is on.
# cmd/reelmatch's own goroutines are main's interrupt watchdog and what
# serve starts; its whole suite under -race would take most of an hour on
# 2 cores, so the tests that drive them (CMD_RACE_TESTS) run under -race
# and the whole suite runs plainly.
RACE_PKGS = $(filter-out $(MAIN_PKG),$(shell ./scripts/race-packages))
RACE_FLAGS := -gcflags=all=-d=checkptr=0
MAIN_PKG := github.com/reelmatch/reelmatch/cmd/reelmatch
CMD_RACE_TESTS := TestServeAPI|TestServeShutdown|TestHostileInterrupt|TestHostileTrainInterrupted|TestHostileRunInterrupted

# deps downloads the Go modules once, saying so (a cold module cache is
# about 100 MB to fetch, which go build would do silently).
deps:
	@GOPROXY=off GOFLAGS=-mod=mod $(GO) mod download >/dev/null 2>&1 || \
	  { echo "deps: downloading the Go modules (about 100 MB, 360 MB unpacked; once)"; $(GO) mod download; }

build: deps
	@[ -f $(BIN) ] || echo "build: compiling $(BIN) (the first build compiles GoMLX and the other dependencies: a few minutes on 2 cores; later builds take seconds)"
	$(GO) build -o $(BIN) ./cmd/reelmatch

install: deps
	@echo "install: building reelmatch into $(BINDIR)"
	GOBIN="$(abspath $(BINDIR))" $(GO) install ./cmd/reelmatch
	@case ":$$PATH:" in *":$(abspath $(BINDIR)):"*) echo "install: $(abspath $(BINDIR))/reelmatch is on your PATH: try reelmatch --help";; \
	  *) echo "install: $(abspath $(BINDIR)) is not on your PATH; add it, e.g. export PATH=\"$(abspath $(BINDIR)):\$$PATH\"";; esac

setup:
	./scripts/setup.sh

test: setup
	@echo "test: gofmt and go vet (the first vet compiles every package: a few minutes on 2 cores)"
	gofmt -l . | (! grep .) || (echo "gofmt: files above need formatting" >&2; exit 1)
	$(GO) vet ./...
	@echo "test: under the race detector, the packages that run goroutines (scripts/race-packages)"
	$(GO) test -race $(RACE_FLAGS) -timeout 20m $(RACE_PKGS)
	$(GO) test -race $(RACE_FLAGS) -timeout 20m -run '$(CMD_RACE_TESTS)' $(MAIN_PKG)
	@echo "test: every other package"
	$(GO) test -timeout 20m $(filter-out $(RACE_PKGS),$(shell $(GO) list ./...))

test-scale:
	./scripts/test-scale.sh

demo: build
	@echo "demo: running $(BIN) demo (about 15 s on 2 cores)"
	./$(BIN) demo

bench: setup
	$(if $(BENCH_MODELS),REELMATCH_BENCH_MODELS=$(BENCH_MODELS)) $(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

bench-embed: setup
	@[ -n "$(BENCH_MODELS)" ] || { echo "bench-embed: set BENCH_MODELS to a models folder of resnet50-distilbert (float32, or the int8 copy reelmatch models quantize writes)" >&2; exit 2; }
	REELMATCH_BENCH_MODELS=$(BENCH_MODELS) REELMATCH_BENCH_DATA=$(BENCH_DATA) $(GO) test -run '^$$' -bench EmbedVsRuntime -benchtime 6x -timeout 60m ./internal/embed/
