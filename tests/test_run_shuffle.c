/* run --shuffle-vocab S equals fit --shuffle-vocab S on the same features
 * (run's --dump-hidden) and next-token labels (built here from the token
 * file): the two commands share the documented permutation of the label ids
 * present, whose Python twin is checked against sklearn in test_fit.c. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "core/ll_util.h"
#include "io/npy.h"
#include "io/tokens.h"

static cJSON *law_of(const char *dir) {
    char p[700];
    char *s = ll_read_file(ll_path_join(p, sizeof p, dir, "law.json"), NULL);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    free(s);
    return j;
}

static double pr_at(const cJSON *law, int e) {
    return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(law, "layers"), e), "pr")->valuedouble;
}

TEST(run_shuffle_vocab_equals_fit) {
    const char *D = "tests/fixtures/models/llama_gqa", *T = ll_test_tmpdir();
    char cmd[4096], dump[600], ypath[600], o1[600], o2[600], o3[600], tok[600];
    snprintf(tok, sizeof tok, "%s/tokens.jsonl", D);
    ll_path_join(dump, sizeof dump, T, "h.npy");
    ll_path_join(ypath, sizeof ypath, T, "y.npy");
    ll_path_join(o1, sizeof o1, T, "run");
    ll_path_join(o2, sizeof o2, T, "fit");
    ll_path_join(o3, sizeof o3, T, "plain");
    snprintf(cmd, sizeof cmd, "%s run --model %s --tokens %s --out %s --shuffle-vocab 7 --dump-hidden %s --quiet 2>&1",
             ll_bin_path(), D, tok, o1, dump);
    char *out = NULL;
    int rc = ll_run_cmd(cmd, &out);
    REQUIRE_MSG(rc == 0, "run: %s", out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "%s run --model %s --tokens %s --out %s --quiet 2>&1", ll_bin_path(), D, tok, o3);
    REQUIRE(ll_run_cmd(cmd, NULL) == 0);
    /* next-token labels in the dump's order (sequence by sequence) */
    ll_tokens tk;
    REQUIRE(ll_tokens_read(tok, 0, &tk) == 0);
    int64_t *y = ll_xmalloc(sizeof(int64_t) * (size_t)tk.n_ids);
    int64_t n = 0;
    for (int64_t s = 0; s < tk.n_seq; s++)
        for (int64_t j = tk.off[s]; j + 1 < tk.off[s + 1]; j++) y[n++] = tk.ids[j + 1];
    REQUIRE(ll_npy_save(ypath, LL_DT_I64, 1, &n, y) == 0);
    free(y);
    ll_tokens_free(&tk);
    /* the model's fresh norm: RMSNorm with the config's eps (llama) */
    cJSON *runlaw = law_of(o1), *plain = law_of(o3);
    REQUIRE(runlaw && plain);
    const cJSON *cfg = cJSON_GetObjectItem(runlaw, "config");
    CHECK(cJSON_GetObjectItem(cfg, "shuffle_vocab_seed")->valuedouble == 7);
    double eps = cJSON_GetObjectItem(cfg, "eps")->valuedouble;
    snprintf(cmd, sizeof cmd, "%s fit --features %s --labels %s --out %s --norm rmsnorm --eps %.17g --shuffle-vocab 7 --quiet 2>&1",
             ll_bin_path(), dump, ypath, o2, eps);
    rc = ll_run_cmd(cmd, &out);
    REQUIRE_MSG(rc == 0, "fit: %s", out ? out : "");
    free(out);
    cJSON *fitlaw = law_of(o2);
    REQUIRE(fitlaw);
    int E = cJSON_GetArraySize(cJSON_GetObjectItem(runlaw, "layers")), changed = 0;
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(fitlaw, "layers")), E);
    for (int e = 0; e < E; e++) {
        CHECK_REL(pr_at(runlaw, e), pr_at(fitlaw, e), 1e-10);
        changed += fabs(pr_at(runlaw, e) - pr_at(plain, e)) > 1e-3;
    }
    CHECK_MSG(changed == E, "the shuffled vocabulary changed only %d of %d PRs", changed, E);
    cJSON_Delete(runlaw);
    cJSON_Delete(fitlaw);
    cJSON_Delete(plain);
}
