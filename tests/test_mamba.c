/* Mamba: conv1d and selective-scan ops vs float64 definitions and across
 * state chunks, the random HF fixture, scan vs recurrent mode, the
 * embedding-entry option. */
#include "ops/cpu_ops.h"
#include "ssm_fixture.h"

static float frand(unsigned *s, float lo, float hi) {
    *s = *s * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)((*s >> 8) & 0xffffff) / 16777216.0f;
}
static double dsilu(double x) { return x / (1 + exp(-x)); }

TEST(mamba_conv1d_op) {
    const int B = 2, T = 9, E = 40, K = 4, RS = 2 * E; /* input rows strided like in_proj's output */
    unsigned s = 3;
    float *in = ll_xmalloc(sizeof(float) * B * T * RS), *w = ll_xmalloc(sizeof(float) * E * K), bias[40];
    float *o1 = ll_xmalloc(sizeof(float) * B * T * E), *o2 = ll_xmalloc(sizeof(float) * B * T * E);
    for (int i = 0; i < B * T * RS; i++) in[i] = frand(&s, -2, 2);
    for (int i = 0; i < E * K; i++) w[i] = frand(&s, -1, 1);
    for (int e = 0; e < E; e++) bias[e] = frand(&s, -0.5f, 0.5f);
    ll_cpu_conv1d_silu(NULL, o1, in, RS, w, bias, NULL, B, T, E, K);
    double worst = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int e = 0; e < E; e++) {
                double acc = bias[e];
                for (int j = 0; j < K; j++) {
                    int tt = t - (K - 1) + j;
                    if (tt >= 0) acc += (double)w[e * K + j] * in[((size_t)b * T + tt) * RS + e];
                }
                worst = fmax(worst, fabs(o1[((size_t)b * T + t) * E + e] - dsilu(acc)));
            }
    CHECK_MSG(worst < 1e-5, "conv1d vs float64: %.3g", worst);
    /* chunks of 1, 2, 6 tokens with a state equal one pass */
    float *state = ll_xcalloc((size_t)B * E * (K - 1), sizeof(float));
    const int cuts[4] = {0, 1, 3, 9};
    for (int c = 0; c < 3; c++) {
        int t0 = cuts[c], tn = cuts[c + 1] - cuts[c];
        float *ci = ll_xmalloc(sizeof(float) * B * tn * RS);
        for (int b = 0; b < B; b++) memcpy(ci + (size_t)b * tn * RS, in + ((size_t)b * T + t0) * RS, sizeof(float) * tn * RS);
        ll_cpu_conv1d_silu(NULL, o2, ci, RS, w, bias, state, B, tn, E, K);
        for (int b = 0; b < B; b++)
            CHECK_MSG(memcmp(o2 + (size_t)b * tn * E, o1 + ((size_t)b * T + t0) * E, sizeof(float) * tn * E) == 0,
                      "chunk %d row %d", c, b);
        free(ci);
    }
    free(in); free(w); free(o1); free(o2); free(state);
}

static void scan_op_case(int S) {
    const int B = 2, T = 13, E = 37, R = 3, W = R + 2 * S;
    unsigned s = 11;
    const size_t NE = (size_t)B * T * E;
    float *u = ll_xmalloc(sizeof(float) * NE), *dt = ll_xmalloc(sizeof(float) * NE),
          *z = ll_xmalloc(sizeof(float) * NE * 2), *bc = ll_xmalloc(sizeof(float) * B * T * W),
          *Al = ll_xmalloc(sizeof(float) * E * S), D[37];
    float *y1 = ll_xmalloc(sizeof(float) * NE), *y2 = ll_xmalloc(sizeof(float) * NE), *y3 = ll_xmalloc(sizeof(float) * NE);
    for (size_t i = 0; i < NE; i++) { u[i] = frand(&s, -2, 2); dt[i] = frand(&s, -6, 3); }
    dt[5] = 25.0f; /* softplus threshold branch */
    for (size_t i = 0; i < NE * 2; i++) z[i] = frand(&s, -3, 3);
    for (int i = 0; i < B * T * W; i++) bc[i] = frand(&s, -1.5f, 1.5f);
    for (int i = 0; i < E * S; i++) Al[i] = logf(1.0f + (float)(i % S)) + frand(&s, -0.2f, 0.2f);
    for (int e = 0; e < E; e++) D[e] = frand(&s, -1, 1);
    ll_sscan_params p = {y1, u, dt, Al, bc + R, bc + R + S, D, z + E, W, 2 * E, NULL, B, T, E, S};
    ll_cpu_selective_scan(NULL, &p);
    p.y = y2;
    ll_ref_selective_scan(&p);
    double dref = 0, ymx = 0;
    for (size_t i = 0; i < NE; i++) { dref = fmax(dref, fabs(y1[i] - y2[i])); ymx = fmax(ymx, fabs(y2[i])); }
    CHECK_MSG(dref <= 1e-6 * ymx, "vectorised scan vs scalar libm reference: %.3g (max |y| %.3g)", dref, ymx);
    /* float64 definition */
    double worst = 0, ymax = 0;
    for (int b = 0; b < B; b++)
        for (int e = 0; e < E; e++) {
            double h[32] = {0};
            for (int t = 0; t < T; t++) {
                size_t r = (size_t)b * T + t;
                double x = dt[r * E + e], d = x > 20 ? x : log1p(exp(x)), acc = 0;
                for (int n = 0; n < S; n++) {
                    double A = -exp((double)Al[e * S + n]);
                    h[n] = exp(A * d) * h[n] + d * bc[r * W + R + n] * u[r * E + e];
                    acc += h[n] * bc[r * W + R + S + n];
                }
                double y = (acc + u[r * E + e] * D[e]) * dsilu(z[r * 2 * E + E + e]);
                worst = fmax(worst, fabs(y - y1[r * E + e]));
                ymax = fmax(ymax, fabs(y));
            }
        }
    CHECK_MSG(worst <= 1e-5 * ymax, "selective scan vs float64: %.3g (max |y| %.3g)", worst, ymax);
    /* state continuation over chunks 5 + 8 */
    float *st = ll_xcalloc((size_t)B * E * S, sizeof(float));
    const int cuts[3] = {0, 5, 13};
    for (int c = 0; c < 2; c++) {
        int t0 = cuts[c], tn = cuts[c + 1] - cuts[c];
        float *cu = ll_xmalloc(sizeof(float) * B * tn * E), *cd = ll_xmalloc(sizeof(float) * B * tn * E),
              *cz = ll_xmalloc(sizeof(float) * B * tn * 2 * E), *cb = ll_xmalloc(sizeof(float) * B * tn * W);
        for (int b = 0; b < B; b++) {
            size_t src = (size_t)b * T + t0, dst = (size_t)b * tn;
            memcpy(cu + dst * E, u + src * E, sizeof(float) * tn * E);
            memcpy(cd + dst * E, dt + src * E, sizeof(float) * tn * E);
            memcpy(cz + dst * 2 * E, z + src * 2 * E, sizeof(float) * tn * 2 * E);
            memcpy(cb + dst * W, bc + src * W, sizeof(float) * tn * W);
        }
        ll_sscan_params q = {y3, cu, cd, Al, cb + R, cb + R + S, D, cz + E, W, 2 * E, st, B, tn, E, S};
        ll_cpu_selective_scan(NULL, &q);
        for (int b = 0; b < B; b++)
            CHECK_MSG(memcmp(y3 + (size_t)b * tn * E, y1 + ((size_t)b * T + t0) * E, sizeof(float) * tn * E) == 0,
                      "chunk %d row %d", c, b);
        free(cu); free(cd); free(cz); free(cb);
    }
    free(u); free(dt); free(z); free(bc); free(Al); free(y1); free(y2); free(y3); free(st);
}

/* E = 37 (not a multiple of the 16-channel block), S = 8, 5 and 19. */
TEST(mamba_selective_scan_op) {
    scan_op_case(8);
    scan_op_case(5);
    scan_op_case(19);
}

#define TOL 1e-5
TEST(mamba_matches_hf) { check_fixture("mamba", TOL); }

TEST(mamba_scan_vs_recurrent) {
    char msg[2048] = "";
    double r = ssm_step_vs_scan("mamba", 5, msg, sizeof msg);
    REQUIRE_MSG(r >= 0, "%s", msg);
    CHECK_MSG(r <= 1e-5, "scan and recurrent mode differ: max rel %.3g", r);
}

TEST(mamba_embed_entry_option) { ssm_check_embed_entry("mamba"); }

/* Logits through the tied head equal embed · norm_f(h) (the last entry). */
TEST(mamba_logits_tied_head) {
    ll_model *m = ll_model_load("tests/fixtures/models/mamba");
    REQUIRE_MSG(m, "%s", ll_last_error());
    const int E = ll_model_n_entries(m), C = ll_model_dim(m), V = m->cfg.vocab;
    int32_t toks[4] = {5, 7, 11, 13};
    int lens[1] = {4};
    const ll_ops *ops = ll_cpu_ops();
    void *ctx = ll_cpu_ctx_new(2);
    dense_cap dc = {{dense_on_entry, NULL}, ll_xcalloc((size_t)E * 4 * C, sizeof(float)), E, 0, 1, 0};
    float *lg = ll_xmalloc(sizeof(float) * 4 * V);
    REQUIRE_MSG(ll_ssm_forward(m, ops, ctx, toks, lens, 1, 4, &dc.base, NULL, lg) == 0, "%s", ll_last_error());
    const float *emb = m->embed.data, *hl = dc.out + (size_t)(E - 1) * 4 * C;
    double worst = 0;
    for (int t = 0; t < 4; t++)
        for (int v = 0; v < V; v++) {
            double acc = 0;
            for (int k = 0; k < C; k++) acc += (double)emb[(size_t)v * C + k] * hl[t * C + k];
            worst = fmax(worst, fabs(acc - lg[t * V + v]));
        }
    CHECK_MSG(worst < 1e-4, "logits vs embed·h: %.3g", worst);
    free(dc.out);
    free(lg);
    ll_cpu_ctx_free(ctx);
    ll_model_free(m);
}

TEST(mamba_pr_pipeline) { ssm_check_pr("mamba", 1e-6, 1e-5); }
