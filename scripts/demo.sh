#!/usr/bin/env bash
# The main job on the embedded default: installs what it needs, builds, and
# measures the law of equi-learning, from raw text, on a trained Llama-architecture model
# (configs/stories260K-hf, 260K parameters, 200 paragraphs of Alice in
# Wonderland), writing results/stories260K/{law.json,layers.csv}, and its
# figure results/stories260K/law.png (law.svg, law_points.csv) with gnuplot.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
make -j"$(nproc 2>/dev/null || echo 2)" build/layerlaw
build/layerlaw run --model configs/stories260K-hf \
    --data configs/stories260K-hf/alice-200.jsonl --max-length 128 \
    --out results/stories260K "$@"
build/layerlaw plot results/stories260K --each
