/* The CPU backend: context, memory, and THE op table ll_cpu_ops(), whose ops
 * live by kind in host/ops/cpu_dense.c (linear, norms, attention, ...) and
 * host/ops/cpu_recurrent.c (RWKV-4 and Mamba recurrences). */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "ops/cpu_ops.h"
#include "ops/ops.h"

/* OpenBLAS extension (declared in its cblas.h; repeated here for builds whose
 * cblas.h does not). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

void *ll_cpu_ctx_new(int threads) {
    cpu_ctx *c = ll_xcalloc(1, sizeof *c);
    if (threads <= 0) threads = omp_get_num_procs();
    c->threads = threads;
    omp_set_num_threads(threads);
    /* one thread pool: OpenMP.  OpenBLAS stays single-threaded (its pthread
     * pool spins for ~0.1 s after each call and fights the OpenMP workers);
     * cpu_linear splits rows over OpenMP threads itself. */
    openblas_set_num_threads(1);
    return c;
}
void ll_cpu_ctx_free(void *ctx) { free(ctx); }

static void *cpu_alloc(void *ctx, size_t bytes) { (void)ctx; return ll_xmalloc_aligned(bytes ? bytes : 64); }
static void cpu_free(void *ctx, void *p) { (void)ctx; free(p); }
static void cpu_copy(void *ctx, void *dst, const void *src, size_t bytes) { (void)ctx; if (dst != src) memmove(dst, src, bytes); }
static int cpu_sync(void *ctx) { (void)ctx; return 0; }

static const ll_ops cpu_ops = {
    .name = "cpu",
    .host_memory = 1,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .sync = cpu_sync,
    .linear = ll_cpu_linear,
    .embedding = ll_cpu_embedding,
    .layernorm = ll_cpu_layernorm,
    .rmsnorm = ll_cpu_rmsnorm,
    .add = ll_cpu_add,
    .mul = ll_cpu_mul,
    .scale = ll_cpu_scale,
    .gelu_tanh = ll_cpu_gelu_tanh,
    .gelu_erf = ll_cpu_gelu_erf,
    .silu = ll_cpu_silu,
    .swiglu = ll_cpu_swiglu,
    .rope = ll_cpu_rope,
    .attention = ll_cpu_attention,
    .copy2d = ll_cpu_copy2d,
    .sigmoid = ll_cpu_sigmoid,
    .relu_sq = ll_cpu_relu_sq,
    /* recurrent ops (host/ops/cpu_recurrent.c) */
    .rwkv_shift_mix = ll_cpu_rwkv_shift_mix,
    .wkv4 = ll_cpu_wkv4,
    .conv1d_silu = ll_cpu_conv1d_silu,
    .selective_scan = ll_cpu_selective_scan,
    /* appended for the encoder families and Mamba-2 */
    .relu = ll_cpu_relu,
    .ssd_scan = ll_cpu_ssd_scan,
};

const ll_ops *ll_cpu_ops(void) { return &cpu_ops; }
