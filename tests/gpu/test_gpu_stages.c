/* Layer parallel on the CUDA backend: a model split into stages (each loaded
 * with only its layers, uploaded on its own), chained in one process through
 * the stage hooks with the residual stream handed over through host memory
 * (what the MPI hand-over does), against the unsplit model on the same
 * device, every entry of a batch.  The same kernels on the same inputs:
 * bitwise expected; asserted to 1e-6 relative per entry in fp32 and 1e-3 in
 * bf16 in case a kernel's reduction order depends on something else than
 * its inputs (the maximum difference is printed).  The multi-process
 * hand-over (MPI or NCCL) needs mpirun: scripts/gpu-check.sh. */
#ifdef LL_HAVE_CUDA
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../harness.h"
#include "backend/cuda_backend.h"
#include "capture/capture.h"
#include "core/ll_util.h"
#include "io/tokens.h"
#include "model/model.h"
#include "ops/ops.h"

typedef struct {
    ll_capture base;
    float **ent;
    size_t n;
    int calls;
} grec_cap;

static int grec_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B,
                         int T, int C) {
    (void)tokens; (void)lens;
    grec_cap *r = (grec_cap *)self;
    if ((size_t)B * T * C != r->n) { ll_set_error("grec: batch size"); return -1; }
    memcpy(r->ent[e], h, sizeof(float) * r->n); /* h: host memory (the forward downloads for a host sink) */
    r->calls++;
    return 0;
}

typedef struct {
    float *host;
    size_t n;
    int sent;
} ghost_link;

static int g_send(void *u, const ll_ops *ops, void *ctx, const float *x, size_t n) {
    ghost_link *l = u;
    if (n != l->n) { ll_set_error("g_send: %zu floats", n); return -1; }
    ops->download(ctx, l->host, x, sizeof(float) * n);
    if (ops->sync && ops->sync(ctx)) return -1;
    l->sent++;
    return 0;
}
static int g_recv(void *u, const ll_ops *ops, void *ctx, float *x, size_t n) {
    ghost_link *l = u;
    if (n != l->n || !l->sent) { ll_set_error("g_recv: nothing sent"); return -1; }
    ops->upload(ctx, x, l->host, sizeof(float) * n);
    return 0;
}

static void stages_on_gpu(const char *name, ll_dtype compute, double tol) {
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "tests/fixtures/models/%s", name);
    ll_tokens tk;
    snprintf(p, sizeof p, "%s/tokens.jsonl", dir);
    REQUIRE_MSG(ll_tokens_read(p, 0, &tk) == 0, "%s", ll_last_error());
    const int B = (int)LL_MIN(tk.n_seq, 4);
    int lens[4], T = 1;
    for (int b = 0; b < B; b++) {
        lens[b] = (int)(tk.off[b + 1] - tk.off[b]);
        T = LL_MAX(T, lens[b]);
    }
    int32_t *toks = ll_xcalloc((size_t)B * T, sizeof(int32_t));
    for (int b = 0; b < B; b++) memcpy(toks + (size_t)b * T, tk.ids + tk.off[b], sizeof(int32_t) * lens[b]);
    void *gctx = ll_cuda_ops_ctx_new(0, compute);
    REQUIRE_MSG(gctx, "%s", ll_last_error());
    const ll_ops *gops = ll_cuda_ops();
    ll_load_opts lo = {.keep_half = compute == LL_DT_BF16};
    ll_model *full = ll_model_load_ex(dir, &lo);
    REQUIRE_MSG(full && ll_model_upload(full, gops, gctx) == 0, "%s", ll_last_error());
    const int E = ll_model_n_entries(full), C = ll_model_dim(full), L = full->cfg.n_layer;
    const size_t n = (size_t)B * T * C;
    float **want = ll_xcalloc((size_t)E, sizeof(float *)), **got = ll_xcalloc((size_t)E, sizeof(float *));
    for (int e = 0; e < E; e++) {
        want[e] = ll_xcalloc(n, sizeof(float));
        got[e] = ll_xcalloc(n, sizeof(float));
    }
    grec_cap rf = {.base = {.on_entry = grec_on_entry}, .ent = want, .n = n};
    REQUIRE_MSG(ll_model_forward(full, gops, gctx, toks, lens, B, T, &rf.base) == 0, "%s", ll_last_error());
    for (int S = 2; S <= 3 && S <= L; S++) {
        ghost_link link = {.host = ll_xcalloc(n, sizeof(float)), .n = n};
        grec_cap rs = {.base = {.on_entry = grec_on_entry}, .ent = got, .n = n};
        for (int k = 0; k < S; k++) {
            ll_load_opts so = {.keep_half = lo.keep_half, .stage = k, .n_stages = S};
            ll_model *m = ll_model_load_ex(dir, &so);
            REQUIRE_MSG(m && ll_model_upload(m, gops, gctx) == 0, "%s stage %d: %s", name, k, ll_last_error());
            m->stage_send = g_send;
            m->stage_recv = g_recv;
            m->stage_u = &link;
            REQUIRE_MSG(ll_model_forward(m, gops, gctx, toks, lens, B, T, &rs.base) == 0, "%s stage %d/%d: %s", name, k,
                        S, ll_last_error());
            ll_model_free(m);
        }
        CHECK_INT(rs.calls, E);
        double worst = 0;
        int bad = -1;
        for (int e = 0; e < E; e++) {
            double mref = 0, md = 0;
            for (int b = 0; b < B; b++)
                for (size_t i = (size_t)b * T * C; i < (size_t)b * T * C + (size_t)lens[b] * C; i++) {
                    mref = fmax(mref, fabs(want[e][i]));
                    double dd = fabs((double)want[e][i] - got[e][i]);
                    if (!(dd <= md)) md = dd;
                }
            double rel = md / (mref > 0 ? mref : 1);
            if (!(rel <= worst)) worst = rel;
            if (bad < 0 && !(rel <= tol)) bad = e;
        }
        fprintf(stderr, "  %-14s %s, %d stages: max rel %.3g over %d entries\n", name,
                compute == LL_DT_BF16 ? "bf16" : "fp32", S, worst, E);
        CHECK_MSG(bad < 0, "%s (%d stages): entry %d differs from the unsplit model (max rel %.3g > %.3g)", name, S, bad,
                  worst, tol);
        free(link.host);
    }
    for (int e = 0; e < E; e++) {
        free(want[e]);
        free(got[e]);
    }
    free(want);
    free(got);
    free(toks);
    ll_model_free(full);
    ll_cuda_ops_ctx_free(gctx);
    ll_tokens_free(&tk);
}

#define STAGES_GPU(fx, name)                                                   \
    TEST(gpu_stages_##fx##_fp32) { stages_on_gpu(name, LL_DT_F32, 1e-6); }   \
    TEST(gpu_stages_##fx##_bf16) { stages_on_gpu(name, LL_DT_BF16, 1e-3); }
STAGES_GPU(gpt2, "gpt2")
STAGES_GPU(llama_gqa, "llama_gqa")
STAGES_GPU(gemma2, "gemma2")
STAGES_GPU(bert, "bert")
STAGES_GPU(rwkv, "rwkv")
STAGES_GPU(mamba, "mamba")
STAGES_GPU(mamba2, "mamba2")
#endif
