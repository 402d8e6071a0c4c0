/* Batch invariance, a property of every family (issue 23): a sequence's hidden
 * states and every PR do not depend on which sequences share its batch, the
 * batch size, --batch-tokens, the batch order (--keep-order or longest
 * first), the thread count or the number of ranks.
 *
 * Every fixture model of every family (tests/fixtures/models/<name> with a
 * tokens.jsonl) runs through `layerlaw run` with batch size 1 on one thread
 * (the reference: every sequence alone, as the authors run them) and then
 *   - input order (--dump-hidden): a large batch on 2 threads, a tiny
 *     --batch-tokens on 1 thread, a large batch on 1 thread — the dumped
 *     features equal the reference's to 1e-6 of the entry's scale
 *     (max|diff| <= 1e-6 · max|ref|: float32 products summed in another
 *     order by BLAS for another row count; observed 0 or ~1e-7);
 *   - length order (the default): a large batch, a tiny --batch-tokens and
 *     batch size 1, on 1 and 2 threads;
 *   - 2 ranks (mpirun) when the binary has MPI;
 * and every entry's PR equals the reference's to 1e-9 relative (the
 * statistics are float64 sums in a fixed order: the batching changes only
 * the float32 features, by the amount above).
 * The same property on the CUDA backend: scripts/gpu-check.sh. */
#include <cJSON.h>
#include <dirent.h>
#include <math.h>
#include <unistd.h>
#include "io/npy.h"
#include "test_util.h"

#define HID_TOL 1e-6
#define PR_RTOL 1e-9
#define MAX_E 64

static int read_prs(const char *out, double *pr, int cap) {
    char lp[1200];
    ll_path_join(lp, sizeof lp, out, "law.json");
    size_t n;
    char *t = ll_read_file(lp, &n);
    if (!t) return -1;
    cJSON *j = cJSON_Parse(t);
    free(t);
    const cJSON *L = j ? cJSON_GetObjectItem(j, "layers") : NULL;
    int E = L ? cJSON_GetArraySize(L) : -1;
    if (E > cap) E = -1;
    for (int e = 0; e < E; e++) {
        const cJSON *p = cJSON_GetObjectItem(cJSON_GetArrayItem(L, e), "pr");
        pr[e] = cJSON_IsNumber(p) ? p->valuedouble : NAN;
    }
    cJSON_Delete(j);
    return E;
}

/* runs one variant into tmp/<name>-<tag>; PRs into pr; 0 / -1 */
static int run_variant(const char *name, const char *dir, const char *tag, int P, const char *extra, double *pr,
                       int *E) {
    char out[1100], model[700], toks[700], ex[2000], dump[1300];
    char base[300];
    snprintf(base, sizeof base, "bi-%s-%s", name, tag);
    ll_path_join(out, sizeof out, ll_test_tmpdir(), base);
    snprintf(model, sizeof model, "'%s'", dir);
    snprintf(toks, sizeof toks, "'%s/tokens.jsonl'", dir);
    snprintf(dump, sizeof dump, "%s.npy", out);
    snprintf(ex, sizeof ex, "%s", extra);
    char *dp = strstr(ex, "DUMP");
    if (dp) {
        char rest[1000];
        snprintf(rest, sizeof rest, "%s", dp + 4);
        snprintf(dp, sizeof ex - (size_t)(dp - ex), "--dump-hidden '%s'%s", dump, rest);
    }
    char q[1200];
    snprintf(q, sizeof q, "'%s'", out);
    char *o = NULL;
    int rc = ll_test_run_job(NULL, P, model, toks, q, ex, &o);
    CHECK_MSG(rc == 0, "%s %s: exit %d\n%s", name, tag, rc, o ? o : "");
    free(o);
    if (rc) return -1;
    *E = read_prs(out, pr, MAX_E);
    CHECK_MSG(*E > 0, "%s %s: law.json unreadable", name, tag);
    return *E > 0 ? 0 : -1;
}

static void compare_dumps(const char *name, const char *tag, const char *ref_tag) {
    char a[1200], b[1200], base[300];
    snprintf(base, sizeof base, "bi-%s-%s.npy", name, ref_tag);
    ll_path_join(a, sizeof a, ll_test_tmpdir(), base);
    snprintf(base, sizeof base, "bi-%s-%s.npy", name, tag);
    ll_path_join(b, sizeof b, ll_test_tmpdir(), base);
    ll_npy ra, rb;
    if (ll_npy_open(a, &ra)) { CHECK_MSG(0, "%s", ll_last_error()); return; }
    if (ll_npy_open(b, &rb)) { CHECK_MSG(0, "%s", ll_last_error()); ll_npy_close(&ra); return; }
    REQUIRE_MSG(ra.ndim == 3 && rb.ndim == 3 && ra.dtype == LL_DT_F32 && rb.dtype == LL_DT_F32, "%s: dump shapes",
                name);
    CHECK_MSG(ra.shape[0] == rb.shape[0] && ra.shape[1] == rb.shape[1] && ra.shape[2] == rb.shape[2],
              "%s %s: dump shape differs", name, tag);
    if (ra.count == rb.count && ra.shape[1] == rb.shape[1]) {
        const int64_t N = ra.shape[0], E = ra.shape[1], d = ra.shape[2];
        const float *x = ra.data, *y = rb.data;
        double worst = 0;
        for (int64_t e = 0; e < E; e++) {
            double scale = 0, diff = 0;
            for (int64_t i = 0; i < N; i++)
                for (int64_t k = 0; k < d; k++) {
                    size_t at = ((size_t)i * E + e) * d + k;
                    scale = fmax(scale, fabs(x[at]));
                    diff = fmax(diff, fabs((double)x[at] - y[at]));
                }
            CHECK_MSG(diff <= HID_TOL * scale, "%s %s entry %lld: hidden max|diff| %.3g of scale %.3g (rel %.3g)", name,
                      tag, (long long)e, diff, scale, diff / scale);
            if (scale > 0) worst = fmax(worst, diff / scale);
        }
        printf("  %-16s %-14s hidden max rel %.2g\n", name, tag, worst);
    }
    ll_npy_close(&ra);
    ll_npy_close(&rb);
}

static void check_family(const char *name) {
    char dir[600];
    snprintf(dir, sizeof dir, "tests/fixtures/models/%s", name);
    double ref[MAX_E], pr[MAX_E];
    int E = 0, E2 = 0;
    if (run_variant(name, dir, "ref", 0, "--threads 1 --batch-size 1 DUMP", ref, &E)) return;
    static const struct { const char *tag, *extra; int dump; } V[] = {
        {"in-large-t2", "--threads 2 --batch-size 64 --batch-tokens 65536 DUMP", 1},
        {"in-tiny-t1", "--threads 1 --batch-tokens 8 DUMP", 1},
        {"len-large-t1", "--threads 1 --batch-size 64 --batch-tokens 65536", 0},
        {"len-large-t2", "--threads 2 --batch-size 64 --batch-tokens 65536", 0},
        {"len-tiny-t2", "--threads 2 --batch-tokens 8", 0},
        {"len-one-t2", "--threads 2 --batch-size 1", 0},
        {"in-mid-t2", "--threads 2 --batch-size 3 --keep-order", 0},
    };
    for (size_t v = 0; v < sizeof V / sizeof *V; v++) {
        if (run_variant(name, dir, V[v].tag, 0, V[v].extra, pr, &E2)) continue;
        CHECK_INT(E2, E);
        for (int e = 0; e < E && e < E2; e++)
            CHECK_MSG(fabs(pr[e] - ref[e]) <= PR_RTOL * fabs(ref[e]), "%s %s entry %d: PR %.12f, batch 1 %.12f", name,
                      V[v].tag, e, pr[e], ref[e]);
        if (V[v].dump) compare_dumps(name, V[v].tag, "ref");
    }
    if (ll_test_have_mpi() && !run_variant(name, dir, "ranks2", 2, "--threads 1 --batch-size 4", pr, &E2)) {
        CHECK_INT(E2, E);
        for (int e = 0; e < E && e < E2; e++)
            CHECK_MSG(fabs(pr[e] - ref[e]) <= PR_RTOL * fabs(ref[e]), "%s 2 ranks entry %d: PR %.12f, batch 1 %.12f",
                      name, e, pr[e], ref[e]);
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* every fixture folder with a tokens.jsonl, so that a new family's fixture is
 * covered without editing this file */
TEST(batch_invariance_every_fixture) {
    DIR *d = opendir("tests/fixtures/models");
    REQUIRE_MSG(d, "tests/fixtures/models unreadable");
    char *names[256];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 256) {
        if (de->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof p, "tests/fixtures/models/%s/tokens.jsonl", de->d_name);
        if (access(p, R_OK) == 0) names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    CHECK_MSG(n >= 20, "only %d fixtures found", n);
    for (int i = 0; i < n; i++) {
        check_family(names[i]);
        free(names[i]);
    }
}
