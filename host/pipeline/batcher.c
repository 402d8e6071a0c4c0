#include "pipeline/batcher.h"
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"

struct ll_batcher {
    int batch_size;
    long long batch_tokens;
    int32_t pad;
    int32_t *tokens;
    int *lens;
    int64_t *seq;
    size_t cap_tok; /* capacity of tokens (ids) */
    /* window */
    const int32_t *ids;
    const int64_t *off;
    int64_t *order;
    int64_t n, cap_n, i0;
};

ll_batcher *ll_batcher_new(int batch_size, long long batch_tokens, int longest, int32_t pad_id) {
    ll_batcher *b = ll_xcalloc(1, sizeof *b);
    b->batch_size = batch_size > 0 ? batch_size : 1;
    b->batch_tokens = batch_tokens > 0 ? batch_tokens : 1;
    b->pad = pad_id;
    /* a batch holds at most max(batch_tokens, longest) padded tokens (one
     * sequence longer than batch_tokens goes alone) */
    b->cap_tok = (size_t)LL_MIN(LL_MAX(b->batch_tokens, (long long)(longest > 0 ? longest : 1)),
                                (long long)b->batch_size * (longest > 0 ? longest : 1));
    b->tokens = ll_xmalloc(sizeof(int32_t) * b->cap_tok);
    b->lens = ll_xmalloc(sizeof(int) * (size_t)b->batch_size);
    b->seq = ll_xmalloc(sizeof(int64_t) * (size_t)b->batch_size);
    return b;
}

void ll_batcher_free(ll_batcher *b) {
    if (!b) return;
    free(b->tokens);
    free(b->lens);
    free(b->seq);
    free(b->order);
    free(b);
}

static const int64_t *sort_off;
static int by_length_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    int64_t lx = sort_off[x + 1] - sort_off[x], ly = sort_off[y + 1] - sort_off[y];
    if (lx != ly) return lx > ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

void ll_batcher_window(ll_batcher *b, const int32_t *ids, const int64_t *off, int64_t n, int keep_order) {
    if (n > b->cap_n) {
        b->cap_n = LL_MAX(n, 2 * b->cap_n);
        b->order = ll_xrealloc(b->order, sizeof(int64_t) * (size_t)b->cap_n);
    }
    int64_t k = 0;
    for (int64_t q = 0; q < n; q++)
        if (off[q + 1] > off[q]) b->order[k++] = q;
    if (!keep_order && k > 1) { /* k == 0 (a rank without documents): order may be NULL */
        sort_off = off;
        qsort(b->order, (size_t)k, sizeof(int64_t), by_length_desc);
    }
    b->ids = ids;
    b->off = off;
    b->n = k;
    b->i0 = 0;
}

int ll_batcher_next(ll_batcher *b, ll_batch *out) {
    if (b->i0 >= b->n) return 0;
    int B = 0, T = 1;
    while (b->i0 + B < b->n && B < b->batch_size) {
        const int64_t q = b->order[b->i0 + B];
        const int len = (int)(b->off[q + 1] - b->off[q]), nT = LL_MAX(T, len);
        if (B > 0 && (long long)nT * (B + 1) > b->batch_tokens) break;
        b->lens[B] = len;
        b->seq[B] = q;
        B++;
        T = nT;
    }
    if ((size_t)B * T > b->cap_tok) { /* a longer sequence than declared */
        b->cap_tok = (size_t)B * T;
        b->tokens = ll_xrealloc(b->tokens, sizeof(int32_t) * b->cap_tok);
    }
    for (int i = 0; i < B; i++) {
        const int64_t q = b->seq[i];
        if (b->lens[i] > 0) memcpy(b->tokens + (size_t)i * T, b->ids + b->off[q], sizeof(int32_t) * (size_t)b->lens[i]);
        for (int t = b->lens[i]; t < T; t++) b->tokens[(size_t)i * T + t] = b->pad;
    }
    b->i0 += B;
    out->B = B;
    out->T = T;
    out->tokens = b->tokens;
    out->lens = b->lens;
    out->seq = b->seq;
    return 1;
}
