/* The solve strategy of `layerlaw run` and `layerlaw fit`, chosen once.
 *
 * Both end the same way: statistics (per entry, float64) → every entry's
 * probe (or separation fuzziness, or held-out PR over folds) → results.
 * Where the statistics are (the backend, the host, several ranks, GPUs with
 * NCCL) decides how; the caller decides that once (an ll_solve_plan), then:
 *
 *   ll_solve_run      the reduce across ranks and the solve;
 *   ll_solve_finish   on the rank that holds the results: the checks (labels
 *                     constant, fuzziness undefined) and, on one process, the
 *                     held-out solves of the folds. */
#ifndef LL_PIPELINE_SOLVE_H
#define LL_PIPELINE_SOLVE_H
#include "backend/backend.h"
#include "dist/dist.h"
#include "probe/measures.h"
#include "probe/probe.h"

typedef enum {
    LL_SOLVE_BACKEND,   /* one process: the backend solves the statistics it holds
                           (CPU: LAPACK per entry; CUDA: one batched cuSOLVER call) */
    LL_SOLVE_HOST,      /* host statistics: reduced over the ranks in rank order, each rank
                           solving a block of entries, results on rank 0 (one process: solved here) */
    LL_SOLVE_DEVICE,    /* GPU ranks with NCCL: reduced and solved on the devices */
    LL_SOLVE_FUZZINESS, /* host statistics merged onto rank 0, which computes separation fuzziness */
    LL_SOLVE_FOLDS,     /* held-out PR: one process merges the folds into the total and solves;
                           ranks reduce every fold and solve in-sample and held-out by entry
                           block (results and held-out on every rank) */
} ll_solve_how;

typedef struct {
    ll_solve_how how;
    ll_dist *dist;           /* the ranks that hold the same entries (NULL: one process) */
    ll_stats *st;            /* HOST, FUZZINESS: the statistics; FOLDS: the total */
    ll_folds *folds;         /* FOLDS */
    double ridge;
    int threads;
    ll_dist_solver solver;   /* HOST: how a block of entries is solved (NULL: ll_stats_solve) */
    void *solver_ctx;
    ll_backend *be;          /* BACKEND: the backend and its probe */
    ll_capture *probe;
    ll_dist_devstats ds;     /* DEVICE: the backend's device statistics */
} ll_solve_plan;

/* A backend's solver for LL_SOLVE_HOST (ctx: the ll_backend): its own solve
 * of host statistics where it has one, else ll_stats_solve. */
int ll_solve_with_backend(void *ctx, const ll_stats *st, double ridge, int threads, ll_probe_result *out);

/* Collective over p->dist.  res: [E] (HOST, DEVICE, FUZZINESS: filled on
 * rank 0 of p->dist; FOLDS: on every rank, and ho with ranks).  0, -1 + error
 * (a runtime failure), or -2 + error prefixed "src: " (bad input: a fold
 * without examples). */
int ll_solve_run(const ll_solve_plan *p, ll_probe_result *res, ll_heldout *ho, const char *src);

/* On the rank that holds res: every entry defined (PR: the labels vary;
 * fuzziness: the between-class covariance is not zero; an error names
 * labels_src), then FOLDS on one process: the held-out solves into ho (an
 * error names fold_src).  0, or -1 + error (bad input). */
int ll_solve_finish(const ll_solve_plan *p, const ll_probe_result *res, int E, ll_heldout *ho, const char *labels_src,
                    const char *fold_src);
#endif
