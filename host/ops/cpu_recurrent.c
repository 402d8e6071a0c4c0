/* CPU recurrent ops for RWKV-4 and Mamba (contracts in host/ops/ops.h; in
 * the table ll_cpu_ops() of host/ops/cpu_backend.c).
 *
 * The float operations follow HF's CPU code in the same order
 * (modeling_rwkv.py rwkv_linear_attention_cpu, modeling_mamba.py
 * mamba_selective_scan), so results agree to a few ulps; the library is
 * compiled as ISO C (-std=c11 → no FMA contraction).  exp in the two
 * recurrences is exp_v8 below (8 lanes, <= 0.7 ulp; torch's own CPU exp is a
 * vectorised SLEEF one, also not correctly rounded).  The sum over the Mamba
 * state (Σ_n h·C, a matmul in HF) is a pairwise SIMD reduction.  The
 * ll_ref_* versions use libm expf and plain loops.
 *
 * Parallel layout: OpenMP over (b, block of channels); inside, serial in t
 * and a SIMD loop over the block's channels (WKV) or state (scan), whose
 * states stay in L1.  The inner kernels are compiled twice (AVX2 and
 * baseline x86-64) and picked at load time (target_clones). */
#include "ops/cpu_ops.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"

#define CH 32 /* channels per task */

#pragma GCC diagnostic ignored "-Wpsabi" /* 32-byte vectors in static inline helpers only */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define LL_TC __attribute__((target_clones("avx2", "default")))
#else
#define LL_TC
#endif

/* exp(x) in float: x = n·ln2 + r (Cody-Waite), e^r by the Cephes degree-6
 * polynomial, scaled by 2^n through the exponent bits.  Max error 0.7 ulp on
 * [-87, 88]; x < -87.34 (below the normal range) → 0; x > 88 clamps.  The
 * recurrences only take x <= 0.  8 lanes at a time with GCC vector
 * extensions (two SSE halves on baseline x86-64, one AVX2 op in the avx2
 * clones). */
typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) v8f vsel(v8i m, v8f a, v8f b) { return (v8f)(((v8i)a & m) | ((v8i)b & ~m)); }
static inline __attribute__((always_inline)) v8f vmax(v8f a, v8f b) { return vsel(a > b, a, b); }

static inline __attribute__((always_inline)) v8f exp_v8(v8f x) {
    v8f xc = vsel(x < -88.0f, (v8f){0} - 88.0f, x);
    xc = vsel(xc > 88.0f, (v8f){0} + 88.0f, xc);
    const v8f t = xc * 1.44269504088896341f;
    const v8f half = vsel(t < 0.0f, (v8f){0} - 0.5f, (v8f){0} + 0.5f);
    const v8i n = __builtin_convertvector(t + half, v8i);
    const v8f fn = __builtin_convertvector(n, v8f);
    v8f r = xc - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    const v8f r2 = r * r;
    v8f y = (v8f){0} + 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r2 + r + 1.0f;
    const v8f res = y * (v8f)((n + 127) << 23);
    return vsel(x < -87.3365447f, (v8f){0}, res);
}

/* log(x) for x > 0 normal (Cephes logf polynomial on the mantissa). */
static inline __attribute__((always_inline)) v8f log_v8(v8f x) {
    const v8i bits = (v8i)x;
    v8i e = ((bits >> 23) & 0xff) - 126;
    v8f m = (v8f)((bits & (int)0x807fffff) | 0x3f000000); /* [0.5, 1) */
    const v8i small = m < 0.707106781186547524f;
    e = e + small;                                     /* small lanes: e - 1 (mask is -1) */
    m = vsel(small, m + m - 1.0f, m - 1.0f);
    const v8f fe = __builtin_convertvector(e, v8f);
    const v8f z = m * m;
    v8f y = (v8f){0} + 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    y = y + fe * -2.12194440e-4f;
    y = y - z * 0.5f;
    return m + y + fe * 0.693359375f;
}

/* softplus (beta 1, threshold 20, as torch): x > 20 → x, else log1p(e^x),
 * log1p(y) = log(u)·y/(u−1) with u = 1 + y (exact u − 1; u == 1 → y). */
static inline __attribute__((always_inline)) v8f softplus_v8(v8f x) {
    const v8f y = exp_v8(x), u = y + 1.0f, um1 = u - 1.0f;
    const v8i one = um1 == 0.0f;
    const v8f l = log_v8(u) * y / vsel(one, (v8f){0} + 1.0f, um1);
    return vsel(x > 20.0f, x, vsel(one, y, l));
}

static inline __attribute__((always_inline)) v8f silu_v8(v8f x) { return x / (exp_v8(-x) + 1.0f); }

void ll_cpu_rwkv_shift_mix(void *ctx, float *out_k, float *out_v, float *out_r, const float *x,
                           const float *prev, const float *mix_k, const float *mix_v, const float *mix_r,
                           int B, int T, int C) {
    (void)ctx;
    const long N = (long)B * T;
#pragma omp parallel for schedule(static) if (N * C > 32768)
    for (long r = 0; r < N; r++) {
        const int b = (int)(r / T), t = (int)(r % T);
        const float *xr = x + r * C;
        const float *xs = t > 0 ? x + (r - 1) * C : (prev ? prev + (size_t)b * C : NULL);
        float *ok = out_k + r * C, *orr = out_r + r * C, *ov = out_v ? out_v + r * C : NULL;
        for (int c = 0; c < C; c++) {
            const float h = xr[c], s = xs ? xs[c] : 0.0f;
            ok[c] = h * mix_k[c] + s * (1.0f - mix_k[c]);
            orr[c] = h * mix_r[c] + s * (1.0f - mix_r[c]);
            if (ov) ov[c] = h * mix_v[c] + s * (1.0f - mix_v[c]);
        }
    }
}

/* One WKV-4 step for one channel, HF's operation order (reference). */
static inline float wkv_step(float kk, float vv, float u, float w, float *aa, float *bb, float *pp) {
    const float p = *pp, a = *aa, b = *bb;
    const float ku = kk + u;
    const float q = fmaxf(p, ku);
    float e1 = expf(p - q), e2 = expf(ku - q);
    const float num = e1 * a + e2 * vv, den = e1 * b + e2;
    const float out = num / den;
    const float pw = p + w;
    const float q2 = fmaxf(pw, kk);
    e1 = expf(pw - q2);
    e2 = expf(kk - q2);
    *aa = e1 * a + e2 * vv;
    *bb = e1 * b + e2;
    *pp = q2;
    return out;
}

/* T steps of CH channels (one task, nc real; the rest padding): the same
 * operations as wkv_step, 8 channels per vector. */
LL_TC static void wkv_task(float *out, const float *k, const float *v, const float *w, const float *u, float *aa,
                           float *bb, float *pp, size_t r0, int T, int A, int nc) {
    v8f kb[CH / 8], vb[CH / 8], ob[CH / 8];
    memset(kb, 0, sizeof kb);
    memset(vb, 0, sizeof vb);
    const int nv = (nc + 7) / 8;
    for (int t = 0; t < T; t++) {
        const size_t r = r0 + (size_t)t * A;
        memcpy(kb, k + r, sizeof(float) * nc);
        memcpy(vb, v + r, sizeof(float) * nc);
        for (int j = 0; j < nv; j++) {
            v8f P, Aa, Bb, U, W;
            memcpy(&P, pp + 8 * j, sizeof P);
            memcpy(&Aa, aa + 8 * j, sizeof Aa);
            memcpy(&Bb, bb + 8 * j, sizeof Bb);
            memcpy(&U, u + 8 * j, sizeof U);
            memcpy(&W, w + 8 * j, sizeof W);
            const v8f K = kb[j], V = vb[j];
            const v8f ku = K + U, q = vmax(P, ku);
            v8f e1 = exp_v8(P - q), e2 = exp_v8(ku - q);
            const v8f num = e1 * Aa + e2 * V, den = e1 * Bb + e2;
            ob[j] = num / den;
            const v8f pw = P + W, q2 = vmax(pw, K);
            e1 = exp_v8(pw - q2);
            e2 = exp_v8(K - q2);
            Aa = e1 * Aa + e2 * V;
            Bb = e1 * Bb + e2;
            memcpy(aa + 8 * j, &Aa, sizeof Aa);
            memcpy(bb + 8 * j, &Bb, sizeof Bb);
            memcpy(pp + 8 * j, &q2, sizeof q2);
        }
        memcpy(out + r, ob, sizeof(float) * nc);
    }
}

void ll_cpu_wkv4(void *ctx, float *out, const float *k, const float *v, const float *time_decay,
                 const float *time_first, float *state, int B, int T, int A) {
    (void)ctx;
    const int nblk = (A + CH - 1) / CH;
    const long ntask = (long)B * nblk;
#pragma omp parallel for schedule(static) if ((long)B * T * A > 4096)
    for (long task = 0; task < ntask; task++) {
        const int b = (int)(task / nblk), c0 = (int)(task % nblk) * CH;
        const int nc = A - c0 < CH ? A - c0 : CH;
        float aa[CH], bb[CH], pp[CH], w[CH], u[CH];
        for (int i = nc; i < CH; i++) { aa[i] = bb[i] = w[i] = u[i] = 0.0f; pp[i] = -1e38f; }
        for (int i = 0; i < nc; i++) {
            const int c = c0 + i;
            w[i] = -expf(time_decay[c]);
            u[i] = time_first[c];
            if (state) {
                aa[i] = state[(size_t)b * A + c];
                bb[i] = state[((size_t)B + b) * A + c];
                pp[i] = state[((size_t)2 * B + b) * A + c];
            } else {
                aa[i] = 0.0f;
                bb[i] = 0.0f;
                pp[i] = -1e38f;
            }
        }
        wkv_task(out, k, v, w, u, aa, bb, pp, (size_t)b * T * A + c0, T, A, nc);
        if (state)
            for (int i = 0; i < nc; i++) {
                const int c = c0 + i;
                state[(size_t)b * A + c] = aa[i];
                state[((size_t)B + b) * A + c] = bb[i];
                state[((size_t)2 * B + b) * A + c] = pp[i];
            }
    }
}

static inline float silu(float x) { return x / (1.0f + expf(-x)); }
/* torch.nn.functional.softplus, beta 1, threshold 20 */
static inline float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

void ll_cpu_conv1d_silu(void *ctx, float *out, const float *in, int64_t in_rs, const float *w,
                        const float *bias, float *state, int B, int T, int E, int K) {
    (void)ctx;
    const int nblk = (E + CH - 1) / CH;
    const long ntask = (long)B * nblk;
    const int KS = K - 1;
#pragma omp parallel for schedule(static) if ((long)B * T * E > 4096)
    for (long task = 0; task < ntask; task++) {
        const int b = (int)(task / nblk), e0 = (int)(task % nblk) * CH;
        const int ne = E - e0 < CH ? E - e0 : CH;
        /* x(t, e) for t in [-KS, 0): from the state or zeros */
        float hist[CH * 8];
        float *hb = KS <= 8 ? hist : ll_xmalloc(sizeof(float) * CH * (size_t)KS);
        for (int i = 0; i < ne; i++)
            for (int j = 0; j < KS; j++)
                hb[i * KS + j] = state ? state[((size_t)b * E + e0 + i) * KS + j] : 0.0f;
        for (int t = 0; t < T; t++) {
            const size_t r = (size_t)b * T + t;
            for (int i = 0; i < ne; i++) {
                const int e = e0 + i;
                const float *we = w + (size_t)e * K;
                float acc = bias ? bias[e] : 0.0f;
                for (int j = 0; j < K; j++) {
                    const int tt = t - KS + j;
                    const float xv = tt >= 0 ? in[((size_t)b * T + tt) * in_rs + e] : hb[i * KS + (KS + tt)];
                    acc += we[j] * xv;
                }
                out[r * E + e] = silu(acc);
            }
        }
        if (state)
            for (int i = 0; i < ne; i++)
                for (int j = 0; j < KS; j++) {
                    const int tt = T - KS + j; /* the last KS inputs */
                    state[((size_t)b * E + e0 + i) * KS + j] =
                        tt >= 0 ? in[((size_t)b * T + tt) * in_rs + e0 + i] : hb[i * KS + (KS + tt)];
                }
        if (hb != hist) free(hb);
    }
}

/* The scan of one (b, block of ne <= EB channels), 8 channels per vector:
 * At, ht [S][EB] (transposed: state n, channel lane), padding lanes zero
 * (dt_raw 0, u 0: their state stays 0).  The sum over n runs in order. */
#define EB 16
LL_TC static void scan_task(const ll_sscan_params *p, int b, int e0, int ne, const float *At, float *ht) {
    const int T = p->T, E = p->E, S = p->S, nv = (ne + 7) / 8;
    v8f dtr[EB / 8], uu[EB / 8], zz[EB / 8], DD[EB / 8];
    memset(dtr, 0, sizeof dtr);
    memset(uu, 0, sizeof uu);
    memset(zz, 0, sizeof zz);
    memset(DD, 0, sizeof DD);
    if (p->D) memcpy(DD, p->D + e0, sizeof(float) * ne);
    for (int t = 0; t < T; t++) {
        const size_t r = (size_t)b * T + t;
        const float *Br = p->Bm + r * p->bc_rs, *Cr = p->Cm + r * p->bc_rs;
        memcpy(dtr, p->dt_raw + r * E + e0, sizeof(float) * ne);
        memcpy(uu, p->u + r * E + e0, sizeof(float) * ne);
        if (p->z) memcpy(zz, p->z + r * p->z_rs + e0, sizeof(float) * ne);
        v8f dt[EB / 8], acc[EB / 8];
        for (int j = 0; j < nv; j++) {
            dt[j] = softplus_v8(dtr[j]);
            acc[j] = (v8f){0};
        }
        for (int n = 0; n < S; n++) {
            const float Bn = Br[n], Cn = Cr[n];
            for (int j = 0; j < nv; j++) {
                v8f A, H;
                memcpy(&A, At + (size_t)n * EB + 8 * j, sizeof A);
                memcpy(&H, ht + (size_t)n * EB + 8 * j, sizeof H);
                H = exp_v8(A * dt[j]) * H + (dt[j] * Bn) * uu[j];
                memcpy(ht + (size_t)n * EB + 8 * j, &H, sizeof H);
                acc[j] = acc[j] + H * Cn;
            }
        }
                for (int j = 0; j < nv; j++) {
            v8f y = acc[j];
            if (p->D) y = y + uu[j] * DD[j];
            if (p->z) y = y * silu_v8(zz[j]);
            acc[j] = y;
        }
        memcpy(p->y + r * E + e0, acc, sizeof(float) * ne);
    }
}

void ll_cpu_selective_scan(void *ctx, const ll_sscan_params *p) {
    (void)ctx;
    const int B = p->B, E = p->E, S = p->S;
    const int nblk = (E + EB - 1) / EB;
    const long ntask = (long)B * nblk;
#pragma omp parallel if ((long)B * p->T * E > 4096)
    {
        float *At = ll_xcalloc((size_t)S * EB, sizeof(float)), *ht = ll_xcalloc((size_t)S * EB, sizeof(float));
#pragma omp for schedule(static)
        for (long task = 0; task < ntask; task++) {
            const int b = (int)(task / nblk), e0 = (int)(task % nblk) * EB;
            const int ne = E - e0 < EB ? E - e0 : EB;
            memset(At, 0, sizeof(float) * S * EB);
            memset(ht, 0, sizeof(float) * S * EB);
            for (int i = 0; i < ne; i++)
                for (int n = 0; n < S; n++) {
                    const size_t es = (size_t)(e0 + i) * S + n;
                    At[(size_t)n * EB + i] = -expf(p->A_log[es]);
                    if (p->state) ht[(size_t)n * EB + i] = p->state[(size_t)b * E * S + es];
                }
            scan_task(p, b, e0, ne, At, ht);
            if (p->state)
                for (int i = 0; i < ne; i++)
                    for (int n = 0; n < S; n++)
                        p->state[(size_t)b * E * S + (size_t)(e0 + i) * S + n] = ht[(size_t)n * EB + i];
        }
        free(At);
        free(ht);
    }
}

/* ---- references: one channel at a time, one token at a time ---- */

void ll_ref_wkv4(float *out, const float *k, const float *v, const float *time_decay, const float *time_first,
                 int B, int T, int A) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < A; c++) {
            float aa = 0, bb = 0, pp = -1e38f, w = -expf(time_decay[c]);
            for (int t = 0; t < T; t++) {
                size_t i = ((size_t)b * T + t) * A + c;
                out[i] = wkv_step(k[i], v[i], time_first[c], w, &aa, &bb, &pp);
            }
        }
}

void ll_ref_selective_scan(const ll_sscan_params *p) {
    const int B = p->B, T = p->T, E = p->E, S = p->S;
    float *h = ll_xmalloc(sizeof(float) * (size_t)S);
    for (int b = 0; b < B; b++)
        for (int e = 0; e < E; e++) {
            for (int n = 0; n < S; n++) h[n] = p->state ? p->state[((size_t)b * E + e) * S + n] : 0.0f;
            for (int t = 0; t < T; t++) {
                size_t r = (size_t)b * T + t;
                float dt = softplus(p->dt_raw[r * E + e]), u = p->u[r * E + e], acc = 0;
                for (int n = 0; n < S; n++) {
                    float A = -expf(p->A_log[(size_t)e * S + n]);
                    h[n] = expf(A * dt) * h[n] + (dt * p->Bm[r * p->bc_rs + n]) * u;
                    acc += h[n] * p->Cm[r * p->bc_rs + n];
                }
                float y = acc;
                if (p->D) y = y + u * p->D[e];
                if (p->z) y = y * silu(p->z[r * p->z_rs + e]);
                p->y[r * E + e] = y;
            }
            if (p->state)
                for (int n = 0; n < S; n++) p->state[((size_t)b * E + e) * S + n] = h[n];
        }
    free(h);
}
