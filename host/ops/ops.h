/* Backend op table: the primitives every model family's forward pass is
 * written against.  The CPU backend (host/ops/cpu_backend.c) and the CUDA backend fill
 * the same struct with the same signatures; the forward code (host/families/)
 * never touches memory directly, so one forward runs on both.
 *
 * Conventions
 *   - First argument: the backend context (ll_cpu_ctx_new(), or the CUDA one).
 *   - Activations: float32, row-major [rows, C].  N = number of rows
 *     (= B*T, batch-major: row b*T + t).  Every pointer (activations, weights,
 *     ids, positions, lens) is BACKEND memory: host memory on the CPU backend,
 *     device memory on CUDA (allocate with ops->alloc, copy with ops->upload /
 *     ops->download).  `host_memory` says whether backend pointers are host
 *     pointers (then the forward skips copies).
 *   - Weights: ll_weight, nn.Linear layout [rows = out features, cols = in
 *     features]; vectors (norm weights, biases) are ll_weight with cols == 1,
 *     or plain `const float *` where an op takes float vectors (the CPU keeps
 *     every weight as F32; a GPU backend may keep matrices as BF16/F16 and
 *     must keep vectors that are passed as `const float *` in F32).
 *   - In-place is allowed where noted (out == in).
 *   - A NULL entry means "not supported by this backend"; the forward returns
 *     -1 with an error naming the op.  Ops cannot fail otherwise (a backend
 *     records asynchronous errors and reports them from sync()).
 *
 * Extending: add new entries at the END of the matching section (tables use
 * designated initialisers, so old tables stay valid with NULL in new slots).
 * CPU implementations live by kind in host/ops/cpu_dense.c and
 * host/ops/cpu_recurrent.c (declared in host/ops/cpu_ops.h) and are listed
 * once in the table of host/ops/cpu_backend.c (ll_cpu_ops). */
#ifndef LL_OPS_H
#define LL_OPS_H
#include <stddef.h>
#include <stdint.h>

#include "io/npy.h" /* ll_dtype (LL_DT_F32, LL_DT_F16, LL_DT_BF16, ...), ll_dtype_size */

/* A weight tensor in backend memory.  Matrices: [rows, cols] row-major, the
 * nn.Linear layout [out, in].  Vectors: rows = n, cols = 1.  3-D tensors (e.g.
 * Mamba conv1d [E,1,k]) are flattened to [dim0, prod(rest)]. */
typedef struct {
    const void *data; /* NULL: absent (optional tensor) */
    ll_dtype dtype;
    int64_t rows, cols;
} ll_weight;

/* Causal self-attention with GQA over right-padded sequences.
 * For row r = b*T + t, head h (0..H-1), kv head g = h / (H/KVH):
 *   q_h(r) = q + r*q_rs + h*q_hs  (hd floats), k/v likewise with kv head g,
 *   out(r, h) = out + r*o_rs + h*hd  =  Σ_{s<=t, s<lens[b]} softmax_s(scale·q·k_s) v_s.
 * Rows with t >= lens[b] (padding) are written with zeros.  Layouts covered:
 * separate q/k/v tensors (q_hs = hd), GPT-2 fused c_attn (q|k|v blocks:
 * k = q + C, rs = 3C), GPT-NeoX per-head interleaved qkv (q_hs = 3hd,
 * k = q + hd). */
typedef struct {
    float *out;
    const float *q, *k, *v;
    int64_t o_rs, q_rs, k_rs, v_rs; /* row strides (floats) */
    int64_t q_hs, k_hs, v_hs;       /* head strides (floats) */
    int B, T, H, KVH, hd;
    const int *lens; /* [B] backend memory */
    float scale;     /* usually 1/sqrt(hd) */
    int window;      /* sliding window (Mistral): keys s with t - s < window; 0 = none */
    /* Appended for the encoder and Gemma-2 families; zero = the behaviour above. */
    int bidirectional; /* 1: every real key s < lens[b] (BERT, RoBERTa, T5 encoder); window ignored */
    float softcap;     /* > 0: score = softcap·tanh(score/softcap) after the scale (Gemma-2) */
    const float *bias; /* NULL, or [H, T, T] backend memory added to the scores after the scale and
                        * the softcap: bias[(h*T + t)*T + s] (T5 relative positions) */
} ll_attn_params;

/* Rotary embedding in place, HF rotate_half convention, on the first
 * rot_dims dims of each of n_heads heads (rot_dims even, <= hd):
 *   x_h = x + r*rs + h*hs;  i < rot_dims/2, half = rot_dims/2,
 *   a = pos[r] * inv_freq[i]  (float32 product, as HF),
 *   x'[i]      = x[i]·cos a − x[i+half]·sin a
 *   x'[i+half] = x[i+half]·cos a + x[i]·sin a. */
typedef struct {
    float *x;
    int64_t rs, hs;
    int N, n_heads, rot_dims;
    const int32_t *pos;     /* [N] backend memory */
    const float *inv_freq;  /* [rot_dims/2] backend memory */
} ll_rope_params;

/* Mamba selective scan over right-padded sequences (HF mamba_selective_scan,
 * sequential path).  For row r = b*T + t, channel e < E, state n < S:
 *   dt = softplus(dt_raw(r, e))            (x > 20 → x; dt_raw includes dt_proj's bias)
 *   A  = −exp(A_log[e*S + n])
 *   h_n = exp(A·dt)·h_n + (dt·B(r, n))·u(r, e)       (h: state[(b*E + e)*S + n] or 0)
 *   y(r, e) = (Σ_n h_n·C(r, n) + u(r, e)·D[e]) · silu(z(r, e))
 * B(r, n) = Bm[r*bc_rs + n], C(r, n) = Cm[r*bc_rs + n] (views into x_proj's
 * output), z(r, e) = z[r*z_rs + e] (view into in_proj's output); D may be
 * NULL; z NULL: no gate.  u, dt_raw, y: [B*T, E] contiguous. */
/* Mamba-2 SSD scan + gated group RMSNorm (HF Mamba2Mixer: torch chunk
 * scan, sequentially; MambaRMSNormGated, norm_before_gate false).  NH heads
 * of P channels (E = NH·P), state N per group, G groups (head h reads group
 * h / (NH/G)).  For row r = b*T + t, head h, channel p < P, state n < N:
 *   dt = clamp(softplus(dt_raw(r, h) + dt_bias[h]), dt_min, dt_max)  (softplus(x) = x for x > 20)
 *   s_pn = exp(dt·A_h)·s_pn + dt·x(r, h·P + p)·B(r, g·N + n),  A_h = −exp(A_log[h])
 *   y(r, h·P + p) = Σ_n s_pn·C(r, g·N + n) + D[h]·x(r, h·P + p)
 * then, if norm_w: y ← y·silu(z(r, ·)) (z NULL: no gate), and per group of
 * E / norm_groups channels y ← y·rsqrt(mean(y²) + eps)·norm_w.
 * x(r, e) = x[r*x_rs + e]; B(r, k) = Bm[r*bc_rs + k], C likewise; dt_raw(r, h)
 * = dt[r*dt_rs + h]; z(r, e) = z[r*z_rs + e].  y: [B*T, E] contiguous.
 * state: NULL (zeros) or [B, NH, P, N], updated after T steps. */
typedef struct {
    float *y;
    const float *x, *Bm, *Cm, *dt, *z;
    int64_t x_rs, bc_rs, dt_rs, z_rs;
    const float *dt_bias, *A_log, *D, *norm_w;
    float dt_min, dt_max, norm_eps;
    int norm_groups;
    float *state;
    int B, T, NH, P, N, G;
} ll_ssd_params;

typedef struct {
    float *y;
    const float *u, *dt_raw, *A_log, *Bm, *Cm, *D, *z;
    int64_t bc_rs, z_rs;
    float *state; /* [B, E, S] or NULL */
    int B, T, E, S;
} ll_sscan_params;

typedef struct ll_ops {
    const char *name; /* "cpu", "cuda" */
    int host_memory;  /* 1: backend pointers are host pointers */

    /* ---- memory ---- */
    void *(*alloc)(void *ctx, size_t bytes); /* NULL on failure (error set) */
    void (*free)(void *ctx, void *p);
    void (*upload)(void *ctx, void *dst, const void *src_host, size_t bytes);
    void (*download)(void *ctx, void *dst_host, const void *src, size_t bytes);
    int (*sync)(void *ctx); /* 0, or -1 with error set */

    /* ---- transformer ops ---- */
    /* out[N, W->rows] = in[N, W->cols] · Wᵀ (+ bias[W->rows] if bias != NULL) */
    void (*linear)(void *ctx, float *out, const float *in, const ll_weight *W, const float *bias, int N);
    /* out[N, C] = table[ids[i]] (accumulate = 0) or += (accumulate = 1).
     * ids in backend memory, assumed in range (checked by the caller). */
    void (*embedding)(void *ctx, float *out, const ll_weight *table, const int32_t *ids, int N, int accumulate);
    /* out = (x − mean)/sqrt(var + eps)·w + b, per row of C (w, b may be NULL =
     * ones / zeros).  In place allowed. */
    void (*layernorm)(void *ctx, float *out, const float *in, const float *w, const float *b, int N, int C, float eps);
    /* out = x · rsqrt(mean(x²) + eps) · w (w may be NULL).  In place allowed. */
    void (*rmsnorm)(void *ctx, float *out, const float *in, const float *w, int N, int C, float eps);
    /* Elementwise over n floats; in place allowed. */
    void (*add)(void *ctx, float *out, const float *a, const float *b, size_t n);
    void (*mul)(void *ctx, float *out, const float *a, const float *b, size_t n);
    void (*scale)(void *ctx, float *out, const float *a, float s, size_t n);
    void (*gelu_tanh)(void *ctx, float *out, const float *in, size_t n); /* HF gelu_new */
    void (*gelu_erf)(void *ctx, float *out, const float *in, size_t n);  /* HF gelu */
    void (*silu)(void *ctx, float *out, const float *in, size_t n);
    /* out[i] = silu(gate[i]) * up[i] over n floats (fused SwiGLU). */
    void (*swiglu)(void *ctx, float *out, const float *gate, const float *up, size_t n);
    void (*rope)(void *ctx, const ll_rope_params *p);
    void (*attention)(void *ctx, const ll_attn_params *p);
    /* Strided copy: rows of `cols` floats, dst row stride drs, src row stride srs. */
    void (*copy2d)(void *ctx, float *dst, int64_t drs, const float *src, int64_t srs, int rows, int cols);

    void (*sigmoid)(void *ctx, float *out, const float *in, size_t n);
    void (*relu_sq)(void *ctx, float *out, const float *in, size_t n); /* max(x,0)² */
    /* ---- recurrent families (RWKV-4, Mamba); CPU versions in host/ops/cpu_recurrent.c.
     * Rows r = b*T + t.  A `state` argument may be NULL (zero initial state,
     * final state not kept); otherwise it holds the initial state and is
     * overwritten with the state after step T-1 (T = 1: one recurrent step). */
    /* RWKV-4 token shift + time mix, up to three mixes in one pass:
     *   xs(r) = x(r-1) if t > 0, else prev[b*C..] (prev NULL: zeros)
     *   out_i(r) = x(r)·mix_i + xs(r)·(1 − mix_i)  (HF order), i = k, v, r.
     * out_v/mix_v may be NULL (channel mix).  x, outs: [B*T, C]. */
    void (*rwkv_shift_mix)(void *ctx, float *out_k, float *out_v, float *out_r, const float *x,
                           const float *prev, const float *mix_k, const float *mix_v, const float *mix_r,
                           int B, int T, int C);
    /* RWKV-4 WKV, HF rwkv_linear_attention_cpu: w = −exp(time_decay),
     * u = time_first; state [3, B, A] = (num, den, max) (zero, zero, −1e38).
     * k, v, out: [B*T, A]. */
    void (*wkv4)(void *ctx, float *out, const float *k, const float *v, const float *time_decay,
                 const float *time_first, float *state, int B, int T, int A);
    /* Mamba causal depthwise conv1d (kernel K, left zero padding) + SiLU:
     *   out(r, e) = silu(bias[e] + Σ_j w[e*K + j] · x(t − (K−1) + j, e)),
     * x(t, e) = in[(b*T + t)*in_rs + e] (t < 0: state [B, E, K−1], oldest
     * first, or 0).  bias may be NULL.  out: [B*T, E]. */
    void (*conv1d_silu)(void *ctx, float *out, const float *in, int64_t in_rs, const float *w,
                        const float *bias, float *state, int B, int T, int E, int K);
    /* Mamba selective scan (HF MambaMixer, see ll_sscan_params). */
    void (*selective_scan)(void *ctx, const ll_sscan_params *p);
    /* ---- appended for the encoder families ---- */
    void (*relu)(void *ctx, float *out, const float *in, size_t n); /* max(x, 0) (T5 DenseReluDense) */
    void (*ssd_scan)(void *ctx, const ll_ssd_params *p);            /* Mamba-2 (ll_ssd_params) */
} ll_ops;

/* Every function of ll_ops by name, in the struct's order: a new op is
 * appended here too (the count is checked below).  tests/gpu/test_gpu_ops.c
 * walks it: an op without a CUDA parity case there fails. */
#define LL_OPS_LIST(X)                                                                                     \
    X(alloc) X(free) X(upload) X(download) X(sync)                                                          \
    X(linear) X(embedding) X(layernorm) X(rmsnorm) X(add) X(mul) X(scale) X(gelu_tanh) X(gelu_erf) X(silu)  \
    X(swiglu) X(rope) X(attention) X(copy2d) X(sigmoid) X(relu_sq)                                          \
    X(rwkv_shift_mix) X(wkv4) X(conv1d_silu) X(selective_scan) X(relu) X(ssd_scan)
#define LL_OPS_ONE_(op) +1
#ifndef __cplusplus
_Static_assert(sizeof(ll_ops) == offsetof(ll_ops, alloc) + (0 LL_OPS_LIST(LL_OPS_ONE_)) * sizeof(void (*)(void)),
               "LL_OPS_LIST (host/ops/ops.h) names every function of ll_ops");
#endif

/* ---- the CPU backend (host/ops/cpu_backend.c): OpenBLAS sgemm + OpenMP ---- */
const ll_ops *ll_cpu_ops(void);
/* threads <= 0: all cores.  Sets OpenBLAS and OpenMP thread counts. */
void *ll_cpu_ctx_new(int threads);
void ll_cpu_ctx_free(void *ctx);
#endif
