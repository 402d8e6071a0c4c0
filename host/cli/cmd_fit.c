/* layerlaw fit: options → ll_fit_opts → the library (host/pipeline/fit.h) →
 * law.json, layers.csv, the figure and the table. */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/opts.h"
#include "core/ll_util.h"
#include "dist/dist.h"
#include "pipeline/fit.h"
#include "report/report.h"

static const char FIT_USAGE[] =
    "usage: layerlaw fit --features F.npy --labels Y.npy --out DIR [options]\n"
    "       layerlaw fit --features F.npy --out DIR     (F.npy from run --dump-hidden)\n\n"
    "  F.npy  (N, E, d) float16/float32/float64, C order: N examples, E hidden-state entries\n"
    "  Y.npy  (N,) int32/int64 token ids (the label of each example)\n"
    "  Without --labels, F.labels.npy and the settings in F.json (written by run --dump-hidden:\n"
    "  norm, eps, norm-last, fit-from, ridge, shuffle seed) are used, so that fit reproduces\n"
    "  the run; an option given on the command line overrides its setting.\n\n"
    "  Under mpirun/srun the examples are split into contiguous blocks, one per rank; the\n"
    "  statistics are reduced, each rank solves a block of entries, rank 0 writes\n"
    "  (docs/distributed.md).\n";


/* Options into o: 0, or the exit status (1: --help printed, as 0). */
static int fit_options(ll_fit_opts *o, const char **outdir, int *quiet, int argc, char **argv) {
    const char *norm_s = "layernorm", *target_s = "id", *measure_s = NULL;
    int seen_norm = 0, seen_eps = 0, seen_fit_from = 0, seen_ridge = 0, target_given = 0, have_fseed = 0;
    const ll_opt opts[] = {
        {"features", LL_OPT_STR, &o->features, 0, 0, "F.npy", "the features, (N, E, d)"},
        {"labels", LL_OPT_STR, &o->labels, 0, 0, "Y.npy", "the labels, (N,) token ids"},
        {"out", LL_OPT_STR, outdir, 0, 0, "DIR", "results folder: law.json, layers.csv"},
        {"norm", LL_OPT_STR, &norm_s, 0, 0, "N", "none|layernorm|rmsnorm|standardize: per-example normalisation (default layernorm)", &seen_norm},
        {"eps", LL_OPT_DOUBLE, &o->eps, 0, 1, "X", "norm epsilon (default 1e-5; standardize uses none)", &seen_eps},
        {"norm-last", LL_OPT_FLAG, &o->norm_last, 0, 0, NULL, "normalise the last entry too (default: as the authors, not)"},
        {"fit-from", LL_OPT_INT, &o->fit_from, 0, 1 << 20, "K", "first entry of the law fit (default 1)", &seen_fit_from},
        {"ridge", LL_OPT_DOUBLE, &o->ridge, 0, 1e300, "LAMBDA", "ridge penalty (default 0: ordinary least squares, minimum norm)", &seen_ridge},
        {"target", LL_OPT_STR, &target_s, 0, 0, "T", "id|onehot: scalar token id (default, as the paper) or one-hot multi-output", &target_given},
        {"measure", LL_OPT_STR, &measure_s, 0, 0, "M", "pr|fuzziness|onehot: what is measured per entry (default pr; onehot = --target onehot;\n"
                                                      "fuzziness = separation fuzziness tr(Sw pinv(Sb)), docs/measures.md)"},
        {"max-classes", LL_OPT_INT, &o->max_classes, 0, 2147483647, "M", "fuzziness/onehot: keep the M-1 most frequent classes, pool the rest\n"
                                                                        "(default 0: all classes while their sums fit in 8 GiB)"},
        {"folds", LL_OPT_INT, &o->folds, 2, LL_FOLDS_MAX, "K", "held-out PR over K folds and a jackknife of the law (default off)"},
        {"fold-seed", LL_OPT_U64, &o->fold_seed, 0, 0, "S", "seed of the fold hash (default 0)", &have_fseed},
        {"groups", LL_OPT_STR, &o->groups, 0, 0, "G.npy", "(N,) int: sequence index of each example; folds split sequences\n"
                                                        "(default: each example its own group)"},
        {"shuffle-vocab", LL_OPT_U64, &o->shuffle_seed, 0, 0, "S", "map ids through a random permutation (seed S) of the ids present", &o->have_shuffle},
        {"threads", LL_OPT_INT, &o->threads, 0, 4096, "T", "threads (default: all cores)"},
        {"batch-rows", LL_OPT_LONG, &o->batch_rows, 1, 1 << 24, "R", "examples per streamed batch (default 2048)"},
        {"quiet", LL_OPT_FLAG, quiet, 0, 0, NULL, "no table on stdout"},
        {NULL, 0, NULL, 0, 0, NULL, NULL}};
    int prc = ll_opts_parse(FIT_USAGE, opts, argc, argv, NULL);
    if (prc) return prc == 1 ? 1 : 2;
    if (ll_norm_parse(norm_s, &o->norm) != 0) return cli_fail_lib();
    /* a run --dump-hidden output: labels and settings from its sidecar */
    unsigned given = (seen_norm ? LL_FIT_GIVEN_NORM : 0) | (seen_eps ? LL_FIT_GIVEN_EPS : 0) |
                     (seen_fit_from ? LL_FIT_GIVEN_FIT_FROM : 0) | (seen_ridge ? LL_FIT_GIVEN_RIDGE : 0) |
                     (o->have_shuffle ? LL_FIT_GIVEN_SHUFFLE : 0);
    if (o->features && !o->labels && ll_fit_opts_from_dump(o, given) < 0) return cli_fail_lib();
    if (!o->features || !o->labels || !*outdir)
        return cli_fail("fit: --features, --labels (or a run --dump-hidden sidecar F.json) and --out are required; see layerlaw fit --help");
    if (ll_dist_rank(o->dist) == 0 && ll_report_check_outdir(*outdir) != 0) return cli_fail_lib(); /* only rank 0 writes */
    ll_target target;
    if (!strcmp(target_s, "id")) target = LL_TARGET_ID;
    else if (!strcmp(target_s, "onehot")) target = LL_TARGET_ONEHOT;
    else return cli_fail("--target: unknown target '%s' (id|onehot)", target_s);
    o->measure = target == LL_TARGET_ONEHOT ? LL_MEASURE_ONEHOT : LL_MEASURE_PR;
    if (measure_s) {
        if (ll_measure_parse(measure_s, &o->measure) != 0) return cli_fail_lib();
        if (target_given && ll_measure_target(o->measure) != target)
            return cli_fail("--target %s contradicts --measure %s", target_s, measure_s);
    }
    if (o->max_classes == 1) return cli_fail("--max-classes: 1 is not a class budget (0 or >= 2)");
    if ((o->groups || have_fseed) && !o->folds) return cli_fail("--groups and --fold-seed need --folds");
    return 0;
}

/* *synced is set once this rank has taken part in the job's failure check
 * (the library's). */
static int fit_main(ll_dist *dist, int argc, char **argv, int *synced) {
    ll_fit_opts o;
    ll_fit_opts_default(&o);
    o.dist = dist;
    const char *outdir = NULL;
    int quiet = 0;
    int prc = fit_options(&o, &outdir, &quiet, argc, argv);
    if (prc) return prc == 1 ? 0 : prc;
    *synced = 1;
    cli_defer_errors(0);
    ll_run_result r;
    int rc = ll_fit_pipeline(&o, &r);
    if (rc != 0) {
        if (r.rank == 0) cli_fail_print();
    } else if (r.rank == 0) {
        if (ll_run_result_write(outdir, &r) != 0) {
            rc = cli_fail_lib();
        } else {
            if (r.measure != LL_MEASURE_FUZZINESS) cli_run_figure(outdir); /* the figure draws PR */
            if (!quiet) {
                ll_report_more more;
                const double *ho[3] = {r.pr_heldout, r.pr_heldout_fold_mean, r.pr_heldout_fold_sd};
                ll_report_print_more(stdout, r.res, r.E, &r.law, r.N, r.d, ll_report_more_for(r.measure, ho, &more));
            }
        }
    }
    ll_run_result_free(&r);
    return rc;
}

int cmd_fit(int argc, char **argv) {
    ll_dist *d = ll_dist_init(&argc, &argv);
    if (!d) return cli_fail_lib();
    /* with several ranks, errors are collected and printed once (by rank 0,
     * naming the failing rank); one process prints them as they come */
    if (ll_dist_size(d) > 1) cli_defer_errors(1);
    int synced = 0;
    int rc = fit_main(d, argc, argv, &synced);
    if (!synced && ll_dist_size(d) > 1) {
        /* failed (or finished) before the job's failure check: take part in it */
        if (ll_dist_any_failed(d, rc != 0) >= 0 && ll_dist_rank(d) == 0) cli_fail_print();
    }
    cli_defer_errors(0);
    ll_dist_finalize(d);
    return rc;
}
