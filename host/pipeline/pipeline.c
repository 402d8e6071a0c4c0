/* The run pipeline (see pipeline.h for the data flow): ll_run_pipeline calls
 * the named steps of pipeline/run_state.h in order. */
#include "pipeline/pipeline.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/ll_util.h"
#include "pipeline/run_state.h"
#include "report/report.h"

void ll_run_opts_default(ll_run_opts *o) {
    memset(o, 0, sizeof *o);
    o->split = "auto";
    o->text_field = "text";
    o->max_length = 512;
    o->batch_size = 64;
    o->batch_tokens = 4096;
    o->position = LL_POS_NEXT;
    o->norm_initialized = 1;
    o->fit_from = 1;
    o->backend = "auto";
    o->compute = "auto";
}

void ll_run_result_free(ll_run_result *r) {
    if (!r) return;
    free(r->res);
    free(r->forward_s);
    free(r->capture_s);
    free(r->pr_heldout);
    free(r->pr_heldout_fold_mean);
    free(r->pr_heldout_fold_sd);
    cJSON_Delete(r->config);
    cJSON_Delete(r->extra);
    memset(r, 0, sizeof *r);
}

int ll_run_result_write(const char *outdir, ll_run_result *r) {
    cJSON *config = r->config, *extra = r->extra;
    r->config = r->extra = NULL; /* taken over */
    ll_report_more more;
    const double *ho[3] = {r->pr_heldout, r->pr_heldout_fold_mean, r->pr_heldout_fold_sd};
    ll_report_more_for(r->measure, ho, &more);
    more.forward_s = r->forward_s;
    more.capture_s = r->capture_s;
    return ll_report_write_more(outdir, r->res, r->E, r->have_law ? &r->law : NULL, r->N, r->d, config, extra, &more);
}

static void run_state_free(run_state *s) {
    if (s->tee) ll_capture_free(s->tee);
    if (s->dumpcap) ll_capture_free(s->dumpcap);
    if (s->probe && s->be) s->be->probe_free(s->probe);
    ll_token_reader_close(s->rd);
    ll_batcher_free(s->batcher);
    cJSON_Delete(s->ranks_json);
    ll_model_free(s->m); /* before the backend: device weights are freed through it */
    ll_backend_close(s->be);
    if (s->tok_fd >= 0) close(s->tok_fd);
    ll_classmap_free(&s->shuf_ids);
    free(s->shuf_to);
    free(s->wids);
    free(s->woff);
    free(s->seq_len);
    free(s->owner);
    ll_stats_free(s->host_stats);
    free(s->lms);
    free(s->cms);
    free(s->flops);
    free(s->len_hist);
    free(s->lcount);
    ll_classmap_free(&s->cls_from);
    ll_classmap_free(&s->cmap);
    free(s->cls_to);
    if (s->fold_cap) ll_capture_free(s->fold_cap);
    ll_stats_free(s->fold_st);
    ll_folds_free(s->folds);
    free(s->wseq);
    free(s->rowf);
    ll_heldout_free(&s->ho);
    ll_stage_link_free(s->link);
    free(s->res_local);
    free(s->cost);
    free(s->stage_bytes);
    ll_dist_split_free(s->grp);
    ll_dist_split_free(s->pipe);
}

/* Where this rank runs (the backend is decided before: a GPU keeps bf16
 * weights; it is opened after the input is validated): with several ranks
 * each on the cores nearest its GPU (or its share of the node) before
 * anything is allocated (first touch places the pages there), the thread
 * count following the binding; with layer stages the grid of nrep replicas x
 * nst stages (rank = replica * nst + stage: the stages of one pipeline are
 * neighbours, one node). */
static int run_place(run_state *S) {
    const ll_run_opts *o = S->o;
    if (S->nranks > 1) {
        int cores = ll_dist_bind(o->dist, S->bc.gpu);
        if (o->threads <= 0) S->threads = cores;
    }
    if (S->nst > 1) {
        S->grp = ll_dist_split(o->dist, S->stage, S->replica);
        S->pipe = ll_dist_split(o->dist, S->replica, S->stage);
        if (!S->grp || !S->pipe) return -1;
    }
    /* the data-parallel group: the ranks that hold the same entries */
    S->dg = S->nst > 1 ? S->grp : o->dist;
    S->me = ll_dist_rank(S->dg);
    return 0;
}

/* The model: the one place its path is opened (a stage loads its own
 * layers only; a synthetic model has random weights at a config's shape). */
static int run_load_model(run_state *S) {
    const ll_run_opts *o = S->o;
    double t0 = ll_now();
    ll_load_opts lo = {.keep_half = S->bc.keep_half, .stage = S->stage, .n_stages = S->nst};
    S->m = o->synthetic ? ll_model_synthetic(o->model, &lo, o->synthetic_seed) : ll_model_load_ex(o->model, &lo);
    if (!S->m) return -1;
    S->r->load_s = ll_now() - t0;
    if (o->embedding_entry && ll_model_set_embedding_entry(S->m, 1) != 0) return -1;
    return 0;
}

/* The input is valid: from here on a failure is a runtime failure. */
static int run_open_backend(run_state *S) {
    S->rc = 1;
    if (S->rank == 0 && S->o->progress >= 0) {
        char line[400];
        ll_note("%s", ll_backend_notice(&S->bc, line, sizeof line));
    }
    S->be = ll_backend_open(&S->bc, S->threads);
    if (!S->be) return -1;
    S->ops = S->be->ops;
    return ll_model_upload(S->m, S->ops, S->be->ctx);
}

/* Ranks: failure check 1 — everything up to here (the model and its shards,
 * the input, the device) is where one rank may fail alone; stop the job
 * before anyone spends the forward.  Then, for layer stages on GPUs, the
 * pipeline's NCCL communicator, so that the stream goes device to device
 * (LAYERLAW_NCCL=0: MPI through the host). */
static int run_agree_before_forward(run_state *S) {
    if (S->nranks > 1) {
        S->checks = 1;
        int frc = ll_dist_agree(S->o->dist, 0);
        if (frc) { S->agreed_fail = 1; S->rc = frc; return -1; }
    }
    if (S->link && S->bc.gpu >= 0) {
        if (ll_dist_use_device(S->pipe, S->bc.gpu) != 0) return -1;
        ll_stage_link_use_nccl(S->link);
    }
    return 0;
}

int ll_run_pipeline(const ll_run_opts *o, ll_run_result *r) {
    memset(r, 0, sizeof *r);
    const int rank = ll_dist_rank(o->dist), nranks = ll_dist_size(o->dist);
    r->rank = rank;
    int rc = run_check_opts(o);
    if (rc) return rc;
    run_state S = {.o = o, .r = r, .rc = 2, .tok_fd = -1, .rank = rank, .nranks = nranks};
    S.threads = o->threads > 0 ? o->threads : omp_get_num_procs();
    S.nst = o->stages > 1 ? o->stages : 1;
    S.stage = rank % S.nst;
    S.replica = rank / S.nst;
    S.need_classes = o->measure != LL_MEASURE_PR;
    S.sepfuzz = o->measure == LL_MEASURE_FUZZINESS;
    r->measure = o->measure;
    if (ll_backend_select(o->backend, o->compute, o->device, &S.bc) != 0) /* the same on every rank */
        return nranks > 1 ? ll_dist_agree(o->dist, 2) : 2;
    /* each step: 0, or -1 with the error and S.rc (2 bad input until the
     * backend opens, then 1) */
    if (run_place(&S) || run_load_model(&S) || run_read_input(&S) || run_plan_batches(&S) || run_open_backend(&S) ||
        run_make_sinks(&S) || run_agree_before_forward(&S) || run_forward(&S) || run_solve(&S) || run_record(&S))
        goto fail;
    run_state_free(&S);
    return 0;
fail:
    rc = S.rc;
    /* a rank that fails between failure checks takes part in the next one
     * (and only that one: it reports the failure to all), so that the others
     * stop too; rank 0 then holds "rank R: <message>" */
    /* layer stages: past check 1 the other stages may be inside a hand-over
     * or a collective of their pipeline, where no check can reach them */
    if (S.nst > 1 && S.checks >= 1 && !S.agreed_fail) ll_dist_abort(o->dist, rc ? rc : 1);
    if (nranks > 1 && !S.agreed_fail && S.checks < 2) rc = ll_dist_agree(o->dist, rc ? rc : 1);
    run_state_free(&S);
    ll_run_result_free(r);
    r->rank = rank;
    return rc;
}
