#!/usr/bin/env bash
# Renders a layerlaw report in headless Chromium and saves a screenshot, to
# look at it as a reader would (overlaps, unreadable labels, clipped legends).
# Not part of CI: Chromium is large.  Debian: apt-get install chromium.
#   scripts/check-report.sh [RESULTS...]   (default: tests/fixtures/results)
# Writes /tmp/layerlaw-report/{report.html,...} and /tmp/layerlaw-report.png.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LAYERLAW_BIN:-build/layerlaw}
OUT=${OUT:-/tmp/layerlaw-report}
SHOT=${SHOT:-/tmp/layerlaw-report.png}
HEIGHT=${HEIGHT:-9000}
[ $# -gt 0 ] || set -- tests/fixtures/results
command -v chromium >/dev/null || { echo "check-report: chromium not installed (apt-get install chromium)" >&2; exit 2; }
rm -rf "$OUT"
"$BIN" report "$@" --out "$OUT"
# --virtual-time-budget lets the page settle; --hide-scrollbars keeps the width
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=2000 \
    --screenshot="$SHOT" --window-size=1280,"$HEIGHT" "file://$(realpath "$OUT")/report.html" 2>/dev/null
echo "check-report: $SHOT (1280x$HEIGHT) from $OUT/report.html"
