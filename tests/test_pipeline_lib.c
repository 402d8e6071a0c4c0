/* The run and fit pipelines called as a library (as the Python binding
 * does): results against the same oracles as the CLI tests (numpy/sklearn
 * for fit, the authors' pipeline for run), nothing written on stderr (the
 * library says its notices and warnings through the handlers the caller
 * installs), the --dump-hidden sidecar read back into fit options, and the
 * bench grid's order. */
#include <cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "bench/bench_run.h"
#include "core/ll_util.h"
#include "pipeline/fit.h"
#include "pipeline/pipeline.h"
#include "test_util.h"

/* The lines a handler received, joined with '\n'. */
typedef struct {
    char text[8192];
} said;
static void collect(const char *line, void *ud) {
    said *s = ud;
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof s->text - n, "%s\n", line);
}

/* stderr sent to a temporary file while the library runs; returns what was
 * written there. */
typedef struct {
    int saved, fd;
    char path[600];
} stderr_trap;
static void trap_open(stderr_trap *t, const char *name) {
    ll_path_join(t->path, sizeof t->path, ll_test_tmpdir(), name);
    fflush(stderr);
    t->saved = dup(2);
    t->fd = open(t->path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    dup2(t->fd, 2);
}
static char *trap_close(stderr_trap *t) {
    fflush(stderr);
    dup2(t->saved, 2);
    close(t->saved);
    close(t->fd);
    return ll_read_file(t->path, NULL);
}

TEST(pipeline_lib_fit_equals_numpy_and_prints_nothing) {
    cJSON *exp = load_json("tests/fixtures/fit/well.json");
    REQUIRE(exp);
    ll_fit_opts o;
    ll_fit_opts_default(&o);
    o.features = "tests/fixtures/fit/well.F.npy";
    o.labels = "tests/fixtures/fit/well.Y.npy";
    o.threads = 2;
    said notes = {{0}}, warns = {{0}};
    ll_set_note_handler(collect, &notes);
    ll_set_warn_handler(collect, &warns);
    stderr_trap t;
    trap_open(&t, "fit_stderr.txt");
    ll_run_result r;
    int rc = ll_fit_pipeline(&o, &r);
    char *err = trap_close(&t);
    ll_set_note_handler(NULL, NULL);
    ll_set_warn_handler(NULL, NULL);
    REQUIRE_MSG(rc == 0, "fit: %d: %s", rc, ll_last_error());
    CHECK_MSG(err && !*err, "the library wrote on stderr: %s", err ? err : "");
    free(err);
    CHECK_MSG(strstr(notes.text, "fit uses the CPU backend (float64 statistics, 2 threads)"), "notes: %s", notes.text);
    CHECK_MSG(!*warns.text, "warnings: %s", warns.text);
    const cJSON *pe = cJSON_GetObjectItem(exp, "pr_exact");
    CHECK_INT(r.E, cJSON_GetArraySize(pe));
    CHECK_INT((long)r.N, (long)jnum(exp, "N"));
    for (int e = 0; e < r.E; e++) CHECK_REL(r.res[e].pr, cJSON_GetArrayItem(pe, e)->valuedouble, 1e-9);
    CHECK(r.have_law);
    CHECK_NEAR(r.law.slope, jnum(cJSON_GetObjectItem(exp, "law_exact"), "slope"), 1e-6);
    CHECK(r.gpu == -1 && r.rank == 0);
    CHECK(!strcmp(cJSON_GetObjectItem(r.config, "command")->valuestring, "fit"));
    ll_run_result_free(&r);
    /* bad input: exit status 2, one line naming the file, still nothing on stderr */
    o.labels = "tests/fixtures/fit/f16.Y.npy";
    trap_open(&t, "fit_stderr2.txt");
    rc = ll_fit_pipeline(&o, &r);
    err = trap_close(&t);
    CHECK_INT(rc, 2);
    CHECK_MSG(strstr(ll_last_error(), "tests/fixtures/fit/f16.Y.npy: ") == ll_last_error(), "%s", ll_last_error());
    CHECK(err && !*err);
    free(err);
    ll_run_result_free(&r);
    cJSON_Delete(exp);
}

TEST(pipeline_lib_run_equals_authors_and_prints_nothing) {
    cJSON *exp = load_json("tests/fixtures/models/gpt2/expected.json");
    REQUIRE(exp);
    ll_run_opts o;
    ll_run_opts_default(&o);
    o.model = "tests/fixtures/models/gpt2";
    o.tokens = "tests/fixtures/models/gpt2/tokens.jsonl";
    o.backend = "cpu";
    o.threads = 2;
    o.progress = 0; /* no progress line; notices still said */
    said notes = {{0}}, warns = {{0}};
    ll_set_note_handler(collect, &notes);
    ll_set_warn_handler(collect, &warns);
    stderr_trap t;
    trap_open(&t, "run_stderr.txt");
    ll_run_result r;
    int rc = ll_run_pipeline(&o, &r);
    char *err = trap_close(&t);
    ll_set_note_handler(NULL, NULL);
    ll_set_warn_handler(NULL, NULL);
    REQUIRE_MSG(rc == 0, "run: %d: %s", rc, ll_last_error());
    CHECK_MSG(err && !*err, "the library wrote on stderr: %s", err ? err : "");
    free(err);
    CHECK_MSG(strstr(notes.text, "using the CPU backend"), "notes: %s", notes.text);
    const cJSON *pe = cJSON_GetObjectItem(exp, "pr_exact");
    CHECK_INT(r.E, cJSON_GetArraySize(pe));
    for (int e = 0; e < r.E; e++) CHECK_REL(r.res[e].pr, cJSON_GetArrayItem(pe, e)->valuedouble, 1e-6);
    CHECK(r.gpu == -1);
    const cJSON *cfg = r.config;
    CHECK(!strcmp(cJSON_GetObjectItem(cfg, "backend")->valuestring, "cpu") && !cJSON_GetObjectItem(cfg, "device"));
    ll_run_result_free(&r);
    cJSON_Delete(exp);
}

TEST(pipeline_lib_fit_options_from_dump_sidecar) {
    char dir[600], f[700], j[700];
    ll_path_join(dir, sizeof dir, ll_test_tmpdir(), "sidecar");
    REQUIRE(ll_mkdirs(dir) == 0);
    ll_path_join(f, sizeof f, dir, "h.npy");
    ll_path_join(j, sizeof j, dir, "h.json");
    const char *js = "{\"labels\": \"h.labels.npy\", \"norm\": \"rmsnorm\", \"eps\": 1e-6, \"norm_last\": true, "
                     "\"fit_from\": 2, \"ridge\": 0.5, \"shuffle_vocab_seed\": \"18446744073709551615\"}";
    REQUIRE(ll_write_file_atomic(j, js, strlen(js)) == 0);
    ll_fit_opts o;
    ll_fit_opts_default(&o);
    o.features = f;
    o.ridge = 3; /* given on the command line: kept */
    CHECK_INT(ll_fit_opts_from_dump(&o, LL_FIT_GIVEN_RIDGE), 1);
    char want[800];
    snprintf(want, sizeof want, "%s/h.labels.npy", dir);
    CHECK_MSG(o.labels && !strcmp(o.labels, want), "%s", o.labels ? o.labels : "(null)");
    CHECK(o.norm == LL_NORM_RMSNORM && o.eps == 1e-6 && o.norm_last == 1 && o.fit_from == 2 && o.ridge == 3);
    CHECK(o.have_shuffle && o.shuffle_seed == 18446744073709551615ULL);
    /* a sidecar that names a labels file elsewhere is refused */
    const char *bad = "{\"labels\": \"../x.npy\", \"norm\": \"none\", \"eps\": 0, \"norm_last\": false, "
                      "\"fit_from\": 1, \"ridge\": 0, \"shuffle_vocab_seed\": null}";
    REQUIRE(ll_write_file_atomic(j, bad, strlen(bad)) == 0);
    ll_fit_opts_default(&o);
    o.features = f;
    CHECK_INT(ll_fit_opts_from_dump(&o, 0), -1);
    CHECK_MSG(strstr(ll_last_error(), "not a run --dump-hidden sidecar"), "%s", ll_last_error());
    /* no sidecar: nothing taken */
    ll_fit_opts_default(&o);
    o.features = "tests/fixtures/fit/well.F.npy";
    CHECK_INT(ll_fit_opts_from_dump(&o, 0), 0);
    CHECK(o.labels == NULL);
}

TEST(bench_plan_grid_order) {
    ll_bench_grid g = {.models = "a,b", .synthetic = "configs/shapes/x", .batch_tokens = "64", .batch_size = "4",
                       .max_length = "8,16", .threads = "1,2", .backend = "cpu", .compute = "auto"};
    ll_bench_plan p;
    REQUIRE(ll_bench_plan_make(&g, &p) == 0);
    CHECK_INT(p.n, 12); /* 3 models x 2 threads x 2 lengths */
    CHECK_INT(p.n_models, 3);
    /* the model slowest, then threads, the length fastest (as llama-bench) */
    const ll_bench_test *t = p.tests;
    CHECK(!strcmp(t[0].model, "a") && t[0].threads == 1 && t[0].max_length == 8);
    CHECK(!strcmp(t[1].model, "a") && t[1].threads == 1 && t[1].max_length == 16);
    CHECK(!strcmp(t[2].model, "a") && t[2].threads == 2 && t[2].max_length == 8);
    CHECK(!strcmp(t[4].model, "b") && !t[4].synthetic);
    CHECK(!strcmp(t[8].model, "configs/shapes/x/config.json") && t[8].synthetic);
    CHECK(t[11].batch_tokens == 64 && t[11].batch_size == 4 && !strcmp(t[11].backend, "cpu"));
    ll_bench_plan_free(&p);
    g.batch_size = "4,0";
    CHECK(ll_bench_plan_make(&g, &p) != 0);
    CHECK_MSG(strstr(ll_last_error(), "--batch-size: bad value '0'"), "%s", ll_last_error());
    ll_bench_plan_free(&p);
    ll_bench_grid e = {.models = ",", .batch_tokens = "1", .batch_size = "1", .max_length = "1", .threads = "0",
                       .backend = "cpu", .compute = "auto"};
    CHECK(ll_bench_plan_make(&e, &p) != 0);
    ll_bench_plan_free(&p);
}
