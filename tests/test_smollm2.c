/* SmolLM2-135M-Instruct (GGUF Q4_1, 30 layers, d 576, 9 / 3 heads, tied
 * embeddings) against HF transformers and the authors' pipeline
 * (tests/fixtures/smollm2, tools/make_smollm2_fixture.py).  The 98 MB model
 * is not in the repository: scripts/fetch-smollm2.sh puts it in the cache
 * (${LAYERLAW_CACHE:-$HOME/.cache/layerlaw}; scripts/test.sh runs it first).
 * Without it these tests FAIL (they are not skipped). */
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "harness.h"
#include "core/ll_util.h"
#include "io/npy.h"
#include "model/model.h"
#include "capture/capture.h"
#include "ops/ops.h"
#include "tokenizer/tokenizer.h"
#include "test_util.h"

#define SFX "tests/fixtures/smollm2/"

static const char *smollm2_path(void) {
    static char buf[4096];
    const char *c = getenv("LAYERLAW_CACHE");
    char dir[3000];
    if (c && *c) snprintf(dir, sizeof dir, "%s", c);
    else snprintf(dir, sizeof dir, "%s/.cache/layerlaw", getenv("HOME") ? getenv("HOME") : ".");
    snprintf(buf, sizeof buf, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", dir);
    return ll_path_exists(buf) ? buf : NULL;
}
#define NEED_MODEL(p) \
    const char *p = smollm2_path(); \
    REQUIRE_MSG(p, "SmolLM2 GGUF not in the cache: run scripts/fetch-smollm2.sh")

static cJSON *read_json(const char *path) {
    size_t len;
    char *t = ll_read_file(path, &len);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    free(t);
    return j;
}

/* The tokenizer from the GGUF metadata gives the original SmolLM pipeline's
 * ids (PyPI tokenizers, Digits + ByteLevel on the same vocabulary). */
TEST(smollm2_tokenizer) {
    NEED_MODEL(p);
    ll_tokenizer *tk = ll_tokenizer_load(p);
    REQUIRE_MSG(tk, "%s", ll_last_error());
    CHECK_INT(ll_tokenizer_vocab_size(tk), 49152);
    CHECK_INT(ll_tokenizer_num_special(tk), 0); /* add_bos_token false */
    cJSON *j = read_json(SFX "texts.json");
    REQUIRE(j);
    int maxlen = (int)cJSON_GetObjectItem(j, "max_length")->valuedouble;
    cJSON *texts = cJSON_GetObjectItem(j, "texts"), *ids = cJSON_GetObjectItem(j, "ids");
    int bad = 0;
    for (int k = 0; k < cJSON_GetArraySize(texts); k++) {
        const char *s = cJSON_GetArrayItem(texts, k)->valuestring;
        cJSON *e = cJSON_GetArrayItem(ids, k);
        int32_t *out;
        int n;
        REQUIRE(ll_tokenizer_encode(tk, s, strlen(s), 1, maxlen, &out, &n) == 0);
        int same = n == cJSON_GetArraySize(e);
        for (int i = 0; same && i < n; i++) same = out[i] == (int32_t)cJSON_GetArrayItem(e, i)->valuedouble;
        if (!same) bad++;
        free(out);
    }
    CHECK_MSG(bad == 0, "%d of %d texts tokenised differently", bad, cJSON_GetArraySize(texts));
    cJSON_Delete(j);
    ll_tokenizer_free(tk);
}

typedef struct {
    ll_capture base;
    float *out; /* [T][E][C] */
    int E;
} seq_cap;
static int seq_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T,
                        int C) {
    seq_cap *c = (seq_cap *)self;
    for (int t = 0; t < lens[0]; t++) memcpy(c->out + ((size_t)t * c->E + e) * C, h + (size_t)t * C, sizeof(float) * C);
    return 0;
}

/* Hidden states of the first 16 tokens of sequence 0, every entry, against
 * transformers (which dequantises with gguf.quants and undoes the q/k
 * permutation on its own).  Tolerance: max|diff| / max|ref| <= 1e-5 per
 * entry, as the other forward tests (float32 sums in another order through
 * 30 layers). */
TEST(smollm2_hidden_states) {
    NEED_MODEL(p);
    ll_model *m = ll_model_load(p);
    REQUIRE_MSG(m, "%s", ll_last_error());
    CHECK_INT(m->cfg.n_layer, 30);
    CHECK_INT(m->cfg.d_model, 576);
    CHECK_INT(m->cfg.n_head, 9);
    CHECK_INT(m->cfg.n_kv_head, 3);
    CHECK_INT(m->cfg.tie_embeddings, 1);
    ll_npy ref;
    REQUIRE(ll_npy_open(SFX "hidden.npy", &ref) == 0);
    const int E = ll_model_n_entries(m), C = ll_model_dim(m), T = (int)ref.shape[0];
    REQUIRE(ref.ndim == 3 && ref.shape[1] == E && ref.shape[2] == C);
    cJSON *j = read_json(SFX "texts.json");
    cJSON *ids = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "ids"), 0);
    REQUIRE(cJSON_GetArraySize(ids) >= T);
    int32_t toks[64];
    for (int t = 0; t < T; t++) toks[t] = (int32_t)cJSON_GetArrayItem(ids, t)->valuedouble;
    seq_cap cc = {.base = {.on_entry = seq_on_entry}, .E = E};
    cc.out = ll_xcalloc((size_t)T * E * C, sizeof(float));
    void *ctx = ll_cpu_ctx_new(2);
    int lens[1] = {T};
    REQUIRE_MSG(ll_model_forward(m, ll_cpu_ops(), ctx, toks, lens, 1, T, &cc.base) == 0, "%s", ll_last_error());
    const float *R = ref.data;
    double worst = 0;
    for (int e = 0; e < E; e++) {
        double mref, mdiff = entry_max_diff(cc.out, R, T, E, C, e, &mref);
        double rel = mdiff / (mref > 0 ? mref : 1);
        if (!(rel <= worst)) worst = rel;
        CHECK_MSG(rel <= 1e-5, "entry %d: max rel diff %.3g", e, rel);
    }
    fprintf(stderr, "  smollm2 hidden states: worst max rel diff %.3g\n", worst);
    ll_cpu_ctx_free(ctx);
    free(cc.out);
    cJSON_Delete(j);
    ll_npy_close(&ref);
    ll_model_free(m);
}

/* layerlaw run on the fixture's tokens: the PR of every entry equals the
 * authors' pipeline (sklearn OLS on fresh-RMSNorm'd float32 features) within
 * 1e-6 absolute, and so do the law's slope and Pearson r. */
TEST(smollm2_run_pr) {
    NEED_MODEL(p);
    char cmd[8192], *out = NULL, law[4096];
    snprintf(cmd, sizeof cmd, "%s run --model %s --tokens " SFX "tokens.jsonl --out %s/r --threads 2 --quiet 2>&1",
             ll_bin_path(), p, ll_test_tmpdir());
    int rc = ll_run_cmd(cmd, &out);
    REQUIRE_MSG(rc == 0, "exit %d: %s", rc, out ? out : "");
    free(out);
    snprintf(law, sizeof law, "%s/r/law.json", ll_test_tmpdir());
    cJSON *got = read_json(law), *exp = read_json(SFX "expected.json");
    REQUIRE(got && exp);
    CHECK_INT(cJSON_GetObjectItem(got, "n_examples")->valuedouble, cJSON_GetObjectItem(exp, "n_examples")->valuedouble);
    cJSON *layers = cJSON_GetObjectItem(got, "layers"), *pr = cJSON_GetObjectItem(exp, "pr");
    REQUIRE(cJSON_GetArraySize(layers) == cJSON_GetArraySize(pr));
    double worst = 0;
    for (int e = 0; e < cJSON_GetArraySize(pr); e++) {
        double a = cJSON_GetObjectItem(cJSON_GetArrayItem(layers, e), "pr")->valuedouble;
        double b = cJSON_GetArrayItem(pr, e)->valuedouble;
        worst = LL_MAX(worst, fabs(a - b));
        CHECK_NEAR(a, b, 1e-6);
    }
    fprintf(stderr, "  smollm2 PR: worst |diff| %.3g\n", worst);
    cJSON *fit = cJSON_GetObjectItem(got, "fit");
    CHECK_NEAR(cJSON_GetObjectItem(fit, "slope")->valuedouble, cJSON_GetObjectItem(exp, "slope")->valuedouble, 1e-6);
    CHECK_NEAR(cJSON_GetObjectItem(fit, "pearson_r")->valuedouble, cJSON_GetObjectItem(exp, "pearson_r")->valuedouble, 1e-5);
    cJSON_Delete(got);
    cJSON_Delete(exp);
}
