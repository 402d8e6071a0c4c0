/* `layerlaw fit` against the sklearn/numpy fixtures of tools/make_fit_fixtures.py.
 * Tolerances: PR vs the exact float64 pseudo-inverse 1e-9 relative (observed
 * ≤ 1e-12: both are float64 solves of the same problem); PR vs sklearn's
 * float32 LinearRegression 1e-5 relative (observed ≤ 2.3e-6, on the N≈d case;
 * float32 rounding); law parameters vs scipy on the exact PRs 1e-6. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "core/ll_util.h"
#include "io/npy.h"
#include "test_util.h"

static void check_case(const char *name) {
    char exp_path[512], cmd[4096], out[600];
    snprintf(exp_path, sizeof exp_path, "tests/fixtures/fit/%s.json", name);
    cJSON *exp = load_json(exp_path);
    REQUIRE_MSG(exp, "cannot load %s", exp_path);
    ll_path_join(out, sizeof out, ll_test_tmpdir(), name);
    int k = snprintf(cmd, sizeof cmd, "%s fit --features tests/fixtures/fit/%s.F.npy --labels tests/fixtures/fit/%s.Y.npy --out %s --quiet",
                     ll_bin_path(), name, name, out);
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(exp, "args")) k += snprintf(cmd + k, sizeof cmd - (size_t)k, " %s", a->valuestring);
    snprintf(cmd + k, sizeof cmd - (size_t)k, " 2>&1");
    char *o = NULL;
    int st = ll_run_cmd(cmd, &o);
    REQUIRE_MSG(st == 0, "%s: exit %d: %s", name, st, o ? o : "");
    free(o);
    char lp[700];
    cJSON *got = load_json(ll_path_join(lp, sizeof lp, out, "law.json"));
    REQUIRE_MSG(got, "%s: no law.json", name);
    const cJSON *layers = cJSON_GetObjectItem(got, "layers");
    const cJSON *pe = cJSON_GetObjectItem(exp, "pr_exact"), *ps = cJSON_GetObjectItem(exp, "pr_sklearn");
    CHECK_INT(cJSON_GetArraySize(layers), cJSON_GetArraySize(pe));
    for (int e = 0; e < cJSON_GetArraySize(pe); e++) {
        double pr = jnum(cJSON_GetArrayItem(layers, e), "pr");
        CHECK_INT((int)jnum(cJSON_GetArrayItem(layers, e), "index"), e);
        CHECK_REL(pr, cJSON_GetArrayItem(pe, e)->valuedouble, 1e-9);
        CHECK_REL(pr, cJSON_GetArrayItem(ps, e)->valuedouble, 1e-5);
    }
    const cJSON *fit = cJSON_GetObjectItem(got, "fit"), *lawx = cJSON_GetObjectItem(exp, "law_exact");
    const char *keys[] = {"slope", "intercept", "r2", "pearson_r", "decay_ratio", "overall_ratio"};
    for (size_t i = 0; i < 6; i++) CHECK_NEAR(jnum(fit, keys[i]), jnum(lawx, keys[i]), 1e-6);
    CHECK_INT((int)jnum(fit, "first_entry"), (int)jnum(lawx, "first_entry"));
    CHECK_INT((long)jnum(got, "n_examples"), (long)jnum(exp, "N"));
    CHECK_INT((int)jnum(got, "dim"), (int)jnum(exp, "d"));
    const cJSON *cfg = cJSON_GetObjectItem(got, "config");
    CHECK(cJSON_IsObject(cfg) && cJSON_GetObjectItem(cfg, "norm") && cJSON_GetObjectItem(cfg, "ridge"));
    char cp[700];
    char *csv = ll_read_file(ll_path_join(cp, sizeof cp, out, "layers.csv"), NULL);
    CHECK(csv && !strncmp(csv, "index,pr,", 9));
    free(csv);
    cJSON_Delete(got);
    cJSON_Delete(exp);
}

TEST(fit_well_conditioned_layernorm) { check_case("well"); }
TEST(fit_standardize) { check_case("standardize"); }
TEST(fit_prenormed_rank_deficient) { check_case("prenormed"); }
TEST(fit_n_close_to_d) { check_case("nclose"); }
TEST(fit_float16_rmsnorm_normlast) { check_case("f16"); }
TEST(fit_onehot_multioutput) { check_case("onehot"); }
TEST(fit_ridge) { check_case("ridge"); }
TEST(fit_shuffle_vocab) { check_case("shuffle"); }
TEST(fit_fit_from) { check_case("fitfrom"); }

TEST(fit_table_on_stdout) {
    char cmd[2048], out[600];
    ll_path_join(out, sizeof out, ll_test_tmpdir(), "o");
    snprintf(cmd, sizeof cmd, "%s fit --features tests/fixtures/fit/well.F.npy --labels tests/fixtures/fit/well.Y.npy --out %s 2>/dev/null",
             ll_bin_path(), out);
    char *o = NULL;
    CHECK_INT(ll_run_cmd(cmd, &o), 0);
    REQUIRE(o);
    CHECK(strstr(o, "Pearson r") != NULL);
    CHECK(strstr(o, "1500 examples, 6 entries, dim 20") != NULL);
    free(o);
}

/* ---- bad input: one line naming the file, exit 2, nothing in DIR ---- */

static void write_bytes(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static void write_npy_raw(const char *path, const char *dict, size_t nbytes) {
    FILE *f = fopen(path, "wb");
    size_t k = strlen(dict);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(k & 0xff), (unsigned char)(k >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, k, f);
    for (size_t i = 0; i < nbytes; i++) fputc(1, f);
    fclose(f);
}

static void expect_bad(const char *feat, const char *lab, const char *extra, const char *needle, const char *file_in_msg) {
    char cmd[4096], out[600];
    ll_path_join(out, sizeof out, ll_test_tmpdir(), "outdir");
    snprintf(cmd, sizeof cmd, "%s fit --features %s --labels %s --out %s %s 2>&1 >/dev/null", ll_bin_path(), feat, lab, out,
             extra ? extra : "");
    char *o = NULL;
    int st = ll_run_cmd(cmd, &o);
    CHECK_MSG(st == 2, "%s: exit %d (want 2): %s", needle, st, o ? o : "");
    REQUIRE(o);
    CHECK_MSG(strstr(o, needle) != NULL, "message '%s' lacks '%s'", o, needle);
    CHECK_MSG(strstr(o, file_in_msg) != NULL, "message '%s' does not name %s", o, file_in_msg);
    int lines = 0; /* error lines: every line but the backend notice */
    for (char *l = o; *l; ) {
        char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        if (len && !(memmem(l, len, "backend (", 9))) lines++;
        l += len + (nl ? 1 : 0);
    }
    CHECK_MSG(lines == 1, "message is %d lines: %s", lines, o);
    CHECK_MSG(!ll_path_exists(out), "%s left %s behind", needle, out);
    free(o);
}

TEST(fit_bad_inputs) {
    const char *T = ll_test_tmpdir();
    char f[600], y[600], good_y[] = "tests/fixtures/fit/well.Y.npy", good_f[] = "tests/fixtures/fit/well.F.npy";
    ll_path_join(f, sizeof f, T, "f.npy");
    ll_path_join(y, sizeof y, T, "y.npy");
    expect_bad("/nonexistent/F.npy", good_y, NULL, "cannot open", "/nonexistent/F.npy");
    write_bytes(f, "GIF89a.........", 15);
    expect_bad(f, good_y, NULL, "bad magic", f);
    write_npy_raw(f, "{'descr': '<c16', 'fortran_order': False, 'shape': (1500, 6, 20), }\n", 16);
    expect_bad(f, good_y, NULL, "unsupported dtype", f);
    write_npy_raw(f, "{'descr': '<i4', 'fortran_order': False, 'shape': (1500, 6, 20), }\n", 1500 * 6 * 20 * 4);
    expect_bad(f, good_y, NULL, "must be float16, float32 or float64", f);
    write_npy_raw(f, "{'descr': '<f4', 'fortran_order': True, 'shape': (1500, 6, 20), }\n", 1500 * 6 * 20 * 4);
    expect_bad(f, good_y, NULL, "Fortran order", f);
    write_npy_raw(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (1500, 6, 20), }\n", 1000);
    expect_bad(f, good_y, NULL, "truncated data", f);
    write_npy_raw(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 6, 20), }\n", 10);
    expect_bad(f, good_y, NULL, "overflow", f);
    write_npy_raw(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (1499, 6, 20), }\n", 1499 * 6 * 20 * 4);
    expect_bad(f, good_y, NULL, "1500 labels for 1499 examples", good_y);
    write_npy_raw(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (1500, 2, 20), }\n", 1500 * 2 * 20 * 4);
    expect_bad(f, good_y, NULL, "needs at least 3 entries", f);
    write_npy_raw(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (1500, 120), }\n", 1500 * 120 * 4);
    expect_bad(f, good_y, NULL, "shape (N, E, d)", f);
    write_npy_raw(y, "{'descr': '<f8', 'fortran_order': False, 'shape': (1500,), }\n", 1500 * 8);
    expect_bad(good_f, y, NULL, "int32 or int64", y);
    /* NaN in features: copy well.F.npy and poison one value */
    size_t n = 0;
    char *b = ll_read_file(good_f, &n);
    REQUIRE(b);
    ll_npy tmp;
    REQUIRE(ll_npy_open(good_f, &tmp) == 0);
    size_t off = tmp.data_offset + 4 * (size_t)(700 * 6 * 20 + 3 * 20 + 5);
    ll_npy_close(&tmp);
    float nanv = NAN;
    memcpy(b + off, &nanv, 4);
    write_bytes(f, b, n);
    free(b);
    expect_bad(f, good_y, NULL, "non-finite value (NaN or Inf) in example 700, entry 3", f);
    expect_bad(good_f, good_y, "--norm bogus", "--norm: 'bogus' is not one of", "bogus");
}
