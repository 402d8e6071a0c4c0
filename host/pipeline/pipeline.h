/* The run pipeline: one call from a model and an input to a result.
 *
 *   input (token file, or raw text tokenised on the fly)
 *     → pass 1: every sequence checked, examples counted, lengths kept
 *     → ranks: ll_dist_assign (single process: everything is rank 0's)
 *     → batches (longest first inside windows of ~1M tokens, or input order)
 *     → ll_model_forward on the chosen backend, every entry handed to the
 *       probe sink (fused capture: statistics, never N×E×d) and the dump sink
 *     → the solve strategy chosen once (pipeline/solve.h, shared with
 *       ll_fit_pipeline): reduce across ranks, every entry's probe → the law
 *     → ll_run_result (written by ll_run_result_write through
 *       host/report/report.h)
 *
 * The steps, one file each: input.c (options, input, pass 1, class plan,
 * batch plan), sinks.c, forward.c (pass 2), run_solve.c, record.c (costs,
 * configuration, law.json members via report/run_json.h); pipeline.c calls
 * them in order (pipeline/run_state.h lists them).
 *
 * Used by `layerlaw run`, the tests, the benchmarks and `layerlaw sweep`.
 * The CLI only parses options into ll_run_opts and prints. */
#ifndef LL_PIPELINE_H
#define LL_PIPELINE_H
#include <cJSON.h>
#include <stdint.h>
#include "capture/capture.h"
#include "dist/dist.h"
#include "probe/probe.h"

typedef struct {
    /* model: an HF folder (or a .gguf file where supported) */
    const char *model;
    /* 1: `model` is a config.json (configs/shapes/): a synthetic model with
     * random weights at that shape (ll_model_synthetic), for throughput */
    int synthetic;
    uint64_t synthetic_seed;
    /* input: exactly one of tokens / data */
    const char *tokens;     /* one JSON array of ids per line */
    const char *data;       /* raw text (txt / JSONL, .gz) */
    const char *tokenizer;  /* --data: tokenizer.json or folder (NULL: the model's) */
    const char *split;      /* auto|line|paragraph|file|jsonl */
    const char *text_field; /* JSONL field */
    long long docs;         /* sample this many documents (0: all) */
    uint64_t seed;          /* sampling seed */
    int max_length;         /* cut sequences (0: no cut); default 512 */
    /* batching */
    int batch_size;         /* default 64 */
    long long batch_tokens; /* default 4096; 0: 4096, or with stages the largest that keeps
                               the pipeline bubble <= 10% (docs/distributed.md) */
    int keep_order;         /* input order (implied by dump_hidden) */
    /* measurement */
    ll_position position;
    int norm_initialized;   /* 1: the model's own fresh norm (norm ignored) */
    ll_norm norm;
    int norm_last;
    int fit_from;           /* default 1 */
    double ridge;
    int have_shuffle;
    uint64_t shuffle_seed;
    const char *dump_hidden; /* NULL: none */
    /* the paper's other measures (docs/measures.md) */
    int measure;            /* ll_measure: pr (default), fuzziness, onehot */
    int max_classes;        /* fuzziness/onehot class budget (0: all that fit in 8 GiB) */
    int folds;              /* held-out PR over this many folds of sequences (0: off) */
    uint64_t fold_seed;
    int embedding_entry;
    /* labels for the figures, recorded in law.json's config (run_options.h) */
    const char *series, *label; /* NULL: derived by the figures from the model name */
    const char *weights;        /* "checkpoint" | "random" (NULL: random for synthetic, else checkpoint) */
    /* execution */
    const char *backend;    /* auto|cpu|cuda */
    int device;
    const char *compute;    /* auto|bf16|fp32 */
    int threads;            /* <= 0: all cores */
    int progress;           /* 1: a live line on a terminal stderr (never when piped); 0: no line;
                               -1: silent (not even the one-line backend notice) */
    const char *progress_label; /* prefix of that line (e.g. "point 3/12"), may be NULL */
    ll_dist *dist;          /* NULL: single process */
    int stages;             /* layer (pipeline) parallel: the ranks run the model's layers in this
                               many consecutive blocks (0/1: every rank runs every layer); the
                               job's ranks must be a multiple: replicas x stages (docs/distributed.md) */
    /* extra sinks that see every entry too (tests, benchmarks); not owned */
    ll_capture *extra_sink;
} ll_run_opts;

/* The defaults of `layerlaw run`. */
void ll_run_opts_default(ll_run_opts *o);

/* A result of run (ll_run_pipeline) or fit (ll_fit_pipeline, pipeline/fit.h:
 * no per-entry timings, no token counts). */
typedef struct {
    int E, d;
    long N;                 /* examples */
    ll_probe_result *res;   /* [E] */
    int have_law;
    ll_law law;
    cJSON *config;          /* the exact configuration that produced it */
    cJSON *extra;           /* model, throughput, memory, gpu_timing, ranks: top-level law.json members */
    /* per-entry timings (seconds over the run) and totals */
    double *forward_s, *capture_s; /* [E] */
    double load_s, tokenize_s, run_s, solve_s;
    long long tokens, padded_tokens, sequences;
    int rank;               /* this process's rank: only rank 0 holds a result to write */
    int gpu;                /* the GPU the run computed on (-1: the CPU) */
    int measure;            /* ll_measure of res[].pr (fuzziness: res[].pr = D, rss/tss = tr Sw, tr Sb) */
    double *pr_heldout, *pr_heldout_fold_mean, *pr_heldout_fold_sd; /* [E] with folds, else NULL */
} ll_run_result;

/* Runs everything.  Returns 0, or the exit status of `layerlaw run`: 2 bad
 * input (ll_last_error names the file and the problem; nothing was written),
 * 1 a runtime failure. */
int ll_run_pipeline(const ll_run_opts *o, ll_run_result *r);
void ll_run_result_free(ll_run_result *r);
/* law.json + layers.csv of a result into outdir (host/report/report.h), as
 * one set; its config and extra are taken over.  0, or -1 + error. */
int ll_run_result_write(const char *outdir, ll_run_result *r);
/* The former name of ll_run_result_write. */
static inline int ll_report_write_run(const char *outdir, ll_run_result *r) { return ll_run_result_write(outdir, r); }
#endif
