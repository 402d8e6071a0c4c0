/* The CUDA backend's process-wide context: device, stream, cuBLAS and
 * cuSOLVER handles (created on first use), plain memory helpers and the
 * event timer used for per-layer timing. */
#include "core/ll_cuda.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <mutex>
#include <unordered_map>
extern "C" {
#include "backend/oom.h"
}

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

/* ---- device memory --------------------------------------------------------
 * Every device buffer of the backend is allocated here (ll_cuda_alloc /
 * ll_cuda_try_alloc) and freed with ll_cuda_free, so that (a) an out-of-memory
 * failure is one line naming what did not fit (backend/oom.h) and (b) the test
 * cap LAYERLAW_CUDA_MEM_LIMIT is checked against the bytes this process holds. */
static std::mutex g_mem_mu;
static std::unordered_map<void *, size_t> g_mem_live;
static size_t g_mem_used, g_mem_limit;
static int g_mem_limit_read;

static int mem_limit_(size_t *limit) {
    if (!g_mem_limit_read) {
        const char *s = getenv(LL_CUDA_MEM_LIMIT_ENV);
        if (s && *s && ll_parse_bytes(s, &g_mem_limit) != 0) return -1;
        g_mem_limit_read = 1;
    }
    *limit = g_mem_limit;
    return 0;
}

extern "C" int ll_cuda_mem_info(size_t *free_b, size_t *total_b, int *limited) {
    if (!ll_cuda_ctx_get()) return -1;
    size_t fre = 0, tot = 0, lim = 0;
    LL_CU(cudaMemGetInfo(&fre, &tot));
    if (mem_limit_(&lim) != 0) return -1;
    if (limited) *limited = lim > 0;
    if (lim > 0) {
        std::lock_guard<std::mutex> g(g_mem_mu);
        size_t room = lim > g_mem_used ? lim - g_mem_used : 0;
        if (fre > room) fre = room;
        if (tot > lim) tot = lim;
    }
    *free_b = fre;
    *total_b = tot;
    return 0;
}

extern "C" int ll_cuda_try_alloc(void **p, size_t bytes) {
    *p = NULL;
    if (!ll_cuda_ctx_get()) return -1;
    size_t lim = 0;
    if (mem_limit_(&lim) != 0) return -1;
    if (bytes == 0) bytes = 16;
    std::lock_guard<std::mutex> g(g_mem_mu);
    if (lim > 0 && (bytes > lim || g_mem_used > lim - bytes)) return 1;
    cudaError_t e = cudaMalloc(p, bytes);
    if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError(); /* not sticky: clear it */
        *p = NULL;
        return 1;
    }
    if (e != cudaSuccess) {
        ll_set_error("CUDA device %d: cudaMalloc of %zu bytes failed: %s", g_ctx.device, bytes, cudaGetErrorString(e));
        *p = NULL;
        return -1;
    }
    g_mem_live[*p] = bytes;
    g_mem_used += bytes;
    return 0;
}

extern "C" int ll_cuda_alloc(void **p, size_t bytes, const char *what_fmt, ...) {
    int r = ll_cuda_try_alloc(p, bytes);
    if (r <= 0) return r;
    char what[256];
    va_list ap;
    va_start(ap, what_fmt);
    vsnprintf(what, sizeof what, what_fmt ? what_fmt : "", ap);
    va_end(ap);
    size_t fre = 0, tot = 0;
    int limited = 0;
    if (ll_cuda_mem_info(&fre, &tot, &limited) != 0) { fre = 0; tot = 0; }
    ll_oom_set_error(g_ctx.device, bytes ? bytes : 16, what, fre, tot, limited);
    return -1;
}

extern "C" void *ll_cuda_malloc(size_t bytes) {
    void *p = NULL;
    const char *label = ll_oom_label_get();
    if (ll_cuda_alloc(&p, bytes, "%s", *label ? label : "device buffers") != 0) return NULL;
    return p;
}
extern "C" void ll_cuda_free(void *p) {
    if (!p) return;
    {
        std::lock_guard<std::mutex> g(g_mem_mu);
        auto it = g_mem_live.find(p);
        if (it != g_mem_live.end()) {
            g_mem_used -= it->second;
            g_mem_live.erase(it);
        }
    }
    cudaFree(p); /* best effort: nothing to report on a free */
}
extern "C" size_t ll_cuda_mem_used(void) {
    std::lock_guard<std::mutex> g(g_mem_mu);
    return g_mem_used;
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
