/* Device statistics, the probe solve: every entry in one batched cuSOLVER
 * call (ll_cuda_stats_solve, _solve_range). */
#include "probe/probe_internal.cuh"

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
    LL_TRY(probe_symmetrize(s->M2 + (size_t)e0 * s->d * s->d, s->d, e1 - e0, c->stream));
    cusolverDnParams_t prm;
    LL_CUSOLVER(cusolverDnCreateParams(&prm));
    int rc = solve_all(s, c, prm, e0, e1, ridge, solver, out);
    cusolverDnDestroyParams(prm);
    return rc;
}
