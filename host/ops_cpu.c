/* The CPU backend: the reference implementation of every op in host/ops.h.
 * linear = OpenBLAS sgemm (threads set by ll_cpu_ctx_new); the other ops are
 * OpenMP loops.  Weights are F32 on the CPU (the loader converts). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "ll_util.h"
#include "ops.h"
#include "ops_ssm.h"

/* OpenBLAS extension (declared in its cblas.h; repeated here for builds whose
 * cblas.h does not). */
void openblas_set_num_threads(int num_threads);

typedef struct { int threads; } cpu_ctx;

void *ll_cpu_ctx_new(int threads) {
    cpu_ctx *c = ll_xcalloc(1, sizeof *c);
    if (threads <= 0) threads = omp_get_num_procs();
    c->threads = threads;
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    return c;
}
void ll_cpu_ctx_free(void *ctx) { free(ctx); }

static void *cpu_alloc(void *ctx, size_t bytes) { (void)ctx; return ll_xmalloc_aligned(bytes ? bytes : 64); }
static void cpu_free(void *ctx, void *p) { (void)ctx; free(p); }
static void cpu_copy(void *ctx, void *dst, const void *src, size_t bytes) { (void)ctx; if (dst != src) memmove(dst, src, bytes); }
static int cpu_sync(void *ctx) { (void)ctx; return 0; }

/* ---- linear ---- */
static void cpu_linear(void *ctx, float *out, const float *in, const ll_weight *W, const float *bias, int N) {
    (void)ctx;
    const int M = (int)W->rows, K = (int)W->cols;
    float beta = 0.0f;
    if (bias) {
#pragma omp parallel for schedule(static) if ((long)N * M > 65536)
        for (int r = 0; r < N; r++) memcpy(out + (size_t)r * M, bias, sizeof(float) * M);
        beta = 1.0f;
    }
    if (N <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, M, K, 1.0f, in, K, (const float *)W->data, K, beta, out,
                M);
}

static void cpu_embedding(void *ctx, float *out, const ll_weight *table, const int32_t *ids, int N, int accumulate) {
    (void)ctx;
    const int64_t C = table->cols;
    const float *T = table->data;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *src = T + (int64_t)ids[r] * C;
        float *dst = out + (int64_t)r * C;
        if (accumulate)
            for (int64_t c = 0; c < C; c++) dst[c] += src[c];
        else
            memcpy(dst, src, sizeof(float) * C);
    }
}

static void cpu_layernorm(void *ctx, float *out, const float *in, const float *w, const float *b, int N, int C, float eps) {
    (void)ctx;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *x = in + (int64_t)r * C;
        float *y = out + (int64_t)r * C;
        double s = 0;
        for (int c = 0; c < C; c++) s += x[c];
        double mean = s / C, v = 0;
        for (int c = 0; c < C; c++) { double d = x[c] - mean; v += d * d; }
        float rstd = (float)(1.0 / sqrt(v / C + (double)eps));
        float m = (float)mean;
        for (int c = 0; c < C; c++) {
            float t = (x[c] - m) * rstd;
            if (w) t *= w[c];
            if (b) t += b[c];
            y[c] = t;
        }
    }
}

static void cpu_rmsnorm(void *ctx, float *out, const float *in, const float *w, int N, int C, float eps) {
    (void)ctx;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *x = in + (int64_t)r * C;
        float *y = out + (int64_t)r * C;
        double s = 0;
        for (int c = 0; c < C; c++) s += (double)x[c] * x[c];
        float rs = (float)(1.0 / sqrt(s / C + (double)eps));
        for (int c = 0; c < C; c++) {
            float t = x[c] * rs;
            y[c] = w ? w[c] * t : t;
        }
    }
}

#define ELEMWISE(name, expr)                                                                   \
    static void name(void *ctx, float *out, const float *in, size_t n) {                       \
        (void)ctx;                                                                             \
        _Pragma("omp parallel for schedule(static) if (n > 32768)")                            \
        for (size_t i = 0; i < n; i++) { float x = in[i]; out[i] = (expr); }                   \
    }
ELEMWISE(cpu_gelu_tanh, 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x))))
ELEMWISE(cpu_gelu_erf, (float)(0.5 * x * (1.0 + erf(x * 0.7071067811865476))))
ELEMWISE(cpu_silu, x / (1.0f + expf(-x)))
ELEMWISE(cpu_sigmoid, 1.0f / (1.0f + expf(-x)))
ELEMWISE(cpu_relu_sq, x > 0 ? x * x : 0.0f)

static void cpu_add(void *ctx, float *out, const float *a, const float *b, size_t n) {
    (void)ctx;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
static void cpu_mul(void *ctx, float *out, const float *a, const float *b, size_t n) {
    (void)ctx;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}
static void cpu_scale(void *ctx, float *out, const float *a, float s, size_t n) {
    (void)ctx;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) out[i] = a[i] * s;
}
static void cpu_swiglu(void *ctx, float *out, const float *gate, const float *up, size_t n) {
    (void)ctx;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) { float g = gate[i]; out[i] = (g / (1.0f + expf(-g))) * up[i]; }
}

static void cpu_rope(void *ctx, const ll_rope_params *p) {
    (void)ctx;
    const int half = p->rot_dims / 2;
#pragma omp parallel
    {
        float *cs = malloc(sizeof(float) * 2 * (half > 0 ? half : 1));
#pragma omp for schedule(static)
        for (int r = 0; r < p->N; r++) {
            float pos = (float)p->pos[r];
            for (int i = 0; i < half; i++) {
                float a = pos * p->inv_freq[i];
                cs[i] = cosf(a);
                cs[half + i] = sinf(a);
            }
            for (int h = 0; h < p->n_heads; h++) {
                float *x = p->x + (int64_t)r * p->rs + (int64_t)h * p->hs;
                for (int i = 0; i < half; i++) {
                    float x1 = x[i], x2 = x[i + half], c = cs[i], s = cs[half + i];
                    x[i] = x1 * c - x2 * s;
                    x[i + half] = x2 * c + x1 * s;
                }
            }
        }
        free(cs);
    }
}

static void cpu_attention(void *ctx, const ll_attn_params *p) {
    (void)ctx;
    const int B = p->B, T = p->T, H = p->H, hd = p->hd;
    const int grp = p->H / p->KVH;
#pragma omp parallel
    {
        float *sc = malloc(sizeof(float) * (T > 0 ? T : 1));
        float *acc = malloc(sizeof(float) * (hd > 0 ? hd : 1));
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                const int len = p->lens[b] < T ? p->lens[b] : T;
                const int g = h / grp;
                for (int t = 0; t < T; t++) {
                    const int64_t r = (int64_t)b * T + t;
                    float *o = p->out + r * p->o_rs + (int64_t)h * hd;
                    if (t >= len) { memset(o, 0, sizeof(float) * hd); continue; }
                    const float *q = p->q + r * p->q_rs + (int64_t)h * p->q_hs;
                    int s0 = 0;
                    if (p->window > 0 && t - p->window + 1 > 0) s0 = t - p->window + 1;
                    float mx = -INFINITY;
                    for (int s = s0; s <= t; s++) {
                        const float *k = p->k + ((int64_t)b * T + s) * p->k_rs + (int64_t)g * p->k_hs;
                        float d = 0;
#pragma omp simd reduction(+ : d)
                        for (int i = 0; i < hd; i++) d += q[i] * k[i];
                        d *= p->scale;
                        sc[s] = d;
                        if (d > mx) mx = d;
                    }
                    float sum = 0;
                    for (int s = s0; s <= t; s++) { float e = expf(sc[s] - mx); sc[s] = e; sum += e; }
                    float inv = 1.0f / sum;
                    for (int i = 0; i < hd; i++) acc[i] = 0;
                    for (int s = s0; s <= t; s++) {
                        const float *v = p->v + ((int64_t)b * T + s) * p->v_rs + (int64_t)g * p->v_hs;
                        float w = sc[s] * inv;
#pragma omp simd
                        for (int i = 0; i < hd; i++) acc[i] += w * v[i];
                    }
                    memcpy(o, acc, sizeof(float) * hd);
                }
            }
        free(sc);
        free(acc);
    }
}

static void cpu_copy2d(void *ctx, float *dst, int64_t drs, const float *src, int64_t srs, int rows, int cols) {
    (void)ctx;
#pragma omp parallel for schedule(static) if ((long)rows * cols > 32768)
    for (int r = 0; r < rows; r++) memcpy(dst + r * drs, src + r * srs, sizeof(float) * cols);
}

static const ll_ops cpu_ops = {
    .name = "cpu",
    .host_memory = 1,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .sync = cpu_sync,
    .linear = cpu_linear,
    .embedding = cpu_embedding,
    .layernorm = cpu_layernorm,
    .rmsnorm = cpu_rmsnorm,
    .add = cpu_add,
    .mul = cpu_mul,
    .scale = cpu_scale,
    .gelu_tanh = cpu_gelu_tanh,
    .gelu_erf = cpu_gelu_erf,
    .silu = cpu_silu,
    .swiglu = cpu_swiglu,
    .rope = cpu_rope,
    .attention = cpu_attention,
    .copy2d = cpu_copy2d,
    .sigmoid = cpu_sigmoid,
    .relu_sq = cpu_relu_sq,
    /* ---- recurrent families: the RWKV/Mamba engineer plugs his CPU ops
     * (host/ops_ssm.c) in here, one line each ---- */
    .rwkv_shift_mix = ll_cpu_rwkv_shift_mix,
    .wkv4 = ll_cpu_wkv4,
    .conv1d_silu = ll_cpu_conv1d_silu,
    .selective_scan = ll_cpu_selective_scan,
};

const ll_ops *ll_cpu_ops(void) { return &cpu_ops; }
