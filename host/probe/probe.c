/* Probe engine: streaming float64 statistics, exact merge, pseudo-inverse
 * residual, the law fit.  See probe.h for the definitions. */
#include "probe/probe.h"
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"

ll_stats *ll_stats_new(int E, int d, ll_target target, int K) {
    ll_stats *s = ll_xcalloc(1, sizeof *s);
    size_t dd;
    if (E <= 0 || d <= 0 || ll_mul3_size((size_t)E, (size_t)d, (size_t)d, &dd)) {
        free(s);
        ll_set_error("statistics: bad size E=%d d=%d", E, d);
        return NULL;
    }
    s->E = E;
    s->d = d;
    s->target = target;
    s->K = target == LL_TARGET_ONEHOT ? K : 0;
    s->n = ll_xcalloc((size_t)E, sizeof(double));
    s->mean = ll_xcalloc((size_t)E * d, sizeof(double));
    s->M2 = ll_xcalloc(dd, sizeof(double));
    s->ymean = ll_xcalloc((size_t)E, sizeof(double));
    s->Cxy = ll_xcalloc((size_t)E * d, sizeof(double));
    s->Syy = ll_xcalloc((size_t)E, sizeof(double));
    s->ones_null = ll_xcalloc((size_t)E, sizeof(int));
    if (s->K > 0) {
        s->class_n = ll_xcalloc((size_t)E * s->K, sizeof(double));
        s->class_sum = ll_xcalloc((size_t)E * s->K * d, sizeof(double));
    }
    return s;
}

void ll_stats_free(ll_stats *s) {
    if (!s) return;
    free(s->n); free(s->mean); free(s->M2); free(s->ymean); free(s->Cxy); free(s->Syy);
    free(s->ones_null); free(s->class_n); free(s->class_sum);
    free(s);
}

void ll_stats_reset(ll_stats *s) {
    size_t E = (size_t)s->E, d = (size_t)s->d;
    memset(s->n, 0, E * sizeof(double));
    memset(s->mean, 0, E * d * sizeof(double));
    memset(s->M2, 0, E * d * d * sizeof(double));
    memset(s->ymean, 0, E * sizeof(double));
    memset(s->Cxy, 0, E * d * sizeof(double));
    memset(s->Syy, 0, E * sizeof(double));
    if (s->K) {
        memset(s->class_n, 0, E * (size_t)s->K * sizeof(double));
        memset(s->class_sum, 0, E * (size_t)s->K * d * sizeof(double));
    }
}

size_t ll_stats_bytes(const ll_stats *s) {
    size_t E = (size_t)s->E, d = (size_t)s->d;
    return sizeof(double) * (E * d * d + 3 * E * d + 3 * E + E * (size_t)s->K * (d + 1));
}

/* Folds a batch's (nb, mean_b, M2_b, ...) into entry e with the pairwise
 * update.  M2_b and friends are already added in place by the caller for the
 * add path; this does the cross terms only. */
static void chan_cross(ll_stats *s, int e, double nb, const double *mean_b, double ymean_b) {
    size_t d = (size_t)s->d;
    double na = s->n[e], N = na + nb;
    double *mean = s->mean + (size_t)e * d, *M2 = s->M2 + (size_t)e * d * d, *Cxy = s->Cxy + (size_t)e * d;
    if (na == 0) {
        memcpy(mean, mean_b, d * sizeof(double));
        s->ymean[e] = ymean_b;
        s->n[e] = nb;
        return;
    }
    double f = na * nb / N;
    double *delta = ll_xmalloc(d * sizeof(double));
    for (size_t j = 0; j < d; j++) delta[j] = mean_b[j] - mean[j];
    double dy = ymean_b - s->ymean[e];
    cblas_dsyr(CblasRowMajor, CblasUpper, (int)d, f, delta, 1, M2, (int)d);
    for (size_t j = 0; j < d; j++) {
        Cxy[j] += f * delta[j] * dy;
        mean[j] += delta[j] * nb / N;
    }
    s->Syy[e] += f * dy * dy;
    s->ymean[e] += dy * nb / N;
    s->n[e] = N;
    free(delta);
}

/* M2 (upper triangle) += XᵀX for X n×d row-major.  layerlaw keeps one thread
 * pool (OpenMP; OpenBLAS runs single-threaded inside parallel code), so when
 * called outside a parallel region with several threads the triangle is cut
 * into row bands of equal work, each a single-threaded DSYRK on its diagonal
 * block plus a DGEMM right of it (1.8-2.1x on 2 cores at d = 768). */
static void gram_upper_add(double *M2, const double *X, int d, int n) {
    int nth = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nth > 8) nth = 8;
    if (nth < 2 || d < 128 || openblas_get_num_threads() > 1) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0, X, d, 1.0, M2, d);
        return;
    }
    int cut[9];
    cut[0] = 0;
    for (int k = 1; k < nth; k++) {
        /* rows [0, r) of the upper triangle hold r·d − r²/2 of its d²/2 entries */
        double f = (double)k / nth;
        cut[k] = (int)(d * (1 - sqrt(1 - f)));
        if (cut[k] < cut[k - 1]) cut[k] = cut[k - 1];
    }
    cut[nth] = d;
#pragma omp parallel for num_threads(nth) schedule(static, 1)
    for (int k = 0; k < nth; k++) {
        int a = cut[k], b = cut[k + 1];
        if (b <= a) continue;
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, b - a, n, 1.0, X + a, d, 1.0, M2 + (size_t)a * d + a, d);
        if (b < d)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b - a, d - b, n, 1.0, X + a, d, X + b, d, 1.0,
                        M2 + (size_t)a * d + b, d);
    }
}

void ll_stats_add(ll_stats *s, int e, double *X, const double *y, long n) {
    if (n <= 0) return;
    size_t d = (size_t)s->d;
    double *mb = ll_xcalloc(d, sizeof(double));
    double *yc = ll_xmalloc((size_t)n * sizeof(double));
    if (s->K > 0) { /* one-hot: raw class sums before centring */
        double *cn = s->class_n + (size_t)e * s->K, *cs = s->class_sum + (size_t)e * s->K * d;
        for (long i = 0; i < n; i++) {
            long c = (long)y[i];
            cn[c] += 1;
            const double *x = X + (size_t)i * d;
            double *t = cs + (size_t)c * d;
            for (size_t j = 0; j < d; j++) t[j] += x[j];
        }
    }
    /* batch means (two-pass: mean, then centred sums).  Threads split the
     * columns here and the rows below: every sum keeps the serial order, so
     * results do not depend on the thread count. */
    const int par = !omp_in_parallel() && (double)n * d > 65536;
    const int ncb = (int)((d + 63) / 64);
#pragma omp parallel for if (par) schedule(static)
    for (int cb = 0; cb < ncb; cb++) {
        size_t j0 = (size_t)cb * 64, j1 = LL_MIN(d, j0 + 64);
        for (long i = 0; i < n; i++) {
            const double *x = X + (size_t)i * d;
            for (size_t j = j0; j < j1; j++) mb[j] += x[j];
        }
    }
    double ym = 0;
    for (long i = 0; i < n; i++) ym += y[i];
    for (size_t j = 0; j < d; j++) mb[j] /= (double)n;
    ym /= (double)n;
    double syy = 0;
#pragma omp parallel for if (par) schedule(static)
    for (long i = 0; i < n; i++) {
        double *x = X + (size_t)i * d;
        for (size_t j = 0; j < d; j++) x[j] -= mb[j];
    }
    for (long i = 0; i < n; i++) {
        yc[i] = y[i] - ym;
        syy += yc[i] * yc[i];
    }
    /* centred batch comoments added straight into the running sums: the
     * pairwise update is M2 = M2a + M2b + f·δδᵀ, and M2b enters linearly. */
    gram_upper_add(s->M2 + (size_t)e * d * d, X, (int)d, (int)n);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)d, 1.0, X, (int)d, yc, 1, 1.0, s->Cxy + (size_t)e * d, 1);
    s->Syy[e] += syy;
    chan_cross(s, e, (double)n, mb, ym);
    free(mb);
    free(yc);
}

int ll_stats_merge(ll_stats *dst, const ll_stats *src) {
    if (dst->E != src->E || dst->d != src->d || dst->target != src->target || dst->K != src->K) {
        ll_set_error("statistics: cannot merge different shapes");
        return -1;
    }
    size_t d = (size_t)dst->d;
    for (int e = 0; e < dst->E; e++) {
        if (src->n[e] == 0) continue;
        double *M2 = dst->M2 + (size_t)e * d * d;
        const double *M2s = src->M2 + (size_t)e * d * d;
        for (size_t i = 0; i < d; i++)
            for (size_t j = i; j < d; j++) M2[i * d + j] += M2s[i * d + j];
        for (size_t j = 0; j < d; j++) dst->Cxy[(size_t)e * d + j] += src->Cxy[(size_t)e * d + j];
        dst->Syy[e] += src->Syy[e];
        chan_cross(dst, e, src->n[e], src->mean + (size_t)e * d, src->ymean[e]);
        dst->ones_null[e] = dst->ones_null[e] && src->ones_null[e];
        if (dst->K) {
            size_t kc = (size_t)dst->K;
            for (size_t c = 0; c < kc; c++) dst->class_n[e * kc + c] += src->class_n[e * kc + c];
            for (size_t c = 0; c < kc * d; c++) dst->class_sum[e * kc * d + c] += src->class_sum[e * kc * d + c];
        }
    }
    return 0;
}

/* ---- solve ---------------------------------------------------------- */

#define LL_EIG_RTOL 1e-12  /* eigenvalues below this · λmax count as zero */
#define LL_ONES_RTOL 1e-10 /* Rayleigh quotient of 1/√d below this · mean diag: Σx = 0 */

/* beta (optional, id target and OLS only): the coefficients of the solution
 * in the original feature coordinates, β = P·D·Ṽ diag(1/λ) Ṽᵀ b̃ (P the ones
 * deflation when applied, D the equilibration), so that the fitted value of
 * x is ȳ + (x − x̄)ᵀβ. */
static int solve_entry(const ll_stats *s, int e, double ridge, ll_probe_result *r, double *beta) {
    int d = s->d;
    size_t dd = (size_t)d * d;
    double n = s->n[e];
    memset(r, 0, sizeof *r);
    r->n = n;
    if (beta) memset(beta, 0, (size_t)d * sizeof(double));
    if (n < 2) { r->pr = NAN; return 0; }
    double *G = ll_xmalloc(dd * sizeof(double));
    double *b = ll_xmalloc((size_t)d * sizeof(double));
    double *w = ll_xmalloc((size_t)d * sizeof(double));
    double *sc = ll_xmalloc((size_t)d * sizeof(double));
    const double *M2 = s->M2 + (size_t)e * dd;
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) G[(size_t)i * d + j] = G[(size_t)j * d + i] = M2[(size_t)i * d + j];
    int onehot = s->K > 0;
    int nrhs = onehot ? s->K : 1;
    /* right-hand sides, centred: b (d × nrhs, column-major per rhs) */
    double *B = ll_xmalloc((size_t)d * nrhs * sizeof(double));
    double tss = 0;
    if (!onehot) {
        memcpy(B, s->Cxy + (size_t)e * d, (size_t)d * sizeof(double));
        tss = s->Syy[e];
    } else {
        const double *cn = s->class_n + (size_t)e * s->K, *cs = s->class_sum + (size_t)e * s->K * d;
        const double *mu = s->mean + (size_t)e * d;
        for (int c = 0; c < s->K; c++) {
            for (int j = 0; j < d; j++) B[(size_t)c * d + j] = cs[(size_t)c * d + j] - cn[c] * mu[j];
            tss += cn[c] - cn[c] * cn[c] / n;
        }
    }
    r->tss = tss;
    /* 1. deflate the ones direction when the features lie in Σx = 0 */
    int deflate = s->ones_null[e] || ll_ones_null(M2, d);
    if (deflate) {
        ll_deflate_ones(G, B, d, nrhs);
    }
    /* 2. equilibrate (OLS only: the residual is invariant to column scaling) */
    for (int i = 0; i < d; i++) {
        double g = G[(size_t)i * d + i];
        sc[i] = (ridge == 0 && g > 0) ? 1.0 / sqrt(g) : (ridge == 0 ? 0.0 : 1.0);
    }
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) G[(size_t)i * d + j] *= sc[i] * sc[j];
    for (int c = 0; c < nrhs; c++)
        for (int j = 0; j < d; j++) B[(size_t)c * d + j] *= sc[j];
    /* 3. eigen-decomposition */
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, G, d, w);
    if (info != 0) {
        ll_set_error("entry %d: eigen-decomposition failed (LAPACK info %d)", e, (int)info);
        free(G); free(b); free(w); free(sc); free(B);
        return -1;
    }
    double wmax = w[d - 1];
    double thr = LL_EIG_RTOL * (wmax > 0 ? wmax : 0);
    int rank = 0;
    for (int k = 0; k < d; k++)
        if (w[k] > thr) rank++;
    /* 4. explained = Σ_k f(λ_k) (v_kᵀ b)² over kept eigenpairs */
    double *C = ll_xmalloc((size_t)d * nrhs * sizeof(double));
    /* C (nrhs × d) = Bᵀ (nrhs × d) · V (d × d), V row-major with eigenvectors in columns */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nrhs, d, d, 1.0, B, d, G, d, 0.0, C, d);
    double expl = 0;
    for (int k = 0; k < d; k++) {
        if (ridge == 0 && !(w[k] > thr)) continue;
        double lk = w[k] > 0 ? w[k] : 0;
        double f = ridge == 0 ? 1.0 / lk : (2.0 / (lk + ridge) - lk / ((lk + ridge) * (lk + ridge)));
        double acc = 0;
        for (int c = 0; c < nrhs; c++) acc += C[(size_t)c * d + k] * C[(size_t)c * d + k];
        expl += f * acc;
    }
    if (beta && !onehot && ridge == 0) {
        for (int j = 0; j < d; j++) {
            double acc = 0;
            for (int k = 0; k < d; k++)
                if (w[k] > thr) acc += G[(size_t)j * d + k] * C[k] / w[k];
            beta[j] = sc[j] * acc;
        }
        if (deflate) {
            double m = 0;
            for (int j = 0; j < d; j++) m += beta[j];
            m /= d;
            for (int j = 0; j < d; j++) beta[j] -= m;
        }
    }
    double rss = tss - expl;
    if (rss < 0) rss = 0;
    r->rss = rss;
    r->rank = rank;
    r->pr = tss > 0 ? rss / tss : NAN;
    free(C); free(G); free(b); free(w); free(sc); free(B);
    return 0;
}

int ll_ones_null(const double *M2, int d) {
    double trace = 0;
    for (int i = 0; i < d; i++) trace += M2[(size_t)i * d + i];
    if (!(trace > 0)) return 0;
    /* the sum of every element of the symmetric matrix, row by row */
    double q = 0;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) q += M2[i <= j ? (size_t)i * d + j : (size_t)j * d + i];
    q /= d;
    return q <= LL_ONES_RTOL * trace / d;
}

int ll_parallel_for(int n, int threads, int (*fn)(void *ctx, int i), void *ctx) {
    if (threads <= 0) threads = omp_get_num_procs();
    int nt = threads < n ? threads : n;
    if (nt < 1) nt = 1;
    int err = 0;
    char msg[1024] = "";
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
        if (fn(ctx, i) != 0) {
#pragma omp critical
            {
                err = 1;
                snprintf(msg, sizeof msg, "%s", ll_last_error());
            }
        }
    }
    openblas_set_num_threads(saved);
    if (err) { ll_set_error("%s", msg); return -1; }
    return 0;
}

typedef struct { const ll_stats *s; double ridge; ll_probe_result *out; } solve_job;

static int solve_one(void *ctx, int e) {
    const solve_job *j = ctx;
    return solve_entry(j->s, e, j->ridge, &j->out[e], NULL);
}

ll_stats ll_stats_view(const ll_stats *s, int e0, int e1) {
    const size_t dd = (size_t)s->d, K = (size_t)s->K;
    ll_stats v = *s;
    v.E = e1 - e0;
    v.n = s->n + e0; v.mean = s->mean + (size_t)e0 * dd; v.M2 = s->M2 + (size_t)e0 * dd * dd;
    v.ymean = s->ymean + e0; v.Cxy = s->Cxy + (size_t)e0 * dd; v.Syy = s->Syy + e0;
    v.ones_null = s->ones_null + e0;
    if (K) { v.class_n = s->class_n + (size_t)e0 * K; v.class_sum = s->class_sum + (size_t)e0 * K * dd; }
    return v;
}

void ll_probe_result_to_doubles(const ll_probe_result *r, double *o) {
    o[0] = r->pr; o[1] = r->rss; o[2] = r->tss; o[3] = r->n; o[4] = r->rank;
}
void ll_probe_result_from_doubles(const double *o, ll_probe_result *r) {
    r->pr = o[0]; r->rss = o[1]; r->tss = o[2]; r->n = o[3]; r->rank = (int)o[4];
}

int ll_stats_solve(const ll_stats *s, double ridge, int threads, ll_probe_result *out) {
    if (ridge < 0) { ll_set_error("ridge must be >= 0"); return -1; }
    solve_job j = {s, ridge, out};
    return ll_parallel_for(s->E, threads, solve_one, &j);
}

int ll_stats_solve_beta(const ll_stats *s, int e, double *beta, ll_probe_result *r) {
    if (s->K > 0 || e < 0 || e >= s->E) {
        ll_set_error("statistics: coefficients need the id target and an entry in 0..%d", s->E - 1);
        return -1;
    }
    return solve_entry(s, e, 0.0, r, beta);
}

/* ---- class map, RNG, shuffle --------------------------------------- */

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int ll_classmap_build(ll_classmap *m, const int64_t *labels, long n) {
    int64_t *v = ll_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    memcpy(v, labels, (size_t)n * sizeof(int64_t));
    qsort(v, (size_t)n, sizeof(int64_t), cmp_i64);
    long k = 0;
    for (long i = 0; i < n; i++)
        if (i == 0 || v[i] != v[k - 1]) v[k++] = v[i];
    m->ids = v;
    m->K = (int)k;
    return 0;
}

int ll_classmap_index(const ll_classmap *m, int64_t id) {
    const int64_t *p = bsearch(&id, m->ids, (size_t)m->K, sizeof(int64_t), cmp_i64);
    return p ? (int)(p - m->ids) : -1;
}

void ll_classmap_free(ll_classmap *m) { free(m->ids); m->ids = NULL; m->K = 0; }

void ll_vocab_permutation(const ll_classmap *m, uint64_t seed, int64_t *perm) {
    memcpy(perm, m->ids, (size_t)m->K * sizeof(int64_t));
    uint64_t st = seed;
    for (int i = m->K - 1; i > 0; i--) { /* Fisher-Yates; modulo bias < 2^-40 */
        int j = (int)(ll_splitmix64(&st) % (uint64_t)(i + 1));
        int64_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
}

void ll_shuffle_vocab(int64_t *labels, long n, uint64_t seed) {
    ll_classmap m;
    ll_classmap_build(&m, labels, n);
    int64_t *perm = ll_xmalloc((size_t)(m.K > 0 ? m.K : 1) * sizeof(int64_t));
    ll_vocab_permutation(&m, seed, perm);
    for (long i = 0; i < n; i++) labels[i] = perm[ll_classmap_index(&m, labels[i])];
    free(perm);
    ll_classmap_free(&m);
}

/* ---- law ------------------------------------------------------------ */

int ll_law_fit(const double *pr, int E, int first, ll_law *out) {
    memset(out, 0, sizeof *out);
    int m = E - first;
    if (first < 0 || m < 2) {
        ll_set_error("law fit needs at least 2 entries from entry %d on (have %d entries)", first, E);
        return -1;
    }
    double *y = ll_xmalloc((size_t)m * sizeof(double));
    for (int i = 0; i < m; i++) {
        double p = pr[first + i];
        if (!(p > 0) || !isfinite(p)) {
            ll_set_error("entry %d: PR = %g, cannot take log10", first + i, p);
            free(y);
            return -1;
        }
        y[i] = log10(p);
    }
    double xm = (m - 1) / 2.0, ym = 0;
    for (int i = 0; i < m; i++) ym += y[i];
    ym /= m;
    double sxx = 0, sxy = 0, syy = 0;
    for (int i = 0; i < m; i++) {
        double dx = i - xm, dy = y[i] - ym;
        sxx += dx * dx; sxy += dx * dy; syy += dy * dy;
    }
    out->first_entry = first;
    out->n_points = m;
    out->slope = sxy / sxx;
    out->intercept = ym - out->slope * xm;
    out->pearson_r = syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
    out->r2 = syy > 0 ? out->pearson_r * out->pearson_r : NAN;
    out->decay_ratio = pow(10.0, out->slope);
    out->overall_ratio = pr[E - 1] / pr[first];
    free(y);
    return 0;
}

/* ---- normalisation -------------------------------------------------- */

const char *ll_norm_name(ll_norm n) {
    switch (n) {
    case LL_NORM_NONE: return "none";
    case LL_NORM_LAYERNORM: return "layernorm";
    case LL_NORM_RMSNORM: return "rmsnorm";
    case LL_NORM_STANDARDIZE: return "standardize";
    }
    return "?";
}

const char *const ll_norm_choices[] = {"initialized", "layernorm", "rmsnorm", "standardize", "none", NULL,
                                       "initialized-LN", "standardization", NULL};

int ll_norm_parse(const char *s, ll_norm *out) {
    if (!strcmp(s, "none")) *out = LL_NORM_NONE;
    else if (!strcmp(s, "layernorm")) *out = LL_NORM_LAYERNORM;
    else if (!strcmp(s, "rmsnorm")) *out = LL_NORM_RMSNORM;
    else if (!strcmp(s, "standardize") || !strcmp(s, "standardization")) *out = LL_NORM_STANDARDIZE;
    else { ll_set_error("unknown normalisation '%s' (none|layernorm|rmsnorm|standardize)", s); return -1; }
    return 0;
}

void ll_normalize_rows(double *X, long n, int d, ll_norm kind, double eps) {
    if (kind == LL_NORM_NONE) return;
#pragma omp parallel for if (!omp_in_parallel() && (double)n * d > 65536) schedule(static)
    for (long i = 0; i < n; i++) {
        double *x = X + (size_t)i * d;
        if (kind == LL_NORM_RMSNORM) {
            double ss = 0;
            for (int j = 0; j < d; j++) ss += x[j] * x[j];
            double r = 1.0 / sqrt(ss / d + eps);
            for (int j = 0; j < d; j++) x[j] *= r;
            continue;
        }
        double mu = 0;
        for (int j = 0; j < d; j++) mu += x[j];
        mu /= d;
        double var = 0;
        for (int j = 0; j < d; j++) { x[j] -= mu; var += x[j] * x[j]; }
        var /= d;
        double den = kind == LL_NORM_LAYERNORM ? sqrt(var + eps) : sqrt(var);
        double r = den > 0 ? 1.0 / den : 0.0; /* constant row: standardises to 0 */
        for (int j = 0; j < d; j++) x[j] *= r;
    }
}

/* ---- statistics that travel ---- */
#define LL_STATS_MAGIC 0x4c4c53544154ULL /* "LLSTAT" */
#define LL_STATS_HDR 6

size_t ll_stats_pack_len(const ll_stats *s) {
    const size_t E = (size_t)s->E, d = (size_t)s->d, K = (size_t)s->K;
    return LL_STATS_HDR + E * (4 + 2 * d + d * d) + E * K * (1 + d); /* ones_null counted in the 4 */
}

/* The fields in pack order: pointer and length (doubles). */
static int stats_fields(const ll_stats *s, double **p, size_t *n) {
    const size_t E = (size_t)s->E, d = (size_t)s->d, K = (size_t)s->K;
    int k = 0;
    p[k] = s->n; n[k++] = E;
    p[k] = s->mean; n[k++] = E * d;
    p[k] = s->M2; n[k++] = E * d * d;
    p[k] = s->ymean; n[k++] = E;
    p[k] = s->Cxy; n[k++] = E * d;
    p[k] = s->Syy; n[k++] = E;
    if (K) {
        p[k] = s->class_n; n[k++] = E * K;
        p[k] = s->class_sum; n[k++] = E * K * d;
    }
    return k;
}

void ll_stats_pack(const ll_stats *s, double *buf) {
    buf[0] = (double)LL_STATS_MAGIC;
    buf[1] = 1;
    buf[2] = s->E; buf[3] = s->d; buf[4] = s->target; buf[5] = s->K;
    double *o = buf + LL_STATS_HDR;
    double *p[8];
    size_t n[8];
    int nf = stats_fields(s, p, n);
    for (int f = 0; f < nf; f++) {
        /* order matters: ones_null goes between Syy and the class arrays */
        if (f == 6) { for (int e = 0; e < s->E; e++) *o++ = s->ones_null[e]; }
        memcpy(o, p[f], n[f] * sizeof(double));
        o += n[f];
    }
    if (nf == 6) for (int e = 0; e < s->E; e++) *o++ = s->ones_null[e];
}

int ll_stats_unpack(ll_stats *dst, const double *buf, size_t len) {
    if (len < LL_STATS_HDR || buf[0] != (double)LL_STATS_MAGIC || buf[1] != 1) {
        ll_set_error("statistics: not a packed statistics buffer");
        return -1;
    }
    if (buf[2] != dst->E || buf[3] != dst->d || buf[4] != dst->target || buf[5] != dst->K ||
        len != ll_stats_pack_len(dst)) {
        ll_set_error("statistics: packed shape (E %g, d %g, target %g, K %g) differs from (E %d, d %d, target %d, K %d)",
                     buf[2], buf[3], buf[4], buf[5], dst->E, dst->d, (int)dst->target, dst->K);
        return -1;
    }
    const double *o = buf + LL_STATS_HDR;
    double *p[8];
    size_t n[8];
    int nf = stats_fields(dst, p, n);
    for (int f = 0; f < nf; f++) {
        if (f == 6) { for (int e = 0; e < dst->E; e++) dst->ones_null[e] = *o++ != 0; }
        memcpy(p[f], o, n[f] * sizeof(double));
        o += n[f];
    }
    if (nf == 6) for (int e = 0; e < dst->E; e++) dst->ones_null[e] = *o++ != 0;
    return 0;
}

void ll_deflate_ones(double *G, double *B, int d, int nrhs) {
    /* G <- P G P, B <- P B with P = I - 11ᵀ/d */
    double *rm = ll_xcalloc((size_t)d, sizeof(double));
    double tot = 0;
    for (int i = 0; i < d; i++) {
        for (int j = 0; j < d; j++) rm[i] += G[(size_t)i * d + j];
        rm[i] /= d;
        tot += rm[i];
    }
    tot /= d;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) G[(size_t)i * d + j] += -rm[i] - rm[j] + tot;
    for (int c = 0; c < nrhs && B; c++) {
        double m = 0;
        for (int j = 0; j < d; j++) m += B[(size_t)c * d + j];
        m /= d;
        for (int j = 0; j < d; j++) B[(size_t)c * d + j] -= m;
    }
    free(rm);
}
