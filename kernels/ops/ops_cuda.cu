/* The CUDA backend's op table (host/ops/ops.h): the same ops, names and
 * signatures as the CPU backend (host/ops/cpu_backend.c), on device memory.
 *
 * Ops return nothing (ops.h): each launcher below is an int function that
 * fails through the LL_CU* / LL_LAUNCH macros (naming call, file and line);
 * the table's entries record the first failure in the context, later ops are
 * skipped, and sync() reports it.
 *
 * Precision: activations are float32.  linear: F32 weights with compute F32
 * run SGEMM without TF32 (CUBLAS_COMPUTE_32F_PEDANTIC); BF16/F16 weights
 * convert the activations to the weight dtype and run cublasGemmEx with FP32
 * accumulation; F32 weights with compute BF16 let cuBLAS down-convert
 * (CUBLAS_COMPUTE_32F_FAST_16BF).  Reductions (norms) accumulate in float64
 * as the CPU backend does. */
#include "core/ll_cuda.h"
#include "core/reduce.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>
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

static void record(opsctx *x) {
    if (!x->failed) {
        x->failed = 1;
        snprintf(x->err, sizeof x->err, "%s", ll_last_error());
    }
}
#define OPCALL(ctx, expr)                      \
    do {                                       \
        opsctx *x_ = (opsctx *)(ctx);          \
        if (x_->failed) return;                \
        if ((expr) != 0) record(x_);           \
    } while (0)

static int scratch_get(opsctx *x, size_t bytes, void **p) {
    if (bytes > x->scratch_bytes) {
        if (x->scratch) {
            LL_CU(cudaStreamSynchronize(x->c->stream));
            ll_cuda_free(x->scratch);
            x->scratch = NULL;
            x->scratch_bytes = 0;
        }
        size_t want = bytes + bytes / 4;
        LL_TRY(ll_cuda_alloc(&x->scratch, want, "the op scratch buffer (%zu bytes asked)", bytes));
        x->scratch_bytes = want;
    }
    *p = x->scratch;
    return 0;
}

static inline unsigned grid_for(size_t n, int threads) {
    size_t b = (n + threads - 1) / threads;
    if (b > 65535u * 16) b = 65535u * 16;
    return (unsigned)(b ? b : 1);
}

/* ------------------------------------------------------------------ memory */
static void *cu_alloc(void *ctx, size_t bytes) {
    (void)ctx;
    return ll_cuda_malloc(bytes);
}
static void cu_free(void *ctx, void *p) {
    (void)ctx;
    ll_cuda_free(p);
}
static int up_(opsctx *x, void *dst, const void *src, size_t bytes) {
    LL_CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, x->c->stream));
    LL_CU(cudaStreamSynchronize(x->c->stream));
    return 0;
}
static int down_(opsctx *x, void *dst, const void *src, size_t bytes) {
    LL_CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, x->c->stream));
    LL_CU(cudaStreamSynchronize(x->c->stream));
    return 0;
}
static void cu_upload(void *ctx, void *dst, const void *src, size_t bytes) { OPCALL(ctx, up_((opsctx *)ctx, dst, src, bytes)); }
static void cu_download(void *ctx, void *dst, const void *src, size_t bytes) { OPCALL(ctx, down_((opsctx *)ctx, dst, src, bytes)); }
static int sync_(opsctx *x) {
    LL_CU(cudaStreamSynchronize(x->c->stream));
    LL_CU(cudaGetLastError());
    return 0;
}
static int cu_sync(void *ctx) {
    opsctx *x = (opsctx *)ctx;
    if (!x->failed && sync_(x) != 0) record(x);
    if (x->failed) {
        ll_set_error("%s", x->err);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ linear */
__global__ void k_f32_to_bf16(__nv_bfloat16 *o, const float *i, size_t n) {
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x)
        o[k] = __float2bfloat16(i[k]);
}
__global__ void k_f32_to_f16(__half *o, const float *i, size_t n) {
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x)
        o[k] = __float2half(i[k]);
}
/* out[r, :] = bias (M floats per row) */
__global__ void k_bias_rows(float *out, const float *bias, int N, int M) {
    size_t n = (size_t)N * M;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x)
        out[k] = bias[k % M];
}

static int linear_(opsctx *x, float *out, const float *in, const ll_weight *W, const float *bias, int N) {
    if (N <= 0) return 0;
    const int M = (int)W->rows, K = (int)W->cols;
    cudaStream_t st = x->c->stream;
    float beta = 0.0f, one = 1.0f;
    if (bias) {
        LL_LAUNCH(k_bias_rows, grid_for((size_t)N * M, 256), 256, 0, st, out, bias, N, M);
        beta = 1.0f;
    }
    /* column-major view: out (M×N, ld M) = Wᵀ-op (W is K×M col-major, ld K) · in (K×N, ld K) */
    if (W->dtype == LL_DT_F32) {
        cublasComputeType_t ct = x->compute == LL_DT_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF : CUBLAS_COMPUTE_32F_PEDANTIC;
        LL_CUBLAS(cublasGemmEx(x->c->blas, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, &one, W->data, CUDA_R_32F, K, in,
                               CUDA_R_32F, K, &beta, out, CUDA_R_32F, M, ct, CUBLAS_GEMM_DEFAULT));
        return 0;
    }
    if (W->dtype != LL_DT_BF16 && W->dtype != LL_DT_F16) {
        ll_set_error("CUDA linear: weight dtype %d not supported (F32, BF16, F16)", (int)W->dtype);
        return -1;
    }
    void *tmp;
    size_t n = (size_t)N * K;
    LL_TRY(scratch_get(x, n * 2, &tmp));
    cudaDataType dt;
    if (W->dtype == LL_DT_BF16) {
        LL_LAUNCH(k_f32_to_bf16, grid_for(n, 256), 256, 0, st, (__nv_bfloat16 *)tmp, in, n);
        dt = CUDA_R_16BF;
    } else {
        LL_LAUNCH(k_f32_to_f16, grid_for(n, 256), 256, 0, st, (__half *)tmp, in, n);
        dt = CUDA_R_16F;
    }
    LL_CUBLAS(cublasGemmEx(x->c->blas, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, &one, W->data, dt, K, tmp, dt, K, &beta,
                           out, CUDA_R_32F, M, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return 0;
}
static void cu_linear(void *ctx, float *out, const float *in, const ll_weight *W, const float *bias, int N) {
    OPCALL(ctx, linear_((opsctx *)ctx, out, in, W, bias, N));
}

/* --------------------------------------------------------------- embedding */
__device__ __forceinline__ float load_any(const void *p, int dt, size_t i) {
    if (dt == LL_DT_BF16) return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    if (dt == LL_DT_F16) return __half2float(((const __half *)p)[i]);
    return ((const float *)p)[i];
}
__global__ void k_embedding(float *out, const void *table, int dt, const int32_t *ids, int N, int64_t C, int acc) {
    size_t n = (size_t)N * C;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x) {
        size_t r = k / C, c = k % C;
        float v = load_any(table, dt, (size_t)ids[r] * C + c);
        out[k] = acc ? out[k] + v : v;
    }
}
static int embedding_(opsctx *x, float *out, const ll_weight *t, const int32_t *ids, int N, int acc) {
    if (N <= 0) return 0;
    LL_LAUNCH(k_embedding, grid_for((size_t)N * t->cols, 256), 256, 0, x->c->stream, out, t->data, (int)t->dtype, ids,
              N, t->cols, acc);
    return 0;
}
static void cu_embedding(void *ctx, float *out, const ll_weight *table, const int32_t *ids, int N, int accumulate) {
    OPCALL(ctx, embedding_((opsctx *)ctx, out, table, ids, N, accumulate));
}

/* ------------------------------------------------------------------- norms */
/* ll_warp_sum, ll_block_sum: kernels/core/reduce.cuh */
/* One block per row, as cpu_layernorm: float64 mean and variance, float
 * normalisation. */
__global__ void k_layernorm(float *out, const float *in, const float *w, const float *b, int C, float eps) {
    __shared__ double sh[33];
    const float *x = in + (size_t)blockIdx.x * C;
    float *y = out + (size_t)blockIdx.x * C;
    double s = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) s += x[c];
    double mean = ll_block_sum(s, sh) / C;
    double v = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) { double d = x[c] - mean; v += d * d; }
    v = ll_block_sum(v, sh);
    float rstd = (float)(1.0 / sqrt(v / C + (double)eps));
    float m = (float)mean;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float t = (x[c] - m) * rstd;
        if (w) t *= w[c];
        if (b) t += b[c];
        y[c] = t;
    }
}
__global__ void k_rmsnorm(float *out, const float *in, const float *w, int C, float eps) {
    __shared__ double sh[33];
    const float *x = in + (size_t)blockIdx.x * C;
    float *y = out + (size_t)blockIdx.x * C;
    double s = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) s += (double)x[c] * x[c];
    s = ll_block_sum(s, sh);
    float rs = (float)(1.0 / sqrt(s / C + (double)eps));
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float t = x[c] * rs;
        y[c] = w ? w[c] * t : t;
    }
}
static int norm_threads(int C) { return C >= 2048 ? 512 : C >= 512 ? 256 : 128; }
static int layernorm_(opsctx *x, float *out, const float *in, const float *w, const float *b, int N, int C, float eps) {
    if (N <= 0) return 0;
    LL_LAUNCH(k_layernorm, (unsigned)N, norm_threads(C), 0, x->c->stream, out, in, w, b, C, eps);
    return 0;
}
static int rmsnorm_(opsctx *x, float *out, const float *in, const float *w, int N, int C, float eps) {
    if (N <= 0) return 0;
    LL_LAUNCH(k_rmsnorm, (unsigned)N, norm_threads(C), 0, x->c->stream, out, in, w, C, eps);
    return 0;
}
static void cu_layernorm(void *ctx, float *out, const float *in, const float *w, const float *b, int N, int C, float eps) {
    OPCALL(ctx, layernorm_((opsctx *)ctx, out, in, w, b, N, C, eps));
}
static void cu_rmsnorm(void *ctx, float *out, const float *in, const float *w, int N, int C, float eps) {
    OPCALL(ctx, rmsnorm_((opsctx *)ctx, out, in, w, N, C, eps));
}

/* -------------------------------------------------------------- elementwise */
enum { EW_GELU_TANH, EW_GELU_ERF, EW_SILU, EW_SIGMOID, EW_RELU_SQ, EW_RELU };
__global__ void k_unary(float *out, const float *in, size_t n, int op) {
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x) {
        float x = in[k], y;
        switch (op) {
        case EW_GELU_TANH: y = 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x))); break;
        case EW_GELU_ERF: y = (float)(0.5 * x * (1.0 + erf(x * 0.7071067811865476))); break;
        case EW_SILU: y = x / (1.0f + expf(-x)); break;
        case EW_SIGMOID: y = 1.0f / (1.0f + expf(-x)); break;
        case EW_RELU: y = x > 0 ? x : 0.0f; break;
        default: y = x > 0 ? x * x : 0.0f; break;
        }
        out[k] = y;
    }
}
enum { EB_ADD, EB_MUL, EB_SWIGLU };
__global__ void k_binary(float *out, const float *a, const float *b, size_t n, int op) {
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x) {
        float x = a[k], y = b[k];
        out[k] = op == EB_ADD ? x + y : op == EB_MUL ? x * y : (x / (1.0f + expf(-x))) * y;
    }
}
__global__ void k_scale(float *out, const float *a, float s, size_t n) {
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x)
        out[k] = a[k] * s;
}
static int unary_(opsctx *x, float *out, const float *in, size_t n, int op) {
    if (!n) return 0;
    LL_LAUNCH(k_unary, grid_for(n, 256), 256, 0, x->c->stream, out, in, n, op);
    return 0;
}
static int binary_(opsctx *x, float *out, const float *a, const float *b, size_t n, int op) {
    if (!n) return 0;
    LL_LAUNCH(k_binary, grid_for(n, 256), 256, 0, x->c->stream, out, a, b, n, op);
    return 0;
}
static int scale_(opsctx *x, float *out, const float *a, float s, size_t n) {
    if (!n) return 0;
    LL_LAUNCH(k_scale, grid_for(n, 256), 256, 0, x->c->stream, out, a, s, n);
    return 0;
}
static void cu_gelu_tanh(void *ctx, float *o, const float *i, size_t n) { OPCALL(ctx, unary_((opsctx *)ctx, o, i, n, EW_GELU_TANH)); }
static void cu_gelu_erf(void *ctx, float *o, const float *i, size_t n) { OPCALL(ctx, unary_((opsctx *)ctx, o, i, n, EW_GELU_ERF)); }
static void cu_silu(void *ctx, float *o, const float *i, size_t n) { OPCALL(ctx, unary_((opsctx *)ctx, o, i, n, EW_SILU)); }
static void cu_sigmoid(void *ctx, float *o, const float *i, size_t n) { OPCALL(ctx, unary_((opsctx *)ctx, o, i, n, EW_SIGMOID)); }
static void cu_relu_sq(void *ctx, float *o, const float *i, size_t n) { OPCALL(ctx, unary_((opsctx *)ctx, o, i, n, EW_RELU_SQ)); }
static void cu_relu(void *ctx, float *o, const float *i, size_t n) { OPCALL(ctx, unary_((opsctx *)ctx, o, i, n, EW_RELU)); }
static void cu_add(void *ctx, float *o, const float *a, const float *b, size_t n) { OPCALL(ctx, binary_((opsctx *)ctx, o, a, b, n, EB_ADD)); }
static void cu_mul(void *ctx, float *o, const float *a, const float *b, size_t n) { OPCALL(ctx, binary_((opsctx *)ctx, o, a, b, n, EB_MUL)); }
static void cu_swiglu(void *ctx, float *o, const float *g, const float *u, size_t n) { OPCALL(ctx, binary_((opsctx *)ctx, o, g, u, n, EB_SWIGLU)); }
static void cu_scale(void *ctx, float *o, const float *a, float s, size_t n) { OPCALL(ctx, scale_((opsctx *)ctx, o, a, s, n)); }

/* -------------------------------------------------------------------- rope */
/* One thread per (row, head, i < half), as cpu_rope. */
__global__ void k_rope(float *x, int64_t rs, int64_t hs, int N, int H, int half, const int32_t *pos, const float *inv_freq) {
    size_t n = (size_t)N * H * half;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(k % half);
        size_t rh = k / half;
        int h = (int)(rh % H);
        size_t r = rh / H;
        float a = (float)pos[r] * inv_freq[i];
        float c = cosf(a), s = sinf(a);
        float *p = x + (int64_t)r * rs + (int64_t)h * hs;
        float x1 = p[i], x2 = p[i + half];
        p[i] = x1 * c - x2 * s;
        p[i + half] = x2 * c + x1 * s;
    }
}
static int rope_(opsctx *x, const ll_rope_params *p) {
    int half = p->rot_dims / 2;
    if (p->N <= 0 || half <= 0 || p->n_heads <= 0) return 0;
    LL_LAUNCH(k_rope, grid_for((size_t)p->N * p->n_heads * half, 256), 256, 0, x->c->stream, p->x, p->rs, p->hs, p->N,
              p->n_heads, half, p->pos, p->inv_freq);
    return 0;
}
static void cu_rope(void *ctx, const ll_rope_params *p) { OPCALL(ctx, rope_((opsctx *)ctx, p)); }

/* --------------------------------------------------------------- attention */
/* Flash-style causal attention (no T×T matrix anywhere): a block handles
 * ATT_Q consecutive queries of one (b, h), one warp per query; keys and
 * values stream through shared memory in tiles of 32; each lane scores one
 * key of the tile and owns hd/32 output dims; online softmax in float32.
 * VEC (hd % 4 == 0): 16-byte shared-memory accesses (q, k rows padded to
 * hd + 4 floats: conflict-free per quarter warp; each lane owns 4 consecutive
 * output dims per 128). */
#define ATT_Q 16
#define ATT_MAXD 8 /* hd <= 256 */
template <bool VEC>
__global__ void __launch_bounds__(32 * ATT_Q) k_attention(ll_attn_params p) {
    extern __shared__ float4 smem4[];
    float *smem = (float *)smem4;
    const int hd = p.hd, ldk = VEC ? hd + 4 : hd + 1;
    float *Qs = smem;                 /* [ATT_Q][hd] */
    float *Ks = Qs + ATT_Q * hd;      /* [32][ldk] */
    float *Vs = Ks + 32 * ldk;        /* [32][hd] */
    const int b = blockIdx.z, h = blockIdx.y, t0 = blockIdx.x * ATT_Q;
    const int T = p.T, grp = p.H / p.KVH, g = h / grp;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nthr = blockDim.x;
    const int len = p.lens[b] < T ? p.lens[b] : T;
    const int t = t0 + w;
    for (int k = threadIdx.x; k < ATT_Q * hd; k += nthr) {
        int qi = k / hd, i = k % hd, tq = t0 + qi;
        Qs[k] = tq < T ? p.q[((int64_t)b * T + tq) * p.q_rs + (int64_t)h * p.q_hs + i] : 0.0f;
    }
    const bool bidir = p.bidirectional != 0;
    const int win = bidir ? 0 : p.window;
    int s_lo = 0;
    if (win > 0) { s_lo = t0 - win + 1; if (s_lo < 0) s_lo = 0; }
    int s_hi = bidir ? len - 1 : t0 + ATT_Q - 1; /* last key any query of the block needs */
    if (s_hi > len - 1) s_hi = len - 1;
    float m = -INFINITY, l = 0.0f, acc[ATT_MAXD];
#pragma unroll
    for (int j = 0; j < ATT_MAXD; j++) acc[j] = 0.0f;
    const bool active = t < T && t < len;
    int my_lo = 0;
    if (win > 0) { my_lo = t - win + 1; if (my_lo < 0) my_lo = 0; }
    for (int s0 = (s_lo / 32) * 32; s0 <= s_hi; s0 += 32) {
        __syncthreads();
        for (int k = threadIdx.x; k < 32 * hd; k += nthr) {
            int j = k / hd, i = k % hd, s = s0 + j;
            float kv = 0.0f, vv = 0.0f;
            if (s < len) {
                kv = p.k[((int64_t)b * T + s) * p.k_rs + (int64_t)g * p.k_hs + i];
                vv = p.v[((int64_t)b * T + s) * p.v_rs + (int64_t)g * p.v_hs + i];
            }
            Ks[j * ldk + i] = kv;
            Vs[j * hd + i] = vv;
        }
        __syncthreads();
        if (!active || (!bidir && s0 > t)) continue; /* whole tile in this query's future */
        const int s = s0 + lane;
        const bool ok = (bidir || s <= t) && s >= my_lo && s < len;
        float sc = -INFINITY;
        if (ok) {
            float d = 0.0f;
            if (VEC) {
                const float4 *q4 = (const float4 *)(Qs + w * hd), *k4 = (const float4 *)(Ks + lane * ldk);
                for (int i = 0; i < hd / 4; i++) {
                    float4 a = q4[i], c = k4[i];
                    d += a.x * c.x + a.y * c.y + a.z * c.z + a.w * c.w;
                }
            } else {
                const float *q = Qs + w * hd, *kk = Ks + lane * ldk;
                for (int i = 0; i < hd; i++) d += q[i] * kk[i];
            }
            sc = d * p.scale;
            if (p.softcap > 0.0f) sc = p.softcap * tanhf(sc / p.softcap);
            if (p.bias) sc += p.bias[((int64_t)h * T + t) * T + s];
        }
        float mx = sc;
        for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        if (mx == -INFINITY) continue; /* no key of this tile for this query */
        float mn = fmaxf(m, mx);
        float corr = expf(m - mn); /* m = -inf at first: 0 */
        float pe = ok ? expf(sc - mn) : 0.0f;
        float ps = pe;
        for (int o = 16; o > 0; o >>= 1) ps += __shfl_xor_sync(0xffffffffu, ps, o);
        l = l * corr + ps;
#pragma unroll
        for (int j = 0; j < ATT_MAXD; j++) acc[j] *= corr;
        for (int j2 = 0; j2 < 32; j2++) {
            float pj = __shfl_sync(0xffffffffu, pe, j2);
            if (pj == 0.0f) continue;
            const float *vr = Vs + j2 * hd;
            if (VEC) {
#pragma unroll
                for (int j = 0; j < ATT_MAXD / 4; j++) {
                    int i = 4 * lane + 128 * j;
                    if (i < hd) {
                        float4 vv = *(const float4 *)(vr + i);
                        acc[4 * j] += pj * vv.x;
                        acc[4 * j + 1] += pj * vv.y;
                        acc[4 * j + 2] += pj * vv.z;
                        acc[4 * j + 3] += pj * vv.w;
                    }
                }
            } else {
#pragma unroll
                for (int j = 0; j < ATT_MAXD; j++) {
                    int i = lane + 32 * j;
                    if (i < hd) acc[j] += pj * vr[i];
                }
            }
        }
        m = mn;
    }
    if (t >= T) return;
    float *o = p.out + ((int64_t)b * T + t) * p.o_rs + (int64_t)h * hd;
    float inv = active && l > 0 ? 1.0f / l : 0.0f;
    if (VEC) {
#pragma unroll
        for (int j = 0; j < ATT_MAXD / 4; j++) {
            int i = 4 * lane + 128 * j;
            if (i < hd)
                for (int r = 0; r < 4; r++) o[i + r] = active ? acc[4 * j + r] * inv : 0.0f;
        }
    } else {
#pragma unroll
        for (int j = 0; j < ATT_MAXD; j++) {
            int i = lane + 32 * j;
            if (i < hd) o[i] = active ? acc[j] * inv : 0.0f;
        }
    }
}
/* Tensor-core attention (compute BF16): FlashAttention-2 layout with WMMA
 * bf16 16×16×16 fragments, FP32 accumulation.  A block = 4 warps = 64
 * queries of one (b, h), 16 query rows per warp; K/V tiles of 64 keys in
 * shared memory (bf16); S = Q·Kᵀ per warp into shared memory, online softmax
 * there (FP32, two lanes per row), P in bf16, O (FP32, shared memory) rescaled
 * and O += P·V with WMMA.  No T×T matrix anywhere. */
using namespace nvcuda;
#define TC_BQ 64
#define TC_BK 64
template <int HD> struct tc_layout {
    static constexpr int LDQ = HD + 8, LDS = TC_BK + 4, LDP = TC_BK + 8, LDO = HD + 4;
    static constexpr size_t q_off = 0;
    static constexpr size_t k_off = q_off + (size_t)TC_BQ * LDQ * 2;
    static constexpr size_t v_off = k_off + (size_t)TC_BK * LDQ * 2;
    static constexpr size_t s_off = v_off + (size_t)TC_BK * LDQ * 2;
    static constexpr size_t p_off = s_off + (size_t)TC_BQ * LDS * 4;
    static constexpr size_t o_off = p_off + (size_t)TC_BQ * LDP * 2;
    static constexpr size_t c_off = o_off + (size_t)TC_BQ * LDO * 4;
    static constexpr size_t bytes = c_off + (size_t)TC_BQ * 4;
};
template <int HD>
__global__ void __launch_bounds__(128) k_attention_tc(ll_attn_params p) {
    typedef tc_layout<HD> L;
    extern __shared__ float4 smem4[];
    char *sm = (char *)smem4;
    __nv_bfloat16 *Qs = (__nv_bfloat16 *)(sm + L::q_off), *Ks = (__nv_bfloat16 *)(sm + L::k_off),
                  *Vs = (__nv_bfloat16 *)(sm + L::v_off), *Ps = (__nv_bfloat16 *)(sm + L::p_off);
    float *Ss = (float *)(sm + L::s_off), *Os = (float *)(sm + L::o_off), *Cs = (float *)(sm + L::c_off);
    const int b = blockIdx.z, h = blockIdx.y, t0 = blockIdx.x * TC_BQ;
    const int T = p.T, g = h / (p.H / p.KVH);
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int len = p.lens[b] < T ? p.lens[b] : T;
    for (int k = threadIdx.x; k < TC_BQ * HD; k += 128) {
        int qi = k / HD, i = k % HD, tq = t0 + qi;
        float v = tq < T ? p.q[((int64_t)b * T + tq) * p.q_rs + (int64_t)h * p.q_hs + i] : 0.0f;
        Qs[qi * L::LDQ + i] = __float2bfloat16(v);
        Os[qi * L::LDO + i] = 0.0f;
    }
    /* softmax state: lane handles row r = lane/2 of the warp's 16, columns half*32.. */
    const int r = lane >> 1, half = lane & 1, t = t0 + w * 16 + r;
    float m = -INFINITY, l = 0.0f;
    int my_lo = 0;
    if (p.window > 0) { my_lo = t - p.window + 1; if (my_lo < 0) my_lo = 0; }
    int s_lo = 0;
    if (p.window > 0) { s_lo = t0 - p.window + 1; if (s_lo < 0) s_lo = 0; }
    int s_hi = t0 + TC_BQ - 1;
    if (s_hi > len - 1) s_hi = len - 1;
    const bool row_ok = t < T && t < len;
    float *Sw = Ss + w * 16 * L::LDS, *Ow = Os + w * 16 * L::LDO;
    __nv_bfloat16 *Pw = Ps + w * 16 * L::LDP;
    for (int s0 = (s_lo / TC_BK) * TC_BK; s0 <= s_hi; s0 += TC_BK) {
        __syncthreads();
        for (int k = threadIdx.x; k < TC_BK * HD; k += 128) {
            int j = k / HD, i = k % HD, s = s0 + j;
            float kv = 0.0f, vv = 0.0f;
            if (s < len) {
                kv = p.k[((int64_t)b * T + s) * p.k_rs + (int64_t)g * p.k_hs + i];
                vv = p.v[((int64_t)b * T + s) * p.v_rs + (int64_t)g * p.v_hs + i];
            }
            Ks[j * L::LDQ + i] = __float2bfloat16(kv);
            Vs[j * L::LDQ + i] = __float2bfloat16(vv);
        }
        __syncthreads();
        if (s0 > t0 + w * 16 + 15) continue; /* the whole tile is in this warp's future */
        /* S = Q_w · Kᵀ */
#pragma unroll
        for (int j = 0; j < TC_BK / 16; j++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
#pragma unroll
            for (int kk = 0; kk < HD / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fb;
                wmma::load_matrix_sync(fa, Qs + (w * 16) * L::LDQ + kk * 16, L::LDQ);
                wmma::load_matrix_sync(fb, Ks + (j * 16) * L::LDQ + kk * 16, L::LDQ);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(Sw + j * 16, acc, L::LDS, wmma::mem_row_major);
        }
        __syncwarp();
        /* online softmax over this tile, row r, columns half*32 .. +31 */
        float sv[32];
        float mx = -INFINITY;
#pragma unroll
        for (int c = 0; c < 32; c++) {
            int col = half * 32 + c, s = s0 + col;
            bool ok = row_ok && s <= t && s >= my_lo && s < len;
            float v = ok ? Sw[r * L::LDS + col] * p.scale : -INFINITY;
            sv[c] = v;
            mx = fmaxf(mx, v);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        float mn = fmaxf(m, mx);
        float corr = (mn == -INFINITY) ? 1.0f : expf(m - mn);
        float ps = 0.0f;
#pragma unroll
        for (int c = 0; c < 32; c++) {
            float pe = (mn == -INFINITY || sv[c] == -INFINITY) ? 0.0f : expf(sv[c] - mn);
            ps += pe;
            Pw[r * L::LDP + half * 32 + c] = __float2bfloat16(pe);
        }
        ps += __shfl_xor_sync(0xffffffffu, ps, 1);
        l = l * corr + ps;
        m = mn;
        /* rescale this row of O */
        for (int i = half; i < HD; i += 2) Ow[r * L::LDO + i] *= corr;
        __syncwarp();
        /* O_w += P_w · V */
#pragma unroll
        for (int n = 0; n < HD / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::load_matrix_sync(acc, Ow + n * 16, L::LDO, wmma::mem_row_major);
#pragma unroll
            for (int kk = 0; kk < TC_BK / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> fb;
                wmma::load_matrix_sync(fa, Pw + kk * 16, L::LDP);
                wmma::load_matrix_sync(fb, Vs + (kk * 16) * L::LDQ + n * 16, L::LDQ);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(Ow + n * 16, acc, L::LDO, wmma::mem_row_major);
        }
        __syncwarp();
    }
    (void)Cs;
    __syncwarp();
    if (t < T) {
        float inv = row_ok && l > 0 ? 1.0f / l : 0.0f;
        float *o = p.out + ((int64_t)b * T + t) * p.o_rs + (int64_t)h * HD;
        for (int i = half; i < HD; i += 2) o[i] = row_ok ? Ow[r * L::LDO + i] * inv : 0.0f;
    }
}

template <int HD> static int attention_tc_(opsctx *x, const ll_attn_params *p) {
    size_t smem = tc_layout<HD>::bytes;
    LL_CU(cudaFuncSetAttribute(k_attention_tc<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 grid(ll_cdiv(p->T, TC_BQ), p->H, p->B);
    LL_LAUNCH(k_attention_tc<HD>, grid, 128, smem, x->c->stream, *p);
    return 0;
}

static int attention_(opsctx *x, const ll_attn_params *p) {
    if (p->B <= 0 || p->T <= 0 || p->H <= 0) return 0;
    if (p->hd > 32 * ATT_MAXD || p->hd <= 0 || p->KVH <= 0 || p->H % p->KVH) {
        ll_set_error("CUDA attention: head size %d (max %d) or heads %d/%d not supported", p->hd, 32 * ATT_MAXD, p->H,
                     p->KVH);
        return -1;
    }
    /* the tensor-core kernel is causal-only without softcap or bias */
    const bool plain = !p->bidirectional && !(p->softcap > 0.0f) && !p->bias;
    if (plain && x->attn_tc && x->compute == LL_DT_BF16) {
        /* the tile needs 70 KiB (hd 64) / 110 KiB (hd 128) of shared memory per
         * block: A100/H100/B200 give 163-227 KiB, but sm_86/89/120 (RTX 30/40/50,
         * A6000, L40S) only 99 KiB — there hd 128 takes the FP32 kernel below */
        const size_t optin = x->c->prop.sharedMemPerBlockOptin;
        if (p->hd == 64 && tc_layout<64>::bytes <= optin) return attention_tc_<64>(x, p);
        if (p->hd == 128 && tc_layout<128>::bytes <= optin) return attention_tc_<128>(x, p);
    }
    const bool vec = p->hd % 4 == 0;
    const int ldk = vec ? p->hd + 4 : p->hd + 1;
    size_t smem = sizeof(float) * ((size_t)ATT_Q * p->hd + 32 * (size_t)ldk + 32 * (size_t)p->hd);
    dim3 grid(ll_cdiv(p->T, ATT_Q), p->H, p->B);
    if (vec) {
        if (smem > 48 * 1024)
            LL_CU(cudaFuncSetAttribute(k_attention<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        LL_LAUNCH(k_attention<true>, grid, 32 * ATT_Q, smem, x->c->stream, *p);
    } else {
        if (smem > 48 * 1024)
            LL_CU(cudaFuncSetAttribute(k_attention<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        LL_LAUNCH(k_attention<false>, grid, 32 * ATT_Q, smem, x->c->stream, *p);
    }
    return 0;
}
static void cu_attention(void *ctx, const ll_attn_params *p) { OPCALL(ctx, attention_((opsctx *)ctx, p)); }

/* ------------------------------------------------------------------ copy2d */
static int copy2d_(opsctx *x, float *dst, int64_t drs, const float *src, int64_t srs, int rows, int cols) {
    if (rows <= 0 || cols <= 0) return 0;
    LL_CU(cudaMemcpy2DAsync(dst, (size_t)drs * 4, src, (size_t)srs * 4, (size_t)cols * 4, (size_t)rows,
                            cudaMemcpyDeviceToDevice, x->c->stream));
    return 0;
}
static void cu_copy2d(void *ctx, float *dst, int64_t drs, const float *src, int64_t srs, int rows, int cols) {
    OPCALL(ctx, copy2d_((opsctx *)ctx, dst, drs, src, srs, rows, cols));
}

/* ------------------------------------------------------- recurrent families */
/* RWKV-4 token shift + mix: one thread per (r, c). */
__global__ void k_shift_mix(float *ok, float *ov, float *orr, const float *x, const float *prev, const float *mk,
                            const float *mv, const float *mr, int B, int T, int C) {
    size_t n = (size_t)B * T * C;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(k % C);
        size_t r = k / C;
        int t = (int)(r % T), b = (int)(r / T);
        float xv = x[k];
        float xs = t > 0 ? x[k - C] : (prev ? prev[(size_t)b * C + c] : 0.0f);
        if (ok) ok[k] = xv * mk[c] + xs * (1.0f - mk[c]);
        if (ov && mv) ov[k] = xv * mv[c] + xs * (1.0f - mv[c]);
        if (orr) orr[k] = xv * mr[c] + xs * (1.0f - mr[c]);
    }
}
static int shift_mix_(opsctx *x, float *ok, float *ov, float *orr, const float *xx, const float *prev, const float *mk,
                      const float *mv, const float *mr, int B, int T, int C) {
    if ((size_t)B * T * C == 0) return 0;
    LL_LAUNCH(k_shift_mix, grid_for((size_t)B * T * C, 256), 256, 0, x->c->stream, ok, ov, orr, xx, prev, mk, mv, mr, B,
              T, C);
    return 0;
}
static void cu_shift_mix(void *ctx, float *ok, float *ov, float *orr, const float *xx, const float *prev,
                         const float *mk, const float *mv, const float *mr, int B, int T, int C) {
    OPCALL(ctx, shift_mix_((opsctx *)ctx, ok, ov, orr, xx, prev, mk, mv, mr, B, T, C));
}

/* RWKV-4 WKV: one thread per (b, a), serial over t (HF rwkv_linear_attention_cpu
 * order of operations, float32).  state [3, B, A] = (num, den, max). */
__global__ void k_wkv4(float *__restrict__ out, const float *__restrict__ k, const float *__restrict__ v,
                       const float *__restrict__ td, const float *__restrict__ tf, float *__restrict__ state, int B,
                       int T, int A) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * A) return;
    int b = idx / A, a = idx % A;
    float w = -expf(td[a]), u = tf[a];
    float num = 0.0f, den = 0.0f, mx = -1e38f;
    size_t sB = (size_t)B * A;
    if (state) { num = state[idx]; den = state[sB + idx]; mx = state[2 * sB + idx]; }
    const size_t base = (size_t)b * T * A + a;
    /* software pipeline: the k, v of the next WKV_U steps are loaded while the
     * current ones are computed (they do not depend on the state) */
#define WKV_U 8
    float kn[WKV_U], vn[WKV_U];
#pragma unroll
    for (int j = 0; j < WKV_U; j++) {
        kn[j] = j < T ? k[base + (size_t)j * A] : 0.0f;
        vn[j] = j < T ? v[base + (size_t)j * A] : 0.0f;
    }
    for (int t = 0; t < T; t += WKV_U) {
        float kc[WKV_U], vc[WKV_U];
#pragma unroll
        for (int j = 0; j < WKV_U; j++) { kc[j] = kn[j]; vc[j] = vn[j]; }
#pragma unroll
        for (int j = 0; j < WKV_U; j++) {
            int tn = t + WKV_U + j;
            if (tn < T) { kn[j] = k[base + (size_t)tn * A]; vn[j] = v[base + (size_t)tn * A]; }
        }
#pragma unroll
        for (int j = 0; j < WKV_U; j++) {
            if (t + j < T) {
                float q = fmaxf(mx, u + kc[j]);
                float e1 = expf(mx - q), e2 = expf(u + kc[j] - q);
                out[base + (size_t)(t + j) * A] = (e1 * num + e2 * vc[j]) / (e1 * den + e2);
                float q2 = fmaxf(mx + w, kc[j]);
                e1 = expf(mx + w - q2);
                e2 = expf(kc[j] - q2);
                num = e1 * num + e2 * vc[j];
                den = e1 * den + e2;
                mx = q2;
            }
        }
    }
    if (state) { state[idx] = num; state[sB + idx] = den; state[2 * sB + idx] = mx; }
}
static int wkv4_(opsctx *x, float *out, const float *k, const float *v, const float *td, const float *tf, float *state,
                 int B, int T, int A) {
    if (B * A == 0) return 0;
    LL_LAUNCH(k_wkv4, ll_cdiv((long)B * A, 128), 128, 0, x->c->stream, out, k, v, td, tf, state, B, T, A);
    return 0;
}
static void cu_wkv4(void *ctx, float *out, const float *k, const float *v, const float *td, const float *tf,
                    float *state, int B, int T, int A) {
    OPCALL(ctx, wkv4_((opsctx *)ctx, out, k, v, td, tf, state, B, T, A));
}

/* Mamba causal depthwise conv1d + SiLU: one thread per (b, e), a sliding
 * window of K−1 past inputs in registers (K <= 8). */
#define CONV_MAXK 8
__global__ void k_conv1d_silu(float *__restrict__ out, const float *__restrict__ in, int64_t in_rs,
                              const float *__restrict__ wt, const float *__restrict__ bias, float *__restrict__ state,
                              int B, int T, int E, int K) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * E) return;
    int b = idx / E, e = idx % E;
    float win[CONV_MAXK], wk[CONV_MAXK];
#pragma unroll
    for (int j = 0; j < CONV_MAXK; j++) {
        wk[j] = j < K ? wt[(size_t)e * K + j] : 0.0f;
        win[j] = 0.0f;
    }
    /* win[0..K-2]: inputs t-(K-1) .. t-1 */
    if (state)
#pragma unroll
        for (int j = 0; j < CONV_MAXK - 1; j++)
            if (j < K - 1) win[j] = state[((size_t)b * E + e) * (K - 1) + j];
    float bs = bias ? bias[e] : 0.0f;
#pragma unroll 4
    for (int t = 0; t < T; t++) {
        size_t r = (size_t)b * T + t;
        float xt = in[r * in_rs + e];
        float s = bs;
#pragma unroll
        for (int j = 0; j < CONV_MAXK - 1; j++)
            if (j < K - 1) s += wk[j] * win[j];
        s += wk[K - 1] * xt;
        out[r * E + e] = s / (1.0f + expf(-s));
#pragma unroll
        for (int j = 0; j < CONV_MAXK - 2; j++)
            if (j < K - 2) win[j] = win[j + 1];
        if (K >= 2) {
#pragma unroll
            for (int j = 0; j < CONV_MAXK - 1; j++)
                if (j == K - 2) win[j] = xt;
        }
    }
    if (state)
#pragma unroll
        for (int j = 0; j < CONV_MAXK - 1; j++)
            if (j < K - 1) state[((size_t)b * E + e) * (K - 1) + j] = win[j];
}
/* Without a carried state the convolution has no recurrence: one thread per
 * (b, t, e), channels fastest (coalesced), the K inputs read directly (the
 * same sum in the same order as k_conv1d_silu: bias, then w_j·x(t−K+1+j),
 * zeros before t = 0). */
__global__ void k_conv1d_silu_par(float *__restrict__ out, const float *__restrict__ in, int64_t in_rs,
                                  const float *__restrict__ wt, const float *__restrict__ bias, int T, size_t n, int E,
                                  int K) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const int e = (int)(i % E);
        const size_t r = i / E; /* b·T + t */
        const int t = (int)(r % T);
        float s = bias ? bias[e] : 0.0f;
        for (int j = 0; j < K - 1; j++) {
            const int tt = t - (K - 1) + j;
            const float v = tt >= 0 ? in[(r - (size_t)(K - 1 - j)) * in_rs + e] : 0.0f;
            s += wt[(size_t)e * K + j] * v;
        }
        s += wt[(size_t)e * K + K - 1] * in[r * in_rs + e];
        out[r * E + e] = s / (1.0f + expf(-s));
    }
}

static int conv1d_(opsctx *x, float *out, const float *in, int64_t in_rs, const float *w, const float *bias,
                   float *state, int B, int T, int E, int K) {
    if (K < 1 || K > CONV_MAXK) {
        ll_set_error("CUDA conv1d_silu: kernel size %d not supported (1..%d)", K, CONV_MAXK);
        return -1;
    }
    if (B * E == 0 || T <= 0) return 0;
    if (!state && !x->sscan_serial) {
        const size_t n = (size_t)B * T * E;
        LL_LAUNCH(k_conv1d_silu_par, (unsigned)LL_MIN((long)ll_cdiv((long)n, 256), 65535L * 8), 256, 0, x->c->stream,
                  out, in, in_rs, w, bias, T, n, E, K);
        return 0;
    }
    LL_LAUNCH(k_conv1d_silu, ll_cdiv((long)B * E, 128), 128, 0, x->c->stream, out, in, in_rs, w, bias, state, B, T, E,
              K);
    return 0;
}
static void cu_conv1d_silu(void *ctx, float *out, const float *in, int64_t in_rs, const float *w, const float *bias,
                           float *state, int B, int T, int E, int K) {
    OPCALL(ctx, conv1d_((opsctx *)ctx, out, in, in_rs, w, bias, state, B, T, E, K));
}

/* Mamba selective scan: one thread per (b, e), the S states in registers
 * (S <= 64), serial in t (ggml's ssm_scan layout). */
#define SSCAN_MAXS 64
__device__ __forceinline__ float softplus_f(float x) { return x > 20.0f ? x : log1pf(expf(x)); }
__global__ void k_sscan(ll_sscan_params p) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= p.B * p.E) return;
    const int b = idx / p.E, e = idx % p.E, S = p.S;
    float h[SSCAN_MAXS], A[SSCAN_MAXS];
#pragma unroll
    for (int n = 0; n < SSCAN_MAXS; n++) {
        A[n] = n < S ? -expf(p.A_log[(size_t)e * S + n]) : 0.0f;
        h[n] = (n < S && p.state) ? p.state[((size_t)b * p.E + e) * S + n] : 0.0f;
    }
    const float Dv = p.D ? p.D[e] : 0.0f;
    /* the per-channel inputs of step t+1 are loaded while step t is computed */
    const size_t r0 = (size_t)b * p.T;
    float dtn = 0, un = 0, zn = 0;
    if (p.T > 0) {
        dtn = p.dt_raw[r0 * p.E + e];
        un = p.u[r0 * p.E + e];
        zn = p.z ? p.z[r0 * p.z_rs + e] : 0.0f;
    }
    for (int t = 0; t < p.T; t++) {
        size_t r = r0 + t;
        float dt = softplus_f(dtn), u = un, z = zn;
        if (t + 1 < p.T) {
            dtn = p.dt_raw[(r + 1) * p.E + e];
            un = p.u[(r + 1) * p.E + e];
            if (p.z) zn = p.z[(r + 1) * p.z_rs + e];
        }
        const float *Bt = p.Bm + r * p.bc_rs, *Ct = p.Cm + r * p.bc_rs;
        float y = 0.0f;
#pragma unroll
        for (int n = 0; n < SSCAN_MAXS; n++) {
            if (n < S) {
                h[n] = expf(A[n] * dt) * h[n] + (dt * Bt[n]) * u;
                y += h[n] * Ct[n];
            }
        }
        y += u * Dv;
        if (p.z) y *= z / (1.0f + expf(-z));
        p.y[r * p.E + e] = y;
    }
    if (p.state)
#pragma unroll
        for (int n = 0; n < SSCAN_MAXS; n++)
            if (n < S) p.state[((size_t)b * p.E + e) * S + n] = h[n];
}
/* The same recurrence, same order of operations (same results), with the inputs
 * staged: a block = 64 channels of one sequence b; for each chunk of SSCAN_TC
 * steps the block first loads the chunk's B and C rows (shared by its channels)
 * and each thread its dt, u, z (all loads of the chunk in flight at once), then
 * runs the steps from shared memory.  The state array is sized by the template
 * (16 covers Mamba's d_state), not by the 64-state maximum. */
#define SSCAN_TC 32
#define SSCAN_BLK 64
template <int MAXS>
__global__ void __launch_bounds__(SSCAN_BLK) k_sscan_chunk(ll_sscan_params p) {
    extern __shared__ float sm[];
    const int S = p.S, b = blockIdx.y, tid = threadIdx.x, e = blockIdx.x * SSCAN_BLK + tid;
    float *sB = sm, *sC = sB + SSCAN_TC * S, *sdt = sC + SSCAN_TC * S, *su = sdt + SSCAN_TC * SSCAN_BLK,
          *sz = su + SSCAN_TC * SSCAN_BLK;
    const bool act = e < p.E;
    float h[MAXS], A[MAXS];
#pragma unroll
    for (int n = 0; n < MAXS; n++) {
        A[n] = (n < S && act) ? -expf(p.A_log[(size_t)e * S + n]) : 0.0f;
        h[n] = (n < S && act && p.state) ? p.state[((size_t)b * p.E + e) * S + n] : 0.0f;
    }
    const float Dv = (act && p.D) ? p.D[e] : 0.0f;
    const size_t r0 = (size_t)b * p.T;
    for (int t0 = 0; t0 < p.T; t0 += SSCAN_TC) {
        const int tc = min(SSCAN_TC, p.T - t0);
        __syncthreads(); /* the previous chunk is consumed */
        for (int i = tid; i < tc * S; i += SSCAN_BLK) {
            const size_t r = r0 + t0 + i / S;
            sB[i] = p.Bm[r * p.bc_rs + i % S];
            sC[i] = p.Cm[r * p.bc_rs + i % S];
        }
        if (act)
            for (int tt = 0; tt < tc; tt++) {
                const size_t r = r0 + t0 + tt;
                sdt[tt * SSCAN_BLK + tid] = p.dt_raw[r * p.E + e];
                su[tt * SSCAN_BLK + tid] = p.u[r * p.E + e];
                if (p.z) sz[tt * SSCAN_BLK + tid] = p.z[r * p.z_rs + e];
            }
        __syncthreads();
        if (!act) continue;
        for (int tt = 0; tt < tc; tt++) {
            const float dt = softplus_f(sdt[tt * SSCAN_BLK + tid]), u = su[tt * SSCAN_BLK + tid];
            const float *Bt = sB + tt * S, *Ct = sC + tt * S;
            float y = 0.0f;
#pragma unroll
            for (int n = 0; n < MAXS; n++) {
                if (n < S) {
                    h[n] = expf(A[n] * dt) * h[n] + (dt * Bt[n]) * u;
                    y += h[n] * Ct[n];
                }
            }
            y += u * Dv;
            if (p.z) {
                const float z = sz[tt * SSCAN_BLK + tid];
                y *= z / (1.0f + expf(-z));
            }
            p.y[(r0 + t0 + tt) * p.E + e] = y;
        }
    }
    if (act && p.state)
#pragma unroll
        for (int n = 0; n < MAXS; n++)
            if (n < S) p.state[((size_t)b * p.E + e) * S + n] = h[n];
}

static int sscan_(opsctx *x, const ll_sscan_params *p) {
    if (p->S < 1 || p->S > SSCAN_MAXS) {
        ll_set_error("CUDA selective_scan: state size %d not supported (1..%d)", p->S, SSCAN_MAXS);
        return -1;
    }
    if (p->B * p->E == 0) return 0;
    if (x->sscan_serial) {
        LL_LAUNCH(k_sscan, ll_cdiv((long)p->B * p->E, 64), 64, 0, x->c->stream, *p);
        return 0;
    }
    const size_t smem = sizeof(float) * ((size_t)2 * SSCAN_TC * p->S + (size_t)3 * SSCAN_TC * SSCAN_BLK);
    dim3 grid(ll_cdiv(p->E, SSCAN_BLK), p->B);
    if (p->S <= 16) LL_LAUNCH(k_sscan_chunk<16>, grid, SSCAN_BLK, smem, x->c->stream, *p);
    else LL_LAUNCH(k_sscan_chunk<SSCAN_MAXS>, grid, SSCAN_BLK, smem, x->c->stream, *p);
    return 0;
}
static void cu_sscan(void *ctx, const ll_sscan_params *p) { OPCALL(ctx, sscan_((opsctx *)ctx, p)); }

/* ------------------------------------------------------------ Mamba-2 SSD */
/* ll_ssd_params (host/ops/ops.h): one thread per (b, head, channel p) with its
 * N states in registers / local memory, serial in t; then one thread per
 * (row, group) for the gate and the group RMSNorm.  The CPU version
 * (host/ops/ops_ssd.c) is the reference. */
#define SSD_MAXN 256
template <int MAXN>
__global__ void k_ssd_scan(ll_ssd_params p) {
    const long idx = blockIdx.x * (long)blockDim.x + threadIdx.x;
    const long total = (long)p.B * p.NH * p.P;
    if (idx >= total) return;
    const int q = (int)(idx % p.P), h = (int)((idx / p.P) % p.NH), b = (int)(idx / ((long)p.P * p.NH));
    const int g = h / (p.NH / p.G), N = p.N;
    const long E = (long)p.NH * p.P;
    float s[MAXN];
    float *st = p.state ? p.state + (((size_t)b * p.NH + h) * p.P + q) * N : NULL;
#pragma unroll
    for (int n = 0; n < MAXN; n++) s[n] = (n < N && st) ? st[n] : 0.0f;
    const float A = -expf(p.A_log[h]), Dh = p.D ? p.D[h] : 0.0f, bias = p.dt_bias ? p.dt_bias[h] : 0.0f;
    for (int t = 0; t < p.T; t++) {
        const size_t r = (size_t)b * p.T + t;
        float dt = p.dt[r * p.dt_rs + h] + bias;
        dt = dt > 20.0f ? dt : log1pf(expf(dt));
        dt = fminf(fmaxf(dt, p.dt_min), p.dt_max);
        const float dA = expf(dt * A);
        const float xv = p.x[r * p.x_rs + (size_t)h * p.P + q], xd = xv * dt;
        const float *Bm = p.Bm + r * p.bc_rs + (size_t)g * N, *Cm = p.Cm + r * p.bc_rs + (size_t)g * N;
        float acc = 0.0f;
#pragma unroll
        for (int n = 0; n < MAXN; n++)
            if (n < N) {
                s[n] = s[n] * dA + xd * Bm[n];
                acc += s[n] * Cm[n];
            }
        p.y[r * E + (size_t)h * p.P + q] = acc + Dh * xv;
    }
    if (st)
#pragma unroll
        for (int n = 0; n < MAXN; n++)
            if (n < N) st[n] = s[n];
}
__global__ void k_ssd_gated_norm(ll_ssd_params p) {
    const long idx = blockIdx.x * (long)blockDim.x + threadIdx.x;
    const long rows = (long)p.B * p.T;
    if (idx >= rows * p.norm_groups) return;
    const long r = idx / p.norm_groups;
    const int k = (int)(idx % p.norm_groups);
    const long E = (long)p.NH * p.P, gs = E / p.norm_groups;
    float *y = p.y + r * E + k * gs;
    const float *z = p.z ? p.z + r * p.z_rs + k * gs : NULL;
    float ss = 0.0f;
    for (long i = 0; i < gs; i++) {
        float v = y[i];
        if (z) v *= z[i] / (1.0f + expf(-z[i]));
        y[i] = v;
        ss += v * v;
    }
    const float inv = rsqrtf(ss / (float)gs + p.norm_eps);
    const float *w = p.norm_w + k * gs;
    for (long i = 0; i < gs; i++) y[i] = w[i] * (y[i] * inv);
}
static int ssd_(opsctx *x, const ll_ssd_params *p) {
    if (p->N < 1 || p->N > SSD_MAXN || p->G < 1 || p->NH % p->G) {
        ll_set_error("CUDA ssd_scan: state size %d (1..%d) or groups %d of %d heads not supported", p->N, SSD_MAXN,
                     p->G, p->NH);
        return -1;
    }
    const long total = (long)p->B * p->NH * p->P;
    if (total == 0) return 0;
    if (p->N <= 16) LL_LAUNCH(k_ssd_scan<16>, ll_cdiv(total, 128), 128, 0, x->c->stream, *p);
    else if (p->N <= 64) LL_LAUNCH(k_ssd_scan<64>, ll_cdiv(total, 128), 128, 0, x->c->stream, *p);
    else LL_LAUNCH(k_ssd_scan<SSD_MAXN>, ll_cdiv(total, 128), 128, 0, x->c->stream, *p);
    if (p->norm_w) {
        const long n = (long)p->B * p->T * p->norm_groups;
        if (n) LL_LAUNCH(k_ssd_gated_norm, ll_cdiv(n, 128), 128, 0, x->c->stream, *p);
    }
    return 0;
}
static void cu_ssd(void *ctx, const ll_ssd_params *p) { OPCALL(ctx, ssd_((opsctx *)ctx, p)); }

/* ------------------------------------------------------------------- table */
static const ll_ops cuda_ops = {
    .name = "cuda",
    .host_memory = 0,
    .alloc = cu_alloc,
    .free = cu_free,
    .upload = cu_upload,
    .download = cu_download,
    .sync = cu_sync,
    .linear = cu_linear,
    .embedding = cu_embedding,
    .layernorm = cu_layernorm,
    .rmsnorm = cu_rmsnorm,
    .add = cu_add,
    .mul = cu_mul,
    .scale = cu_scale,
    .gelu_tanh = cu_gelu_tanh,
    .gelu_erf = cu_gelu_erf,
    .silu = cu_silu,
    .swiglu = cu_swiglu,
    .rope = cu_rope,
    .attention = cu_attention,
    .copy2d = cu_copy2d,
    .sigmoid = cu_sigmoid,
    .relu_sq = cu_relu_sq,
    .rwkv_shift_mix = cu_shift_mix,
    .wkv4 = cu_wkv4,
    .conv1d_silu = cu_conv1d_silu,
    .selective_scan = cu_sscan,
    .relu = cu_relu,
    .ssd_scan = cu_ssd,
};

extern "C" const ll_ops *ll_cuda_ops(void) { return &cuda_ops; }

extern "C" void *ll_cuda_ops_ctx_new(int device, ll_dtype compute) {
    if (compute != LL_DT_F32 && compute != LL_DT_BF16) {
        ll_set_error("CUDA backend: compute dtype must be f32 or bf16");
        return NULL;
    }
    if (ll_cuda_init(device) != 0) return NULL;
    opsctx *x = (opsctx *)calloc(1, sizeof *x);
    x->c = ll_cuda_ctx_get();
    x->compute = compute;
    /* bf16 tensor-core attention for hd 64/128 by default (passed its op parity test and
     * the model-level comparison on an H200: docs/gpu-log.md); LAYERLAW_CUDA_ATTN_TC=0: the FP32 kernel (LL_CUDA_* names: deprecated aliases) */
    const char *tc = ll_getenv_renamed("LAYERLAW_CUDA_ATTN_TC", "LL_CUDA_ATTN_TC");
    x->attn_tc = !(tc && tc[0] == '0');
    const char *ss = ll_getenv_renamed("LAYERLAW_CUDA_SSCAN_SERIAL", "LL_CUDA_SSCAN_SERIAL");
    x->sscan_serial = ss && ss[0] == '1';
    return x;
}
extern "C" void ll_cuda_ops_ctx_free(void *ctx) {
    opsctx *x = (opsctx *)ctx;
    if (!x) return;
    if (x->scratch) {
        cudaStreamSynchronize(x->c->stream);
        ll_cuda_free(x->scratch);
    }
    free(x);
}

__global__ void k_f32_to_bf16_w(__nv_bfloat16 *o, const float *i, size_t n) {
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x)
        o[k] = __float2bfloat16(i[k]);
}
static int upload_weight_(ll_weight *dst, const float *src, int64_t rows, int64_t cols, ll_dtype dt) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    size_t n = (size_t)rows * cols;
    float *tmp = NULL;
    void *out = NULL;
    LL_TRY(ll_cuda_alloc(&out, n * (dt == LL_DT_F32 ? 4 : 2), "the weights [%lld x %lld]", (long long)rows, (long long)cols));
    if (dt == LL_DT_F32) {
        LL_CU(cudaMemcpyAsync(out, src, n * 4, cudaMemcpyHostToDevice, c->stream));
    } else {
        if (ll_cuda_alloc((void **)&tmp, n * 4, "the fp32 staging copy of the weights [%lld x %lld]", (long long)rows,
                          (long long)cols) != 0) { ll_cuda_free(out); return -1; }
        LL_CU(cudaMemcpyAsync(tmp, src, n * 4, cudaMemcpyHostToDevice, c->stream));
        if (dt == LL_DT_BF16)
            LL_LAUNCH(k_f32_to_bf16_w, grid_for(n, 256), 256, 0, c->stream, (__nv_bfloat16 *)out, tmp, n);
        else
            LL_LAUNCH(k_f32_to_f16, grid_for(n, 256), 256, 0, c->stream, (__half *)out, tmp, n);
    }
    LL_CU(cudaStreamSynchronize(c->stream));
    if (tmp) ll_cuda_free(tmp);
    dst->data = out;
    dst->dtype = dt;
    dst->rows = rows;
    dst->cols = cols;
    return 0;
}
extern "C" int ll_cuda_upload_weight(ll_weight *dst, const float *src, int64_t rows, int64_t cols, ll_dtype dt) {
    if (dt != LL_DT_F32 && dt != LL_DT_BF16 && dt != LL_DT_F16) {
        ll_set_error("CUDA weights: dtype %d not supported (f32, bf16, f16)", (int)dt);
        return -1;
    }
    return upload_weight_(dst, src, rows, cols, dt);
}
