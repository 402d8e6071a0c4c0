/* Shared by the layer-parallel tests in one process (tests/test_stages.c on
 * the CPU, tests/gpu/test_gpu_stages.c on CUDA): a capture that records every
 * entry of one batch, the stage hand-over through a host buffer (what the MPI
 * hand-over does: download, then upload; plain copies on the CPU backend),
 * and the first sequences of a fixture as one right-padded batch.
 * Header-only (static functions). */
#ifndef LL_TEST_STAGE_FIXTURE_H
#define LL_TEST_STAGE_FIXTURE_H
#include <stdlib.h>
#include <string.h>
#include "capture/capture.h"
#include "core/ll_util.h"
#include "io/tokens.h"
#include "ops/ops.h"

/* Records every entry of one batch: h (host memory) copied to ent[e] ([B*T*C]). */
typedef struct {
    ll_capture base;
    float **ent; /* [E] */
    size_t n;    /* floats per entry */
    int first, last, calls;
} rec_cap;

static inline int rec_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B,
                               int T, int C) {
    (void)tokens; (void)lens;
    rec_cap *r = (rec_cap *)self;
    if (r->calls == 0) r->first = e;
    r->last = e;
    r->calls++;
    if ((size_t)B * T * C != r->n) { ll_set_error("rec: batch size"); return -1; }
    memcpy(r->ent[e], h, sizeof(float) * r->n);
    return 0;
}

/* The hand-over through host memory: what stage k sends, stage k+1 receives. */
typedef struct {
    float *buf; /* [n] host */
    size_t n;
    int sent, received;
} host_link;

static inline int host_link_send(void *u, const ll_ops *ops, void *ctx, const float *x, size_t n) {
    host_link *l = u;
    if (n != l->n) { ll_set_error("host_link_send: %zu floats, expected %zu", n, l->n); return -1; }
    ops->download(ctx, l->buf, x, sizeof(float) * n);
    if (ops->sync && ops->sync(ctx)) return -1;
    l->sent++;
    return 0;
}
static inline int host_link_recv(void *u, const ll_ops *ops, void *ctx, float *x, size_t n) {
    host_link *l = u;
    if (n != l->n || l->sent != l->received + 1) { ll_set_error("host_link_recv: nothing sent"); return -1; }
    ops->upload(ctx, x, l->buf, sizeof(float) * n);
    l->received++;
    return 0;
}

/* The first Bmax (<= 4) sequences of DIR/tokens.jsonl, right-padded with id 0. */
static inline int first_batch(const char *dir, int Bmax, int32_t **toks, int *lens, int *B, int *T) {
    char p[1200];
    ll_tokens tk;
    snprintf(p, sizeof p, "%s/tokens.jsonl", dir);
    if (ll_tokens_read(p, 0, &tk)) return -1;
    *B = (int)LL_MIN((int64_t)Bmax, tk.n_seq);
    *T = 1;
    for (int b = 0; b < *B; b++) {
        lens[b] = (int)(tk.off[b + 1] - tk.off[b]);
        *T = LL_MAX(*T, lens[b]);
    }
    *toks = ll_xcalloc((size_t)*B * *T, sizeof(int32_t));
    for (int b = 0; b < *B; b++) memcpy(*toks + (size_t)b * *T, tk.ids + tk.off[b], sizeof(int32_t) * lens[b]);
    ll_tokens_free(&tk);
    return 0;
}
#endif
