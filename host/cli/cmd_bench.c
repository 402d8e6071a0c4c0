/* layerlaw bench: throughput of the run pipeline, layer by layer, with
 * repetitions (warm-up dropped, mean ± sample sd, raw samples kept) as
 * llama-bench does, over comma-separated values of its parameters, and the
 * fraction of this machine's peaks measured in the same process.
 * docs/bench.md. */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench/bench.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "core/ll_util.h"
#include "pipeline/pipeline.h"
#include "hub/hub.h"
#include "report/provenance.h"

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

typedef struct {
    const char *model, *backend, *compute;
    int synthetic;
    long long batch_tokens, batch_size, max_length, threads;
} bench_test;

typedef struct {
    int n;            /* repetitions kept */
    int E;
    double *run_s, *tok_s, *fwd_tok_s, *capture_s, *solve_s, *load_s; /* [n] */
    double *ent_fwd, *ent_cap; /* [n][E] seconds per rep (host clock) */
    double *ent_sec;           /* [n][E] the entry's compute seconds: device events on CUDA, else ent_fwd */
    double *ent_flops, *ent_bytes; /* [E] counted over one run (ll_model_cost), NaN if unknown */
    double tokens, padded, n_params, peak_rss, gemm_peak_tflops;
    char backend[16], compute[16]; /* as resolved by the pipeline */
    long long threads;
    cJSON *model;
} bench_result;

static void bench_result_free(bench_result *b) {
    free(b->run_s); free(b->tok_s); free(b->fwd_tok_s); free(b->capture_s); free(b->solve_s); free(b->load_s);
    free(b->ent_fwd); free(b->ent_cap); free(b->ent_sec); free(b->ent_flops); free(b->ent_bytes);
    cJSON_Delete(b->model);
}

/* Runs one test warmup + reps times; 0 or the pipeline's status. */
static int run_test(const bench_test *t, const ll_run_opts *base, int warmup, int reps, bench_result *b) {
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
        memset(&r, 0, sizeof r);
        int rc = ll_run_pipeline(&o, &r);
        if (rc != 0) { ll_run_result_free(&r); return rc; }
        if (!b->ent_fwd) {
            b->E = r.E;
            b->ent_fwd = ll_xcalloc((size_t)reps * (size_t)r.E, sizeof(double));
            b->ent_cap = ll_xcalloc((size_t)reps * (size_t)r.E, sizeof(double));
            b->ent_sec = ll_xcalloc((size_t)reps * (size_t)r.E, sizeof(double));
            b->ent_flops = ll_xcalloc((size_t)r.E, sizeof(double));
            b->ent_bytes = ll_xcalloc((size_t)r.E, sizeof(double));
            const cJSON *tp = cJSON_GetObjectItemCaseSensitive(r.extra, "throughput");
            const cJSON *fl = cJSON_GetObjectItemCaseSensitive(tp, "per_entry_flops"),
                        *by = cJSON_GetObjectItemCaseSensitive(tp, "per_entry_bytes");
            for (int e = 0; e < r.E; e++) {
                const cJSON *f = cJSON_GetArrayItem(fl, e), *y = cJSON_GetArrayItem(by, e);
                b->ent_flops[e] = cJSON_IsNumber(f) ? f->valuedouble : NAN;
                b->ent_bytes[e] = cJSON_IsNumber(y) ? y->valuedouble : NAN;
            }
        }
        if (k >= 0) {
            double cap = 0;
            for (int e = 0; e < r.E && e < b->E; e++) {
                b->ent_fwd[(size_t)k * b->E + e] = r.forward_s ? r.forward_s[e] : NAN;
                b->ent_cap[(size_t)k * b->E + e] = r.capture_s ? r.capture_s[e] : NAN;
                b->ent_sec[(size_t)k * b->E + e] = b->ent_fwd[(size_t)k * b->E + e];
                cap += r.capture_s ? r.capture_s[e] : 0;
            }
            b->run_s[k] = r.run_s;
            b->tok_s[k] = r.run_s > 0 ? (double)r.tokens / r.run_s : 0;
            b->fwd_tok_s[k] = r.run_s - cap > 0 ? (double)r.tokens / (r.run_s - cap) : 0;
            b->capture_s[k] = cap;
            b->solve_s[k] = r.solve_s;
            b->load_s[k] = r.load_s;
            b->n = k + 1;
            b->tokens = (double)r.tokens;
            b->padded = (double)r.padded_tokens;
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(r.extra, "model");
            if (m && !b->model) b->model = cJSON_Duplicate(m, 1);
            b->n_params = ll_json_num(r.extra, "model", "n_params");
            const cJSON *cb = cJSON_GetObjectItemCaseSensitive(r.config, "backend"),
                        *cc = cJSON_GetObjectItemCaseSensitive(r.config, "compute");
            snprintf(b->backend, sizeof b->backend, "%s", cJSON_IsString(cb) ? cb->valuestring : t->backend);
            snprintf(b->compute, sizeof b->compute, "%s", cJSON_IsString(cc) ? cc->valuestring : t->compute);
            const cJSON *ct = cJSON_GetObjectItemCaseSensitive(r.config, "threads");
            b->threads = cJSON_IsNumber(ct) ? (long long)ct->valuedouble : t->threads;
            double g = ll_json_num(r.extra, "gpu_timing", "peak_bf16_gemm_tflops");
            if (isfinite(g)) b->gemm_peak_tflops = g;
            /* on CUDA the host clock sees launches, not work: the device
             * events per entry (ms per batch x batches) */
            const cJSON *gt = cJSON_GetObjectItemCaseSensitive(r.extra, "gpu_timing");
            const cJSON *pe = cJSON_GetObjectItemCaseSensitive(gt, "per_entry");
            double nb = ll_json_num(r.extra, "gpu_timing", "batches");
            if (cJSON_IsArray(pe) && nb > 0)
                for (int e = 0; e < b->E; e++) {
                    double ms = ll_json_num(cJSON_GetArrayItem(pe, e), "layer_ms_per_batch", NULL);
                    if (isfinite(ms)) b->ent_sec[(size_t)k * b->E + e] = ms * nb / 1000;
                }
        }
        ll_run_result_free(&r);
    }
    b->peak_rss = ll_peak_rss_bytes();
    return 0;
}

/* This machine's CPU peaks, measured in a child process so that their
 * buffers never count in the tests' peak RSS.  0, or -1. */
static int measure_cpu_peaks(double *sgemm, double *copy) {
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

static void mean_sd(const double *x, int n, int stride, double *m, double *sd) {
    double *v = ll_xmalloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) v[i] = x[(size_t)i * stride];
    ll_bench_summary s;
    ll_bench_summarise(v, n, &s);
    free(v);
    *m = s.mean;
    *sd = s.sd;
}

static const char *BENCH_USAGE =
    "usage: layerlaw bench --model DIR[,DIR...] (--tokens FILE | --data TEXT [--docs N]) [options]\n\n"
    "Times the run pipeline (forward, capture, statistics, solve) per layer, -r times after --warmup\n"
    "runs, for every combination of the comma-separated values; prints mean ± sd (sample) and keeps\n"
    "the raw samples.  Peaks of this machine (SGEMM, memcpy) are measured in the same process.\n";

int cmd_bench(int argc, char **argv) {
    const char *models_s = NULL, *synth_s = NULL, *bt_s = "4096", *bs_s = "64", *ml_s = "512", *th_s = "0", *be_s = "auto",
               *cp_s = "auto", *fmt = "table", *out_path = NULL, *tokens = NULL, *data = NULL, *tokenizer = NULL;
    int reps = 5, warmup = 1, no_peaks = 0, offline = 0;
    long long docs = 0;
    const ll_opt opts[] = {
        {"model", LL_OPT_STR, &models_s, 0, 0, "DIR[,DIR]", "model folders or hub ids ORG/NAME[@REV] (comma-separated: one test each)"},
        {"synthetic", LL_OPT_STR, &synth_s, 0, 0, "SHAPE[,SHAPE]", "shape folders (configs/shapes/NAME) or config.json files:\nrandom weights at that shape (seed 0)"},
        {"tokens", LL_OPT_STR, &tokens, 0, 0, "FILE", "pre-tokenised input (one JSON array per line)"},
        {"data", LL_OPT_STR, &data, 0, 0, "TEXT", "raw text input (tokenised with the model's tokenizer.json)"},
        {"tokenizer", LL_OPT_STR, &tokenizer, 0, 0, "T", "tokenizer.json or folder for --data"},
        {"docs", LL_OPT_LONG, &docs, 1, (long long)1 << 40, "N", "--data: sample N documents"},
        {"repetitions", LL_OPT_INT, &reps, 1, 100000, "N", "timed runs per test (default 5)", NULL, 'r'},
        {"warmup", LL_OPT_INT, &warmup, 0, 1000, "W", "untimed runs first (default 1)"},
        {"batch-tokens", LL_OPT_STR, &bt_s, 0, 0, "N[,N]", "padded tokens per batch (default 4096)"},
        {"batch-size", LL_OPT_STR, &bs_s, 0, 0, "B[,B]", "sequences per batch (default 64)"},
        {"max-length", LL_OPT_STR, &ml_s, 0, 0, "L[,L]", "cut sequences (default 512)"},
        {"threads", LL_OPT_STR, &th_s, 0, 0, "T[,T]", "CPU threads (default 0: all)"},
        {"backend", LL_OPT_STR, &be_s, 0, 0, "B[,B]", "auto|cpu|cuda (default auto)"},
        {"compute", LL_OPT_STR, &cp_s, 0, 0, "C[,C]", "auto|bf16|fp32 (default auto)"},
        {"output", LL_OPT_STR, &fmt, 0, 0, "F", "table (default) | csv | json", NULL, 'o'},
        {"out", LL_OPT_STR, &out_path, 0, 0, "FILE", "also write the JSON report (atomically)"},
        {"no-peaks", LL_OPT_FLAG, &no_peaks, 0, 0, NULL, "skip the CPU peak measurements"},
        {"offline", LL_OPT_FLAG, &offline, 0, 0, NULL, "hub ids (ORG/NAME[@REV]) from the cache only, no network"},
        {NULL, 0, NULL, 0, 0, NULL, NULL}};
    /* -r, -o: llama-bench's short forms (short_name) */
    int prc = ll_opts_parse(BENCH_USAGE, opts, argc, argv, NULL);
    if (prc) return prc == 1 ? 0 : 2;
    if (!(models_s || synth_s) || !!tokens == !!data)
        return cli_fail("bench: --model (or --synthetic) and exactly one of --tokens and --data are required");
    if (strcmp(fmt, "table") && strcmp(fmt, "csv") && strcmp(fmt, "json"))
        return cli_fail("--output: unknown format '%s' (table|csv|json)", fmt);
    strlist M, SY, BT, BS, ML, TH, BE, CP;
    split_list(models_s, &M);
    split_list(synth_s, &SY);
    /* hub ids ORG/NAME[@REV] → local paths (host/hub/hub.h); hub_paths[M.n] is the tokenizer's */
    if (offline) ll_hub_set_offline(1);
    char **hub_paths = ll_xcalloc((size_t)M.n + 1, sizeof(char *));
    int hrc = 0;
    for (int i = 0; !hrc && i < M.n; i++)
        if (!(hrc = ll_model_path_resolve(M.v[i], LL_HUB_NEED_MODEL | (data && !tokenizer ? LL_HUB_NEED_TOKENIZER : 0),
                                          &hub_paths[i], NULL)))
            M.v[i] = hub_paths[i];
    if (!hrc && tokenizer && !(hrc = ll_model_path_resolve(tokenizer, LL_HUB_NEED_TOKENIZER, &hub_paths[M.n], NULL)))
        tokenizer = hub_paths[M.n];
    if (hrc) {
        cli_fail_lib();
        for (int i = 0; i <= M.n; i++) free(hub_paths[i]);
        free(hub_paths);
        free_list(&M);
        free_list(&SY);
        return hrc;
    }
    /* synthetic shapes: a folder means its config.json */
    char **sy_paths = ll_xcalloc((size_t)SY.n + 1, sizeof(char *));
    for (int i = 0; i < SY.n; i++) {
        size_t l = strlen(SY.v[i]);
        sy_paths[i] = ll_xmalloc(l + 16);
        if (l >= 11 && !strcmp(SY.v[i] + l - 11, "config.json")) snprintf(sy_paths[i], l + 16, "%s", SY.v[i]);
        else snprintf(sy_paths[i], l + 16, "%s/config.json", SY.v[i]);
    }
    split_list(bt_s, &BT);
    split_list(bs_s, &BS);
    split_list(ml_s, &ML);
    split_list(th_s, &TH);
    split_list(be_s, &BE);
    split_list(cp_s, &CP);
    const int nm = M.n + SY.n, nbt = BT.n, nbs = BS.n, nml = ML.n, nth = TH.n, nbe = BE.n, ncp = CP.n;
    int rc = 2;
    int ntests = nm * nbt * nbs * nml * nth * nbe * ncp;
    bench_test *tests = ll_xcalloc((size_t)(ntests > 0 ? ntests : 1), sizeof *tests);
    int k = 0;
    for (int a = 0; a < nm; a++)
        for (int b1 = 0; b1 < nbe; b1++)
            for (int c1 = 0; c1 < ncp; c1++)
                for (int d1 = 0; d1 < nth; d1++)
                    for (int e1 = 0; e1 < nbt; e1++)
                        for (int f1 = 0; f1 < nbs; f1++)
                            for (int g1 = 0; g1 < nml; g1++) {
                                bench_test *t = &tests[k++];
                                t->model = a < M.n ? M.v[a] : sy_paths[a - M.n];
                                t->synthetic = a >= M.n;
                                t->backend = BE.v[b1];
                                t->compute = CP.v[c1];
                                if (parse_int(TH.v[d1], 0, 4096, &t->threads, "threads") ||
                                    parse_int(BT.v[e1], 1, (long long)1 << 40, &t->batch_tokens, "batch-tokens") ||
                                    parse_int(BS.v[f1], 1, 1 << 20, &t->batch_size, "batch-size") ||
                                    parse_int(ML.v[g1], 0, 1 << 24, &t->max_length, "max-length")) {
                                    rc = cli_fail_lib();
                                    goto done;
                                }
                            }
    if (ntests == 0) { rc = cli_fail("bench: no tests (empty --model list?)"); goto done; }
    ll_run_opts base;
    ll_run_opts_default(&base);
    base.tokens = tokens;
    base.data = data;
    base.tokenizer = tokenizer;
    base.docs = docs;
    /* this machine's peaks, now (in a child: see measure_cpu_peaks) */
    double sgemm = 0, copy = 0, t_peaks = ll_now();
    if (!no_peaks) measure_cpu_peaks(&sgemm, &copy);
    t_peaks = ll_now() - t_peaks;
    cJSON *root = cJSON_CreateObject();
    const char **in = ll_xcalloc((size_t)nm + 3, sizeof(char *));
    for (int i = 0; i < nm; i++) in[i] = i < M.n ? M.v[i] : sy_paths[i - M.n];
    in[nm] = tokens;
    in[nm + 1] = data;
    in[nm + 2] = tokenizer;
    cJSON_AddItemToObject(root, "provenance", ll_provenance(argc + 1, argv - 1, in, nm + 3));
    free(in);
    cJSON_AddNumberToObject(root, "repetitions", reps);
    cJSON_AddNumberToObject(root, "warmup", warmup);
    cJSON *arr = cJSON_AddArrayToObject(root, "tests");
    const int table = !strcmp(fmt, "table"), csv = !strcmp(fmt, "csv");
    if (table) {
        printf("layerlaw bench: %d test(s), %d repetitions after %d warm-up; mean ± sd (sample); peak RSS: the process's\n"
               "high-water mark after the test\n", ntests, reps, warmup);
        if (!no_peaks)
            printf("this machine, now: SGEMM 2048^3 %.1f GFLOP/s, memcpy 256 MiB %.1f GB/s (read + write)\n", sgemm, copy);
        printf("| %-24s | %8s | %-7s | %-5s | %7s | %7s | %18s | %18s | %8s | %8s | %9s |\n", "model", "params", "backend",
               "comp", "threads", "b_tok", "tokens/s", "fwd tokens/s", "capture", "solve s", "peak RSS");
        printf("|%s|\n", "--------------------------|----------|---------|-------|---------|---------|--------------------|--------------------|----------|----------|-----------");
    }
    if (csv)
        printf("model,n_params,backend,compute,threads,batch_tokens,batch_size,max_length,rep,entry,forward_s,capture_s,"
               "run_s,tokens,tokens_per_s,solve_s,entry_seconds,flops,bytes\n");
    for (int i = 0; i < ntests; i++) {
        const bench_test *t = &tests[i];
        bench_result b;
        int r = run_test(t, &base, warmup, reps, &b);
        if (r != 0) {
            cli_fail("bench: %s: %s", t->model, ll_last_error());
            bench_result_free(&b);
            cJSON_Delete(root);
            rc = r;
            goto done;
        }
        /* the peaks this test is compared with: the CPU's, or the GPU's
         * bf16 GEMM measured by the pipeline (no device copy peak here) */
        const int on_gpu = !strcmp(b.backend, "cuda");
        const double peak_gflops = on_gpu ? b.gemm_peak_tflops * 1e3 : sgemm, peak_gbps = on_gpu ? 0 : copy;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", t->model);
        cJSON_AddBoolToObject(o, "synthetic", t->synthetic);
        cJSON_AddNumberToObject(o, "peak_gflops", peak_gflops);
        cJSON_AddNumberToObject(o, "peak_gbps", peak_gbps);
        cJSON_AddStringToObject(o, "backend", b.backend);
        cJSON_AddStringToObject(o, "compute", b.compute);
        cJSON_AddNumberToObject(o, "threads", (double)b.threads);
        cJSON_AddNumberToObject(o, "batch_tokens", (double)t->batch_tokens);
        cJSON_AddNumberToObject(o, "batch_size", (double)t->batch_size);
        cJSON_AddNumberToObject(o, "max_length", (double)t->max_length);
        cJSON_AddNumberToObject(o, "tokens", b.tokens);
        cJSON_AddNumberToObject(o, "padded_tokens", b.padded);
        cJSON_AddNumberToObject(o, "peak_rss_bytes", b.peak_rss);
        if (b.gemm_peak_tflops > 0) cJSON_AddNumberToObject(o, "gpu_bf16_gemm_peak_tflops", b.gemm_peak_tflops);
        if (b.model) { cJSON_AddItemToObject(o, "model_info", b.model); b.model = NULL; }
        cJSON_AddItemToObject(o, "run_s", summary_json(b.run_s, b.n, 1));
        cJSON_AddItemToObject(o, "tokens_per_s", summary_json(b.tok_s, b.n, 1));
        cJSON_AddItemToObject(o, "forward_tokens_per_s", summary_json(b.fwd_tok_s, b.n, 1));
        cJSON_AddItemToObject(o, "capture_s", summary_json(b.capture_s, b.n, 1));
        cJSON_AddItemToObject(o, "solve_s", summary_json(b.solve_s, b.n, 1));
        cJSON_AddItemToObject(o, "load_s", summary_json(b.load_s, b.n, 1));
        cJSON *pe = cJSON_AddArrayToObject(o, "per_entry");
        for (int e = 0; e < b.E; e++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "entry", e);
            cJSON_AddItemToObject(x, "forward_s", summary_json(b.ent_fwd + e, b.n, b.E));
            cJSON_AddItemToObject(x, "capture_s", summary_json(b.ent_cap + e, b.n, b.E));
            double m, sd;
            mean_sd(b.ent_sec + e, b.n, b.E, &m, &sd);
            cJSON_AddItemToObject(x, "seconds", summary_json(b.ent_sec + e, b.n, b.E));
            cJSON_AddNumberToObject(x, "tokens_per_s", m > 0 ? b.tokens / m : 0);
            if (isfinite(b.ent_flops[e])) {
                double g = ll_bench_tflops(b.ent_flops[e], m) * 1e3;
                cJSON_AddNumberToObject(x, "flops", b.ent_flops[e]);
                cJSON_AddNumberToObject(x, "gflops_per_s", g);
                cJSON_AddNumberToObject(x, "fraction_of_peak_flops", ll_bench_fraction(g, peak_gflops));
            }
            if (isfinite(b.ent_bytes[e])) {
                double gb = ll_bench_gbps(b.ent_bytes[e], m);
                cJSON_AddNumberToObject(x, "bytes", b.ent_bytes[e]);
                cJSON_AddNumberToObject(x, "gb_per_s", gb);
                cJSON_AddNumberToObject(x, "fraction_of_peak_bytes", ll_bench_fraction(gb, peak_gbps));
            }
            cJSON_AddItemToArray(pe, x);
        }
        cJSON_AddItemToArray(arr, o);
        double m, sd, m2, sd2, mc, sdc, ms, sds, mr, sdr;
        mean_sd(b.tok_s, b.n, 1, &m, &sd);
        mean_sd(b.fwd_tok_s, b.n, 1, &m2, &sd2);
        mean_sd(b.capture_s, b.n, 1, &mc, &sdc);
        mean_sd(b.solve_s, b.n, 1, &ms, &sds);
        mean_sd(b.run_s, b.n, 1, &mr, &sdr);
        if (table) {
            char tps[40], fps[40], np[24];
            snprintf(tps, sizeof tps, "%.4g ± %.2g", m, sd);
            snprintf(fps, sizeof fps, "%.4g ± %.2g", m2, sd2);
            snprintf(np, sizeof np, "%.3gM", b.n_params / 1e6);
            printf("| %-24.24s | %8s | %-7s | %-5s | %7lld | %7lld | %18s | %18s | %7.1f%% | %8.4f | %6.0f MB |\n",
                   t->model, np, b.backend, b.compute, b.threads, t->batch_tokens, tps, fps,
                   mr > 0 ? 100 * mc / mr : 0, ms, b.peak_rss / 1e6);
        }
        if (csv)
            for (int rep = 0; rep < b.n; rep++)
                for (int e = 0; e < b.E; e++)
                    printf("%s,%.0f,%s,%s,%lld,%lld,%lld,%lld,%d,%d,%.9g,%.9g,%.9g,%.0f,%.9g,%.9g,%.9g,%.17g,%.17g\n", t->model, b.n_params,
                           b.backend, b.compute, b.threads, t->batch_tokens, t->batch_size, t->max_length, rep, e,
                           b.ent_fwd[(size_t)rep * b.E + e], b.ent_cap[(size_t)rep * b.E + e], b.run_s[rep], b.tokens,
                           b.tok_s[rep], b.solve_s[rep], b.ent_sec[(size_t)rep * b.E + e], b.ent_flops[e], b.ent_bytes[e]);
        if (table) { /* per layer */
            printf("    entry   forward ms (mean ± sd)   capture ms (mean ± sd)   tokens/s     GFLOP/s  %%peak     GB/s  %%peak\n");
            for (int e = 0; e < b.E; e++) {
                double fm, fs, cm, cs, sm, ss;
                mean_sd(b.ent_fwd + e, b.n, b.E, &fm, &fs);
                mean_sd(b.ent_cap + e, b.n, b.E, &cm, &cs);
                mean_sd(b.ent_sec + e, b.n, b.E, &sm, &ss);
                double g = ll_bench_tflops(b.ent_flops[e], sm) * 1e3, gb = ll_bench_gbps(b.ent_bytes[e], sm);
                printf("    %5d   %10.3f ± %-9.3f   %10.3f ± %-9.3f   %9.4g   %9.4g  %5.1f  %7.3g  %5.1f\n", e, 1e3 * fm,
                       1e3 * fs, 1e3 * cm, 1e3 * cs, sm > 0 ? b.tokens / sm : 0, g, 100 * ll_bench_fraction(g, peak_gflops),
                       gb, 100 * ll_bench_fraction(gb, peak_gbps));
            }
        }
        bench_result_free(&b);
    }
    cJSON *pk = cJSON_AddObjectToObject(root, "peaks");
    cJSON_AddNumberToObject(pk, "cpu_sgemm_gflops", sgemm);
    cJSON_AddNumberToObject(pk, "cpu_memcpy_gbps", copy);
    cJSON_AddNumberToObject(pk, "measure_s", t_peaks);
    if (!strcmp(fmt, "json")) {
        char *txt = cJSON_Print(root);
        fputs(txt, stdout);
        fputc('\n', stdout);
        free(txt);
    }
    if (out_path) {
        char *txt = cJSON_Print(root);
        int w = ll_write_file_atomic(out_path, txt, strlen(txt));
        free(txt);
        if (w != 0) { cJSON_Delete(root); cli_fail_lib(); rc = 1; goto done; }
    }
    cJSON_Delete(root);
    rc = 0;
done:
    free(tests);
    for (int i = 0; i <= M.n; i++) free(hub_paths[i]);
    free(hub_paths);
    free_list(&M);
    free_list(&SY);
    for (int i = 0; i < SY.n; i++) free(sy_paths[i]);
    free(sy_paths);
    free_list(&BT);
    free_list(&BS);
    free_list(&ML);
    free_list(&TH);
    free_list(&BE);
    free_list(&CP);
    return rc;
}
