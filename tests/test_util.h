/* Small helpers shared by the C tests (header-only, static inline): read a
 * JSON file (law.json, fixture expectations), look numbers and strings up in
 * it, the PR of a law.json entry, fixture paths, file copies, and the check
 * that a model folder fails to load with a one-line message.  Each helper is
 * the one the tests used to carry a copy of; none asserts anything on its own
 * except load_fails(). */
#ifndef LL_TEST_UTIL_H
#define LL_TEST_UTIL_H
#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "core/ll_util.h"

/* The parsed JSON of a file, or NULL (unreadable or not JSON). */
static inline cJSON *load_json(const char *path) {
    char *t = ll_read_file(path, NULL);
    if (!t) return NULL;
    cJSON *j = cJSON_Parse(t);
    free(t);
    return j;
}

/* o[k] as a number; NaN when absent or not a number. */
static inline double jnum(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* a[i] as a number; NaN when absent or not a number. */
static inline double jidx(const cJSON *a, int i) {
    const cJSON *v = cJSON_GetArrayItem(a, i);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* law.json: layers[e].pr; NaN when absent or not a number. */
static inline double pr_of(const cJSON *law, int e) {
    const cJSON *x = cJSON_GetArrayItem(cJSON_GetObjectItem(law, "layers"), e);
    const cJSON *p = x ? cJSON_GetObjectItem(x, "pr") : NULL;
    return cJSON_IsNumber(p) ? p->valuedouble : NAN;
}

/* law[sec][key] (law[key] when sec is NULL) as a number, NaN otherwise. */
static inline double num_at(const cJSON *law, const char *sec, const char *key) {
    const cJSON *s = sec ? cJSON_GetObjectItem(law, sec) : law;
    const cJSON *v = s ? cJSON_GetObjectItem(s, key) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* law[sec][key] as a string, "" otherwise. */
static inline const char *str_at(const cJSON *law, const char *sec, const char *key) {
    const cJSON *s = cJSON_GetObjectItem(law, sec);
    const cJSON *v = s ? cJSON_GetObjectItem(s, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* tests/fixtures/models/<name> (four rotating buffers: up to four in one call). */
static inline const char *fx(const char *name) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "tests/fixtures/models/%s", name);
    return buf[k];
}

/* Entry e of two float arrays [N, E, d] (hidden-state dumps: token, entry,
 * feature): the largest |x - ref|, with *scale the largest |ref|; a NaN
 * anywhere makes them NaN (so a tolerance check fails). */
static inline double entry_max_diff(const float *x, const float *ref, int64_t N, int64_t E, int64_t d, int64_t e,
                                    double *scale) {
    double s = 0, diff = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t k = 0; k < d; k++) {
            size_t at = ((size_t)i * E + e) * d + k;
            double a = fabs((double)ref[at]), b = fabs((double)x[at] - (double)ref[at]);
            if (!(a <= s)) s = a;
            if (!(b <= diff)) diff = b;
        }
    *scale = s;
    return diff;
}

/* Copies a file (written atomically); 0 or -1. */
static inline int copy_file(const char *src, const char *dst) {
    size_t n;
    char *d = ll_read_file(src, &n);
    if (!d) return -1;
    int rc = ll_write_file_atomic(dst, d, n);
    free(d);
    return rc;
}

#ifdef LL_MODEL_H
/* The model folder must fail to load, with a one-line error naming needle1
 * (and needle2 when given). */
static inline void load_fails(const char *dir, const char *needle1, const char *needle2) {
    ll_model *m = ll_model_load(dir);
    CHECK_MSG(m == NULL, "%s loaded", dir);
    if (m) { ll_model_free(m); return; }
    CHECK_MSG(strstr(ll_last_error(), needle1) != NULL, "error '%s' lacks '%s'", ll_last_error(), needle1);
    if (needle2) CHECK_MSG(strstr(ll_last_error(), needle2) != NULL, "error '%s' lacks '%s'", ll_last_error(), needle2);
    CHECK(strchr(ll_last_error(), '\n') == NULL);
}
#endif
/* Compares every document of tokenizer `name`'s rows in a fixture manifest
 * (manifest.tsv columns, tools/make_tokenizer_fixtures*.py) with the ids PyPI
 * tokenizers gave, id for id (defined in tests/test_tokenizer.c). */
void ll_test_tokenizer_manifest(const char *manifest, const char *name);
/* mpirun for the multi-process tests (tests/test_dist.c, tests/test_stages.c):
 * Open MPI refuses root without the first two; shared memory between the ranks;
 * --oversubscribe: more ranks than cores; the ASan build's ranks do not report
 * Open MPI's own allocations; a hung job is killed after 300 s. */
#define LL_TEST_MPIRUN                                                                         \
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader "        \
    "ASAN_OPTIONS=detect_leaks=0 timeout -s KILL 300 mpirun --oversubscribe"

/* `ENV [mpirun -np P] layerlaw run --backend cpu --model MODEL --tokens
 * TOKENS --out OUT --quiet EXTRA` (P 0: one process, no mpirun; env and
 * extra may be NULL); its exit status, the output (stdout and stderr) in *o. */
static inline int ll_test_run_job(const char *env, int P, const char *model, const char *tokens, const char *out,
                                  const char *extra, char **o) {
    char cmd[4096], np[32] = "";
    if (P) snprintf(np, sizeof np, " -np %d ", P);
    snprintf(cmd, sizeof cmd, "%s %s%s%s run --backend cpu --model %s --tokens %s --out %s --quiet %s 2>&1",
             env ? env : "", P ? LL_TEST_MPIRUN : "", np, ll_bin_path(), model, tokens, out, extra ? extra : "");
    return ll_run_cmd(cmd, o);
}

/* Runs the shell command line cmd (with 2>&1 when stderr counts); 1 when it
 * exits want_rc and its output contains needle (NULL: any output), else 0
 * after one failed check (the exit status and the output) at the caller's
 * line: CHECK_CMD. */
static inline int ll_test_cmd_says(const char *file, int line, const char *cmd, int want_rc, const char *needle) {
    char *o = NULL;
    int rc = ll_run_cmd(cmd, &o);
    int ok = rc == want_rc && (!needle || (o && strstr(o, needle)));
    if (!ok) ll_test_fail(file, line, "rc %d (expected %d, output with '%s'): %s", rc, want_rc, needle ? needle : "", o ? o : "");
    free(o);
    return ok;
}
#define CHECK_CMD(cmd, want_rc, needle) ll_test_cmd_says(__FILE__, __LINE__, (cmd), (want_rc), (needle))

/* 1 if the layerlaw under test was built with MPI (`layerlaw info`). */
static inline int ll_test_have_mpi(void) {
    char cmd[600], *o = NULL;
    snprintf(cmd, sizeof cmd, "%s info 2>&1", ll_bin_path());
    ll_run_cmd(cmd, &o);
    int yes = o && strstr(o, "mpi: yes");
    free(o);
    return yes;
}
#endif
