#include "harness.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

typedef struct { const char *name, *file; ll_test_fn fn; } test_entry;
static test_entry *g_tests;
static int g_ntests, g_cap, g_failures;
static char g_tmpdir[512];

void ll_test_register(const char *name, const char *file, ll_test_fn fn) {
    if (g_ntests == g_cap) {
        g_cap = g_cap ? 2 * g_cap : 64;
        g_tests = realloc(g_tests, (size_t)g_cap * sizeof *g_tests);
        if (!g_tests) abort();
    }
    g_tests[g_ntests++] = (test_entry){name, file, fn};
}

void ll_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    g_failures++;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int ll_test_failures(void) { return g_failures; }

const char *ll_shared_path(const char *rel) {
    static char buf[8][1024];
    static int k;
    /* default: the project's own copy, tests/data/ (rel is "data/..."), so a
     * clone needs nothing beside it; LAYERLAW_SHARED=DIR reads DIR/data/... */
    const char *root = getenv("LAYERLAW_SHARED");
    if (!root || !*root) root = "tests";
    char *b = buf[k++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", root, rel);
    return b;
}

const char *ll_bin_path(void) {
    const char *b = getenv("LAYERLAW_BIN");
    return (b && *b) ? b : "build/layerlaw";
}

const char *ll_test_tmpdir(void) { return g_tmpdir; }

int ll_run_cmd(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) { cap *= 2; buf = realloc(buf, cap); }
    }
    if (buf) buf[len] = 0;
    int st = pclose(p);
    if (out) *out = buf; else free(buf);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int cmp_entry(const void *a, const void *b) {
    const test_entry *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    qsort(g_tests, (size_t)g_ntests, sizeof *g_tests, cmp_entry);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < g_ntests; i++) {
        const test_entry *t = &g_tests[i];
        if (argc > 1) {
            int match = 0;
            for (int a = 1; a < argc; a++)
                if (strstr(t->name, argv[a]) || strstr(t->file, argv[a])) match = 1;
            if (!match) continue;
        }
        snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/layerlaw-test-%d-XXXXXX", (int)getpid());
        if (!mkdtemp(g_tmpdir)) { perror("mkdtemp"); return 2; }
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            g_failures = 0;
            t->fn();
            fflush(NULL);
            _exit(g_failures ? 1 : 0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double dt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (ok) { passed++; printf("PASS %-48s %7.2fs\n", t->name, dt); }
        else {
            failed++;
            if (WIFSIGNALED(st)) printf("FAIL %-48s (signal %d)\n", t->name, WTERMSIG(st));
            else printf("FAIL %-48s (%s)\n", t->name, t->file);
        }
        char rm[600];
        snprintf(rm, sizeof rm, "rm -rf '%s'", g_tmpdir);
        if (system(rm) != 0) { /* best effort */ }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
