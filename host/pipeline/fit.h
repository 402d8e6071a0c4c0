/* The fit pipeline: probes and the law from features captured elsewhere
 * (`layerlaw fit`; a `run --dump-hidden` output, or any (N, E, d) array).
 *
 *   F.npy (N, E, d) and Y.npy (N,) opened and checked
 *     → labels (shuffled; classes planned for fuzziness/onehot), folds
 *     → ranks: contiguous blocks of examples (ll_dist_assign)
 *     → streamed in batches of rows: normalised, folded into float64
 *       statistics (or their folds), entries in parallel
 *     → the one failure check, then the solve strategy of the run
 *       (pipeline/solve.h) → the law → an ll_run_result (rank 0)
 *
 * The CPU computes (float64 statistics).  Used by `layerlaw fit` and the
 * Python binding; the CLI only parses options into ll_fit_opts and prints. */
#ifndef LL_PIPELINE_FIT_H
#define LL_PIPELINE_FIT_H
#include <stddef.h>
#include <stdint.h>
#include "dist/dist.h"
#include "pipeline/pipeline.h"
#include "probe/measures.h"
#include "probe/probe.h"

typedef struct {
    const char *features;   /* F.npy: (N, E, d) float16/float32/float64, C order */
    const char *labels;     /* Y.npy: (N,) int32/int64 token ids */
    const char *groups;     /* G.npy: (N,) int sequence index of each example, for the folds (NULL: each
                               example its own group) */
    ll_norm norm;           /* per-example normalisation (default layernorm) */
    double eps;             /* default 1e-5 */
    int norm_last;          /* normalise the last entry too */
    int fit_from;           /* first entry of the law fit (default 1) */
    double ridge;           /* 0: OLS, minimum norm */
    ll_measure measure;     /* pr (default) | fuzziness | onehot */
    int max_classes;        /* fuzziness/onehot class budget (0: all that fit in 8 GiB) */
    int folds;              /* held-out PR over this many folds (0: off) */
    uint64_t fold_seed;
    int have_shuffle;       /* map the ids through a permutation (seed shuffle_seed) of those present */
    uint64_t shuffle_seed;
    int threads;            /* <= 0: all cores (with ranks: the binding's) */
    long long batch_rows;   /* examples per streamed batch (default 2048) */
    int progress;           /* 1: a live line on a terminal stderr; 0: none; -1: no notices either */
    ll_dist *dist;          /* NULL: one process */
    char labels_buf[4200];  /* ll_fit_opts_from_dump: the labels' path */
} ll_fit_opts;

void ll_fit_opts_default(ll_fit_opts *o);

/* A `run --dump-hidden` output F.npy: beside it F.json (the sidecar) names
 * the labels and the settings of the run.  The labels, and each setting the
 * caller did not give (given: LL_FIT_GIVEN_* bits; norm_last can only be
 * turned on), are taken from it.  Returns 1 when there was a sidecar, 0 when
 * none, -1 + error (bad sidecar: exit 2). */
enum { LL_FIT_GIVEN_NORM = 1, LL_FIT_GIVEN_EPS = 2, LL_FIT_GIVEN_FIT_FROM = 4, LL_FIT_GIVEN_RIDGE = 8,
       LL_FIT_GIVEN_SHUFFLE = 16 };
int ll_fit_opts_from_dump(ll_fit_opts *o, unsigned given);

/* Runs the fit; a collective with ranks (rank 0 holds the result: r->rank).
 * Returns 0, or the exit status of `layerlaw fit`: 2 bad input (ll_last_error
 * names the file and the problem; with ranks "rank R: " the failing one, on
 * rank 0), 1 a runtime failure.  r: res[E], the law, config and extra (the
 * law.json members: timing, measure, classes, ranks, heldout), the held-out
 * columns; write it with ll_run_result_write. */
int ll_fit_pipeline(const ll_fit_opts *o, ll_run_result *r);
#endif
