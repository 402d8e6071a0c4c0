/* Sweeps = run: the options of `layerlaw run` come from one table
 * (host/pipeline/run_options.h) that run's parser and sweep files share.
 * These tests walk that table: every option of run appears in `run --help`
 * and every option run's help lists is in the table; every sweep option is
 * accepted in a sweep file and gives the same law.json as `run` with it (the
 * oracle: run's own law.json, computed by a separate process). */
#include <cJSON.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "harness.h"
#include "pipeline/run_options.h"
#include "sweep/sweep.h"
#include "test_util.h"

/* run --help lists exactly the table's options (and --quiet, --help) */
TEST(run_options_table_is_runs_help) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s run --help 2>&1", ll_bin_path());
    char *o = NULL;
    REQUIRE(ll_run_cmd(cmd, &o) == 0 && o);
    for (int i = 0; i < ll_n_run_options; i++) {
        char want[96];
        snprintf(want, sizeof want, "--%s", ll_run_options[i].name);
        CHECK_MSG(strstr(o, want) != NULL, "run --help lacks %s", want);
    }
    /* every --option in the help is in the table */
    for (const char *p = o; (p = strstr(p, "--")) != NULL; p += 2) {
        if (p > o && p[-1] != ' ' && p[-1] != '\n' && p[-1] != '[' && p[-1] != '(') continue;
        char name[64];
        size_t k = 0;
        for (const char *q = p + 2; (*q == '-' || (*q >= 'a' && *q <= 'z')) && k + 1 < sizeof name; q++) name[k++] = *q;
        name[k] = 0;
        if (!k || !strcmp(name, "quiet") || !strcmp(name, "help") || !strcmp(name, "offline")) continue; /* the CLI's own */
        CHECK_MSG(ll_run_option_find(name) != NULL, "run --help: --%s is not in the option table", name);
    }
    free(o);
}

/* the model and input each option is tried with: one where run accepts it */
static void input_for(const ll_run_option *d, char *run_in, size_t rcap, char *sweep_in, size_t scap) {
    const char *k = d->key;
    if (!strcmp(k, "docs") || !strcmp(k, "seed")) {
        /* --seed samples with --docs: give it one */
        snprintf(run_in, rcap, "--model configs/stories260K-hf --data configs/stories260K-hf/alice-200.jsonl%s",
                 !strcmp(k, "seed") ? " --docs 20" : "");
        snprintf(sweep_in, scap, "models: [configs/stories260K-hf]\ndata: {data: configs/stories260K-hf/alice-200.jsonl}\n");
        return;
    }
    const char *m = !strcmp(k, "embedding_entry") ? "mamba" : "gpt2";
    snprintf(run_in, rcap, "--model tests/fixtures/models/%s --tokens tests/fixtures/models/%s/tokens.jsonl", m, m);
    snprintf(sweep_in, scap, "models: [tests/fixtures/models/%s]\ndata: {tokens: tests/fixtures/models/%s/tokens.jsonl}\n", m, m);
}

/* law.json of the one point of a sweep output folder */
static cJSON *point_law(const char *out) {
    char pat[1200];
    snprintf(pat, sizeof pat, "%s/points/*/law.json", out);
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0 || g.gl_pathc != 1) { globfree(&g); return NULL; }
    cJSON *j = load_json(g.gl_pathv[0]);
    globfree(&g);
    return j;
}

/* each sweep option: accepted in a sweep file, and the point's law.json has
 * the configuration and the PRs of `run` with that option */
TEST(sweep_option_equals_run_option) {
    const char *T = ll_test_tmpdir();
    int compared = 0;
    for (int i = 0; i < ll_n_run_options; i++) {
        const ll_run_option *d = &ll_run_options[i];
        if (!(d->where & LL_RO_SWEEP) || !d->key) continue;
        REQUIRE_MSG(d->sample, "--%s: no sample value in the table", d->name);
        char run_in[512], sweep_in[512];
        input_for(d, run_in, sizeof run_in, sweep_in, sizeof sweep_in);
        /* the option as run takes it, and as a sweep writes it */
        char arg[256], yval[128];
        if (d->kind == LL_RO_FLAG) { snprintf(arg, sizeof arg, "--%s", d->name); snprintf(yval, sizeof yval, "true"); }
        else { snprintf(arg, sizeof arg, "--%s %s", d->name, d->sample); snprintf(yval, sizeof yval, "%s", d->sample); }
        const int needs_folds = !strcmp(d->key, "fold_seed");
        const int seedy = !strcmp(d->key, "seed"); /* --seed needs --docs: input_for gives it */
        char ro[1024], so[1024], cmd[8192], yaml[2048], yp[1024];
        snprintf(ro, sizeof ro, "%s/run-%s", T, d->key);
        snprintf(so, sizeof so, "%s/sweep-%s", T, d->key);
        const char *base_b = !strcmp(d->key, "backend") ? "" : "--backend cpu";
        const char *base_t = !strcmp(d->key, "threads") ? "" : "--threads 1";
        snprintf(cmd, sizeof cmd, "%s run %s --out %s --quiet %s %s %s%s 2>&1", ll_bin_path(), run_in, ro, base_b, base_t, arg,
                 needs_folds ? " --folds 3" : "");
        char *o1 = NULL;
        int rc1 = ll_run_cmd(cmd, &o1);
        int n = snprintf(yaml, sizeof yaml, "name: opt\n%soptions:\n  %s: %s\n", sweep_in, d->key, yval);
        if (*base_b) n += snprintf(yaml + n, sizeof yaml - n, "  backend: cpu\n");
        if (*base_t) n += snprintf(yaml + n, sizeof yaml - n, "  threads: 1\n");
        if (needs_folds) n += snprintf(yaml + n, sizeof yaml - n, "  folds: 3\n");
        if (seedy) n += snprintf(yaml + n, sizeof yaml - n, "  docs: 20\n");
        snprintf(yp, sizeof yp, "%s/%s.yaml", T, d->key);
        REQUIRE(ll_write_file_atomic(yp, yaml, (size_t)n) == 0);
        /* accepted by the sweep reader */
        ll_sweep *sw = ll_sweep_load(yp);
        CHECK_MSG(sw != NULL, "%s: the sweep refuses %s: %s", d->key, yval, ll_last_error());
        ll_sweep_free(sw);
        snprintf(cmd, sizeof cmd, "%s sweep %s --out %s --quiet 2>&1", ll_bin_path(), yp, so);
        char *o2 = NULL;
        int rc2 = ll_run_cmd(cmd, &o2);
        CHECK_MSG(rc1 == 0, "run %s: exit %d: %s", arg, rc1, o1 ? o1 : "");
        CHECK_MSG(rc2 == 0, "sweep %s: %s: exit %d: %s", d->key, yval, rc2, o2 ? o2 : "");
        free(o1);
        free(o2);
        if (rc1 || rc2) continue;
        char lp[1200];
        cJSON *a = load_json(ll_path_join(lp, sizeof lp, ro, "law.json")), *b = point_law(so);
        REQUIRE_MSG(a && b, "%s: no law.json", d->key);
        cJSON *ca = cJSON_GetObjectItem(a, "config"), *cb = cJSON_GetObjectItem(b, "config");
        /* the sweep labels the model with its name (figures); nothing else differs */
        cJSON_DeleteItemFromObject(cb, "label");
        char *ta = cJSON_PrintUnformatted(ca), *tb = cJSON_PrintUnformatted(cb);
        CHECK_MSG(cJSON_Compare(ca, cb, 1), "%s: config differs:\n  run   %s\n  sweep %s", d->key, ta, tb);
        free(ta);
        free(tb);
        CHECK_MSG(cJSON_Compare(cJSON_GetObjectItem(a, "layers"), cJSON_GetObjectItem(b, "layers"), 1), "%s: layers differ", d->key);
        CHECK_MSG(cJSON_Compare(cJSON_GetObjectItem(a, "fit"), cJSON_GetObjectItem(b, "fit"), 1), "%s: fit differs", d->key);
        compared++;
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    CHECK(compared >= 20);
}

/* the sweep of the paper's measures with held-out folds: every point runs
 * (folds apply to the points that measure pr) */
TEST(sweep_measures_with_folds) {
    const char *T = ll_test_tmpdir();
    char yp[1024], cmd[4096], out[1024];
    snprintf(yp, sizeof yp, "%s/m.yaml", T);
    const char *y = "name: m\nmodels: [tests/fixtures/models/gpt2]\ndata: {tokens: tests/fixtures/models/gpt2/tokens.jsonl}\n"
                    "axes: {measure: [pr, fuzziness, onehot]}\noptions: {folds: 3, backend: cpu, threads: 1}\n";
    REQUIRE(ll_write_file_atomic(yp, y, strlen(y)) == 0);
    snprintf(out, sizeof out, "%s/o", T);
    snprintf(cmd, sizeof cmd, "%s sweep %s --out %s 2>&1", ll_bin_path(), yp, out);
    char *o = NULL;
    int rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 0 && o && strstr(o, "3 run, 0 already done, 0 missing, 0 failed"), "rc %d: %s", rc, o ? o : "");
    free(o);
    char pat[1200];
    snprintf(pat, sizeof pat, "%s/points/*/law.json", out);
    glob_t g;
    REQUIRE(glob(pat, 0, NULL, &g) == 0);
    CHECK_INT((long long)g.gl_pathc, 3);
    int with_folds = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        cJSON *j = load_json(g.gl_pathv[i]);
        REQUIRE(j);
        const cJSON *cfg = cJSON_GetObjectItem(j, "config");
        const char *m = cJSON_GetObjectItem(cfg, "measure")->valuestring;
        int f = (int)jnum(cfg, "folds");
        CHECK_MSG(!strcmp(m, "pr") ? f == 3 && cJSON_GetObjectItem(j, "heldout") : f == 0, "%s: folds %d", m, f);
        with_folds += f == 3;
        cJSON_Delete(j);
    }
    globfree(&g);
    CHECK_INT(with_folds, 1);
}
