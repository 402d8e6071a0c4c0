/* `layerlaw sweep` end to end, through the binary, on the tiny fixture
 * models: each point's PR equals a separate `layerlaw run` of the same
 * configuration; a sweep killed with SIGKILL at random moments and rerun
 * has every point exactly once; two processes writing one store lose
 * nothing; missing models are reported, not fatal; the Slurm script runs. */
#include <cJSON.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "core/ll_util.h"
#include "sweep/store.h"
#include "sweep/sweep.h"
#include "test_util.h"

static const char *tmp_path(const char *name) {
    static char buf[8][1200];
    static int k;
    char *p = buf[k++ & 7];
    ll_path_join(p, 1200, ll_test_tmpdir(), name);
    return p;
}

/* A sweep over fixture models (each on its own tokens) and positions. */
static const char *write_sweep(const char *name, const char *const *models, int nm, const char *positions,
                               const char *extra) {
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "w");
    if (!f) return NULL;
    fprintf(f, "name: t\nmodels:\n");
    for (int i = 0; i < nm; i++)
        fprintf(f, "  - {path: %s, tokens: %s/tokens.jsonl}\n", models[i], models[i]);
    /* extra: more axes */
    fprintf(f, "axes:\n  position: [%s]\n%soptions: {backend: cpu, batch_size: 4, threads: 1}\n", positions,
            extra ? extra : "");
    fclose(f);
    return p;
}

static int run_sweep(const char *file, const char *out, const char *args, char **output) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "LAYERLAW_QUIET=1 %s sweep '%s' --out '%s' %s 2>&1", ll_bin_path(), file, out, args ? args : "");
    return ll_run_cmd(cmd, output);
}

static long store_count(const char *store) {
    ll_store *s = ll_store_open(store, NULL);
    if (!s) return -1;
    long n = ll_store_count(s);
    if (ll_store_check(s) != 0) n = -2;
    ll_store_close(s);
    return n;
}

TEST(sweep_cli_points_equal_separate_runs) {
    const char *models[] = {"tests/fixtures/models/gpt2", "tests/fixtures/models/mamba"};
    const char *sw = write_sweep("s.yaml", models, 2, "next, previous", NULL);
    REQUIRE(sw);
    const char *out = tmp_path("out");
    char *o = NULL;
    int rc = run_sweep(sw, out, NULL, &o);
    REQUIRE_MSG(rc == 0, "exit %d\n%s", rc, o ? o : "");
    CHECK(strstr(o, "4 run, 0 already done") != NULL);
    free(o);
    ll_sweep *s = ll_sweep_load(sw);
    REQUIRE(s);
    REQUIRE(s->n_points == 4);
    for (int i = 0; i < s->n_points; i++) {
        const ll_sweep_point *p = &s->points[i];
        char lp[1400], ro[1400], cmd[4096];
        snprintf(lp, sizeof lp, "%s/points/%s/law.json", out, p->key);
        cJSON *a = load_json(lp);
        REQUIRE_MSG(a, "%s missing", lp);
        /* the same configuration through `layerlaw run` */
        snprintf(ro, sizeof ro, "%s/run%d", ll_test_tmpdir(), i);
        const char *pos = cJSON_GetObjectItem(p->axes, "position")->valuestring;
        const char *name = strrchr(p->model_path, '/') + 1;
        snprintf(cmd, sizeof cmd,
                 "%s run --backend cpu --batch-size 4 --threads 1 --position %s --model %s "
                 "--tokens tests/fixtures/models/%s/tokens.jsonl --out '%s' --quiet 2>&1",
                 ll_bin_path(), pos, p->model_path, name, ro);
        char *ro_out = NULL;
        rc = ll_run_cmd(cmd, &ro_out);
        CHECK_MSG(rc == 0, "%s\n%s", cmd, ro_out ? ro_out : "");
        free(ro_out);
        char rl[1500];
        snprintf(rl, sizeof rl, "%s/law.json", ro);
        cJSON *b = load_json(rl);
        REQUIRE(b);
        const cJSON *la = cJSON_GetObjectItem(a, "layers"), *lb = cJSON_GetObjectItem(b, "layers");
        CHECK_INT(cJSON_GetArraySize(la), cJSON_GetArraySize(lb));
        /* one thread, same batches, same code: the same float64 sums in the
         * same order, so equal to the last bit (tolerance 0) */
        for (int e = 0; e < cJSON_GetArraySize(la); e++)
            CHECK_NEAR(cJSON_GetObjectItem(cJSON_GetArrayItem(la, e), "pr")->valuedouble,
                       cJSON_GetObjectItem(cJSON_GetArrayItem(lb, e), "pr")->valuedouble, 0);
        CHECK_NEAR(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "fit"), "slope")->valuedouble,
                   cJSON_GetObjectItem(cJSON_GetObjectItem(b, "fit"), "slope")->valuedouble, 0);
        /* provenance and the sweep's own record */
        const cJSON *pv = cJSON_GetObjectItem(a, "provenance");
        CHECK(cJSON_IsObject(pv) && cJSON_GetArraySize(cJSON_GetObjectItem(pv, "inputs")) == 2);
        CHECK(!strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "sweep"), "key")->valuestring, p->key));
        CHECK(cJSON_IsObject(cJSON_GetObjectItem(b, "provenance")));
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    /* the store has one record per point, holding law.json; summary.csv one row per point */
    char st[1400];
    snprintf(st, sizeof st, "%s/results.sqlite", out);
    CHECK_INT(store_count(st), 4);
    char csv[1400];
    snprintf(csv, sizeof csv, "%s/summary.csv", out);
    size_t n;
    char *t = ll_read_file(csv, &n);
    REQUIRE(t);
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += t[i] == '\n';
    CHECK_INT(lines, 5);
    CHECK(strstr(t, "index,key,model,params,position,slope,pearson_r,rho,tokens_per_s,status") == t);
    free(t);
    /* a rerun runs nothing */
    rc = run_sweep(sw, out, NULL, &o);
    CHECK(rc == 0 && strstr(o, "0 run, 4 already done"));
    free(o);
    ll_sweep_free(s);
}

TEST(sweep_cli_resume_after_sigkill) {
    const char *models[] = {"tests/fixtures/models/gpt2", "tests/fixtures/models/llama_gqa",
                            "tests/fixtures/models/neox_parallel", "tests/fixtures/models/rwkv"};
    const char *sw = write_sweep("k.yaml", models, 4, "next, current, previous, next-next", "  max_length: [16, 64]\n");
    REQUIRE(sw);
    const char *out = tmp_path("out");
    char store[1400];
    snprintf(store, sizeof store, "%s/results.sqlite", out);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    long prev = 0;
    int kills = 0;
    for (int round = 0; round < 6; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            setenv("LAYERLAW_QUIET", "1", 1);
            freopen("/dev/null", "w", stdout);
            freopen("/dev/null", "w", stderr);
            execl(ll_bin_path(), ll_bin_path(), "sweep", sw, "--out", out, (char *)NULL);
            _exit(127);
        }
        /* kill at a random moment after the sweep has recorded at least one
         * more point (a fixed delay missed fast sweeps on an idle machine and
         * slow starts on a loaded one): poll the store, then wait 0-30 ms */
        for (int w = 0; w < 4000; w++) {
            int st_now;
            if (waitpid(pid, &st_now, WNOHANG) == pid) { pid = -st_now - 1; break; }
            long now = ll_path_exists(store) ? store_count(store) : 0;
            if (now > prev) break;
            usleep(5000);
        }
        int stt;
        if (pid < 0) { /* finished by itself before the kill */
            stt = -(pid + 1);
        } else {
            usleep((useconds_t)(rand() % 30000));
            kill(pid, SIGKILL);
            waitpid(pid, &stt, 0);
        }
        kills += WIFSIGNALED(stt) && WTERMSIG(stt) == SIGKILL; /* killed while running, not after */
        long n = ll_path_exists(store) ? store_count(store) : 0;
        CHECK_MSG(n >= prev, "round %d: %ld records after, %ld before (integrity %s)", round, n, prev, n == -2 ? "failed" : "ok");
        prev = n;
    }
    CHECK_MSG(kills >= 2, "only %d of 6 kills hit a running sweep", kills);
    char *o = NULL;
    int rc = run_sweep(sw, out, NULL, &o);
    REQUIRE_MSG(rc == 0, "exit %d\n%s", rc, o ? o : "");
    free(o);
    /* every point exactly once, each record whole and equal to its folder's law.json */
    ll_store *st = ll_store_open(store, NULL);
    REQUIRE(st);
    CHECK(ll_store_check(st) == 0);
    cJSON *all = ll_store_dump(st);
    REQUIRE(all);
    CHECK_INT(cJSON_GetArraySize(all), 32);
    ll_sweep *s = ll_sweep_load(sw);
    REQUIRE(s);
    for (int i = 0; i < s->n_points; i++) {
        int seen = 0;
        for (cJSON *x = all->child; x; x = x->next)
            if (!strcmp(cJSON_GetObjectItem(x, "key")->valuestring, s->points[i].key)) {
                seen++;
                char lp[1400];
                snprintf(lp, sizeof lp, "%s/points/%s/law.json", out, s->points[i].key);
                cJSON *law = load_json(lp);
                CHECK_MSG(law, "%s", lp);
                if (law)
                    CHECK(cJSON_Compare(law, cJSON_GetObjectItem(x, "result"), 1));
                cJSON_Delete(law);
            }
        CHECK_MSG(seen == 1, "point %d seen %d times", i, seen);
    }
    ll_sweep_free(s);
    cJSON_Delete(all);
    ll_store_close(st);
}

TEST(sweep_cli_two_processes_one_store) {
    const char *models[] = {"tests/fixtures/models/gpt2", "tests/fixtures/models/qwen2", "tests/fixtures/models/mistral"};
    const char *sw = write_sweep("c.yaml", models, 3, "next, current, previous, next-next", NULL);
    REQUIRE(sw);
    const char *out = tmp_path("out");
    /* two halves at once, and a third process over everything at the same time */
    char cmd[4096], *o = NULL;
    snprintf(cmd, sizeof cmd,
             "export LAYERLAW_QUIET=1; B=%s; $B sweep '%s' --out '%s' --tasks 2 --task 0 >/dev/null 2>&1 & "
             "$B sweep '%s' --out '%s' --tasks 2 --task 1 >/dev/null 2>&1 & "
             "$B sweep '%s' --out '%s' >/dev/null 2>&1 & wait",
             ll_bin_path(), sw, out, sw, out, sw, out);
    CHECK(ll_run_cmd(cmd, &o) == 0);
    free(o);
    char st[1400];
    snprintf(st, sizeof st, "%s/results.sqlite", out);
    CHECK_INT(store_count(st), 12);
    int rc = run_sweep(sw, out, "--dry-run", &o);
    CHECK(rc == 0 && strstr(o, "12 done, 0 to run"));
    free(o);
}

TEST(sweep_cli_missing_model_and_bad_file) {
    const char *models[] = {"tests/fixtures/models/gpt2", "no/such/model-7b"};
    const char *sw = write_sweep("m.yaml", models, 2, "next", NULL);
    REQUIRE(sw);
    const char *out = tmp_path("out");
    char *o = NULL;
    int rc = run_sweep(sw, out, "--dry-run", &o);
    CHECK(rc == 0 && strstr(o, "missing: no/such/model-7b") && strstr(o, "0 done, 1 to run, 1 with a missing model"));
    free(o);
    CHECK(!ll_path_exists(out)); /* a dry run creates nothing */
    rc = run_sweep(sw, out, NULL, &o);
    CHECK_MSG(rc == 0, "exit %d", rc);
    CHECK(strstr(o, "model 'model-7b' missing: expected at no/such/model-7b") != NULL);
    CHECK(strstr(o, "1 run, 0 already done, 1 missing, 0 failed") != NULL);
    free(o);
    /* a bad file: one line naming it, exit 2, nothing written */
    const char *bad = tmp_path("bad.yaml");
    FILE *f = fopen(bad, "w");
    fputs("models: [m]\ndata: {tokens: t}\naxes: {position: [sideways]}\n", f);
    fclose(f);
    rc = run_sweep(bad, tmp_path("out2"), NULL, &o);
    CHECK_INT(rc, 2);
    CHECK(o && strstr(o, "layerlaw: ") == o && strstr(o, "bad.yaml: position: 'sideways' is not one of next, current, previous, next-next"));
    free(o);
    CHECK(!ll_path_exists(tmp_path("out2")));
    /* a point that fails (ids outside the vocabulary): logged, the others run, exit 1 */
    const char *fl = tmp_path("f.yaml");
    f = fopen(fl, "w");
    fputs("models:\n  - {path: tests/fixtures/models/mamba, tokens: tests/fixtures/models/gpt2/tokens.jsonl}\n"
          "  - {path: tests/fixtures/models/gpt2, tokens: tests/fixtures/models/gpt2/tokens.jsonl}\n"
          "options: {backend: cpu}\n", f);
    fclose(f);
    rc = run_sweep(fl, tmp_path("out3"), NULL, &o);
    CHECK_INT(rc, 1);
    CHECK(o && strstr(o, "is outside the model's vocabulary") && strstr(o, "1 run, 0 already done, 0 missing, 1 failed"));
    CHECK(o && strstr(o, "  failed\n") && strstr(o, "  done\n"));
    free(o);
    /* a bad --only */
    rc = run_sweep(sw, out, "--only positoin=next", &o);
    CHECK(rc == 2 && strstr(o, "unknown name 'positoin'"));
    free(o);
}

TEST(sweep_cli_slurm_script_runs_every_point) {
    const char *models[] = {"tests/fixtures/models/gpt2", "tests/fixtures/models/mamba"};
    const char *sw = write_sweep("sl.yaml", models, 2, "next, current, previous", NULL);
    REQUIRE(sw);
    const char *out = tmp_path("out");
    char *o = NULL;
    int rc = run_sweep(sw, out, "--slurm --slurm-chunk 2 --sbatch '--gpus=1' --sbatch '--time=01:00:00'", &o);
    REQUIRE_MSG(rc == 0, "%s", o ? o : "");
    CHECK(strstr(o, "6 points in 3 array tasks") != NULL);
    free(o);
    char sp[1400];
    snprintf(sp, sizeof sp, "%s/sweep.sbatch", out);
    size_t n;
    char *t = ll_read_file(sp, &n);
    REQUIRE(t);
    CHECK(strncmp(t, "#!/bin/bash\n", 12) == 0);
    CHECK(strstr(t, "\n#SBATCH --array=0-2\n") != NULL);
    CHECK(strstr(t, "\n#SBATCH --gpus=1\n") != NULL);
    CHECK(strstr(t, "\n#SBATCH --time=01:00:00\n") != NULL);
    CHECK(strstr(t, "--journal delete --tasks 3 --task \"$SLURM_ARRAY_TASK_ID\"") != NULL);
    free(t);
    /* run the array by hand: each task its share, all into one store */
    for (int task = 0; task < 3; task++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "SLURM_ARRAY_TASK_ID=%d bash '%s' 2>&1", task, sp);
        rc = ll_run_cmd(cmd, &o);
        CHECK_MSG(rc == 0, "task %d: %s", task, o ? o : "");
        free(o);
        char st[1400];
        snprintf(st, sizeof st, "%s/results.sqlite", out);
        CHECK_INT(store_count(st), 2 * (task + 1)); /* chunks of 2 points */
    }
    rc = run_sweep(sw, out, "--dry-run", &o);
    CHECK(rc == 0 && strstr(o, "6 done, 0 to run"));
    free(o);
    /* --only: the array covers the matching points only */
    rc = run_sweep(sw, tmp_path("out3"), "--slurm --only position=next", &o);
    CHECK_MSG(rc == 0 && strstr(o, "2 points in 2 array tasks"), "%s", o ? o : "");
    free(o);
    snprintf(sp, sizeof sp, "%s/sweep.sbatch", tmp_path("out3"));
    t = ll_read_file(sp, &n);
    CHECK(t && strstr(t, "#SBATCH --array=0-1\n") && strstr(t, "--only 'position=next'"));
    free(t);
}

/* The shipped CI sweep: all 32 points done, and the stories260K next-token
 * point equals the independent float64 reference of
 * configs/stories260K-hf/PROVENANCE.md (printed to 6 digits: tolerance half
 * a unit in the last printed digit). */
TEST(sweep_cli_shipped_cpu_small) {
    const char *out = tmp_path("cpu-small");
    char *o = NULL;
    int rc = run_sweep("configs/sweeps/cpu-small.yaml", out, NULL, &o);
    REQUIRE_MSG(rc == 0, "exit %d\n%s", rc, o ? o : "");
    CHECK(strstr(o, "32 run, 0 already done, 0 missing, 0 failed") != NULL);
    free(o);
    ll_sweep *s = ll_sweep_load("configs/sweeps/cpu-small.yaml");
    REQUIRE(s);
    const ll_sweep_point *p = &s->points[0];
    REQUIRE(!strcmp(p->model_name, "stories260K") && !strcmp(cJSON_GetObjectItem(p->axes, "position")->valuestring, "next"));
    char lp[1400];
    snprintf(lp, sizeof lp, "%s/points/%s/law.json", out, p->key);
    cJSON *law = load_json(lp);
    REQUIRE(law);
    const double ref[] = {0.910152, 0.896124, 0.879437, 0.865318, 0.842318, 0.831666};
    const cJSON *L = cJSON_GetObjectItem(law, "layers");
    REQUIRE(cJSON_GetArraySize(L) == 6);
    for (int e = 0; e < 6; e++) CHECK_NEAR(cJSON_GetObjectItem(cJSON_GetArrayItem(L, e), "pr")->valuedouble, ref[e], 5e-7);
    const cJSON *fit = cJSON_GetObjectItem(law, "fit");
    CHECK_NEAR(cJSON_GetObjectItem(fit, "slope")->valuedouble, -0.0083567, 5e-8);
    CHECK_NEAR(cJSON_GetObjectItem(fit, "pearson_r")->valuedouble, -0.99536, 5e-6);
    CHECK_NEAR(cJSON_GetObjectItem(fit, "decay_ratio")->valuedouble, 0.98094, 5e-6);
    cJSON_Delete(law);
    ll_sweep_free(s);
}
