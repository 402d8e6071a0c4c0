/* `layerlaw bench` through the binary: one test per combination of the
 * comma-separated values, -r samples each (warm-up dropped), mean and sample
 * sd equal to those recomputed here from the raw samples, the token count
 * equal to the token file's (counted here), per-entry times inside the run
 * time, CSV rows = tests x repetitions x entries. */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "core/ll_util.h"

static double count_tokens(const char *path) {
    size_t n;
    char *t = ll_read_file(path, &n);
    if (!t) return -1;
    double total = 0;
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *a = cJSON_Parse(line);
        total += cJSON_GetArraySize(a);
        cJSON_Delete(a);
    }
    free(t);
    return total;
}

static void check_summary(const cJSON *s, int n) {
    const cJSON *sm = cJSON_GetObjectItem(s, "samples");
    REQUIRE(cJSON_GetArraySize(sm) == n);
    double sum = 0, ss = 0;
    for (int i = 0; i < n; i++) sum += cJSON_GetArrayItem(sm, i)->valuedouble;
    double mean = sum / n;
    for (int i = 0; i < n; i++) ss += pow(cJSON_GetArrayItem(sm, i)->valuedouble - mean, 2);
    /* the JSON keeps 17 significant digits: recomputation agrees to rounding */
    CHECK_REL(cJSON_GetObjectItem(s, "mean")->valuedouble, mean, 1e-12);
    CHECK_NEAR(cJSON_GetObjectItem(s, "sd")->valuedouble, n > 1 ? sqrt(ss / (n - 1)) : 0, 1e-12 * fabs(mean) + 1e-300);
}

TEST(bench_cli_json_samples_and_counts) {
    const char *tok = "tests/fixtures/models/mamba/tokens.jsonl"; /* ids < 100: every fixture vocabulary */
    char cmd[2048], *o = NULL;
    snprintf(cmd, sizeof cmd,
             "%s bench --model tests/fixtures/models/gpt2,tests/fixtures/models/mamba --tokens %s --backend cpu "
             "--batch-tokens 64,4096 --threads 1 -r 3 --warmup 1 -o json 2>/dev/null",
             ll_bin_path(), tok);
    int rc = ll_run_cmd(cmd, &o);
    REQUIRE_MSG(rc == 0 && o, "exit %d", rc);
    cJSON *j = cJSON_Parse(o);
    free(o);
    REQUIRE(j);
    const cJSON *tests = cJSON_GetObjectItem(j, "tests");
    CHECK_INT(cJSON_GetArraySize(tests), 4); /* 2 models x 2 batch sizes */
    double want_tokens = count_tokens(tok);
    CHECK(want_tokens > 0);
    for (const cJSON *t = tests->child; t; t = t->next) {
        CHECK_NEAR(cJSON_GetObjectItem(t, "tokens")->valuedouble, want_tokens, 0);
        CHECK(!strcmp(cJSON_GetObjectItem(t, "backend")->valuestring, "cpu"));
        check_summary(cJSON_GetObjectItem(t, "run_s"), 3);
        check_summary(cJSON_GetObjectItem(t, "tokens_per_s"), 3);
        check_summary(cJSON_GetObjectItem(t, "capture_s"), 3);
        /* tokens/s = tokens / run_s, sample by sample */
        const cJSON *rs = cJSON_GetObjectItem(cJSON_GetObjectItem(t, "run_s"), "samples");
        const cJSON *ts = cJSON_GetObjectItem(cJSON_GetObjectItem(t, "tokens_per_s"), "samples");
        for (int i = 0; i < 3; i++)
            CHECK_REL(cJSON_GetArrayItem(ts, i)->valuedouble, want_tokens / cJSON_GetArrayItem(rs, i)->valuedouble, 1e-12);
        /* per entry: forward + capture of all entries fit inside the run */
        const cJSON *pe = cJSON_GetObjectItem(t, "per_entry");
        CHECK_INT(cJSON_GetArraySize(pe), 4); /* 3 blocks: L + 1 entries */
        for (int i = 0; i < 3; i++) {
            double sum = 0;
            for (const cJSON *e = pe->child; e; e = e->next) {
                sum += cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "forward_s"), "samples"), i)->valuedouble;
                sum += cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "capture_s"), "samples"), i)->valuedouble;
            }
            CHECK_MSG(sum <= cJSON_GetArrayItem(rs, i)->valuedouble * (1 + 1e-9), "entries %.6g s > run %.6g s", sum,
                      cJSON_GetArrayItem(rs, i)->valuedouble);
        }
        for (const cJSON *e = pe->child; e; e = e->next) check_summary(cJSON_GetObjectItem(e, "forward_s"), 3);
        /* achieved rates = counted work / mean seconds, fractions of the peaks in the same report */
        double pg = cJSON_GetObjectItem(t, "peak_gflops")->valuedouble, pb = cJSON_GetObjectItem(t, "peak_gbps")->valuedouble;
        for (const cJSON *e = pe->child; e; e = e->next) {
            double sec = cJSON_GetObjectItem(cJSON_GetObjectItem(e, "seconds"), "mean")->valuedouble;
            const cJSON *fl = cJSON_GetObjectItem(e, "flops"), *by = cJSON_GetObjectItem(e, "bytes");
            REQUIRE(cJSON_IsNumber(fl) && cJSON_IsNumber(by));
            CHECK(by->valuedouble > 0);
            double g = cJSON_GetObjectItem(e, "gflops_per_s")->valuedouble, gb = cJSON_GetObjectItem(e, "gb_per_s")->valuedouble;
            CHECK_REL(g, sec > 0 ? fl->valuedouble / sec / 1e9 : 0, 1e-12);
            CHECK_REL(gb, sec > 0 ? by->valuedouble / sec / 1e9 : 0, 1e-12);
            CHECK_REL(cJSON_GetObjectItem(e, "fraction_of_peak_flops")->valuedouble, pg > 0 ? g / pg : 0, 1e-12);
            CHECK_REL(cJSON_GetObjectItem(e, "fraction_of_peak_bytes")->valuedouble, pb > 0 ? gb / pb : 0, 1e-12);
        }
    }
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "provenance")));
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "peaks"), "cpu_sgemm_gflops")->valuedouble > 0);
    cJSON_Delete(j);
    /* a synthetic model at a fixture's shape: same entries, no weight file read */
    snprintf(cmd, sizeof cmd,
             "%s bench --synthetic tests/fixtures/models/gpt2 --tokens %s --backend cpu -r 1 --warmup 0 -o json --no-peaks 2>/dev/null",
             ll_bin_path(), tok);
    rc = ll_run_cmd(cmd, &o);
    REQUIRE_MSG(rc == 0 && o, "exit %d", rc);
    j = cJSON_Parse(o);
    free(o);
    REQUIRE(j);
    const cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tests"), 0);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(t0, "synthetic")));
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(t0, "per_entry")), 4);
    cJSON_Delete(j);
    /* CSV: a header and one row per test x repetition x entry */
    snprintf(cmd, sizeof cmd,
             "%s bench --model tests/fixtures/models/gpt2 --tokens %s --backend cpu --threads 1,2 -r 2 -o csv --no-peaks 2>/dev/null",
             ll_bin_path(), tok);
    rc = ll_run_cmd(cmd, &o);
    REQUIRE(rc == 0 && o);
    int lines = 0;
    for (char *c = o; *c; c++) lines += *c == '\n';
    CHECK_INT(lines, 1 + 2 * 2 * 4);
    free(o);
    /* bad values: one line, exit 2 */
    snprintf(cmd, sizeof cmd, "%s bench --model tests/fixtures/models/gpt2 --tokens %s --batch-tokens 0 2>&1", ll_bin_path(), tok);
    rc = ll_run_cmd(cmd, &o);
    CHECK(rc == 2 && o && strstr(o, "--batch-tokens: bad value '0'"));
    free(o);
}
