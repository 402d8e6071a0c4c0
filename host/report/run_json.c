/* The run's law.json members (see run_json.h). */
#include "report/run_json.h"
#include <stdlib.h>
#include "core/ll_util.h"

cJSON *ll_report_run_throughput(const ll_run_throughput *t) {
    cJSON *tp = cJSON_CreateObject();
    const int E = t->E;
    const double fwd = t->seconds - t->capture_s;
    cJSON_AddNumberToObject(tp, "sequences", (double)t->sequences);
    cJSON_AddNumberToObject(tp, "sequences_cut", (double)t->sequences_cut);
    cJSON_AddNumberToObject(tp, "tokens", (double)t->tokens);
    cJSON_AddNumberToObject(tp, "padded_tokens", (double)t->padded_tokens);
    cJSON_AddNumberToObject(tp, "seconds", t->seconds);
    cJSON_AddNumberToObject(tp, "tokens_per_s", t->seconds > 0 ? t->tokens / t->seconds : 0);
    cJSON_AddNumberToObject(tp, "capture_s", t->capture_s);
    cJSON_AddItemToObject(tp, "per_entry_forward_s", cJSON_CreateDoubleArray(t->forward_s, E));
    cJSON_AddItemToObject(tp, "per_entry_capture_s", cJSON_CreateDoubleArray(t->entry_capture_s, E));
    cJSON_AddNumberToObject(tp, "forward_s", fwd);
    cJSON_AddNumberToObject(tp, "forward_tokens_per_s", fwd > 0 ? t->tokens / fwd : 0);
    cJSON_AddNumberToObject(tp, "load_s", t->load_s);
    if (t->documents >= 0) {
        cJSON_AddNumberToObject(tp, "documents", (double)t->documents);
        cJSON_AddNumberToObject(tp, "tokenize_s", t->tokenize_s);
    }
    cJSON_AddNumberToObject(tp, "solve_s", t->solve_s);
    if (t->flops) cJSON_AddItemToObject(tp, "per_entry_flops", cJSON_CreateDoubleArray(t->flops, E));
    if (t->bytes) {
        cJSON_AddItemToObject(tp, "per_entry_bytes", cJSON_CreateDoubleArray(t->bytes, E));
        cJSON_AddNumberToObject(tp, "batches", (double)t->batches);
    }
    return tp;
}

cJSON *ll_report_run_stages(const ll_run_stages *s) {
    const int nst = s->stages, K = LL_STAGE_FIGURES;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "stages", nst);
    cJSON_AddNumberToObject(j, "replicas", s->replicas);
    cJSON_AddStringToObject(j, "grid", "rank = replica * stages + stage");
    cJSON_AddStringToObject(j, "handover",
                            s->nccl ? "the residual stream after a stage's last layer, one message per batch "
                                      "(micro-batch), NCCL send/recv device to device"
                                    : "the residual stream after a stage's last layer, one message per batch "
                                      "(micro-batch), MPI point-to-point staged through host memory, 2 sends in flight");
    cJSON *jl = cJSON_AddArrayToObject(j, "layers"), *je = cJSON_AddArrayToObject(j, "entries");
    cJSON *jw = cJSON_AddArrayToObject(j, "weights_bytes");
    cJSON *jr = cJSON_AddArrayToObject(j, "wait_previous_s"), *js = cJSON_AddArrayToObject(j, "wait_next_s");
    cJSON *jb = cJSON_AddArrayToObject(j, "idle_pct");
    for (int k = 0; k < nst; k++) {
        const double *pk = s->per_stage + (size_t)k * K;
        double lay[2] = {pk[0], pk[1]}, ent[2] = {pk[2], pk[3]};
        cJSON_AddItemToArray(jl, cJSON_CreateDoubleArray(lay, 2));
        cJSON_AddItemToArray(je, cJSON_CreateDoubleArray(ent, 2));
        cJSON_AddItemToArray(jw, cJSON_CreateNumber(pk[4]));
        cJSON_AddItemToArray(jr, cJSON_CreateNumber(pk[6]));
        cJSON_AddItemToArray(js, cJSON_CreateNumber(pk[7]));
        cJSON_AddItemToArray(jb, cJSON_CreateNumber(pk[8] > 0 ? 100 * (pk[6] + pk[7]) / pk[8] : 0));
    }
    cJSON_AddNumberToObject(j, "micro_batches", (double)s->micro_batches);
    cJSON_AddNumberToObject(j, "micro_batch_tokens", (double)s->micro_batch_tokens);
    cJSON_AddBoolToObject(j, "micro_batch_tokens_chosen", s->micro_batch_tokens_chosen);
    /* the fill-and-drain bound (rank 0's replica); the measured idle is idle_pct */
    cJSON_AddNumberToObject(j, "bubble_bound_pct",
                            s->micro_batches > 0 ? 100.0 * (nst - 1) / (double)(s->micro_batches + nst - 1) : 0);
    return j;
}

cJSON *ll_report_run_gpu_timing(const ll_run_gpu_timing *g) {
    const double peak = g->peak_tflops;
    double total_fl = 0;
    for (int e = 0; e < g->E && g->flops; e++) total_fl += g->flops[e];
    cJSON *gt = cJSON_CreateObject();
    cJSON_AddNumberToObject(gt, "batches", (double)g->batches);
    cJSON_AddNumberToObject(gt, "peak_bf16_gemm_tflops", peak);
    cJSON_AddNumberToObject(gt, "flops_counted", total_fl);
    cJSON *pe = cJSON_AddArrayToObject(gt, "per_entry");
    for (int e = 0; e < g->E && g->batches > 0; e++) {
        cJSON *jo = cJSON_CreateObject();
        double sec = g->layer_ms[e] / 1000;
        cJSON_AddNumberToObject(jo, "index", e);
        cJSON_AddNumberToObject(jo, "layer_ms_per_batch", g->layer_ms[e] / g->batches);
        cJSON_AddNumberToObject(jo, "capture_ms_per_batch", g->capture_ms[e] / g->batches);
        cJSON_AddNumberToObject(jo, "tokens_per_s", sec > 0 ? g->tokens / sec : 0);
        if (g->flops) {
            cJSON_AddNumberToObject(jo, "tflops", sec > 0 ? g->flops[e] / sec / 1e12 : 0);
            cJSON_AddNumberToObject(jo, "pct_of_peak", sec > 0 && peak > 0 ? 100 * g->flops[e] / sec / 1e12 / peak : 0);
        }
        cJSON_AddItemToArray(pe, jo);
    }
    return gt;
}
