/* The solve strategy shared by run and fit (see solve.h). */
#include "pipeline/solve.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/ll_util.h"
#include "dist/dist_folds.h"

int ll_solve_with_backend(void *ctx, const ll_stats *st, double ridge, int threads, ll_probe_result *out) {
    ll_backend *b = ctx;
    return b->solve_stats ? b->solve_stats(b, st, ridge, threads, out) : ll_stats_solve(st, ridge, threads, out);
}

/* Separation fuzziness of host statistics into res (pr = D, rss = tr Sw,
 * tss = tr Sb).  0 / -1. */
static int fuzz_solve(const ll_stats *st, int threads, ll_probe_result *res) {
    ll_sepfuzz_result *fz = ll_xcalloc((size_t)st->E, sizeof *fz);
    int rc = ll_fuzziness_solve(st, threads, fz);
    if (rc == 0)
        for (int e = 0; e < st->E; e++) {
            res[e].pr = fz[e].D; res[e].rss = fz[e].tr_sw; res[e].tss = fz[e].tr_sb;
            res[e].n = fz[e].n; res[e].rank = fz[e].rank;
        }
    free(fz);
    return rc;
}

/* The last error, prefixed "src: " (the error buffer is rewritten). */
static void name_input(const char *src) {
    char why[512];
    snprintf(why, sizeof why, "%s", ll_last_error());
    ll_set_error("%s: %s", src, why);
}

int ll_solve_run(const ll_solve_plan *p, ll_probe_result *res, ll_heldout *ho, const char *src) {
    const int ranks = ll_dist_size(p->dist) > 1;
    switch (p->how) {
    case LL_SOLVE_BACKEND:
        return p->be->probe_solve(p->probe, p->ridge, p->threads, res);
    case LL_SOLVE_HOST:
        return ll_dist_reduce_solve(p->dist, p->st, p->ridge, p->threads, res, p->solver, p->solver_ctx);
    case LL_SOLVE_DEVICE:
        return ll_dist_reduce_solve_device(p->dist, &p->ds, p->ridge, res);
    case LL_SOLVE_FUZZINESS:
        if (ll_dist_reduce_stats(p->dist, p->st) != 0) return -1;
        return ll_dist_rank(p->dist) != 0 ? 0 : fuzz_solve(p->st, p->threads, res);
    case LL_SOLVE_FOLDS:
        if (ranks) {
            /* every fold reduced like the total statistics, the in-sample and
             * leave-one-fold-out solves spread by entry block */
            int rc = ll_dist_folds_solve(p->dist, p->folds, p->st, p->threads, res, ho);
            if (rc == -2) name_input(src);
            return rc;
        }
        if (ll_folds_merge_into(p->folds, p->st) != 0) return -1;
        return ll_stats_solve(p->st, p->ridge, p->threads, res);
    }
    ll_set_error("solve: unknown strategy %d", (int)p->how);
    return -1;
}

int ll_solve_finish(const ll_solve_plan *p, const ll_probe_result *res, int E, ll_heldout *ho, const char *labels_src,
                    const char *fold_src) {
    for (int e = 0; e < E; e++) {
        if (p->how == LL_SOLVE_FUZZINESS && !isfinite(res[e].pr)) {
            ll_set_error("%s: entry %d: between-class covariance is zero: separation fuzziness undefined", labels_src, e);
            return -1;
        }
        if (p->how != LL_SOLVE_FUZZINESS && !(res[e].tss > 0)) {
            ll_set_error("%s: labels are constant: PR undefined", labels_src);
            return -1;
        }
    }
    if (p->how == LL_SOLVE_FOLDS && ll_dist_size(p->dist) <= 1 && ll_folds_solve(p->folds, p->st, p->threads, ho) != 0) {
        name_input(fold_src);
        return -1;
    }
    return 0;
}
