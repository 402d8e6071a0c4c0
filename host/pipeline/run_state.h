/* Inside the run pipeline: the state of one run, shared by its steps (not a
 * public header; host/pipeline/ only).
 *
 * ll_run_pipeline (pipeline.c) calls the steps in order; each returns 0, or
 * -1 with ll_set_error and S->rc the exit status (2 bad input, 1 runtime):
 *
 *   run_check_opts       the options alone (input.c)
 *   run_place            backend choice, rank binding, stage groups (pipeline.c)
 *   run_load_model       the one place the model path is opened (pipeline.c)
 *   run_read_input       --data tokenised; pass 1; shuffle; class plan; checks (input.c)
 *   run_plan_batches     this rank's sequences, its stage's entries, the batch size (input.c)
 *   run_open_backend     the backend opened, the weights uploaded (pipeline.c)
 *   run_make_sinks       probe or fold sink, dump, extra, tee, stage window, timing (sinks.c)
 *   run_forward          pass 2: windows → batches → forward + capture (forward.c)
 *   run_solve            the solve strategy chosen once, run; checks; held-out; the law (solve.c)
 *   run_record           costs, stages, config and law.json members (record.c)
 *
 * Everything a step allocates is held here and freed by run_state_free. */
#ifndef LL_PIPELINE_RUN_STATE_H
#define LL_PIPELINE_RUN_STATE_H
#include <cJSON.h>
#include <stdint.h>
#include "backend/backend.h"
#include "capture/capture.h"
#include "dist/dist.h"
#include "dist/stage.h"
#include "io/tokens.h"
#include "model/model.h"
#include "pipeline/batcher.h"
#include "pipeline/pipeline.h"
#include "probe/measures.h"
#include "probe/probe.h"

/* The timing wrapper around the sink: host time per entry, and the scan of
 * host entries for NaN/Inf. */
typedef struct {
    ll_capture base;
    ll_capture *inner;
    double seconds, last;
    double *fwd_s, *cap_s; /* [E] */
    int E;
    const char *model;     /* for the non-finite message */
    int nonfinite;         /* set when an entry held NaN/Inf: bad input (exit 2) */
} ll_timed_cap;

/* A later stage emits entries e_lo..e_hi only; its statistics hold those
 * (local index e - e_lo). */
typedef struct {
    ll_capture base;
    ll_capture *inner;
    int e_lo, e_hi;
} ll_window_cap;

typedef struct {
    const ll_run_opts *o;
    ll_run_result *r;
    int rc;                 /* the exit status of a failing step */
    /* placement */
    int threads, rank, nranks;
    int nst, stage, replica; /* layer stages: rank = replica * nst + stage */
    ll_backend_choice bc;
    ll_dist *grp, *pipe;    /* stages: the ranks with the same layers; the ranks of one pipeline */
    ll_dist *dg;            /* the data-parallel group (grp with stages, else o->dist) */
    int me;                 /* this rank in dg */
    /* ranks: the job's failure checks passed (0, 1: before the forward, 2:
     * before the reduce), and whether one of them reported a failure */
    int checks, agreed_fail;
    /* the model */
    ll_model *m;
    int E, d;
    /* the input */
    const char *tok_path;   /* the token file (--data: the private one) */
    char tok_buf[64];
    int tok_fd;
    long long n_docs;
    const char *src, *unit, *tokz; /* for messages: the user's input, "line"/"document", the tokenizer */
    long long n_seq, n_ids, n_cut;
    long N;                 /* examples */
    int longest;
    int64_t *seq_len;       /* [n_seq] */
    int *owner;             /* [n_seq]: the rank (in dg) of each sequence */
    /* measures */
    int need_classes, sepfuzz; /* sepfuzz: --measure fuzziness (separation fuzziness) */
    ll_classmap shuf_ids;   /* --shuffle-vocab: the ids present, and where they go */
    int64_t *shuf_to;
    long *lcount;           /* label counts per vocabulary id */
    ll_classmap cls_from, cmap;
    int64_t *cls_to;
    int n_distinct;
    long pooled;
    ll_norm norm;
    double eps;
    /* batches and stage entries */
    int e_lo, e_hi, El;
    long long btok;
    /* the backend and the sinks */
    ll_backend *be;
    const ll_ops *ops;
    ll_probe_opts po;
    ll_capture *probe, *dumpcap, *tee;
    ll_folds *folds;
    ll_stats *fold_st;
    ll_capture *fold_cap;
    int *rowf;
    ll_window_cap wc;
    ll_timed_cap tc;
    ll_stage_link *link;
    /* pass 2 */
    ll_token_reader *rd;
    ll_batcher *batcher;
    int32_t *wids;
    int64_t *woff, *wseq;
    long long done_tok, padded, n_batches;
    long long *len_hist;    /* [longest + 1]: this rank's sequences by length */
    /* the solve */
    ll_stats *host_stats;
    ll_probe_result *res_local;
    ll_heldout ho;
    cJSON *ranks_json;
    /* the record */
    ll_cost *cost;
    double *stage_bytes, *flops, *lms, *cms;
} run_state;

/* input.c */
int run_check_opts(const ll_run_opts *o);
int run_read_input(run_state *S);
int run_plan_batches(run_state *S);
/* sinks.c */
int run_make_sinks(run_state *S);
int run_write_dump(run_state *S);
/* forward.c */
int run_forward(run_state *S);
/* solve.c */
int run_solve(run_state *S);
/* record.c */
int run_record(run_state *S);
#endif
