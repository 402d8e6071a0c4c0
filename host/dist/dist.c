/* The single-process side of host/dist/dist.h: rank 0 of 1.  A build with
 * MPI replaces these bodies (see docs/distributed.md). */
#include "dist/dist.h"
#include <stdlib.h>
#include "core/ll_util.h"

struct ll_dist {
    int rank, size, local_rank;
};

ll_dist *ll_dist_init(int *argc, char ***argv) {
    (void)argc; (void)argv;
    ll_dist *d = ll_xcalloc(1, sizeof *d);
    d->size = 1;
    return d;
}
void ll_dist_finalize(ll_dist *d) { free(d); }
int ll_dist_rank(const ll_dist *d) { return d ? d->rank : 0; }
int ll_dist_size(const ll_dist *d) { return d ? d->size : 1; }
int ll_dist_local_rank(const ll_dist *d) { return d ? d->local_rank : 0; }

void ll_dist_assign(const ll_dist *d, const int64_t *len, long n, int *owner) {
    const int size = ll_dist_size(d);
    double total = 0;
    for (long i = 0; i < n; i++) total += (double)len[i];
    /* contiguous blocks: sequence i goes to the rank whose share of the
     * tokens its first token falls in */
    double before = 0;
    for (long i = 0; i < n; i++) {
        int r = total > 0 ? (int)(before * size / total) : 0;
        owner[i] = r < size ? r : size - 1;
        before += (double)len[i];
    }
}

int ll_dist_reduce_stats(ll_dist *d, ll_stats *st) {
    (void)d; (void)st;
    return 0;
}

int ll_dist_any_failed(ll_dist *d, int failed) {
    (void)d;
    return failed ? 0 : -1;
}
