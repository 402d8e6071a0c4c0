/* The CPU ops behind ll_cpu_ops() (host/ops/cpu_backend.c), by kind:
 *   host/ops/cpu_dense.c      linear (OpenBLAS sgemm), embedding, norms,
 *                             elementwise and activations, RoPE, attention, copy;
 *   host/ops/cpu_recurrent.c  the recurrent-family ops (RWKV-4 shift-mix and
 *                             WKV, Mamba conv1d and selective scan).
 * Contracts: host/ops/ops.h.  The tests also call them directly.
 *
 * Dimension letters (recurrent ops): B batch, T time, C model width, A RWKV
 * attention width, E Mamba inner width (expand·C), S Mamba state size, K conv
 * kernel.  Row r = b*T + t (batch-major), as everywhere in the op table.
 * Every recurrence runs over whole sequences in one call (one pass per layer:
 * OpenMP over (b, channel block), serial in t, state in registers/L1).  With
 * T = 1 and a state the same call is one recurrent step. */
#ifndef LL_OPS_CPU_OPS_H
#define LL_OPS_CPU_OPS_H
#include <stddef.h>
#include <stdint.h>
#include "ops/ops.h"

/* The CPU context (ll_cpu_ctx_new). */
typedef struct {
    int threads;
} cpu_ctx;

/* ---- dense (cpu_dense.c) ---- */
void ll_cpu_linear(void *ctx, float *out, const float *in, const ll_weight *W, const float *bias, int N);
void ll_cpu_embedding(void *ctx, float *out, const ll_weight *table, const int32_t *ids, int N, int accumulate);
void ll_cpu_layernorm(void *ctx, float *out, const float *in, const float *w, const float *b, int N, int C, float eps);
void ll_cpu_rmsnorm(void *ctx, float *out, const float *in, const float *w, int N, int C, float eps);
void ll_cpu_gelu_tanh(void *ctx, float *out, const float *in, size_t n);
void ll_cpu_gelu_erf(void *ctx, float *out, const float *in, size_t n);
void ll_cpu_silu(void *ctx, float *out, const float *in, size_t n);
void ll_cpu_sigmoid(void *ctx, float *out, const float *in, size_t n);
void ll_cpu_relu_sq(void *ctx, float *out, const float *in, size_t n);
void ll_cpu_relu(void *ctx, float *out, const float *in, size_t n);
void ll_cpu_add(void *ctx, float *out, const float *a, const float *b, size_t n);
void ll_cpu_mul(void *ctx, float *out, const float *a, const float *b, size_t n);
void ll_cpu_scale(void *ctx, float *out, const float *a, float s, size_t n);
void ll_cpu_swiglu(void *ctx, float *out, const float *gate, const float *up, size_t n);
void ll_cpu_rope(void *ctx, const ll_rope_params *p);
void ll_cpu_attention(void *ctx, const ll_attn_params *p);
void ll_cpu_copy2d(void *ctx, float *dst, int64_t drs, const float *src, int64_t srs, int rows, int cols);

/* ---- recurrent (cpu_recurrent.c) ---- */
void ll_cpu_rwkv_shift_mix(void *ctx, float *out_k, float *out_v, float *out_r, const float *x,
                           const float *prev, const float *mix_k, const float *mix_v, const float *mix_r,
                           int B, int T, int C);
void ll_cpu_wkv4(void *ctx, float *out, const float *k, const float *v, const float *time_decay,
                 const float *time_first, float *state, int B, int T, int A);
void ll_cpu_conv1d_silu(void *ctx, float *out, const float *in, int64_t in_rs, const float *w,
                        const float *bias, float *state, int B, int T, int E, int K);
void ll_cpu_selective_scan(void *ctx, const ll_sscan_params *p);
/* Mamba-2 (host/ops/ops_ssd.c) */
void ll_cpu_ssd_scan(void *ctx, const ll_ssd_params *p);

/* Plain one-token-at-a-time references (no OpenMP, no blocking), used by the
 * tests as oracles for the sequence versions above. */
void ll_ref_wkv4(float *out, const float *k, const float *v, const float *time_decay,
                 const float *time_first, int B, int T, int A);
void ll_ref_selective_scan(const ll_sscan_params *p);
#endif
