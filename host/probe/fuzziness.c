/* Separation fuzziness from streaming statistics, the class budget, and the
 * measure names.  See measures.h and docs/measures.md. */
#include "probe/measures.h"
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"

const char *const ll_measure_choices[] = {"pr", "fuzziness", "onehot", NULL, "separation-fuzziness", NULL};

int ll_measure_parse(const char *s, ll_measure *out) {
    if (!strcmp(s, "pr")) *out = LL_MEASURE_PR;
    else if (!strcmp(s, "fuzziness") || !strcmp(s, "separation-fuzziness")) *out = LL_MEASURE_FUZZINESS;
    else if (!strcmp(s, "onehot")) *out = LL_MEASURE_ONEHOT;
    else { ll_set_error("unknown measure '%s' (pr|fuzziness|onehot)", s); return -1; }
    return 0;
}

const char *ll_measure_name(ll_measure m) {
    switch (m) {
    case LL_MEASURE_PR: return "pr";
    case LL_MEASURE_FUZZINESS: return "fuzziness";
    case LL_MEASURE_ONEHOT: return "onehot";
    }
    return "?";
}

ll_target ll_measure_target(ll_measure m) { return m == LL_MEASURE_PR ? LL_TARGET_ID : LL_TARGET_ONEHOT; }

#define FUZZ_EIG_RTOL 1e-12 /* as the PR solve: eigenvalues <= 1e-12·λmax are zero */

static int sepfuzz_entry(const ll_stats *s, int e, ll_sepfuzz_result *r) {
    const int d = s->d, K = s->K;
    const size_t dd = (size_t)d * d;
    const double n = s->n[e];
    memset(r, 0, sizeof *r);
    r->n = n;
    r->D = NAN;
    if (n < 2) return 0;
    const double *cn = s->class_n + (size_t)e * K, *cs = s->class_sum + (size_t)e * K * d;
    const double *mu = s->mean + (size_t)e * d, *M2 = s->M2 + (size_t)e * dd;
    /* Z: one row s_c/√n_c per non-empty class; N·Sb = ZᵀZ */
    int nz = 0;
    for (int c = 0; c < K; c++) nz += cn[c] > 0;
    double *Z = ll_xmalloc((size_t)(nz > 0 ? nz : 1) * d * sizeof(double));
    int row = 0;
    for (int c = 0; c < K; c++) {
        if (!(cn[c] > 0)) continue;
        double f = 1.0 / sqrt(cn[c]);
        const double *S = cs + (size_t)c * d;
        double *z = Z + (size_t)row * d;
        for (int j = 0; j < d; j++) z[j] = (S[j] - cn[c] * mu[j]) * f;
        row++;
    }
    double *Sb = ll_xcalloc(dd, sizeof(double));
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, nz, 1.0, Z, d, 0.0, Sb, d);
    free(Z);
    double *Sw = ll_xmalloc(dd * sizeof(double));
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double b = Sb[(size_t)i * d + j];
            Sb[(size_t)j * d + i] = b;
            double w = M2[(size_t)i * d + j] - b;
            Sw[(size_t)i * d + j] = Sw[(size_t)j * d + i] = w;
        }
    /* the ones direction: known (engine-normalised) or detected as in the PR solve */
    int deflate = s->ones_null[e] || ll_ones_null(M2, d);
    if (deflate) {
        ll_deflate_ones(Sb, NULL, d, 0);
        ll_deflate_ones(Sw, NULL, d, 0);
    }
    double tw = 0, tb = 0;
    for (int i = 0; i < d; i++) { tw += Sw[(size_t)i * d + i]; tb += Sb[(size_t)i * d + i]; }
    r->tr_sw = tw / n;
    r->tr_sb = tb / n;
    double *w = ll_xmalloc((size_t)d * sizeof(double));
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, Sb, d, w);
    if (info != 0) {
        ll_set_error("entry %d: eigen-decomposition of the between-class covariance failed (LAPACK info %d)", e, (int)info);
        free(Sb); free(Sw); free(w);
        return -1;
    }
    double thr = FUZZ_EIG_RTOL * (w[d - 1] > 0 ? w[d - 1] : 0);
    /* D = Σ_k v_kᵀ Sw v_k / λ_k over kept eigenpairs (N cancels) */
    double *W = ll_xmalloc(dd * sizeof(double));
    cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, d, d, 1.0, Sw, d, Sb, d, 0.0, W, d); /* W = Sw·V */
    double D = 0;
    int rank = 0;
    for (int k = 0; k < d; k++) {
        if (!(w[k] > thr)) continue;
        rank++;
        double q = 0;
        for (int i = 0; i < d; i++) q += Sb[(size_t)i * d + k] * W[(size_t)i * d + k];
        D += q / w[k];
    }
    r->rank = rank;
    r->D = rank > 0 ? D : NAN;
    free(Sb); free(Sw); free(w); free(W);
    return 0;
}

typedef struct { const ll_stats *s; ll_sepfuzz_result *out; } sepfuzz_job;

static int fuzz_one(void *ctx, int e) {
    const sepfuzz_job *j = ctx;
    return sepfuzz_entry(j->s, e, &j->out[e]);
}

int ll_fuzziness_solve(const ll_stats *s, int threads, ll_sepfuzz_result *out) {
    if (s->K <= 0 || !s->class_n) {
        ll_set_error("statistics: separation fuzziness needs per-class sums (one-hot statistics)");
        return -1;
    }
    sepfuzz_job j = {s, out};
    return ll_parallel_for(s->E, threads, fuzz_one, &j);
}

/* ---- class budget ---------------------------------------------------- */

typedef struct { long count; int k; int64_t id; } class_count;

static int cmp_count_desc(const void *a, const void *b) {
    const class_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* cc[k] = (count, k, id): the max−1 most frequent keep ranks 0..max−2, the
 * rest share class max−1.  Returns the number of classes. */
static int cap_counts(class_count *cc, int K, int max_classes, int *class_of, long *pooled_examples) {
    *pooled_examples = 0;
    if (max_classes <= 0 || max_classes >= K) {
        for (int k = 0; k < K; k++) class_of[k] = k;
        return K;
    }
    if (max_classes < 2) max_classes = 2;
    qsort(cc, (size_t)K, sizeof *cc, cmp_count_desc);
    for (int r = 0; r < K; r++) {
        if (r < max_classes - 1) class_of[cc[r].k] = r;
        else { class_of[cc[r].k] = max_classes - 1; *pooled_examples += cc[r].count; }
    }
    return max_classes;
}

int ll_classmap_cap(const ll_classmap *m, const int64_t *labels, long n, int max_classes, int *class_of,
                    long *pooled_examples) {
    class_count *cc = ll_xcalloc((size_t)(m->K > 0 ? m->K : 1), sizeof *cc);
    for (int k = 0; k < m->K; k++) { cc[k].k = k; cc[k].id = m->ids[k]; }
    for (long i = 0; i < n; i++) {
        int k = ll_classmap_index(m, labels[i]);
        if (k >= 0) cc[k].count++;
    }
    int r = cap_counts(cc, m->K, max_classes, class_of, pooled_examples);
    free(cc);
    return r;
}

int ll_class_plan(const int64_t *lab, const long *counts, int n, int max_classes, int64_t *to, ll_classmap *cmap,
                  long *pooled_examples) {
    class_count *cc = ll_xcalloc((size_t)(n > 0 ? n : 1), sizeof *cc);
    for (int k = 0; k < n; k++) { cc[k].k = k; cc[k].id = lab[k]; cc[k].count = counts[k]; }
    int *class_of = ll_xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    int K = cap_counts(cc, n, max_classes, class_of, pooled_examples);
    int64_t sentinel = INT64_MAX;
    if (K < n)
        for (int k = 0; k < n; k++)
            if (class_of[k] == K - 1 && lab[k] < sentinel) sentinel = lab[k];
    for (int k = 0; k < n; k++) to[k] = (K < n && class_of[k] == K - 1) ? sentinel : lab[k];
    ll_classmap_build(cmap, to, n);
    free(cc);
    free(class_of);
    return cmap->K;
}

int ll_classes_that_fit(int E, int d, double budget_bytes) {
    double per = (double)E * ((double)d + 1) * sizeof(double);
    double k = floor(budget_bytes / per);
    if (k > 2147483647.0) k = 2147483647.0;
    return k < 2 ? 2 : (int)k;
}
