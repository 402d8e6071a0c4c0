/* The law.json members a run adds beside its results (docs/results.md):
 * "throughput", "stages", "gpu_timing", from plain figures (the report knows
 * no pipeline type: host/pipeline/record.c fills these and calls them). */
#ifndef LL_REPORT_RUN_JSON_H
#define LL_REPORT_RUN_JSON_H
#include <cJSON.h>

typedef struct {
    int E;
    long long sequences, sequences_cut, tokens, padded_tokens, batches;
    long long documents;            /* --data: documents read; -1: a token file */
    double seconds, capture_s, load_s, tokenize_s, solve_s;
    const double *forward_s, *entry_capture_s; /* [E] host seconds per entry */
    const double *flops;            /* [E] counted over the run, or NULL */
    const double *bytes;            /* [E] weights once per batch + activations per token, or NULL */
} ll_run_throughput;
cJSON *ll_report_run_throughput(const ll_run_throughput *t);

/* Per stage, LL_STAGE_FIGURES doubles: first layer, end layer, first entry,
 * last entry, weight bytes, parameters in its layers, receive wait, send
 * wait, seconds. */
enum { LL_STAGE_FIGURES = 9 };
typedef struct {
    int stages, replicas;
    int nccl;                       /* the hand-over is NCCL send/recv (else MPI through the host) */
    const double *per_stage;        /* [stages][LL_STAGE_FIGURES] */
    long long micro_batches, micro_batch_tokens;
    int micro_batch_tokens_chosen;  /* 1: chosen by the pipeline (bubble <= 10%) */
} ll_run_stages;
cJSON *ll_report_run_stages(const ll_run_stages *s);

typedef struct {
    int E;
    long batches;                   /* batches timed (0: none: no per-entry rows) */
    double peak_tflops;             /* measured bf16 GEMM peak (0: unknown) */
    const double *layer_ms, *capture_ms; /* [E] device milliseconds over the run */
    const double *flops;            /* [E] or NULL */
    double tokens;
} ll_run_gpu_timing;
cJSON *ll_report_run_gpu_timing(const ll_run_gpu_timing *g);
#endif
