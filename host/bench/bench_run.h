/* `layerlaw bench` in the library: the grid of tests (every combination of
 * comma-separated values), repetitions of the run pipeline per test (warm-up
 * dropped; per-entry times from the host clock, or the device events on a
 * GPU), this machine's CPU peaks, and each test's JSON record.  The CLI
 * (host/cli/cmd_bench.c) parses options, calls these and prints. */
#ifndef LL_BENCH_RUN_H
#define LL_BENCH_RUN_H
#include <cJSON.h>
#include "pipeline/pipeline.h"

typedef struct {
    const char *model;      /* a model folder, or a shape's config.json (synthetic) */
    int synthetic;
    const char *backend, *compute;
    long long batch_tokens, batch_size, max_length, threads;
} ll_bench_test;

/* Comma-separated values (NULL: none for models/synthetic). */
typedef struct {
    const char *models, *synthetic;   /* synthetic: shape folders or config.json files */
    const char *batch_tokens, *batch_size, *max_length, *threads, *backend, *compute;
} ll_bench_grid;

typedef struct {
    int n;
    ll_bench_test *tests;   /* [n]: model, backend, compute, threads, batch tokens, batch size, max length (last fastest) */
    int n_models;
    const char **models;    /* [n_models]: the model paths (synthetic: their config.json) */
    void *priv;             /* the strings they point into */
} ll_bench_plan;

/* 0, or -1 + error (a bad value: exit 2; no tests: an empty model list). */
int ll_bench_plan_make(const ll_bench_grid *g, ll_bench_plan *p);
void ll_bench_plan_free(ll_bench_plan *p);

typedef struct {
    int n;                  /* repetitions kept */
    int E;
    double *run_s, *tok_s, *fwd_tok_s, *capture_s, *solve_s, *load_s; /* [n] */
    double *ent_fwd, *ent_cap; /* [n][E] seconds per rep (host clock) */
    double *ent_sec;        /* [n][E] the entry's compute seconds: device events on a GPU, else ent_fwd */
    double *ent_flops, *ent_bytes; /* [E] counted over one run (ll_model_cost), NaN if unknown */
    double tokens, padded, n_params, peak_rss, gemm_peak_tflops;
    char backend[16], compute[16]; /* as resolved by the pipeline */
    int gpu;                /* the GPU it ran on (-1: the CPU) */
    long long threads;
    cJSON *model;
} ll_bench_result;

/* Runs test t warmup + reps times over base's input (progress off).  0, or
 * the pipeline's status (its error in ll_last_error). */
int ll_bench_run_test(const ll_bench_test *t, const ll_run_opts *base, int warmup, int reps, ll_bench_result *b);
void ll_bench_result_free(ll_bench_result *b);

/* This machine's CPU peaks (2048^3 SGEMM GFLOP/s, 256 MiB memcpy GB/s),
 * measured in a child process so that their buffers never count in the
 * tests' peak RSS.  0, or -1 (then 0s). */
int ll_bench_measure_cpu_peaks(double *sgemm_gflops, double *copy_gbps);

/* The peaks a result is compared with: the CPU's, or on a GPU its bf16
 * GEMM measured by the pipeline (no device copy peak: 0). */
void ll_bench_peaks_for(const ll_bench_result *b, double cpu_sgemm, double cpu_copy, double *gflops, double *gbps);

/* mean and sample sd of x[0], x[stride], ... (n values). */
void ll_bench_mean_sd(const double *x, int n, int stride, double *mean, double *sd);

/* The JSON record of one test (takes over b->model). */
cJSON *ll_bench_test_json(const ll_bench_test *t, ll_bench_result *b, double peak_gflops, double peak_gbps);
#endif
