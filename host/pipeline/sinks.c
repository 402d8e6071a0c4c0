/* The capture sinks of a run: the probe (or, with --folds, the host probe
 * sink whose rows go to their sequence's fold), the --dump-hidden dump and
 * its sidecar, the caller's extra sink, a tee over them; with layer stages a
 * window onto this stage's entries; around all of them the timing wrapper
 * that scans host entries for NaN/Inf. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "io/npy.h"
#include "pipeline/run_state.h"

/* ---- timing wrapper around the sink: host time per entry ---------------- */
/* Host entries are scanned for NaN/Inf (the real positions only): the first
 * entry where one appears is named, and the run stops there, instead of a
 * law of NaN.  (Device entries are not scanned: see docs/fuzzing.md.) */
static int check_finite(ll_timed_cap *t, int e, const float *h, const int *lens, int B, int T, int C) {
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

static void timed_account(ll_timed_cap *t, int e, double t0, double t1) {
    if (e >= 0 && e < t->E) { t->fwd_s[e] += t0 - t->last; t->cap_s[e] += t1 - t0; }
    t->last = t1;
    t->seconds += t1 - t0;
}
static int timed_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T,
                          int C) {
    ll_timed_cap *t = (ll_timed_cap *)self;
    double t0 = ll_now();
    if (check_finite(t, e, h, lens, B, T, C) != 0) return -1;
    int rc = t->inner->on_entry(t->inner, e, h, tokens, lens, B, T, C);
    timed_account(t, e, t0, ll_now());
    return rc;
}
static int timed_on_entry_device(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B,
                                 int T, int C) {
    ll_timed_cap *t = (ll_timed_cap *)self;
    double t0 = ll_now();
    int rc = t->inner->on_entry_device(t->inner, e, h, tokens, lens, B, T, C);
    timed_account(t, e, t0, ll_now());
    return rc;
}

/* ---- layer stages: this stage's entries only ---------------------------- */
static int window_check(const ll_window_cap *w, int e) {
    if (e >= w->e_lo && e <= w->e_hi) return 0;
    ll_set_error("layer stage: entry %d emitted outside this stage's entries %d..%d", e, w->e_lo, w->e_hi);
    return -1;
}
static int window_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B,
                           int T, int C) {
    ll_window_cap *w = (ll_window_cap *)self;
    if (window_check(w, e)) return -1;
    return w->inner->on_entry(w->inner, e - w->e_lo, h, tokens, lens, B, T, C);
}
static int window_on_entry_device(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens,
                                  int B, int T, int C) {
    ll_window_cap *w = (ll_window_cap *)self;
    if (window_check(w, e)) return -1;
    return w->inner->on_entry_device(w->inner, e - w->e_lo, h, tokens, lens, B, T, C);
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

int run_write_dump(run_state *S) {
    if (ll_capture_dump_finish(S->dumpcap) != 0) return -1;
    return write_dump_sidecar(S->o, S->dumpcap, S->norm, S->eps, S->E, S->d);
}

/* The probe's options: this stage's entries, the target and its classes,
 * the norm, the relabelling (the class plan's includes the shuffle). */
static void probe_opts(run_state *S) {
    const ll_run_opts *o = S->o;
    ll_probe_opts po = {.E = S->El, .d = S->d, .target = S->need_classes ? LL_TARGET_ONEHOT : LL_TARGET_ID,
                        .K = S->need_classes ? S->cmap.K : 0,
                        .max_rows = (long)LL_MAX(S->btok, (long long)S->longest), .pos = o->position,
                        .norm = S->norm, .eps = S->eps, .norm_last = S->e_hi == S->E - 1 ? o->norm_last : 1,
                        .cmap = S->need_classes ? &S->cmap : NULL,
                        .relabel_ids = S->shuf_to ? &S->shuf_ids : NULL, .relabel_to = S->shuf_to};
    if (S->need_classes) {
        po.relabel_ids = S->shuf_to ? &S->shuf_ids : &S->cls_from;
        po.relabel_to = S->cls_to;
    }
    S->po = po;
}

/* Held-out PR: a host probe sink whose rows go to their sequence's fold (on
 * a device backend the forward downloads each entry). */
static ll_capture *fold_sink(run_state *S) {
    const ll_run_opts *o = S->o;
    S->folds = ll_folds_new(o->folds, o->fold_seed, S->E, S->d);
    S->fold_st = S->folds ? ll_stats_new(S->E, S->d, LL_TARGET_ID, 0) : NULL;
    if (!S->fold_st) return NULL;
    S->fold_cap = ll_capture_probe_new(S->fold_st, o->position, S->norm, S->eps, o->norm_last, NULL);
    if (S->shuf_to && ll_capture_probe_relabel(S->fold_cap, &S->shuf_ids, S->shuf_to) != 0) return NULL;
    if (ll_capture_probe_folds(S->fold_cap, S->folds) != 0) return NULL;
    S->rowf = ll_xmalloc(sizeof(int) * (size_t)LL_MAX(o->batch_size, 1));
    return S->fold_cap;
}

/* The sinks every entry goes to, S->tc.base the one the forward is given. */
int run_make_sinks(run_state *S) {
    const ll_run_opts *o = S->o;
    probe_opts(S);
    ll_capture *sinks[3];
    int n_sinks = 0;
    if (o->folds) {
        if (!(sinks[n_sinks++] = fold_sink(S))) return -1;
    } else {
        S->probe = S->be->probe_new(S->be, &S->po);
        if (!S->probe) return -1;
        sinks[n_sinks++] = S->probe;
    }
    if (o->dump_hidden) {
        if (S->nranks > 1) { S->rc = 2; ll_set_error("--dump-hidden: not with several ranks"); return -1; }
        S->dumpcap = ll_capture_dump_new(o->dump_hidden, S->N, S->E, S->d, o->position);
        if (!S->dumpcap) { S->rc = 2; return -1; }
        sinks[n_sinks++] = S->dumpcap;
    }
    if (o->extra_sink) sinks[n_sinks++] = o->extra_sink;
    ll_capture *sink = sinks[0];
    if (n_sinks > 1) sink = S->tee = ll_capture_tee_new_backend(sinks, n_sinks, S->ops, S->be->ctx);
    S->wc = (ll_window_cap){.base = {.on_entry = window_on_entry}, .inner = sink, .e_lo = S->e_lo, .e_hi = S->e_hi};
    if (S->nst > 1) {
        if (sink->on_entry_device) S->wc.base.on_entry_device = window_on_entry_device;
        sink = &S->wc.base;
        S->link = ll_stage_link_new(S->pipe, S->stage > 0 ? S->stage - 1 : -1, S->stage < S->nst - 1 ? S->stage + 1 : -1);
        S->m->stage_recv = ll_stage_link_recv;
        S->m->stage_send = ll_stage_link_send;
        S->m->stage_u = S->link;
    }
    S->tc = (ll_timed_cap){.base = {.on_entry = timed_on_entry}, .inner = sink, .E = S->E, .model = o->model};
    S->r->forward_s = S->tc.fwd_s = ll_xcalloc((size_t)S->E, sizeof(double));
    S->r->capture_s = S->tc.cap_s = ll_xcalloc((size_t)S->E, sizeof(double));
    if (sink->on_entry_device) S->tc.base.on_entry_device = timed_on_entry_device;
    return 0;
}
