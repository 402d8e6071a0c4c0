/* RWKV-4: WKV op vs a float64 textbook formula, scan vs recurrent mode, the
 * random HF fixture (safetensors and pytorch_model.bin), the embedding-entry
 * option, and the trained tiny RWKV-4 against rwkv.cpp's expected logits. */
#include "ops/cpu_ops.h"
#include "ssm_fixture.h"

static float frand(unsigned *s, float lo, float hi) {
    *s = *s * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)((*s >> 8) & 0xffffff) / 16777216.0f;
}

/* wkv_t = (Σ_{i<t} e^{-(t-1-i)·w' + k_i} v_i + e^{u + k_t} v_t) / (same with v = 1),
 * w' = exp(time_decay): the definition, in float64, without the running max. */
static double wkv_naive(const float *k, const float *v, double td, double u, int t, int stride) {
    double num = 0, den = 0, w = exp(td);
    for (int i = 0; i < t; i++) {
        double e = exp(-(t - 1 - i) * w + k[i * stride]);
        num += e * v[i * stride];
        den += e;
    }
    double e = exp(u + k[t * stride]);
    return (num + e * v[t * stride]) / (den + e);
}

TEST(rwkv_wkv4_op) {
    const int B = 3, T = 37, A = 70; /* A not a multiple of the channel block */
    unsigned s = 7;
    float *k = ll_xmalloc(sizeof(float) * B * T * A), *v = ll_xmalloc(sizeof(float) * B * T * A);
    float *o1 = ll_xmalloc(sizeof(float) * B * T * A), *o2 = ll_xmalloc(sizeof(float) * B * T * A),
          *o3 = ll_xmalloc(sizeof(float) * B * T * A);
    float td[70], tf[70];
    for (int c = 0; c < A; c++) { td[c] = frand(&s, -3, 1.5f); tf[c] = frand(&s, -2, 2); }
    for (int i = 0; i < B * T * A; i++) { k[i] = frand(&s, -6, 6); v[i] = frand(&s, -3, 3); }
    ll_cpu_wkv4(NULL, o1, k, v, td, tf, NULL, B, T, A);
    ll_ref_wkv4(o2, k, v, td, tf, B, T, A);
    double dref = 0;
    for (int i = 0; i < B * T * A; i++) dref = fmax(dref, fabs(o1[i] - o2[i]));
    CHECK_MSG(dref <= 3e-6, "vectorised wkv4 vs scalar libm reference: %.3g", dref); /* |v| <= 3 */
    double worst = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < A; c++) {
                size_t i = ((size_t)b * T + t) * A + c;
                double ref = wkv_naive(k + (size_t)b * T * A + c, v + (size_t)b * T * A + c, td[c], tf[c], t, A);
                double err = fabs(o1[i] - ref) / 3.0; /* wkv is a weighted mean of v, |v| <= 3 */
                if (err > worst) worst = err;
            }
    CHECK_MSG(worst < 1e-5, "wkv4 vs float64 definition: error %.3g (relative to max|v|)", worst);
    fprintf(stderr, "  wkv4 vs float64 definition: max error %.3g of max|v|\n", worst);
    /* state: two chunks (T1 + T - T1) equal one pass */
    float *state = ll_xmalloc(sizeof(float) * 3 * B * A);
    for (int i = 0; i < B * A; i++) { state[i] = 0; state[B * A + i] = 0; state[2 * B * A + i] = -1e38f; }
    const int T1 = 11;
    float *k1 = ll_xmalloc(sizeof(float) * B * T * A), *v1 = ll_xmalloc(sizeof(float) * B * T * A);
    for (int part = 0; part < 2; part++) {
        int t0 = part ? T1 : 0, tn = part ? T - T1 : T1;
        for (int b = 0; b < B; b++) {
            memcpy(k1 + (size_t)b * tn * A, k + ((size_t)b * T + t0) * A, sizeof(float) * tn * A);
            memcpy(v1 + (size_t)b * tn * A, v + ((size_t)b * T + t0) * A, sizeof(float) * tn * A);
        }
        ll_cpu_wkv4(NULL, o3, k1, v1, td, tf, state, B, tn, A);
        for (int b = 0; b < B; b++)
            CHECK(memcmp(o3 + (size_t)b * tn * A, o1 + ((size_t)b * T + t0) * A, sizeof(float) * tn * A) == 0);
    }
    /* large keys stay finite (the running max) */
    for (int i = 0; i < B * T * A; i++) k[i] = frand(&s, -80, 80);
    ll_cpu_wkv4(NULL, o1, k, v, td, tf, NULL, B, T, A);
    int finite = 1;
    for (int i = 0; i < B * T * A; i++) finite &= isfinite(o1[i]) && fabsf(o1[i]) <= 3.0f + 1e-5f;
    CHECK(finite);
    free(k); free(v); free(o1); free(o2); free(o3); free(state); free(k1); free(v1);
}

TEST(rwkv_shift_mix_op) {
    const int B = 2, T = 3, C = 5;
    float x[30], prev[10], mk[5], mv[5], mr[5], ok[30], ov[30], orr[30];
    for (int i = 0; i < 30; i++) x[i] = (float)i;
    for (int i = 0; i < 10; i++) prev[i] = -1.0f - i;
    for (int c = 0; c < C; c++) { mk[c] = 0.25f * c; mv[c] = 1.0f - 0.25f * c; mr[c] = 0.5f; }
    ll_cpu_rwkv_shift_mix(NULL, ok, ov, orr, x, NULL, mk, mv, mr, B, T, C);
    CHECK(ok[2] == x[2] * mk[2]);                          /* b0 t0: shifted = 0 */
    CHECK(ok[C + 2] == x[C + 2] * mk[2] + x[2] * (1 - mk[2])); /* b0 t1 */
    CHECK(ok[3 * C + 1] == x[3 * C + 1] * mk[1]);            /* b1 t0: not b0's last row */
    ll_cpu_rwkv_shift_mix(NULL, ok, NULL, orr, x, prev, mk, NULL, mr, B, T, C);
    CHECK(orr[3 * C + 4] == x[3 * C + 4] * 0.5f + prev[C + 4] * 0.5f);
}

#define TOL 1e-5
TEST(rwkv_matches_hf) { check_fixture("rwkv", TOL); }
TEST(rwkv_bin_matches_hf) { check_fixture("rwkv_bin", TOL); }
/* layer_norm_epsilon 1e-3 in the blocks, HF ln_out keeps eps 1e-5 */
TEST(rwkv_eps_matches_hf) { check_fixture("rwkv_eps", TOL); }

TEST(rwkv_scan_vs_recurrent) {
    char msg[2048] = "";
    double r = ssm_step_vs_scan("rwkv", 5, msg, sizeof msg);
    REQUIRE_MSG(r >= 0, "%s", msg);
    CHECK_MSG(r <= 1e-5, "scan and recurrent mode differ: max rel %.3g", r);
}

TEST(rwkv_embed_entry_option) { ssm_check_embed_entry("rwkv"); }

/* The trained tiny RWKV-4 (converted from rwkv.cpp's test model) fed the bytes
 * `"in`: the last position's logits vs rwkv.cpp's expected-logits file; in
 * scan mode and in recurrent mode. */
TEST(rwkv_tiny660k_logits) {
    ll_model *m = ll_model_load(ll_shared_path("data/checkpoints/rwkv4-tiny-660K-hf"));
    REQUIRE_MSG(m, "%s", ll_last_error());
    size_t n = 0;
    float *want = (float *)ll_read_file(ll_shared_path("data/checkpoints/rwkv4-tiny-660K/expected-logits-4v0-660K.bin"), &n);
    REQUIRE_MSG(want && n == 256 * sizeof(float), "%s", ll_last_error());
    REQUIRE(m->cfg.vocab == 256);
    const ll_ops *ops = ll_cpu_ops();
    void *ctx = ll_cpu_ctx_new(2);
    int32_t toks[3] = {0x22, 0x69, 0x6E};
    int lens[1] = {3}, one[1] = {1};
    float *lg = ll_xmalloc(sizeof(float) * 3 * 256);
    REQUIRE_MSG(ll_ssm_forward(m, ops, ctx, toks, lens, 1, 3, NULL, NULL, lg) == 0, "%s", ll_last_error());
    double maxd = 0, sum = 0;
    int am = 0;
    for (int i = 0; i < 256; i++) {
        double d = lg[2 * 256 + i] - want[i];
        sum += d;
        if (fabs(d) > maxd) maxd = fabs(d);
        if (lg[2 * 256 + i] > lg[2 * 256 + am]) am = i;
    }
    fprintf(stderr, "  tiny-rwkv-660K \"in: max |logit diff| %.3g (sum of diffs %.3g), argmax %d\n", maxd, sum, am);
    CHECK_MSG(maxd <= 1e-4, "max |logit - rwkv.cpp| = %.3g", maxd);
    CHECK_INT(am, 115);
    /* recurrent mode, one byte at a time */
    ll_ssm_state *st = ll_ssm_state_new(m, ops, ctx, 1);
    REQUIRE(st);
    for (int t = 0; t < 3; t++) REQUIRE(ll_ssm_forward(m, ops, ctx, toks + t, one, 1, 1, NULL, st, lg) == 0);
    double maxs = 0;
    for (int i = 0; i < 256; i++) maxs = fmax(maxs, fabs(lg[i] - want[i]));
    CHECK_MSG(maxs <= 1e-4, "recurrent mode: max |logit - rwkv.cpp| = %.3g", maxs);
    ll_ssm_state_free(st);
    free(lg);
    free(want);
    ll_cpu_ctx_free(ctx);
    ll_model_free(m);
}

TEST(rwkv_pr_pipeline) { ssm_check_pr("rwkv", 1e-6, 1e-4); }
TEST(rwkv_bin_pr_pipeline) { ssm_check_pr("rwkv_bin", 1e-6, 1e-4); }
