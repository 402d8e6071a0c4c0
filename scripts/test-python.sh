#!/usr/bin/env bash
# The Python tests (tests/python, pytest): installs their requirements
# (tools/requirements-test.txt, once per machine: pip skips what is there),
# then runs pytest and ends with one line "N passed, N failed" (skips are
# printed, never counted as passed).  Uses build/layerlaw (LAYERLAW_BIN).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! $PY -m pip install -q -r tools/requirements-test.txt; then
    # a distribution's Python refuses pip (PEP 668, "externally managed"): a
    # virtual environment of our own in the cache folder instead
    VENV=${LAYERLAW_CACHE:-$HOME/.cache/layerlaw}/pytest-venv
    if ! { [ -x "$VENV/bin/python" ] || $PY -m venv "$VENV"; } ||
       ! "$VENV/bin/python" -m pip install -q -r tools/requirements-test.txt; then
        echo "test-python: could not install tools/requirements-test.txt"
        echo "0 passed, 1 failed"; exit 1
    fi
    PY=$VENV/bin/python
fi
export LAYERLAW_BIN=${LAYERLAW_BIN:-build/layerlaw}
# the Python package's library (build/liblayerlaw.so; the tests import python/layerlaw over it)
if ! make -s -j"$(nproc 2>/dev/null || echo 2)" BUILD="${LAYERLAW_BUILD:-build}" shared >/dev/null; then
    echo "test-python: make shared failed"
    echo "0 passed, 1 failed"; exit 1
fi
out=$(mktemp)
$PY -m pytest -q -p no:cacheprovider tests/python 2>&1 | tee "$out"; rc=${PIPESTATUS[0]}
last=$(grep -E '(passed|failed|error|no tests ran)' "$out" | tail -1)
rm -f "$out"
p=$(echo "$last" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
f=$(echo "$last" | grep -oE '[0-9]+ (failed|error|errors)' | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
s=$(echo "$last" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+' || echo 0)
[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1   # exit 5 (no tests) or an internal error
echo "${p:-0} passed, $f failed"
[ "${s:-0}" -gt 0 ] && echo "python: $s skipped (not counted as passed)"
[ "$rc" -eq 0 ]
