#!/usr/bin/env bash
# bench/bench_forward_gpu.sh — `layerlaw run --backend cuda` against the CPU
# backend and the references, on a machine with an NVIDIA GPU.
#     BIN=build/layerlaw OUT=results/run-gpu bench/bench_forward_gpu.sh
# 1. stories260K (trained Llama) fp32 and bf16 vs the float64 table of
#    shared/data/README.md; 2. every model fixture: cuda vs expected.json pr_exact
#    and vs the CPU backend; 3. --dump-hidden through the cuda backend.
# Writes $OUT/run-gpu.log (everything) and prints a summary.
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-build/layerlaw}
OUT=${OUT:-results/run-gpu}
SHARED=${LAYERLAW_SHARED:-../shared}
mkdir -p "$OUT"
LOG=$OUT/run-gpu.log
: >"$LOG"
TMP=$(mktemp -d)
# prebuilt run: libraries and shared data carried next to the binary
# (build-run/lib.tar.xz, build-run/shared: see the end of this file)
BDIR=$(dirname "$BIN")
if [ -f "$BDIR/lib.tar.xz" ]; then
    mkdir -p "$TMP/lib" && tar -xJf "$BDIR/lib.tar.xz" -C "$TMP/lib"
    LIBDIRS=$TMP/lib
    PYDIRS=$(python3 -c '
import importlib, os
for m in ["nvidia", "nvidia.cublas", "nvidia.cusolver", "nvidia.cu13"]:
    try: mod = importlib.import_module(m)
    except Exception: continue
    for base in getattr(mod, "__path__", []):
        for root, dirs, files in os.walk(base):
            if any(f.startswith(("libcublas.so", "libcusolver.so")) for f in files): print(root)
' 2>/dev/null)
    for dd in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib $PYDIRS; do
        [ -d "$dd" ] && LIBDIRS="$LIBDIRS:$dd"
    done
    export LD_LIBRARY_PATH="$LIBDIRS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
[ -d "$BDIR/shared/data" ] && SHARED=$BDIR/shared
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" >>"$LOG"
nvidia-smi -L >>"$LOG" 2>&1
"$BIN" info >>"$LOG" 2>&1

cmp_json() { # law.json reference-list label
    python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
law = json.load(open(sys.argv[1])); ref = json.loads(sys.argv[2]); label = sys.argv[3]
pr = [l["pr"] for l in law["layers"]]
rel = max(abs(a - b) / abs(b) for a, b in zip(pr, ref))
tp = law["throughput"]
print(f"{label:34s} max rel PR {rel:.2e}  tokens/s {tp['tokens_per_s']:.0f}  backend {law['config']['backend']}"
      f" compute {law['config'].get('compute')}")
EOF
}

ST=$SHARED/data/checkpoints/stories260K-hf
REF='[0.910152, 0.896124, 0.879437, 0.865318, 0.842318, 0.831666]'
for c in fp32 bf16; do
    timeout 120 "$BIN" run --backend cuda --compute $c --model "$ST" --tokens "$ST/alice-200x128.tok512.jsonl" \
        --out "$TMP/st_$c" >>"$LOG" 2>&1 && cmp_json "$TMP/st_$c/law.json" "$REF" "stories260K $c vs float64 table" | tee -a "$LOG"
done
for fx in gpt2 gpt2_sharded neox_parallel neox_sequential llama_gqa llama3_scaling mistral qwen2 llama_bf16 rwkv rwkv_bin mamba; do
    D=tests/fixtures/models/$fx
    EXP=$(python3 -c "import json;print(json.load(open('$D/expected.json'))['pr_exact'])")
    timeout 60 "$BIN" run --backend cuda --model $D --tokens $D/tokens.jsonl --out "$TMP/g_$fx" --quiet >>"$LOG" 2>&1 \
        && cmp_json "$TMP/g_$fx/law.json" "$EXP" "$fx cuda vs pr_exact" | tee -a "$LOG" \
        || echo "$fx: cuda run FAILED (see log)" | tee -a "$LOG"
    timeout 60 "$BIN" run --backend cpu --model $D --tokens $D/tokens.jsonl --out "$TMP/c_$fx" --quiet >>"$LOG" 2>&1 \
        && cmp_json "$TMP/c_$fx/law.json" "$EXP" "$fx cpu vs pr_exact" | tee -a "$LOG"
done
D=tests/fixtures/models/llama_gqa
timeout 60 "$BIN" run --backend cuda --model $D --tokens $D/tokens.jsonl --out "$TMP/dump" --quiet \
    --dump-hidden "$TMP/h.npy" >>"$LOG" 2>&1 && echo "dump through cuda: ok ($(stat -c %s "$TMP/h.npy") bytes)" | tee -a "$LOG" \
    || echo "dump through cuda: FAILED" | tee -a "$LOG"
rm -rf "$TMP"

# Prebuilt run on a GPU machine without our Debian libraries: here
#   make BUILD=build-run CUDA=1 build-run/layerlaw
#   cp .carry/lib.tar.xz build-run/   (scripts/gpu-carry.sh makes it)
#   mkdir -p build-run/shared/data/checkpoints
#   cp -r ../shared/data/checkpoints/stories260K-hf build-run/shared/data/checkpoints/
# then carry build-run and run BIN=build-run/layerlaw bench/bench_forward_gpu.sh there.
