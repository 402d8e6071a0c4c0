/* The run pipeline (see pipeline.h for the data flow). */
#include "pipeline/pipeline.h"
#include "pipeline/run_options.h"
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "backend/backend.h"
#include "core/ll_util.h"
#include "dist/dist_folds.h"
#include "dist/stage.h"
#include "io/corpus.h"
#include "io/npy.h"
#include "io/token_stream.h"
#include "io/tokens.h"
#include "model/model.h"
#include "pipeline/batcher.h"
#include "probe/measures.h"
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

/* ---- timing wrapper around the sink: host time per entry ---------------- */
typedef struct {
    ll_capture base;
    ll_capture *inner;
    double seconds, last;
    double *fwd_s, *cap_s; /* [E] */
    int E;
    const char *model;     /* for the non-finite message */
    int nonfinite;         /* set when an entry held NaN/Inf: bad input (exit 2) */
} timed_cap;

/* Host entries are scanned for NaN/Inf (the real positions only): the first
 * entry where one appears is named, and the run stops there, instead of a
 * law of NaN.  (Device entries are not scanned: see docs/fuzzing.md.) */
static int check_finite(timed_cap *t, int e, const float *h, const int *lens, int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int j = 0; j < lens[b]; j++) {
            const float *x = h + ((size_t)b * T + j) * C;
            for (int q = 0; q < C; q++)
                if (!isfinite(x[q])) {
                    t->nonfinite = 1;
                    ll_set_error("%s: hidden-state entry %d is not finite (%s at position %d of a sequence, feature %d): "
                                 "the weights or the input overflow there; no law can be measured",
                                 t->model, e, isnan(x[q]) ? "NaN" : "Inf", j, q);
                    return -1;
                }
        }
    return 0;
}

static void timed_account(timed_cap *t, int e, double t0, double t1) {
    if (e >= 0 && e < t->E) { t->fwd_s[e] += t0 - t->last; t->cap_s[e] += t1 - t0; }
    t->last = t1;
    t->seconds += t1 - t0;
}
static int timed_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T,
                          int C) {
    timed_cap *t = (timed_cap *)self;
    double t0 = ll_now();
    if (check_finite(t, e, h, lens, B, T, C) != 0) return -1;
    int rc = t->inner->on_entry(t->inner, e, h, tokens, lens, B, T, C);
    timed_account(t, e, t0, ll_now());
    return rc;
}
static int timed_on_entry_device(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B,
                                 int T, int C) {
    timed_cap *t = (timed_cap *)self;
    double t0 = ll_now();
    int rc = t->inner->on_entry_device(t->inner, e, h, tokens, lens, B, T, C);
    timed_account(t, e, t0, ll_now());
    return rc;
}

/* ---- layer stages ------------------------------------------------------ */
/* A later stage emits entries e_lo..e_hi only; its statistics hold those
 * (local index e - e_lo), so that a stage's memory is its own entries'. */
typedef struct {
    ll_capture base;
    ll_capture *inner;
    int e_lo, e_hi;
} window_cap;
static int window_check(const window_cap *w, int e) {
    if (e >= w->e_lo && e <= w->e_hi) return 0;
    ll_set_error("layer stage: entry %d emitted outside this stage's entries %d..%d", e, w->e_lo, w->e_hi);
    return -1;
}
static int window_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B,
                           int T, int C) {
    window_cap *w = (window_cap *)self;
    if (window_check(w, e)) return -1;
    return w->inner->on_entry(w->inner, e - w->e_lo, h, tokens, lens, B, T, C);
}
static int window_on_entry_device(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens,
                                  int B, int T, int C) {
    window_cap *w = (window_cap *)self;
    if (window_check(w, e)) return -1;
    return w->inner->on_entry_device(w->inner, e - w->e_lo, h, tokens, lens, B, T, C);
}

/* ---- input ------------------------------------------------------------- */
/* --data: the corpus tokenised (documents sampled) into a token file that
 * exists only as an open descriptor (unlinked at once: nothing is left
 * behind, whatever ends the process); read back through /proc/self/fd. */
static int tokenize_to_private_file(const ll_run_opts *o, char *path, size_t cap, int *fd_out, long long *n_docs) {
    const int split = ll_corpus_split_from_name(o->split ? o->split : "auto");
    ll_token_stream_opts so = {.tokenizer = o->tokenizer ? o->tokenizer : o->model, .corpus = o->data,
                               .split = split, .text_field = o->text_field ? o->text_field : "text",
                               .docs = o->docs, .seed = o->seed, .add_special = 1, .max_length = o->max_length,
                               .queue = 0};
    ll_token_stream *ts = ll_token_stream_open(&so);
    if (!ts) return 2;
    const char *tmpd = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/layerlaw-tokens-XXXXXX", tmpd && *tmpd ? tmpd : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd >= 0) unlink(tmpl);
    int wfd = fd >= 0 ? dup(fd) : -1;
    FILE *tf = wfd >= 0 ? fdopen(wfd, "w") : NULL;
    if (!tf) {
        if (wfd >= 0) close(wfd);
        if (fd >= 0) close(fd);
        ll_token_stream_close(ts);
        ll_set_error("%s: cannot create a temporary token file", tmpl);
        return 1;
    }
    int32_t *ids;
    int n, r;
    long long di;
    *n_docs = 0;
    while ((r = ll_token_stream_next(ts, &ids, &n, &di)) == 1) {
        fputc('[', tf);
        for (int i = 0; i < n; i++) fprintf(tf, i ? ", %d" : "%d", ids[i]);
        fputs("]\n", tf);
        free(ids);
        (*n_docs)++;
    }
    ll_token_stream_close(ts);
    if (r == 0 && o->docs > 0 && *n_docs < o->docs)
        fprintf(stderr, "layerlaw: warning: --docs %lld: %s has only %lld documents: all of them are used\n",
                (long long)o->docs, o->data, *n_docs);
    int werr = fclose(tf) != 0;
    if (r < 0 || werr || *n_docs == 0) {
        close(fd);
        if (r >= 0) ll_set_error("%s: %s", o->data, werr ? "cannot write the temporary token file" : "no documents");
        return werr ? 1 : 2;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    *fd_out = fd;
    return 0;
}

/* --dump-hidden F.npy: beside it F.labels.npy ((N,) int64, the raw token id
 * each example predicts) and F.json (what fit needs to reproduce the run:
 * the norm applied and its eps, norm_last, fit_from, ridge, the shuffle
 * seed, position and shapes), so that `layerlaw fit --features F.npy` gives
 * run's numbers with no other flag. */
static void dump_names(const char *dump, char *base, size_t cap) {
    size_t n = strlen(dump);
    snprintf(base, cap, "%.*s", (int)(n > 4 && !strcmp(dump + n - 4, ".npy") ? n - 4 : n), dump);
}

static int write_dump_sidecar(const ll_run_opts *o, const ll_capture *dump, ll_norm norm, double eps, int E, int d) {
    long n = 0;
    const int32_t *lab = ll_capture_dump_labels(dump, &n);
    char base[4096], dir[4096], lname[4200], jname[4200];
    dump_names(o->dump_hidden, base, sizeof base);
    const char *sl = strrchr(base, '/');
    snprintf(dir, sizeof dir, "%.*s", sl ? (int)(sl - base) : 1, sl ? base : ".");
    if (sl == base) snprintf(dir, sizeof dir, "/");
    const char *stem = sl ? sl + 1 : base;
    snprintf(lname, sizeof lname, "%s.labels.npy", stem);
    snprintf(jname, sizeof jname, "%s.json", stem);
    char *lbuf = NULL;
    size_t llen = 0;
    FILE *mf = open_memstream(&lbuf, &llen);
    int64_t shape[1] = {n};
    int bad = !mf || ll_npy_write_header(mf, LL_DT_I64, 1, shape) < 0;
    for (long i = 0; !bad && i < n; i++) {
        int64_t v = lab[i];
        bad = fwrite(&v, 8, 1, mf) != 1;
    }
    if (mf && fclose(mf) != 0) bad = 1;
    if (bad) { free(lbuf); ll_set_error("%s: cannot build the labels", o->dump_hidden); return -1; }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "layerlaw_dump", "run --dump-hidden");
    cJSON_AddStringToObject(j, "features", o->dump_hidden);
    cJSON_AddStringToObject(j, "labels", lname);
    cJSON_AddNumberToObject(j, "examples", (double)n);
    cJSON_AddNumberToObject(j, "entries", E);
    cJSON_AddNumberToObject(j, "dim", d);
    cJSON_AddStringToObject(j, "position", ll_position_name(o->position));
    cJSON_AddStringToObject(j, "norm", ll_norm_name(norm));
    cJSON_AddNumberToObject(j, "eps", eps);
    cJSON_AddBoolToObject(j, "norm_last", o->norm_last);
    cJSON_AddNumberToObject(j, "fit_from", o->fit_from);
    cJSON_AddNumberToObject(j, "ridge", o->ridge);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->shuffle_seed); /* a string: exact for every 64-bit seed */
    if (o->have_shuffle) cJSON_AddStringToObject(j, "shuffle_vocab_seed", seed);
    else cJSON_AddNullToObject(j, "shuffle_vocab_seed");
    cJSON_AddStringToObject(j, "model", o->model);
    char *js = cJSON_Print(j);
    cJSON_Delete(j);
    const char *names[2] = {lname, jname};
    const void *data[2] = {lbuf, js};
    size_t lens[2] = {llen, strlen(js)};
    int rc = ll_write_files_atomic(dir, 2, names, data, lens);
    free(lbuf);
    free(js);
    return rc;
}

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
    if (!strcmp(bc->name, "cuda")) cJSON_AddNumberToObject(cfg, "device", bc->device);
    cJSON_AddStringToObject(cfg, "backend_requested", o->backend ? o->backend : "auto");
    ll_run_options_to_config(o, cfg); /* series, label, weights */
    return cfg;
}

/* Everything a run holds, freed in one place. */
typedef struct {
    ll_model *m;
    ll_backend *be;
    ll_capture *probe, *dumpcap, *tee;
    ll_token_reader *rd;
    ll_batcher *batcher;
    int tok_fd;
    ll_classmap shuf_ids;
    int64_t *shuf_to;
    int32_t *wids;
    int64_t *woff, *seq_len;
    int *owner;
    ll_stats *host_stats;
    /* ranks: the job's failure checks (ll_dist_agree) this rank has passed
     * (0, 1: before the forward, 2: before the reduce), and whether one of them
     * reported a failure (then nobody calls another) */
    int checks, agreed_fail;
    cJSON *ranks_json;
    double *lms, *cms, *flops;
    long long *len_hist; /* [longest + 1]: this rank's sequences by length */
    /* measures: label counts, the class plan, the fold statistics and sink */
    long *lcount;
    ll_classmap cls_from, cmap;
    int64_t *cls_to;
    ll_folds *folds;
    ll_stats *fold_st;
    ll_capture *fold_cap;
    int64_t *wseq;
    int *rowf;
    ll_heldout ho;
    /* layer stages: the group of ranks running the same layers (data
     * parallel among themselves), the ranks of one pipeline, the hand-over */
    ll_dist *grp, *pipe;
    ll_stage_link *link;
    ll_probe_result *res_local;
    /* the result's per-entry costs; with stages the weight bytes of the
     * entries' owning stages */
    ll_cost *cost;
    double *stage_bytes;
} run_state;

/* A rank's block of merged statistics, solved where its backend solves. */
static int backend_solver(void *ctx, const ll_stats *st, double ridge, int threads, ll_probe_result *out) {
    ll_backend *b = ctx;
    return b->solve_stats ? b->solve_stats(b, st, ridge, threads, out) : ll_stats_solve(st, ridge, threads, out);
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

static void fuzz_to_res(const ll_fuzz_result *fz, int E, ll_probe_result *res) {
    for (int e = 0; e < E; e++) {
        res[e].pr = fz[e].D; res[e].rss = fz[e].tr_sw; res[e].tss = fz[e].tr_sb;
        res[e].n = fz[e].n; res[e].rank = fz[e].rank;
    }
}

/* Separation fuzziness of host statistics into res.  0 / -1. */
static int fuzz_solve(const ll_stats *st, int threads, ll_probe_result *res) {
    ll_fuzz_result *fz = ll_xcalloc((size_t)st->E, sizeof *fz);
    int rc = ll_fuzziness_solve(st, threads, fz);
    if (rc == 0) fuzz_to_res(fz, st->E, res);
    free(fz);
    return rc;
}

int ll_run_pipeline(const ll_run_opts *o, ll_run_result *r) {
    memset(r, 0, sizeof *r);
    run_state S = {.tok_fd = -1};
    int rc = 2;
    if (!o->model || !(o->tokens || o->data)) { ll_set_error("run: a model and an input (tokens or data) are required"); return 2; }
    if (o->tokens && o->data) { ll_set_error("run: give tokens or data, not both"); return 2; }
    if (o->data && ll_corpus_split_from_name(o->split ? o->split : "auto") < 0) {
        ll_set_error("--split: unknown split '%s' (auto|line|paragraph|file|jsonl)", o->split);
        return 2;
    }
    int threads = o->threads > 0 ? o->threads : omp_get_num_procs();
    const int rank = ll_dist_rank(o->dist), nranks = ll_dist_size(o->dist);
    r->rank = rank;
    /* measures (docs/measures.md) */
    if (o->measure < LL_MEASURE_PR || o->measure > LL_MEASURE_ONEHOT) { ll_set_error("run: unknown measure %d", o->measure); return 2; }
    const int need_classes = o->measure != LL_MEASURE_PR, fuzz = o->measure == LL_MEASURE_FUZZINESS;
    if (o->folds && (o->folds < 2 || o->folds > LL_FOLDS_MAX)) { ll_set_error("--folds: %d, need 2..%d", o->folds, LL_FOLDS_MAX); return 2; }
    if (o->folds && need_classes) { ll_set_error("--folds: held-out PR is defined for --measure pr only"); return 2; }
    if (o->folds && o->ridge != 0) { ll_set_error("--folds: held-out PR uses the OLS probe (no --ridge)"); return 2; }
    if (fuzz && o->ridge != 0) { ll_set_error("--ridge: not a parameter of --measure fuzziness"); return 2; }
    /* layer stages (pipeline parallel): the ranks form a grid of nrep
     * replicas x nst stages; rank = replica * nst + stage, so the stages of
     * one pipeline are neighbours (one node) */
    const int nst = o->stages > 1 ? o->stages : 1;
    if (nst > 1 && nranks % nst != 0) {
        ll_set_error("--stages %d: the job has %d rank%s, not a multiple of %d (start it with mpirun -np %d or more)",
                     nst, nranks, nranks == 1 ? "" : "s", nst, nst);
        return 2;
    }
    if (nst > 1 && o->folds) { ll_set_error("--folds: not with --stages"); return 2; }
    if (nst > 1 && o->dump_hidden) { ll_set_error("--dump-hidden: not with --stages"); return 2; }
    if (nst > 1 && o->extra_sink) { ll_set_error("run: extra sinks are not supported with --stages"); return 2; }
    const int stage = rank % nst, replica = rank / nst;
    r->measure = o->measure;
    /* the backend is decided before loading (a GPU keeps bf16 weights) and
     * opened after the input is validated */
    ll_backend_choice bc;
    if (ll_backend_select(o->backend, o->compute, o->device, &bc) != 0) {
        if (nranks > 1) return ll_dist_agree(o->dist, 2);
        return 2;
    }
    if (nranks > 1) {
        /* several ranks: each on the cores nearest its GPU (or its share of
         * the node), before anything is allocated (first touch places the
         * pages there); the thread count follows the binding */
        int cores = ll_dist_bind(o->dist, strcmp(bc.name, "cuda") == 0 ? bc.device : -1);
        if (o->threads <= 0) threads = cores;
    }

    if (nst > 1) {
        S.grp = ll_dist_split(o->dist, stage, replica);
        S.pipe = ll_dist_split(o->dist, replica, stage);
        if (!S.grp || !S.pipe) goto fail;
    }
    /* the data-parallel group: the ranks that hold the same entries */
    ll_dist *dg = nst > 1 ? S.grp : o->dist;
    const int me = ll_dist_rank(dg);

    double t0 = ll_now();
    ll_load_opts lo = {.keep_half = bc.keep_half, .stage = stage, .n_stages = nst};
    S.m = o->synthetic ? ll_model_synthetic(o->model, &lo, o->synthetic_seed) : ll_model_load_ex(o->model, &lo);
    if (!S.m) goto fail; /* rc 2: through fail, so that other ranks learn of it */
    r->load_s = ll_now() - t0;
    ll_model *m = S.m;
    if (o->embedding_entry && ll_model_set_embedding_entry(m, 1) != 0) goto fail;

    /* input → a token file */
    const char *tok_path = o->tokens;
    char tok_buf[64];
    long long n_docs = 0;
    if (o->data) {
        double tt0 = ll_now();
        int trc = tokenize_to_private_file(o, tok_buf, sizeof tok_buf, &S.tok_fd, &n_docs);
        if (trc) { rc = trc; goto fail; }
        tok_path = tok_buf;
        r->tokenize_s = ll_now() - tt0;
    }
    /* error messages name the user's input, never the private token file */
    const char *src = o->data ? o->data : o->tokens;
    const char *unit = o->data ? "document" : "line";
    const char *tokz = o->tokenizer ? o->tokenizer : o->model;

    /* pass 1: every line and id checked, examples counted, lengths kept
     * (8 bytes a sequence; the ids themselves are not kept) */
    long long n_seq = 0, n_ids = 0, n_cut = 0;
    long N = 0;
    int longest = 1;
    int64_t cap_len = 1024;
    S.seq_len = ll_xmalloc(sizeof(int64_t) * (size_t)cap_len);
    unsigned char *present = o->have_shuffle ? ll_xcalloc((size_t)m->cfg.vocab, 1) : NULL;
    if (need_classes) S.lcount = ll_xcalloc((size_t)m->cfg.vocab, sizeof(long));
    {
        ll_token_reader *rd = ll_token_reader_open(tok_path, o->max_length);
        if (!rd) { free(present); goto fail; }
        const int32_t *ids;
        int n, cut, rr;
        while ((rr = ll_token_reader_next(rd, &ids, &n, &cut)) == 1) {
            for (int i = 0; i < n && rr == 1; i++)
                if (ids[i] >= m->cfg.vocab) {
                    ll_set_error("%s: %s %ld: token id %d%s%s is outside the model's vocabulary (%d)", src, unit,
                                 ll_token_reader_line(rd), ids[i], o->data ? " from tokenizer " : "",
                                 o->data ? tokz : "", m->cfg.vocab);
                    rr = -1;
                }
            if (rr != 1) break;
            if (n_seq == cap_len) {
                cap_len *= 2;
                S.seq_len = ll_xrealloc(S.seq_len, sizeof(int64_t) * (size_t)cap_len);
            }
            S.seq_len[n_seq++] = n;
            n_ids += n;
            n_cut += cut;
            N += ll_position_count(o->position, n);
            if (present || S.lcount) {
                int j0, j1, off;
                ll_position_range(o->position, n, &j0, &j1, &off);
                for (int j = j0; j < j1; j++) {
                    if (present) present[ids[j + off]] = 1;
                    if (S.lcount) S.lcount[ids[j + off]]++;
                }
            }
            longest = LL_MAX(longest, n);
        }
        ll_token_reader_close(rd);
        if (rr == 0 && n_ids == 0) { ll_set_error("%s: no tokens (empty %s)", src, o->data ? "corpus" : "token file"); rr = -1; }
        if (rr < 0) { free(present); goto fail; }
    }
    if (present) {
        int K = 0;
        for (int v = 0; v < m->cfg.vocab; v++) K += present[v];
        S.shuf_ids.ids = ll_xmalloc(sizeof(int64_t) * (size_t)(K > 0 ? K : 1));
        for (int v = 0; v < m->cfg.vocab; v++)
            if (present[v]) S.shuf_ids.ids[S.shuf_ids.K++] = v;
        S.shuf_to = ll_xmalloc(sizeof(int64_t) * (size_t)(K > 0 ? K : 1));
        ll_vocab_permutation(&S.shuf_ids, o->shuffle_seed, S.shuf_to);
        free(present);
    }
    const int E = ll_model_n_entries(m), d = ll_model_dim(m);
    /* the classes of fuzziness/onehot: every label id (after the shuffle),
     * or under the class budget the most frequent ones and a pool */
    long pooled = 0;
    int n_distinct = 0;
    if (need_classes) {
        for (int v = 0; v < m->cfg.vocab; v++) n_distinct += S.lcount[v] > 0;
        if (!S.shuf_to) {
            S.cls_from.ids = ll_xmalloc(sizeof(int64_t) * (size_t)(n_distinct > 0 ? n_distinct : 1));
            for (int v = 0; v < m->cfg.vocab; v++)
                if (S.lcount[v] > 0) S.cls_from.ids[S.cls_from.K++] = v;
        }
        const ll_classmap *from = S.shuf_to ? &S.shuf_ids : &S.cls_from;
        int64_t *lab = ll_xmalloc(sizeof(int64_t) * (size_t)(n_distinct > 0 ? n_distinct : 1));
        long *cnt = ll_xmalloc(sizeof(long) * (size_t)(n_distinct > 0 ? n_distinct : 1));
        for (int k = 0; k < from->K; k++) {
            lab[k] = S.shuf_to ? S.shuf_to[k] : from->ids[k];
            cnt[k] = S.lcount[from->ids[k]];
        }
        int cap = o->max_classes > 0 ? o->max_classes : ll_classes_that_fit(E, d, 8.0 * (1 << 30));
        S.cls_to = ll_xmalloc(sizeof(int64_t) * (size_t)(n_distinct > 0 ? n_distinct : 1));
        ll_class_plan(lab, cnt, from->K, cap, S.cls_to, &S.cmap, &pooled);
        free(lab);
        free(cnt);
        if (S.cmap.K < 2) { ll_set_error("%s: one label class only: %s undefined", src, ll_measure_name((ll_measure)o->measure)); goto fail; }
        if (S.cmap.K < n_distinct && rank == 0 && o->progress >= 0)
            fprintf(stderr, "layerlaw: %d classes: the %d most frequent kept, %d pooled into one class "
                            "(%ld of %ld examples; approximate, docs/measures.md)\n",
                    n_distinct, S.cmap.K - 1, n_distinct - S.cmap.K + 1, pooled, N);
    }
    double eps = m->cfg.norm_eps;
    ll_norm norm = o->norm;
    if (o->norm_initialized) norm = ll_model_fresh_norm(m, &eps);
    if (N < 2) { ll_set_error("%s: only %ld examples for position '%s' (need at least 2)", src, N, ll_position_name(o->position)); goto fail; }
    if (E - o->fit_from < 2) {
        ll_set_error("--fit-from %d: %s has entries 0..%d: a law fit from entry %d needs at least %d entries", o->fit_from,
                     o->model, E - 1, o->fit_from, o->fit_from + 2);
        goto fail;
    }
    if (N <= (long)d + 1 && rank == 0)
        fprintf(stderr, "layerlaw: warning: %s: %ld examples for %d features: the probes can fit every example "
                        "(PR near 0, no law); use more text\n", src, N, d);
    const int max_pos = ll_model_max_positions(m);
    if (max_pos > 0 && longest > max_pos) {
        ll_set_error("%s: a sequence has %d tokens, more than the model's %d positions (use --max-length %d)", src,
                     longest, max_pos, max_pos);
        goto fail;
    }
    /* ranks: which sequences are this process's */
    S.owner = ll_xmalloc(sizeof(int) * (size_t)(n_seq > 0 ? n_seq : 1));
    ll_dist_assign(dg, S.seq_len, (long)n_seq, S.owner);
    /* this stage's entries */
    int e_lo = 0, e_hi = E - 1;
    ll_model_stage_entries(m, &e_lo, &e_hi);
    const int El = e_hi - e_lo + 1;
    /* the batch (micro-batch) size.  Layer stages fill and drain a pipeline
     * once over the run: of M + S - 1 batch slots each stage idles S - 1, so
     * a bubble <= 10% needs M >= 9 (S - 1) micro-batches; unless the user
     * chose --batch-tokens, take the largest batch (<= 4096 tokens, >= 256)
     * that gives this replica that many (docs/distributed.md). */
    long long btok = o->batch_tokens > 0 ? o->batch_tokens : 4096;
    if (nst > 1 && o->batch_tokens <= 0) {
        long long mine_tok = 0;
        for (long long q = 0; q < n_seq; q++)
            if (S.owner[q] == me) mine_tok += S.seq_len[q];
        btok = LL_MAX(256LL, LL_MIN(4096LL, mine_tok / (9LL * (nst - 1))));
    }

    /* the input is valid: from here on a failure is a runtime failure */
    rc = 1;
    if (rank == 0 && o->progress >= 0) ll_backend_notice(&bc, stderr);
    S.be = ll_backend_open(&bc, threads);
    if (!S.be) goto fail;
    const ll_ops *ops = S.be->ops;
    if (ll_model_upload(m, ops, S.be->ctx) != 0) goto fail;
    ll_probe_opts po = {.E = El, .d = d, .target = need_classes ? LL_TARGET_ONEHOT : LL_TARGET_ID,
                        .K = need_classes ? S.cmap.K : 0,
                        .max_rows = (long)LL_MAX(btok, (long long)longest), .pos = o->position,
                        .norm = norm, .eps = eps, .norm_last = e_hi == E - 1 ? o->norm_last : 1, .cmap = need_classes ? &S.cmap : NULL,
                        .relabel_ids = S.shuf_to ? &S.shuf_ids : NULL, .relabel_to = S.shuf_to};
    if (need_classes) { /* the class plan's relabelling includes the shuffle */
        po.relabel_ids = S.shuf_to ? &S.shuf_ids : &S.cls_from;
        po.relabel_to = S.cls_to;
    }
    ll_capture *sinks[3];
    int n_sinks = 0;
    if (o->folds) {
        /* held-out PR: a host probe sink whose rows go to their sequence's
         * fold (on a device backend the forward downloads each entry) */
        S.folds = ll_folds_new(o->folds, o->fold_seed, E, d);
        S.fold_st = S.folds ? ll_stats_new(E, d, LL_TARGET_ID, 0) : NULL;
        if (!S.fold_st) goto fail;
        S.fold_cap = ll_capture_probe_new(S.fold_st, o->position, norm, eps, o->norm_last, NULL);
        if (S.shuf_to && ll_capture_probe_relabel(S.fold_cap, &S.shuf_ids, S.shuf_to) != 0) goto fail;
        if (ll_capture_probe_folds(S.fold_cap, S.folds) != 0) goto fail;
        S.rowf = ll_xmalloc(sizeof(int) * (size_t)LL_MAX(o->batch_size, 1));
        sinks[n_sinks++] = S.fold_cap;
    } else {
        S.probe = S.be->probe_new(S.be, &po);
        if (!S.probe) goto fail;
        sinks[n_sinks++] = S.probe;
    }
    if (o->dump_hidden) {
        if (nranks > 1) { rc = 2; ll_set_error("--dump-hidden: not with several ranks"); goto fail; }
        S.dumpcap = ll_capture_dump_new(o->dump_hidden, N, E, d, o->position);
        if (!S.dumpcap) { rc = 2; goto fail; }
        sinks[n_sinks++] = S.dumpcap;
    }
    if (o->extra_sink) sinks[n_sinks++] = o->extra_sink;
    ll_capture *sink = sinks[0];
    if (n_sinks > 1) sink = S.tee = ll_capture_tee_new_backend(sinks, n_sinks, ops, S.be->ctx);
    window_cap wc = {.base = {.on_entry = window_on_entry}, .inner = sink, .e_lo = e_lo, .e_hi = e_hi};
    if (nst > 1) {
        if (sink->on_entry_device) wc.base.on_entry_device = window_on_entry_device;
        sink = &wc.base;
        S.link = ll_stage_link_new(S.pipe, stage > 0 ? stage - 1 : -1, stage < nst - 1 ? stage + 1 : -1);
        m->stage_recv = ll_stage_link_recv;
        m->stage_send = ll_stage_link_send;
        m->stage_u = S.link;
    }
    timed_cap tc = {.base = {.on_entry = timed_on_entry}, .inner = sink, .E = E, .model = o->model};
    r->forward_s = tc.fwd_s = ll_xcalloc((size_t)E, sizeof(double));
    r->capture_s = tc.cap_s = ll_xcalloc((size_t)E, sizeof(double));
    if (sink->on_entry_device) tc.base.on_entry_device = timed_on_entry_device;
    /* ranks: failure check 1 — everything up to here (the model and its shards,
     * the input, the device) is where one rank may fail alone; stop the job
     * before anyone spends the forward */
    if (nranks > 1) {
        S.checks = 1;
        int frc = ll_dist_agree(o->dist, 0);
        if (frc) { S.agreed_fail = 1; rc = frc; goto fail; }
    }
    /* layer stages on GPUs: the pipeline's NCCL communicator, so that the
     * stream goes device to device (LAYERLAW_NCCL=0: MPI through the host) */
    if (S.link && strcmp(bc.name, "cuda") == 0) {
        if (ll_dist_use_device(S.pipe, bc.device) != 0) goto fail;
        ll_stage_link_use_nccl(S.link);
    }

    /* pass 2: windows of ~WIN tokens, batched (longest first, or input
     * order with --keep-order / --dump-hidden: the dump is in input order) */
    /* progress: this rank's non-empty sequences forwarded so far (not the
     * ones read into a window, which run ahead by up to a window) */
    long long mine = 0;
    for (long long q = 0; q < n_seq; q++) mine += S.owner[q] == me && S.seq_len[q] > 0;
    ll_progress prog;
    ll_progress_init(&prog, "sequences", mine);
    prog.label = o->progress_label;
    if (o->progress <= 0 || rank != 0) prog.enabled = 0;
    double t_run0 = ll_now();
    long long done_tok = 0, padded = 0, my_seq = 0, n_batches = 0;
    S.len_hist = ll_xcalloc((size_t)longest + 1, sizeof(long long));
    const int keep_order = o->keep_order || o->dump_hidden;
    long long WIN = LL_MAX(64LL * btok, 1LL << 20);
    if (getenv("LAYERLAW_WINDOW_TOKENS")) WIN = LL_MAX(1LL, atoll(getenv("LAYERLAW_WINDOW_TOKENS"))); /* tests */
    S.rd = ll_token_reader_open(tok_path, o->max_length);
    if (!S.rd) goto fail;
    S.batcher = ll_batcher_new(o->batch_size, btok, longest, 0);
    int64_t wcap_ids = 4096, wcap_seq = 256;
    S.wids = ll_xmalloc(sizeof(int32_t) * (size_t)wcap_ids);
    S.woff = ll_xmalloc(sizeof(int64_t) * (size_t)(wcap_seq + 1));
    S.wseq = ll_xmalloc(sizeof(int64_t) * (size_t)(wcap_seq + 1));
    long long seen_seq = 0;
    for (int eof = 0; !eof;) {
        int64_t nw = 0;
        S.woff[0] = 0;
        while (S.woff[nw] < WIN) {
            const int32_t *ids;
            int n, cut;
            int rr = ll_token_reader_next(S.rd, &ids, &n, &cut);
            if (rr < 0) goto fail;
            if (rr == 0) { eof = 1; break; }
            long long q = seen_seq++;
            if (n == 0 || q >= n_seq || S.owner[q] != me) continue;
            if (S.woff[nw] + n > wcap_ids) {
                while (S.woff[nw] + n > wcap_ids) wcap_ids *= 2;
                S.wids = ll_xrealloc(S.wids, sizeof(int32_t) * (size_t)wcap_ids);
            }
            if (nw + 1 > wcap_seq) {
                wcap_seq *= 2;
                S.woff = ll_xrealloc(S.woff, sizeof(int64_t) * (size_t)(wcap_seq + 1));
                S.wseq = ll_xrealloc(S.wseq, sizeof(int64_t) * (size_t)(wcap_seq + 1));
            }
            S.wseq[nw] = q; /* the sequence's index in the input: its fold */
            memcpy(S.wids + S.woff[nw], ids, sizeof(int32_t) * (size_t)n);
            S.woff[nw + 1] = S.woff[nw] + n;
            nw++;
        }
        ll_batcher_window(S.batcher, S.wids, S.woff, nw, keep_order);
        ll_batch bt;
        while (ll_batcher_next(S.batcher, &bt)) {
            for (int b = 0; b < bt.B; b++) {
                done_tok += bt.lens[b];
                if (bt.lens[b] <= longest) S.len_hist[bt.lens[b]]++;
            }
            padded += (long long)bt.B * bt.T;
            my_seq += bt.B;
            if (S.fold_cap) {
                for (int b = 0; b < bt.B; b++) S.rowf[b] = ll_fold_of((uint64_t)S.wseq[bt.seq[b]], o->fold_seed, o->folds);
                if (ll_capture_probe_row_folds(S.fold_cap, S.rowf, bt.B) != 0) goto fail;
            }
            n_batches++;
            if (S.probe && S.be->probe_batch_start) S.be->probe_batch_start(S.probe);
            tc.last = ll_now();
            if (ll_model_forward(m, ops, S.be->ctx, bt.tokens, bt.lens, bt.B, bt.T, &tc.base) != 0) {
                if (tc.nonfinite) rc = 2; /* the model or input, not the machine */
                /* the other stages wait in a hand-over: they cannot join a
                 * failure check, so the job ends here (said once, by this rank) */
                if (nst > 1) ll_dist_abort(o->dist, rc);
                goto fail;
            }
            ll_progress_update(&prog, my_seq, done_tok);
        }
    }
    if (ops->sync && ops->sync(S.be->ctx) != 0) goto fail;
    if (S.link && ll_stage_link_finish(S.link) != 0) ll_dist_abort(o->dist, 1);
    ll_progress_end(&prog, my_seq, done_tok);
    r->run_s = ll_now() - t_run0;
    if (S.dumpcap && (ll_capture_dump_finish(S.dumpcap) != 0 ||
                      write_dump_sidecar(o, S.dumpcap, norm, eps, E, d) != 0)) goto fail;

    /* reduce across ranks, solve, the law */
    double t1 = ll_now();
    r->res = ll_xcalloc((size_t)E, sizeof *r->res);
    int solved;
    if (S.folds && nranks == 1) {
        if (ll_folds_merge_into(S.folds, S.fold_st) != 0) goto fail;
        solved = ll_stats_solve(S.fold_st, o->ridge, threads, r->res);
    } else if (nranks > 1) {
        /* the device-resident reduce (docs/distributed.md) when every rank's
         * statistics are on a GPU with NCCL: nothing is downloaded */
        ll_dist_devstats ds;
        int on_dev = !fuzz && !S.folds && S.be->probe_devstats && S.be->probe_devstats(S.probe, &ds) == 0 &&
                     ll_dist_devstats_usable(dg, &ds), mixed = 0;
        if (!S.folds && !on_dev) { /* folds: the fold statistics are already on the host */
            S.host_stats = ll_stats_new(El, d, po.target, po.K);
            if (!S.host_stats || S.be->probe_get_stats(S.probe, S.host_stats) != 0) goto fail;
        }
        /* failure check 2: every rank has folded its sequences (or failed on
         * the way); then the collectives */
        S.checks = 2;
        int frc = ll_dist_agree(o->dist, 0);
        if (frc) { S.agreed_fail = 1; rc = frc; goto fail; }
        if (strcmp(bc.name, "cuda") == 0 && ll_dist_use_device(dg, bc.device) != 0) goto fail;
        if ((on_dev = ll_dist_choose_device_reduce(dg, on_dev ? &ds : NULL, &mixed)) < 0) goto fail;
        if (mixed) { /* not every rank can: those that skipped the download make it */
            int drc = 0;
            if (!S.host_stats) {
                S.host_stats = ll_stats_new(El, d, po.target, po.K);
                drc = !S.host_stats || S.be->probe_get_stats(S.probe, S.host_stats) != 0;
            }
            if (ll_dist_any_failed(dg, drc) >= 0) goto fail;
        }
        S.ranks_json = ll_dist_split_json(dg, S.seq_len, (long)n_seq, S.owner);
        /* the job's totals for the throughput record (per-entry timings stay
         * rank 0's); the run time is the slowest rank's */
        long long tot[2] = {done_tok, padded};
        if (ll_dist_sum_ll(dg, tot, 2) != 0 || ll_dist_sum_ll(dg, S.len_hist, (long)longest + 1) != 0 ||
            ll_dist_max_double(o->dist, &r->run_s, 1) != 0)
            goto fail;
        done_tok = tot[0];
        padded = tot[1];
        cJSON_AddStringToObject(S.ranks_json, "note", "throughput: tokens, padded_tokens, seconds (the slowest rank) "
                                                      "and rates are the job's; per-entry timings are rank 0's");
        /* with stages: this stage's entries, reduced over its group and
         * solved there; then gathered along the pipeline onto rank 0 */
        ll_probe_result *res = r->res;
        if (nst > 1) res = S.res_local = ll_xcalloc((size_t)El, sizeof *res);
        if (S.folds) { /* (never with stages: refused above) */
            /* held-out PR: every fold reduced like the total statistics, the
             * in-sample and leave-one-fold-out solves spread by entry block;
             * res and the held-out results land on every rank */
            solved = ll_dist_folds_solve(o->dist, S.folds, S.fold_st, threads, r->res, &S.ho);
            if (solved == -2) {
                char why[512];
                snprintf(why, sizeof why, "%s", ll_last_error());
                rc = 2;
                ll_set_error("%s: %s", src, why);
                goto fail;
            }
        } else if (fuzz) { /* separation fuzziness: merged onto rank 0, which computes D */
            if (ll_dist_reduce_stats(dg, S.host_stats) != 0) goto fail;
            solved = me != 0 ? 0 : fuzz_solve(S.host_stats, threads, res);
        } else if (on_dev) {
            solved = ll_dist_reduce_solve_device(dg, &ds, o->ridge, res);
        } else {
            /* the reduce ends each entry on the rank that solves it (blocks
             * of entries); the results meet on rank 0 */
            solved = ll_dist_reduce_solve(dg, S.host_stats, o->ridge, threads, res, backend_solver, S.be);
        }
        /* the stages' blocks meet on rank 0 along the pipeline (res_local is
         * solved on the stage group's rank 0, zeros on the others) */
        if (solved == 0 && nst > 1) solved = ll_dist_gather_results(S.pipe, E, e_lo, e_hi + 1, S.res_local, 0, r->res);
    } else if (fuzz) {
        S.host_stats = ll_stats_new(E, d, po.target, po.K);
        if (!S.host_stats || S.be->probe_get_stats(S.probe, S.host_stats) != 0) goto fail;
        solved = fuzz_solve(S.host_stats, threads, r->res);
    } else {
        solved = S.be->probe_solve(S.probe, o->ridge, threads, r->res);
    }
    if (solved != 0) goto fail;
    if (rank == 0)
        for (int e = 0; e < E; e++) {
            if (fuzz && !isfinite(r->res[e].pr)) { rc = 2; ll_set_error("%s: entry %d: between-class covariance is zero: separation fuzziness undefined", src, e); goto fail; }
            if (!fuzz && !(r->res[e].tss > 0)) { rc = 2; ll_set_error("%s: labels are constant: PR undefined", src); goto fail; }
        }
    if (S.folds) {
        if (nranks == 1 && ll_folds_solve(S.folds, S.fold_st, threads, &S.ho) != 0) {
            char why[512];
            snprintf(why, sizeof why, "%s", ll_last_error()); /* the error buffer is rewritten below */
            rc = 2;
            ll_set_error("%s: %s", src, why);
            goto fail;
        }
        r->pr_heldout = ll_xmalloc(sizeof(double) * (size_t)E);
        r->pr_heldout_fold_mean = ll_xmalloc(sizeof(double) * (size_t)E);
        r->pr_heldout_fold_sd = ll_xmalloc(sizeof(double) * (size_t)E);
        memcpy(r->pr_heldout, S.ho.pr, sizeof(double) * (size_t)E);
        for (int e = 0; e < E; e++) ll_heldout_fold_spread(&S.ho, e, &r->pr_heldout_fold_mean[e], &r->pr_heldout_fold_sd[e]);
    }
    double *pr = ll_xmalloc((size_t)E * sizeof(double));
    for (int e = 0; e < E; e++) pr[e] = r->res[e].pr;
    r->have_law = rank == 0 && E - o->fit_from >= 2 && ll_law_fit(pr, E, o->fit_from, &r->law) == 0;
    free(pr);
    r->solve_s = ll_now() - t1;
    r->E = E;
    r->d = d;
    r->N = N;
    r->tokens = done_tok;
    r->padded_tokens = padded;
    r->sequences = n_seq;

    /* layer stages: per-entry timings and weight bytes live on the stage
     * that owns the entry; the stages' own figures meet on rank 0 */
    double n_params = (double)m->n_params;
    /* per-token costs of every entry (weights read once per batch,
     * activations per token; ll_cost: neither depends on T) */
    ll_cost *bc1 = S.cost = ll_xcalloc((size_t)E, sizeof *bc1);
    const int have_cost = ll_model_cost(m, LL_MAX(longest, 1), bc1) == 0;
    cJSON *stages_json = NULL;
    double *stage_bytes = NULL; /* [E]: weight bytes per entry, from the owning stage */
    if (nst > 1) {
        double wait_prev, wait_next;
        ll_stage_link_waits(S.link, &wait_prev, &wait_next);
        /* per stage: first, end, e_lo, e_hi, weights, params in layers, recv wait, send wait, seconds */
        const int K = 9;
        double *ps = ll_xcalloc((size_t)nst * K, sizeof(double));
        double *q = ps + (size_t)stage * K;
        q[0] = m->stage_first; q[1] = m->stage_end; q[2] = e_lo; q[3] = e_hi; q[4] = (double)m->arena_bytes;
        q[5] = (double)(m->n_params - m->n_params_top); q[6] = wait_prev; q[7] = wait_next; q[8] = r->run_s;
        stage_bytes = S.stage_bytes = ll_xcalloc((size_t)E, sizeof(double));
        for (int e = e_lo; e <= e_hi && have_cost; e++) stage_bytes[e] = bc1[e].weight_bytes;
        for (int e = 0; e < E; e++)
            if (e < e_lo || e > e_hi) tc.fwd_s[e] = tc.cap_s[e] = 0;
        if (ll_dist_sum_double(S.pipe, ps, (long)nst * K) != 0 || ll_dist_sum_double(S.pipe, stage_bytes, E) != 0 ||
            ll_dist_sum_double(S.pipe, tc.fwd_s, E) != 0 || ll_dist_sum_double(S.pipe, tc.cap_s, E) != 0) {
            free(ps);
            goto fail;
        }
        n_params = (double)m->n_params_top;
        stages_json = cJSON_CreateObject();
        cJSON_AddNumberToObject(stages_json, "stages", nst);
        cJSON_AddNumberToObject(stages_json, "replicas", nranks / nst);
        cJSON_AddStringToObject(stages_json, "grid", "rank = replica * stages + stage");
        cJSON_AddStringToObject(stages_json, "handover",
                                ll_dist_has_nccl(S.pipe)
                                    ? "the residual stream after a stage's last layer, one message per batch "
                                      "(micro-batch), NCCL send/recv device to device"
                                    : "the residual stream after a stage's last layer, one message per batch "
                                      "(micro-batch), MPI point-to-point staged through host memory, 2 sends in flight");
        cJSON *jl = cJSON_AddArrayToObject(stages_json, "layers"), *je = cJSON_AddArrayToObject(stages_json, "entries");
        cJSON *jw = cJSON_AddArrayToObject(stages_json, "weights_bytes");
        cJSON *jr = cJSON_AddArrayToObject(stages_json, "wait_previous_s"), *js = cJSON_AddArrayToObject(stages_json, "wait_next_s");
        cJSON *jb = cJSON_AddArrayToObject(stages_json, "idle_pct");
        for (int k = 0; k < nst; k++) {
            const double *pk = ps + (size_t)k * K;
            n_params += pk[5];
            double lay[2] = {pk[0], pk[1]}, ent[2] = {pk[2], pk[3]};
            cJSON_AddItemToArray(jl, cJSON_CreateDoubleArray(lay, 2));
            cJSON_AddItemToArray(je, cJSON_CreateDoubleArray(ent, 2));
            cJSON_AddItemToArray(jw, cJSON_CreateNumber(pk[4]));
            cJSON_AddItemToArray(jr, cJSON_CreateNumber(pk[6]));
            cJSON_AddItemToArray(js, cJSON_CreateNumber(pk[7]));
            cJSON_AddItemToArray(jb, cJSON_CreateNumber(pk[8] > 0 ? 100 * (pk[6] + pk[7]) / pk[8] : 0));
        }
        cJSON_AddNumberToObject(stages_json, "micro_batches", (double)n_batches);
        cJSON_AddNumberToObject(stages_json, "micro_batch_tokens", (double)btok);
        cJSON_AddBoolToObject(stages_json, "micro_batch_tokens_chosen", o->batch_tokens <= 0);
        /* the fill-and-drain bound (rank 0's replica); the measured idle is idle_pct */
        cJSON_AddNumberToObject(stages_json, "bubble_bound_pct",
                                n_batches > 0 ? 100.0 * (nst - 1) / (double)(n_batches + nst - 1) : 0);
        free(ps);
    }

    /* the result's configuration and measurements */
    ll_run_opts oc = *o;
    oc.batch_tokens = btok; /* as resolved */
    r->config = config_json(&oc, &bc, norm, eps, threads);
    cJSON *extra = r->extra = cJSON_CreateObject();
    cJSON *jmodel = ll_model_describe(m);
    if (nst > 1) cJSON_ReplaceItemInObject(jmodel, "n_params", cJSON_CreateNumber(n_params));
    cJSON_AddItemToObject(extra, "model", jmodel);
    cJSON_AddStringToObject(extra, "measure", ll_measure_name((ll_measure)o->measure));
    if (need_classes) ll_report_add_classes(extra, n_distinct, S.cmap.K, pooled);
    if (S.folds && r->have_law &&
        ll_report_add_heldout(extra, &S.ho, &r->law, o->fit_from, "hash(sequence index, seed) mod K", o->fold_seed) != 0)
        goto fail;
    cJSON *tp = cJSON_AddObjectToObject(extra, "throughput");
    cJSON_AddNumberToObject(tp, "sequences", (double)n_seq);
    cJSON_AddNumberToObject(tp, "sequences_cut", (double)n_cut);
    cJSON_AddNumberToObject(tp, "tokens", (double)done_tok);
    cJSON_AddNumberToObject(tp, "padded_tokens", (double)padded);
    cJSON_AddNumberToObject(tp, "seconds", r->run_s);
    cJSON_AddNumberToObject(tp, "tokens_per_s", r->run_s > 0 ? done_tok / r->run_s : 0);
    cJSON_AddNumberToObject(tp, "capture_s", tc.seconds);
    cJSON_AddItemToObject(tp, "per_entry_forward_s", cJSON_CreateDoubleArray(tc.fwd_s, E));
    cJSON_AddItemToObject(tp, "per_entry_capture_s", cJSON_CreateDoubleArray(tc.cap_s, E));
    cJSON_AddNumberToObject(tp, "forward_s", r->run_s - tc.seconds);
    cJSON_AddNumberToObject(tp, "forward_tokens_per_s", r->run_s - tc.seconds > 0 ? done_tok / (r->run_s - tc.seconds) : 0);
    cJSON_AddNumberToObject(tp, "load_s", r->load_s);
    if (o->data) {
        cJSON_AddNumberToObject(tp, "documents", (double)n_docs);
        cJSON_AddNumberToObject(tp, "tokenize_s", r->tokenize_s);
    }
    cJSON_AddNumberToObject(tp, "solve_s", r->solve_s);
    S.flops = ll_xcalloc((size_t)E, sizeof(double));
    const int have_flops = entry_flops(m, S.len_hist, longest, E, S.flops) == 0;
    if (have_flops) cJSON_AddItemToObject(tp, "per_entry_flops", cJSON_CreateDoubleArray(S.flops, E));
    /* bytes per entry over the run: the weights once per batch, the
     * activations written per token */
    if (have_cost) {
        double *bytes = ll_xcalloc((size_t)E, sizeof(double));
        for (int e = 0; e < E; e++)
            bytes[e] = (stage_bytes ? stage_bytes[e] : bc1[e].weight_bytes) * (double)n_batches +
                       bc1[e].act_bytes * (double)done_tok;
        cJSON_AddItemToObject(tp, "per_entry_bytes", cJSON_CreateDoubleArray(bytes, E));
        cJSON_AddNumberToObject(tp, "batches", (double)n_batches);
        free(bytes);
    }
    cJSON *mem = cJSON_AddObjectToObject(extra, "memory");
    cJSON_AddNumberToObject(mem, "weights_bytes", (double)m->arena_bytes);
    cJSON_AddNumberToObject(mem, "workspace_bytes", (double)m->ws_bytes);
    if (nranks > 1 && S.ranks_json) { /* ranks, documents and tokens per rank, transport, bindings */
        if (nst > 1) {
            cJSON_ReplaceItemInObject(S.ranks_json, "ranks", cJSON_CreateNumber(nranks));
            cJSON_ReplaceItemInObject(S.ranks_json, "transport", cJSON_CreateString(ll_dist_transport(o->dist)));
            cJSON_AddNumberToObject(S.ranks_json, "replicas", nranks / nst);
            cJSON_AddNumberToObject(S.ranks_json, "stages", nst);
            cJSON_AddStringToObject(S.ranks_json, "stages_note",
                                    "documents, tokens and bindings are per replica (those of stage 0's ranks; "
                                    "every stage of a replica runs the same sequences)");
        }
        cJSON_AddItemToObject(extra, "ranks", S.ranks_json);
        S.ranks_json = NULL;
    }
    if (stages_json) cJSON_AddItemToObject(extra, "stages", stages_json);
    /* per-entry device timing: events at every entry, read after the run */
    if (S.probe && S.be->probe_timing) {
        S.lms = ll_xcalloc((size_t)E, sizeof(double));
        S.cms = ll_xcalloc((size_t)E, sizeof(double));
        /* a stage's probe times its own entries (local indices): placed at
         * e_lo, then met on rank 0 along the pipeline (each entry from one rank) */
        long nbt = S.be->probe_timing(S.probe, S.lms + e_lo, S.cms + e_lo);
        if (nst > 1 && (ll_dist_sum_double(S.pipe, S.lms, E) != 0 || ll_dist_sum_double(S.pipe, S.cms, E) != 0))
            goto fail;
        double peak = S.be->measure_peak_tflops ? S.be->measure_peak_tflops(S.be) : 0;
        double total_fl = 0;
        for (int e = 0; e < E && have_flops; e++) total_fl += S.flops[e];
        cJSON *gt = cJSON_AddObjectToObject(extra, "gpu_timing");
        cJSON_AddNumberToObject(gt, "batches", (double)nbt);
        cJSON_AddNumberToObject(gt, "peak_bf16_gemm_tflops", peak);
        cJSON_AddNumberToObject(gt, "flops_counted", total_fl);
        cJSON *pe = cJSON_AddArrayToObject(gt, "per_entry");
        for (int e = 0; e < E && nbt > 0; e++) {
            cJSON *jo = cJSON_CreateObject();
            double sec = S.lms[e] / 1000;
            cJSON_AddNumberToObject(jo, "index", e);
            cJSON_AddNumberToObject(jo, "layer_ms_per_batch", S.lms[e] / nbt);
            cJSON_AddNumberToObject(jo, "capture_ms_per_batch", S.cms[e] / nbt);
            cJSON_AddNumberToObject(jo, "tokens_per_s", sec > 0 ? done_tok / sec : 0);
            if (have_flops) {
                cJSON_AddNumberToObject(jo, "tflops", sec > 0 ? S.flops[e] / sec / 1e12 : 0);
                cJSON_AddNumberToObject(jo, "pct_of_peak", sec > 0 && peak > 0 ? 100 * S.flops[e] / sec / 1e12 / peak : 0);
            }
            cJSON_AddItemToArray(pe, jo);
        }
    }
    run_state_free(&S);
    return 0;
fail:
    /* a rank that fails between failure checks takes part in the next one
     * (and only that one: it reports the failure to all), so that the others
     * stop too; rank 0 then holds "rank R: <message>" */
    /* layer stages: past check 1 the other stages may be inside a hand-over
     * or a collective of their pipeline, where no check can reach them */
    if (nst > 1 && S.checks >= 1 && !S.agreed_fail) ll_dist_abort(o->dist, rc ? rc : 1);
    if (nranks > 1 && !S.agreed_fail && S.checks < 2) rc = ll_dist_agree(o->dist, rc ? rc : 1);
    run_state_free(&S);
    ll_run_result_free(r);
    r->rank = rank;
    return rc;
}
