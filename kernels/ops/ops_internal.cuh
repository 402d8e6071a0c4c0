/* What the CUDA op table's files share (kernels/ops/, internal): the op
 * context, the failure recording of the table's entries, the scratch
 * buffer, and the entry points the table (ops_cuda.cu) lists.  The ops by
 * kind, as on the CPU side: ops_dense.cu (linear, embedding, elementwise,
 * rope, copy2d, weight upload), ops_norms.cu, ops_attention.cu,
 * ops_recurrent.cu (RWKV, Mamba scans, Mamba-2 SSD). */
#ifndef LL_OPS_INTERNAL_CUH
#define LL_OPS_INTERNAL_CUH
#include "core/ll_cuda.h"
#include "core/reduce.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ll_cuda_ctx *c;
    ll_dtype compute;
    int attn_tc; /* bf16 tensor-core attention (compute BF16, hd 64/128); default on, env LAYERLAW_CUDA_ATTN_TC=0: off */
    int sscan_serial; /* env LAYERLAW_CUDA_SSCAN_SERIAL=1: the serial conv1d and unstaged selective-scan kernels (comparison) */
    int failed;
    char err[1024];
    void *scratch;
    size_t scratch_bytes;
} opsctx;

/* The first failure of an op is kept in the context (later ops are skipped,
 * sync() reports it): OPCALL wraps each launcher. */
void ops_record(opsctx *x);
#define OPCALL(ctx, expr)                      \
    do {                                       \
        opsctx *x_ = (opsctx *)(ctx);          \
        if (x_->failed) return;                \
        if ((expr) != 0) ops_record(x_);       \
    } while (0)

/* The context's scratch buffer, grown to at least `bytes`. */
int ops_scratch_get(opsctx *x, size_t bytes, void **p);

static inline unsigned grid_for(size_t n, int threads) {
    size_t b = (n + threads - 1) / threads;
    if (b > 65535u * 16) b = 65535u * 16;
    return (unsigned)(b ? b : 1);
}

/* ---- the table's entries (kernels/ops/ops_*.cu) ---- */
void *cu_alloc(void *ctx, size_t bytes);
void cu_free(void *ctx, void *p);
void cu_upload(void *ctx, void *dst, const void *src, size_t bytes);
void cu_download(void *ctx, void *dst, const void *src, size_t bytes);
int cu_sync(void *ctx);
void cu_linear(void *ctx, float *out, const float *in, const ll_weight *W, const float *bias, int N);
void cu_embedding(void *ctx, float *out, const ll_weight *table, const int32_t *ids, int N, int accumulate);
void cu_layernorm(void *ctx, float *out, const float *in, const float *w, const float *b, int N, int C, float eps);
void cu_rmsnorm(void *ctx, float *out, const float *in, const float *w, int N, int C, float eps);
void cu_gelu_tanh(void *ctx, float *o, const float *i, size_t n);
void cu_gelu_erf(void *ctx, float *o, const float *i, size_t n);
void cu_silu(void *ctx, float *o, const float *i, size_t n);
void cu_sigmoid(void *ctx, float *o, const float *i, size_t n);
void cu_relu_sq(void *ctx, float *o, const float *i, size_t n);
void cu_relu(void *ctx, float *o, const float *i, size_t n);
void cu_add(void *ctx, float *o, const float *a, const float *b, size_t n);
void cu_mul(void *ctx, float *o, const float *a, const float *b, size_t n);
void cu_swiglu(void *ctx, float *o, const float *g, const float *u, size_t n);
void cu_scale(void *ctx, float *o, const float *a, float s, size_t n);
void cu_rope(void *ctx, const ll_rope_params *p);
void cu_attention(void *ctx, const ll_attn_params *p);
void cu_copy2d(void *ctx, float *dst, int64_t drs, const float *src, int64_t srs, int rows, int cols);
void cu_shift_mix(void *ctx, float *ok, float *ov, float *orr, const float *xx, const float *prev, const float *mk, const float *mv, const float *mr, int B, int T, int C);
void cu_wkv4(void *ctx, float *out, const float *k, const float *v, const float *td, const float *tf, float *state, int B, int T, int A);
void cu_conv1d_silu(void *ctx, float *out, const float *in, int64_t in_rs, const float *w, const float *bias, float *state, int B, int T, int E, int K);
void cu_sscan(void *ctx, const ll_sscan_params *p);
void cu_ssd(void *ctx, const ll_ssd_params *p);
#endif
