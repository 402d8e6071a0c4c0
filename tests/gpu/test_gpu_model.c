/* Model-level parity: the whole forward pass on the CUDA op table against the
 * CPU op table on every model fixture (tests/fixtures/models/ folder), every
 * hidden-state entry (max relative error and NMSE per entry; the first entry
 * that diverges is named), then the probe: PR per entry from the device
 * capture + device statistics + batched device solve against the CPU capture
 * + CPU statistics + CPU solve, and the law's slope.
 * fp32 compute (F32 weights, no TF32) and bf16 compute (weights as stored,
 * GEMM inputs bf16): the bf16 deviation is printed, with loose bounds. */
#ifdef LL_HAVE_CUDA
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../harness.h"
#include "capture/capture.h"
#include "backend/cuda_backend.h"
#include "core/ll_util.h"
#include "model/model.h"
#include "ops/ops.h"
#include "probe/probe.h"
#include "io/tokens.h"
#include "pipeline/batcher.h"

typedef struct {
    ll_capture base;
    float *out; /* [n_ids, E, d] */
    int E;
    long p0, rows;
} copy_cap;

static int copy_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T,
                         int C) {
    (void)tokens;
    copy_cap *c = (copy_cap *)self;
    long p = c->p0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lens[b]; t++, p++)
            memcpy(c->out + ((size_t)p * c->E + e) * C, h + ((size_t)b * T + t) * C, sizeof(float) * C);
    c->rows = p - c->p0;
    return 0;
}

/* Runs all sequences in batches of bs through (ops, ctx); every entry to cap_copy
 * (may be NULL) and, if set, a probe capture. */
static int run_model(ll_model *m, const ll_ops *ops, void *ctx, const ll_tokens *tk, int bs, copy_cap *cc,
                     ll_capture *probe, int cuda_probe) {
    int longest = 1;
    for (int64_t q = 0; q < tk->n_seq; q++) longest = LL_MAX(longest, (int)(tk->off[q + 1] - tk->off[q]));
    ll_batcher *bt = ll_batcher_new(bs, (long long)bs * longest, longest, 0); /* input order, bs a batch */
    ll_batcher_window(bt, tk->ids, tk->off, tk->n_seq, 1);
    ll_batch b;
    int rc = 0;
    while (rc == 0 && ll_batcher_next(bt, &b)) {
        if (cc) {
            rc = ll_model_forward(m, ops, ctx, b.tokens, b.lens, b.B, b.T, &cc->base);
            cc->p0 += cc->rows;
        }
        if (rc == 0 && probe) {
            if (cuda_probe) ll_cuda_capture_mark_start(probe);
            rc = ll_model_forward(m, ops, ctx, b.tokens, b.lens, b.B, b.T, probe);
        }
    }
    ll_batcher_free(bt);
    return rc ? -1 : 0;
}

static void model_parity(const char *name, ll_dtype compute, double ent_tol, double pr_tol) {
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "tests/fixtures/models/%s", name);
    ll_tokens tk;
    snprintf(p, sizeof p, "%s/tokens.jsonl", dir);
    REQUIRE_MSG(ll_tokens_read(p, 0, &tk) == 0, "%s", ll_last_error());
    ll_model *mc = ll_model_load(dir);
    REQUIRE_MSG(mc, "load %s: %s", name, ll_last_error());
    ll_load_opts lo = {compute == LL_DT_BF16};
    ll_model *mg = ll_model_load_ex(dir, &lo);
    REQUIRE_MSG(mg, "load %s: %s", name, ll_last_error());
    void *gctx = ll_cuda_ops_ctx_new(0, compute);
    REQUIRE_MSG(gctx, "%s", ll_last_error());
    const ll_ops *gops = ll_cuda_ops(), *cops = ll_cpu_ops();
    void *cctx = ll_cpu_ctx_new(0);
    REQUIRE_MSG(ll_model_upload(mg, gops, gctx) == 0, "upload: %s", ll_last_error());
    const int E = ll_model_n_entries(mc), d = ll_model_dim(mc);
    size_t tot = (size_t)tk.n_ids * E * d;
    copy_cap cc = {{copy_on_entry, NULL}, malloc(sizeof(float) * tot), E, 0, 0};
    copy_cap gc = {{copy_on_entry, NULL}, malloc(sizeof(float) * tot), E, 0, 0};
    /* probes */
    double eps;
    ll_norm nm = ll_model_fresh_norm(mc, &eps);
    ll_stats *st = ll_stats_new(E, d, LL_TARGET_ID, 0);
    ll_capture *cp = ll_capture_probe_new(st, LL_POS_NEXT, nm, eps, 0, NULL);
    ll_cuda_stats *gst = ll_cuda_stats_new(E, d, LL_TARGET_ID, 0, 4096, LL_GRAM_FP64);
    REQUIRE_MSG(gst, "%s", ll_last_error());
    ll_capture *gp = ll_cuda_capture_probe_new(gst, E, d, LL_POS_NEXT, nm, eps, 0, NULL);
    REQUIRE_MSG(gp, "%s", ll_last_error());
    REQUIRE_MSG(run_model(mc, cops, cctx, &tk, 4, &cc, cp, 0) == 0, "cpu forward: %s", ll_last_error());
    REQUIRE_MSG(run_model(mg, gops, gctx, &tk, 4, &gc, gp, 1) == 0, "cuda forward: %s", ll_last_error());
    REQUIRE_MSG(gops->sync(gctx) == 0, "cuda sync: %s", ll_last_error());
    /* every entry */
    int first_bad = -1;
    double worst = 0;
    for (int e = 0; e < E; e++) {
        double mref = 0, mdiff = 0, num = 0, den = 0;
        for (int64_t q = 0; q < tk.n_ids; q++)
            for (int k = 0; k < d; k++) {
                size_t i = ((size_t)q * E + e) * d + k;
                double a = gc.out[i], b = cc.out[i], df = fabs(a - b);
                if (fabs(b) > mref) mref = fabs(b);
                if (!(df <= mdiff)) mdiff = df;
                num += df * df;
                den += b * b;
            }
        double rel = mdiff / (mref > 0 ? mref : 1), nmse = den > 0 ? num / den : num;
        if (!(rel <= worst)) worst = rel;
        if (first_bad < 0 && !(rel <= ent_tol)) first_bad = e;
        printf("    [%s %s] entry %2d: max rel %.3g, NMSE %.3g\n", name, ll_dtype_name(compute), e, rel, nmse);
    }
    CHECK_MSG(first_bad < 0, "%s (%s): entry %d is the first to diverge (max rel > %.1e)", name, ll_dtype_name(compute),
              first_bad, ent_tol);
    /* probe */
    ll_probe_result *rc = calloc(E, sizeof *rc), *rg = calloc(E, sizeof *rg);
    REQUIRE_MSG(ll_stats_solve(st, 0, 0, rc) == 0, "%s", ll_last_error());
    REQUIRE_MSG(ll_cuda_stats_solve(gst, 0, 0, rg) == 0, "%s", ll_last_error());
    CHECK_INT(ll_cuda_capture_examples(gp), ll_capture_probe_examples(cp));
    double *prc = malloc(sizeof(double) * E), *prg = malloc(sizeof(double) * E);
    for (int e = 0; e < E; e++) {
        prc[e] = rc[e].pr;
        prg[e] = rg[e].pr;
        double r = fabs(rg[e].pr - rc[e].pr) / rc[e].pr;
        printf("    [%s %s] PR entry %2d: cuda %.10f cpu %.10f rel %.3g rank %d/%d\n", name, ll_dtype_name(compute), e,
               rg[e].pr, rc[e].pr, r, rg[e].rank, rc[e].rank);
        CHECK_MSG(r <= pr_tol, "%s: PR entry %d rel diff %.3g > %.1e", name, e, r, pr_tol);
        CHECK_INT((long)rg[e].n, (long)rc[e].n);
    }
    ll_law lc, lg;
    if (E >= 3 && ll_law_fit(prc, E, 1, &lc) == 0 && ll_law_fit(prg, E, 1, &lg) == 0)
        printf("    [%s %s] law slope cuda %.8f cpu %.8f (rel %.3g), pearson r %.6f vs %.6f\n", name,
               ll_dtype_name(compute), lg.slope, lc.slope, fabs(lg.slope - lc.slope) / fabs(lc.slope), lg.pearson_r,
               lc.pearson_r);
    double lms[256] = {0}, cms[256] = {0};
    long nb = ll_cuda_capture_timing(gp, E <= 256 ? lms : NULL, E <= 256 ? cms : NULL);
    CHECK(nb > 0);
    printf("    [%s %s] worst entry rel %.3g; %ld batches timed, entry 1: layer %.3f ms, capture %.3f ms\n", name,
           ll_dtype_name(compute), worst, nb, lms[1], cms[1]);
    free(prc); free(prg); free(rc); free(rg);
    ll_cuda_capture_free(gp);
    ll_capture_free(cp);
    ll_cuda_stats_free(gst);
    ll_stats_free(st);
    free(cc.out); free(gc.out);
    ll_model_free(mg);
    ll_model_free(mc);
    ll_cuda_ops_ctx_free(gctx);
    ll_cpu_ctx_free(cctx);
    ll_tokens_free(&tk);
}

#define FIXTURE(fx)                                                                                 \
    TEST(gpu_model_##fx##_fp32) { model_parity(#fx, LL_DT_F32, 1e-4, 1e-5); }                      \
    TEST(gpu_model_##fx##_bf16) { model_parity(#fx, LL_DT_BF16, 5e-2, 2e-2); }
FIXTURE(gpt2)
FIXTURE(gpt2_sharded)
FIXTURE(neox_parallel)
FIXTURE(neox_sequential)
FIXTURE(llama_gqa)
FIXTURE(llama3_scaling)
FIXTURE(llama_bf16)
FIXTURE(mistral)
FIXTURE(qwen2)
FIXTURE(rwkv)
FIXTURE(rwkv_bin)
FIXTURE(mamba)
#endif

#ifdef LL_HAVE_CUDA
/* The device pipeline alone (upload, forward on the CUDA table, device
 * capture, device statistics, batched device solve): PR per entry. */
static int gpu_pr(const char *dir, const char *tokpath, ll_dtype compute, ll_gram_mode gram, int bs, double *pr,
                  int *E_out, long *examples) {
    ll_tokens tk;
    if (ll_tokens_read(tokpath, 0, &tk)) return -1;
    ll_load_opts lo = {compute == LL_DT_BF16};
    ll_model *m = ll_model_load_ex(dir, &lo);
    if (!m) { ll_tokens_free(&tk); return -1; }
    void *ctx = ll_cuda_ops_ctx_new(0, compute);
    if (!ctx || ll_model_upload(m, ll_cuda_ops(), ctx)) { ll_model_free(m); ll_tokens_free(&tk); return -1; }
    const int E = ll_model_n_entries(m), d = ll_model_dim(m);
    double eps;
    ll_norm nm = ll_model_fresh_norm(m, &eps);
    ll_cuda_stats *gst = ll_cuda_stats_new(E, d, LL_TARGET_ID, 0, 8192, gram);
    ll_capture *gp = gst ? ll_cuda_capture_probe_new(gst, E, d, LL_POS_NEXT, nm, eps, 0, NULL) : NULL;
    int rc = gp ? run_model(m, ll_cuda_ops(), ctx, &tk, bs, NULL, gp, 1) : -1;
    ll_probe_result *r = calloc(E, sizeof *r);
    if (rc == 0) rc = ll_cuda_stats_solve(gst, 0, 0, r);
    if (rc == 0) {
        for (int e = 0; e < E; e++) pr[e] = r[e].pr;
        *E_out = E;
        *examples = ll_cuda_capture_examples(gp);
    }
    free(r);
    ll_cuda_capture_free(gp);
    ll_cuda_stats_free(gst);
    ll_model_free(m);
    ll_cuda_ops_ctx_free(ctx);
    ll_tokens_free(&tk);
    return rc;
}

/* The trained stories260K model on 200 Alice paragraphs against the float64
 * reference of shared/data/README.md (as tests/test_run.c does on the CPU). */
static void stories(ll_dtype compute, ll_gram_mode gram) {
    const char *model = ll_shared_path("data/checkpoints/stories260K-hf");
    const char *tok = ll_shared_path("data/checkpoints/stories260K-hf/alice-200x128.tok512.jsonl");
    const double ref[6] = {0.910152, 0.896124, 0.879437, 0.865318, 0.842318, 0.831666};
    double pr[64];
    int E = 0;
    long n = 0;
    REQUIRE_MSG(gpu_pr(model, tok, compute, gram, 16, pr, &E, &n) == 0, "%s (model %s)", ll_last_error(), model);
    REQUIRE(E == 6);
    CHECK_INT(n, 19422);
    ll_law law;
    REQUIRE(ll_law_fit(pr, E, 1, &law) == 0);
    double worst = 0;
    for (int e = 0; e < 6; e++) {
        double r = fabs(pr[e] - ref[e]) / ref[e];
        if (r > worst) worst = r;
        printf("    [stories260K %s %s] PR entry %d: %.7f (reference %.6f, rel %.2g)\n", ll_dtype_name(compute),
               ll_gram_mode_name(gram), e, pr[e], ref[e], r);
    }
    double ds = fabs(law.slope - -0.0083567) / 0.0083567;
    printf("    [stories260K %s %s] slope %.7f (reference -0.0083567, rel %.2g), pearson r %.5f (-0.99536)\n",
           ll_dtype_name(compute), ll_gram_mode_name(gram), law.slope, ds, law.pearson_r);
    if (compute == LL_DT_F32) {
        for (int e = 0; e < 6; e++)
            CHECK_MSG(fabs(pr[e] - ref[e]) <= 1e-6 + 1e-5 * ref[e], "entry %d: PR %.7f vs %.6f", e, pr[e], ref[e]);
        CHECK_NEAR(law.slope, -0.0083567, 2e-7);
        CHECK_NEAR(law.pearson_r, -0.99536, 1e-5);
    } else {
        CHECK_MSG(ds <= 0.01, "bf16: slope %.7f moves %.2g%% from the reference (> 1%%)", law.slope, 100 * ds);
        CHECK_MSG(worst <= 1e-2, "bf16: PR off by %.3g relative", worst);
    }
}
TEST(gpu_model_stories260k_fp32) { stories(LL_DT_F32, LL_GRAM_FP64); }
TEST(gpu_model_stories260k_fp32_tf32x3) { stories(LL_DT_F32, LL_GRAM_TF32X3); }
TEST(gpu_model_stories260k_bf16) { stories(LL_DT_BF16, LL_GRAM_FP64); } /* what run uses by default */
#endif
