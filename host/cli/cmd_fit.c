/* layerlaw fit: probes and the law from features captured elsewhere. */
#include <cJSON.h>
#include <math.h>
#include <omp.h>
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/opts.h"
#include "core/ll_util.h"
#include "dist/dist.h"
#include "dist/dist_folds.h"
#include "io/npy.h"
#include "probe/measures.h"
#include "probe/probe.h"
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


/* F.npy -> F.json beside it (the run --dump-hidden sidecar), or NULL */
static cJSON *read_sidecar(const char *fpath, char *sidecar, size_t cap) {
    size_t n = strlen(fpath);
    snprintf(sidecar, cap, "%.*s.json", (int)(n > 4 && !strcmp(fpath + n - 4, ".npy") ? n - 4 : n), fpath);
    if (!ll_path_exists(sidecar)) return NULL;
    size_t len;
    char *t = ll_read_file(sidecar, &len);
    cJSON *j = t ? cJSON_ParseWithLength(t, len) : NULL;
    free(t);
    if (!j) ll_set_error("%s: not valid JSON (the --dump-hidden sidecar of %s)", sidecar, fpath);
    return j;
}

/* *synced is set once this rank has taken part in the job's failure check. */
static int fit_main(ll_dist *dist, int argc, char **argv, int *synced) {
    const int root = ll_dist_rank(dist) == 0;
    const char *fpath = NULL, *ypath = NULL, *outdir = NULL, *norm_s = "layernorm", *target_s = "id";
    double eps = 1e-5, ridge = 0;
    int norm_last = 0, fit_from = 1, threads = 0, quiet = 0, have_shuffle = 0;
    long long batch = 2048;
    uint64_t shuffle_seed = 0;
    /* measures (docs/measures.md) */
    const char *measure_s = NULL, *gpath = NULL;
    int max_classes = 0, nfolds = 0, target_given = 0, have_fseed = 0;
    uint64_t fold_seed = 0;
    int seen_norm = 0, seen_eps = 0, seen_fit_from = 0, seen_ridge = 0;
    const ll_opt opts[] = {
        {"features", LL_OPT_STR, &fpath, 0, 0, "F.npy", "the features, (N, E, d)"},
        {"labels", LL_OPT_STR, &ypath, 0, 0, "Y.npy", "the labels, (N,) token ids"},
        {"out", LL_OPT_STR, &outdir, 0, 0, "DIR", "results folder: law.json, layers.csv"},
        {"norm", LL_OPT_STR, &norm_s, 0, 0, "N", "none|layernorm|rmsnorm|standardize: per-example normalisation (default layernorm)", &seen_norm},
        {"eps", LL_OPT_DOUBLE, &eps, 0, 1, "X", "norm epsilon (default 1e-5; standardize uses none)", &seen_eps},
        {"norm-last", LL_OPT_FLAG, &norm_last, 0, 0, NULL, "normalise the last entry too (default: as the authors, not)"},
        {"fit-from", LL_OPT_INT, &fit_from, 0, 1 << 20, "K", "first entry of the law fit (default 1)", &seen_fit_from},
        {"ridge", LL_OPT_DOUBLE, &ridge, 0, 1e300, "LAMBDA", "ridge penalty (default 0: ordinary least squares, minimum norm)", &seen_ridge},
        {"target", LL_OPT_STR, &target_s, 0, 0, "T", "id|onehot: scalar token id (default, as the paper) or one-hot multi-output", &target_given},
        {"measure", LL_OPT_STR, &measure_s, 0, 0, "M", "pr|fuzziness|onehot: what is measured per entry (default pr; onehot = --target onehot;\n"
                                                      "fuzziness = separation fuzziness tr(Sw pinv(Sb)), docs/measures.md)"},
        {"max-classes", LL_OPT_INT, &max_classes, 0, 2147483647, "M", "fuzziness/onehot: keep the M-1 most frequent classes, pool the rest\n"
                                                                     "(default 0: all classes while their sums fit in 8 GiB)"},
        {"folds", LL_OPT_INT, &nfolds, 2, LL_FOLDS_MAX, "K", "held-out PR over K folds and a jackknife of the law (default off)"},
        {"fold-seed", LL_OPT_U64, &fold_seed, 0, 0, "S", "seed of the fold hash (default 0)", &have_fseed},
        {"groups", LL_OPT_STR, &gpath, 0, 0, "G.npy", "(N,) int: sequence index of each example; folds split sequences\n"
                                                   "(default: each example its own group)"},
        {"shuffle-vocab", LL_OPT_U64, &shuffle_seed, 0, 0, "S", "map ids through a random permutation (seed S) of the ids present", &have_shuffle},
        {"threads", LL_OPT_INT, &threads, 0, 4096, "T", "threads (default: all cores)"},
        {"batch-rows", LL_OPT_LONG, &batch, 1, 1 << 24, "R", "examples per streamed batch (default 2048)"},
        {"quiet", LL_OPT_FLAG, &quiet, 0, 0, NULL, "no table on stdout"},
        {NULL, 0, NULL, 0, 0, NULL, NULL}};
    int prc = ll_opts_parse(FIT_USAGE, opts, argc, argv, NULL);
    if (prc) return prc == 1 ? 0 : 2;
    /* a run --dump-hidden output: labels and settings from its sidecar */
    char sidecar[4200], ybuf[4200], normbuf[32];
    if (fpath && !ypath) {
        cJSON *sc = read_sidecar(fpath, sidecar, sizeof sidecar);
        if (!sc && ll_path_exists(sidecar)) return cli_fail_lib();
        if (sc) {
            const cJSON *jl = cJSON_GetObjectItemCaseSensitive(sc, "labels"), *jn = cJSON_GetObjectItemCaseSensitive(sc, "norm"),
                        *je = cJSON_GetObjectItemCaseSensitive(sc, "eps"), *jf = cJSON_GetObjectItemCaseSensitive(sc, "fit_from"),
                        *jr = cJSON_GetObjectItemCaseSensitive(sc, "ridge"), *jnl = cJSON_GetObjectItemCaseSensitive(sc, "norm_last"),
                        *js = cJSON_GetObjectItemCaseSensitive(sc, "shuffle_vocab_seed");
            if (!cJSON_IsString(jl) || strchr(jl->valuestring, '/') || !cJSON_IsString(jn) || !cJSON_IsNumber(je) ||
                !cJSON_IsNumber(jf) || !cJSON_IsNumber(jr) || !cJSON_IsBool(jnl) || !(cJSON_IsNull(js) || cJSON_IsString(js)) ||
                !(je->valuedouble >= 0 && je->valuedouble <= 1) || !(jf->valuedouble >= 0 && jf->valuedouble <= (1 << 20)) ||
                !(jr->valuedouble >= 0 && jr->valuedouble <= 1e300)) {
                cJSON_Delete(sc);
                return cli_fail("%s: not a run --dump-hidden sidecar (labels, norm, eps, norm_last, fit_from, ridge, shuffle_vocab_seed)", sidecar);
            }
            const char *sl = strrchr(fpath, '/');
            snprintf(ybuf, sizeof ybuf, "%.*s%s", sl ? (int)(sl - fpath + 1) : 0, fpath, jl->valuestring);
            ypath = ybuf;
            if (!seen_norm) { snprintf(normbuf, sizeof normbuf, "%s", jn->valuestring); norm_s = normbuf; }
            if (!seen_eps) eps = je->valuedouble;
            if (!norm_last) norm_last = cJSON_IsTrue(jnl);
            if (!seen_fit_from) fit_from = (int)jf->valuedouble;
            if (!seen_ridge) ridge = jr->valuedouble;
            if (!have_shuffle && cJSON_IsString(js)) {
                char *end;
                shuffle_seed = strtoull(js->valuestring, &end, 10);
                if (!*js->valuestring || *end) { cJSON_Delete(sc); return cli_fail("%s: bad shuffle_vocab_seed", sidecar); }
                have_shuffle = 1;
            }
            cJSON_Delete(sc);
        }
    }
    if (!fpath || !ypath || !outdir)
        return cli_fail("fit: --features, --labels (or a run --dump-hidden sidecar F.json) and --out are required; see layerlaw fit --help");
    if (root && ll_report_check_outdir(outdir) != 0) return cli_fail_lib(); /* only rank 0 writes */
    ll_norm norm;
    if (ll_norm_parse(norm_s, &norm) != 0) return cli_fail_lib();
    ll_target target;
    if (!strcmp(target_s, "id")) target = LL_TARGET_ID;
    else if (!strcmp(target_s, "onehot")) target = LL_TARGET_ONEHOT;
    else return cli_fail("--target: unknown target '%s' (id|onehot)", target_s);
    ll_measure measure = target == LL_TARGET_ONEHOT ? LL_MEASURE_ONEHOT : LL_MEASURE_PR;
    if (measure_s) {
        if (ll_measure_parse(measure_s, &measure) != 0) return cli_fail_lib();
        if (target_given && ll_measure_target(measure) != target)
            return cli_fail("--target %s contradicts --measure %s", target_s, measure_s);
        target = ll_measure_target(measure);
        target_s = target == LL_TARGET_ONEHOT ? "onehot" : "id";
    }
    if (max_classes == 1) return cli_fail("--max-classes: 1 is not a class budget (0 or >= 2)");
    if (measure == LL_MEASURE_FUZZINESS && ridge != 0) return cli_fail("--ridge: not a parameter of --measure fuzziness");
    if (nfolds && measure != LL_MEASURE_PR) return cli_fail("--folds: held-out PR is defined for --measure pr only");
    if (nfolds && ridge != 0) return cli_fail("--folds: held-out PR uses the OLS probe (no --ridge)");
    if ((gpath || have_fseed) && !nfolds) return cli_fail("--groups and --fold-seed need --folds");
    int threads_auto = threads <= 0;
    if (threads <= 0) threads = omp_get_num_procs();

    ll_npy F, Y;
    if (ll_npy_open(fpath, &F) != 0) return cli_fail_lib();
    if (ll_npy_open(ypath, &Y) != 0) { ll_npy_close(&F); return cli_fail_lib(); }
    int rc = 2;
    ll_stats *st = NULL;
    cJSON *ranks_json = NULL;
    int64_t *labels = NULL;
    double *lab = NULL;
    ll_classmap cmap = {0};
    ll_folds *folds = NULL;
    int *fold_of = NULL, *class_of = NULL, n_classes = 0;
    long pooled = 0;
    ll_heldout ho = {0};
    if (F.ndim != 3) { cli_fail("%s: features must have shape (N, E, d), got %d dimensions", fpath, F.ndim); goto done; }
    if (F.dtype != LL_DT_F16 && F.dtype != LL_DT_F32 && F.dtype != LL_DT_F64) { cli_fail("%s: features must be float16, float32 or float64, not %s", fpath, ll_dtype_name(F.dtype)); goto done; }
    if (Y.ndim != 1) { cli_fail("%s: labels must have shape (N,), got %d dimensions", ypath, Y.ndim); goto done; }
    if (Y.dtype != LL_DT_I32 && Y.dtype != LL_DT_I64) { cli_fail("%s: labels must be int32 or int64, not %s", ypath, ll_dtype_name(Y.dtype)); goto done; }
    long N = (long)F.shape[0];
    int E = (int)F.shape[1], d = (int)F.shape[2];
    if (Y.shape[0] != F.shape[0]) { cli_fail("%s: %lld labels for %ld examples in %s", ypath, (long long)Y.shape[0], N, fpath); goto done; }
    if (N < 2) { cli_fail("%s: need at least 2 examples, have %ld", fpath, N); goto done; }
    if (E < 1 || d < 1 || F.shape[1] > 100000 || F.shape[2] > 1000000) { cli_fail("%s: bad shape (E=%lld, d=%lld)", fpath, (long long)F.shape[1], (long long)F.shape[2]); goto done; }
    if (E - fit_from < 2) { cli_fail("%s: %d entries: a law fit from entry %d needs at least %d entries", fpath, E, fit_from, fit_from + 2); goto done; }
    if (N <= (long)d + 1 && root)
        fprintf(stderr, "layerlaw: warning: %s: %ld examples for %d features: the probes can fit every example "
                        "(PR near 0)\n", fpath, N, d);
    labels = ll_xmalloc((size_t)N * sizeof(int64_t));
    for (long i = 0; i < N; i++) labels[i] = (int64_t)ll_npy_get(&Y, (size_t)i);
    if (have_shuffle) ll_shuffle_vocab(labels, N, shuffle_seed);
    lab = ll_xmalloc((size_t)N * sizeof(double));
    if (target == LL_TARGET_ONEHOT) {
        ll_classmap_build(&cmap, labels, N);
        int cap = max_classes > 0 ? max_classes : ll_classes_that_fit(E, d, 8.0 * (1 << 30));
        class_of = ll_xmalloc((size_t)cmap.K * sizeof(int));
        n_classes = ll_classmap_cap(&cmap, labels, N, cap, class_of, &pooled);
        if (n_classes < cmap.K)
            fprintf(stderr, "layerlaw: %d classes: the %d most frequent kept, %d pooled into one class "
                            "(%ld of %ld examples; approximate, docs/measures.md)\n",
                    cmap.K, n_classes - 1, cmap.K - n_classes + 1, pooled, N);
        for (long i = 0; i < N; i++) lab[i] = class_of[ll_classmap_index(&cmap, labels[i])];
    } else {
        for (long i = 0; i < N; i++) lab[i] = (double)labels[i];
    }
    st = ll_stats_new(E, d, target, n_classes);
    if (!st) { cli_fail_lib(); goto done; }
    for (int e = 0; e < E; e++)
        st->ones_null[e] = (norm == LL_NORM_LAYERNORM || norm == LL_NORM_STANDARDIZE) && (e < E - 1 || norm_last);
    if (nfolds) {
        fold_of = ll_xmalloc((size_t)N * sizeof(int));
        if (gpath) {
            ll_npy G;
            if (ll_npy_open(gpath, &G) != 0) { cli_fail_lib(); goto done; }
            int ok = G.ndim == 1 && (G.dtype == LL_DT_I32 || G.dtype == LL_DT_I64) && G.shape[0] == F.shape[0];
            if (ok)
                for (long i = 0; i < N; i++) {
                    double g = ll_npy_get(&G, (size_t)i);
                    if (g < 0) { ok = 0; break; }
                    fold_of[i] = ll_fold_of((uint64_t)g, fold_seed, nfolds);
                }
            ll_npy_close(&G);
            if (!ok) { cli_fail("%s: groups must be (N,) = (%ld,) non-negative int32/int64", gpath, N); goto done; }
        } else {
            for (long i = 0; i < N; i++) fold_of[i] = ll_fold_of((uint64_t)i, fold_seed, nfolds);
        }
        folds = ll_folds_new(nfolds, fold_seed, E, d);
        if (!folds) { cli_fail_lib(); goto done; }
        for (int k = 0; k < nfolds; k++) memcpy(folds->fold[k]->ones_null, st->ones_null, (size_t)E * sizeof(int));
        if (root)
            fprintf(stderr, "layerlaw: %d folds: %.3g GB of fold statistics%s\n", nfolds, ll_folds_bytes(folds) / 1e9,
                    ll_dist_size(dist) > 1 ? " per rank" : "");
    }

    /* this rank's examples: a contiguous block (every example one "document" of one token) */
    long lo = 0, hi = N;
    {
        int P = ll_dist_size(dist);
        int64_t *len1 = ll_xmalloc((size_t)N * sizeof(int64_t));
        int *owner = ll_xmalloc((size_t)N * sizeof(int));
        for (long i = 0; i < N; i++) len1[i] = 1;
        ll_dist_assign(dist, len1, N, owner);
        int me = ll_dist_rank(dist);
        lo = N; hi = N;
        for (long i = 0; i < N; i++)
            if (owner[i] == me) { if (lo == N) lo = i; hi = i + 1; }
        if (P > 1) {
            int cores = ll_dist_bind(dist, -1);
            if (threads_auto) threads = cores;
            ranks_json = ll_dist_split_json(dist, len1, N, owner);
        }
        free(len1);
        free(owner);
    }
    if (root) fprintf(stderr, "layerlaw: fit uses the CPU backend (float64 statistics, %d threads%s)\n", threads,
                      ll_dist_size(dist) > 1 ? " per rank" : "");
    ll_progress prog;
    ll_progress_init(&prog, "examples", hi - lo);
    if (!root) prog.enabled = 0;
    prog.rate_what = "examples";
    double t0 = ll_now();
    int nt = threads < E ? threads : E;
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
    int bad = 0;
    long bad_i = 0;
    int bad_e = 0;
    double **buf = ll_xcalloc((size_t)nt, sizeof(double *));
    for (int t = 0; t < nt; t++) buf[t] = ll_xmalloc((size_t)batch * d * sizeof(double));
    for (long i0 = lo; i0 < hi && !bad; i0 += batch) {
        long nb = LL_MIN(batch, hi - i0);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int e = 0; e < E; e++) {
            double *X = buf[omp_get_thread_num()];
            for (long i = 0; i < nb; i++) {
                ll_npy_read_f64(&F, ((size_t)(i0 + i) * E + (size_t)e) * d, (size_t)d, X + (size_t)i * d);
                for (int j = 0; j < d; j++)
                    if (!isfinite(X[(size_t)i * d + j])) {
#pragma omp critical
                        if (!bad || i0 + i < bad_i) { bad = 1; bad_i = i0 + i; bad_e = e; }
                        break;
                    }
            }
            if (bad) continue;
            int apply = e < E - 1 || norm_last;
            ll_normalize_rows(X, nb, d, apply ? norm : LL_NORM_NONE, eps);
            if (folds) ll_folds_add(folds, e, X, lab + i0, fold_of + i0, nb);
            else ll_stats_add(st, e, X, lab + i0, nb);
        }
        ll_npy_release(&F, (size_t)(i0 + nb) * E * d);
        ll_progress_update(&prog, i0 + nb - lo, i0 + nb - lo);
    }
    for (int t = 0; t < nt; t++) free(buf[t]);
    free(buf);
    openblas_set_num_threads(saved);
    if (bad) cli_fail("%s: non-finite value (NaN or Inf) in example %ld, entry %d", fpath, bad_i, bad_e);
    /* every rank has folded its block (or failed): the one failure check, then the one reduce */
    *synced = 1;
    if (ll_dist_any_failed(dist, bad) >= 0) {
        if (root && ll_dist_size(dist) > 1) cli_fail_print(); /* one process: cli_fail printed it */
        goto done;
    }
    ll_progress_end(&prog, hi - lo, hi - lo);
    double t_acc = ll_now() - t0;
    const int ranks = ll_dist_size(dist) > 1;
    if (folds && !ranks && ll_folds_merge_into(folds, st) != 0) { cli_fail_lib(); goto done; }
    ll_probe_result *res = ll_xcalloc((size_t)E, sizeof *res);
    if (measure == LL_MEASURE_FUZZINESS) {
        /* ranks: the statistics merged onto rank 0, which computes D */
        if (ll_dist_reduce_stats(dist, st) != 0) {
            free(res);
            if (root) cli_fail_print();
            rc = 1;
            goto done;
        }
        if (!root) { free(res); rc = 0; goto done; } /* rank 0 writes */
        cli_defer_errors(0);
        ll_fuzz_result *fz = ll_xcalloc((size_t)E, sizeof *fz);
        if (ll_fuzziness_solve(st, threads, fz) != 0) { free(fz); free(res); cli_fail_lib(); goto done; }
        for (int e = 0; e < E; e++) {
            res[e].pr = fz[e].D; res[e].rss = fz[e].tr_sw; res[e].tss = fz[e].tr_sb;
            res[e].n = fz[e].n; res[e].rank = fz[e].rank;
        }
        free(fz);
        for (int e = 0; e < E; e++)
            if (!isfinite(res[e].pr)) { free(res); cli_fail("%s: one class only: separation fuzziness undefined", ypath); goto done; }
    } else if (folds && ranks) {
        /* ranks: every fold reduced like the total statistics, each rank solving
         * the in-sample and held-out probes of a block of entries; the results
         * on every rank (host/dist/dist_folds.h) */
        int frc = ll_dist_folds_solve(dist, folds, st, threads, res, &ho);
        if (frc != 0) {
            free(res);
            if (frc == -2) { /* a fold without examples: the same error on every rank */
                char why[512];
                snprintf(why, sizeof why, "%s", ll_last_error());
                ll_set_error("%s: %s", gpath ? gpath : fpath, why);
            }
            if (root) cli_fail_print();
            rc = frc == -2 ? 2 : 1;
            goto done;
        }
        if (!root) { free(res); rc = 0; goto done; } /* rank 0 writes */
        cli_defer_errors(0);
    } else {
        /* one process: the solve; ranks: the reduce, each rank solving a block of entries, results on rank 0 */
        if (ll_dist_reduce_solve(dist, st, ridge, threads, res, NULL, NULL) != 0) {
            free(res);
            if (root) cli_fail_print();
            rc = 1;
            goto done;
        }
        if (!root) { free(res); rc = 0; goto done; } /* rank 0 writes */
        cli_defer_errors(0);
    }
    for (int e = 0; e < E && measure != LL_MEASURE_FUZZINESS; e++)
        if (!(res[e].tss > 0)) { free(res); cli_fail("%s: labels are constant: PR undefined", ypath); goto done; }
    if (folds && !ranks && ll_folds_solve(folds, st, threads, &ho) != 0) {
        free(res);
        cli_fail("%s: %s", gpath ? gpath : fpath, ll_last_error());
        goto done;
    }
    double *pr = ll_xmalloc((size_t)E * sizeof(double));
    for (int e = 0; e < E; e++) pr[e] = res[e].pr;
    ll_law law;
    int lawrc = ll_law_fit(pr, E, fit_from, &law);
    free(pr);
    if (lawrc != 0) { free(res); cli_fail_lib(); goto done; }
    double t_all = ll_now() - t0;

    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "command", "fit");
    cJSON_AddStringToObject(cfg, "features", fpath);
    cJSON_AddStringToObject(cfg, "features_dtype", ll_dtype_name(F.dtype));
    cJSON_AddStringToObject(cfg, "labels", ypath);
    cJSON_AddStringToObject(cfg, "norm", ll_norm_name(norm));
    cJSON_AddNumberToObject(cfg, "eps", eps);
    cJSON_AddBoolToObject(cfg, "norm_last", norm_last);
    cJSON_AddNumberToObject(cfg, "fit_from", fit_from);
    cJSON_AddNumberToObject(cfg, "ridge", ridge);
    cJSON_AddStringToObject(cfg, "target", target_s);
    cJSON_AddStringToObject(cfg, "measure", ll_measure_name(measure));
    cJSON_AddNumberToObject(cfg, "max_classes", max_classes);
    cJSON_AddNumberToObject(cfg, "folds", nfolds);
    if (nfolds) {
        cJSON_AddNumberToObject(cfg, "fold_seed", (double)fold_seed);
        if (gpath) cJSON_AddStringToObject(cfg, "groups", gpath);
        else cJSON_AddNullToObject(cfg, "groups");
    }
    if (have_shuffle) cJSON_AddNumberToObject(cfg, "shuffle_vocab_seed", (double)shuffle_seed);
    else cJSON_AddNullToObject(cfg, "shuffle_vocab_seed");
    cJSON_AddNumberToObject(cfg, "threads", threads);
    cJSON_AddNumberToObject(cfg, "batch_rows", (double)batch);
    cJSON_AddStringToObject(cfg, "backend", "cpu");
    cJSON *extra = cJSON_CreateObject();
    cJSON *tp = cJSON_AddObjectToObject(extra, "timing");
    cJSON_AddNumberToObject(tp, "accumulate_s", t_acc);
    cJSON_AddNumberToObject(tp, "total_s", t_all);
    cJSON_AddStringToObject(extra, "measure", ll_measure_name(measure));
    if (target == LL_TARGET_ONEHOT) {
        cJSON_AddNumberToObject(extra, "n_classes", cmap.K);
        ll_report_add_classes(extra, cmap.K, n_classes, pooled);
    }
    if (ranks_json) { cJSON_AddItemToObject(extra, "ranks", ranks_json); ranks_json = NULL; }
    double *ho_cols[3] = {0};
    if (folds) {
        ho_cols[0] = ho.pr;
        ho_cols[1] = ll_xmalloc((size_t)E * sizeof(double));
        ho_cols[2] = ll_xmalloc((size_t)E * sizeof(double));
        for (int e = 0; e < E; e++) ll_heldout_fold_spread(&ho, e, &ho_cols[1][e], &ho_cols[2][e]);
        if (ll_report_add_heldout(extra, &ho, &law, fit_from, gpath ? "hash(group, seed) mod K" : "hash(example index, seed) mod K",
                                  fold_seed) != 0) {
            free(ho_cols[1]); free(ho_cols[2]); free(res); cJSON_Delete(cfg); cJSON_Delete(extra); cli_fail_lib(); goto done;
        }
    }
    ll_report_more more;
    ll_report_more_for(measure, (const double *const *)ho_cols, &more);
    int wrc = ll_report_write_more(outdir, res, E, &law, N, d, cfg, extra, &more);
    if (wrc == 0 && measure != LL_MEASURE_FUZZINESS) cli_run_figure(outdir); /* the figure draws PR */
    if (wrc == 0 && !quiet) ll_report_print_more(stdout, res, E, &law, N, d, &more);
    free(ho_cols[1]); free(ho_cols[2]);
    free(res);
    if (wrc != 0) { cli_fail_lib(); goto done; }
    rc = 0;
done:
    cJSON_Delete(ranks_json);
    ll_stats_free(st);
    ll_folds_free(folds);
    ll_heldout_free(&ho);
    free(fold_of);
    free(class_of);
    free(labels);
    free(lab);
    ll_classmap_free(&cmap);
    ll_npy_close(&F);
    ll_npy_close(&Y);
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
