/* CPU dense ops of the op table (host/ops/ops.h): linear = OpenBLAS sgemm
 * split over OpenMP threads, embedding, norms, elementwise and activations,
 * RoPE, attention, strided copy.  Weights are F32 on the CPU (the loader
 * converts).  The table itself: host/ops/cpu_backend.c. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "ops/ops.h"
#include "ops/cpu_ops.h"

/* OpenBLAS extension (declared in its cblas.h; repeated here for builds whose
 * cblas.h does not). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

/* Below this many elements an op runs on one thread: an OpenMP region costs
 * microseconds when idle but milliseconds when the cores are shared with
 * other processes (a descheduled worker stalls the barrier). */
#define PAR_MIN (1L << 18)

/* Hot loops are compiled for AVX-512 / AVX2 / baseline and picked at run time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define LL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LL_CLONES
#endif


/* ---- linear ---- */
/* out[rows, M] = in[rows, K]·Wᵀ + beta·out.  OpenBLAS computes a row left
 * over by its row unrolling (an odd row count) with another kernel whose sums
 * differ in the last bit from the same row inside a pair, so a sequence's
 * values would depend on the rows around it (its batch, the thread split):
 * an odd last row is computed as a pair of two copies instead. */
static void sgemm_rows(int rows, int M, int K, const float *in, const float *W, float beta, float *out) {
    const int even = rows & ~1;
    if (even)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, even, M, K, 1.0f, in, K, W, K, beta, out, M);
    if (rows & 1) {
        float *a = ll_xmalloc(sizeof(float) * 2 * ((size_t)K + M)), *c = a + 2 * (size_t)K;
        const float *last = in + (int64_t)even * K;
        float *o = out + (int64_t)even * M;
        memcpy(a, last, sizeof(float) * K);
        memcpy(a + K, last, sizeof(float) * K);
        memcpy(c, o, sizeof(float) * M);
        memcpy(c + M, o, sizeof(float) * M);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 2, M, K, 1.0f, a, K, W, K, beta, c, M);
        memcpy(o, c, sizeof(float) * M);
        free(a);
    }
}

void ll_cpu_linear(void *ctx, float *out, const float *in, const ll_weight *W, const float *bias, int N) {
    const int M = (int)W->rows, K = (int)W->cols;
    float beta = 0.0f;
    if (bias) {
#pragma omp parallel for schedule(static) if ((long)N * M > PAR_MIN)
        for (int r = 0; r < N; r++) memcpy(out + (size_t)r * M, bias, sizeof(float) * M);
        beta = 1.0f;
    }
    if (N <= 0) return;
    /* All threading under OpenMP: OpenBLAS runs single-threaded inside each
     * thread's row block (two thread pools spinning against each other on a
     * few cores cost 10x on small models). */
    const cpu_ctx *c = ctx;
    int nt = c ? c->threads : 1;
    if ((double)N * M * K < 8e6 || N < 2 * nt) nt = 1;
    int saved = openblas_get_num_threads();
    if (saved != 1) openblas_set_num_threads(1);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        /* blocks of an even number of rows (see sgemm_rows) */
        int t = omp_get_thread_num(), n = omp_get_num_threads();
        int r0 = (int)((int64_t)N * t / n) & ~1, r1 = t == n - 1 ? N : (int)((int64_t)N * (t + 1) / n) & ~1;
        if (r1 > r0) sgemm_rows(r1 - r0, M, K, in + (int64_t)r0 * K, (const float *)W->data, beta, out + (int64_t)r0 * M);
    }
    if (saved != 1) openblas_set_num_threads(saved);
}

void ll_cpu_embedding(void *ctx, float *out, const ll_weight *table, const int32_t *ids, int N, int accumulate) {
    (void)ctx;
    const int64_t C = table->cols;
    const float *T = table->data;
#pragma omp parallel for schedule(static) if ((long)N * C > PAR_MIN)
    for (int r = 0; r < N; r++) {
        const float *src = T + (int64_t)ids[r] * C;
        float *dst = out + (int64_t)r * C;
        if (accumulate)
            for (int64_t c = 0; c < C; c++) dst[c] += src[c];
        else
            memcpy(dst, src, sizeof(float) * C);
    }
}

LL_CLONES void ll_cpu_layernorm(void *ctx, float *out, const float *in, const float *w, const float *b, int N, int C, float eps) {
    (void)ctx;
#pragma omp parallel for schedule(static) if ((long)N * C > PAR_MIN / 4)
    for (int r = 0; r < N; r++) {
        const float *x = in + (int64_t)r * C;
        float *y = out + (int64_t)r * C;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) s += x[c];
        double mean = s / C, v = 0;
#pragma omp simd reduction(+ : v)
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

LL_CLONES void ll_cpu_rmsnorm(void *ctx, float *out, const float *in, const float *w, int N, int C, float eps) {
    (void)ctx;
#pragma omp parallel for schedule(static) if ((long)N * C > PAR_MIN / 4)
    for (int r = 0; r < N; r++) {
        const float *x = in + (int64_t)r * C;
        float *y = out + (int64_t)r * C;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) s += (double)x[c] * x[c];
        float rs = (float)(1.0 / sqrt(s / C + (double)eps));
        for (int c = 0; c < C; c++) {
            float t = x[c] * rs;
            y[c] = w ? w[c] * t : t;
        }
    }
}

/* exp for the elementwise loops: Cephes-style range reduction and degree-6
 * polynomial, ~1 ulp on [-87, 88] (clamped outside), written so that the
 * compiler vectorises it (expf from libm is a scalar call). */
static inline float ll_fexp(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    float y = p * r * r + r + 1.0f;
    union { uint32_t u; float f; } sc;
    /* a NaN input passes the clamp: its (int) cast would be undefined (clang's
     * float-cast-overflow check); y is NaN then, so any finite scale keeps it */
    sc.u = (uint32_t)((n == n ? (int32_t)n : 0) + 127) << 23;
    return y * sc.f;
}


#define ELEMWISE(name, expr)                                                                   \
    LL_CLONES void name(void *ctx, float *out, const float *in, size_t n) {             \
        (void)ctx;                                                                             \
        _Pragma("omp parallel for simd schedule(static) if (n > PAR_MIN)")                     \
        for (size_t i = 0; i < n; i++) { float x = in[i]; out[i] = (expr); }                   \
    }
/* gelu_new: 0.5·x·(1 + tanh(u)) = x / (1 + exp(−2u)), u = √(2/π)(x + 0.044715x³) */
ELEMWISE(ll_cpu_gelu_tanh, x / (1.0f + ll_fexp(-2.0f * 0.7978845608028654f * (x + 0.044715f * x * x * x))))
ELEMWISE(ll_cpu_gelu_erf, (float)(0.5 * x * (1.0 + erf(x * 0.7071067811865476))))
ELEMWISE(ll_cpu_silu, x / (1.0f + ll_fexp(-x)))
ELEMWISE(ll_cpu_sigmoid, 1.0f / (1.0f + ll_fexp(-x)))
ELEMWISE(ll_cpu_relu_sq, x > 0 ? x * x : 0.0f)
ELEMWISE(ll_cpu_relu, x > 0 ? x : 0.0f)

void ll_cpu_add(void *ctx, float *out, const float *a, const float *b, size_t n) {
    (void)ctx;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
void ll_cpu_mul(void *ctx, float *out, const float *a, const float *b, size_t n) {
    (void)ctx;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}
void ll_cpu_scale(void *ctx, float *out, const float *a, float s, size_t n) {
    (void)ctx;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] * s;
}
LL_CLONES void ll_cpu_swiglu(void *ctx, float *out, const float *gate, const float *up, size_t n) {
    (void)ctx;
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) { float g = gate[i]; out[i] = (g / (1.0f + ll_fexp(-g))) * up[i]; }
}

void ll_cpu_rope(void *ctx, const ll_rope_params *p) {
    (void)ctx;
    const int half = p->rot_dims / 2;
#pragma omp parallel if ((long)p->N * p->n_heads * half > PAR_MIN / 8)
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

/* Per (b, h): query blocks of QB rows; S = scale·Q_blk·K[0:t1]ᵀ and
 * O_blk = softmax(S)·V[0:t1] by sgemm (OpenBLAS single-threaded inside the
 * OpenMP loop), causal mask and sliding window applied to S. */
#define ATT_QB 64
LL_CLONES void ll_cpu_attention(void *ctx, const ll_attn_params *p) {
    (void)ctx;
    const int B = p->B, T = p->T, H = p->H, hd = p->hd;
    const int grp = p->H / p->KVH;
    const double work = (double)B * H * T * (p->bidirectional ? 2 * T : T + 1) / 2 * hd;
#pragma omp parallel if (work > 4.0 * PAR_MIN)
    {
        float *S = malloc(sizeof(float) * (size_t)ATT_QB * (T > 0 ? T : 1));
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                const int len = p->lens[b] < T ? p->lens[b] : T;
                const int g = h / grp;
                const float *K = p->k + (int64_t)b * T * p->k_rs + (int64_t)g * p->k_hs;
                const float *V = p->v + (int64_t)b * T * p->v_rs + (int64_t)g * p->v_hs;
                const int bidir = p->bidirectional, win = bidir ? 0 : p->window;
                for (int t0 = 0; t0 < len; t0 += ATT_QB) {
                    const int nq = LL_MIN(ATT_QB, len - t0), t1 = bidir ? len : t0 + nq; /* keys [s0, t1) */
                    int s0 = 0;
                    if (win > 0 && t0 - win + 1 > 0) s0 = t0 - win + 1;
                    const int nk = t1 - s0;
                    const float *Qb = p->q + ((int64_t)b * T + t0) * p->q_rs + (int64_t)h * p->q_hs;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, hd, p->scale, Qb, (int)p->q_rs,
                                K + (int64_t)s0 * p->k_rs, (int)p->k_rs, 0.0f, S, nk);
                    for (int i = 0; i < nq; i++) {
                        const int t = t0 + i;
                        float *row = S + (size_t)i * nk;
                        int lo = 0; /* first allowed key, relative to s0 */
                        if (win > 0 && t - win + 1 > s0) lo = t - win + 1 - s0;
                        const int hi = bidir ? nk - 1 : t - s0; /* last allowed key */
                        if (p->softcap > 0) {
                            const float cap = p->softcap;
                            for (int s = lo; s <= hi; s++) row[s] = cap * tanhf(row[s] / cap);
                        }
                        if (p->bias) {
                            const float *bb = p->bias + ((int64_t)h * T + t) * T + s0;
                            for (int s = lo; s <= hi; s++) row[s] += bb[s];
                        }
                        float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
                        for (int s = lo; s <= hi; s++) mx = row[s] > mx ? row[s] : mx;
                        float sum = 0;
#pragma omp simd reduction(+ : sum)
                        for (int s = lo; s <= hi; s++) { float e = ll_fexp(row[s] - mx); row[s] = e; sum += e; }
                        const float inv = 1.0f / sum;
                        for (int s = 0; s < lo; s++) row[s] = 0;
#pragma omp simd
                        for (int s = lo; s <= hi; s++) row[s] *= inv;
                        for (int s = hi + 1; s < nk; s++) row[s] = 0;
                    }
                    float *Ob = p->out + ((int64_t)b * T + t0) * p->o_rs + (int64_t)h * hd;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, hd, nk, 1.0f, S, nk,
                                V + (int64_t)s0 * p->v_rs, (int)p->v_rs, 0.0f, Ob, (int)p->o_rs);
                }
                for (int t = len; t < T; t++)
                    memset(p->out + ((int64_t)b * T + t) * p->o_rs + (int64_t)h * hd, 0, sizeof(float) * hd);
            }
        free(S);
    }
}

void ll_cpu_copy2d(void *ctx, float *dst, int64_t drs, const float *src, int64_t srs, int rows, int cols) {
    (void)ctx;
#pragma omp parallel for schedule(static) if ((long)rows * cols > PAR_MIN)
    for (int r = 0; r < rows; r++) memcpy(dst + r * drs, src + r * srs, sizeof(float) * cols);
}
