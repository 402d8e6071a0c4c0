/* CUDA ops, recurrent families and scans: RWKV-4 shift-mix and WKV, Mamba
 * conv1d + SiLU and selective scan, Mamba-2 SSD (host/ops/ops.h). */
#include "ops/ops_internal.cuh"

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
void cu_shift_mix(void *ctx, float *ok, float *ov, float *orr, const float *xx, const float *prev,
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
void cu_wkv4(void *ctx, float *out, const float *k, const float *v, const float *td, const float *tf,
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
void cu_conv1d_silu(void *ctx, float *out, const float *in, int64_t in_rs, const float *w, const float *bias,
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
void cu_sscan(void *ctx, const ll_sscan_params *p) { OPCALL(ctx, sscan_((opsctx *)ctx, p)); }

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
void cu_ssd(void *ctx, const ll_ssd_params *p) { OPCALL(ctx, ssd_((opsctx *)ctx, p)); }
