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
#include "../stage_fixture.h"

static void stages_on_gpu(const char *name, ll_dtype compute, double tol) {
    char dir[512];
    snprintf(dir, sizeof dir, "tests/fixtures/models/%s", name);
    int32_t *toks = NULL;
    int lens[4], B, T;
    REQUIRE_MSG(first_batch(dir, 4, &toks, lens, &B, &T) == 0, "%s", ll_last_error());
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
    rec_cap rf = {.base = {.on_entry = rec_on_entry}, .ent = want, .n = n};
    REQUIRE_MSG(ll_model_forward(full, gops, gctx, toks, lens, B, T, &rf.base) == 0, "%s", ll_last_error());
    for (int S = 2; S <= 3 && S <= L; S++) {
        host_link link = {.buf = ll_xcalloc(n, sizeof(float)), .n = n};
        rec_cap rs = {.base = {.on_entry = rec_on_entry}, .ent = got, .n = n};
        for (int k = 0; k < S; k++) {
            ll_load_opts so = {.keep_half = lo.keep_half, .stage = k, .n_stages = S};
            ll_model *m = ll_model_load_ex(dir, &so);
            REQUIRE_MSG(m && ll_model_upload(m, gops, gctx) == 0, "%s stage %d: %s", name, k, ll_last_error());
            m->stage_send = host_link_send;
            m->stage_recv = host_link_recv;
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
        free(link.buf);
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
