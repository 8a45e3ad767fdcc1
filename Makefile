# reelmatch: the README's quickstart commands.
#   make demo   run the whole pipeline on the built-in synthetic demo, offline
#   make test   install what the tests need (scripts/setup.sh), then run every test
#   make bench  run the benchmarks (BENCH_MODELS=DIR for real-size ONNX models)
#   make test-scale  sharded embedding on a one-node Slurm cluster (as root; scripts/test-scale.sh)

GO ?= go
BIN := bin/reelmatch
ORT_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/reelmatch/onnxruntime/1.24.1/libonnxruntime.so.1
export ORT_LIB ?= $(ORT_CACHE)
export GOEXPERIMENT ?= simd

.PHONY: build test test-scale demo bench setup vet fmt

build:
	$(GO) build -o $(BIN) ./cmd/reelmatch

setup:
	./scripts/setup.sh

test: setup
	gofmt -l . | (! grep .) || (echo "gofmt: files above need formatting" >&2; exit 1)
	$(GO) vet ./...
	$(GO) test -race ./internal/server/ ./internal/search/ ./internal/vecmath/ ./internal/metrics/
	$(GO) test -timeout 20m ./...

test-scale:
	./scripts/test-scale.sh

demo: build
	./$(BIN) demo

bench: setup
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...
