#!/usr/bin/env bash
# scripts/gpu-check.sh — the one GPU check of layerlaw's CUDA backend.
#
# Run on a machine with an NVIDIA GPU (sm_90: H100/H200), from anywhere:
#     OUT=/some/dir scripts/gpu-check.sh          (default OUT: ./results/gpu-check)
# Steps (each with its own time limit; the whole run stays under ~6 min on an H100):
#   1. environment: GPU, driver, nvcc, the CUDA libraries our binaries load
#   2. binaries: prebuilt ones from .carry/ (see scripts/gpu-carry.sh) if present,
#      else `make` here (CUDA=1, sm_90)
#   3. build/gpu_tests: CUDA-vs-CPU parity tests (ops, probe statistics, solve)
#   4. compute-sanitizer memcheck over the custom-kernel op tests (if installed)
#   5. bench/gpu_bench: copy bandwidth, bf16 GEMM peak, layer at 7B / GPT-2-XL shapes,
#      scans, Gram accumulation, batched solve
#   6. bench/gpu_e2e: end to end (load, forward, device capture, batched solve, law) on
#      stories260K (vs its float64 reference) and random-weight GPT-2-XL (8192 and 100k
#      tokens) and Llama-7B (100k tokens) shapes; plain vs captured pass, per-layer rates
#   7. if `layerlaw run` has --backend cuda: the real binary on stories260K (--compute fp32,
#      bf16) and on a dense random GPT-2-XL checkpoint with 100k tokens, bf16, timed from
#      the shell (load + tokens + forward + capture + solve + report; LL_CLI_GPT2XL=0: skip)
#   8. if time is left: bench/gpu_baseline_authors.py (the authors' PyTorch + sklearn
#      pipeline, GPT-2-XL shape, 8192 tokens) for the speed-up ratio
# Writes to $OUT (flat, 8 files: what a lent GPU machine sends back): summary.md (the
# table, also printed last), gpu-check.log (everything, the build log at its end),
# gpu_tests.log, sanitizer.log, bench.log, bench.csv, e2e.log (step 7's output at its
# end), baseline.log.  Write nothing else to $OUT.
# Environment: LL_GPU_CHECK_BUDGET (seconds, default 340) caps the whole run;
# LL_GPU_TESTS_FILTER (substring) restricts step 3; LL_BENCH_SECTIONS
# (default "copy gemm layer scan gram solve"); LL_E2E=0 skips step 6, LL_E2E_JOBS
# replaces its job list, LL_E2E_TMP (default $TMPDIR or /tmp) holds its checkpoints;
# LL_BASELINE=0 skips step 8.
set -u -o pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/results/gpu-check}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BUDGET=${LL_GPU_CHECK_BUDGET:-340}
ORIG_LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}
T_START=$(date +%s)
LOG=$OUT/gpu-check.log
: >"$LOG"
ROWS=()        # summary rows: "step|status|seconds|detail"

say() { echo "$*" | tee -a "$LOG"; }
elapsed() { echo $(( $(date +%s) - T_START )); }
left() { echo $(( BUDGET - $(elapsed) )); }
row() { ROWS+=("$1|$2|$3|$4"); say "== $1: $2 ($3 s) $4"; }

# run_limited LIMIT LOGFILE CMD... : runs CMD in its own process group, output
# to LOGFILE; kills the whole group (forked test children too) at LIMIT s.
run_limited() {
    local limit=$1 logf=$2; shift 2
    if [ "$limit" -lt 5 ]; then echo "skipped: no time left" >>"$logf"; return 125; fi
    setsid "$@" >>"$logf" 2>&1 &
    local pid=$! t=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$t" -ge "$limit" ]; then
            kill -KILL -- "-$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            echo "*** killed after ${limit}s" >>"$logf"
            return 124
        fi
        sleep 1; t=$((t + 1))
    done
    wait "$pid"
}
limit_of() { local want=$1 reserve=${2:-20} l; l=$(( $(left) - reserve )); [ "$l" -gt "$want" ] && l=$want; echo "$l"; }

COMMIT=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+dirty')
case "$COMMIT" in ""|+dirty) COMMIT="$(grep -o 'commit [0-9a-f+dirty]*' .carry/BUILD_INFO 2>/dev/null | head -1 | cut -d' ' -f2) (carried build; no git here)" ;; esac
say "layerlaw gpu-check, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), host $(hostname), commit $COMMIT"

# ---- 1. environment -------------------------------------------------------
t0=$(date +%s)
GPU="?"; DRIVER="?"
if command -v nvidia-smi >/dev/null 2>&1; then
    GPU=$(nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null | head -1)
    DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
    nvidia-smi >>"$LOG" 2>&1
fi
NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)
NVCC_VER=$([ -n "$NVCC" ] && "$NVCC" --version | grep -o 'release [0-9.]*' || echo "none")
say "GPU: $GPU; driver $DRIVER; nvcc: ${NVCC:-none} ($NVCC_VER)"

# CUDA libraries: cuBLAS 13 / cuSOLVER 12 (+ their cuBLASLt, cuSPARSE, nvJitLink).
NEED_LIBS="libcublas.so.13 libcublasLt.so.13 libcusolver.so.12 libcusparse.so.12 libnvJitLink.so.13"
CAND_DIRS=()
[ -n "${CUDA_HOME:-}" ] && CAND_DIRS+=("$CUDA_HOME/lib64" "$CUDA_HOME/targets/x86_64-linux/lib")
[ -n "$NVCC" ] && CAND_DIRS+=("$(dirname "$(dirname "$NVCC")")/lib64" "$(dirname "$(dirname "$NVCC")")/targets/x86_64-linux/lib")
CAND_DIRS+=(/usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64 /usr/lib/x86_64-linux-gnu)
for py in python3 /opt/torch/.venv/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    while IFS= read -r p; do [ -n "$p" ] && CAND_DIRS+=("$p"); done < <("$py" - 2>/dev/null <<'EOF'
import importlib, os
seen = set()
for m in ["nvidia", "nvidia.cublas", "nvidia.cusolver", "nvidia.cusparse", "nvidia.nvjitlink", "nvidia.cu13"]:
    try:
        mod = importlib.import_module(m)
    except Exception:
        continue
    for base in getattr(mod, "__path__", []):
        for root, dirs, files in os.walk(base):
            if any(f.startswith(("libcublas.so", "libcusolver.so", "libcusparse.so", "libnvJitLink.so")) for f in files):
                if root not in seen:
                    seen.add(root); print(root)
EOF
)
done
LIBDIRS=""
for lib in $NEED_LIBS; do
    found=""
    for dd in "${CAND_DIRS[@]}"; do
        if [ -e "$dd/$lib" ]; then found=$dd; break; fi
    done
    if [ -n "$found" ]; then
        case ":$LIBDIRS:" in *":$found:"*) ;; *) LIBDIRS="${LIBDIRS:+$LIBDIRS:}$found" ;; esac
        say "  $lib: $found"
    else
        say "  $lib: NOT FOUND"
    fi
done

# ---- 2. binaries ------------------------------------------------------------
t0=$(date +%s)
BIN=""
if [ -x .carry/bin/gpu_tests ]; then
    BIN=$ROOT/.carry/bin
    if [ ! -d .carry/lib ] && [ -f .carry/lib.tar.xz ]; then
        mkdir -p .carry/lib && tar -xJf .carry/lib.tar.xz -C .carry/lib >>"$OUT/build.log" 2>&1
    fi
    [ -d .carry/lib ] && LIBDIRS="$ROOT/.carry/lib${LIBDIRS:+:$LIBDIRS}"
    export LD_LIBRARY_PATH="$LIBDIRS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    [ -f .carry/BUILD_INFO ] && cat .carry/BUILD_INFO >>"$OUT/build.log"
    row build "prebuilt" $(( $(date +%s) - t0 )) "using .carry/bin ($(cat .carry/BUILD_INFO 2>/dev/null | head -1))"
else
    export LD_LIBRARY_PATH="$LIBDIRS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    [ -n "$NVCC" ] && export PATH="$(dirname "$NVCC"):$PATH"
    lim=$(limit_of 240 120)
    run_limited "$lim" "$OUT/build.log" make -j"$(nproc)" CUDA=1 build/gpu_tests build/layerlaw build/bench/gpu_bench build/bench/gpu_e2e
    rc=$?
    if [ $rc -eq 0 ]; then
        BIN=$ROOT/build; mkdir -p "$BIN/bench"
        row build ok $(( $(date +%s) - t0 )) "make CUDA=1 (sm_90)"
    else
        row build "FAILED rc=$rc" $(( $(date +%s) - t0 )) "see build.log: $(grep -m1 -E 'error|No such file|cannot find' "$OUT/build.log" | cut -c1-150)"
    fi
fi
GPU_BENCH=""
if [ -n "$BIN" ]; then
    for cand in "$BIN/gpu_bench" "$BIN/bench/gpu_bench"; do [ -x "$cand" ] && GPU_BENCH=$cand && break; done
    missing=$(ldd "$BIN/gpu_tests" 2>/dev/null | grep 'not found' | awk '{print $1}' | tr '\n' ' ')
    if [ -n "$missing" ]; then
        row libraries "MISSING" 0 "$missing (LD_LIBRARY_PATH=$LD_LIBRARY_PATH)"
    fi
    ldd "$BIN/gpu_tests" >>"$OUT/build.log" 2>&1
fi

# ---- 3. parity tests ----------------------------------------------------------
# shared test data: carried copy first (../shared does not travel to the device)
if [ -d "$ROOT/.carry/shared/data" ]; then export LAYERLAW_SHARED=$ROOT/.carry/shared;
elif [ -z "${LAYERLAW_SHARED:-}" ] && [ -d "$ROOT/shared/data" ]; then export LAYERLAW_SHARED=$ROOT/shared; fi
say "shared data: ${LAYERLAW_SHARED:-../shared (default)}"
if [ -n "$BIN" ]; then
    t0=$(date +%s)
    lim=$(limit_of 170 150)
    # shellcheck disable=SC2086
    run_limited "$lim" "$OUT/gpu_tests.log" "$BIN/gpu_tests" ${LL_GPU_TESTS_FILTER:-}
    rc=$?
    tail_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$OUT/gpu_tests.log" | tail -1)
    [ -z "$tail_line" ] && tail_line="no result line (rc=$rc)"
    status=ok; [ $rc -ne 0 ] && status="FAILED rc=$rc"; [ $rc -eq 125 ] && status="skipped (no time left)"
    row gpu_tests "$status" $(( $(date +%s) - t0 )) "$tail_line"
    grep -E '^FAIL' "$OUT/gpu_tests.log" | head -40 | tee -a "$LOG"
    # failure messages (lines the harness prints before FAIL), compact
    grep -E '^\s+\S+\.c:[0-9]+:' "$OUT/gpu_tests.log" | head -40 | cut -c1-300 | tee -a "$LOG"
    grep -E '^\s+\[' "$OUT/gpu_tests.log" | head -40 | tee -a "$LOG"   # per-test measurements
fi

# ---- 4. compute-sanitizer memcheck -------------------------------------------
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || ls /opt/nvidia/nsight-compute/*/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1 || true)
if [ -n "$BIN" ] && [ -n "$SAN" ]; then
    t0=$(date +%s)
    lim=$(limit_of 60 110)
    # Every test but gpu_probe_bad_arguments with API errors reported (the default);
    # that one provokes a cudaMalloc failure on purpose (and checks its message), so it
    # runs in a second pass with --report-api-errors no: its kernels are still checked.
    # shellcheck disable=SC2086
    run_limited "$lim" "$OUT/sanitizer.log" "$SAN" --tool memcheck --target-processes all --leak-check no --error-exitcode 9 \
        "$BIN/gpu_tests" ${LL_SANITIZER_FILTER:-gpu_ops_ gpu_probe_fp64_all_norms gpu_probe_tf32x3_cond gpu_probe_fp32_cond gpu_probe_tf32syrk gpu_probe_onehot gpu_model_gpt2_fp32 gpu_model_mamba_fp32}
    rc=$?
    if [ $rc -ne 124 ] && [ $rc -ne 125 ]; then
        echo "== pass 2: gpu_probe_bad_arguments (intentional cudaMalloc failure), --report-api-errors no" >>"$OUT/sanitizer.log"
        run_limited "$(limit_of 20 100)" "$OUT/sanitizer.log" "$SAN" --tool memcheck --report-api-errors no --leak-check no \
            --error-exitcode 9 "$BIN/gpu_tests" gpu_probe_bad_arguments
        rc2=$?
        [ $rc -eq 0 ] && rc=$rc2
    fi
    errs=$(grep -cE '^========= (Invalid|Program hit|Error)' "$OUT/sanitizer.log" || true)
    res=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$OUT/sanitizer.log" | tr '\n' ';')
    summ=$(grep -E 'ERROR SUMMARY' "$OUT/sanitizer.log" | sort | uniq -c | tr '\n' ';')
    status=ok; [ $rc -ne 0 ] && status="FAILED rc=$rc"; [ $rc -eq 125 ] && status="skipped (no time left)"
    [ $rc -eq 124 ] && status="TIMED OUT (partial, see sanitizer.log)"
    row memcheck "$status" $(( $(date +%s) - t0 )) "${res:-no result line}; $errs error lines; $summ"
    grep -E '^========= (Invalid|Program hit)' -A3 "$OUT/sanitizer.log" | head -30 | tee -a "$LOG"
elif [ -n "$BIN" ]; then
    row memcheck "skipped" 0 "compute-sanitizer not found"
fi

# ---- 5. benchmarks ------------------------------------------------------------
if [ -n "$GPU_BENCH" ]; then
    t0=$(date +%s)
    lim=$(limit_of 60 150)
    : >"$OUT/bench.csv"
    echo "bench,params,metric,value,unit" >"$OUT/bench.csv"
    # shellcheck disable=SC2086
    run_limited "$lim" "$OUT/bench.log" "$GPU_BENCH" --csv "$OUT/bench.csv" ${LL_BENCH_SECTIONS:-copy gemm layer scan gram solve}
    rc=$?
    status=ok; [ $rc -ne 0 ] && status="FAILED rc=$rc"
    [ $rc -eq 124 ] && status="TIMED OUT (partial)"; [ $rc -eq 125 ] && status="skipped (no time left)"
    row bench "$status" $(( $(date +%s) - t0 )) "$(($(wc -l <"$OUT/bench.csv") - 1)) results"
    cat "$OUT/bench.log" >>"$LOG"
elif [ -n "$BIN" ]; then
    row bench "skipped" 0 "gpu_bench binary not found"
fi

# ---- 6. end to end (bench/gpu_e2e) ------------------------------------------------
# stories260K vs its float64 reference; random-weight GPT-2-XL at 8192 tokens (the
# baseline's size: the like-for-like ratio) and 100k tokens; Llama-7B at 100k tokens.
E2E=""
if [ -n "$BIN" ]; then for cand in "$BIN/gpu_e2e" "$BIN/bench/gpu_e2e"; do [ -x "$cand" ] && E2E=$cand && break; done; fi
E2E_TMP=${LL_E2E_TMP:-${TMPDIR:-/tmp}}
E2E_TC_OTHER=0   # the attention setting that is NOT the default of kernels/ops/ops_cuda.cu (tensor cores on)
if [ -n "$E2E" ] && [ "${LL_E2E:-1}" = 1 ]; then
    t0=$(date +%s)
    lim=$(limit_of 150 45)
    # shellcheck disable=SC2086
    run_limited "$lim" "$OUT/e2e.log" "$E2E" --layers --csv "$OUT/bench.csv" --tmp "$E2E_TMP" --budget $((lim - 3)) \
        ${LL_E2E_JOBS:-stories:configs/stories260K-hf stories32:configs/stories260K-hf gpt2-xl:8192 gpt2-xl:100000 llama-7b:100000}
    rc=$?
    # the same random models with the other attention kernel (tensor-core flash attention
    # on/off: LL_CUDA_ATTN_TC), PRs compared entry by entry (bf16 compute: ~1e-3 expected)
    if [ $rc -eq 0 ] && [ "${LL_E2E_TC_COMPARE:-1}" = 1 ]; then
        lim2=$(limit_of 60 45)
        echo "== the same with LL_CUDA_ATTN_TC=$E2E_TC_OTHER" >>"$OUT/e2e.log"
        run_limited "$lim2" "$OUT/e2e.log" env LL_CUDA_ATTN_TC=$E2E_TC_OTHER "$E2E" --csv "$OUT/bench.csv" --tmp "$E2E_TMP" \
            --budget $((lim2 - 3)) gpt2-xl:100000 llama-7b:100000
        awk '/^prs /{split($0, a, "|"); k=substr(a[1], 5); n=split(a[3], v, " "); if (k in first) { m=0; for (i=1;i<=n;i++) { d=v[i]-f[k,i]; if (d<0) d=-d; r=d/f[k,i]; if (r>m) m=r } printf "e2e      %-30s %-40s %12.4g \n", k " attn_tc on/off", "max rel PR diff over entries", m } else { first[k]=1; for (i=1;i<=n;i++) f[k,i]=v[i] } }' \
            "$OUT/e2e.log" >>"$OUT/e2e.log"
    fi
    status=ok; [ $rc -ne 0 ] && status="FAILED rc=$rc"
    [ $rc -eq 124 ] && status="TIMED OUT (partial)"; [ $rc -eq 125 ] && status="skipped (no time left)"
    row e2e "$status" $(( $(date +%s) - t0 )) "$(grep -cE '^e2e ' "$OUT/e2e.log") results; $(grep -E '^(SKIPPED|FAILED)' "$OUT/e2e.log" | head -3 | tr '\n' ';')"
    cat "$OUT/e2e.log" >>"$LOG"
    rm -rf "$E2E_TMP"/layerlaw-synth-* 2>/dev/null
elif [ -n "$BIN" ]; then
    row e2e "skipped" 0 "gpu_e2e binary not found or LL_E2E=0"
fi

# ---- 7. the real binary: layerlaw run --backend cuda (once the CLI has it) ----------
if [ -n "$BIN" ] && [ -x "$BIN/layerlaw" ] && "$BIN/layerlaw" run --help 2>&1 | grep -q 'cuda'; then
    t0=$(date +%s)
    lim=$(limit_of 40 40)
    CLI_SCRIPT='
        tm() { local s e rc; s=$(date +%s.%N); "$@"; rc=$?; e=$(date +%s.%N); awk -v a="$s" -v b="$e" "BEGIN{printf \"wall %.2f s\\n\", b - a}"; return $rc; }
        echo "== layerlaw run --backend cuda, stories260K (reference PR 0.910152 0.896124 0.879437 0.865318 0.842318 0.831666; slope -0.0083567)"
        for dt in fp32 bf16; do
            tm "$BIN/layerlaw" run --backend cuda --compute $dt \
                --model configs/stories260K-hf --tokens configs/stories260K-hf/alice-200x128.tok512.jsonl \
                --out "$E2E_TMP/layerlaw-run-stories-$dt" 2>&1 || echo "rc=$? (compute $dt)"
        done
        if [ -n "$E2E" ] && [ "${LL_CLI_GPT2XL:-1}" = 1 ]; then
            echo "== layerlaw run --backend cuda, GPT-2-XL shape, random weights (dense checkpoint), 100k tokens"
            "$E2E" --tmp "$E2E_TMP" ckpt:gpt2-xl:100000 || echo "rc=$? (ckpt)"
            tm "$BIN/layerlaw" run --backend cuda --compute bf16 --batch-size 16 --batch-tokens 8192 \
                --model "$E2E_TMP/layerlaw-ckpt-gpt2-xl" --tokens "$E2E_TMP/layerlaw-ckpt-gpt2-xl/tokens.jsonl" \
                --out "$E2E_TMP/layerlaw-run-gpt2xl" 2>&1 | tail -70
        fi'
    run_limited "$lim" "$OUT/cli.log" env BIN="$BIN" E2E="$E2E" E2E_TMP="$E2E_TMP" \
        bash -c "$CLI_SCRIPT"
    [ $? -eq 124 ] && echo "*** killed after ${lim}s" >>"$OUT/cli.log"
    row cli "ran" $(( $(date +%s) - t0 )) "layerlaw run --backend cuda: see cli.log ($(grep -cE 'rc=|killed' "$OUT/cli.log") failures/kills)"
    cat "$OUT/cli.log" >>"$LOG"
    rm -rf "$E2E_TMP"/layerlaw-ckpt-* "$E2E_TMP"/layerlaw-run-* 2>/dev/null
else
    [ -n "$BIN" ] && row cli "skipped" 0 "layerlaw run has no --backend cuda in this build"
fi

# ---- 8. the authors' pipeline (baseline) ---------------------------------------
PY=$(command -v python3 || true)
if [ -n "$PY" ] && [ "${LL_BASELINE:-1}" = 1 ]; then
    t0=$(date +%s)
    lim=$(limit_of 90 5)
    if [ "$lim" -ge 30 ]; then
        run_limited "$lim" "$OUT/baseline.log" env LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" PYTHONUNBUFFERED=1 \
            "$PY" bench/gpu_baseline_authors.py --tokens 8192 --seq-len 512 --batch 8 --entries 8
        rc=$?
        status=ok; [ $rc -ne 0 ] && status="FAILED rc=$rc"
        row baseline "$status" $(( $(date +%s) - t0 )) "$(grep -E '^baseline,' "$OUT/baseline.log" | tail -1)"
    else
        row baseline "skipped" 0 "no time left (${lim}s)"
    fi
fi

# ---- summary ---------------------------------------------------------------
{
    echo "# layerlaw gpu-check"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $COMMIT"
    echo "- GPU: $GPU; driver $DRIVER; nvcc $NVCC_VER"
    echo "- total: $(elapsed) s"
    echo
    echo "| step | status | s | detail |"
    echo "|---|---|---|---|"
    for r in "${ROWS[@]}"; do echo "| ${r//|/ | } |"; done
    if [ -s "$OUT/bench.log" ]; then
        echo
        echo '```'
        grep -vE '^(device:)' "$OUT/bench.log" | head -200
        echo '```'
    fi
    if [ -s "$OUT/e2e.log" ]; then
        echo
        echo '```'
        grep -E '^(FAILED|SKIPPED|--|==)|^e2e .*(peak|max rel|slope|pearson|plain forward|forward \+ capture|overhead|batched solve|END TO END|tokens/s|layer: |capture: ms|on/off|PR outside|setup: load|setup: upload)' "$OUT/e2e.log" | head -150
        echo '```'
    fi
    if [ -s "$OUT/cli.log" ]; then
        echo
        echo '```'
        grep -vE '^\s*$' "$OUT/cli.log" | tail -60
        echo '```'
    fi
    if [ -s "$OUT/baseline.log" ]; then
        echo
        echo '```'
        tail -8 "$OUT/baseline.log"
        echo '```'
    fi
    # speed-up against the authors' pipeline, both measured in this run
    if [ -s "$OUT/baseline.log" ] && [ -s "$OUT/e2e.log" ]; then
        awk -F, '/^baseline,gpt2-xl,/{bn=$3; bs=$4}
            END { if (bs == "") exit
                  while ((getline l < E) > 0) {
                      n = split(l, f, " "); v = f[n-1]
                      if (l ~ /gpt2-xl 8192tok/ && l ~ /END TO END/ && e8 == "") e8 = v
                      if (l ~ /gpt2-xl 8192tok/ && l ~ /setup: / && !done8) s8 += v
                      if (l ~ /gpt2-xl 8192tok/ && l ~ /END TO END/) done8 = 1
                      if (l ~ /gpt2-xl 100000tok/ && l ~ /END TO END/ && e1 == "") e1 = v
                      if (l ~ /gpt2-xl 100000tok/ && l ~ /examples/ && x1 == "") x1 = f[n] }
                  print ""
                  if (e8 != "") printf "- speed-up, GPT-2-XL shape, %d examples, same run: authors %.2f s / layerlaw %.3f s end to end = %.0fx (%.0fx counting layerlaw'"'"'s setup: load, upload, fill %.2f s)\n", bn, bs, e8, bs / e8, bs / (e8 + s8), s8
                  if (e1 != "" && x1 != "") printf "- at 100k tokens (%d examples): layerlaw %.2f s end to end; the authors'"'"' pipeline extrapolated linearly from %d examples: %.0f s -> %.0fx\n", x1, e1, bn, bs * x1 / bn, bs * x1 / bn / e1 }' \
            E="$OUT/e2e.log" "$OUT/baseline.log"
    fi
    if [ -s "$OUT/gpu_tests.log" ]; then
        echo
        echo '```'
        grep -E '^(PASS|FAIL|\s+\[)' "$OUT/gpu_tests.log" | head -120
        echo '```'
    fi
} >"$OUT/summary.md"
# at most 8 files come back from a lent GPU machine: fold build.log into gpu-check.log
# and cli.log into e2e.log (after the summary has read them)
for pair in "build.log:gpu-check.log" "cli.log:e2e.log"; do
    src=$OUT/${pair%%:*}; dst=$OUT/${pair##*:}
    if [ -f "$src" ]; then { echo "== ${pair%%:*}"; cat "$src"; } >>"$dst"; rm -f "$src"; fi
done
echo
cat "$OUT/summary.md"
fail=0
for r in "${ROWS[@]}"; do case "$r" in *"|FAILED"*|*"|MISSING"*) fail=1 ;; esac; done
exit $fail
