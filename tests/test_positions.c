/* `run --position current|previous|next-next|next` against an independent
 * construction of the examples from HF's hidden states (hidden.npy of a
 * fixture, written by PyPI transformers): the test pairs feature j with the
 * token at j, j-1, j+2 or j+1 by its own loop (the authors'
 * convert_sentences_to_examples), normalises with the model's fresh norm and
 * fits with the probe engine (checked against sklearn in test_fit.c).  The
 * run's forward differs from HF by ~1e-6 relative, so the PRs must agree to
 * 1e-5 relative; a label off by one position changes PR by > 1e-2. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "core/ll_util.h"
#include "io/npy.h"
#include "probe/probe.h"
#include "io/tokens.h"

static const char *DIR_ = "tests/fixtures/models/llama_gqa";

/* PR per entry from hidden.npy with label offset `off`, positions j with
 * 0 <= j+off < len and j < len. */
static int reference_pr(int off, double *pr, int *E_out) {
    char p[600];
    ll_tokens tk;
    snprintf(p, sizeof p, "%s/tokens.jsonl", DIR_);
    if (ll_tokens_read(p, 0, &tk)) return -1;
    ll_npy h;
    snprintf(p, sizeof p, "%s/hidden.npy", DIR_);
    if (ll_npy_open(p, &h)) { ll_tokens_free(&tk); return -1; }
    snprintf(p, sizeof p, "%s/expected.json", DIR_);
    char *js = ll_read_file(p, NULL);
    cJSON *exp = js ? cJSON_Parse(js) : NULL;
    free(js);
    const double eps = cJSON_GetObjectItem(exp, "eps")->valuedouble;
    cJSON_Delete(exp);
    const int E = (int)h.shape[1], d = (int)h.shape[2];
    *E_out = E;
    ll_stats *st = ll_stats_new(E, d, LL_TARGET_ID, 0);
    double *X = ll_xmalloc((size_t)tk.n_ids * d * sizeof(double)), *y = ll_xmalloc((size_t)tk.n_ids * sizeof(double));
    for (int e = 0; e < E; e++) {
        long n = 0;
        for (int64_t s = 0; s < tk.n_seq; s++) {
            const int64_t o = tk.off[s], len = tk.off[s + 1] - o;
            for (int64_t j = 0; j < len; j++) {
                if (j + off < 0 || j + off >= len) continue;
                ll_npy_read_f64(&h, ((size_t)(o + j) * E + e) * d, (size_t)d, X + (size_t)n * d);
                y[n++] = tk.ids[o + j + off];
            }
        }
        ll_normalize_rows(X, n, d, e < E - 1 ? LL_NORM_RMSNORM : LL_NORM_NONE, eps);
        ll_stats_add(st, e, X, y, n);
    }
    ll_probe_result res[64];
    int rc = ll_stats_solve(st, 0, 1, res);
    for (int e = 0; e < E; e++) pr[e] = res[e].pr;
    free(X); free(y);
    ll_stats_free(st);
    ll_npy_close(&h);
    ll_tokens_free(&tk);
    return rc;
}

static void check_position(const char *name, int off) {
    double ref[64];
    int E = 0;
    REQUIRE_MSG(reference_pr(off, ref, &E) == 0, "%s: %s", name, ll_last_error());
    char cmd[2048], out[600], lp[700];
    ll_path_join(out, sizeof out, ll_test_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "%s run --model %s --tokens %s/tokens.jsonl --out %s --position %s --quiet 2>&1",
             ll_bin_path(), DIR_, DIR_, out, name);
    char *o = NULL;
    int rc = ll_run_cmd(cmd, &o);
    REQUIRE_MSG(rc == 0, "%s: exit %d: %s", name, rc, o ? o : "");
    free(o);
    char *js = ll_read_file(ll_path_join(lp, sizeof lp, out, "law.json"), NULL);
    cJSON *law = js ? cJSON_Parse(js) : NULL;
    free(js);
    REQUIRE(law);
    const cJSON *layers = cJSON_GetObjectItem(law, "layers");
    REQUIRE(cJSON_GetArraySize(layers) == E);
    for (int e = 0; e < E; e++) {
        double pr = cJSON_GetObjectItem(cJSON_GetArrayItem(layers, e), "pr")->valuedouble;
        CHECK_MSG(fabs(pr - ref[e]) <= 1e-5 * ref[e], "--position %s entry %d: run %.10f, reference %.10f", name, e, pr,
                  ref[e]);
    }
    cJSON_Delete(law);
}

TEST(position_next_matches_hf_examples) { check_position("next", 1); }
TEST(position_current_matches_hf_examples) { check_position("current", 0); }
TEST(position_previous_matches_hf_examples) { check_position("previous", -1); }
TEST(position_next_next_matches_hf_examples) { check_position("next-next", 2); }

/* the check can fail: neighbouring offsets give clearly different PRs */
TEST(position_offsets_are_distinguishable) {
    double a[64], b[64];
    int E;
    REQUIRE(reference_pr(1, a, &E) == 0 && reference_pr(2, b, &E) == 0);
    int differ = 0;
    for (int e = 0; e < E; e++) differ += fabs(a[e] - b[e]) > 1e-3 * a[e];
    CHECK_MSG(differ == E, "only %d of %d entries differ between offsets 1 and 2", differ, E);
}
