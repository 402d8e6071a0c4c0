/* host/dist/dist_folds.h: held-out PR over ranks, from the reduce and the
 * entry blocks of host/dist/dist.c. */
#include "dist/dist_folds.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"

/* Entries [e0, e1) of s as statistics of their own (a view: no copy). */
static int count_folds(ll_dist *d, const ll_folds *f, double *fold_n) {
    long long cnt[LL_FOLDS_MAX];
    for (int k = 0; k < f->K; k++) cnt[k] = (long long)f->fold[k]->n[0];
    if (ll_dist_sum_ll(d, cnt, f->K) != 0) return -1;
    for (int k = 0; k < f->K; k++) fold_n[k] = (double)cnt[k];
    return 0;
}

/* Per entry in the gathered buffer: the probe result (pr, rss, tss, n, rank),
 * then held-out pr and rss, then pr_fold[K] and pr_train[K]. */
#define W_RES LL_PROBE_RESULT_DOUBLES
#define W_HO 2

int ll_dist_folds_solve(ll_dist *d, ll_folds *f, ll_stats *total, int threads, ll_probe_result *res, ll_heldout *ho) {
    const int K = f->K, E = f->E;
    memset(ho, 0, sizeof *ho);
    if (ll_dist_size(d) == 1) {
        if (ll_folds_merge_into(f, total) != 0 || ll_stats_solve(total, 0, threads, res) != 0) return -1;
        for (int k = 0; k < K; k++)
            if (f->fold[k]->n[0] < 1) {
                ll_set_error("folds: fold %d of %d has no examples (too few sequences for %d folds)", k, K, K);
                return -2;
            }
        return ll_folds_solve(f, total, threads, ho);
    }
    /* 1. the folds' sizes: every rank learns them, and stops together on an empty one */
    double fold_n[LL_FOLDS_MAX];
    if (ll_dist_any_failed(d, count_folds(d, f, fold_n) != 0) >= 0) return -1;
    for (int k = 0; k < K; k++)
        if (fold_n[k] < 1) {
            ll_set_error("folds: fold %d of %d has no examples (too few sequences for %d folds)", k, K, K);
            return -2;
        }
    /* 2. every fold reduced exactly like the total statistics, onto the entry blocks */
    for (int k = 0; k < K; k++)
        if (ll_dist_reduce_stats_spread(d, f->fold[k]) != 0) return -1;
    /* 3. this rank's entries: the in-sample merge and solve, the held-out solves */
    int e0, e1;
    ll_dist_entry_block(d, E, &e0, &e1);
    const size_t w = W_RES + W_HO + 2 * (size_t)K;
    double *buf = ll_xcalloc((size_t)E * w, sizeof(double));
    int rc = 0;
    if (e1 > e0) {
        const int nb = e1 - e0;
        ll_stats tv = ll_stats_view(total, e0, e1);
        ll_stats views[LL_FOLDS_MAX];
        ll_stats *vp[LL_FOLDS_MAX];
        for (int k = 0; k < K; k++) {
            views[k] = ll_stats_view(f->fold[k], e0, e1);
            vp[k] = &views[k];
        }
        ll_folds fv = {.K = K, .E = nb, .d = f->d, .seed = f->seed, .fold = vp};
        ll_probe_result *mine = ll_xcalloc((size_t)nb, sizeof *mine);
        ll_heldout hb = {0};
        rc = ll_folds_merge_into(&fv, &tv);
        if (rc == 0) rc = ll_stats_solve(&tv, 0, threads, mine);
        if (rc == 0) rc = ll_folds_solve(&fv, &tv, threads, &hb);
        for (int i = 0; i < nb && rc == 0; i++) {
            double *o = buf + (size_t)(e0 + i) * w;
            ll_probe_result_to_doubles(&mine[i], o);
            o[W_RES] = hb.pr[i]; o[W_RES + 1] = hb.rss[i];
            memcpy(o + W_RES + W_HO, hb.pr_fold + (size_t)i * K, (size_t)K * sizeof(double));
            memcpy(o + W_RES + W_HO + K, hb.pr_train + (size_t)i * K, (size_t)K * sizeof(double));
        }
        ll_heldout_free(&hb);
        free(mine);
    }
    /* a failed solve is one rank's: agree before gathering */
    if (ll_dist_any_failed(d, rc != 0) >= 0) { free(buf); return -1; }
    /* 4. every entry is non-zero on exactly one rank: the sum is exact (NaNs too) */
    if (ll_dist_any_failed(d, ll_dist_sum_double(d, buf, (long)((size_t)E * w)) != 0) >= 0) { free(buf); return -1; }
    ho->K = K; ho->E = E;
    ho->pr = ll_xcalloc((size_t)E, sizeof(double));
    ho->rss = ll_xcalloc((size_t)E, sizeof(double));
    ho->pr_fold = ll_xcalloc((size_t)E * K, sizeof(double));
    ho->pr_train = ll_xcalloc((size_t)E * K, sizeof(double));
    ho->fold_n = ll_xcalloc((size_t)K, sizeof(double));
    memcpy(ho->fold_n, fold_n, (size_t)K * sizeof(double));
    for (int e = 0; e < E; e++) {
        const double *o = buf + (size_t)e * w;
        ll_probe_result_from_doubles(o, &res[e]);
        ho->pr[e] = o[W_RES]; ho->rss[e] = o[W_RES + 1];
        memcpy(ho->pr_fold + (size_t)e * K, o + W_RES + W_HO, (size_t)K * sizeof(double));
        memcpy(ho->pr_train + (size_t)e * K, o + W_RES + W_HO + K, (size_t)K * sizeof(double));
    }
    free(buf);
    return 0;
}
