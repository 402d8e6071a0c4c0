/* layerlaw bench: throughput of the run pipeline, layer by layer, with
 * repetitions (warm-up dropped, mean ± sample sd, raw samples kept) as
 * llama-bench does, over comma-separated values of its parameters, and the
 * fraction of this machine's peaks measured in the same process.
 * docs/bench.md.  Options → host/bench/bench_run.h → printed. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench/bench.h"
#include "bench/bench_run.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "core/ll_util.h"
#include "pipeline/pipeline.h"
#include "hub/hub.h"
#include "report/provenance.h"

static const char *BENCH_USAGE =
    "usage: layerlaw bench --model DIR[,DIR...] (--tokens FILE | --data TEXT [--docs N]) [options]\n\n"
    "Times the run pipeline (forward, capture, statistics, solve) per layer, -r times after --warmup\n"
    "runs, for every combination of the comma-separated values; prints mean ± sd (sample) and keeps\n"
    "the raw samples.  Peaks of this machine (SGEMM, memcpy) are measured in the same process.\n";

typedef struct {
    ll_bench_grid grid;
    const char *fmt, *out_path, *tokens, *data, *tokenizer;
    int reps, warmup, no_peaks, offline;
    long long docs;
} bench_opts;

/* 0, or the exit status (1: --help printed, as 0). */
static int bench_options(bench_opts *b, int argc, char **argv) {
    ll_bench_grid *g = &b->grid;
    *b = (bench_opts){.grid = {.batch_tokens = "4096", .batch_size = "64", .max_length = "512", .threads = "0",
                               .backend = "auto", .compute = "auto"},
                      .fmt = "table", .reps = 5, .warmup = 1};
    const ll_opt opts[] = {
        {"model", LL_OPT_STR, &g->models, 0, 0, "DIR[,DIR]", "model folders or hub ids ORG/NAME[@REV] (comma-separated: one test each)"},
        {"synthetic", LL_OPT_STR, &g->synthetic, 0, 0, "SHAPE[,SHAPE]", "shape folders (configs/shapes/NAME) or config.json files:\nrandom weights at that shape (seed 0)"},
        {"tokens", LL_OPT_STR, &b->tokens, 0, 0, "FILE", "pre-tokenised input (one JSON array per line)"},
        {"data", LL_OPT_STR, &b->data, 0, 0, "TEXT", "raw text input (tokenised with the model's tokenizer.json)"},
        {"tokenizer", LL_OPT_STR, &b->tokenizer, 0, 0, "T", "tokenizer.json or folder for --data"},
        {"docs", LL_OPT_LONG, &b->docs, 1, (long long)1 << 40, "N", "--data: sample N documents"},
        {"repetitions", LL_OPT_INT, &b->reps, 1, 100000, "N", "timed runs per test (default 5)", NULL, 'r'},
        {"warmup", LL_OPT_INT, &b->warmup, 0, 1000, "W", "untimed runs first (default 1)"},
        {"batch-tokens", LL_OPT_STR, &g->batch_tokens, 0, 0, "N[,N]", "padded tokens per batch (default 4096)"},
        {"batch-size", LL_OPT_STR, &g->batch_size, 0, 0, "B[,B]", "sequences per batch (default 64)"},
        {"max-length", LL_OPT_STR, &g->max_length, 0, 0, "L[,L]", "cut sequences (default 512)"},
        {"threads", LL_OPT_STR, &g->threads, 0, 0, "T[,T]", "CPU threads (default 0: all)"},
        {"backend", LL_OPT_STR, &g->backend, 0, 0, "B[,B]", "auto|cpu|cuda (default auto)"},
        {"compute", LL_OPT_STR, &g->compute, 0, 0, "C[,C]", "auto|bf16|fp32 (default auto)"},
        {"output", LL_OPT_STR, &b->fmt, 0, 0, "F", "table (default) | csv | json", NULL, 'o'},
        {"out", LL_OPT_STR, &b->out_path, 0, 0, "FILE", "also write the JSON report (atomically)"},
        {"no-peaks", LL_OPT_FLAG, &b->no_peaks, 0, 0, NULL, "skip the CPU peak measurements"},
        {"offline", LL_OPT_FLAG, &b->offline, 0, 0, NULL, "hub ids from the cache only, no network (as HF_HUB_OFFLINE=1)"},
        {NULL, 0, NULL, 0, 0, NULL, NULL}};
    /* -r, -o: llama-bench's short forms (short_name) */
    int prc = ll_opts_parse(BENCH_USAGE, opts, argc, argv, NULL);
    if (prc) return prc == 1 ? 1 : 2;
    if (!(g->models || g->synthetic) || !!b->tokens == !!b->data)
        return cli_fail("bench: --model (or --synthetic) and exactly one of --tokens and --data are required");
    if (strcmp(b->fmt, "table") && strcmp(b->fmt, "csv") && strcmp(b->fmt, "json"))
        return cli_fail("--output: unknown format '%s' (table|csv|json)", b->fmt);
    if (b->out_path && ll_check_output_path(b->out_path, "--out") != 0) return cli_fail_lib(); /* before any work */
    return 0;
}

static void print_header(const bench_opts *b, int ntests, double sgemm, double copy) {
    if (!strcmp(b->fmt, "table")) {
        printf("layerlaw bench: %d test(s), %d repetitions after %d warm-up; mean ± sd (sample); peak RSS: the process's\n"
               "high-water mark after the test\n", ntests, b->reps, b->warmup);
        if (!b->no_peaks)
            printf("this machine, now: SGEMM 2048^3 %.1f GFLOP/s, memcpy 256 MiB %.1f GB/s (read + write)\n", sgemm, copy);
        printf("| %-24s | %8s | %-7s | %-5s | %7s | %7s | %18s | %18s | %8s | %8s | %9s |\n", "model", "params", "backend",
               "comp", "threads", "b_tok", "tokens/s", "fwd tokens/s", "capture", "solve s", "peak RSS");
        printf("|%s|\n", "--------------------------|----------|---------|-------|---------|---------|--------------------|--------------------|----------|----------|-----------");
    }
    if (!strcmp(b->fmt, "csv"))
        printf("model,n_params,backend,compute,threads,batch_tokens,batch_size,max_length,rep,entry,forward_s,capture_s,"
               "run_s,tokens,tokens_per_s,solve_s,entry_seconds,flops,bytes\n");
}

/* One test's row of the table, and its entries beneath. */
static void print_table(const ll_bench_test *t, const ll_bench_result *b, double peak_gflops, double peak_gbps) {
    double m, sd, m2, sd2, mc, sdc, ms, sds, mr, sdr;
    ll_bench_mean_sd(b->tok_s, b->n, 1, &m, &sd);
    ll_bench_mean_sd(b->fwd_tok_s, b->n, 1, &m2, &sd2);
    ll_bench_mean_sd(b->capture_s, b->n, 1, &mc, &sdc);
    ll_bench_mean_sd(b->solve_s, b->n, 1, &ms, &sds);
    ll_bench_mean_sd(b->run_s, b->n, 1, &mr, &sdr);
    char tps[40], fps[40], np[24];
    snprintf(tps, sizeof tps, "%.4g ± %.2g", m, sd);
    snprintf(fps, sizeof fps, "%.4g ± %.2g", m2, sd2);
    snprintf(np, sizeof np, "%.3gM", b->n_params / 1e6);
    printf("| %-24.24s | %8s | %-7s | %-5s | %7lld | %7lld | %18s | %18s | %7.1f%% | %8.4f | %6.0f MB |\n", t->model, np,
           b->backend, b->compute, b->threads, t->batch_tokens, tps, fps, mr > 0 ? 100 * mc / mr : 0, ms, b->peak_rss / 1e6);
    printf("    entry   forward ms (mean ± sd)   capture ms (mean ± sd)   tokens/s     GFLOP/s  %%peak     GB/s  %%peak\n");
    for (int e = 0; e < b->E; e++) {
        double fm, fs, cm, cs, sm, ss;
        ll_bench_mean_sd(b->ent_fwd + e, b->n, b->E, &fm, &fs);
        ll_bench_mean_sd(b->ent_cap + e, b->n, b->E, &cm, &cs);
        ll_bench_mean_sd(b->ent_sec + e, b->n, b->E, &sm, &ss);
        double g = ll_bench_tflops(b->ent_flops[e], sm) * 1e3, gb = ll_bench_gbps(b->ent_bytes[e], sm);
        printf("    %5d   %10.3f ± %-9.3f   %10.3f ± %-9.3f   %9.4g   %9.4g  %5.1f  %7.3g  %5.1f\n", e, 1e3 * fm, 1e3 * fs,
               1e3 * cm, 1e3 * cs, sm > 0 ? b->tokens / sm : 0, g, 100 * ll_bench_fraction(g, peak_gflops), gb,
               100 * ll_bench_fraction(gb, peak_gbps));
    }
}

static void print_csv(const ll_bench_test *t, const ll_bench_result *b) {
    for (int rep = 0; rep < b->n; rep++)
        for (int e = 0; e < b->E; e++)
            printf("%s,%.0f,%s,%s,%lld,%lld,%lld,%lld,%d,%d,%.9g,%.9g,%.9g,%.0f,%.9g,%.9g,%.9g,%.17g,%.17g\n", t->model,
                   b->n_params, b->backend, b->compute, b->threads, t->batch_tokens, t->batch_size, t->max_length, rep, e,
                   b->ent_fwd[(size_t)rep * b->E + e], b->ent_cap[(size_t)rep * b->E + e], b->run_s[rep], b->tokens,
                   b->tok_s[rep], b->solve_s[rep], b->ent_sec[(size_t)rep * b->E + e], b->ent_flops[e], b->ent_bytes[e]);
}

/* The tests in turn: each run, printed, added to arr.  0, or the status. */
static int run_tests(const bench_opts *bo, const ll_bench_plan *plan, const ll_run_opts *base, double sgemm, double copy,
                     cJSON *arr) {
    for (int i = 0; i < plan->n; i++) {
        const ll_bench_test *t = &plan->tests[i];
        ll_bench_result b;
        int r = ll_bench_run_test(t, base, bo->warmup, bo->reps, &b);
        if (r != 0) {
            cli_fail("bench: %s: %s", t->model, ll_last_error());
            ll_bench_result_free(&b);
            return r;
        }
        double peak_gflops, peak_gbps;
        ll_bench_peaks_for(&b, sgemm, copy, &peak_gflops, &peak_gbps);
        if (!strcmp(bo->fmt, "table")) print_table(t, &b, peak_gflops, peak_gbps);
        if (!strcmp(bo->fmt, "csv")) print_csv(t, &b);
        cJSON_AddItemToArray(arr, ll_bench_test_json(t, &b, peak_gflops, peak_gbps));
        ll_bench_result_free(&b);
    }
    return 0;
}

/* The JSON report on stdout (-o json) and/or into a file (--out). */
static int write_report(const bench_opts *bo, const cJSON *root) {
    if (!strcmp(bo->fmt, "json")) {
        char *txt = cJSON_Print(root);
        fputs(txt, stdout);
        fputc('\n', stdout);
        free(txt);
    }
    if (!bo->out_path) return 0;
    char *txt = cJSON_Print(root);
    int w = ll_write_file_atomic(bo->out_path, txt, strlen(txt));
    free(txt);
    if (w != 0) { cli_fail_lib(); return 1; }
    return 0;
}

/* Hub ids (host/hub/hub.h) among the models and the tokenizer → local paths,
 * kept in *owned (n_models + 1 strings: the tokenizer's last).  0, 1 or 2. */
static int resolve_hub(bench_opts *bo, ll_bench_plan *plan, char ***owned) {
    if (bo->offline) ll_hub_set_offline(1);
    char **hp = *owned = ll_xcalloc((size_t)plan->n_models + 1, sizeof(char *));
    const int need = LL_HUB_NEED_MODEL | (bo->data && !bo->tokenizer ? LL_HUB_NEED_TOKENIZER : 0);
    for (int i = 0; i < plan->n_models; i++) {
        const char *old = plan->models[i];
        int real = 0;
        for (int k = 0; k < plan->n; k++) real |= plan->tests[k].model == old && !plan->tests[k].synthetic;
        if (!real) continue;
        int hrc = ll_model_path_resolve(old, need, &hp[i], NULL);
        if (hrc) return hrc;
        for (int k = 0; k < plan->n; k++)
            if (plan->tests[k].model == old) plan->tests[k].model = hp[i];
        plan->models[i] = hp[i];
    }
    if (bo->tokenizer) {
        int hrc = ll_model_path_resolve(bo->tokenizer, LL_HUB_NEED_TOKENIZER, &hp[plan->n_models], NULL);
        if (hrc) return hrc;
        bo->tokenizer = hp[plan->n_models];
    }
    return 0;
}

static void free_owned(char **owned, int n) {
    for (int i = 0; owned && i <= n; i++) free(owned[i]);
    free(owned);
}

int cmd_bench(int argc, char **argv) {
    bench_opts bo;
    int prc = bench_options(&bo, argc, argv);
    if (prc) return prc == 1 ? 0 : prc;
    ll_bench_plan plan;
    if (ll_bench_plan_make(&bo.grid, &plan) != 0) { ll_bench_plan_free(&plan); return cli_fail_lib(); }
    char **hub_owned = NULL;
    int hrc = resolve_hub(&bo, &plan, &hub_owned);
    if (hrc) {
        cli_fail_lib();
        free_owned(hub_owned, plan.n_models);
        ll_bench_plan_free(&plan);
        return hrc;
    }
    ll_run_opts base;
    ll_run_opts_default(&base);
    base.tokens = bo.tokens;
    base.data = bo.data;
    base.tokenizer = bo.tokenizer;
    base.docs = bo.docs;
    /* this machine's peaks, now */
    double sgemm = 0, copy = 0, t_peaks = ll_now();
    if (!bo.no_peaks) ll_bench_measure_cpu_peaks(&sgemm, &copy);
    t_peaks = ll_now() - t_peaks;
    cJSON *root = cJSON_CreateObject();
    const int nm = plan.n_models;
    const char **in = ll_xcalloc((size_t)nm + 3, sizeof(char *));
    for (int i = 0; i < nm; i++) in[i] = plan.models[i];
    in[nm] = bo.tokens;
    in[nm + 1] = bo.data;
    in[nm + 2] = bo.tokenizer;
    cJSON_AddItemToObject(root, "provenance", ll_provenance(argc + 1, argv - 1, in, nm + 3));
    free(in);
    cJSON_AddNumberToObject(root, "repetitions", bo.reps);
    cJSON_AddNumberToObject(root, "warmup", bo.warmup);
    cJSON *arr = cJSON_AddArrayToObject(root, "tests");
    print_header(&bo, plan.n, sgemm, copy);
    int rc = run_tests(&bo, &plan, &base, sgemm, copy, arr);
    if (rc == 0) {
        cJSON *pk = cJSON_AddObjectToObject(root, "peaks");
        cJSON_AddNumberToObject(pk, "cpu_sgemm_gflops", sgemm);
        cJSON_AddNumberToObject(pk, "cpu_memcpy_gbps", copy);
        cJSON_AddNumberToObject(pk, "measure_s", t_peaks);
        rc = write_report(&bo, root);
    }
    cJSON_Delete(root);
    free_owned(hub_owned, plan.n_models);
    ll_bench_plan_free(&plan);
    return rc;
}
