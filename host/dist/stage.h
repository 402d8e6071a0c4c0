/* Layer (pipeline) parallel: the hand-over of the residual stream between
 * the ranks that run consecutive blocks of layers (docs/distributed.md).
 *
 * A stage link is what ll_model's stage_recv / stage_send call (see
 * model.h): recv fills the stream entering the stage's first layer from the
 * previous stage; send hands the stream after the stage's last layer to the
 * next stage without waiting for it to be received (two host buffers in
 * flight), so the stages work on different micro-batches (the run's
 * batches) at the same time.  On a device backend the stream is staged
 * through host memory (download, MPI, upload).  Messages are tagged with the
 * batch number and their size is checked: stages whose batches differ stop
 * with an error instead of mixing them. */
#ifndef LL_DIST_STAGE_H
#define LL_DIST_STAGE_H
#include <stddef.h>
#include "dist/dist.h"
#include "ops/ops.h"

typedef struct ll_stage_link ll_stage_link;
/* prev, next: the neighbouring stages' ranks in d (-1: none); d is the
 * pipeline's group (its ranks are the stages). */
ll_stage_link *ll_stage_link_new(ll_dist *d, int prev, int next);
void ll_stage_link_free(ll_stage_link *l);
/* The ll_model stage_recv / stage_send callbacks (u = the link). */
int ll_stage_link_recv(void *u, const ll_ops *ops, void *ctx, float *x, size_t n);
int ll_stage_link_send(void *u, const ll_ops *ops, void *ctx, const float *x, size_t n);
/* GPU ranks: hand the stream over device to device with NCCL send/recv
 * (the link's ll_dist must have joined NCCL: ll_dist_use_device).  Each
 * send then waits for its receiver: one micro-batch in flight per boundary.
 * Returns 1 when NCCL is used, 0 when the link stays on MPI (no NCCL). */
int ll_stage_link_use_nccl(ll_stage_link *l);
/* Waits for the sends in flight.  0 / -1. */
int ll_stage_link_finish(ll_stage_link *l);
/* Seconds this stage spent blocked: waiting for the previous stage's stream
 * (*recv_s) and for the next stage to take a buffer (*send_s). */
void ll_stage_link_waits(const ll_stage_link *l, double *recv_s, double *send_s);
#endif
