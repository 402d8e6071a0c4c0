/* Shared helpers of the libFuzzer harnesses (tests/fuzz/fuzz_<parser>.c).
 * The parsers take paths, so each input is written to a per-process file in
 * $TMPDIR (default /tmp) and removed at exit.  Build: make fuzz; run:
 * scripts/fuzz.sh SECONDS (docs/fuzzing.md). */
#ifndef LL_FUZZ_UTIL_H
#define LL_FUZZ_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/ll_util.h"

static char fz_dir[512];

static inline void fz_cleanup(void) {
    if (!fz_dir[0]) return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir);
    if (system(cmd) != 0) { /* best effort */ }
}

/* A private folder for this process's files (created once). */
static inline const char *fz_folder(void) {
    if (!fz_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fz_dir, sizeof fz_dir, "%s/layerlaw-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fz_dir)) abort();
        atexit(fz_cleanup);
    }
    return fz_dir;
}

/* Writes data to <folder>/<name> and returns its path (static buffer per call site ring). */
static inline const char *fz_write(const char *name, const uint8_t *data, size_t n) {
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", fz_folder(), name);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    if (n && fwrite(data, 1, n, f) != n) abort();
    if (fclose(f) != 0) abort();
    return p;
}

/* Clears the last error (an empty message reads back as "unknown error"). */
static inline void fz_reset_error(void) { ll_set_error("%s", ""); }

/* Every failure must leave one line naming what failed: a parser that fails
 * without ll_set_error (after fz_reset_error) is a finding. */
static inline void fz_check_error(void) {
    const char *e = ll_last_error();
    if (!e || !*e || !strcmp(e, "unknown error") || strchr(e, '\n')) {
        fprintf(stderr, "bad error message: '%s'\n", e ? e : "(null)");
        abort();
    }
}
#endif
