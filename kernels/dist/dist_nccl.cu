/* host/backend/dist_device.h, NCCL part: the communicator host/dist uses
 * for the reduce of statistics in device memory and the stage hand-over
 * device to device.  With LL_HAVE_NCCL (the Makefile's NCCL=1: CUDA + MPI +
 * NCCL) the calls are NCCL's; without it every call fails with one line. */
#include <cuda_runtime.h>
#include <stdlib.h>
#include <string.h>
#include "backend/dist_device.h"
extern "C" {
#include "core/ll_util.h"
}
#ifdef LL_HAVE_NCCL
#include <nccl.h>
static_assert(sizeof(ncclUniqueId) == LL_NCCL_ID_BYTES, "LL_NCCL_ID_BYTES is NCCL_UNIQUE_ID_BYTES");

struct ll_nccl {
    ncclComm_t comm;
    cudaStream_t stream;
    int device, rank;
};

#define LL_NCCL(call, rank)                                                                            \
    do {                                                                                               \
        ncclResult_t ll_r_ = (call);                                                                   \
        if (ll_r_ != ncclSuccess) {                                                                    \
            ll_set_error("NCCL: %s failed: %s (rank %d)", #call, ncclGetErrorString(ll_r_), (rank));  \
            return -1;                                                                                 \
        }                                                                                              \
    } while (0)
#define LL_CUDART(call, rank)                                                                          \
    do {                                                                                               \
        cudaError_t ll_e_ = (call);                                                                    \
        if (ll_e_ != cudaSuccess) {                                                                    \
            ll_set_error("CUDA: %s failed: %s (rank %d)", #call, cudaGetErrorString(ll_e_), (rank));   \
            return -1;                                                                                 \
        }                                                                                              \
    } while (0)

extern "C" int ll_nccl_compiled(void) { return 1; }
extern "C" int ll_nccl_version(void) {
    int v = 0;
    ncclGetVersion(&v);
    return v;
}

extern "C" int ll_nccl_unique_id(unsigned char id[LL_NCCL_ID_BYTES], int rank) {
    ncclUniqueId u;
    LL_NCCL(ncclGetUniqueId(&u), rank);
    memcpy(id, &u, sizeof u);
    return 0;
}

static int comm_init(ll_nccl *c, const unsigned char *id, int nranks) {
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    LL_CUDART(cudaSetDevice(c->device), c->rank);
    LL_CUDART(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), c->rank);
    LL_NCCL(ncclCommInitRank(&c->comm, nranks, u, c->rank), c->rank);
    return 0;
}

extern "C" ll_nccl *ll_nccl_new(const unsigned char id[LL_NCCL_ID_BYTES], int nranks, int rank, int device) {
    ll_nccl *c = (ll_nccl *)ll_xcalloc(1, sizeof *c);
    c->device = device;
    c->rank = rank;
    if (comm_init(c, id, nranks) != 0) {
        if (c->stream) cudaStreamDestroy(c->stream);
        free(c);
        return NULL;
    }
    return c;
}

extern "C" void ll_nccl_free(ll_nccl *c) {
    if (!c) return;
    ncclCommDestroy(c->comm);
    cudaStreamDestroy(c->stream);
    free(c);
}

/* staged through device memory in chunks (the statistics live on the host
 * once downloaded) */
extern "C" int ll_nccl_sum_host(ll_nccl *c, double *buf, size_t n, int root) {
    size_t chunk = LL_MIN(n, (size_t)1 << 24); /* 128 MiB of doubles */
    double *dev = NULL;
    LL_CUDART(cudaSetDevice(c->device), c->rank);
    LL_CUDART(cudaMalloc((void **)&dev, chunk * sizeof(double)), c->rank);
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += chunk) {
        size_t m = LL_MIN(chunk, n - off);
        if (cudaMemcpyAsync(dev, buf + off, m * sizeof(double), cudaMemcpyHostToDevice, c->stream) != cudaSuccess ||
            ncclReduce(dev, dev, m, ncclDouble, ncclSum, root, c->comm, c->stream) != ncclSuccess ||
            cudaMemcpyAsync(buf + off, dev, m * sizeof(double), cudaMemcpyDeviceToHost, c->stream) != cudaSuccess ||
            cudaStreamSynchronize(c->stream) != cudaSuccess) {
            ll_set_error("NCCL: the statistics reduce failed at offset %zu of %zu (rank %d)", off, n, c->rank);
            rc = -1;
        }
    }
    cudaFree(dev);
    return rc;
}

extern "C" int ll_nccl_reduce(ll_nccl *c, double *buf, size_t n, int root, void *stream) {
    ncclResult_t nr = ncclReduce(buf, buf, n, ncclDouble, ncclSum, root, c->comm, (cudaStream_t)stream);
    if (nr != ncclSuccess) {
        ll_set_error("NCCL: ncclReduce of %zu doubles onto rank %d failed: %s (rank %d)", n, root,
                     ncclGetErrorString(nr), c->rank);
        return -1;
    }
    return 0;
}

extern "C" int ll_nccl_wait(ll_nccl *c, void *stream) {
    cudaError_t ce = cudaStreamSynchronize((cudaStream_t)stream);
    if (ce != cudaSuccess) {
        ll_set_error("CUDA: the device reduce of the statistics failed: %s (rank %d)", cudaGetErrorString(ce), c->rank);
        return -1;
    }
    return 0;
}

extern "C" int ll_nccl_send_floats(ll_nccl *c, int peer, const float *buf, size_t n) {
    LL_NCCL(ncclSend(buf, n, ncclFloat32, peer, c->comm, c->stream), c->rank);
    LL_CUDART(cudaStreamSynchronize(c->stream), c->rank);
    return 0;
}

extern "C" int ll_nccl_recv_floats(ll_nccl *c, int peer, float *buf, size_t n) {
    LL_NCCL(ncclRecv(buf, n, ncclFloat32, peer, c->comm, c->stream), c->rank);
    LL_CUDART(cudaStreamSynchronize(c->stream), c->rank);
    return 0;
}

#else /* CUDA without NCCL */

static int no_nccl(int rank) {
    ll_set_error("NCCL: this layerlaw was built without NCCL (rank %d)", rank);
    return -1;
}
extern "C" int ll_nccl_compiled(void) { return 0; }
extern "C" int ll_nccl_version(void) { return 0; }
extern "C" int ll_nccl_unique_id(unsigned char id[LL_NCCL_ID_BYTES], int rank) { (void)id; return no_nccl(rank); }
extern "C" ll_nccl *ll_nccl_new(const unsigned char id[LL_NCCL_ID_BYTES], int nranks, int rank, int device) {
    (void)id; (void)nranks; (void)device;
    no_nccl(rank);
    return NULL;
}
extern "C" void ll_nccl_free(ll_nccl *c) { (void)c; }
extern "C" int ll_nccl_sum_host(ll_nccl *c, double *buf, size_t n, int root) { return no_nccl(0); }
extern "C" int ll_nccl_reduce(ll_nccl *c, double *buf, size_t n, int root, void *stream) { return no_nccl(0); }
extern "C" int ll_nccl_wait(ll_nccl *c, void *stream) { return no_nccl(0); }
extern "C" int ll_nccl_send_floats(ll_nccl *c, int peer, const float *buf, size_t n) { return no_nccl(0); }
extern "C" int ll_nccl_recv_floats(ll_nccl *c, int peer, float *buf, size_t n) { return no_nccl(0); }
#endif
