/* Probe statistics on the device and the batched probe solve.
 *
 * The device twin of host/probe/probe.c's ll_stats: per entry e (E entries, d
 * features) n, mean (d), M2 = Σ (x−x̄)(x−x̄)ᵀ (d×d, float64), ȳ, Cxy (d), Syy.
 * A batch of m rows is (1) normalised per row in float64, (2) centred on its
 * own column mean, (3) its centred Gram computed (ll_gram_mode), and (4)
 * folded in with Chan's pairwise update:
 *     δ = x̄_b − x̄_a,  α = n_a n_b / n,
 *     M2 += M2_b + α δδᵀ,  Cxy += Cxy_b + α δ (ȳ_b − ȳ_a),
 *     Syy += Syy_b + α (ȳ_b − ȳ_a)²,  x̄ += δ n_b/n,  ȳ += (ȳ_b − ȳ_a) n_b/n.
 * M2 is kept valid in its lower triangle (column-major, i >= j at i + j·d)
 * and symmetrised before it is read.
 *
 * Layout: row-major X (m×d) is, to cuBLAS (column-major), the d×m matrix
 * A with lda = d, so XᵀX = A·Aᵀ and Xᵀy = A·y. */
#include "core/ll_cuda.h"
extern "C" {
#include "backend/oom.h"
}
#include "core/reduce.cuh"
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ll_cuda_stats {
    int E, d, K;
    ll_target target;
    long max_rows;
    ll_gram_mode gram;      /* asked for */
    ll_gram_mode gram_eff;  /* in use (FP64EMU falls back to FP64 where unsupported) */
    double *h_n;            /* [E] host: counts */
    int *h_ones;            /* [E] host: -1 nothing yet, 1 all batches Σx=0 normalised, 0 otherwise */
    /* device statistics */
    double *mean, *M2, *ymean, *Cxy, *Syy, *class_n, *class_sum;
    /* device scratch */
    double *Z, *mub, *delta, *yc, *scal;
    float *P;               /* [3·max_rows·d] hi | hi | 2lo (TF32X3), [2·max_rows·d] hi | lo (TF32SYRK),
                               [max_rows·d] (FP32) */
    float *Gb;              /* [d·d] batch Gram (FP32 modes) */
    float *stage_X;         /* add_host staging */
    double *stage_y;
    size_t bytes;
};

extern "C" const char *ll_gram_mode_name(ll_gram_mode m) {
    switch (m) {
    case LL_GRAM_FP64: return "fp64";
    case LL_GRAM_TF32X3: return "tf32x3";
    case LL_GRAM_FP32: return "fp32";
    case LL_GRAM_FP64EMU: return "fp64emu";
    case LL_GRAM_TF32SYRK: return "tf32syrk";
    default: return "?";
    }
}
extern "C" int ll_gram_mode_parse(const char *s, ll_gram_mode *out) {
    for (int m = 0; m < LL_GRAM_N_MODES; m++)
        if (strcmp(s, ll_gram_mode_name((ll_gram_mode)m)) == 0) { *out = (ll_gram_mode)m; return 0; }
    ll_set_error("--gram: '%s' is not one of fp64, tf32x3, fp32, fp64emu, tf32syrk", s);
    return -1;
}

/* ------------------------------------------------------------------ kernels */
/* ll_warp_sum, ll_block_sum: kernels/core/reduce.cuh */

/* One block per row: Z[r,:] = normalise(X[r,:]) in float64. */
__global__ void k_norm_rows(const float *__restrict__ X, long ldx, const int64_t *__restrict__ rows, int d, int norm,
                            double eps, double *__restrict__ Z) {
    __shared__ double sh[33];
    const float *x = X + (rows ? rows[blockIdx.x] : (long)blockIdx.x) * ldx;
    double *z = Z + (long)blockIdx.x * d;
    if (norm == LL_NORM_NONE) {
        for (int c = threadIdx.x; c < d; c += blockDim.x) z[c] = (double)x[c];
        return;
    }
    double s = 0;
    if (norm == LL_NORM_RMSNORM) {
        for (int c = threadIdx.x; c < d; c += blockDim.x) { double v = x[c]; s += v * v; }
        double ms = ll_block_sum(s, sh) / d;
        double inv = 1.0 / sqrt(ms + eps);
        for (int c = threadIdx.x; c < d; c += blockDim.x) z[c] = (double)x[c] * inv;
        return;
    }
    for (int c = threadIdx.x; c < d; c += blockDim.x) s += (double)x[c];
    double mu = ll_block_sum(s, sh) / d;
    double q = 0;
    for (int c = threadIdx.x; c < d; c += blockDim.x) { double v = (double)x[c] - mu; q += v * v; }
    double var = ll_block_sum(q, sh) / d;
    double den = norm == LL_NORM_LAYERNORM ? sqrt(var + eps) : sqrt(var);
    double inv = den > 0 ? 1.0 / den : 0.0; /* constant row: 0, as ll_normalize_rows */
    for (int c = threadIdx.x; c < d; c += blockDim.x) z[c] = ((double)x[c] - mu) * inv;
}

/* Column means of Z (m×d): block (32, 16) covers 32 columns. */
__global__ void k_colmean(const double *__restrict__ Z, long m, int d, double *__restrict__ mub) {
    __shared__ double sh[16][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    double s = 0;
    if (c < d)
        for (long r = threadIdx.y; r < m; r += 16) s += Z[r * d + c];
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < d) {
        double t = 0;
        for (int i = 0; i < 16; i++) t += sh[i][threadIdx.x];
        mub[c] = t / (double)m;
    }
}

/* δ = x̄_b − x̄_a; x̄_a += δ·(n_b/n). */
__global__ void k_delta_mean(const double *__restrict__ mub, double *__restrict__ mean,
                             double *__restrict__ delta, int d, double frac) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= d) return;
    double dl = mub[c] - mean[c];
    delta[c] = dl;
    mean[c] += dl * frac;
}

/* Rounds to TF32 (10 explicit mantissa bits), nearest, ties away from zero. */
__device__ __forceinline__ float tf32_round(float x) {
    unsigned u = __float_as_uint(x);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
    return __uint_as_float(u);
}

/* Z -= x̄_b (per column); for the FP32 modes also the float copies:
 * TF32X3: P = [hi | hi | 2·lo] (3 blocks of m·d), FP32: P = [z]. */
__global__ void k_center(double *__restrict__ Z, const double *__restrict__ mub, long m, int d, int mode,
                         float *__restrict__ P) {
    long n = m * d;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        double z = Z[i] - mub[i % d];
        Z[i] = z;
        if (mode == LL_GRAM_TF32X3) {
            float h = tf32_round((float)z);
            float l = (float)(z - (double)h);
            P[i] = h;
            P[n + i] = h;
            P[2 * n + i] = 2.0f * l;
        } else if (mode == LL_GRAM_TF32SYRK) {
            float h = tf32_round((float)z);
            P[i] = h;
            P[n + i] = (float)(z - (double)h);
        } else if (mode == LL_GRAM_FP32) {
            P[i] = (float)z;
        }
    }
}

/* One block: ȳ_b, yc = y − ȳ_b, Syy_b; then the Chan update of ȳ and Syy;
 * scal[0] = ȳ_b − ȳ_a. */
__global__ void k_yscalars(const double *__restrict__ y, long m, double *__restrict__ yc,
                           double *ymean, double *Syy, double *scal, double na, double nb) {
    __shared__ double sh[33];
    double s = 0;
    for (long i = threadIdx.x; i < m; i += blockDim.x) s += y[i];
    double yb = ll_block_sum(s, sh) / (double)m;
    double q = 0;
    for (long i = threadIdx.x; i < m; i += blockDim.x) { double v = y[i] - yb; yc[i] = v; q += v * v; }
    double syy = ll_block_sum(q, sh);
    if (threadIdx.x == 0) {
        double n = na + nb;
        double dy = yb - *ymean;
        *Syy += syy + dy * dy * (na * nb / n);
        *ymean += dy * (nb / n);
        scal[0] = dy;
    }
}

/* Chan merge into M2 with the symmetric part of Gb: M2 += (Gb + Gbᵀ)/2 +
 * α δδᵀ.  Column-major: G(i, j) at Gb[i + j·d].  A block covers the tile
 * i in [I0, I0+32), j in [J0, J0+32); the transposed tile goes through
 * shared memory so both reads are coalesced. */
__global__ void k_merge_gram_sym(double *__restrict__ M2, const float *__restrict__ Gb,
                                 const double *__restrict__ delta, int d, double alpha) {
    __shared__ float tr[32][33];
    const int I0 = blockIdx.x * 32, J0 = blockIdx.y * 32, x = threadIdx.x;
    for (int y = threadIdx.y; y < 32; y += blockDim.y) {
        int r = J0 + x, c = I0 + y; /* tr[y][x] = G(J0 + x, I0 + y) */
        tr[y][x] = (r < d && c < d) ? Gb[(size_t)r + (size_t)c * d] : 0.0f;
    }
    __syncthreads();
    for (int y = threadIdx.y; y < 32; y += blockDim.y) {
        int i = I0 + x, j = J0 + y;
        if (i < d && j < d) {
            size_t k = (size_t)i + (size_t)j * d;
            double g = 0.5 * ((double)Gb[k] + (double)tr[x][y]); /* tr[x][y] = G(j, i) */
            M2[k] += g + alpha * delta[i] * delta[j];
        }
    }
}

/* Chan merge into M2 (d×d, all of it): M2 += Gb + α δδᵀ (Gb may be NULL). */
__global__ void k_merge_gram(double *__restrict__ M2, const float *__restrict__ Gb,
                             const double *__restrict__ delta, int d, double alpha) {
    int i = blockIdx.x * blockDim.x + threadIdx.x; /* fast index: row of column-major */
    int j = blockIdx.y;
    if (i >= d) return;
    long k = (long)j * d + i;
    double v = alpha * delta[i] * delta[j];
    if (Gb) v += (double)Gb[k];
    M2[k] += v;
}

/* Cxy += α·(ȳ_b − ȳ_a)·δ. */
__global__ void k_cxy_rank1(double *__restrict__ Cxy, const double *__restrict__ delta,
                            const double *__restrict__ scal, int d, double alpha) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < d) Cxy[c] += alpha * scal[0] * delta[c];
}

/* One-hot: class counts and raw per-class feature sums (normalised rows). */
__global__ void k_class_add(const double *__restrict__ Z, const double *__restrict__ y, int d, int K,
                            double *class_n, double *class_sum) {
    long r = blockIdx.x;
    int cls = (int)y[r];
    if (cls < 0 || cls >= K) return;
    if (threadIdx.x == 0) atomicAdd(&class_n[cls], 1.0);
    for (int c = threadIdx.x; c < d; c += blockDim.x) atomicAdd(&class_sum[(long)cls * d + c], Z[r * d + c]);
}

/* Copies the lower triangle onto the upper one, E matrices d×d. */
__global__ void k_symmetrize(double *M, int d) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int j = blockIdx.y;
    double *A = M + (long)blockIdx.z * d * d;
    if (i < d && i > j) A[(long)i * d + j] = A[(long)j * d + i];
}

/* ---------------------------------------------------------------- lifecycle */
template <typename T> static int dalloc(ll_cuda_stats *s, T **p, size_t count) {
    size_t bytes = count * sizeof(T);
    LL_TRY(ll_cuda_alloc((void **)p, bytes, "the statistics (E=%d, d=%d, %ld rows a batch)", s->E, s->d, (long)s->max_rows));
    s->bytes += bytes;
    return 0;
}

static int stats_alloc(ll_cuda_stats *s) {
    size_t E = s->E, d = s->d, m = s->max_rows;
    LL_TRY(dalloc(s, &s->mean, E * d));
    LL_TRY(dalloc(s, &s->M2, E * d * d));
    LL_TRY(dalloc(s, &s->ymean, E));
    LL_TRY(dalloc(s, &s->Cxy, E * d));
    LL_TRY(dalloc(s, &s->Syy, E));
    if (s->target == LL_TARGET_ONEHOT) {
        LL_TRY(dalloc(s, &s->class_n, E * s->K));
        LL_TRY(dalloc(s, &s->class_sum, E * s->K * d));
    }
    LL_TRY(dalloc(s, &s->Z, m * d));
    LL_TRY(dalloc(s, &s->mub, d));
    LL_TRY(dalloc(s, &s->delta, d));
    LL_TRY(dalloc(s, &s->yc, m));
    LL_TRY(dalloc(s, &s->scal, 4));
    if (s->gram == LL_GRAM_TF32X3) LL_TRY(dalloc(s, &s->P, 3 * m * d));
    if (s->gram == LL_GRAM_FP32) LL_TRY(dalloc(s, &s->P, m * d));
    if (s->gram == LL_GRAM_TF32SYRK) LL_TRY(dalloc(s, &s->P, 2 * m * d));
    if (s->gram == LL_GRAM_TF32X3 || s->gram == LL_GRAM_FP32 || s->gram == LL_GRAM_TF32SYRK) {
        LL_TRY(dalloc(s, &s->Gb, d * d));
        LL_CU(cudaMemset(s->Gb, 0, d * d * sizeof(float))); /* tf32syrk never writes the upper triangle */
    }
    return 0;
}

extern "C" void ll_cuda_stats_free(ll_cuda_stats *s) {
    if (!s) return;
    void *ps[] = {s->mean, s->M2, s->ymean, s->Cxy, s->Syy, s->class_n, s->class_sum, s->Z, s->mub,
                  s->delta, s->yc, s->scal, s->P, s->Gb, s->stage_X, s->stage_y};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) ll_cuda_free(ps[i]);
    free(s->h_n);
    free(s->h_ones);
    free(s);
}

extern "C" int ll_cuda_stats_reset(ll_cuda_stats *s) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    size_t E = s->E, d = s->d;
    LL_CU(cudaMemsetAsync(s->mean, 0, E * d * sizeof(double), c->stream));
    LL_CU(cudaMemsetAsync(s->M2, 0, E * d * d * sizeof(double), c->stream));
    LL_CU(cudaMemsetAsync(s->ymean, 0, E * sizeof(double), c->stream));
    LL_CU(cudaMemsetAsync(s->Cxy, 0, E * d * sizeof(double), c->stream));
    LL_CU(cudaMemsetAsync(s->Syy, 0, E * sizeof(double), c->stream));
    if (s->class_n) {
        LL_CU(cudaMemsetAsync(s->class_n, 0, E * s->K * sizeof(double), c->stream));
        LL_CU(cudaMemsetAsync(s->class_sum, 0, E * s->K * d * sizeof(double), c->stream));
    }
    for (int e = 0; e < s->E; e++) { s->h_n[e] = 0; s->h_ones[e] = -1; }
    return 0;
}

extern "C" ll_cuda_stats *ll_cuda_stats_new(int E, int d, ll_target target, int K, long max_rows,
                                            ll_gram_mode gram) {
    if (E <= 0 || d <= 0 || max_rows <= 0 || (target == LL_TARGET_ONEHOT && K <= 0) || gram < 0 ||
        gram >= LL_GRAM_N_MODES) {
        ll_set_error("ll_cuda_stats_new: bad arguments E=%d d=%d K=%d max_rows=%ld gram=%d", E, d, K, max_rows,
                     (int)gram);
        return NULL;
    }
    if (!ll_cuda_ctx_get()) return NULL;
    ll_cuda_stats *s = (ll_cuda_stats *)calloc(1, sizeof *s);
    s->E = E; s->d = d; s->K = target == LL_TARGET_ONEHOT ? K : 0; s->target = target;
    s->max_rows = max_rows; s->gram = s->gram_eff = gram;
    s->h_n = (double *)calloc((size_t)E, sizeof(double));
    s->h_ones = (int *)calloc((size_t)E, sizeof(int));
    if (stats_alloc(s) != 0 || ll_cuda_stats_reset(s) != 0) {
        if (!strstr(ll_last_error(), "out of memory")) { /* that line already names the statistics */
            char msg[900];
            snprintf(msg, sizeof msg, "%s", ll_last_error());
            ll_set_error("%s [probe statistics E=%d d=%d: %.2f GiB on the device]", msg, E, d,
                         (double)E * d * d * 8 / (1 << 30));
        }
        ll_cuda_stats_free(s);
        return NULL;
    }
    return s;
}

extern "C" int ll_cuda_stats_copy_entry(ll_cuda_stats *s, int dst, int src) {
    if (dst < 0 || src < 0 || dst >= s->E || src >= s->E) {
        ll_set_error("ll_cuda_stats_copy_entry: entries %d, %d out of range (E=%d)", dst, src, s->E);
        return -1;
    }
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    size_t d = s->d;
    cudaMemcpyKind k = cudaMemcpyDeviceToDevice;
    LL_CU(cudaMemcpyAsync(s->M2 + dst * d * d, s->M2 + src * d * d, d * d * sizeof(double), k, c->stream));
    LL_CU(cudaMemcpyAsync(s->mean + dst * d, s->mean + src * d, d * sizeof(double), k, c->stream));
    LL_CU(cudaMemcpyAsync(s->Cxy + dst * d, s->Cxy + src * d, d * sizeof(double), k, c->stream));
    LL_CU(cudaMemcpyAsync(s->ymean + dst, s->ymean + src, sizeof(double), k, c->stream));
    LL_CU(cudaMemcpyAsync(s->Syy + dst, s->Syy + src, sizeof(double), k, c->stream));
    if (s->class_n) {
        LL_CU(cudaMemcpyAsync(s->class_n + dst * s->K, s->class_n + src * s->K, s->K * sizeof(double), k, c->stream));
        LL_CU(cudaMemcpyAsync(s->class_sum + dst * s->K * d, s->class_sum + src * s->K * d, s->K * d * sizeof(double),
                              k, c->stream));
    }
    s->h_n[dst] = s->h_n[src];
    s->h_ones[dst] = s->h_ones[src];
    return 0;
}

extern "C" double ll_cuda_stats_count(const ll_cuda_stats *s, int e) { return s->h_n[e]; }
extern "C" void ll_cuda_stats_shape(const ll_cuda_stats *s, int *E, int *d, ll_target *target) {
    if (E) *E = s->E;
    if (d) *d = s->d;
    if (target) *target = s->target;
}
extern "C" size_t ll_cuda_stats_bytes(const ll_cuda_stats *s) { return s->bytes; }

/* ------------------------------------------------------------------ folding */
static int gram_batch(ll_cuda_stats *s, ll_cuda_ctx *c, int e, long m) {
    const int d = s->d;
    double *M2 = s->M2 + (size_t)e * d * d;
    const double one = 1.0;
    if (s->gram_eff == LL_GRAM_FP64EMU) {
        cublasEmulationStrategy_t old;
        LL_CUBLAS(cublasGetEmulationStrategy(c->blas, &old));
        LL_CUBLAS(cublasSetEmulationStrategy(c->blas, CUBLAS_EMULATION_STRATEGY_EAGER));
        cublasStatus_t st = cublasGemmEx(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, d, d, (int)m, &one, s->Z, CUDA_R_64F, d,
                                         s->Z, CUDA_R_64F, d, &one, M2, CUDA_R_64F, d,
                                         CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT, CUBLAS_GEMM_DEFAULT);
        LL_CUBLAS(cublasSetEmulationStrategy(c->blas, old));
        if (st == CUBLAS_STATUS_SUCCESS) return 0;
        if (st != CUBLAS_STATUS_NOT_SUPPORTED && st != CUBLAS_STATUS_INVALID_VALUE &&
            st != CUBLAS_STATUS_ARCH_MISMATCH) {
            LL_CU_FAIL_("cublasGemmEx(CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT)", __FILE__, __LINE__, __func__,
                        ll_cublas_status_str(st));
            return -1;
        }
        s->gram_eff = LL_GRAM_FP64; /* unsupported here: nothing was accumulated, use DSYRK */
    }
    if (s->gram_eff == LL_GRAM_FP64) {
        LL_CUBLAS(cublasDsyrk(c->blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, d, (int)m, &one, s->Z, d, &one, M2, d));
        return 0;
    }
    const float onef = 1.0f, zerof = 0.0f;
    if (s->gram_eff == LL_GRAM_TF32X3) {
        /* P = [hi | hi | 2lo]; A = [hi|hi], B = [hi|2lo] (k = 2m): hi·hiᵀ + 2·hi·loᵀ, whose
         * symmetric part (taken in k_merge_gram_sym) is hi·hiᵀ + hi·loᵀ + lo·hiᵀ. */
        size_t n = (size_t)m * d;
        LL_CUBLAS(cublasGemmEx(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, d, d, (int)(2 * m), &onef, s->P, CUDA_R_32F, d,
                               s->P + n, CUDA_R_32F, d, &zerof, s->Gb, CUDA_R_32F, d, CUBLAS_COMPUTE_32F_FAST_TF32,
                               CUBLAS_GEMM_DEFAULT));
    } else if (s->gram_eff == LL_GRAM_TF32SYRK) {
        /* lower triangle: hi·hiᵀ, then + hi·loᵀ + lo·hiᵀ */
        size_t n = (size_t)m * d;
        LL_CUBLAS(cublasSetMathMode(c->blas, CUBLAS_TF32_TENSOR_OP_MATH));
        cublasStatus_t st1 = cublasSsyrk(c->blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, d, (int)m, &onef, s->P, d,
                                         &zerof, s->Gb, d);
        cublasStatus_t st2 = st1 == CUBLAS_STATUS_SUCCESS
                                 ? cublasSsyr2k(c->blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, d, (int)m, &onef, s->P, d,
                                                s->P + n, d, &onef, s->Gb, d)
                                 : st1;
        LL_CUBLAS(cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH));
        if (st1 != CUBLAS_STATUS_SUCCESS || st2 != CUBLAS_STATUS_SUCCESS) {
            LL_CU_FAIL_(st1 != CUBLAS_STATUS_SUCCESS ? "cublasSsyrk (TF32 tensor-op math)" : "cublasSsyr2k (TF32 tensor-op math)",
                        __FILE__, __LINE__, __func__, ll_cublas_status_str(st1 != CUBLAS_STATUS_SUCCESS ? st1 : st2));
            return -1;
        }
    } else {
        LL_CUBLAS(cublasGemmEx(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, d, d, (int)m, &onef, s->P, CUDA_R_32F, d, s->P,
                               CUDA_R_32F, d, &zerof, s->Gb, CUDA_R_32F, d, CUBLAS_COMPUTE_32F_PEDANTIC,
                               CUBLAS_GEMM_DEFAULT));
    }
    return 0;
}

static int add_chunk(ll_cuda_stats *s, ll_cuda_ctx *c, int e, const float *X, long ldx, const int64_t *rows,
                     const double *y, long m, ll_norm norm, double eps) {
    const int d = s->d;
    cudaStream_t st = c->stream;
    double na = s->h_n[e], nb = (double)m, n = na + nb;
    double alpha = na * nb / n;
    LL_LAUNCH(k_norm_rows, (unsigned)m, 256, 0, st, X, ldx, rows, d, (int)norm, eps, s->Z);
    if (s->target == LL_TARGET_ONEHOT)
        LL_LAUNCH(k_class_add, (unsigned)m, 128, 0, st, s->Z, y, d, s->K, s->class_n + (size_t)e * s->K,
                  s->class_sum + (size_t)e * s->K * d);
    LL_LAUNCH(k_colmean, ll_cdiv(d, 32), dim3(32, 16), 0, st, s->Z, m, d, s->mub);
    LL_LAUNCH(k_delta_mean, ll_cdiv(d, 256), 256, 0, st, s->mub, s->mean + (size_t)e * d, s->delta, d, nb / n);
    long tot = m * d;
    unsigned blocks = (unsigned)LL_MIN((tot + 255) / 256, 65535L * 8);
    LL_LAUNCH(k_center, blocks, 256, 0, st, s->Z, s->mub, m, d, (int)s->gram_eff, s->P);
    LL_LAUNCH(k_yscalars, 1, 1024, 0, st, y, m, s->yc, s->ymean + e, s->Syy + e, s->scal, na, nb);
    LL_TRY(gram_batch(s, c, e, m));
    if (s->gram_eff == LL_GRAM_TF32X3) {
        LL_LAUNCH(k_merge_gram_sym, dim3(ll_cdiv(d, 32), ll_cdiv(d, 32)), dim3(32, 8), 0, st,
                  s->M2 + (size_t)e * d * d, s->Gb, s->delta, d, alpha);
    } else {
        dim3 g(ll_cdiv(d, 256), (unsigned)d);
        /* TF32SYRK: Gb valid in its lower triangle only; the upper one of M2 is
         * never read before k_symmetrize overwrites it */
        LL_LAUNCH(k_merge_gram, g, 256, 0, st, s->M2 + (size_t)e * d * d,
                  (s->gram_eff == LL_GRAM_FP32 || s->gram_eff == LL_GRAM_TF32SYRK) ? s->Gb : (const float *)NULL,
                  s->delta, d, alpha);
    }
    const double one = 1.0;
    LL_CUBLAS(cublasDgemv(c->blas, CUBLAS_OP_N, d, (int)m, &one, s->Z, d, s->yc, 1, &one, s->Cxy + (size_t)e * d, 1));
    LL_LAUNCH(k_cxy_rank1, ll_cdiv(d, 256), 256, 0, st, s->Cxy + (size_t)e * d, s->delta, s->scal, d, alpha);
    s->h_n[e] = n;
    return 0;
}

static int stats_add(ll_cuda_stats *s, int e, const float *X, long ldx, const int64_t *rows, const double *y, long n,
                     ll_norm norm, double eps) {
    if (e < 0 || e >= s->E || n < 0 || ldx < s->d) {
        ll_set_error("ll_cuda_stats_add: bad arguments e=%d (E=%d) n=%ld ldx=%ld (d=%d)", e, s->E, n, ldx, s->d);
        return -1;
    }
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    int ones = norm == LL_NORM_LAYERNORM || norm == LL_NORM_STANDARDIZE;
    for (long r = 0; r < n; r += s->max_rows) {
        long m = LL_MIN(s->max_rows, n - r);
        LL_TRY(add_chunk(s, c, e, rows ? X : X + r * ldx, ldx, rows ? rows + r : NULL, y + r, m, norm, eps));
    }
    if (n > 0) s->h_ones[e] = (s->h_ones[e] == -1) ? ones : (s->h_ones[e] && ones);
    return 0;
}

extern "C" int ll_cuda_stats_add(ll_cuda_stats *s, int e, const float *X, long ldx, const double *y, long n,
                                 ll_norm norm, double eps) {
    return stats_add(s, e, X, ldx, NULL, y, n, norm, eps);
}

extern "C" int ll_cuda_stats_add_gather(ll_cuda_stats *s, int e, const float *X, long ldx, const int64_t *rows,
                                        const double *y, long n, ll_norm norm, double eps) {
    return stats_add(s, e, X, ldx, rows, y, n, norm, eps);
}

extern "C" int ll_cuda_stats_add_host(ll_cuda_stats *s, int e, const float *X, const double *y, long n,
                                      ll_norm norm, double eps) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    if (!s->stage_X) {
        LL_TRY(dalloc(s, &s->stage_X, (size_t)s->max_rows * s->d));
        LL_TRY(dalloc(s, &s->stage_y, (size_t)s->max_rows));
    }
    for (long r = 0; r < n; r += s->max_rows) {
        long m = LL_MIN(s->max_rows, n - r);
        LL_CU(cudaMemcpyAsync(s->stage_X, X + r * s->d, (size_t)m * s->d * sizeof(float), cudaMemcpyHostToDevice,
                              c->stream));
        LL_CU(cudaMemcpyAsync(s->stage_y, y + r, (size_t)m * sizeof(double), cudaMemcpyHostToDevice, c->stream));
        LL_TRY(ll_cuda_stats_add(s, e, s->stage_X, s->d, s->stage_y, m, norm, eps));
        LL_CU(cudaStreamSynchronize(c->stream)); /* staging is reused */
    }
    return 0;
}

extern "C" int ll_cuda_stats_download(ll_cuda_stats *s, ll_stats *dst) {
    if (dst->E != s->E || dst->d != s->d || dst->target != s->target ||
        (s->target == LL_TARGET_ONEHOT && dst->K != s->K)) {
        ll_set_error("ll_cuda_stats_download: shape mismatch (E=%d d=%d K=%d vs E=%d d=%d K=%d)", s->E, s->d, s->K,
                     dst->E, dst->d, dst->K);
        return -1;
    }
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    size_t E = s->E, d = s->d;
    dim3 g(ll_cdiv(d, 256), (unsigned)d, (unsigned)E);
    LL_LAUNCH(k_symmetrize, g, 256, 0, c->stream, s->M2, (int)d);
    cudaMemcpyKind k = cudaMemcpyDeviceToHost;
    LL_CU(cudaMemcpyAsync(dst->mean, s->mean, E * d * sizeof(double), k, c->stream));
    LL_CU(cudaMemcpyAsync(dst->M2, s->M2, E * d * d * sizeof(double), k, c->stream));
    LL_CU(cudaMemcpyAsync(dst->ymean, s->ymean, E * sizeof(double), k, c->stream));
    LL_CU(cudaMemcpyAsync(dst->Cxy, s->Cxy, E * d * sizeof(double), k, c->stream));
    LL_CU(cudaMemcpyAsync(dst->Syy, s->Syy, E * sizeof(double), k, c->stream));
    if (s->target == LL_TARGET_ONEHOT) {
        LL_CU(cudaMemcpyAsync(dst->class_n, s->class_n, E * s->K * sizeof(double), k, c->stream));
        LL_CU(cudaMemcpyAsync(dst->class_sum, s->class_sum, E * s->K * d * sizeof(double), k, c->stream));
    }
    LL_CU(cudaStreamSynchronize(c->stream));
    for (size_t e = 0; e < E; e++) {
        dst->n[e] = s->h_n[e];
        if (dst->ones_null) dst->ones_null[e] = s->h_ones[e] == 1;
    }
    return 0;
}

extern "C" int ll_cuda_stats_upload(ll_cuda_stats *s, const ll_stats *src) {
    if (src->E != s->E || src->d != s->d || src->target != s->target ||
        (s->target == LL_TARGET_ONEHOT && src->K != s->K)) {
        ll_set_error("ll_cuda_stats_upload: shape mismatch (E=%d d=%d K=%d vs E=%d d=%d K=%d)", src->E, src->d, src->K,
                     s->E, s->d, s->K);
        return -1;
    }
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    size_t E = s->E, d = s->d;
    cudaMemcpyKind k = cudaMemcpyHostToDevice;
    LL_CU(cudaMemcpyAsync(s->mean, src->mean, E * d * sizeof(double), k, c->stream));
    LL_CU(cudaMemcpyAsync(s->M2, src->M2, E * d * d * sizeof(double), k, c->stream));
    LL_CU(cudaMemcpyAsync(s->ymean, src->ymean, E * sizeof(double), k, c->stream));
    LL_CU(cudaMemcpyAsync(s->Cxy, src->Cxy, E * d * sizeof(double), k, c->stream));
    LL_CU(cudaMemcpyAsync(s->Syy, src->Syy, E * sizeof(double), k, c->stream));
    if (s->target == LL_TARGET_ONEHOT) {
        LL_CU(cudaMemcpyAsync(s->class_n, src->class_n, E * s->K * sizeof(double), k, c->stream));
        LL_CU(cudaMemcpyAsync(s->class_sum, src->class_sum, E * s->K * d * sizeof(double), k, c->stream));
    }
    LL_CU(cudaStreamSynchronize(c->stream));
    for (size_t e = 0; e < E; e++) {
        s->h_n[e] = src->n[e];
        s->h_ones[e] = src->n[e] > 0 ? (src->ones_null && src->ones_null[e]) : -1;
    }
    return 0;
}

/* ------------------------------------------- the reduce across ranks, on the device */
/* What host/dist/dist.c does on the host (reduce_core), kept on the GPU so
 * that E·d² doubles never leave it: each rank shifts its comoments to the
 * global means (parallel-axis theorem), the shifted statistics are summed
 * with ncclReduce in device memory, the rank owning an entry solves it where
 * it is.  The arithmetic is the host's, operation for operation and rounded
 * the same way (__dmul_rn / __dadd_rn: no fused multiply-add, which the host
 * build does not use either), so both paths give the same bits for the same
 * inputs. */

/* Entry e, first part of the shift: δ_j = n>0 ? x̄_j − μ_j : 0 (kept in
 * delta for k_shift_m2), Cxy_j += (n·δ_j)·dy, x̄ := μ; one thread: Syy +=
 * (n·dy)·dy, ȳ := ȳ_global.  dy is computed by the caller (host), as the
 * host shift does. */
__global__ void k_shift_vec(double *__restrict__ mean, const double *__restrict__ mu, double *__restrict__ delta,
                            double *__restrict__ Cxy, double *Syy, double *ymean, int d, double n, double dy,
                            double ybar) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j < d) {
        double dl = n > 0 ? __dsub_rn(mean[j], mu[j]) : 0.0;
        delta[j] = dl;
        Cxy[j] = __dadd_rn(Cxy[j], __dmul_rn(__dmul_rn(n, dl), dy));
        mean[j] = mu[j];
    }
    if (j == 0) {
        *Syy = __dadd_rn(*Syy, __dmul_rn(__dmul_rn(n, dy), dy));
        *ymean = ybar;
    }
}
/* Entry e, M2: the host's row-major upper triangle (r <= c at r·d + c) is
 * this column-major lower one (column r, row c, the same address): M2[r·d+c]
 * += (n·δ_r)·δ_c.  The other triangle is not read before k_symmetrize. */
__global__ void k_shift_m2(double *__restrict__ M2, const double *__restrict__ delta, int d, double n) {
    int c = blockIdx.x * blockDim.x + threadIdx.x, r = blockIdx.y;
    if (c < r || c >= d) return;
    size_t k = (size_t)r * d + c;
    M2[k] = __dadd_rn(M2[k], __dmul_rn(__dmul_rn(n, delta[r]), delta[c]));
}
/* Packs entry e's reduced part as the host's buffer: the triangle by
 * columns (column r: rows r..d−1, starting at r·d − r(r−1)/2), then Cxy,
 * then Syy.  dir 0: statistics -> buf, 1: buf -> statistics. */
__global__ void k_pack_tri(double *__restrict__ M2, double *__restrict__ buf, int d, int dir) {
    int c = blockIdx.x * blockDim.x + threadIdx.x, r = blockIdx.y;
    if (c < r || c >= d) return;
    size_t k = (size_t)r * d + c, o = (size_t)r * d - (size_t)r * (r - 1) / 2 + (size_t)(c - r);
    if (dir == 0) buf[o] = M2[k];
    else M2[k] = buf[o];
}

extern "C" size_t ll_cuda_stats_pack_len(const ll_cuda_stats *s) {
    size_t d = s->d;
    return d * (d + 1) / 2 + d + 1;
}

extern "C" int ll_cuda_stats_moments(ll_cuda_stats *s, double *n, double *mean, double *ymean, int *ones_null) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    size_t E = s->E, d = s->d;
    LL_CU(cudaMemcpyAsync(mean, s->mean, E * d * sizeof(double), cudaMemcpyDeviceToHost, c->stream));
    LL_CU(cudaMemcpyAsync(ymean, s->ymean, E * sizeof(double), cudaMemcpyDeviceToHost, c->stream));
    LL_CU(cudaStreamSynchronize(c->stream));
    for (size_t e = 0; e < E; e++) {
        n[e] = s->h_n[e];
        ones_null[e] = s->h_ones[e] == 1;
    }
    return 0;
}

extern "C" int ll_cuda_stats_shift(ll_cuda_stats *s, const double *gn, const double *gmean, const double *gymean,
                                   const int *ones_null) {
    if (s->target != LL_TARGET_ID) {
        ll_set_error("CUDA statistics shift: the one-hot target's class sums are reduced on the host");
        return -1;
    }
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    const int E = s->E, d = s->d;
    double *ym = (double *)malloc((size_t)E * sizeof(double));
    if (!ym) { ll_set_error("CUDA statistics shift: out of host memory"); return -1; }
    if (cudaMemcpyAsync(ym, s->ymean, (size_t)E * sizeof(double), cudaMemcpyDeviceToHost, c->stream) != cudaSuccess ||
        cudaStreamSynchronize(c->stream) != cudaSuccess) {
        free(ym);
        LL_CU(cudaGetLastError());
        ll_set_error("CUDA statistics shift: reading the label means failed");
        return -1;
    }
    cudaError_t err = cudaSuccess;
    for (int e = 0; e < E && err == cudaSuccess; e++) {
        const double n = s->h_n[e];
        const double dy = n > 0 ? ym[e] - gymean[e] : 0;
        /* μ travels through the batch-mean scratch (d doubles; the upload is
         * ordered before the kernels on the stream, and synchronised below
         * before the next entry's upload overwrites it) */
        err = cudaMemcpyAsync(s->mub, gmean + (size_t)e * d, (size_t)d * sizeof(double), cudaMemcpyHostToDevice,
                              c->stream);
        if (err != cudaSuccess) break;
        k_shift_vec<<<ll_cdiv(d, 256), 256, 0, c->stream>>>(s->mean + (size_t)e * d, s->mub, s->delta,
                                                              s->Cxy + (size_t)e * d, s->Syy + e, s->ymean + e, d, n,
                                                              dy, gymean[e]);
        k_shift_m2<<<dim3(ll_cdiv(d, 256), d), 256, 0, c->stream>>>(s->M2 + (size_t)e * d * d, s->delta, d, n);
        err = cudaGetLastError();
        if (err == cudaSuccess) err = cudaStreamSynchronize(c->stream);
    }
    free(ym);
    if (err != cudaSuccess) {
        ll_set_error("CUDA: shifting the statistics to the global means failed: %s (%s, %s:%d)",
                     cudaGetErrorString(err), __func__, __FILE__, __LINE__);
        return -1;
    }
    for (int e = 0; e < E; e++) {
        s->h_n[e] = gn[e];
        s->h_ones[e] = gn[e] > 0 ? (ones_null[e] != 0) : -1;
    }
    return 0;
}

extern "C" int ll_cuda_stats_pack(ll_cuda_stats *s, int e, double *buf, int unpack) {
    if (e < 0 || e >= s->E) {
        ll_set_error("ll_cuda_stats_pack: entry %d out of range (E=%d)", e, s->E);
        return -1;
    }
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    const size_t d = s->d, tri = d * (d + 1) / 2;
    LL_LAUNCH(k_pack_tri, dim3(ll_cdiv((long)d, 256), (unsigned)d), 256, 0, c->stream, s->M2 + (size_t)e * d * d, buf,
              (int)d, unpack ? 1 : 0);
    cudaMemcpyKind k = cudaMemcpyDeviceToDevice;
    if (!unpack) {
        LL_CU(cudaMemcpyAsync(buf + tri, s->Cxy + (size_t)e * d, d * sizeof(double), k, c->stream));
        LL_CU(cudaMemcpyAsync(buf + tri + d, s->Syy + e, sizeof(double), k, c->stream));
    } else {
        LL_CU(cudaMemcpyAsync(s->Cxy + (size_t)e * d, buf + tri, d * sizeof(double), k, c->stream));
        LL_CU(cudaMemcpyAsync(s->Syy + e, buf + tri + d, sizeof(double), k, c->stream));
    }
    return 0;
}

/* -------------------------------------------------------------------- solve */
/* A[k] = sym(M2[e0+k]) (+ ridge·I is not added: ridge enters the residual
 * formula); b[k] = Cxy[e0+k]. */
__global__ void k_prep(const double *__restrict__ M2, const double *__restrict__ Cxy, double *__restrict__ A,
                       double *__restrict__ b, int d) {
    int i = blockIdx.x * blockDim.x + threadIdx.x, j = blockIdx.y, k = blockIdx.z;
    if (i >= d) return;
    const double *M = M2 + (size_t)k * d * d;
    A[(size_t)k * d * d + (size_t)j * d + i] = i >= j ? M[(size_t)j * d + i] : M[(size_t)i * d + j];
    if (j == 0) b[(size_t)k * d + i] = Cxy[(size_t)k * d + i];
}
/* p[k][i] = Σ_j A[k][i,j] / √d (one block per (i, k); A symmetric, so
 * column i is read: contiguous). */
__global__ void k_rowsum(const double *__restrict__ A, double *__restrict__ p, int d) {
    __shared__ double sh[33];
    int i = blockIdx.x, k = blockIdx.y;
    const double *a = A + (size_t)k * d * d + (size_t)i * d;
    double s = 0;
    for (int j = threadIdx.x; j < d; j += blockDim.x) s += a[j];
    s = ll_block_sum(s, sh);
    if (threadIdx.x == 0) p[(size_t)k * d + i] = s / sqrt((double)d);
}
/* One block per entry.  s = uᵀAu (u = 1/√d·1); the entry is deflated when it
 * is flagged ones_null or when s <= 1e-10·tr(A)/d (as the CPU engine); then
 * b -= mean(b).  flag[k] is updated with the decision, sc[k] = s. */
__global__ void k_defl_scalars(const double *__restrict__ A, const double *__restrict__ p, double *__restrict__ b,
                               int *__restrict__ flag, double *__restrict__ sc, int d) {
    __shared__ double sh[33];
    int k = blockIdx.x;
    const double *a = A + (size_t)k * d * d;
    double s = 0, t = 0, tr = 0;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        s += p[(size_t)k * d + i];
        t += b[(size_t)k * d + i];
        tr += a[(size_t)i * d + i];
    }
    s = ll_block_sum(s, sh) / sqrt((double)d);
    t = ll_block_sum(t, sh) / d;
    tr = ll_block_sum(tr, sh);
    int defl = flag[k] || (tr > 0 && s <= 1e-10 * tr / d);
    if (defl)
        for (int i = threadIdx.x; i < d; i += blockDim.x) b[(size_t)k * d + i] -= t;
    if (threadIdx.x == 0) { sc[k] = s; flag[k] = defl; }
}
/* A ← PAP, P = I − uuᵀ: A_ij − (p_i + p_j)/√d + s/d. */
__global__ void k_deflate(double *__restrict__ A, const double *__restrict__ p, const double *__restrict__ sc,
                          const int *__restrict__ flag, int d) {
    int i = blockIdx.x * blockDim.x + threadIdx.x, j = blockIdx.y, k = blockIdx.z;
    if (i >= d || !flag[k]) return;
    double rs = 1.0 / sqrt((double)d);
    const double *pk = p + (size_t)k * d;
    A[(size_t)k * d * d + (size_t)j * d + i] += -(pk[i] + pk[j]) * rs + sc[k] / d;
}
/* Equilibration (OLS only; the residual is invariant to column scaling):
 * q_i = 1/√A_ii (0 where A_ii <= 0), b_i *= q_i. */
__global__ void k_equil_vec(const double *__restrict__ A, double *__restrict__ q, double *__restrict__ b, int d) {
    int i = blockIdx.x * blockDim.x + threadIdx.x, k = blockIdx.y;
    if (i >= d) return;
    double g = A[(size_t)k * d * d + (size_t)i * d + i];
    double v = g > 0 ? 1.0 / sqrt(g) : 0.0;
    q[(size_t)k * d + i] = v;
    b[(size_t)k * d + i] *= v;
}
__global__ void k_equil_mat(double *__restrict__ A, const double *__restrict__ q, int d) {
    int i = blockIdx.x * blockDim.x + threadIdx.x, j = blockIdx.y, k = blockIdx.z;
    if (i >= d) return;
    const double *qk = q + (size_t)k * d;
    A[(size_t)k * d * d + (size_t)j * d + i] *= qk[i] * qk[j];
}
/* One block per entry: eigenvalues W (ascending), c = Vᵀb.  OLS: eigenpairs
 * with λ > 1e-12·λmax, Σ c²/λ; ridge r: all, λ clamped at 0,
 * Σ c²(2/(λ+r) − λ/(λ+r)²).  rank = #{λ > 1e-12·λmax}. */
__global__ void k_rss(const double *__restrict__ W, const double *__restrict__ cvec, int d, double ridge,
                      double *__restrict__ fit, int *__restrict__ rank) {
    __shared__ double sh[33];
    int k = blockIdx.x;
    const double *w = W + (size_t)k * d, *cv = cvec + (size_t)k * d;
    double lmax = w[d - 1];
    double thr = 1e-12 * (lmax > 0 ? lmax : 0);
    double s = 0, cnt = 0;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        double l = w[i], ci = cv[i];
        int keep = l > thr;
        cnt += keep;
        if (ridge == 0) {
            if (keep) s += ci * ci / l;
        } else {
            double lk = l > 0 ? l : 0;
            s += ci * ci * (2.0 / (lk + ridge) - lk / ((lk + ridge) * (lk + ridge)));
        }
    }
    s = ll_block_sum(s, sh);
    cnt = ll_block_sum(cnt, sh);
    if (threadIdx.x == 0) { fit[k] = s; rank[k] = (int)cnt; }
}

typedef struct {
    double *A, *W, *b, *cv, *p, *sc, *fit;
    int *flag, *info, *rank;
    void *work;
    size_t lwork;
    void *hwork;
    size_t hlwork;
} solve_bufs;

static void solve_bufs_free(solve_bufs *B) {
    void *ps[] = {B->A, B->W, B->b, B->cv, B->p, B->sc, B->fit, B->flag, B->info, B->rank, B->work};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) ll_cuda_free(ps[i]);
    free(B->hwork);
    memset(B, 0, sizeof *B);
}

static int solve_alloc(solve_bufs *B, int cb, int d) {
    size_t dd = (size_t)d * d;
#define SOLVE_ALLOC(ptr, bytes) \
    LL_TRY(ll_cuda_alloc((void **)&(ptr), (bytes), "the batched solve (%d entries at once, d=%d)", cb, d))
    SOLVE_ALLOC(B->A, cb * dd * sizeof(double));
    SOLVE_ALLOC(B->W, (size_t)cb * d * sizeof(double));
    SOLVE_ALLOC(B->b, (size_t)cb * d * sizeof(double));
    SOLVE_ALLOC(B->cv, (size_t)cb * d * sizeof(double));
    SOLVE_ALLOC(B->p, (size_t)cb * d * sizeof(double));
    SOLVE_ALLOC(B->sc, (size_t)cb * sizeof(double));
    SOLVE_ALLOC(B->fit, (size_t)cb * sizeof(double));
    SOLVE_ALLOC(B->flag, (size_t)cb * sizeof(int));
    SOLVE_ALLOC(B->info, (size_t)cb * sizeof(int));
    SOLVE_ALLOC(B->rank, (size_t)cb * sizeof(int));
#undef SOLVE_ALLOC
    return 0;
}

static int eig_workspace(ll_cuda_ctx *c, cusolverDnParams_t prm, solve_bufs *B, int cb, int d, int solver,
                         size_t *lw, size_t *hlw) {
    if (solver == 0)
        LL_CUSOLVER(cusolverDnXsyevBatched_bufferSize(c->solver, prm, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER,
                                                      d, CUDA_R_64F, B->A, d, CUDA_R_64F, B->W, CUDA_R_64F, lw, hlw,
                                                      cb));
    else
        LL_CUSOLVER(cusolverDnXsyevd_bufferSize(c->solver, prm, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, d,
                                                CUDA_R_64F, B->A, d, CUDA_R_64F, B->W, CUDA_R_64F, lw, hlw));
    return 0;
}

/* Entries e0 .. e0+cb-1; results at out[e0 − first ...]. */
static int solve_chunk(ll_cuda_stats *s, ll_cuda_ctx *c, cusolverDnParams_t prm, solve_bufs *B, int e0, int cb,
                       double ridge, int solver, int first, ll_probe_result *out) {
    const int d = s->d;
    const size_t dd = (size_t)d * d;
    cudaStream_t st = c->stream;
    int hflag[4096];
    int any = 0;
    for (int k = 0; k < cb; k++) { hflag[k] = s->h_ones[e0 + k] == 1; any |= hflag[k]; }
    LL_CU(cudaMemcpyAsync(B->flag, hflag, (size_t)cb * sizeof(int), cudaMemcpyHostToDevice, st));
    LL_LAUNCH(k_prep, dim3(ll_cdiv(d, 256), d, cb), 256, 0, st, s->M2 + (size_t)e0 * dd, s->Cxy + (size_t)e0 * d,
              B->A, B->b, d);
    (void)any;
    LL_LAUNCH(k_rowsum, dim3(d, cb), 128, 0, st, B->A, B->p, d);
    LL_LAUNCH(k_defl_scalars, cb, 256, 0, st, B->A, B->p, B->b, B->flag, B->sc, d);
    LL_LAUNCH(k_deflate, dim3(ll_cdiv(d, 256), d, cb), 256, 0, st, B->A, B->p, B->sc, B->flag, d);
    if (ridge == 0) {
        LL_LAUNCH(k_equil_vec, dim3(ll_cdiv(d, 256), cb), 256, 0, st, B->A, B->p, B->b, d); /* p reused for q */
        LL_LAUNCH(k_equil_mat, dim3(ll_cdiv(d, 256), d, cb), 256, 0, st, B->A, B->p, d);
    }
    if (solver == 0) {
        LL_CUSOLVER(cusolverDnXsyevBatched(c->solver, prm, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, d,
                                           CUDA_R_64F, B->A, d, CUDA_R_64F, B->W, CUDA_R_64F, B->work, B->lwork,
                                           B->hwork, B->hlwork, B->info, cb));
    } else {
        for (int k = 0; k < cb; k++)
            LL_CUSOLVER(cusolverDnXsyevd(c->solver, prm, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, d,
                                         CUDA_R_64F, B->A + k * dd, d, CUDA_R_64F, B->W + (size_t)k * d, CUDA_R_64F,
                                         B->work, B->lwork, B->hwork, B->hlwork, B->info + k));
    }
    const double one = 1.0, zero = 0.0;
    LL_CUBLAS(cublasDgemvStridedBatched(c->blas, CUBLAS_OP_T, d, d, &one, B->A, d, (long long)dd, B->b, 1, d, &zero,
                                        B->cv, 1, d, cb));
    LL_LAUNCH(k_rss, cb, 256, 0, st, B->W, B->cv, d, ridge, B->fit, B->rank);
    double fit[4096], syy[4096];
    int rank[4096], info[4096];
    LL_CU(cudaMemcpyAsync(fit, B->fit, (size_t)cb * sizeof(double), cudaMemcpyDeviceToHost, st));
    LL_CU(cudaMemcpyAsync(rank, B->rank, (size_t)cb * sizeof(int), cudaMemcpyDeviceToHost, st));
    LL_CU(cudaMemcpyAsync(info, B->info, (size_t)cb * sizeof(int), cudaMemcpyDeviceToHost, st));
    LL_CU(cudaMemcpyAsync(syy, s->Syy + e0, (size_t)cb * sizeof(double), cudaMemcpyDeviceToHost, st));
    LL_CU(cudaStreamSynchronize(st));
    for (int k = 0; k < cb; k++) {
        if (info[k] != 0) {
            ll_set_error("CUDA probe solve: eigensolver info=%d for entry %d (d=%d)", info[k], e0 + k, d);
            return -1;
        }
        ll_probe_result *r = &out[e0 - first + k];
        memset(r, 0, sizeof *r);
        r->n = s->h_n[e0 + k];
        if (r->n < 2) { r->pr = NAN; continue; } /* as ll_stats_solve */
        r->tss = syy[k];
        r->rss = syy[k] - fit[k];
        if (r->rss < 0) r->rss = 0;
        r->pr = syy[k] > 0 ? r->rss / syy[k] : NAN;
        r->rank = rank[k];
    }
    return 0;
}

/* Entries [first, last); results at out[0 .. last − first). */
static int solve_all(ll_cuda_stats *s, ll_cuda_ctx *c, cusolverDnParams_t prm, int first, int last, double ridge,
                     int solver, ll_probe_result *out) {
    const int d = s->d;
    const size_t dd = (size_t)d * d;
    /* Chunk: the 32-bit limit n·lda·batch <= INT32_MAX, and device memory. */
    long cb = last - first;
    if (cb > 4096) cb = 4096;
    long lim32 = (long)(INT32_MAX / dd);
    if (cb > lim32) cb = lim32 > 0 ? lim32 : 1;
    size_t fre = 0, tot = 0;
    LL_TRY(ll_cuda_mem_info(&fre, &tot, NULL));
    for (;;) {
        size_t need = (size_t)cb * (dd + 6 * (size_t)d) * sizeof(double);
        if (need < fre * 0.45 || cb == 1) break;
        cb = (cb + 1) / 2;
    }
    for (;;) {
        solve_bufs B;
        memset(&B, 0, sizeof B);
        if (solve_alloc(&B, (int)cb, d) != 0) { solve_bufs_free(&B); return -1; }
        size_t lw = 0, hlw = 0;
        if (eig_workspace(c, prm, &B, (int)cb, d, solver, &lw, &hlw) != 0) { solve_bufs_free(&B); return -1; }
        if (ll_cuda_mem_info(&fre, &tot, NULL) != 0) { solve_bufs_free(&B); return -1; }
        if (lw > fre * 0.9 && cb > 1) { solve_bufs_free(&B); cb = (cb + 1) / 2; continue; }
        B.lwork = lw;
        B.hlwork = hlw;
        int ar = ll_cuda_try_alloc(&B.work, lw);
        if (ar < 0) { solve_bufs_free(&B); return -1; }
        if (ar > 0) {
            solve_bufs_free(&B);
            if (cb == 1) {
                char what[96];
                snprintf(what, sizeof what, "the eigensolver workspace (1 entry, d=%d)", d);
                int lim = 0;
                if (ll_cuda_mem_info(&fre, &tot, &lim) != 0) fre = tot = 0;
                ll_oom_set_error(c->device, lw, what, fre, tot, lim);
                return -1;
            }
            cb = (cb + 1) / 2;
            continue;
        }
        B.hwork = hlw ? malloc(hlw) : NULL;
        int rc = 0;
        for (int e0 = first; e0 < last && rc == 0; e0 += (int)cb) {
            int n = (int)LL_MIN(cb, (long)(last - e0));
            rc = solve_chunk(s, c, prm, &B, e0, n, ridge, solver, first, out);
        }
        solve_bufs_free(&B);
        return rc;
    }
}

extern "C" int ll_cuda_stats_solve(ll_cuda_stats *s, double ridge, int solver, ll_probe_result *out) {
    return ll_cuda_stats_solve_range(s, 0, s->E, ridge, solver, out);
}

extern "C" int ll_cuda_stats_solve_range(ll_cuda_stats *s, int e0, int e1, double ridge, int solver,
                                         ll_probe_result *out) {
    if (e0 < 0 || e1 > s->E || e0 > e1) {
        ll_set_error("CUDA probe solve: entries [%d, %d) out of range (E=%d)", e0, e1, s->E);
        return -1;
    }
    if (e0 == e1) return 0;
    if (s->target != LL_TARGET_ID) {
        ll_set_error("CUDA probe solve: one-hot target not solved on the device (download and use ll_stats_solve)");
        return -1;
    }
    if (ridge < 0 || (solver != 0 && solver != 1)) {
        ll_set_error("CUDA probe solve: bad ridge %g or solver %d", ridge, solver);
        return -1;
    }
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    LL_LAUNCH(k_symmetrize, dim3(ll_cdiv(s->d, 256), s->d, e1 - e0), 256, 0, c->stream,
              s->M2 + (size_t)e0 * s->d * s->d, s->d);
    cusolverDnParams_t prm;
    LL_CUSOLVER(cusolverDnCreateParams(&prm));
    int rc = solve_all(s, c, prm, e0, e1, ridge, solver, out);
    cusolverDnDestroyParams(prm);
    return rc;
}
