/* CPU implementations of the recurrent-family ops (RWKV-4, Mamba) of the op
 * table (host/ops/ops.h, section "recurrent families"; the parameter contracts are
 * documented there).  Plugged into the CPU table by host/ops/ops_cpu.c; the tests
 * also call them directly.
 *
 * Dimension letters: B batch, T time, C model width, A RWKV attention width,
 * E Mamba inner width (expand·C), S Mamba state size, K conv kernel.
 * Row r = b*T + t (batch-major), as everywhere in the op table.
 *
 * Every recurrence runs over whole sequences in one call (one pass per layer:
 * OpenMP over (b, channel block), serial in t, state in registers/L1).  With
 * T = 1 and a state the same call is one recurrent step. */
#ifndef LL_OPS_SSM_H
#define LL_OPS_SSM_H
#include <stddef.h>
#include <stdint.h>
#include "ops/ops.h"

void ll_cpu_rwkv_shift_mix(void *ctx, float *out_k, float *out_v, float *out_r, const float *x,
                           const float *prev, const float *mix_k, const float *mix_v, const float *mix_r,
                           int B, int T, int C);
void ll_cpu_wkv4(void *ctx, float *out, const float *k, const float *v, const float *time_decay,
                 const float *time_first, float *state, int B, int T, int A);
void ll_cpu_conv1d_silu(void *ctx, float *out, const float *in, int64_t in_rs, const float *w,
                        const float *bias, float *state, int B, int T, int E, int K);
void ll_cpu_selective_scan(void *ctx, const ll_sscan_params *p);

/* Plain one-token-at-a-time references (no OpenMP, no blocking), used by the
 * tests as oracles for the sequence versions above. */
void ll_ref_wkv4(float *out, const float *k, const float *v, const float *time_decay,
                 const float *time_first, int B, int T, int A);
void ll_ref_selective_scan(const ll_sscan_params *p);
#endif
