/* Shared by tests/test_rwkv.c and tests/test_mamba.c: run a fixture model
 * (tests/fixtures/models/<name>: config, weights, tokens.jsonl, hidden.npy =
 * HF hidden states (P, E, d) at every real position) through layerlaw and
 * compare every entry; and compare full-sequence (scan) mode with
 * token-by-token recurrent mode.  Header-only (static functions). */
#ifndef LL_TEST_SSM_FIXTURE_H
#define LL_TEST_SSM_FIXTURE_H
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "capture/capture.h"
#include "probe/probe.h"
#include "families/ssm_common.h"
#include "harness.h"
#include "core/ll_util.h"
#include "model/model.h"
#include "io/npy.h"
#include "ops/ops.h"
#include "io/tokens.h"
#include "model_fixture.h"

/* Copies every position (padding included) of every entry into
 * out[((e * B + b) * T + t) * C]; dense per call. */
typedef struct {
    ll_capture base;
    float *out;
    int E, next_e, order_ok, calls;
} dense_cap;

static int dense_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B,
                          int T, int C) {
    (void)tokens; (void)lens;
    dense_cap *c = (dense_cap *)self;
    if (e != c->next_e) c->order_ok = 0;
    c->next_e = (e + 1) % c->E;
    c->calls++;
    memcpy(c->out + (size_t)e * B * T * C, h, sizeof(float) * (size_t)B * T * C);
    return 0;
}

/* The comparison of every entry with HF is check_fixture()
 * (tests/model_fixture.h, shared with the transformer families). */

/* Full-sequence (scan) mode vs token-by-token recurrent mode on the first
 * `nseq` fixture sequences as one right-padded batch; also checks that the
 * recurrent state continues across calls of several tokens (chunks of 3).
 * Returns max rel diff over real positions and entries (or -1 on error). */
static double ssm_step_vs_scan(const char *name, int nseq, char *msg, size_t cap) {
    char dir[1024], p[1200];
    snprintf(dir, sizeof dir, "tests/fixtures/models/%s", name);
    ll_model *m = ll_model_load(dir);
    if (!m) { snprintf(msg, cap, "load: %s", ll_last_error()); return -1; }
    ll_tokens tk;
    snprintf(p, sizeof p, "%s/tokens.jsonl", dir);
    if (ll_tokens_read(p, 0, &tk)) { snprintf(msg, cap, "tokens: %s", ll_last_error()); ll_model_free(m); return -1; }
    const int B = (int)LL_MIN((int64_t)nseq, tk.n_seq), E = ll_model_n_entries(m), C = ll_model_dim(m);
    int T = 1;
    for (int b = 0; b < B; b++) T = LL_MAX(T, (int)(tk.off[b + 1] - tk.off[b]));
    int32_t *toks = ll_xcalloc((size_t)B * T, sizeof(int32_t));
    int *lens = ll_xmalloc(sizeof(int) * B), *ones = ll_xmalloc(sizeof(int) * B);
    for (int b = 0; b < B; b++) {
        lens[b] = (int)(tk.off[b + 1] - tk.off[b]);
        ones[b] = 1;
        for (int t = 0; t < lens[b]; t++) toks[b * T + t] = tk.ids[tk.off[b] + t];
    }
    const ll_ops *ops = ll_cpu_ops();
    void *ctx = ll_cpu_ctx_new(2);
    dense_cap full = {{dense_on_entry, NULL}, ll_xcalloc((size_t)E * B * T * C, sizeof(float)), E, 0, 1, 0};
    double worst = -1;
    float *step = ll_xcalloc((size_t)E * B * T * C, sizeof(float));
    if (ll_ssm_forward(m, ops, ctx, toks, lens, B, T, &full.base, NULL, NULL)) {
        snprintf(msg, cap, "scan: %s", ll_last_error());
        goto out;
    }
    for (int mode = 0; mode < 2; mode++) {
        const int chunk = mode == 0 ? 1 : 3; /* token by token; then 3 at a time */
        ll_ssm_state *st = ll_ssm_state_new(m, ops, ctx, B);
        if (!st) { snprintf(msg, cap, "state: %s", ll_last_error()); goto out; }
        for (int t0 = 0; t0 < T; t0 += chunk) {
            const int tc = LL_MIN(chunk, T - t0);
            int32_t *col = ll_xmalloc(sizeof(int32_t) * B * tc);
            int *cl = ll_xmalloc(sizeof(int) * B);
            for (int b = 0; b < B; b++) {
                cl[b] = tc;
                for (int t = 0; t < tc; t++) col[b * tc + t] = toks[b * T + t0 + t];
            }
            dense_cap one = {{dense_on_entry, NULL}, ll_xcalloc((size_t)E * B * tc * C, sizeof(float)), E, 0, 1, 0};
            int rc = ll_ssm_forward(m, ops, ctx, col, cl, B, tc, &one.base, st, NULL);
            if (rc == 0)
                for (int e = 0; e < E; e++)
                    for (int b = 0; b < B; b++)
                        memcpy(step + (((size_t)e * B + b) * T + t0) * C, one.out + (((size_t)e * B + b) * tc) * C,
                               sizeof(float) * (size_t)tc * C);
            free(one.out);
            free(col);
            free(cl);
            if (rc) { snprintf(msg, cap, "step: %s", ll_last_error()); ll_ssm_state_free(st); goto out; }
        }
        ll_ssm_state_free(st);
        for (int e = 0; e < E; e++) {
            double mref = 0, mdiff = 0;
            for (int b = 0; b < B; b++)
                for (int t = 0; t < lens[b]; t++)
                    for (int k = 0; k < C; k++) {
                        size_t i = (((size_t)e * B + b) * T + t) * C + k;
                        if (fabs(full.out[i]) > mref) mref = fabs(full.out[i]);
                        double df = fabs((double)full.out[i] - step[i]);
                        if (!(df <= mdiff)) mdiff = df;
                    }
            double rel = mdiff / (mref > 0 ? mref : 1);
            if (!(rel <= worst)) worst = rel;
        }
    }
    fprintf(stderr, "  %-12s scan vs recurrent (B=%d, T=%d): max rel %.3g\n", name, B, T, worst);
out:
    free(step);
    free(full.out);
    free(toks);
    free(lens);
    free(ones);
    ll_cpu_ctx_free(ctx);
    ll_tokens_free(&tk);
    ll_model_free(m);
    return worst;
}

/* The embedding-entry variant: entry 0 = token embeddings, entries 1..L-1 =
 * the HF entries 0..L-2, entry L unchanged.  Checks that relation exactly. */
static void ssm_check_embed_entry(const char *name) {
    char dir[1024];
    snprintf(dir, sizeof dir, "tests/fixtures/models/%s", name);
    ll_model *m = ll_model_load(dir);
    REQUIRE_MSG(m, "%s", ll_last_error());
    const int E = ll_model_n_entries(m), C = ll_model_dim(m), L = m->cfg.n_layer, B = 2, T = 5;
    int32_t toks[10] = {3, 1, 4, 1, 5, 9, 2, 6, 0, 0};
    int lens[2] = {5, 3};
    const ll_ops *ops = ll_cpu_ops();
    void *ctx = ll_cpu_ctx_new(2);
    dense_cap a = {{dense_on_entry, NULL}, ll_xcalloc((size_t)E * B * T * C, sizeof(float)), E, 0, 1, 0};
    dense_cap b = {{dense_on_entry, NULL}, ll_xcalloc((size_t)E * B * T * C, sizeof(float)), E, 0, 1, 0};
    CHECK(ll_ssm_embed_entry(m) == 0);
    REQUIRE(ll_model_forward(m, ops, ctx, toks, lens, B, T, &a.base) == 0);
    REQUIRE(ll_ssm_set_embed_entry(m, 1) == 0);
    CHECK(ll_ssm_embed_entry(m) == 1);
    REQUIRE(ll_model_forward(m, ops, ctx, toks, lens, B, T, &b.base) == 0);
    CHECK_INT(a.calls, E);
    CHECK_INT(b.calls, E);
    CHECK(b.order_ok);
    const size_t S = (size_t)B * T * C;
    /* entry 0 = embedding rows */
    const float *emb = m->embed.data;
    for (int bb = 0; bb < B; bb++)
        for (int t = 0; t < lens[bb]; t++)
            CHECK(memcmp(b.out + ((size_t)bb * T + t) * C, emb + (size_t)toks[bb * T + t] * C, sizeof(float) * C) == 0);
    for (int e = 1; e < L; e++) CHECK_MSG(memcmp(b.out + e * S, a.out + (e - 1) * S, S * sizeof(float)) == 0, "entry %d", e);
    CHECK(memcmp(b.out + L * S, a.out + L * S, S * sizeof(float)) == 0);
    free(a.out);
    free(b.out);
    ll_cpu_ctx_free(ctx);
    ll_model_free(m);
}

/* The authors' pipeline end to end: forward (batches of 4, right padding) →
 * probe sink (next-token labels, a fresh LayerNorm (rwkv) / RMSNorm (mamba)
 * on every entry but the last) → exact PR per entry, against the fixture's
 * expected.json (pr_exact: float64 on HF's features; pr_sklearn). */
static void ssm_check_pr(const char *name, double tol_exact, double tol_sklearn) {
    char dir[1024], p[1200];
    snprintf(dir, sizeof dir, "tests/fixtures/models/%s", name);
    ll_model *m = ll_model_load(dir);
    REQUIRE_MSG(m, "%s", ll_last_error());
    ll_tokens tk;
    snprintf(p, sizeof p, "%s/tokens.jsonl", dir);
    REQUIRE_MSG(ll_tokens_read(p, 0, &tk) == 0, "%s", ll_last_error());
    snprintf(p, sizeof p, "%s/expected.json", dir);
    char *txt = ll_read_file(p, NULL);
    REQUIRE_MSG(txt, "%s", ll_last_error());
    cJSON *exp = cJSON_Parse(txt);
    free(txt);
    REQUIRE(exp);
    const int E = ll_model_n_entries(m), d = ll_model_dim(m);
    double eps;
    ll_norm norm = ll_model_fresh_norm(m, &eps);
    CHECK(norm == (!strcmp(m->family->model_type, "rwkv") ? LL_NORM_LAYERNORM : LL_NORM_RMSNORM));
    ll_stats *st = ll_stats_new(E, d, LL_TARGET_ID, 0);
    ll_capture *cap = ll_capture_probe_new(st, LL_POS_NEXT, norm, eps, 0, NULL);
    REQUIRE(cap);
    const ll_ops *ops = ll_cpu_ops();
    void *ctx = ll_cpu_ctx_new(2);
    for (int64_t s0 = 0; s0 < tk.n_seq; s0 += 4) {
        int B = (int)LL_MIN((int64_t)4, tk.n_seq - s0), T = 1;
        for (int b = 0; b < B; b++) T = LL_MAX(T, (int)(tk.off[s0 + b + 1] - tk.off[s0 + b]));
        int32_t *toks = ll_xcalloc((size_t)B * T, sizeof(int32_t));
        int lens[4];
        for (int b = 0; b < B; b++) {
            lens[b] = (int)(tk.off[s0 + b + 1] - tk.off[s0 + b]);
            for (int t = 0; t < lens[b]; t++) toks[b * T + t] = tk.ids[tk.off[s0 + b] + t];
        }
        int rc = ll_model_forward(m, ops, ctx, toks, lens, B, T, cap);
        free(toks);
        REQUIRE_MSG(rc == 0, "%s", ll_last_error());
    }
    CHECK_INT(ll_capture_probe_examples(cap), (long)cJSON_GetObjectItem(exp, "n_examples")->valuedouble);
    ll_probe_result *res = ll_xcalloc(E, sizeof *res);
    REQUIRE_MSG(ll_stats_solve(st, 0, 2, res) == 0, "%s", ll_last_error());
    const cJSON *pe = cJSON_GetObjectItem(exp, "pr_exact"), *ps = cJSON_GetObjectItem(exp, "pr_sklearn");
    REQUIRE(cJSON_GetArraySize(pe) == E && cJSON_GetArraySize(ps) == E);
    for (int e = 0; e < E; e++) {
        double want = cJSON_GetArrayItem(pe, e)->valuedouble, sk = cJSON_GetArrayItem(ps, e)->valuedouble;
        fprintf(stderr, "  %-8s entry %d: PR %.9f  exact(HF) %.9f (rel %.2g)  sklearn %.9f (rel %.2g)\n", name, e,
                res[e].pr, want, fabs(res[e].pr - want) / want, sk, fabs(res[e].pr - sk) / sk);
        CHECK_MSG(fabs(res[e].pr - want) <= tol_exact * want, "%s entry %d: PR %.9g vs exact %.9g", name, e, res[e].pr, want);
        CHECK_MSG(fabs(res[e].pr - sk) <= tol_sklearn * sk, "%s entry %d: PR %.9g vs sklearn %.9g", name, e, res[e].pr, sk);
    }
    free(res);
    ll_capture_free(cap);
    ll_stats_free(st);
    ll_cpu_ctx_free(ctx);
    cJSON_Delete(exp);
    ll_tokens_free(&tk);
    ll_model_free(m);
}
#endif
