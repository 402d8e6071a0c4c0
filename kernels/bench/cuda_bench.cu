/* Measured ceilings (the peak rates that `run` and the benchmarks report
 * against) and a device random fill for benchmarks. */
#include "core/ll_cuda.h"
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdlib.h>

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Counter-based uniform hash in [-1, 1). */
__device__ __forceinline__ float hash_unit(uint64_t i, uint64_t seed) {
    uint64_t z = i * 0x9e3779b97f4a7c15ull + seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)((double)(z >> 40) * (1.0 / 8388608.0) - 1.0);
}
/* x[i] = scale·u + offset_c where offset_c = offsets·u(column) (rows of `cols`). */
__global__ void k_fill_random(float *x, size_t n, int cols, uint64_t seed, float scale, float offsets) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = scale * hash_unit(i, seed);
        if (offsets != 0 && cols > 0) v += offsets * hash_unit((uint64_t)(i % cols), seed ^ 0x5bd1e995ull);
        x[i] = v;
    }
}
__global__ void k_fill_bf16(__nv_bfloat16 *x, size_t n, uint64_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = __float2bfloat16(hash_unit(i, seed));
}

extern "C" int ll_cuda_fill_random(float *x, size_t n, int cols, uint64_t seed, float scale, float offsets) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    LL_LAUNCH(k_fill_random, 1024, 256, 0, c->stream, x, n, cols, seed, scale, offsets);
    return 0;
}

__global__ void k_fill_half(__half *x, size_t n, uint64_t seed, float scale) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = __float2half(scale * hash_unit(i, seed));
}
__global__ void k_fill_bf16s(__nv_bfloat16 *x, size_t n, uint64_t seed, float scale) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = __float2bfloat16(scale * hash_unit(i, seed));
}

static int random_weight_(ll_weight *w, int64_t rows, int64_t cols, ll_dtype dt, uint64_t seed, float scale) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    size_t n = (size_t)rows * cols;
    void *p = NULL;
    LL_CU(cudaMalloc(&p, n * (dt == LL_DT_F32 ? 4 : 2)));
    if (dt == LL_DT_F32) LL_LAUNCH(k_fill_random, 1024, 256, 0, c->stream, (float *)p, n, 0, seed, scale, 0.0f);
    else if (dt == LL_DT_BF16) LL_LAUNCH(k_fill_bf16s, 1024, 256, 0, c->stream, (__nv_bfloat16 *)p, n, seed, scale);
    else LL_LAUNCH(k_fill_half, 1024, 256, 0, c->stream, (__half *)p, n, seed, scale);
    w->data = p;
    w->dtype = dt;
    w->rows = rows;
    w->cols = cols;
    return 0;
}
extern "C" int ll_cuda_random_weight(ll_weight *w, int64_t rows, int64_t cols, ll_dtype dt, uint64_t seed,
                                     float scale) {
    if (dt != LL_DT_F32 && dt != LL_DT_BF16 && dt != LL_DT_F16) {
        ll_set_error("ll_cuda_random_weight: dtype %d not supported", (int)dt);
        return -1;
    }
    return random_weight_(w, rows, cols, dt, seed, scale);
}

static int gemm_bf16(ll_cuda_ctx *c, int size, int reps, double *tflops, void *A, void *B, void *C) {
    const float one = 1.0f, zero = 0.0f;
    cudaEvent_t e0, e1;
    LL_CU(cudaEventCreate(&e0));
    LL_CU(cudaEventCreate(&e1));
    for (int w = 0; w < 3; w++)
        LL_CUBLAS(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, size, size, size, &one, A, CUDA_R_16BF, size, B,
                               CUDA_R_16BF, size, &zero, C, CUDA_R_16BF, size, CUBLAS_COMPUTE_32F,
                               CUBLAS_GEMM_DEFAULT));
    float *ms = (float *)malloc(sizeof(float) * (size_t)reps);
    for (int r = 0; r < reps; r++) {
        LL_CU(cudaEventRecord(e0, c->stream));
        LL_CUBLAS(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, size, size, size, &one, A, CUDA_R_16BF, size, B,
                               CUDA_R_16BF, size, &zero, C, CUDA_R_16BF, size, CUBLAS_COMPUTE_32F,
                               CUBLAS_GEMM_DEFAULT));
        LL_CU(cudaEventRecord(e1, c->stream));
        LL_CU(cudaEventSynchronize(e1));
        LL_CU(cudaEventElapsedTime(&ms[r], e0, e1));
    }
    qsort(ms, (size_t)reps, sizeof(float), cmp_f);
    *tflops = 2.0 * size * (double)size * size / (ms[reps / 2] * 1e-3) / 1e12;
    free(ms);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return 0;
}

extern "C" int ll_cuda_measure_gemm_bf16(int size, int reps, double *tflops) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    if (reps < 1) reps = 1;
    size_t n = (size_t)size * size;
    void *A = NULL, *B = NULL, *C = NULL;
    LL_CU(cudaMalloc(&A, n * 2));
    LL_CU(cudaMalloc(&B, n * 2));
    LL_CU(cudaMalloc(&C, n * 2));
    LL_LAUNCH(k_fill_bf16, 1024, 256, 0, c->stream, (__nv_bfloat16 *)A, n, 1);
    LL_LAUNCH(k_fill_bf16, 1024, 256, 0, c->stream, (__nv_bfloat16 *)B, n, 2);
    int rc = gemm_bf16(c, size, reps, tflops, A, B, C);
    cudaFree(A);
    cudaFree(B);
    cudaFree(C);
    return rc;
}

extern "C" int ll_cuda_measure_copy(size_t bytes, int reps, double *gbps) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    if (reps < 1) reps = 1;
    void *a = NULL, *b = NULL;
    LL_CU(cudaMalloc(&a, bytes));
    LL_CU(cudaMalloc(&b, bytes));
    LL_CU(cudaMemsetAsync(a, 1, bytes, c->stream));
    cudaEvent_t e0, e1;
    LL_CU(cudaEventCreate(&e0));
    LL_CU(cudaEventCreate(&e1));
    LL_CU(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, c->stream));
    float *ms = (float *)malloc(sizeof(float) * (size_t)reps);
    for (int r = 0; r < reps; r++) {
        LL_CU(cudaEventRecord(e0, c->stream));
        LL_CU(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, c->stream));
        LL_CU(cudaEventRecord(e1, c->stream));
        LL_CU(cudaEventSynchronize(e1));
        LL_CU(cudaEventElapsedTime(&ms[r], e0, e1));
    }
    qsort(ms, (size_t)reps, sizeof(float), cmp_f);
    *gbps = 2.0 * (double)bytes / (ms[reps / 2] * 1e-3) / 1e9;
    free(ms);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cudaFree(a);
    cudaFree(b);
    return 0;
}

/* In place on a device weight: scale·U(-1,1) (scale != 0) or the constant value. */
__global__ void k_fill_w(void *x, size_t n, int dt, uint64_t seed, float scale, float value) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = scale != 0.0f ? scale * hash_unit(i, seed) : value;
        if (dt == LL_DT_F32) ((float *)x)[i] = v;
        else if (dt == LL_DT_BF16) ((__nv_bfloat16 *)x)[i] = __float2bfloat16(v);
        else ((__half *)x)[i] = __float2half(v);
    }
}
extern "C" int ll_cuda_fill_weight(ll_weight *w, uint64_t seed, float scale, float value) {
    if (!w->data) return 0;
    if (w->dtype != LL_DT_F32 && w->dtype != LL_DT_BF16 && w->dtype != LL_DT_F16) {
        ll_set_error("ll_cuda_fill_weight: dtype %d not supported", (int)w->dtype);
        return -1;
    }
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    size_t n = (size_t)w->rows * (size_t)w->cols;
    LL_LAUNCH(k_fill_w, 2048, 256, 0, c->stream, (void *)w->data, n, (int)w->dtype, seed, scale, value);
    return 0;
}
