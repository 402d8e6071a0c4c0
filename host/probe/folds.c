/* Held-out PR: per-fold statistics, leave-one-fold-out solves, jackknife of
 * the law.  See measures.h and docs/measures.md. */
#include "probe/measures.h"
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"

int ll_fold_of(uint64_t group, uint64_t seed, int K) {
    uint64_t st = seed ^ (group * 0xD1B54A32D192ED03ull);
    return (int)(ll_splitmix64(&st) % (uint64_t)K);
}

ll_folds *ll_folds_new(int K, uint64_t seed, int E, int d) {
    if (K < 2 || K > LL_FOLDS_MAX) {
        ll_set_error("folds: K = %d, need 2..%d", K, LL_FOLDS_MAX);
        return NULL;
    }
    ll_folds *f = ll_xcalloc(1, sizeof *f);
    f->K = K; f->E = E; f->d = d; f->seed = seed;
    f->fold = ll_xcalloc((size_t)K, sizeof *f->fold);
    for (int k = 0; k < K; k++) {
        f->fold[k] = ll_stats_new(E, d, LL_TARGET_ID, 0);
        if (!f->fold[k]) { ll_folds_free(f); return NULL; }
    }
    return f;
}

void ll_folds_free(ll_folds *f) {
    if (!f) return;
    for (int k = 0; k < f->K; k++) ll_stats_free(f->fold ? f->fold[k] : NULL);
    free(f->fold);
    free(f);
}

size_t ll_folds_bytes(const ll_folds *f) {
    size_t b = 0;
    for (int k = 0; k < f->K; k++) b += ll_stats_bytes(f->fold[k]);
    return b;
}

void ll_folds_add(ll_folds *f, int e, double *X, const double *y, const int *fold, long n) {
    const size_t d = (size_t)f->d;
    long cnt[LL_FOLDS_MAX] = {0};
    for (long i = 0; i < n; i++) cnt[fold[i]]++;
    long most = 0;
    for (int k = 0; k < f->K; k++) most = cnt[k] > most ? cnt[k] : most;
    if (most == 0) return;
    double *Xk = ll_xmalloc((size_t)most * d * sizeof(double));
    double *yk = ll_xmalloc((size_t)most * sizeof(double));
    for (int k = 0; k < f->K; k++) {
        if (!cnt[k]) continue;
        long m = 0;
        for (long i = 0; i < n; i++) {
            if (fold[i] != k) continue;
            memcpy(Xk + (size_t)m * d, X + (size_t)i * d, d * sizeof(double));
            yk[m++] = y[i];
        }
        ll_stats_add(f->fold[k], e, Xk, yk, m);
    }
    free(Xk);
    free(yk);
}

int ll_folds_merge_into(const ll_folds *f, ll_stats *total) {
    for (int k = 0; k < f->K; k++)
        if (ll_stats_merge(total, f->fold[k]) != 0) return -1;
    return 0;
}

/* A one-entry view of entry e of s (no copy; never freed). */
static ll_stats entry_view(const ll_stats *s, int e) {
    const size_t d = (size_t)s->d;
    ll_stats v = {0};
    v.E = 1; v.d = s->d; v.target = LL_TARGET_ID; v.K = 0;
    v.n = s->n + e; v.mean = s->mean + e * d; v.M2 = s->M2 + e * d * d;
    v.ymean = s->ymean + e; v.Cxy = s->Cxy + e * d; v.Syy = s->Syy + e;
    v.ones_null = s->ones_null + e;
    return v;
}

/* RSS on fold statistics v of the predictor ŷ(x) = ym + (x − xm)ᵀβ, exactly:
 * Σ (y_i − ŷ_i)² = Syy − 2βᵀCxy + βᵀM2β + n (δy − δxᵀβ)², δ = fold mean − fit mean. */
static double fold_rss(const ll_stats *v, const double *xm, double ym, const double *beta, double *tmp) {
    const int d = v->d;
    cblas_dsymv(CblasRowMajor, CblasUpper, d, 1.0, v->M2, d, beta, 1, 0.0, tmp, 1);
    double bMb = 0, bC = 0, dxb = 0;
    for (int j = 0; j < d; j++) {
        bMb += beta[j] * tmp[j];
        bC += beta[j] * v->Cxy[j];
        dxb += (v->mean[j] - xm[j]) * beta[j];
    }
    double off = (v->ymean[0] - ym) - dxb;
    double rss = v->Syy[0] - 2 * bC + bMb + v->n[0] * off * off;
    return rss > 0 ? rss : 0;
}

int ll_folds_solve(const ll_folds *f, const ll_stats *total, int threads, ll_heldout *out) {
    const int K = f->K, E = f->E, d = f->d;
    memset(out, 0, sizeof *out);
    for (int k = 0; k < K; k++)
        if (f->fold[k]->n[0] < 1) {
            ll_set_error("folds: fold %d of %d has no examples (too few sequences for %d folds)", k, K, K);
            return -1;
        }
    out->K = K; out->E = E;
    out->pr = ll_xcalloc((size_t)E, sizeof(double));
    out->rss = ll_xcalloc((size_t)E, sizeof(double));
    out->pr_fold = ll_xcalloc((size_t)E * K, sizeof(double));
    out->pr_train = ll_xcalloc((size_t)E * K, sizeof(double));
    out->fold_n = ll_xcalloc((size_t)K, sizeof(double));
    for (int k = 0; k < K; k++) out->fold_n[k] = f->fold[k]->n[0];
    double *rss_ek = ll_xcalloc((size_t)E * K, sizeof(double));
    if (threads <= 0) threads = omp_get_num_procs();
    int err = 0;
    char msg[1024] = "";
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int t = 0; t < E * K; t++) {
        int e = t / K, k = t % K;
        ll_stats *train = ll_stats_new(1, d, LL_TARGET_ID, 0);
        train->ones_null[0] = f->fold[0]->ones_null[e];
        int bad = 0;
        for (int j = 0; j < K && !bad; j++) {
            if (j == k) continue;
            ll_stats v = entry_view(f->fold[j], e);
            bad = ll_stats_merge(train, &v) != 0;
        }
        double *beta = ll_xmalloc((size_t)d * sizeof(double)), *tmp = ll_xmalloc((size_t)d * sizeof(double));
        ll_probe_result r;
        if (!bad) bad = ll_stats_solve_beta(train, 0, beta, &r) != 0;
        if (!bad) {
            ll_stats v = entry_view(f->fold[k], e);
            double rss = fold_rss(&v, train->mean, train->ymean[0], beta, tmp);
            rss_ek[(size_t)e * K + k] = rss;
            out->pr_fold[(size_t)e * K + k] = v.Syy[0] > 0 ? rss / v.Syy[0] : NAN;
            out->pr_train[(size_t)e * K + k] = r.pr;
        } else {
#pragma omp critical
            {
                err = 1;
                snprintf(msg, sizeof msg, "%s", ll_last_error());
            }
        }
        free(beta); free(tmp);
        ll_stats_free(train);
    }
    openblas_set_num_threads(saved);
    if (err) { free(rss_ek); ll_heldout_free(out); ll_set_error("%s", msg); return -1; }
    for (int e = 0; e < E; e++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += rss_ek[(size_t)e * K + k];
        out->rss[e] = s;
        out->pr[e] = total->Syy[e] > 0 ? s / total->Syy[e] : NAN;
    }
    free(rss_ek);
    return 0;
}

void ll_heldout_free(ll_heldout *h) {
    free(h->pr); free(h->rss); free(h->pr_fold); free(h->pr_train); free(h->fold_n);
    memset(h, 0, sizeof *h);
}

void ll_heldout_fold_spread(const ll_heldout *h, int e, double *mean, double *sd) {
    double m = 0, q = 0;
    for (int k = 0; k < h->K; k++) m += h->pr_fold[(size_t)e * h->K + k];
    m /= h->K;
    for (int k = 0; k < h->K; k++) {
        double x = h->pr_fold[(size_t)e * h->K + k] - m;
        q += x * x;
    }
    *mean = m;
    *sd = h->K > 1 ? sqrt(q / (h->K - 1)) : NAN;
}

/* Student t, two-sided 95% (upper 0.975 quantile), df = 1..31 (scipy.stats.t.ppf;
 * tests/test_measures.c checks the table against scipy's values in the fixture). */
static const double T975[LL_FOLDS_MAX] = {
    NAN, 12.706204736174698, 4.302652729749464, 3.182446305284263, 2.7764451051977934,
    2.570581835636314, 2.4469118511449692, 2.3646242515927844, 2.3060041352041662, 2.2621571628540993,
    2.2281388519649385, 2.200985160082949, 2.1788128296634177, 2.1603686564610127, 2.1447866879169273,
    2.131449545559323, 2.1199052992210112, 2.1098155778331806, 2.100922040241036, 2.093024054408263,
    2.0859634472658364, 2.079613844727662, 2.0738730679040147, 2.0686576104190406, 2.0638985616280205,
    2.059538552753294, 2.055529438642871, 2.0518305164802833, 2.048407141795244, 2.045229642132703,
    2.0422724563012373, 2.0395134464059737};

double ll_t975(int df) { return df >= 1 && df < LL_FOLDS_MAX ? T975[df] : NAN; }

static void jk_finish(ll_jackknife *j, double estimate) {
    const int K = j->K;
    double m = 0, q = 0;
    for (int k = 0; k < K; k++) m += j->values[k];
    m /= K;
    for (int k = 0; k < K; k++) q += (j->values[k] - m) * (j->values[k] - m);
    j->mean = m;
    j->estimate = estimate;
    j->se = sqrt((double)(K - 1) / K * q);
    j->t = ll_t975(K - 1);
    j->lo = estimate - j->t * j->se;
    j->hi = estimate + j->t * j->se;
}

int ll_jackknife_law(const ll_heldout *h, int first, const ll_law *full, ll_jackknife *slope, ll_jackknife *pearson_r) {
    const int K = h->K, E = h->E;
    memset(slope, 0, sizeof *slope);
    memset(pearson_r, 0, sizeof *pearson_r);
    slope->K = pearson_r->K = K;
    double *pr = ll_xmalloc((size_t)E * sizeof(double));
    for (int k = 0; k < K; k++) {
        for (int e = 0; e < E; e++) pr[e] = h->pr_train[(size_t)e * K + k];
        ll_law law;
        if (ll_law_fit(pr, E, first, &law) != 0) { free(pr); return -1; }
        slope->values[k] = law.slope;
        pearson_r->values[k] = law.pearson_r;
    }
    free(pr);
    jk_finish(slope, full->slope);
    jk_finish(pearson_r, full->pearson_r);
    return 0;
}
