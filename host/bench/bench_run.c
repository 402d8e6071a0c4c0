/* `layerlaw bench` in the library (see bench_run.h). */
#include "bench/bench_run.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench/bench.h"
#include "core/ll_util.h"

/* "a,b,c" -> items (pointing into buf). */
typedef struct {
    char *buf;
    char **v;
    int n;
} strlist;

static void split_list(const char *s, strlist *l) {
    l->buf = ll_xstrdup(s ? s : "");
    int cap = 1;
    for (const char *p = l->buf; *p; p++) cap += *p == ',';
    l->v = ll_xcalloc((size_t)cap, sizeof(char *));
    l->n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(l->buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) l->v[l->n++] = tok;
}

static void free_list(strlist *l) {
    free(l->buf);
    free(l->v);
}

static int parse_int(const char *s, long long lo, long long hi, long long *out, const char *opt) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == 0 || *end || v < lo || v > hi) { ll_set_error("--%s: bad value '%s' (%lld..%lld)", opt, s, lo, hi); return -1; }
    *out = v;
    return 0;
}

/* The first run: the entry count and what one run counts per entry. */
static void first_run(ll_bench_result *b, const ll_run_result *r, int reps) {
    b->E = r->E;
    b->ent_fwd = ll_xcalloc((size_t)reps * (size_t)r->E, sizeof(double));
    b->ent_cap = ll_xcalloc((size_t)reps * (size_t)r->E, sizeof(double));
    b->ent_sec = ll_xcalloc((size_t)reps * (size_t)r->E, sizeof(double));
    b->ent_flops = ll_xcalloc((size_t)r->E, sizeof(double));
    b->ent_bytes = ll_xcalloc((size_t)r->E, sizeof(double));
    const cJSON *tp = cJSON_GetObjectItemCaseSensitive(r->extra, "throughput");
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(tp, "per_entry_flops"),
                *by = cJSON_GetObjectItemCaseSensitive(tp, "per_entry_bytes");
    for (int e = 0; e < r->E; e++) {
        const cJSON *f = cJSON_GetArrayItem(fl, e), *y = cJSON_GetArrayItem(by, e);
        b->ent_flops[e] = cJSON_IsNumber(f) ? f->valuedouble : NAN;
        b->ent_bytes[e] = cJSON_IsNumber(y) ? y->valuedouble : NAN;
    }
}

/* Timed repetition k: its times, and what the pipeline resolved. */
static void keep_rep(ll_bench_result *b, const ll_bench_test *t, const ll_run_result *r, int k) {
    double cap = 0;
    for (int e = 0; e < r->E && e < b->E; e++) {
        b->ent_fwd[(size_t)k * b->E + e] = r->forward_s ? r->forward_s[e] : NAN;
        b->ent_cap[(size_t)k * b->E + e] = r->capture_s ? r->capture_s[e] : NAN;
        b->ent_sec[(size_t)k * b->E + e] = b->ent_fwd[(size_t)k * b->E + e];
        cap += r->capture_s ? r->capture_s[e] : 0;
    }
    b->run_s[k] = r->run_s;
    b->tok_s[k] = r->run_s > 0 ? (double)r->tokens / r->run_s : 0;
    b->fwd_tok_s[k] = r->run_s - cap > 0 ? (double)r->tokens / (r->run_s - cap) : 0;
    b->capture_s[k] = cap;
    b->solve_s[k] = r->solve_s;
    b->load_s[k] = r->load_s;
    b->n = k + 1;
    b->tokens = (double)r->tokens;
    b->padded = (double)r->padded_tokens;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(r->extra, "model");
    if (m && !b->model) b->model = cJSON_Duplicate(m, 1);
    b->n_params = ll_json_num(r->extra, "model", "n_params");
    const cJSON *cb = cJSON_GetObjectItemCaseSensitive(r->config, "backend"),
                *cc = cJSON_GetObjectItemCaseSensitive(r->config, "compute");
    snprintf(b->backend, sizeof b->backend, "%s", cJSON_IsString(cb) ? cb->valuestring : t->backend);
    snprintf(b->compute, sizeof b->compute, "%s", cJSON_IsString(cc) ? cc->valuestring : t->compute);
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(r->config, "threads");
    b->threads = cJSON_IsNumber(ct) ? (long long)ct->valuedouble : t->threads;
    b->gpu = r->gpu;
    double g = ll_json_num(r->extra, "gpu_timing", "peak_bf16_gemm_tflops");
    if (isfinite(g)) b->gemm_peak_tflops = g;
    /* on a GPU the host clock sees launches, not work: the device events
     * per entry (ms per batch x batches) */
    const cJSON *gt = cJSON_GetObjectItemCaseSensitive(r->extra, "gpu_timing");
    const cJSON *pe = cJSON_GetObjectItemCaseSensitive(gt, "per_entry");
    double nb = ll_json_num(r->extra, "gpu_timing", "batches");
    if (cJSON_IsArray(pe) && nb > 0)
        for (int e = 0; e < b->E; e++) {
            double ms = ll_json_num(cJSON_GetArrayItem(pe, e), "layer_ms_per_batch", NULL);
            if (isfinite(ms)) b->ent_sec[(size_t)k * b->E + e] = ms * nb / 1000;
        }
}

int ll_bench_run_test(const ll_bench_test *t, const ll_run_opts *base, int warmup, int reps, ll_bench_result *b) {
    memset(b, 0, sizeof *b);
    b->run_s = ll_xcalloc((size_t)reps, sizeof(double));
    b->tok_s = ll_xcalloc((size_t)reps, sizeof(double));
    b->fwd_tok_s = ll_xcalloc((size_t)reps, sizeof(double));
    b->capture_s = ll_xcalloc((size_t)reps, sizeof(double));
    b->solve_s = ll_xcalloc((size_t)reps, sizeof(double));
    b->load_s = ll_xcalloc((size_t)reps, sizeof(double));
    for (int k = -warmup; k < reps; k++) {
        ll_run_opts o = *base;
        o.model = t->model;
        o.synthetic = t->synthetic;
        o.backend = t->backend;
        o.compute = t->compute;
        o.batch_tokens = t->batch_tokens;
        o.batch_size = (int)t->batch_size;
        o.max_length = (int)t->max_length;
        o.threads = (int)t->threads;
        o.progress = -1;
        ll_run_result r;
        int rc = ll_run_pipeline(&o, &r);
        if (rc != 0) { ll_run_result_free(&r); return rc; }
        if (!b->ent_fwd) first_run(b, &r, reps);
        if (k >= 0) keep_rep(b, t, &r, k);
        ll_run_result_free(&r);
    }
    b->peak_rss = ll_peak_rss_bytes();
    return 0;
}

/* This machine's CPU peaks, measured in a child process so that their
 * buffers never count in the tests' peak RSS.  0, or -1. */
int ll_bench_measure_cpu_peaks(double *sgemm, double *copy) {
    int fd[2];
    *sgemm = *copy = 0;
    if (pipe(fd) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { close(fd[0]); close(fd[1]); return -1; }
    if (pid == 0) {
        close(fd[0]);
        double v[2] = {0, 0};
        if (ll_cpu_measure_sgemm(2048, 3, &v[0]) != 0) v[0] = 0;
        if (ll_cpu_measure_memcpy((size_t)256 << 20, 3, &v[1]) != 0) v[1] = 0;
        ssize_t w = write(fd[1], v, sizeof v);
        _exit(w == (ssize_t)sizeof v ? 0 : 1);
    }
    close(fd[1]);
    double v[2];
    ssize_t r = read(fd[0], v, sizeof v);
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    if (r != (ssize_t)sizeof v) return -1;
    *sgemm = v[0];
    *copy = v[1];
    return 0;
}

static cJSON *summary_json(const double *x, int n, int stride) {
    double *v = ll_xmalloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) v[i] = x[(size_t)i * stride];
    ll_bench_summary s;
    ll_bench_summarise(v, n, &s);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "mean", s.mean);
    cJSON_AddNumberToObject(o, "sd", s.sd);
    cJSON_AddItemToObject(o, "samples", cJSON_CreateDoubleArray(v, n));
    free(v);
    return o;
}

void ll_bench_mean_sd(const double *x, int n, int stride, double *m, double *sd) {
    double *v = ll_xmalloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) v[i] = x[(size_t)i * stride];
    ll_bench_summary s;
    ll_bench_summarise(v, n, &s);
    free(v);
    *m = s.mean;
    *sd = s.sd;
}


void ll_bench_result_free(ll_bench_result *b) {
    free(b->run_s); free(b->tok_s); free(b->fwd_tok_s); free(b->capture_s); free(b->solve_s); free(b->load_s);
    free(b->ent_fwd); free(b->ent_cap); free(b->ent_sec); free(b->ent_flops); free(b->ent_bytes);
    cJSON_Delete(b->model);
    memset(b, 0, sizeof *b);
}

/* ---- the grid of tests ---------------------------------------------------- */
enum { L_M, L_SY, L_BT, L_BS, L_ML, L_TH, L_BE, L_CP, N_LISTS };
typedef struct {
    strlist l[N_LISTS];
    char **sy_paths;        /* synthetic shapes: a folder means its config.json */
} plan_priv;

void ll_bench_plan_free(ll_bench_plan *p) {
    plan_priv *q = p->priv;
    if (q) {
        for (int i = 0; i < q->l[L_SY].n; i++) free(q->sy_paths[i]);
        free(q->sy_paths);
        for (int i = 0; i < N_LISTS; i++) free_list(&q->l[i]);
        free(q);
    }
    free(p->tests);
    free(p->models);
    memset(p, 0, sizeof *p);
}

/* Test k of the grid (model slowest, max length fastest). */
static int grid_test(const ll_bench_plan *p, const plan_priv *q, int k, ll_bench_test *t) {
    const strlist *L = q->l;
    static const int order[] = {L_ML, L_BS, L_BT, L_TH, L_CP, L_BE}; /* fastest first */
    int i[N_LISTS];
    for (int j = 0; j < 6; j++) {
        i[order[j]] = k % L[order[j]].n;
        k /= L[order[j]].n;
    }
    const int a = k; /* the model */
    t->model = p->models[a];
    t->synthetic = a >= L[L_M].n;
    t->backend = L[L_BE].v[i[L_BE]];
    t->compute = L[L_CP].v[i[L_CP]];
    if (parse_int(L[L_TH].v[i[L_TH]], 0, 4096, &t->threads, "threads") ||
        parse_int(L[L_BT].v[i[L_BT]], 1, (long long)1 << 40, &t->batch_tokens, "batch-tokens") ||
        parse_int(L[L_BS].v[i[L_BS]], 1, 1 << 20, &t->batch_size, "batch-size") ||
        parse_int(L[L_ML].v[i[L_ML]], 0, 1 << 24, &t->max_length, "max-length"))
        return -1;
    return 0;
}

int ll_bench_plan_make(const ll_bench_grid *g, ll_bench_plan *p) {
    memset(p, 0, sizeof *p);
    plan_priv *q = p->priv = ll_xcalloc(1, sizeof *q);
    const char *src[N_LISTS] = {g->models, g->synthetic, g->batch_tokens, g->batch_size, g->max_length, g->threads,
                                g->backend, g->compute};
    for (int i = 0; i < N_LISTS; i++) split_list(src[i], &q->l[i]);
    const strlist *M = &q->l[L_M], *SY = &q->l[L_SY];
    q->sy_paths = ll_xcalloc((size_t)SY->n + 1, sizeof(char *));
    for (int i = 0; i < SY->n; i++) {
        size_t l = strlen(SY->v[i]);
        q->sy_paths[i] = ll_xmalloc(l + 16);
        if (l >= 11 && !strcmp(SY->v[i] + l - 11, "config.json")) snprintf(q->sy_paths[i], l + 16, "%s", SY->v[i]);
        else snprintf(q->sy_paths[i], l + 16, "%s/config.json", SY->v[i]);
    }
    p->n_models = M->n + SY->n;
    p->models = ll_xcalloc((size_t)p->n_models + 1, sizeof(char *));
    for (int i = 0; i < p->n_models; i++) p->models[i] = i < M->n ? M->v[i] : q->sy_paths[i - M->n];
    long long n = p->n_models;
    for (int i = L_BT; i < N_LISTS; i++) n *= q->l[i].n;
    if (n == 0) { ll_set_error("bench: no tests (empty --model list?)"); return -1; }
    if (n > 1000000) { ll_set_error("bench: %lld tests: too many combinations", n); return -1; }
    p->n = (int)n;
    p->tests = ll_xcalloc((size_t)n, sizeof *p->tests);
    for (int k = 0; k < p->n; k++)
        if (grid_test(p, q, k, &p->tests[k]) != 0) return -1;
    return 0;
}

/* ---- peaks and the JSON record -------------------------------------------- */
void ll_bench_peaks_for(const ll_bench_result *b, double cpu_sgemm, double cpu_copy, double *gflops, double *gbps) {
    const int on_gpu = b->gpu >= 0;
    *gflops = on_gpu ? b->gemm_peak_tflops * 1e3 : cpu_sgemm;
    *gbps = on_gpu ? 0 : cpu_copy;
}

/* One entry's record: its times over the repetitions, rates and fractions of
 * the peaks. */
static cJSON *entry_json(const ll_bench_result *b, int e, double peak_gflops, double peak_gbps) {
    cJSON *x = cJSON_CreateObject();
    cJSON_AddNumberToObject(x, "entry", e);
    cJSON_AddItemToObject(x, "forward_s", summary_json(b->ent_fwd + e, b->n, b->E));
    cJSON_AddItemToObject(x, "capture_s", summary_json(b->ent_cap + e, b->n, b->E));
    double m, sd;
    ll_bench_mean_sd(b->ent_sec + e, b->n, b->E, &m, &sd);
    cJSON_AddItemToObject(x, "seconds", summary_json(b->ent_sec + e, b->n, b->E));
    cJSON_AddNumberToObject(x, "tokens_per_s", m > 0 ? b->tokens / m : 0);
    if (isfinite(b->ent_flops[e])) {
        double g = ll_bench_tflops(b->ent_flops[e], m) * 1e3;
        cJSON_AddNumberToObject(x, "flops", b->ent_flops[e]);
        cJSON_AddNumberToObject(x, "gflops_per_s", g);
        cJSON_AddNumberToObject(x, "fraction_of_peak_flops", ll_bench_fraction(g, peak_gflops));
    }
    if (isfinite(b->ent_bytes[e])) {
        double gb = ll_bench_gbps(b->ent_bytes[e], m);
        cJSON_AddNumberToObject(x, "bytes", b->ent_bytes[e]);
        cJSON_AddNumberToObject(x, "gb_per_s", gb);
        cJSON_AddNumberToObject(x, "fraction_of_peak_bytes", ll_bench_fraction(gb, peak_gbps));
    }
    return x;
}

cJSON *ll_bench_test_json(const ll_bench_test *t, ll_bench_result *b, double peak_gflops, double peak_gbps) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", t->model);
    cJSON_AddBoolToObject(o, "synthetic", t->synthetic);
    cJSON_AddNumberToObject(o, "peak_gflops", peak_gflops);
    cJSON_AddNumberToObject(o, "peak_gbps", peak_gbps);
    cJSON_AddStringToObject(o, "backend", b->backend);
    cJSON_AddStringToObject(o, "compute", b->compute);
    cJSON_AddNumberToObject(o, "threads", (double)b->threads);
    cJSON_AddNumberToObject(o, "batch_tokens", (double)t->batch_tokens);
    cJSON_AddNumberToObject(o, "batch_size", (double)t->batch_size);
    cJSON_AddNumberToObject(o, "max_length", (double)t->max_length);
    cJSON_AddNumberToObject(o, "tokens", b->tokens);
    cJSON_AddNumberToObject(o, "padded_tokens", b->padded);
    cJSON_AddNumberToObject(o, "peak_rss_bytes", b->peak_rss);
    if (b->gemm_peak_tflops > 0) cJSON_AddNumberToObject(o, "gpu_bf16_gemm_peak_tflops", b->gemm_peak_tflops);
    if (b->model) { cJSON_AddItemToObject(o, "model_info", b->model); b->model = NULL; }
    cJSON_AddItemToObject(o, "run_s", summary_json(b->run_s, b->n, 1));
    cJSON_AddItemToObject(o, "tokens_per_s", summary_json(b->tok_s, b->n, 1));
    cJSON_AddItemToObject(o, "forward_tokens_per_s", summary_json(b->fwd_tok_s, b->n, 1));
    cJSON_AddItemToObject(o, "capture_s", summary_json(b->capture_s, b->n, 1));
    cJSON_AddItemToObject(o, "solve_s", summary_json(b->solve_s, b->n, 1));
    cJSON_AddItemToObject(o, "load_s", summary_json(b->load_s, b->n, 1));
    cJSON *pe = cJSON_AddArrayToObject(o, "per_entry");
    for (int e = 0; e < b->E; e++) cJSON_AddItemToArray(pe, entry_json(b, e, peak_gflops, peak_gbps));
    return o;
}
