/* The stage hand-over (see stage.h). */
#include "dist/stage.h"
#include <signal.h>
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

/* Fault injection for the tests (tests/test_stages.c): LAYERLAW_FAULT=kill:R
 * makes rank R kill itself (SIGKILL) after its first hand-over — a stage
 * that dies in the middle of the pipelined forward. */
static void maybe_fault(const ll_stage_link *l) {
    const char *f = getenv("LAYERLAW_FAULT");
    if (f && !strncmp(f, "kill:", 5) && l->nsent + l->nrecv == 1 && atoi(f + 5) == ll_dist_world_rank())
        raise(SIGKILL);
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
    double t0 = ll_now();
    if (l->nccl && !ops->host_memory) { /* GPU to GPU */
        if (ll_dist_nccl_recv_floats(l->d, l->prev, x, n) != 0) return -1;
        l->recv_s += ll_now() - t0;
        l->nrecv++;
        maybe_fault(l);
        return 0;
    }
    float *dst = x;
    if (!ops->host_memory) {
        if (l->rcap < n) {
            free(l->rbuf);
            l->rbuf = ll_xmalloc(sizeof(float) * (n ? n : 1));
            l->rcap = n;
        }
        dst = l->rbuf;
    }
    if (ll_dist_recv_floats(l->d, l->prev, tag_of(l->nrecv), dst, n) != 0) return -1;
    l->recv_s += ll_now() - t0;
    l->nrecv++;
    maybe_fault(l);
    if (!ops->host_memory) ops->upload(ctx, x, dst, sizeof(float) * n);
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
        l->nsent++;
        maybe_fault(l);
        return 0;
    }
    const int s = l->slot;
    /* the buffer's previous message must have left before it is reused */
    double t0 = ll_now();
    if (ll_dist_wait(l->sreq[s]) != 0) return -1;
    l->send_s += ll_now() - t0;
    if (l->scap[s] < n) {
        free(l->sbuf[s]);
        l->sbuf[s] = ll_xmalloc(sizeof(float) * (n ? n : 1));
        l->scap[s] = n;
    }
    /* x is the forward's workspace, rewritten by the next batch: copy it */
    if (ops->host_memory) memcpy(l->sbuf[s], x, sizeof(float) * n);
    else {
        ops->download(ctx, l->sbuf[s], x, sizeof(float) * n);
        if (ops->sync && ops->sync(ctx) != 0) return -1;
    }
    if (ll_dist_isend_floats(l->d, l->next, tag_of(l->nsent), l->sbuf[s], n, l->sreq[s]) != 0) return -1;
    l->nsent++;
    maybe_fault(l);
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

void ll_stage_link_stats(const ll_stage_link *l, double *recv_s, double *send_s, long long *received,
                         long long *sent) {
    *recv_s = l ? l->recv_s : 0;
    *send_s = l ? l->send_s : 0;
    *received = l ? l->nrecv : 0;
    *sent = l ? l->nsent : 0;
}
