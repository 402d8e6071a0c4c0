/* CPU recurrent ops for RWKV-4 and Mamba (contracts in host/ops.h).
 *
 * The float operations follow HF's CPU code in the same order
 * (modeling_rwkv.py rwkv_linear_attention_cpu, modeling_mamba.py
 * mamba_selective_scan), so results agree to a few ulps; the library is
 * compiled as ISO C (-std=c11 → no FMA contraction).
 *
 * Parallel layout: OpenMP over (b, block of CH channels); inside, serial in t
 * and a short loop over the block's channels, whose states stay in L1. */
#include "ops_ssm.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "ll_util.h"

#define CH 32 /* channels per task */

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

/* One WKV-4 step for one channel, HF's operation order. */
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
        for (int t = 0; t < T; t++) {
            const size_t r = ((size_t)b * T + t) * A + c0;
            for (int i = 0; i < nc; i++) out[r + i] = wkv_step(k[r + i], v[r + i], u[i], w[i], &aa[i], &bb[i], &pp[i]);
        }
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

void ll_cpu_selective_scan(void *ctx, const ll_sscan_params *p) {
    (void)ctx;
    const int B = p->B, T = p->T, E = p->E, S = p->S;
    const int EB = 16; /* channels per task */
    const int nblk = (E + EB - 1) / EB;
    const long ntask = (long)B * nblk;
#pragma omp parallel
    {
        float *Ab = ll_xmalloc(sizeof(float) * EB * (size_t)S);
        float *hb = ll_xmalloc(sizeof(float) * EB * (size_t)S);
        float *dAb = ll_xmalloc(sizeof(float) * (size_t)S);
#pragma omp for schedule(static)
        for (long task = 0; task < ntask; task++) {
            const int b = (int)(task / nblk), e0 = (int)(task % nblk) * EB;
            const int ne = E - e0 < EB ? E - e0 : EB;
            for (int i = 0; i < ne; i++)
                for (int n = 0; n < S; n++) {
                    const size_t es = (size_t)(e0 + i) * S + n;
                    Ab[i * S + n] = -expf(p->A_log[es]);
                    hb[i * S + n] = p->state ? p->state[(size_t)b * E * S + es] : 0.0f;
                }
            for (int t = 0; t < T; t++) {
                const size_t r = (size_t)b * T + t;
                const float *Br = p->Bm + r * p->bc_rs, *Cr = p->Cm + r * p->bc_rs;
                for (int i = 0; i < ne; i++) {
                    const int e = e0 + i;
                    const float dt = softplus(p->dt_raw[r * E + e]);
                    const float u = p->u[r * E + e];
                    float *h = hb + i * S;
                    const float *Ai = Ab + i * S;
                    for (int n = 0; n < S; n++) dAb[n] = expf(Ai[n] * dt);
                    float acc = 0.0f;
                    for (int n = 0; n < S; n++) {
                        h[n] = dAb[n] * h[n] + (dt * Br[n]) * u;
                        acc += h[n] * Cr[n];
                    }
                    float y = acc;
                    if (p->D) y = y + u * p->D[e];
                    if (p->z) y = y * silu(p->z[r * p->z_rs + e]);
                    p->y[r * E + e] = y;
                }
            }
            if (p->state)
                for (int i = 0; i < ne; i++)
                    memcpy(p->state + (size_t)b * E * S + (size_t)(e0 + i) * S, hb + i * S, sizeof(float) * S);
        }
        free(Ab);
        free(hb);
        free(dAb);
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
