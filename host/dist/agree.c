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

int ll_dist_inputs_digest(int argc, char **argv, const char *const *files, int n_files, char hex[65]) {
    ll_sbuf b = {0};
    for (int i = 0; i < argc; i++) {
        ll_sb_puts(&b, argv[i]);
        ll_sb_add(&b, "", 1); /* NUL between words: "a b" differs from "a" "b" */
    }
    for (int i = 0; i < n_files; i++) {
        if (!files[i]) continue;
        struct stat st;
        ll_sb_printf(&b, "\ninput %d: ", i);
        if (stat(files[i], &st) != 0) ll_sb_puts(&b, "missing\n");
        else if (S_ISREG(st.st_mode) && st.st_size <= HASH_CONTENT_MAX) {
            char h[65];
            if (ll_sha256_file_cached(files[i], h, NULL) != 0) { free(b.s); return -1; }
            ll_sb_printf(&b, "file %lld %s\n", (long long)st.st_size, h);
        } else if (S_ISDIR(st.st_mode)) {
            ll_sb_puts(&b, "folder\n");
            folder_listing(files[i], &b);
        } else {
            ll_sb_printf(&b, "other %lld\n", (long long)st.st_size);
        }
    }
    ll_sha256_buf(b.s ? b.s : "", b.n, hex);
    free(b.s);
    return 0;
}

int ll_dist_check_job(ll_dist *d, int rc, int argc, char **argv, const char *const *files, int n_files) {
    if (ll_dist_size(d) <= 1) return rc;
    rc = ll_dist_agree(d, rc);
    if (rc) return rc;
    char hex[65];
    int fail = ll_dist_inputs_digest(argc, argv, files, n_files, hex) != 0;
    rc = ll_dist_agree(d, fail ? 2 : 0);
    if (rc) return rc;
    /* equal on every rank <=> max == -max(-v) for each 16-bit piece (exact in doubles) */
    double v[32];
    for (int i = 0; i < 16; i++) {
        unsigned x = 0;
        sscanf(hex + 4 * i, "%4x", &x);
        v[i] = x;
        v[16 + i] = -(double)x;
    }
    double mine[16];
    memcpy(mine, v, sizeof mine);
    if (ll_dist_max_double(d, v, 32) != 0) return ll_dist_agree(d, 1);
    int differs = 0;
    for (int i = 0; i < 16; i++) differs |= v[i] != -v[16 + i];
    if (!differs) return 0;
    int mine_differs = 0;
    for (int i = 0; i < 16; i++) mine_differs |= mine[i] != v[i];
    ll_set_error("the ranks were given different inputs (command line or input files): this rank's digest %.16s... "
                 "differs from the largest; start every rank with the same options and files", hex);
    /* every rank has the same verdict: the lowest rank whose digest is not the largest is named */
    ll_dist_agree(d, mine_differs ? 2 : 0);
    return 2;
}
