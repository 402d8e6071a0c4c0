#!/usr/bin/env bash
# The test command: installs what it needs, builds (with the CUDA backend when
# nvcc is present) and the CPU-only build, runs the C test-suite, then the
# AddressSanitizer/UBSan (gcc) build and clang's UBSan build of the same suite,
# then every libFuzzer harness for FUZZ_SECONDS (default 20) each.  Ends with
# one line "N passed, N failed" summing the three runs (a fuzz finding counts
# as a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# the SmolLM2 GGUF the smollm2_* tests need (98 MB, cached; tests/test_smollm2.c)
bash scripts/fetch-smollm2.sh >/dev/null || echo "test.sh: could not fetch SmolLM2 (offline?): the smollm2_* tests will fail"
JOBS=$(nproc 2>/dev/null || echo 2)
make -j"$JOBS" all
make CUDA=0 -j"$JOBS" BUILD=build-cpu build-cpu/layerlaw build-cpu/run_tests >/dev/null  # the no-CUDA build must keep building
build-cpu/layerlaw info | head -2
log=$(mktemp)
set +e
echo "== test suite (build/) =="
make --no-print-directory test 2>&1 | tee "$log"; rc1=${PIPESTATUS[0]}
echo "== AddressSanitizer + UBSan (build-asan/) =="
make --no-print-directory asan 2>&1 | tee -a "$log"; rc2=${PIPESTATUS[0]}
echo "== clang UBSan, float-cast-overflow included (build-ubsan/) =="
make --no-print-directory -j"$JOBS" ubsan-clang 2>&1 | grep -vE '^(clang|make)' | tee -a "$log"; rc3=${PIPESTATUS[0]}
echo "== Python tests (tests/python, pytest) =="
bash scripts/test-python.sh 2>&1 | tee -a "$log"; rc5=${PIPESTATUS[0]}
echo "== libFuzzer, ${FUZZ_SECONDS:-20} s per harness (build-fuzz/) =="
FUZZ_JOBS=$JOBS bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}"; rc4=$?
set -e
passed=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | awk '{s+=$3} END {print s+0}')
runs=$(grep -cE '^[0-9]+ passed, [0-9]+ failed$' "$log" || true)
rm -f "$log"
[ "$rc4" -ne 0 ] && failed=$((failed + 1))   # fuzz findings
[ "$rc5" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1   # a Python runner failure counts
if [ "$rc1" -ne 0 ] || [ "$rc2" -ne 0 ] || [ "$rc3" -ne 0 ] || [ "$rc4" -ne 0 ] || [ "$rc5" -ne 0 ] || [ "$runs" -ne 4 ]; then
    [ "$failed" -eq 0 ] && failed=1   # a build or runner failure counts as a failure
    echo "test.sh: FAILED (suite rc=$rc1, asan rc=$rc2, clang ubsan rc=$rc3, fuzz rc=$rc4, python rc=$rc5)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
