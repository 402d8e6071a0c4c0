/* The fit pipeline (see fit.h): named steps over one state. */
#include "pipeline/fit.h"
#include <cJSON.h>
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "dist/dist_folds.h"
#include "io/npy.h"
#include "pipeline/solve.h"
#include "report/report.h"

void ll_fit_opts_default(ll_fit_opts *o) {
    memset(o, 0, sizeof *o);
    o->norm = LL_NORM_LAYERNORM;
    o->eps = 1e-5;
    o->fit_from = 1;
    o->measure = LL_MEASURE_PR;
    o->batch_rows = 2048;
    o->progress = 1;
}

/* ---- the --dump-hidden sidecar ------------------------------------------ */
static int sidecar_bad(const char *sidecar, cJSON *sc, const char *what) {
    cJSON_Delete(sc);
    ll_set_error("%s: %s", sidecar, what);
    return -1;
}

int ll_fit_opts_from_dump(ll_fit_opts *o, unsigned given) {
    char sidecar[4200];
    const char *fpath = o->features;
    size_t n = strlen(fpath);
    snprintf(sidecar, sizeof sidecar, "%.*s.json", (int)(n > 4 && !strcmp(fpath + n - 4, ".npy") ? n - 4 : n), fpath);
    if (!ll_path_exists(sidecar)) return 0;
    size_t len;
    char *t = ll_read_file(sidecar, &len);
    cJSON *sc = t ? cJSON_ParseWithLength(t, len) : NULL;
    free(t);
    if (!sc) {
        ll_set_error("%s: not valid JSON (the --dump-hidden sidecar of %s)", sidecar, fpath);
        return -1;
    }
    const cJSON *jl = cJSON_GetObjectItemCaseSensitive(sc, "labels"), *jn = cJSON_GetObjectItemCaseSensitive(sc, "norm"),
                *je = cJSON_GetObjectItemCaseSensitive(sc, "eps"), *jf = cJSON_GetObjectItemCaseSensitive(sc, "fit_from"),
                *jr = cJSON_GetObjectItemCaseSensitive(sc, "ridge"), *jnl = cJSON_GetObjectItemCaseSensitive(sc, "norm_last"),
                *js = cJSON_GetObjectItemCaseSensitive(sc, "shuffle_vocab_seed");
    if (!cJSON_IsString(jl) || strchr(jl->valuestring, '/') || !cJSON_IsString(jn) || !cJSON_IsNumber(je) ||
        !cJSON_IsNumber(jf) || !cJSON_IsNumber(jr) || !cJSON_IsBool(jnl) || !(cJSON_IsNull(js) || cJSON_IsString(js)) ||
        !(je->valuedouble >= 0 && je->valuedouble <= 1) || !(jf->valuedouble >= 0 && jf->valuedouble <= (1 << 20)) ||
        !(jr->valuedouble >= 0 && jr->valuedouble <= 1e300))
        return sidecar_bad(sidecar, sc, "not a run --dump-hidden sidecar (labels, norm, eps, norm_last, fit_from, ridge, "
                                        "shuffle_vocab_seed)");
    const char *sl = strrchr(fpath, '/');
    snprintf(o->labels_buf, sizeof o->labels_buf, "%.*s%s", sl ? (int)(sl - fpath + 1) : 0, fpath, jl->valuestring);
    o->labels = o->labels_buf;
    if (!(given & LL_FIT_GIVEN_NORM) && ll_norm_parse(jn->valuestring, &o->norm) != 0) { cJSON_Delete(sc); return -1; }
    if (!(given & LL_FIT_GIVEN_EPS)) o->eps = je->valuedouble;
    if (!o->norm_last) o->norm_last = cJSON_IsTrue(jnl);
    if (!(given & LL_FIT_GIVEN_FIT_FROM)) o->fit_from = (int)jf->valuedouble;
    if (!(given & LL_FIT_GIVEN_RIDGE)) o->ridge = jr->valuedouble;
    if (!(given & LL_FIT_GIVEN_SHUFFLE) && cJSON_IsString(js)) {
        char *end;
        o->shuffle_seed = strtoull(js->valuestring, &end, 10);
        if (!*js->valuestring || *end) return sidecar_bad(sidecar, sc, "bad shuffle_vocab_seed");
        o->have_shuffle = 1;
    }
    cJSON_Delete(sc);
    return 1;
}

/* ---- the state of one fit ------------------------------------------------ */
typedef struct {
    const ll_fit_opts *o;
    ll_run_result *r;
    int root, P, threads;
    ll_npy F, Y;
    int f_open, y_open;
    long N;
    int E, d;
    ll_target target;
    int64_t *labels;
    double *lab;            /* [N] the regression target of each example (id, or class) */
    ll_classmap cmap;
    int *class_of, n_classes;
    long pooled;
    ll_stats *st;
    ll_folds *folds;
    int *fold_of;
    long lo, hi;            /* this rank's examples */
    cJSON *ranks_json;
    ll_heldout ho;
    double t0, t_acc;
} fit_state;

static void fit_state_free(fit_state *S) {
    cJSON_Delete(S->ranks_json);
    ll_stats_free(S->st);
    ll_folds_free(S->folds);
    ll_heldout_free(&S->ho);
    free(S->fold_of);
    free(S->class_of);
    free(S->labels);
    free(S->lab);
    ll_classmap_free(&S->cmap);
    if (S->f_open) ll_npy_close(&S->F);
    if (S->y_open) ll_npy_close(&S->Y);
}

/* The options alone: 0, or -1 + error (the same on every rank). */
static int fit_check_opts(const ll_fit_opts *o) {
    if (!o->features || !o->labels) { ll_set_error("fit: features and labels are required"); return -1; }
    if (o->measure < LL_MEASURE_PR || o->measure > LL_MEASURE_ONEHOT) { ll_set_error("fit: unknown measure %d", (int)o->measure); return -1; }
    if (o->measure == LL_MEASURE_FUZZINESS && o->ridge != 0) { ll_set_error("--ridge: not a parameter of --measure fuzziness"); return -1; }
    if (o->folds && o->measure != LL_MEASURE_PR) { ll_set_error("--folds: held-out PR is defined for --measure pr only"); return -1; }
    if (o->folds && o->ridge != 0) { ll_set_error("--folds: held-out PR uses the OLS probe (no --ridge)"); return -1; }
    if (o->folds && (o->folds < 2 || o->folds > LL_FOLDS_MAX)) { ll_set_error("--folds: %d, need 2..%d", o->folds, LL_FOLDS_MAX); return -1; }
    if (o->groups && !o->folds) { ll_set_error("--groups needs --folds"); return -1; }
    if (o->max_classes < 0 || o->max_classes == 1) { ll_set_error("--max-classes: %d is not a class budget (0 or >= 2)", o->max_classes); return -1; }
    if (o->batch_rows < 1 || o->fit_from < 0) { ll_set_error("fit: batch rows %lld, fit from %d", o->batch_rows, o->fit_from); return -1; }
    return 0;
}

/* F and Y opened, their shapes and types checked. */
static int fit_open(fit_state *S) {
    const char *fpath = S->o->features, *ypath = S->o->labels;
    if (ll_npy_open(fpath, &S->F) != 0) return -1;
    S->f_open = 1;
    if (ll_npy_open(ypath, &S->Y) != 0) return -1;
    S->y_open = 1;
    const ll_npy *F = &S->F, *Y = &S->Y;
    if (F->ndim != 3) { ll_set_error("%s: features must have shape (N, E, d), got %d dimensions", fpath, F->ndim); return -1; }
    if (F->dtype != LL_DT_F16 && F->dtype != LL_DT_F32 && F->dtype != LL_DT_F64) {
        ll_set_error("%s: features must be float16, float32 or float64, not %s", fpath, ll_dtype_name(F->dtype));
        return -1;
    }
    if (Y->ndim != 1) { ll_set_error("%s: labels must have shape (N,), got %d dimensions", ypath, Y->ndim); return -1; }
    if (Y->dtype != LL_DT_I32 && Y->dtype != LL_DT_I64) { ll_set_error("%s: labels must be int32 or int64, not %s", ypath, ll_dtype_name(Y->dtype)); return -1; }
    S->N = (long)F->shape[0];
    if (Y->shape[0] != F->shape[0]) { ll_set_error("%s: %lld labels for %ld examples in %s", ypath, (long long)Y->shape[0], S->N, fpath); return -1; }
    if (S->N < 2) { ll_set_error("%s: need at least 2 examples, have %ld", fpath, S->N); return -1; }
    if (F->shape[1] < 1 || F->shape[2] < 1 || F->shape[1] > 100000 || F->shape[2] > 1000000) {
        ll_set_error("%s: bad shape (E=%lld, d=%lld)", fpath, (long long)F->shape[1], (long long)F->shape[2]);
        return -1;
    }
    S->E = (int)F->shape[1];
    S->d = (int)F->shape[2];
    const int E = S->E, fit_from = S->o->fit_from;
    if (E - fit_from < 2) {
        ll_set_error("%s: %d entries: a law fit from entry %d needs at least %d entries", fpath, E, fit_from, fit_from + 2);
        return -1;
    }
    if (S->N <= (long)S->d + 1 && S->root)
        ll_warn("%s: %ld examples for %d features: the probes can fit every example (PR near 0)", fpath, S->N, S->d);
    return 0;
}

/* The labels (shuffled), and for a one-hot target the classes (under the
 * budget the most frequent ones and a pool): lab[i], each example's target. */
static void fit_labels(fit_state *S) {
    const ll_fit_opts *o = S->o;
    const long N = S->N;
    S->labels = ll_xmalloc((size_t)N * sizeof(int64_t));
    for (long i = 0; i < N; i++) S->labels[i] = (int64_t)ll_npy_get(&S->Y, (size_t)i);
    if (o->have_shuffle) ll_shuffle_vocab(S->labels, N, o->shuffle_seed);
    S->lab = ll_xmalloc((size_t)N * sizeof(double));
    if (S->target != LL_TARGET_ONEHOT) {
        for (long i = 0; i < N; i++) S->lab[i] = (double)S->labels[i];
        return;
    }
    ll_classmap_build(&S->cmap, S->labels, N);
    int cap = o->max_classes > 0 ? o->max_classes : ll_classes_that_fit(S->E, S->d, 8.0 * (1 << 30));
    S->class_of = ll_xmalloc((size_t)S->cmap.K * sizeof(int));
    S->n_classes = ll_classmap_cap(&S->cmap, S->labels, N, cap, S->class_of, &S->pooled);
    if (S->n_classes < S->cmap.K && S->root && o->progress >= 0)
        ll_note("%d classes: the %d most frequent kept, %d pooled into one class "
                "(%ld of %ld examples; approximate, docs/measures.md)",
                S->cmap.K, S->n_classes - 1, S->cmap.K - S->n_classes + 1, S->pooled, N);
    for (long i = 0; i < N; i++) S->lab[i] = S->class_of[ll_classmap_index(&S->cmap, S->labels[i])];
}

/* The folds of the examples: by --groups (a sequence index each), or each
 * example its own group. */
static int fit_folds(fit_state *S) {
    const ll_fit_opts *o = S->o;
    const long N = S->N;
    S->fold_of = ll_xmalloc((size_t)N * sizeof(int));
    if (o->groups) {
        ll_npy G;
        if (ll_npy_open(o->groups, &G) != 0) return -1;
        int ok = G.ndim == 1 && (G.dtype == LL_DT_I32 || G.dtype == LL_DT_I64) && G.shape[0] == S->F.shape[0];
        for (long i = 0; ok && i < N; i++) {
            double g = ll_npy_get(&G, (size_t)i);
            if (g < 0) ok = 0;
            else S->fold_of[i] = ll_fold_of((uint64_t)g, o->fold_seed, o->folds);
        }
        ll_npy_close(&G);
        if (!ok) { ll_set_error("%s: groups must be (N,) = (%ld,) non-negative int32/int64", o->groups, N); return -1; }
    } else {
        for (long i = 0; i < N; i++) S->fold_of[i] = ll_fold_of((uint64_t)i, o->fold_seed, o->folds);
    }
    S->folds = ll_folds_new(o->folds, o->fold_seed, S->E, S->d);
    if (!S->folds) return -1;
    for (int k = 0; k < o->folds; k++) memcpy(S->folds->fold[k]->ones_null, S->st->ones_null, (size_t)S->E * sizeof(int));
    if (S->root && o->progress >= 0)
        ll_note("%d folds: %.3g GB of fold statistics%s", o->folds, ll_folds_bytes(S->folds) / 1e9,
                S->P > 1 ? " per rank" : "");
    return 0;
}

/* The statistics (the centring constraint of a normalised entry: a
 * layer/standard norm leaves rows with zero mean), and the folds. */
static int fit_stats(fit_state *S) {
    const ll_fit_opts *o = S->o;
    S->st = ll_stats_new(S->E, S->d, S->target, S->n_classes);
    if (!S->st) return -1;
    for (int e = 0; e < S->E; e++)
        S->st->ones_null[e] = (o->norm == LL_NORM_LAYERNORM || o->norm == LL_NORM_STANDARDIZE) && (e < S->E - 1 || o->norm_last);
    return o->folds ? fit_folds(S) : 0;
}

/* This rank's examples: a contiguous block (every example one "document"
 * of one token); with ranks, bound to its share of the node. */
static void fit_place(fit_state *S) {
    const ll_fit_opts *o = S->o;
    const long N = S->N;
    int64_t *len1 = ll_xmalloc((size_t)N * sizeof(int64_t));
    int *owner = ll_xmalloc((size_t)N * sizeof(int));
    for (long i = 0; i < N; i++) len1[i] = 1;
    ll_dist_assign(o->dist, len1, N, owner);
    const int me = ll_dist_rank(o->dist);
    S->lo = N;
    S->hi = N;
    for (long i = 0; i < N; i++)
        if (owner[i] == me) {
            if (S->lo == N) S->lo = i;
            S->hi = i + 1;
        }
    if (S->P > 1) {
        int cores = ll_dist_bind(o->dist, -1);
        if (o->threads <= 0) S->threads = cores;
        S->ranks_json = ll_dist_split_json(o->dist, len1, N, owner);
    }
    free(len1);
    free(owner);
    if (S->root && o->progress >= 0)
        ll_note("fit uses the CPU backend (float64 statistics, %d threads%s)", S->threads, S->P > 1 ? " per rank" : "");
}

/* Rows [i0, i0 + nb) of entry e into X, checked finite (the first bad one
 * kept), normalised, folded into the statistics or their folds. */
static void fold_rows(fit_state *S, int e, long i0, long nb, double *X, int *bad, long *bad_i, int *bad_e) {
    const ll_fit_opts *o = S->o;
    const int E = S->E, d = S->d;
    for (long i = 0; i < nb; i++) {
        ll_npy_read_f64(&S->F, ((size_t)(i0 + i) * E + (size_t)e) * d, (size_t)d, X + (size_t)i * d);
        for (int j = 0; j < d; j++)
            if (!isfinite(X[(size_t)i * d + j])) {
#pragma omp critical
                if (!*bad || i0 + i < *bad_i) { *bad = 1; *bad_i = i0 + i; *bad_e = e; }
                break;
            }
    }
    if (*bad) return;
    int apply = e < E - 1 || o->norm_last;
    ll_normalize_rows(X, nb, d, apply ? o->norm : LL_NORM_NONE, o->eps);
    if (S->folds) ll_folds_add(S->folds, e, X, S->lab + i0, S->fold_of + i0, nb);
    else ll_stats_add(S->st, e, X, S->lab + i0, nb);
}

/* This rank's examples streamed in batches of rows, the entries in
 * parallel (one OpenBLAS thread each).  0, or -1 + error (a non-finite
 * value: bad input). */
static int fit_accumulate(fit_state *S, ll_progress *prog) {
    const long long batch = S->o->batch_rows;
    const int E = S->E, d = S->d, nt = S->threads < E ? S->threads : E;
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
    int bad = 0, bad_e = 0;
    long bad_i = 0;
    double **buf = ll_xcalloc((size_t)nt, sizeof(double *));
    for (int t = 0; t < nt; t++) buf[t] = ll_xmalloc((size_t)batch * d * sizeof(double));
    for (long i0 = S->lo; i0 < S->hi && !bad; i0 += batch) {
        long nb = LL_MIN(batch, S->hi - i0);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int e = 0; e < E; e++) fold_rows(S, e, i0, nb, buf[omp_get_thread_num()], &bad, &bad_i, &bad_e);
        ll_npy_release(&S->F, (size_t)(i0 + nb) * E * d);
        ll_progress_update(prog, i0 + nb - S->lo, i0 + nb - S->lo);
    }
    for (int t = 0; t < nt; t++) free(buf[t]);
    free(buf);
    openblas_set_num_threads(saved);
    if (!bad) return 0;
    ll_set_error("%s: non-finite value (NaN or Inf) in example %ld, entry %d", S->o->features, bad_i, bad_e);
    return -1;
}

/* The solve strategy of the run's (pipeline/solve.h) over host statistics:
 * 0 (results on rank 0), or the exit status. */
static int fit_solve(fit_state *S) {
    const ll_fit_opts *o = S->o;
    ll_run_result *r = S->r;
    ll_solve_plan p = {.how = LL_SOLVE_HOST, .dist = o->dist, .st = S->st, .ridge = o->ridge, .threads = S->threads};
    if (o->measure == LL_MEASURE_FUZZINESS) p.how = LL_SOLVE_FUZZINESS;
    else if (S->folds) { p.how = LL_SOLVE_FOLDS; p.folds = S->folds; }
    const char *fold_src = o->groups ? o->groups : o->features;
    r->res = ll_xcalloc((size_t)S->E, sizeof *r->res);
    int rc = ll_solve_run(&p, r->res, &S->ho, fold_src);
    if (rc != 0) return rc == -2 ? 2 : 1;
    if (!S->root) return 0;
    if (ll_solve_finish(&p, r->res, S->E, &S->ho, o->labels, fold_src) != 0) return 2;
    double *pr = ll_xmalloc((size_t)S->E * sizeof(double));
    for (int e = 0; e < S->E; e++) pr[e] = r->res[e].pr;
    int lawrc = ll_law_fit(pr, S->E, o->fit_from, &r->law);
    free(pr);
    if (lawrc != 0) return 2;
    r->have_law = 1;
    return 0;
}

/* The exact configuration of the fit (law.json "config"). */
static cJSON *fit_config(const fit_state *S) {
    const ll_fit_opts *o = S->o;
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "command", "fit");
    cJSON_AddStringToObject(cfg, "features", o->features);
    cJSON_AddStringToObject(cfg, "features_dtype", ll_dtype_name(S->F.dtype));
    cJSON_AddStringToObject(cfg, "labels", o->labels);
    cJSON_AddStringToObject(cfg, "norm", ll_norm_name(o->norm));
    cJSON_AddNumberToObject(cfg, "eps", o->eps);
    cJSON_AddBoolToObject(cfg, "norm_last", o->norm_last);
    cJSON_AddNumberToObject(cfg, "fit_from", o->fit_from);
    cJSON_AddNumberToObject(cfg, "ridge", o->ridge);
    cJSON_AddStringToObject(cfg, "target", S->target == LL_TARGET_ONEHOT ? "onehot" : "id");
    cJSON_AddStringToObject(cfg, "measure", ll_measure_name(o->measure));
    cJSON_AddNumberToObject(cfg, "max_classes", o->max_classes);
    cJSON_AddNumberToObject(cfg, "folds", o->folds);
    if (o->folds) {
        cJSON_AddNumberToObject(cfg, "fold_seed", (double)o->fold_seed);
        if (o->groups) cJSON_AddStringToObject(cfg, "groups", o->groups);
        else cJSON_AddNullToObject(cfg, "groups");
    }
    if (o->have_shuffle) cJSON_AddNumberToObject(cfg, "shuffle_vocab_seed", (double)o->shuffle_seed);
    else cJSON_AddNullToObject(cfg, "shuffle_vocab_seed");
    cJSON_AddNumberToObject(cfg, "threads", S->threads);
    cJSON_AddNumberToObject(cfg, "batch_rows", (double)o->batch_rows);
    cJSON_AddStringToObject(cfg, "backend", "cpu");
    return cfg;
}

/* The result's configuration, law.json members and held-out columns. */
static int fit_record(fit_state *S, double t_all) {
    const ll_fit_opts *o = S->o;
    ll_run_result *r = S->r;
    const int E = S->E;
    r->config = fit_config(S);
    cJSON *extra = r->extra = cJSON_CreateObject();
    cJSON *tp = cJSON_AddObjectToObject(extra, "timing");
    cJSON_AddNumberToObject(tp, "accumulate_s", S->t_acc);
    cJSON_AddNumberToObject(tp, "total_s", t_all);
    cJSON_AddStringToObject(extra, "measure", ll_measure_name(o->measure));
    if (S->target == LL_TARGET_ONEHOT) {
        cJSON_AddNumberToObject(extra, "n_classes", S->cmap.K);
        ll_report_add_classes(extra, S->cmap.K, S->n_classes, S->pooled);
    }
    if (S->ranks_json) { cJSON_AddItemToObject(extra, "ranks", S->ranks_json); S->ranks_json = NULL; }
    if (!S->folds) return 0;
    r->pr_heldout = ll_xmalloc((size_t)E * sizeof(double));
    r->pr_heldout_fold_mean = ll_xmalloc((size_t)E * sizeof(double));
    r->pr_heldout_fold_sd = ll_xmalloc((size_t)E * sizeof(double));
    memcpy(r->pr_heldout, S->ho.pr, (size_t)E * sizeof(double));
    for (int e = 0; e < E; e++) ll_heldout_fold_spread(&S->ho, e, &r->pr_heldout_fold_mean[e], &r->pr_heldout_fold_sd[e]);
    return ll_report_add_heldout(extra, &S->ho, &r->law, o->fit_from,
                                 o->groups ? "hash(group, seed) mod K" : "hash(example index, seed) mod K", o->fold_seed);
}

/* Everything before the job's one failure check: -1 + error on a failure. */
static int fit_prepare(fit_state *S) {
    if (fit_check_opts(S->o) != 0 || fit_open(S) != 0) return -1;
    fit_labels(S);
    if (fit_stats(S) != 0) return -1;
    fit_place(S);
    return 0;
}

int ll_fit_pipeline(const ll_fit_opts *o, ll_run_result *r) {
    memset(r, 0, sizeof *r);
    fit_state S = {.o = o, .r = r, .root = ll_dist_rank(o->dist) == 0, .P = ll_dist_size(o->dist)};
    S.threads = o->threads > 0 ? o->threads : omp_get_num_procs();
    S.target = ll_measure_target(o->measure);
    r->rank = ll_dist_rank(o->dist);
    r->measure = o->measure;
    r->gpu = -1;
    int rc = 2, bad = fit_prepare(&S) != 0;
    ll_progress prog;
    ll_progress_init(&prog, "examples", S.hi - S.lo);
    if (!S.root || o->progress <= 0) prog.enabled = 0;
    prog.rate_what = "examples";
    S.t0 = ll_now();
    if (!bad) bad = fit_accumulate(&S, &prog) != 0;
    /* every rank has folded its block (or failed): the one failure check
     * (rank 0 then holds "rank R: <message>"), then the one reduce */
    if (ll_dist_any_failed(o->dist, bad) >= 0) goto done;
    ll_progress_end(&prog, S.hi - S.lo, S.hi - S.lo);
    S.t_acc = ll_now() - S.t0;
    if ((rc = fit_solve(&S)) != 0 || !S.root) goto done;
    rc = 2;
    if (fit_record(&S, ll_now() - S.t0) != 0) goto done;
    r->E = S.E;
    r->d = S.d;
    r->N = S.N;
    r->run_s = S.t_acc;
    rc = 0;
done:
    fit_state_free(&S);
    if (rc != 0) {
        const int rank = r->rank;
        ll_run_result_free(r);
        r->rank = rank;
    }
    return rc;
}
