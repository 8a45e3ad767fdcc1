#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, and nothing twice:
#   - Go modules (go mod download),
#   - the ONNX Runtime 1.24.1 shared library, taken from the npm package
#     onnxruntime-node@1.24.1 (bin/napi-v6/linux/x64/libonnxruntime.so.1)
#     into the project cache ${XDG_CACHE_HOME:-~/.cache}/reelmatch/onnxruntime/1.24.1/,
#   - Debian's chromium, for the browser test (needs root or sudo).
# Prints the library path as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.24.1
cache="${XDG_CACHE_HOME:-$HOME/.cache}/reelmatch/onnxruntime/$ORT_VERSION"
lib="$cache/libonnxruntime.so.1"

if ! GOPROXY=off GOFLAGS=-mod=mod go mod download >/dev/null 2>&1; then
  echo "setup: downloading the Go modules (about 100 MB, 360 MB unpacked; once)" >&2
fi
go mod download

if [ -n "${ORT_LIB:-}" ] && [ -f "$ORT_LIB" ]; then
  lib="$ORT_LIB"
elif [ ! -f "$lib" ]; then
  echo "setup: fetching ONNX Runtime $ORT_VERSION (npm package onnxruntime-node@$ORT_VERSION)" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
  tar -xzf "$tmp"/onnxruntime-node-*.tgz -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  mkdir -p "$cache"
  install -m 0644 "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$lib.partial"
  mv "$lib.partial" "$lib"
fi

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  echo "setup: installing Debian's chromium for the browser test" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

echo "$lib"
