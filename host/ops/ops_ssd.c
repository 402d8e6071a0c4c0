/* Mamba-2 SSD scan + gated group RMSNorm on the CPU (contract: ll_ssd_params
 * in host/ops/ops.h).  Sequential in t (HF's torch path computes the same
 * recurrence in chunks; the results agree to float32 rounding), OpenMP over
 * (b, head). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "ops/cpu_ops.h"

static inline float softplus20(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

void ll_cpu_ssd_scan(void *ctx, const ll_ssd_params *p) {
    (void)ctx;
    const int B = p->B, T = p->T, NH = p->NH, P = p->P, N = p->N, G = p->G;
    const int64_t E = (int64_t)NH * P;
    const int hpg = NH / G;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const int g = h / hpg;
            float *s = p->state ? p->state + (((size_t)b * NH + h) * P) * N : calloc((size_t)P * N, sizeof(float));
            const float A = -expf(p->A_log[h]);
            const float Dh = p->D ? p->D[h] : 0.0f;
            for (int t = 0; t < T; t++) {
                const int64_t r = (int64_t)b * T + t;
                float dt = softplus20(p->dt[r * p->dt_rs + h] + (p->dt_bias ? p->dt_bias[h] : 0.0f));
                dt = fminf(fmaxf(dt, p->dt_min), p->dt_max);
                const float dA = expf(dt * A);
                const float *x = p->x + r * p->x_rs + (int64_t)h * P;
                const float *Bm = p->Bm + r * p->bc_rs + (int64_t)g * N, *Cm = p->Cm + r * p->bc_rs + (int64_t)g * N;
                float *y = p->y + r * E + (int64_t)h * P;
                for (int q = 0; q < P; q++) {
                    float *sq = s + (size_t)q * N;
                    const float xd = x[q] * dt;
                    float acc = 0.0f;
                    for (int n = 0; n < N; n++) {
                        sq[n] = sq[n] * dA + xd * Bm[n];
                        acc += sq[n] * Cm[n];
                    }
                    y[q] = acc + Dh * x[q];
                }
            }
            if (!p->state) free(s);
        }
    if (!p->norm_w) return;
    const int gs = (int)(E / p->norm_groups);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < (int64_t)B * T; r++) {
        float *y = p->y + r * E;
        if (p->z) {
            const float *z = p->z + r * p->z_rs;
            for (int64_t e = 0; e < E; e++) y[e] = y[e] * (z[e] / (1.0f + expf(-z[e])));
        }
        for (int k = 0; k < p->norm_groups; k++) {
            float *yg = y + (int64_t)k * gs;
            float ss = 0.0f;
            for (int i = 0; i < gs; i++) ss += yg[i] * yg[i];
            const float inv = 1.0f / sqrtf(ss / (float)gs + p->norm_eps);
            const float *w = p->norm_w + (int64_t)k * gs;
            for (int i = 0; i < gs; i++) yg[i] = w[i] * (yg[i] * inv);
        }
    }
}
