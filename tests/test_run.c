/* `layerlaw run` end to end, through the binary: fixtures against the
 * authors' pipeline run in Python on the same tokens (expected.json: HF
 * forward, fresh norm, exact float64 OLS per entry), the trained
 * stories260K model against the independent float64 table in
 * shared/data/README.md, --dump-hidden against HF's hidden states, and
 * invariance to the batch size. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "core/ll_util.h"
#include "io/npy.h"

static cJSON *load_json(const char *path) {
    size_t n;
    char *t = ll_read_file(path, &n);
    if (!t) return NULL;
    cJSON *j = cJSON_Parse(t);
    free(t);
    return j;
}

/* Runs layerlaw; returns law.json parsed (NULL on failure). */
static cJSON *run_layerlaw(const char *model, const char *tokens, const char *sub, const char *extra) {
    char out[1100], cmd[4096], lp[1200];
    ll_path_join(out, sizeof out, ll_test_tmpdir(), sub);
    /* --backend cpu: these are the CPU backend's tests, also on a machine with a GPU */
    snprintf(cmd, sizeof cmd, "%s run --backend cpu --model '%s' --tokens '%s' --out '%s' --quiet %s 2>&1", ll_bin_path(), model,
             tokens, out, extra ? extra : "");
    char *o = NULL;
    int rc = ll_run_cmd(cmd, &o);
    if (rc != 0) {
        ll_test_fail(__FILE__, __LINE__, "exit %d: %s\n%s", rc, cmd, o ? o : "");
        free(o);
        return NULL;
    }
    free(o);
    ll_path_join(lp, sizeof lp, out, "law.json");
    return load_json(lp);
}

static double pr_of(const cJSON *law, int e) {
    const cJSON *L = cJSON_GetObjectItem(law, "layers");
    const cJSON *x = cJSON_GetArrayItem(L, e);
    const cJSON *p = x ? cJSON_GetObjectItem(x, "pr") : NULL;
    return p ? p->valuedouble : NAN;
}

static void check_fixture_pr(const char *name, double rtol) {
    char dir[512], tok[600], ex[600];
    snprintf(dir, sizeof dir, "tests/fixtures/models/%s", name);
    snprintf(tok, sizeof tok, "%s/tokens.jsonl", dir);
    snprintf(ex, sizeof ex, "%s/expected.json", dir);
    cJSON *exp = load_json(ex);
    REQUIRE_MSG(exp, "%s unreadable", ex);
    cJSON *law = run_layerlaw(dir, tok, name, NULL);
    REQUIRE(law);
    const cJSON *pe = cJSON_GetObjectItem(exp, "pr_exact");
    int E = cJSON_GetArraySize(pe);
    CHECK_INT(cJSON_GetObjectItem(law, "n_entries")->valueint, E);
    CHECK_INT(cJSON_GetObjectItem(law, "n_examples")->valueint, cJSON_GetObjectItem(exp, "n_examples")->valueint);
    for (int e = 0; e < E; e++) {
        double want = cJSON_GetArrayItem(pe, e)->valuedouble, got = pr_of(law, e);
        CHECK_MSG(fabs(got - want) <= rtol * fabs(want), "%s entry %d: PR %.10f, expected %.10f (rel %.2g > %.2g)", name,
                  e, got, want, fabs(got - want) / fabs(want), rtol);
    }
    /* model and throughput sections */
    const cJSON *m = cJSON_GetObjectItem(law, "model");
    CHECK(m && !strcmp(cJSON_GetObjectItem(m, "model_type")->valuestring,
                       cJSON_GetObjectItem(exp, "model_type")->valuestring));
    const cJSON *tp = cJSON_GetObjectItem(law, "throughput");
    CHECK(tp && cJSON_GetObjectItem(tp, "tokens")->valuedouble == cJSON_GetObjectItem(exp, "n_tokens")->valuedouble);
    CHECK(tp && cJSON_GetObjectItem(tp, "tokens_per_s")->valuedouble > 0);
    CHECK(tp && cJSON_GetArraySize(cJSON_GetObjectItem(tp, "per_entry_forward_s")) == E);
    CHECK(cJSON_GetObjectItem(law, "memory") != NULL);
    const cJSON *cfg = cJSON_GetObjectItem(law, "config");
    CHECK(cfg && !strcmp(cJSON_GetObjectItem(cfg, "norm")->valuestring, "initialized"));
    cJSON_Delete(law);
    cJSON_Delete(exp);
}

/* 1e-6 relative: hidden states agree to ~1e-6 (test_forward), the probe is
 * exact float64 on both sides. */
#define PR_RTOL 1e-6
TEST(run_fixture_gpt2) { check_fixture_pr("gpt2", PR_RTOL); }
TEST(run_fixture_gpt2_sharded) { check_fixture_pr("gpt2_sharded", PR_RTOL); }
TEST(run_fixture_neox_parallel) { check_fixture_pr("neox_parallel", PR_RTOL); }
TEST(run_fixture_neox_sequential) { check_fixture_pr("neox_sequential", PR_RTOL); }
TEST(run_fixture_llama_gqa) { check_fixture_pr("llama_gqa", PR_RTOL); }
TEST(run_fixture_llama3_scaling) { check_fixture_pr("llama3_scaling", PR_RTOL); }
TEST(run_fixture_mistral) { check_fixture_pr("mistral", PR_RTOL); }
TEST(run_fixture_qwen2) { check_fixture_pr("qwen2", PR_RTOL); }
TEST(run_fixture_llama_bf16) { check_fixture_pr("llama_bf16", PR_RTOL); }
/* the RWKV / Mamba families (host/families/rwkv.c, mamba.c) through run */
TEST(run_fixture_rwkv) { check_fixture_pr("rwkv", PR_RTOL); }
TEST(run_fixture_rwkv_bin) { check_fixture_pr("rwkv_bin", PR_RTOL); }
TEST(run_fixture_mamba) { check_fixture_pr("mamba", PR_RTOL); }

/* The trained stories260K model (Llama, GQA, tied) on 200 Alice paragraphs:
 * the float64 reference of shared/data/README.md (written from a separate
 * numpy implementation). */
TEST(run_stories260k_reference) {
    const char *model = ll_shared_path("data/checkpoints/stories260K-hf");
    const char *tok = ll_shared_path("data/checkpoints/stories260K-hf/alice-200x128.tok512.jsonl");
    cJSON *law = run_layerlaw(model, tok, "stories", "--batch-size 16");
    REQUIRE(law);
    const double ref[6] = {0.910152, 0.896124, 0.879437, 0.865318, 0.842318, 0.831666};
    CHECK_INT(cJSON_GetObjectItem(law, "n_examples")->valueint, 19422);
    for (int e = 0; e < 6; e++)
        CHECK_MSG(fabs(pr_of(law, e) - ref[e]) <= 1e-6 + 1e-5 * ref[e], "entry %d: PR %.7f vs %.6f", e, pr_of(law, e),
                  ref[e]);
    const cJSON *fit = cJSON_GetObjectItem(law, "fit");
    REQUIRE(fit);
    CHECK_NEAR(cJSON_GetObjectItem(fit, "slope")->valuedouble, -0.0083567, 2e-7);
    CHECK_NEAR(cJSON_GetObjectItem(fit, "intercept")->valuedouble, -0.0474518, 2e-6);
    CHECK_NEAR(cJSON_GetObjectItem(fit, "pearson_r")->valuedouble, -0.99536, 1e-5);
    CHECK_NEAR(cJSON_GetObjectItem(fit, "decay_ratio")->valuedouble, 0.98094, 1e-5);
    cJSON_Delete(law);
}

/* Batch size (padding) does not change the result beyond float rounding. */
TEST(run_batch_size_invariance) {
    const char *dir = "tests/fixtures/models/neox_parallel";
    cJSON *a = run_layerlaw(dir, "tests/fixtures/models/neox_parallel/tokens.jsonl", "b1", "--batch-size 1 --threads 1");
    cJSON *b = run_layerlaw(dir, "tests/fixtures/models/neox_parallel/tokens.jsonl", "b9", "--batch-size 9");
    cJSON *c = run_layerlaw(dir, "tests/fixtures/models/neox_parallel/tokens.jsonl", "k4", "--batch-size 4 --keep-order");
    cJSON *d = run_layerlaw(dir, "tests/fixtures/models/neox_parallel/tokens.jsonl", "s4", "--batch-size 4");
    cJSON *f = run_layerlaw(dir, "tests/fixtures/models/neox_parallel/tokens.jsonl", "t20", "--batch-tokens 20");
    REQUIRE(a && b && c && d && f);
    for (int e = 0; e < 4; e++) CHECK_REL(pr_of(f, e), pr_of(b, e), 1e-7);
    /* a token budget below the longest sequence still runs it (alone) */
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(f, "throughput"), "tokens")->valuedouble == 215);
    cJSON_Delete(f);
    /* the token file is streamed in windows: tiny windows give the same result */
    setenv("LAYERLAW_WINDOW_TOKENS", "30", 1);
    cJSON *w = run_layerlaw(dir, "tests/fixtures/models/neox_parallel/tokens.jsonl", "w30", "--batch-size 4");
    unsetenv("LAYERLAW_WINDOW_TOKENS");
    REQUIRE(w);
    CHECK_INT(cJSON_GetObjectItem(w, "n_examples")->valueint, cJSON_GetObjectItem(b, "n_examples")->valueint);
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "throughput"), "tokens")->valuedouble == 215);
    for (int e = 0; e < 4; e++) CHECK_REL(pr_of(w, e), pr_of(b, e), 1e-7);
    cJSON_Delete(w);
    for (int e = 0; e < 4; e++) CHECK_REL(pr_of(a, e), pr_of(b, e), 1e-7);
    for (int e = 0; e < 4; e++) CHECK_REL(pr_of(c, e), pr_of(b, e), 1e-7);
    /* longest-first batching pads less than input order */
    const cJSON *td = cJSON_GetObjectItem(d, "throughput"), *tc = cJSON_GetObjectItem(c, "throughput");
    CHECK(cJSON_GetObjectItem(td, "padded_tokens")->valuedouble < cJSON_GetObjectItem(tc, "padded_tokens")->valuedouble);
    cJSON_Delete(d);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

/* --dump-hidden writes the raw features of every example (position next:
 * every position but the last of each sequence), which must equal HF's
 * hidden states at those positions. */
TEST(run_dump_hidden) {
    const char *dir = "tests/fixtures/models/llama_gqa";
    char dump[1100], extra[1300];
    ll_path_join(dump, sizeof dump, ll_test_tmpdir(), "h.npy");
    snprintf(extra, sizeof extra, "--dump-hidden '%s' --batch-size 3", dump);
    cJSON *law = run_layerlaw(dir, "tests/fixtures/models/llama_gqa/tokens.jsonl", "dump", extra);
    REQUIRE(law);
    ll_npy got, ref;
    REQUIRE_MSG(ll_npy_open(dump, &got) == 0, "%s", ll_last_error());
    REQUIRE(ll_npy_open("tests/fixtures/models/llama_gqa/hidden.npy", &ref) == 0);
    const int E = (int)ref.shape[1], d = (int)ref.shape[2];
    CHECK_INT(got.ndim, 3);
    CHECK_INT(got.shape[0], cJSON_GetObjectItem(law, "n_examples")->valueint);
    CHECK_INT(got.shape[1], E);
    CHECK_INT(got.shape[2], d);
    /* walk the token file: example k = sequence s, position j < len-1 */
    size_t n;
    char *txt = ll_read_file("tests/fixtures/models/llama_gqa/tokens.jsonl", &n);
    REQUIRE(txt);
    long k = 0, p = 0;
    double maxdiff = 0, maxref = 0;
    for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
        int len = 1;
        for (char *c = line; *c; c++) len += *c == ',';
        for (int j = 0; j < len; j++, p++) {
            if (j == len - 1) continue;
            for (int e = 0; e < E; e++)
                for (int q = 0; q < d; q++) {
                    double a = ((const float *)got.data)[((size_t)k * E + e) * d + q];
                    double b = ((const float *)ref.data)[((size_t)p * E + e) * d + q];
                    if (!(fabs(a - b) <= maxdiff)) maxdiff = fabs(a - b);
                    if (fabs(b) > maxref) maxref = fabs(b);
                }
            k++;
        }
    }
    free(txt);
    CHECK_INT(k, got.shape[0]);
    /* max|diff| / max|ref|, as test_forward */
    CHECK_MSG(maxdiff <= 1e-5 * maxref, "dumped features differ from HF by %.3g (max |ref| %.3g)", maxdiff, maxref);
    ll_npy_close(&got);
    ll_npy_close(&ref);
    cJSON_Delete(law);
}

/* Positions, norms and --max-length change what is measured, as documented. */
TEST(run_options) {
    const char *dir = "tests/fixtures/models/gpt2", *tok = "tests/fixtures/models/gpt2/tokens.jsonl";
    cJSON *cur = run_layerlaw(dir, tok, "cur", "--position current");
    cJSON *nn = run_layerlaw(dir, tok, "nn", "--position next-next --norm none");
    cJSON *cut = run_layerlaw(dir, tok, "cut", "--max-length 8");
    REQUIRE(cur && nn && cut);
    CHECK_INT(cJSON_GetObjectItem(cur, "n_examples")->valueint, 215);
    CHECK_INT(cJSON_GetObjectItem(nn, "n_examples")->valueint, 215 - 2 * 9 + 1); /* one sequence has length 1 */
    CHECK(!strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(nn, "config"), "norm")->valuestring, "none"));
    const cJSON *tp = cJSON_GetObjectItem(cut, "throughput");
    CHECK(cJSON_GetObjectItem(tp, "tokens")->valuedouble <= 9 * 8);
    CHECK(cJSON_GetObjectItem(tp, "sequences_cut")->valuedouble >= 1);
    cJSON_Delete(cur);
    cJSON_Delete(nn);
    cJSON_Delete(cut);
    /* --embedding-entry is for rwkv/mamba only: exit 2 elsewhere */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s run --model %s --tokens %s --out %s/ee --embedding-entry >/dev/null 2>&1", ll_bin_path(),
             dir, tok, ll_test_tmpdir());
    CHECK_INT(ll_run_cmd(cmd, NULL), 2);
}
