/* The run's record: what it cost (FLOPs and bytes per entry, the stages'
 * own figures met on rank 0), its exact configuration, and the law.json
 * members beside the results (report/run_json.h formats them). */
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "pipeline/run_options.h"
#include "pipeline/run_state.h"
#include "report/report.h"
#include "report/run_json.h"

/* FLOPs per entry over the run: Σ over sequence lengths of count · len ·
 * the family's per-token cost at that length (ll_model_cost). */
static int entry_flops(const ll_model *m, const long long *hist, int longest, int E, double *flops) {
    ll_cost *c = ll_xcalloc((size_t)E, sizeof *c);
    for (int e = 0; e < E; e++) flops[e] = 0;
    int rc = 0;
    for (int len = 1; len <= longest && rc == 0; len++) {
        if (!hist[len]) continue;
        memset(c, 0, sizeof *c * (size_t)E);
        rc = ll_model_cost(m, len, c);
        for (int e = 0; e < E && rc == 0; e++) flops[e] += (double)hist[len] * len * c[e].flops;
    }
    free(c);
    return rc;
}

static cJSON *config_json(const ll_run_opts *o, const ll_backend_choice *bc, ll_norm norm, double eps, int threads) {
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "command", "run");
    cJSON_AddStringToObject(cfg, "model", o->model);
    if (o->synthetic) cJSON_AddNumberToObject(cfg, "synthetic_seed", (double)o->synthetic_seed);
    if (o->data) {
        cJSON_AddNullToObject(cfg, "tokens");
        cJSON_AddStringToObject(cfg, "data", o->data);
        cJSON_AddStringToObject(cfg, "tokenizer", o->tokenizer ? o->tokenizer : o->model);
        cJSON_AddStringToObject(cfg, "split", o->split ? o->split : "auto");
        cJSON_AddStringToObject(cfg, "text_field", o->text_field ? o->text_field : "text");
        if (o->docs) cJSON_AddNumberToObject(cfg, "docs", (double)o->docs);
        else cJSON_AddNullToObject(cfg, "docs");
        cJSON_AddNumberToObject(cfg, "seed", (double)o->seed);
        cJSON_AddBoolToObject(cfg, "add_special_tokens", 1);
    } else {
        cJSON_AddStringToObject(cfg, "tokens", o->tokens);
    }
    cJSON_AddNumberToObject(cfg, "batch_size", o->batch_size);
    cJSON_AddNumberToObject(cfg, "batch_tokens", (double)o->batch_tokens);
    cJSON_AddBoolToObject(cfg, "keep_order", o->keep_order || o->dump_hidden);
    cJSON_AddBoolToObject(cfg, "embedding_entry", o->embedding_entry);
    cJSON_AddNumberToObject(cfg, "max_length", o->max_length);
    cJSON_AddNumberToObject(cfg, "threads", threads);
    if (o->stages > 1) cJSON_AddNumberToObject(cfg, "stages", o->stages);
    cJSON_AddStringToObject(cfg, "position", ll_position_name(o->position));
    cJSON_AddStringToObject(cfg, "norm", o->norm_initialized ? "initialized" : ll_norm_name(o->norm));
    cJSON_AddStringToObject(cfg, "norm_applied", ll_norm_name(norm));
    cJSON_AddNumberToObject(cfg, "eps", eps);
    cJSON_AddBoolToObject(cfg, "norm_last", o->norm_last);
    cJSON_AddNumberToObject(cfg, "fit_from", o->fit_from);
    cJSON_AddNumberToObject(cfg, "ridge", o->ridge);
    cJSON_AddStringToObject(cfg, "target", o->measure == LL_MEASURE_PR ? "id" : "onehot");
    cJSON_AddStringToObject(cfg, "measure", ll_measure_name((ll_measure)o->measure));
    cJSON_AddNumberToObject(cfg, "max_classes", o->max_classes);
    cJSON_AddNumberToObject(cfg, "folds", o->folds);
    if (o->folds) cJSON_AddNumberToObject(cfg, "fold_seed", (double)o->fold_seed);
    if (o->have_shuffle) cJSON_AddNumberToObject(cfg, "shuffle_vocab_seed", (double)o->shuffle_seed);
    else cJSON_AddNullToObject(cfg, "shuffle_vocab_seed");
    if (o->dump_hidden) cJSON_AddStringToObject(cfg, "dump_hidden", o->dump_hidden);
    else cJSON_AddNullToObject(cfg, "dump_hidden");
    cJSON_AddStringToObject(cfg, "backend", bc->name);
    cJSON_AddStringToObject(cfg, "compute", bc->bf16 ? "bf16" : "fp32");
    if (bc->gpu >= 0) cJSON_AddNumberToObject(cfg, "device", bc->gpu);
    cJSON_AddStringToObject(cfg, "backend_requested", o->backend ? o->backend : "auto");
    ll_run_options_to_config(o, cfg); /* series, label, weights (the figures) */
    return cfg;
}

/* Layer stages: per-entry timings and weight bytes live on the stage that
 * owns the entry; the stages' own figures meet on rank 0 along the pipeline.
 * *n_params becomes the whole model's. */
static cJSON *stages_record(run_state *S, int have_cost, double *n_params) {
    ll_model *m = S->m;
    const int nst = S->nst, E = S->E, K = LL_STAGE_FIGURES;
    double wait_prev, wait_next;
    ll_stage_link_waits(S->link, &wait_prev, &wait_next);
    double *ps = ll_xcalloc((size_t)nst * K, sizeof(double));
    double *q = ps + (size_t)S->stage * K;
    q[0] = m->stage_first; q[1] = m->stage_end; q[2] = S->e_lo; q[3] = S->e_hi; q[4] = (double)m->arena_bytes;
    q[5] = (double)(m->n_params - m->n_params_top); q[6] = wait_prev; q[7] = wait_next; q[8] = S->r->run_s;
    S->stage_bytes = ll_xcalloc((size_t)E, sizeof(double));
    for (int e = S->e_lo; e <= S->e_hi && have_cost; e++) S->stage_bytes[e] = S->cost[e].weight_bytes;
    for (int e = 0; e < E; e++)
        if (e < S->e_lo || e > S->e_hi) S->tc.fwd_s[e] = S->tc.cap_s[e] = 0;
    if (ll_dist_sum_double(S->pipe, ps, (long)nst * K) != 0 || ll_dist_sum_double(S->pipe, S->stage_bytes, E) != 0 ||
        ll_dist_sum_double(S->pipe, S->tc.fwd_s, E) != 0 || ll_dist_sum_double(S->pipe, S->tc.cap_s, E) != 0) {
        free(ps);
        return NULL;
    }
    *n_params = (double)m->n_params_top;
    for (int k = 0; k < nst; k++) *n_params += ps[(size_t)k * K + 5];
    ll_run_stages st = {.stages = nst, .replicas = S->nranks / nst, .nccl = ll_dist_has_nccl(S->pipe), .per_stage = ps,
                        .micro_batches = S->n_batches, .micro_batch_tokens = S->btok,
                        .micro_batch_tokens_chosen = S->o->batch_tokens <= 0};
    cJSON *j = ll_report_run_stages(&st);
    free(ps);
    return j;
}

/* "throughput": the run's counts and times, FLOPs and bytes per entry (the
 * weights once per batch, the activations written per token). */
static void throughput_record(run_state *S, cJSON *extra, int have_cost, int have_flops) {
    const int E = S->E;
    const ll_run_result *r = S->r;
    double *bytes = NULL;
    if (have_cost) {
        bytes = ll_xcalloc((size_t)E, sizeof(double));
        for (int e = 0; e < E; e++)
            bytes[e] = (S->stage_bytes ? S->stage_bytes[e] : S->cost[e].weight_bytes) * (double)S->n_batches +
                       S->cost[e].act_bytes * (double)S->done_tok;
    }
    ll_run_throughput t = {.E = E, .sequences = S->n_seq, .sequences_cut = S->n_cut, .tokens = S->done_tok,
                           .padded_tokens = S->padded, .batches = S->n_batches,
                           .documents = S->o->data ? S->n_docs : -1, .seconds = r->run_s, .capture_s = S->tc.seconds,
                           .load_s = r->load_s, .tokenize_s = r->tokenize_s, .solve_s = r->solve_s,
                           .forward_s = S->tc.fwd_s, .entry_capture_s = S->tc.cap_s,
                           .flops = have_flops ? S->flops : NULL, .bytes = bytes};
    cJSON_AddItemToObject(extra, "throughput", ll_report_run_throughput(&t));
    free(bytes);
}

/* "ranks": documents and tokens per rank, transport, bindings. */
static void ranks_record(run_state *S, cJSON *extra) {
    if (S->nranks <= 1 || !S->ranks_json) return;
    if (S->nst > 1) {
        cJSON_ReplaceItemInObject(S->ranks_json, "ranks", cJSON_CreateNumber(S->nranks));
        cJSON_ReplaceItemInObject(S->ranks_json, "transport", cJSON_CreateString(ll_dist_transport(S->o->dist)));
        cJSON_AddNumberToObject(S->ranks_json, "replicas", S->nranks / S->nst);
        cJSON_AddNumberToObject(S->ranks_json, "stages", S->nst);
        cJSON_AddStringToObject(S->ranks_json, "stages_note",
                                "documents, tokens and bindings are per replica (those of stage 0's ranks; "
                                "every stage of a replica runs the same sequences)");
    }
    cJSON_AddItemToObject(extra, "ranks", S->ranks_json);
    S->ranks_json = NULL;
}

/* "gpu_timing": events at every entry, read after the run; a stage's probe
 * times its own entries (local indices), placed at e_lo, then met on rank 0
 * along the pipeline (each entry from one rank). */
static int gpu_timing_record(run_state *S, cJSON *extra, int have_flops) {
    if (!S->probe || !S->be->probe_timing) return 0;
    const int E = S->E;
    S->lms = ll_xcalloc((size_t)E, sizeof(double));
    S->cms = ll_xcalloc((size_t)E, sizeof(double));
    long nbt = S->be->probe_timing(S->probe, S->lms + S->e_lo, S->cms + S->e_lo);
    if (S->nst > 1 && (ll_dist_sum_double(S->pipe, S->lms, E) != 0 || ll_dist_sum_double(S->pipe, S->cms, E) != 0))
        return -1;
    ll_run_gpu_timing g = {.E = E, .batches = nbt,
                           .peak_tflops = S->be->measure_peak_tflops ? S->be->measure_peak_tflops(S->be) : 0,
                           .layer_ms = S->lms, .capture_ms = S->cms, .flops = have_flops ? S->flops : NULL,
                           .tokens = (double)S->done_tok};
    cJSON_AddItemToObject(extra, "gpu_timing", ll_report_run_gpu_timing(&g));
    return 0;
}

int run_record(run_state *S) {
    const ll_run_opts *o = S->o;
    ll_run_result *r = S->r;
    ll_model *m = S->m;
    const int E = S->E;
    double n_params = (double)m->n_params;
    /* per-token costs of every entry (weights read once per batch,
     * activations per token; ll_cost: neither depends on T) */
    S->cost = ll_xcalloc((size_t)E, sizeof *S->cost);
    const int have_cost = ll_model_cost(m, LL_MAX(S->longest, 1), S->cost) == 0;
    cJSON *stages_json = NULL;
    if (S->nst > 1 && !(stages_json = stages_record(S, have_cost, &n_params))) return -1;
    /* the result's configuration and measurements */
    ll_run_opts oc = *o;
    oc.batch_tokens = S->btok; /* as resolved */
    r->config = config_json(&oc, &S->bc, S->norm, S->eps, S->threads);
    cJSON *extra = r->extra = cJSON_CreateObject();
    cJSON *jmodel = ll_model_describe(m);
    if (S->nst > 1) cJSON_ReplaceItemInObject(jmodel, "n_params", cJSON_CreateNumber(n_params));
    cJSON_AddItemToObject(extra, "model", jmodel);
    cJSON_AddStringToObject(extra, "measure", ll_measure_name((ll_measure)o->measure));
    if (S->need_classes) ll_report_add_classes(extra, S->n_distinct, S->cmap.K, S->pooled);
    if (S->folds && r->have_law &&
        ll_report_add_heldout(extra, &S->ho, &r->law, o->fit_from, "hash(sequence index, seed) mod K", o->fold_seed) != 0) {
        cJSON_Delete(stages_json);
        return -1;
    }
    S->flops = ll_xcalloc((size_t)E, sizeof(double));
    const int have_flops = entry_flops(m, S->len_hist, S->longest, E, S->flops) == 0;
    throughput_record(S, extra, have_cost, have_flops);
    cJSON *mem = cJSON_AddObjectToObject(extra, "memory");
    cJSON_AddNumberToObject(mem, "weights_bytes", (double)m->arena_bytes);
    cJSON_AddNumberToObject(mem, "workspace_bytes", (double)m->ws_bytes);
    ranks_record(S, extra);
    if (stages_json) cJSON_AddItemToObject(extra, "stages", stages_json);
    return gpu_timing_record(S, extra, have_flops);
}
