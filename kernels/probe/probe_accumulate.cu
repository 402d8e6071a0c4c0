/* Device statistics, the fold of a batch (ll_cuda_stats_add*): per-row
 * normalisation, centring, the batch Gram by ll_gram_mode, Chan's merge
 * (probe_stats.cu has the formulas). */
#include "probe/probe_internal.cuh"

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
