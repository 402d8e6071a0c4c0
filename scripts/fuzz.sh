#!/usr/bin/env bash
# Runs every libFuzzer harness (build-fuzz/fuzz/fuzz_<parser>, from
# tests/fuzz/fuzz_<parser>.c; `make fuzz` builds them) for SECONDS each.
#   bash scripts/fuzz.sh SECONDS [parser ...]     (default 20 s, every harness)
# Seeds: tests/fuzz/corpus/fuzz_<parser>/ (read only; new inputs go to a
# temporary folder, or to $FUZZ_CORPUS_OUT/<parser>/ when set, to keep them).
# Dictionary: tests/fuzz/fuzz_<parser>.dict if present, else the shared one of
# its kind.  A finding (crash, leak, sanitizer report, timeout, out-of-memory)
# is saved as build-fuzz/findings/<parser>-crash-<sha1> (reproduce: run the
# harness on that file) and makes the script exit 1.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
shift || true
want=" $* "
make --no-print-directory fuzz -j"${FUZZ_JOBS:-2}" >/tmp/layerlaw-fuzz-build.$$ 2>&1 || {
    tail -30 /tmp/layerlaw-fuzz-build.$$; rm -f /tmp/layerlaw-fuzz-build.$$; echo "fuzz: build failed"; exit 1; }
rm -f /tmp/layerlaw-fuzz-build.$$
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p build-fuzz/findings
dict_for() {
    local n=$1
    if [ -f "tests/fuzz/fuzz_$n.dict" ]; then echo "tests/fuzz/fuzz_$n.dict"; return; fi
    case $n in
        config|safetensors|tokenizer) echo tests/fuzz/json.dict ;;
        pickle|zip) echo tests/fuzz/pickle.dict ;;
        npy) echo tests/fuzz/npy.dict ;;
        tokens|corpus|encode) echo tests/fuzz/text.dict ;;
    esac
}
n=0; bad=0
printf '%-12s %10s %8s %8s %8s %6s\n' harness execs exec/s cov ft result
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c); name=${name#fuzz_}
    [ "$want" != "  " ] && [[ "$want" != *" $name "* ]] && continue
    bin=build-fuzz/fuzz/fuzz_$name
    out=${FUZZ_CORPUS_OUT:+$FUZZ_CORPUS_OUT/$name}
    out=${out:-$work/$name}
    mkdir -p "$out" "tests/fuzz/corpus/fuzz_$name"
    args=(-max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=25
          -artifact_prefix="build-fuzz/findings/$name-")
    d=$(dict_for "$name"); [ -n "$d" ] && args+=(-dict="$d")
    "$bin" "${args[@]}" "$out" "tests/fuzz/corpus/fuzz_$name" >"$work/$name.log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name.log" | grep -o '[0-9]*$')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$work/$name.log" | grep -o '[0-9]*$')
    cov=$(grep -oE 'cov: [0-9]+' "$work/$name.log" | tail -1 | grep -oE '[0-9]+')
    ft=$(grep -oE 'ft: [0-9]+' "$work/$name.log" | tail -1 | grep -oE '[0-9]+')
    n=$((n + 1))
    if [ $rc -eq 0 ]; then res=ok; else res="FINDING(rc=$rc)"; bad=$((bad + 1)); fi
    printf '%-12s %10s %8s %8s %8s %6s\n' "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$res"
    if [ $rc -ne 0 ]; then
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written|bad error message' "$work/$name.log" | head -8 | sed 's/^/    /'
    fi
done
echo "fuzz: $n harnesses, ${secs}s each, $bad with findings"
[ $bad -eq 0 ]
