/* Right-padded batches from a window of sequences: at most batch_size
 * sequences and batch_tokens padded tokens per batch (a longer sequence goes
 * alone), longest first inside the window (less padding) or in input order.
 * The one batching loop of the run pipeline, the model tests and the GPU
 * benchmarks. */
#ifndef LL_BATCHER_H
#define LL_BATCHER_H
#include <stdint.h>

typedef struct {
    int B, T;
    int32_t *tokens;   /* [B, T], padding filled with pad_id */
    int *lens;         /* [B] */
    const int64_t *seq; /* [B] indices into the window */
} ll_batch;

typedef struct ll_batcher ll_batcher;
/* longest: the longest sequence that will be given (sizes the buffers). */
ll_batcher *ll_batcher_new(int batch_size, long long batch_tokens, int longest, int32_t pad_id);
void ll_batcher_free(ll_batcher *b);
/* A window of n sequences: sequence q is ids[off[q] .. off[q+1]) (not
 * copied: keep them alive until the window is done).  Empty sequences are
 * skipped. */
void ll_batcher_window(ll_batcher *b, const int32_t *ids, const int64_t *off, int64_t n, int keep_order);
/* The next batch of the window: 1, or 0 when the window is done.  The batch
 * is valid until the next call. */
int ll_batcher_next(ll_batcher *b, ll_batch *out);
#endif
