/* The stage hand-over (see stage.h). */
#include "dist/stage.h"
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"

#define LL_STAGE_SLOTS 2
#define LL_STAGE_TAG0 100 /* tags 100 .. 100 + 30000: the batch number, modulo */

struct ll_stage_link {
    ll_dist *d;
    int prev, next;
    float *sbuf[LL_STAGE_SLOTS];
    size_t scap[LL_STAGE_SLOTS];
    ll_dist_req *sreq[LL_STAGE_SLOTS];
    int slot;
    float *rbuf;
    size_t rcap;
    long long nsent, nrecv;
    double recv_s, send_s;
    int nccl; /* device memory straight to the neighbour's device (ll_stage_link_use_nccl) */
};

int ll_stage_link_use_nccl(ll_stage_link *l) {
    l->nccl = ll_dist_has_nccl(l->d);
    return l->nccl;
}

static int tag_of(long long k) { return LL_STAGE_TAG0 + (int)(k % 30000); }

/* At least n floats in *b (grown, contents dropped). */
static float *grow(float **b, size_t *cap, size_t n) {
    if (*cap < n) {
        free(*b);
        *b = ll_xmalloc(sizeof(float) * (n ? n : 1));
        *cap = n;
    }
    return *b;
}

/* One hand-over done, counted; fault injection for the tests
 * (tests/test_stages.c): LAYERLAW_FAULT=kill:R kills rank R after its first
 * hand-over — a stage that dies in the middle of the pipelined forward. */
static void handed_over(ll_stage_link *l, long long *count) {
    (*count)++;
    if (l->nsent + l->nrecv == 1) ll_dist_fault_point(ll_dist_world_rank());
}

ll_stage_link *ll_stage_link_new(ll_dist *d, int prev, int next) {
    ll_stage_link *l = ll_xcalloc(1, sizeof *l);
    l->d = d;
    l->prev = prev;
    l->next = next;
    for (int i = 0; i < LL_STAGE_SLOTS; i++) l->sreq[i] = ll_dist_req_new();
    return l;
}

void ll_stage_link_free(ll_stage_link *l) {
    if (!l) return;
    for (int i = 0; i < LL_STAGE_SLOTS; i++) {
        ll_dist_req_free(l->sreq[i]); /* a send still in flight is the job's end: MPI_Abort / finalize */
        free(l->sbuf[i]);
    }
    free(l->rbuf);
    free(l);
}

int ll_stage_link_recv(void *u, const ll_ops *ops, void *ctx, float *x, size_t n) {
    ll_stage_link *l = u;
    if (l->prev < 0) { ll_set_error("stage hand-over: the first stage has no previous stage"); return -1; }
    const int gpu_to_gpu = l->nccl && !ops->host_memory;
    /* MPI lands in host memory: x itself, or a staging buffer uploaded after */
    float *dst = gpu_to_gpu || ops->host_memory ? x : grow(&l->rbuf, &l->rcap, n);
    double t0 = ll_now();
    if ((gpu_to_gpu ? ll_dist_nccl_recv_floats(l->d, l->prev, x, n)
                    : ll_dist_recv_floats(l->d, l->prev, tag_of(l->nrecv), dst, n)) != 0)
        return -1;
    l->recv_s += ll_now() - t0;
    handed_over(l, &l->nrecv);
    if (dst != x) ops->upload(ctx, x, dst, sizeof(float) * n);
    return 0;
}

int ll_stage_link_send(void *u, const ll_ops *ops, void *ctx, const float *x, size_t n) {
    ll_stage_link *l = u;
    if (l->next < 0) { ll_set_error("stage hand-over: the last stage has no next stage"); return -1; }
    if (l->nccl && !ops->host_memory) { /* GPU to GPU: x is rewritten by the next batch, so wait for it */
        if (ops->sync && ops->sync(ctx) != 0) return -1;
        double t0 = ll_now();
        if (ll_dist_nccl_send_floats(l->d, l->next, x, n) != 0) return -1;
        l->send_s += ll_now() - t0;
        handed_over(l, &l->nsent);
        return 0;
    }
    const int s = l->slot;
    /* the buffer's previous message must have left before it is reused */
    double t0 = ll_now();
    if (ll_dist_wait(l->sreq[s]) != 0) return -1;
    l->send_s += ll_now() - t0;
    float *buf = grow(&l->sbuf[s], &l->scap[s], n);
    /* x is the forward's workspace, rewritten by the next batch: copy it */
    if (ops->host_memory) memcpy(buf, x, sizeof(float) * n);
    else {
        ops->download(ctx, buf, x, sizeof(float) * n);
        if (ops->sync && ops->sync(ctx) != 0) return -1;
    }
    if (ll_dist_isend_floats(l->d, l->next, tag_of(l->nsent), buf, n, l->sreq[s]) != 0) return -1;
    handed_over(l, &l->nsent);
    l->slot = (s + 1) % LL_STAGE_SLOTS;
    return 0;
}

int ll_stage_link_finish(ll_stage_link *l) {
    if (!l) return 0;
    double t0 = ll_now();
    for (int i = 0; i < LL_STAGE_SLOTS; i++)
        if (ll_dist_wait(l->sreq[i]) != 0) return -1;
    l->send_s += ll_now() - t0;
    return 0;
}

void ll_stage_link_waits(const ll_stage_link *l, double *recv_s, double *send_s) {
    *recv_s = l ? l->recv_s : 0;
    *send_s = l ? l->send_s : 0;
}
