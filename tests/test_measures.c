/* The paper's other measures (host/probe/measures.h, `fit --measure`,
 * `fit --folds`) against tools/make_measure_fixtures.py and hand-derived
 * values.  Tolerances:
 *  - separation fuzziness vs the authors' formula in numpy float64 with
 *    scipy.linalg.pinv: 1e-9 relative (both float64; observed <= 3e-13; the
 *    Sb eigenvalues kept are far above both cut-offs, 1e-12·λmax here and
 *    d·eps·σmax in scipy, so the same pseudo-inverse is taken);
 *  - vs the authors' precision (float32 features, float32 class moments):
 *    1e-5 relative where Sb is full rank (observed 2.3e-7); not compared
 *    where Sb is rank-deficient (classes <= d): there the float32 rounding
 *    noise in Sb's null space is kept by scipy's float64 cut-off and the
 *    authors' D is noise (5e5 times the exact value in fz_raw;
 *    docs/measures.md);
 *  - held-out PR, per-fold PR and the leave-one-fold-out in-sample PR vs an
 *    explicit K-fold loop of sklearn LinearRegression in float64 with the
 *    same folds: 1e-9 relative (observed <= 3e-14; float64 lstsq vs the
 *    float64 eigen-solve);
 *  - law parameters, jackknife se and interval: 1e-8 absolute (sums of
 *    ~10 values of the above, observed <= 1e-13). */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "core/ll_util.h"
#include "probe/measures.h"
#include "io/npy.h"
#include "test_util.h"

/* Runs fit on fixture case `name` with its args plus `extra`; returns law.json
 * (and the fixture's expectations in *exp), NULL on failure (test failed). */
static cJSON *run_case(const char *name, const char *extra, cJSON **exp) {
    char ep[512], cmd[4096], out[600];
    snprintf(ep, sizeof ep, "tests/fixtures/measures/%s.json", name);
    *exp = load_json(ep);
    if (!*exp) { ll_test_fail(__FILE__, __LINE__, "cannot load %s", ep); return NULL; }
    const char *data = cJSON_GetStringValue(cJSON_GetObjectItem(*exp, "data"));
    ll_path_join(out, sizeof out, ll_test_tmpdir(), name);
    int k = snprintf(cmd, sizeof cmd, "%s fit --features tests/fixtures/measures/%s.F.npy --labels tests/fixtures/measures/%s.Y.npy --out %s --quiet",
                     ll_bin_path(), data, data, out);
    if (cJSON_IsTrue(cJSON_GetObjectItem(*exp, "groups")))
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --groups tests/fixtures/measures/%s.G.npy", data);
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(*exp, "args")) k += snprintf(cmd + k, sizeof cmd - (size_t)k, " %s", a->valuestring);
    snprintf(cmd + k, sizeof cmd - (size_t)k, " %s 2>&1", extra ? extra : "");
    char *o = NULL;
    int st = ll_run_cmd(cmd, &o);
    if (st != 0) { ll_test_fail(__FILE__, __LINE__, "%s: exit %d: %s", name, st, o ? o : ""); free(o); return NULL; }
    free(o);
    char lp[700];
    cJSON *got = load_json(ll_path_join(lp, sizeof lp, out, "law.json"));
    if (!got) ll_test_fail(__FILE__, __LINE__, "%s: no law.json", name);
    return got;
}

static void check_law(const cJSON *fit, const cJSON *want, double tol) {
    const char *keys[] = {"slope", "intercept", "r2", "pearson_r", "decay_ratio", "overall_ratio"};
    for (size_t i = 0; i < 6; i++) CHECK_NEAR(jnum(fit, keys[i]), jnum(want, keys[i]), tol);
}

static void sepfuzz_case(const char *name, int check_authors32) {
    cJSON *exp = NULL, *got = run_case(name, "--measure fuzziness", &exp);
    if (!got) { cJSON_Delete(exp); return; }
    const cJSON *layers = cJSON_GetObjectItem(got, "layers"), *fz = cJSON_GetObjectItem(exp, "fuzz");
    const cJSON *fz32 = cJSON_GetObjectItem(exp, "fuzz_authors32");
    CHECK_INT(cJSON_GetArraySize(layers), cJSON_GetArraySize(fz));
    for (int e = 0; e < cJSON_GetArraySize(fz); e++) {
        const cJSON *l = cJSON_GetArrayItem(layers, e);
        CHECK_REL(jnum(l, "separation_fuzziness"), jidx(fz, e), 1e-9);
        if (check_authors32) CHECK_REL(jnum(l, "separation_fuzziness"), jidx(fz32, e), 1e-5);
        CHECK(jnum(l, "tr_sw") > 0 && jnum(l, "tr_sb") > 0);
        CHECK(cJSON_GetObjectItem(l, "pr") == NULL);
    }
    check_law(cJSON_GetObjectItem(got, "fit"), cJSON_GetObjectItem(exp, "law"), 1e-8);
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(got, "measure")), "fuzziness"));
    const cJSON *cfg = cJSON_GetObjectItem(got, "config");
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "measure")), "fuzziness"));
    const cJSON *cl = cJSON_GetObjectItem(got, "classes");
    CHECK_INT((int)jnum(cl, "distinct"), (int)jnum(exp, "n_classes"));
    if (cJSON_GetObjectItem(exp, "pooled_examples")) {
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cl, "pooled")));
        CHECK_INT((long)jnum(cl, "pooled_examples"), (long)jnum(exp, "pooled_examples"));
        CHECK_INT((int)jnum(cl, "kept") + 1, (int)jnum(exp, "n_classes_used"));
    } else {
        CHECK(cJSON_IsFalse(cJSON_GetObjectItem(cl, "pooled")));
    }
    cJSON_Delete(got);
    cJSON_Delete(exp);
}

TEST(fuzziness_raw_few_classes) { sepfuzz_case("fz_raw", 0); }
TEST(fuzziness_layernorm_few_classes) { sepfuzz_case("fz_ln", 0); }
TEST(fuzziness_many_classes_vs_authors_float32) { sepfuzz_case("fz_many", 1); }
TEST(fuzziness_pooled_classes) { sepfuzz_case("fz_pool", 1); }
TEST(fuzziness_prenormed_hyperplane_detected) { sepfuzz_case("fz_prenormed", 1); }
TEST(fuzziness_gpt2_hidden_states) { sepfuzz_case("fz_gpt2", 0); }

static void heldout_case(const char *name) {
    cJSON *exp = NULL, *got = run_case(name, NULL, &exp);
    if (!got) { cJSON_Delete(exp); return; }
    const int K = (int)jnum(exp, "folds");
    const cJSON *layers = cJSON_GetObjectItem(got, "layers"), *h = cJSON_GetObjectItem(got, "heldout");
    REQUIRE(h);
    CHECK_INT((int)jnum(h, "folds"), K);
    const cJSON *fe = cJSON_GetObjectItem(exp, "fold_examples"), *fg = cJSON_GetObjectItem(h, "fold_examples");
    for (int k = 0; k < K; k++) CHECK_INT((long)jidx(fg, k), (long)jidx(fe, k));
    const cJSON *pho = cJSON_GetObjectItem(exp, "pr_heldout"), *pin = cJSON_GetObjectItem(exp, "pr_insample");
    const cJSON *pf = cJSON_GetObjectItem(exp, "pr_fold"), *pt = cJSON_GetObjectItem(exp, "pr_train");
    const int E = cJSON_GetArraySize(pho);
    CHECK_INT(cJSON_GetArraySize(layers), E);
    for (int e = 0; e < E; e++) {
        const cJSON *l = cJSON_GetArrayItem(layers, e);
        CHECK_REL(jnum(l, "pr"), jidx(pin, e), 1e-9);
        CHECK_REL(jnum(l, "pr_heldout"), jidx(pho, e), 1e-9);
        double m = 0, q = 0;
        for (int k = 0; k < K; k++) {
            double v = jidx(cJSON_GetArrayItem(pf, e), k);
            CHECK_REL(jidx(cJSON_GetArrayItem(cJSON_GetObjectItem(h, "pr_fold"), e), k), v, 1e-9);
            CHECK_REL(jidx(cJSON_GetArrayItem(cJSON_GetObjectItem(h, "pr_train"), e), k), jidx(cJSON_GetArrayItem(pt, e), k), 1e-9);
            m += v;
        }
        m /= K;
        for (int k = 0; k < K; k++) q += pow(jidx(cJSON_GetArrayItem(pf, e), k) - m, 2);
        CHECK_REL(jnum(l, "pr_heldout_fold_mean"), m, 1e-9);
        CHECK_REL(jnum(l, "pr_heldout_fold_sd"), sqrt(q / (K - 1)), 1e-8);
    }
    check_law(cJSON_GetObjectItem(got, "fit"), cJSON_GetObjectItem(exp, "law"), 1e-8);
    check_law(cJSON_GetObjectItem(h, "fit"), cJSON_GetObjectItem(exp, "law_heldout"), 1e-8);
    const char *par[] = {"slope", "pearson_r"};
    for (int p = 0; p < 2; p++) {
        const cJSON *g = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "jackknife"), par[p]);
        const cJSON *w = cJSON_GetObjectItem(cJSON_GetObjectItem(exp, "jackknife"), par[p]);
        REQUIRE(g && w);
        const char *keys[] = {"estimate", "se", "lo", "hi", "t"};
        for (int i = 0; i < 5; i++) CHECK_NEAR(jnum(g, keys[i]), jnum(w, keys[i]), 1e-8);
        for (int k = 0; k < K; k++)
            CHECK_NEAR(jidx(cJSON_GetObjectItem(g, "leave_one_out"), k), jidx(cJSON_GetObjectItem(w, "leave_one_out"), k), 1e-8);
    }
    cJSON_Delete(got);
    cJSON_Delete(exp);
}

TEST(heldout_raw_grouped_5_folds) { heldout_case("ho_raw"); }
TEST(heldout_layernorm_grouped_4_folds) { heldout_case("ho_ln"); }
TEST(heldout_per_example_folds) { heldout_case("ho_examples"); }
TEST(heldout_gpt2_hidden_states_by_sequence) { heldout_case("ho_gpt2"); }

/* --measure onehot is the one-hot target: the fit fixture's exact values. */
TEST(measure_onehot_equals_target_onehot) {
    char cmd[2048], out[600], lp[700];
    ll_path_join(out, sizeof out, ll_test_tmpdir(), "oh");
    snprintf(cmd, sizeof cmd, "%s fit --features tests/fixtures/fit/onehot.F.npy --labels tests/fixtures/fit/onehot.Y.npy --out %s --quiet --measure onehot 2>&1",
             ll_bin_path(), out);
    char *o = NULL;
    int st = ll_run_cmd(cmd, &o);
    REQUIRE_MSG(st == 0, "exit %d: %s", st, o ? o : "");
    free(o);
    cJSON *exp = load_json("tests/fixtures/fit/onehot.json");
    cJSON *got = load_json(ll_path_join(lp, sizeof lp, out, "law.json"));
    REQUIRE(exp && got);
    const cJSON *pe = cJSON_GetObjectItem(exp, "pr_exact"), *layers = cJSON_GetObjectItem(got, "layers");
    for (int e = 0; e < cJSON_GetArraySize(pe); e++) CHECK_REL(jnum(cJSON_GetArrayItem(layers, e), "pr"), jidx(pe, e), 1e-9);
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(got, "measure")), "onehot"));
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "config"), "target")), "onehot"));
    cJSON_Delete(exp);
    cJSON_Delete(got);
}

/* Off by default: law.json and layers.csv exactly as before (no held-out
 * members, the CSV header unchanged). */
TEST(measures_default_adds_nothing) {
    char cmd[2048], out[600], lp[700];
    ll_path_join(out, sizeof out, ll_test_tmpdir(), "d");
    snprintf(cmd, sizeof cmd, "%s fit --features tests/fixtures/measures/ho_raw.F.npy --labels tests/fixtures/measures/ho_raw.Y.npy --out %s --quiet 2>/dev/null",
             ll_bin_path(), out);
    REQUIRE(ll_run_cmd(cmd, NULL) == 0);
    cJSON *got = load_json(ll_path_join(lp, sizeof lp, out, "law.json"));
    REQUIRE(got);
    CHECK(cJSON_GetObjectItem(got, "heldout") == NULL);
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(got, "layers"), 0), "pr_heldout") == NULL);
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(got, "measure")), "pr"));
    char *csv = ll_read_file(ll_path_join(lp, sizeof lp, out, "layers.csv"), NULL);
    CHECK(csv && !strncmp(csv, "index,pr,log10_pr,rss,tss,rank,", 31) && !strstr(csv, "heldout"));
    free(csv);
    cJSON_Delete(got);
}

static void expect_exit2(const char *extra, const char *needle) {
    char cmd[2048], out[600];
    ll_path_join(out, sizeof out, ll_test_tmpdir(), "bad");
    snprintf(cmd, sizeof cmd, "%s fit --features tests/fixtures/measures/ho_gpt2.F.npy --labels tests/fixtures/measures/ho_gpt2.Y.npy --out %s %s 2>&1 >/dev/null",
             ll_bin_path(), out, extra);
    char *o = NULL;
    int st = ll_run_cmd(cmd, &o);
    CHECK_MSG(st == 2, "%s: exit %d: %s", extra, st, o ? o : "");
    CHECK_MSG(o && strstr(o, needle), "%s: message '%s' lacks '%s'", extra, o ? o : "", needle);
    CHECK_MSG(!ll_path_exists(out), "%s left %s behind", extra, out);
    free(o);
}

TEST(measures_bad_options) {
    expect_exit2("--measure bogus", "unknown measure 'bogus'");
    expect_exit2("--folds 1", "--folds: bad value '1'");
    expect_exit2("--folds 33", "--folds: bad value '33'");
    expect_exit2("--folds 3 --measure fuzziness", "--measure pr only");
    expect_exit2("--folds 3 --ridge 1", "no --ridge");
    expect_exit2("--groups x.npy", "need --folds");
    expect_exit2("--target onehot --measure fuzziness --measure pr", "contradicts");
    expect_exit2("--measure fuzziness --ridge 1", "not a parameter of --measure fuzziness");
    expect_exit2("--max-classes 1 --measure fuzziness", "--max-classes: 1 is not a class budget");
    /* labels as groups: right length, but ids >= 0 fine; features as groups: wrong shape */
    expect_exit2("--folds 3 --groups tests/fixtures/measures/ho_gpt2.F.npy", "ho_gpt2.F.npy: groups must be");
    /* 32 folds over the fixture's few sequences leave folds empty */
    expect_exit2("--folds 32 --groups tests/fixtures/measures/ho_gpt2.G.npy", "has no examples");
}

/* ---- library level, hand-derived ---- */

/* d = 1: class A {0, 2}, class B {4, 6}.  Centred: −3, −1, 1, 3; class means
 * −2, 2; Sb = (2·4 + 2·4)/4 = 4, Sw = (1+1+1+1)/4 = 1, D = 1/4. */
TEST(fuzziness_hand_derived_1d) {
    ll_stats *s = ll_stats_new(1, 1, LL_TARGET_ONEHOT, 2);
    double X[4] = {0, 2, 4, 6}, y[4] = {0, 0, 1, 1};
    ll_stats_add(s, 0, X, y, 2);
    ll_stats_add(s, 0, X + 2, y + 2, 2);
    ll_sepfuzz_result r;
    REQUIRE(ll_fuzziness_solve(s, 1, &r) == 0);
    CHECK_REL(r.D, 0.25, 1e-14);
    CHECK_REL(r.tr_sb, 4.0, 1e-14);
    CHECK_REL(r.tr_sw, 1.0, 1e-14);
    CHECK_INT(r.rank, 1);
    ll_stats_free(s);
    ll_stats *t = ll_stats_new(1, 1, LL_TARGET_ID, 0);
    CHECK(ll_fuzziness_solve(t, 1, &r) == -1); /* no class sums */
    ll_stats_free(t);
}

/* Labels 9×4, 5×3, 3×2, 1×1 with 3 classes: 9 → 0, 5 → 1, {3, 1} pooled → 2
 * (3 examples). */
TEST(classmap_cap_hand_derived) {
    int64_t lab[10] = {5, 5, 5, 3, 3, 9, 9, 9, 9, 1};
    ll_classmap m;
    ll_classmap_build(&m, lab, 10); /* ids sorted: 1 3 5 9 */
    int cls[4];
    long pooled;
    CHECK_INT(ll_classmap_cap(&m, lab, 10, 3, cls, &pooled), 3);
    CHECK_INT(cls[3], 0);
    CHECK_INT(cls[2], 1);
    CHECK_INT(cls[1], 2);
    CHECK_INT(cls[0], 2);
    CHECK_INT(pooled, 3);
    CHECK_INT(ll_classmap_cap(&m, lab, 10, 0, cls, &pooled), 4);
    CHECK_INT(cls[2], 2);
    CHECK_INT(pooled, 0);
    ll_classmap_free(&m);
    /* 8 GiB at E = 33, d = 4096: 33·4097·8 bytes per class */
    CHECK_INT(ll_classes_that_fit(33, 4096, 8.0 * (1 << 30)), (int)(8.0 * (1 << 30) / (33.0 * 4097 * 8)));
}

/* Per-fold statistics merged equal one pass over the same rows (the
 * in-sample PR of fit --folds is computed from the merge): 1e-11 relative,
 * as the shard-merge test of the probe engine. */
TEST(folds_merge_equals_one_pass) {
    const int N = 400, d = 6;
    double *X = malloc(sizeof(double) * N * d), *X2 = malloc(sizeof(double) * N * d), y[400];
    int fold[400];
    uint64_t st = 42;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < d; j++) X[i * d + j] = (double)(ll_splitmix64(&st) >> 11) / 9007199254740992.0 + j * 0.1;
        y[i] = X[i * d] * 3 - X[i * d + 2] + (double)(ll_splitmix64(&st) % 7);
        fold[i] = ll_fold_of((uint64_t)(i / 10), 5, 4);
    }
    memcpy(X2, X, sizeof(double) * N * d);
    ll_stats *one = ll_stats_new(1, d, LL_TARGET_ID, 0), *tot = ll_stats_new(1, d, LL_TARGET_ID, 0);
    ll_folds *f = ll_folds_new(4, 5, 1, d);
    REQUIRE(f);
    ll_stats_add(one, 0, X, y, N);
    ll_folds_add(f, 0, X2, y, fold, N);
    REQUIRE(ll_folds_merge_into(f, tot) == 0);
    ll_probe_result a, b;
    REQUIRE(ll_stats_solve(one, 0, 1, &a) == 0);
    REQUIRE(ll_stats_solve(tot, 0, 1, &b) == 0);
    CHECK_REL(b.pr, a.pr, 1e-11);
    CHECK_INT((long)tot->n[0], N);
    ll_heldout h;
    REQUIRE(ll_folds_solve(f, tot, 1, &h) == 0);
    double n = 0;
    for (int k = 0; k < 4; k++) n += h.fold_n[k];
    CHECK_INT((long)n, N);
    CHECK(h.pr[0] > a.pr); /* out of sample is worse than in sample here */
    ll_heldout_free(&h);
    ll_folds_free(f);
    CHECK(ll_folds_new(1, 0, 1, d) == NULL);
    ll_stats_free(one);
    ll_stats_free(tot);
    free(X);
    free(X2);
}

/* The capture's fold path: the same batches through a probe sink with and
 * without folds.  The folds merged equal the plain statistics (PR to
 * 1e-11 relative, Chan merge vs one pass), and every sequence's examples
 * (len − 1 for 'next', counted here by hand) land in its hashed fold. */
#include "capture/capture.h"
TEST(capture_probe_folds_by_sequence) {
    enum { NB = 4, B = 5, T = 9, C = 6, E = 3, K = 3 };
    ll_stats *sa = ll_stats_new(E, C, LL_TARGET_ID, 0), *sb = ll_stats_new(E, C, LL_TARGET_ID, 0);
    ll_capture *a = ll_capture_probe_new(sa, LL_POS_NEXT, LL_NORM_LAYERNORM, 1e-5, 0, NULL);
    ll_capture *b = ll_capture_probe_new(sb, LL_POS_NEXT, LL_NORM_LAYERNORM, 1e-5, 0, NULL);
    ll_folds *f = ll_folds_new(K, 9, E, C);
    REQUIRE(a && b && f);
    REQUIRE(ll_capture_probe_folds(b, f) == 0);
    static float h[B * T * C];
    int32_t tok[B * T];
    int lens[B], rf[B];
    long want[K] = {0};
    uint64_t st = 7;
    for (int nb = 0; nb < NB; nb++) {
        for (int r = 0; r < B; r++) {
            lens[r] = 2 + (int)(ll_splitmix64(&st) % (T - 1));
            rf[r] = ll_fold_of((uint64_t)(nb * B + r), 9, K);
            want[rf[r]] += lens[r] - 1;
        }
        for (int i = 0; i < B * T; i++) tok[i] = (int32_t)(ll_splitmix64(&st) % 13);
        REQUIRE(ll_capture_probe_row_folds(b, rf, B) == 0);
        for (int e = 0; e < E; e++) {
            for (int i = 0; i < B * T * C; i++) h[i] = (float)((double)(ll_splitmix64(&st) >> 11) / 9007199254740992.0 - 0.5 + 0.1 * e * (i % C));
            REQUIRE(a->on_entry(a, e, h, tok, lens, B, T, C) == 0);
            REQUIRE(b->on_entry(b, e, h, tok, lens, B, T, C) == 0);
        }
    }
    REQUIRE(ll_folds_merge_into(f, sb) == 0);
    ll_probe_result ra[E], rb[E];
    REQUIRE(ll_stats_solve(sa, 0, 1, ra) == 0);
    REQUIRE(ll_stats_solve(sb, 0, 1, rb) == 0);
    for (int e = 0; e < E; e++) CHECK_REL(rb[e].pr, ra[e].pr, 1e-11);
    for (int k = 0; k < K; k++) CHECK_INT((long)f->fold[k]->n[0], want[k]);
    CHECK_INT(ll_capture_probe_examples(b), ll_capture_probe_examples(a));
    CHECK(f->fold[0]->ones_null[0] == 1 && f->fold[0]->ones_null[E - 1] == 0);
    int bad[B] = {0, 1, 2, 3, K};
    CHECK(ll_capture_probe_row_folds(b, bad, B) == -1);
    CHECK(ll_capture_probe_row_folds(a, rf, B) == -1); /* no folds on a */
    ll_capture_free(a);
    ll_capture_free(b);
    ll_folds_free(f);
    ll_stats_free(sa);
    ll_stats_free(sb);
}

/* ---- run: the measures inside the forward pipeline ---- */

/* Runs `layerlaw run` on the GPT-2 fixture model (CPU backend); law.json or NULL. */
static cJSON *run_gpt2(const char *sub, const char *extra) {
    char out[700], cmd[4096], lp[800];
    ll_path_join(out, sizeof out, ll_test_tmpdir(), sub);
    snprintf(cmd, sizeof cmd, "%s run --backend cpu --model tests/fixtures/models/gpt2 --tokens tests/fixtures/models/gpt2/tokens.jsonl --out %s --quiet %s 2>&1",
             ll_bin_path(), out, extra);
    char *o = NULL;
    int st = ll_run_cmd(cmd, &o);
    if (st != 0) { ll_test_fail(__FILE__, __LINE__, "exit %d: %s\n%s", st, cmd, o ? o : ""); free(o); return NULL; }
    free(o);
    return load_json(ll_path_join(lp, sizeof lp, out, "law.json"));
}

/* fit on features run dumped; law.json or NULL. */
static cJSON *fit_dump(const char *dump, const char *sub, const char *extra) {
    char out[700], cmd[4096], lp[800], lab[700];
    ll_path_join(out, sizeof out, ll_test_tmpdir(), sub);
    ll_path_join(lab, sizeof lab, ll_test_tmpdir(), "labels.npy");
    /* the labels of the dumped examples: next tokens in input order */
    if (!ll_path_exists(lab)) {
        char *txt = ll_read_file("tests/fixtures/models/gpt2/tokens.jsonl", NULL);
        if (!txt) { ll_test_fail(__FILE__, __LINE__, "no tokens.jsonl"); return NULL; }
        int64_t *y = malloc(sizeof(int64_t) * 100000);
        long n = 0;
        for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
            cJSON *a = cJSON_Parse(line);
            int len = cJSON_GetArraySize(a);
            for (int j = 0; j + 1 < len; j++) y[n++] = (int64_t)cJSON_GetArrayItem(a, j + 1)->valuedouble;
            cJSON_Delete(a);
        }
        free(txt);
        FILE *f = fopen(lab, "wb");
        int64_t shape[1] = {n};
        ll_npy_write_header(f, LL_DT_I64, 1, shape);
        fwrite(y, sizeof(int64_t), (size_t)n, f);
        fclose(f);
        free(y);
    }
    snprintf(cmd, sizeof cmd, "%s fit --features %s --labels %s --out %s --quiet %s 2>&1", ll_bin_path(), dump, lab, out, extra);
    char *o = NULL;
    int st = ll_run_cmd(cmd, &o);
    if (st != 0) { ll_test_fail(__FILE__, __LINE__, "exit %d: %s\n%s", st, cmd, o ? o : ""); free(o); return NULL; }
    free(o);
    return load_json(ll_path_join(lp, sizeof lp, out, "law.json"));
}

static double layer_num(const cJSON *law, int e, const char *key) {
    return jnum(cJSON_GetArrayItem(cJSON_GetObjectItem(law, "layers"), e), key);
}

/* run --measure fuzziness vs the authors' formula on HF's hidden states of
 * the same model and tokens (fixture fz_gpt2): 1e-6 relative, the run
 * tolerance of tests/test_run.c (the CPU forward matches HF's float32
 * hidden states to ~1e-6; observed ≤ 2.6e-8).  And vs fit on the features
 * the same run dumped (both float64 from the same float32 features): 1e-9. */
TEST(run_fuzziness_gpt2) {
    char dump[700], ex[900];
    ll_path_join(dump, sizeof dump, ll_test_tmpdir(), "h.npy");
    snprintf(ex, sizeof ex, "--measure fuzziness --norm-last --dump-hidden %s", dump);
    cJSON *got = run_gpt2("fz", ex), *exp = load_json("tests/fixtures/measures/fz_gpt2.json");
    REQUIRE(got && exp);
    cJSON *fit = fit_dump(dump, "fitfz", "--measure fuzziness --norm-last");
    REQUIRE(fit);
    const cJSON *fz = cJSON_GetObjectItem(exp, "fuzz");
    for (int e = 0; e < cJSON_GetArraySize(fz); e++) {
        CHECK_REL(layer_num(got, e, "separation_fuzziness"), jidx(fz, e), 1e-6);
        CHECK_REL(layer_num(got, e, "separation_fuzziness"), layer_num(fit, e, "separation_fuzziness"), 1e-9);
    }
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(got, "measure")), "fuzziness"));
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "config"), "target")), "onehot"));
    CHECK_INT((int)jnum(cJSON_GetObjectItem(got, "classes"), "distinct"), (int)jnum(exp, "n_classes"));
    cJSON_Delete(got); cJSON_Delete(exp); cJSON_Delete(fit);
}

/* The class plan of run (counts from pass 1, pooling by relabelling, the
 * shuffle composed into it) against fit's (labels in memory) on the same
 * dumped features: one-hot PR and pooled fuzziness to 1e-9 relative. */
TEST(run_classes_pooled_and_shuffled_equal_fit) {
    char dump[700], ex[900];
    ll_path_join(dump, sizeof dump, ll_test_tmpdir(), "h.npy");
    snprintf(ex, sizeof ex, "--measure fuzziness --max-classes 40 --shuffle-vocab 5 --dump-hidden %s", dump);
    cJSON *rf = run_gpt2("pool", ex);
    REQUIRE(rf);
    cJSON *ff = fit_dump(dump, "fitpool", "--measure fuzziness --max-classes 40 --shuffle-vocab 5");
    cJSON *ro = run_gpt2("oh", "--measure onehot --max-classes 40 --keep-order"); /* the dump's batches: the same features */
    cJSON *fo = fit_dump(dump, "fitoh", "--measure onehot --max-classes 40");
    REQUIRE(ff && ro && fo);
    const cJSON *cl = cJSON_GetObjectItem(rf, "classes");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cl, "pooled")));
    CHECK_INT((long)jnum(cl, "pooled_examples"), (long)jnum(cJSON_GetObjectItem(ff, "classes"), "pooled_examples"));
    for (int e = 0; e < 4; e++) {
        CHECK_REL(layer_num(rf, e, "separation_fuzziness"), layer_num(ff, e, "separation_fuzziness"), 1e-9);
        CHECK_REL(layer_num(ro, e, "pr"), layer_num(fo, e, "pr"), 1e-9);
    }
    cJSON_Delete(rf); cJSON_Delete(ff); cJSON_Delete(ro); cJSON_Delete(fo);
}

/* run --folds: folds of sequences (the hash of the sequence index) vs the
 * explicit sklearn K-fold loop on HF's hidden states with the same folds
 * (fixture ho_gpt2): 1e-6 relative on PRs, as above (observed ≤ 9.2e-8),
 * 1e-6 absolute on the jackknife (observed ≤ 8e-8). */
TEST(run_heldout_gpt2) {
    cJSON *exp = load_json("tests/fixtures/measures/ho_gpt2.json");
    REQUIRE(exp);
    char ex[200];
    snprintf(ex, sizeof ex, "--norm-last --folds 3 --fold-seed %d", (int)jnum(exp, "seed"));
    cJSON *got = run_gpt2("ho", ex);
    REQUIRE(got);
    const cJSON *pho = cJSON_GetObjectItem(exp, "pr_heldout"), *pin = cJSON_GetObjectItem(exp, "pr_insample");
    for (int e = 0; e < cJSON_GetArraySize(pho); e++) {
        CHECK_REL(layer_num(got, e, "pr_heldout"), jidx(pho, e), 1e-6);
        CHECK_REL(layer_num(got, e, "pr"), jidx(pin, e), 1e-6);
    }
    const cJSON *h = cJSON_GetObjectItem(got, "heldout");
    REQUIRE(h);
    for (int k = 0; k < 3; k++)
        CHECK_INT((long)jidx(cJSON_GetObjectItem(h, "fold_examples"), k), (long)jidx(cJSON_GetObjectItem(exp, "fold_examples"), k));
    const cJSON *g = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "jackknife"), "slope");
    const cJSON *w = cJSON_GetObjectItem(cJSON_GetObjectItem(exp, "jackknife"), "slope");
    const char *keys[] = {"estimate", "se", "lo", "hi"};
    for (int i = 0; i < 4; i++) CHECK_NEAR(jnum(g, keys[i]), jnum(w, keys[i]), 1e-6);
    CHECK_INT((int)jnum(cJSON_GetObjectItem(got, "config"), "folds"), 3);
    cJSON_Delete(got); cJSON_Delete(exp);
}

TEST(run_measures_bad_options) {
    char cmd[2048], out[700];
    const char *bad[][2] = {{"--measure bogus", "--measure: 'bogus' is not one of"},
                            {"--folds 3 --measure fuzziness", "--measure pr only"},
                            {"--folds 3 --ridge 1", "no --ridge"},
                            {"--fold-seed 3", "needs --folds"},
                            {"--measure fuzziness --ridge 2", "not a parameter"},
                            {"--folds 32", "has no examples"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ll_path_join(out, sizeof out, ll_test_tmpdir(), "bad");
        snprintf(cmd, sizeof cmd, "%s run --backend cpu --model tests/fixtures/models/gpt2 --tokens tests/fixtures/models/gpt2/tokens.jsonl --out %s --quiet %s 2>&1",
                 ll_bin_path(), out, bad[i][0]);
        char *o = NULL;
        int st = ll_run_cmd(cmd, &o);
        CHECK_MSG(st == 2, "%s: exit %d: %s", bad[i][0], st, o ? o : "");
        CHECK_MSG(o && strstr(o, bad[i][1]), "%s: '%s' lacks '%s'", bad[i][0], o ? o : "", bad[i][1]);
        CHECK_MSG(!ll_path_exists(out), "%s left %s", bad[i][0], out);
        free(o);
    }
}
