/* The run's solve step: the strategy (pipeline/solve.h) chosen once from
 * where the statistics are, then run; the checks, the held-out solves and
 * the law. */
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "pipeline/run_state.h"
#include "pipeline/solve.h"

/* A host copy of this rank's statistics (El entries). */
static int download_stats(run_state *S) {
    S->host_stats = ll_stats_new(S->El, S->d, S->po.target, S->po.K);
    return !S->host_stats || S->be->probe_get_stats(S->probe, S->host_stats) != 0 ? -1 : 0;
}

/* Ranks: the job's totals for the throughput record (per-entry timings stay
 * rank 0's); the run time is the slowest rank's. */
static int ranks_totals(run_state *S) {
    S->ranks_json = ll_dist_split_json(S->dg, S->seq_len, (long)S->n_seq, S->owner);
    long long tot[2] = {S->done_tok, S->padded};
    if (ll_dist_sum_ll(S->dg, tot, 2) != 0 || ll_dist_sum_ll(S->dg, S->len_hist, (long)S->longest + 1) != 0 ||
        ll_dist_max_double(S->o->dist, &S->r->run_s, 1) != 0)
        return -1;
    S->done_tok = tot[0];
    S->padded = tot[1];
    cJSON_AddStringToObject(S->ranks_json, "note", "throughput: tokens, padded_tokens, seconds (the slowest rank) "
                                                   "and rates are the job's; per-entry timings are rank 0's");
    return 0;
}

/* Several ranks: the device-resident reduce (docs/distributed.md) when every
 * rank's statistics are on a GPU with NCCL (nothing is downloaded), else a
 * host copy; failure check 2 (every rank has folded its sequences, or failed
 * on the way) comes before the collectives. */
static int choose_ranks(run_state *S, ll_solve_plan *p) {
    const ll_run_opts *o = S->o;
    int on_dev = !S->sepfuzz && !S->folds && S->be->probe_devstats && S->be->probe_devstats(S->probe, &p->ds) == 0 &&
                 ll_dist_devstats_usable(S->dg, &p->ds),
        mixed = 0;
    if (!S->folds && !on_dev && download_stats(S) != 0) return -1; /* folds: already on the host */
    S->checks = 2;
    int frc = ll_dist_agree(o->dist, 0);
    if (frc) { S->agreed_fail = 1; S->rc = frc; return -1; }
    if (S->bc.gpu >= 0 && ll_dist_use_device(S->dg, S->bc.gpu) != 0) return -1;
    if ((on_dev = ll_dist_choose_device_reduce(S->dg, on_dev ? &p->ds : NULL, &mixed)) < 0) return -1;
    if (mixed) { /* not every rank can: those that skipped the download make it */
        int drc = !S->host_stats && download_stats(S) != 0;
        if (ll_dist_any_failed(S->dg, drc) >= 0) return -1;
    }
    if (ranks_totals(S) != 0) return -1;
    p->dist = S->dg;
    p->st = S->host_stats;
    if (S->folds) { p->how = LL_SOLVE_FOLDS; p->st = S->fold_st; p->folds = S->folds; }
    else if (S->sepfuzz) p->how = LL_SOLVE_FUZZINESS;
    else if (on_dev) p->how = LL_SOLVE_DEVICE;
    else { p->how = LL_SOLVE_HOST; p->solver = ll_solve_with_backend; p->solver_ctx = S->be; }
    return 0;
}

/* The strategy, chosen once (collective with ranks). */
static int choose(run_state *S, ll_solve_plan *p) {
    memset(p, 0, sizeof *p);
    p->ridge = S->o->ridge;
    p->threads = S->threads;
    p->be = S->be;
    p->probe = S->probe;
    if (S->folds && S->nranks == 1) {
        p->how = LL_SOLVE_FOLDS;
        p->st = S->fold_st;
        p->folds = S->folds;
        return 0;
    }
    if (S->nranks > 1) return choose_ranks(S, p);
    if (S->sepfuzz) {
        p->how = LL_SOLVE_FUZZINESS;
        if (download_stats(S) != 0) return -1;
        p->st = S->host_stats;
        return 0;
    }
    p->how = LL_SOLVE_BACKEND;
    return 0;
}

/* res, and the held-out figures, into the result; the law on rank 0. */
int run_solve(run_state *S) {
    const ll_run_opts *o = S->o;
    ll_run_result *r = S->r;
    const int E = S->E;
    double t1 = ll_now();
    r->res = ll_xcalloc((size_t)E, sizeof *r->res);
    ll_solve_plan p;
    if (choose(S, &p) != 0) return -1;
    /* with stages: this stage's entries, reduced over its group and solved
     * there; then gathered along the pipeline onto rank 0 (res_local is
     * solved on the stage group's rank 0, zeros on the others) */
    ll_probe_result *res = r->res;
    if (S->nst > 1) res = S->res_local = ll_xcalloc((size_t)S->El, sizeof *res);
    int solved = ll_solve_run(&p, res, &S->ho, S->src);
    if (solved == -2) S->rc = 2;
    if (solved == 0 && S->nst > 1)
        solved = ll_dist_gather_results(S->pipe, E, S->e_lo, S->e_hi + 1, S->res_local, 0, r->res);
    if (solved != 0) return -1;
    if (S->rank == 0 && ll_solve_finish(&p, r->res, E, &S->ho, S->src, S->src) != 0) { S->rc = 2; return -1; }
    if (S->folds) {
        r->pr_heldout = ll_xmalloc(sizeof(double) * (size_t)E);
        r->pr_heldout_fold_mean = ll_xmalloc(sizeof(double) * (size_t)E);
        r->pr_heldout_fold_sd = ll_xmalloc(sizeof(double) * (size_t)E);
        memcpy(r->pr_heldout, S->ho.pr, sizeof(double) * (size_t)E);
        for (int e = 0; e < E; e++)
            ll_heldout_fold_spread(&S->ho, e, &r->pr_heldout_fold_mean[e], &r->pr_heldout_fold_sd[e]);
    }
    double *pr = ll_xmalloc((size_t)E * sizeof(double));
    for (int e = 0; e < E; e++) pr[e] = r->res[e].pr;
    r->have_law = S->rank == 0 && E - o->fit_from >= 2 && ll_law_fit(pr, E, o->fit_from, &r->law) == 0;
    free(pr);
    r->solve_s = ll_now() - t1;
    r->E = E;
    r->d = S->d;
    r->N = S->N;
    r->tokens = S->done_tok;
    r->padded_tokens = S->padded;
    r->sequences = S->n_seq;
    r->gpu = S->bc.gpu;
    return 0;
}
