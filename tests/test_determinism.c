/* Determinism on the CPU: two runs with the same options and the same number
 * of threads give bit-identical numbers in law.json (every PR, RSS, TSS,
 * rank and law-fit value; timings excluded).  The oracle is the first run
 * itself: any difference is a race or an order-dependent sum. */
#include "harness.h"
#include "core/ll_util.h"
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

/* every number under a and b equal (same keys, same order), bit for bit */
static int same_numbers(const cJSON *a, const cJSON *b, const char *where, int *count) {
    if (!a || !b || a->type != b->type) { ll_test_fail(__FILE__, __LINE__, "%s: structure differs", where); return 0; }
    if (cJSON_IsNumber(a)) {
        (*count)++;
        if (memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) != 0) {
            ll_test_fail(__FILE__, __LINE__, "%s: %.17g vs %.17g", where, a->valuedouble, b->valuedouble);
            return 0;
        }
        return 1;
    }
    int ok = 1;
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next) {
        char w[512];
        snprintf(w, sizeof w, "%s.%s", where, x->string ? x->string : "[]");
        ok &= same_numbers(x, y, w, count);
    }
    if (x || y) { ll_test_fail(__FILE__, __LINE__, "%s: lengths differ", where); return 0; }
    return ok;
}

static cJSON *run_once(const char *out, const char *extra) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s run --model configs/stories260K-hf --tokens configs/stories260K-hf/alice-200x128.tok512.jsonl "
             "--max-length 64 --backend cpu --threads 2 --quiet --out %s/%s %s 2>/dev/null",
             ll_bin_path(), ll_test_tmpdir(), out, extra);
    if (ll_run_cmd(cmd, NULL) != 0) return NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/law.json", ll_test_tmpdir(), out);
    size_t n;
    char *t = ll_read_file(path, &n);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    free(t);
    return j;
}

static void check_pair(const char *extra) {
    cJSON *a = run_once("a", extra), *b = run_once("b", extra);
    REQUIRE_MSG(a && b, "run failed (%s)", extra);
    int count = 0;
    static const char *keys[] = {"layers", "fit", "n_examples", "n_entries"};
    for (int i = 0; i < 4; i++)
        CHECK(same_numbers(cJSON_GetObjectItem(a, keys[i]), cJSON_GetObjectItem(b, keys[i]), keys[i], &count));
    CHECK_MSG(count >= 6 * 5 + 6, "only %d numbers compared", count); /* 6 entries x (index, pr, log10, rss, tss, rank) + fit */
    printf("    %s: %d numbers bit-identical\n", *extra ? extra : "defaults", count);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

TEST(determinism_run_cpu) { check_pair(""); }
TEST(determinism_run_cpu_shuffled_standardize) { check_pair("--shuffle-vocab 3 --norm standardize"); }
