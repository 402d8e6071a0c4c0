/* The CUDA backend's process-wide context: device, stream, cuBLAS and
 * cuSOLVER handles (created on first use), plain memory helpers and the
 * event timer used for per-layer timing. */
#include "core/ll_cuda.h"
#include <stdio.h>
#include <stdlib.h>

static ll_cuda_ctx g_ctx;
static int g_want_device = 0;

const char *ll_cublas_status_str(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "CUBLAS_STATUS_?";
    }
}
const char *ll_cusolver_status_str(cusolverStatus_t s) {
    switch (s) {
    case CUSOLVER_STATUS_SUCCESS: return "CUSOLVER_STATUS_SUCCESS";
    case CUSOLVER_STATUS_NOT_INITIALIZED: return "CUSOLVER_STATUS_NOT_INITIALIZED";
    case CUSOLVER_STATUS_ALLOC_FAILED: return "CUSOLVER_STATUS_ALLOC_FAILED";
    case CUSOLVER_STATUS_INVALID_VALUE: return "CUSOLVER_STATUS_INVALID_VALUE";
    case CUSOLVER_STATUS_ARCH_MISMATCH: return "CUSOLVER_STATUS_ARCH_MISMATCH";
    case CUSOLVER_STATUS_EXECUTION_FAILED: return "CUSOLVER_STATUS_EXECUTION_FAILED";
    case CUSOLVER_STATUS_INTERNAL_ERROR: return "CUSOLVER_STATUS_INTERNAL_ERROR";
    case CUSOLVER_STATUS_NOT_SUPPORTED: return "CUSOLVER_STATUS_NOT_SUPPORTED";
    default: return "CUSOLVER_STATUS_?";
    }
}

static int ctx_init(void) {
    int n = 0;
    LL_CU(cudaGetDeviceCount(&n));
    if (g_want_device < 0 || g_want_device >= n) {
        ll_set_error("CUDA: device %d requested, %d present", g_want_device, n);
        return -1;
    }
    g_ctx.device = g_want_device;
    LL_CU(cudaSetDevice(g_ctx.device));
    LL_CU(cudaGetDeviceProperties(&g_ctx.prop, g_ctx.device));
    LL_CU(cudaStreamCreateWithFlags(&g_ctx.stream, cudaStreamNonBlocking));
    LL_CUBLAS(cublasCreate(&g_ctx.blas));
    LL_CUBLAS(cublasSetStream(g_ctx.blas, g_ctx.stream));
    LL_CUSOLVER(cusolverDnCreate(&g_ctx.solver));
    LL_CUSOLVER(cusolverDnSetStream(g_ctx.solver, g_ctx.stream));
    g_ctx.ready = 1;
    return 0;
}

ll_cuda_ctx *ll_cuda_ctx_get(void) {
    if (!g_ctx.ready && ctx_init() != 0) return NULL;
    return &g_ctx;
}

extern "C" int ll_cuda_init(int device) {
    if (g_ctx.ready) {
        if (device != g_ctx.device) {
            ll_set_error("CUDA: already initialised on device %d (asked for %d)", g_ctx.device, device);
            return -1;
        }
        return 0;
    }
    g_want_device = device;
    return ll_cuda_ctx_get() ? 0 : -1;
}

extern "C" int ll_cuda_describe(char *buf, int cap) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    int drv = 0, rt = 0;
    LL_CU(cudaDriverGetVersion(&drv));
    LL_CU(cudaRuntimeGetVersion(&rt));
    snprintf(buf, (size_t)cap, "%s, sm_%d%d, %d SMs, %.1f GiB, L2 %d MiB, driver CUDA %d.%d, runtime %d.%d",
             c->prop.name, c->prop.major, c->prop.minor, c->prop.multiProcessorCount,
             (double)c->prop.totalGlobalMem / (1 << 30), c->prop.l2CacheSize >> 20,
             drv / 1000, (drv % 1000) / 10, rt / 1000, (rt % 1000) / 10);
    return 0;
}

extern "C" int ll_cuda_sync(void) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    LL_CU(cudaStreamSynchronize(c->stream));
    return 0;
}

extern "C" void *ll_cuda_stream(void) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    return c ? (void *)c->stream : NULL;
}

static int malloc_(void **p, size_t bytes) {
    LL_CU(cudaMalloc(p, bytes ? bytes : 16));
    return 0;
}
extern "C" void *ll_cuda_malloc(size_t bytes) {
    if (!ll_cuda_ctx_get()) return NULL;
    void *p = NULL;
    if (malloc_(&p, bytes) != 0) {
        char tmp[900];
        snprintf(tmp, sizeof tmp, "%s", ll_last_error());
        ll_set_error("%s (%.3f GiB)", tmp, (double)bytes / (1 << 30));
        return NULL;
    }
    return p;
}
extern "C" void ll_cuda_free(void *p) {
    if (p) cudaFree(p); /* best effort: nothing to report on a free */
}
extern "C" int ll_cuda_memcpy_h2d(void *dst, const void *src, size_t bytes) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    LL_CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    LL_CU(cudaStreamSynchronize(c->stream));
    return 0;
}
extern "C" int ll_cuda_memcpy_d2h(void *dst, const void *src, size_t bytes) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    LL_CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    LL_CU(cudaStreamSynchronize(c->stream));
    return 0;
}
extern "C" int ll_cuda_memset(void *dst, int value, size_t bytes) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    LL_CU(cudaMemsetAsync(dst, value, bytes, c->stream));
    return 0;
}

/* ---- event timer --------------------------------------------------------- */
struct ll_cuda_timer {
    int n;
    cudaEvent_t *ev;
};
extern "C" ll_cuda_timer *ll_cuda_timer_new(int n_marks) {
    if (!ll_cuda_ctx_get()) return NULL;
    ll_cuda_timer *t = (ll_cuda_timer *)calloc(1, sizeof *t);
    t->ev = (cudaEvent_t *)calloc((size_t)n_marks, sizeof(cudaEvent_t));
    for (int i = 0; i < n_marks; i++) {
        cudaError_t e = cudaEventCreate(&t->ev[i]);
        if (e != cudaSuccess) {
            ll_set_error("CUDA: cudaEventCreate failed: %s (%s)", cudaGetErrorString(e), __func__);
            ll_cuda_timer_free(t);
            return NULL;
        }
        t->n = i + 1;
    }
    return t;
}
extern "C" void ll_cuda_timer_free(ll_cuda_timer *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) cudaEventDestroy(t->ev[i]);
    free(t->ev);
    free(t);
}
extern "C" int ll_cuda_timer_mark(ll_cuda_timer *t, int i) {
    if (i < 0 || i >= t->n) { ll_set_error("CUDA timer: mark %d out of range %d", i, t->n); return -1; }
    LL_CU(cudaEventRecord(t->ev[i], g_ctx.stream));
    return 0;
}
extern "C" int ll_cuda_timer_elapsed(ll_cuda_timer *t, int i, int j, float *ms) {
    if (i < 0 || j < 0 || i >= t->n || j >= t->n) { ll_set_error("CUDA timer: marks %d,%d out of range %d", i, j, t->n); return -1; }
    LL_CU(cudaEventSynchronize(t->ev[j]));
    LL_CU(cudaEventElapsedTime(ms, t->ev[i], t->ev[j]));
    return 0;
}
