/* Shared by the forward tests of every family (tests/test_forward.c,
 * tests/test_rwkv.c, tests/test_mamba.c): run a fixture model
 * (tests/fixtures/models/<name>: config, weights, tokens.jsonl, hidden.npy =
 * HF hidden states (P, E, d) at every real position, sequence by sequence,
 * written by tools/make_model_fixtures.py with PyPI transformers) through
 * layerlaw in right-padded batches of 4, 1 and 16 sequences (junk padding
 * ids), compare every entry, and name the first entry that diverges.
 * Header-only (static inline functions). */
#ifndef LL_TEST_MODEL_FIXTURE_H
#define LL_TEST_MODEL_FIXTURE_H
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "capture/capture.h"
#include "harness.h"
#include "core/ll_util.h"
#include "model/model.h"
#include "io/npy.h"
#include "ops/ops.h"
#include "io/tokens.h"
#include "pipeline/batcher.h"

/* A capture that copies every real position of every entry into
 * out[(p0 + pos) * E + e][d] (p0 = rows of earlier batches). */
typedef struct {
    ll_capture base;
    float *out;
    int E;
    long p0;     /* first row of this batch */
    long rows;   /* rows in this batch (set at entry 0) */
    int calls;   /* on_entry calls */
    int next_e;  /* expected entry */
    int order_ok;
} copy_cap;

static inline int copy_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T,
                         int C) {
    (void)tokens;
    copy_cap *c = (copy_cap *)self;
    if (e != c->next_e) c->order_ok = 0;
    c->next_e = (e + 1) % c->E;
    c->calls++;
    long p = c->p0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lens[b]; t++, p++)
            memcpy(c->out + ((size_t)p * c->E + e) * C, h + ((size_t)b * T + t) * C, sizeof(float) * C);
    c->rows = p - c->p0;
    return 0;
}

typedef struct {
    double max_abs, max_rel; /* over all entries */
    int first_bad;           /* first entry with rel > tol, -1 none */
    double bad_rel;
} cmp_result;

/* Loads tests/fixtures/models/<name> (its folder into dir) and its
 * tokens.jsonl; NULL with msg set on failure. */
static inline ll_model *fixture_open_at(const char *name, const char *model, char *dir, size_t dcap, ll_tokens *tk,
                                        char *msg, size_t cap) {
    char p[1200];
    snprintf(dir, dcap, "tests/fixtures/models/%s", name);
    ll_model *m = ll_model_load(model ? model : dir);
    if (!m) { snprintf(msg, cap, "load: %s", ll_last_error()); return NULL; }
    snprintf(p, sizeof p, "%s/tokens.jsonl", dir);
    if (ll_tokens_read(p, 0, tk)) { snprintf(msg, cap, "tokens: %s", ll_last_error()); ll_model_free(m); return NULL; }
    return m;
}

static inline ll_model *fixture_open(const char *name, char *dir, size_t dcap, ll_tokens *tk, char *msg, size_t cap) {
    return fixture_open_at(name, NULL, dir, dcap, tk, msg, cap);
}

/* Runs the whole token file through the model (the fixture's folder, or
 * `model` when not NULL: e.g. a GGUF file of the same weights) in batches of
 * `bs` sequences (right-padded) and compares with hidden.npy.
 * rel = max|diff| / max|ref| per entry. */
static inline int run_fixture_ref(const char *name, const char *model, const char *ref_npy, int bs, double tol,
                                  cmp_result *res, char *msg, size_t cap) {
    char dir[1024], p[1200];
    ll_tokens tk;
    ll_model *m = fixture_open_at(name, model, dir, sizeof dir, &tk, msg, cap);
    if (!m) return -1;
    ll_npy ref;
    if (ref_npy) snprintf(p, sizeof p, "%s", ref_npy);
    else snprintf(p, sizeof p, "%s/hidden.npy", dir);
    if (ll_npy_open(p, &ref)) { snprintf(msg, cap, "npy: %s", ll_last_error()); ll_model_free(m); ll_tokens_free(&tk); return -1; }
    const int E = ll_model_n_entries(m), d = ll_model_dim(m);
    if (ref.ndim != 3 || ref.shape[0] != tk.n_ids || ref.shape[1] != E || ref.shape[2] != d || ref.dtype != LL_DT_F32) {
        snprintf(msg, cap, "hidden.npy shape (%lld,%lld,%lld) vs tokens %lld, E %d, d %d", (long long)ref.shape[0],
                 (long long)ref.shape[1], (long long)ref.shape[2], (long long)tk.n_ids, E, d);
        ll_npy_close(&ref); ll_model_free(m); ll_tokens_free(&tk);
        return -1;
    }
    const ll_ops *ops = ll_cpu_ops();
    void *ctx = ll_cpu_ctx_new(2);
    copy_cap cc = {.base = {.on_entry = copy_on_entry}, .E = E, .order_ok = 1};
    cc.out = ll_xcalloc((size_t)tk.n_ids * E * d, sizeof(float));
    int rc = 0;
    /* the library's batcher, in input order, `bs` sequences a batch, junk
     * padding ids (a length-0 sequence cannot be forwarded; fixtures have none) */
    int longest = 1;
    for (int64_t q = 0; q < tk.n_seq; q++) longest = LL_MAX(longest, (int)(tk.off[q + 1] - tk.off[q]));
    ll_batcher *bt = ll_batcher_new(bs, (long long)bs * longest, longest, 99999);
    ll_batcher_window(bt, tk.ids, tk.off, tk.n_seq, 1);
    ll_batch b;
    while (rc == 0 && ll_batcher_next(bt, &b)) {
        if (ll_model_forward(m, ops, ctx, b.tokens, b.lens, b.B, b.T, &cc.base)) {
            snprintf(msg, cap, "forward: %s", ll_last_error());
            rc = -1;
        }
        cc.p0 += cc.rows;
    }
    ll_batcher_free(bt);
    if (rc == 0 && (!cc.order_ok || cc.p0 != tk.n_ids)) {
        snprintf(msg, cap, "capture saw entries out of order or %ld rows (expected %lld)", cc.p0, (long long)tk.n_ids);
        rc = -1;
    }
    if (rc == 0) {
        const float *R = ref.data;
        res->max_abs = res->max_rel = 0;
        res->first_bad = -1;
        for (int e = 0; e < E; e++) {
            double mref = 0, mdiff = 0;
            for (int64_t q = 0; q < tk.n_ids; q++)
                for (int k = 0; k < d; k++) {
                    size_t i = ((size_t)q * E + e) * d + k;
                    double a = cc.out[i], b = R[i];
                    if (fabs(b) > mref) mref = fabs(b);
                    double df = fabs(a - b);
                    if (!(df <= mdiff)) mdiff = df; /* NaN propagates */
                }
            double rel = mdiff / (mref > 0 ? mref : 1);
            if (!(rel <= res->max_rel)) res->max_rel = rel;
            if (!(mdiff <= res->max_abs)) res->max_abs = mdiff;
            if (res->first_bad < 0 && !(rel <= tol)) { res->first_bad = e; res->bad_rel = rel; }
        }
        fprintf(stderr, "  %-16s batch %d: max abs %.3g, max rel %.3g\n", name, bs, res->max_abs, res->max_rel);
    }
    free(cc.out);
    ll_cpu_ctx_free(ctx);
    ll_npy_close(&ref);
    ll_tokens_free(&tk);
    ll_model_free(m);
    return rc;
}

static inline int run_fixture_at(const char *name, const char *model, int bs, double tol, cmp_result *res, char *msg,
                                 size_t cap) {
    return run_fixture_ref(name, model, NULL, bs, tol, res, msg, cap);
}
static inline int run_fixture(const char *name, int bs, double tol, cmp_result *res, char *msg, size_t cap) {
    return run_fixture_at(name, NULL, bs, tol, res, msg, cap);
}

static inline void check_fixture(const char *name, double tol) {
    const int sizes[] = {4, 1, 16};
    for (int i = 0; i < 3; i++) {
        cmp_result r;
        char msg[2048] = "";
        int rc = run_fixture(name, sizes[i], tol, &r, msg, sizeof msg);
        REQUIRE_MSG(rc == 0, "%s: %s", name, msg);
        CHECK_MSG(r.first_bad < 0, "%s (batch %d): entry %d is the first to diverge: max rel %.3g > %.3g", name,
                  sizes[i], r.first_bad, r.bad_rel, tol);
    }
}

#endif
