#include "dist/agree.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/ll_util.h"
#include "report/provenance.h"

#define HASH_CONTENT_MAX (1LL << 30)

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A folder's listing, sorted: "name size\n" for each entry (not hidden). */
static void folder_listing(const char *path, ll_sbuf *b) {
    DIR *d = opendir(path);
    if (!d) { ll_sb_puts(b, "unreadable\n"); return; }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) names = ll_xrealloc(names, sizeof *names * (cap = cap ? 2 * cap : 32));
        names[n++] = ll_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char p[4200];
        struct stat st;
        long long sz = stat(ll_path_join(p, sizeof p, path, names[i]), &st) == 0 ? (long long)st.st_size : -1;
        ll_sb_printf(b, "%s %lld\n", names[i], sz);
        free(names[i]);
    }
    free(names);
}

/* The digest of one input (a file's content, a folder's listing). */
static int input_digest(const char *path, char hex[65]) {
    ll_sbuf b = {0};
    struct stat st;
    if (stat(path, &st) != 0) ll_sb_puts(&b, "missing\n");
    else if (S_ISREG(st.st_mode) && st.st_size <= HASH_CONTENT_MAX) {
        char h[65];
        if (ll_sha256_file_cached(path, h, NULL) != 0) { free(b.s); return -1; }
        ll_sb_printf(&b, "file %lld %s\n", (long long)st.st_size, h);
    } else if (S_ISDIR(st.st_mode)) {
        ll_sb_puts(&b, "folder\n");
        folder_listing(path, &b);
    } else {
        ll_sb_printf(&b, "other %lld\n", (long long)st.st_size);
    }
    ll_sha256_buf(b.s, b.n, hex);
    free(b.s);
    return 0;
}

static void argv_digest(int argc, char **argv, char hex[65]) {
    ll_sbuf b = {0};
    ll_sb_puts(&b, "argv\n");
    for (int i = 0; i < argc; i++) {
        ll_sb_puts(&b, argv[i]);
        ll_sb_add(&b, "", 1); /* NUL between words: "a b" differs from "a" "b" */
    }
    ll_sha256_buf(b.s, b.n, hex);
    free(b.s);
}

int ll_dist_inputs_digest(int argc, char **argv, const char *const *files, int n_files, char hex[65]) {
    ll_sbuf b = {0};
    char h[65];
    argv_digest(argc, argv, h);
    ll_sb_puts(&b, h);
    for (int i = 0; i < n_files; i++) {
        if (!files[i]) { ll_sb_puts(&b, " -"); continue; }
        if (input_digest(files[i], h) != 0) { free(b.s); return -1; }
        ll_sb_printf(&b, " %s", h);
    }
    ll_sha256_buf(b.s, b.n, hex);
    free(b.s);
    return 0;
}

/* 64 bits of a digest as four 16-bit pieces (exact in doubles). */
static void pieces(const char *hex, double *v) {
    for (int i = 0; i < 4; i++) {
        unsigned x = 0;
        sscanf(hex + 4 * i, "%4x", &x);
        v[i] = x;
    }
}

int ll_dist_check_job(ll_dist *d, int rc, int argc, char **argv, const char *const *files, int n_files) {
    if (ll_dist_size(d) <= 1) return rc;
    rc = ll_dist_agree(d, rc);
    if (rc) return rc;
    /* component 0: the command line; 1..n: each input (64 bits of each digest) */
    const int nc = 1 + n_files;
    char (*hex)[65] = ll_xcalloc((size_t)nc, sizeof *hex);
    double *mine = ll_xcalloc((size_t)nc * 4, sizeof(double)), *root = ll_xcalloc((size_t)nc * 4, sizeof(double));
    int fail = 0;
    argv_digest(argc, argv, hex[0]);
    for (int i = 0; i < n_files && !fail; i++) {
        if (!files[i]) snprintf(hex[1 + i], 65, "%064d", 0);
        else fail = input_digest(files[i], hex[1 + i]) != 0;
    }
    rc = ll_dist_agree(d, fail ? 2 : 0);
    if (rc == 0) {
        for (int c = 0; c < nc; c++) pieces(hex[c], mine + 4 * c);
        /* rank 0's digests on every rank: a sum where only rank 0 gives them */
        if (ll_dist_rank(d) == 0) memcpy(root, mine, sizeof(double) * (size_t)nc * 4);
        if (ll_dist_sum_double(d, root, (long)nc * 4) != 0) fail = 1;
        int differs = -1;
        for (int c = 0; c < nc && differs < 0 && !fail; c++)
            if (memcmp(mine + 4 * c, root + 4 * c, 4 * sizeof(double))) differs = c;
        if (fail) ll_set_error("MPI: the inputs' digests could not be compared");
        else if (differs == 0)
            ll_set_error("its command line differs from rank 0's: start every rank with the same options");
        else if (differs > 0)
            ll_set_error("%s (input %d) differs from rank 0's (content digest %.12s... here): give every rank the same files",
                         files[differs - 1], differs, hex[differs]);
        rc = ll_dist_agree(d, fail || differs >= 0 ? 2 : 0);
    }
    free(hex);
    free(mine);
    free(root);
    return rc;
}
