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
 * Files: this one holds the object (new, free, reset, host copies); the
 * fold is probe_accumulate.cu, the reduce across ranks probe_pack.cu, the
 * solve probe_solve.cu (probe_internal.cuh).
 *
 * Layout: row-major X (m×d) is, to cuBLAS (column-major), the d×m matrix
 * A with lda = d, so XᵀX = A·Aᵀ and Xᵀy = A·y. */
#include "probe/probe_internal.cuh"

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

/* Copies the lower triangle onto the upper one, E matrices d×d. */
__global__ void k_symmetrize(double *M, int d) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int j = blockIdx.y;
    double *A = M + (long)blockIdx.z * d * d;
    if (i < d && i > j) A[(long)i * d + j] = A[(long)j * d + i];
}
int probe_symmetrize(double *M, int d, int count, cudaStream_t st) {
    LL_LAUNCH(k_symmetrize, dim3(ll_cdiv(d, 256), (unsigned)d, (unsigned)count), 256, 0, st, M, d);
    return 0;
}

/* ---------------------------------------------------------------- lifecycle */

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
    LL_TRY(probe_symmetrize(s->M2, (int)d, (int)E, c->stream));
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
