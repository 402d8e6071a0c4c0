/* The device side of host/dist (ranks on GPUs), reached through the backend
 * so that host/dist holds no CUDA or NCCL call: the CUDA runtime facts it
 * needs (device count, PCI ids, which kernel image a device runs) and the
 * NCCL communicator (the reduce of statistics in device memory, the stage
 * hand-over device to device).  Every function exists in every build: CUDA
 * builds implement them in kernels/dist/ (dist_cuda.cu, dist_nccl.cu; the
 * NCCL ones say "not built with NCCL" without LL_HAVE_NCCL), CPU builds in
 * host/backend/dist_device_cpu.c (nothing there: 0 devices, -1 + error).
 * Errors: -1 (NULL) + ll_set_error, one line naming the call and the rank. */
#ifndef LL_DIST_DEVICE_H
#define LL_DIST_DEVICE_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

/* ---- CUDA runtime facts (kernels/dist/dist_cuda.cu) ---- */
/* Visible CUDA devices (0 when there is no driver or device, or no CUDA build). */
int ll_cuda_device_count(void);
/* PCI id of a device ("0000:18:00.0", lower case).  0, or -1 + error. */
int ll_cuda_pci_busid(int device, char *buf, int cap);
/* The GPU generations this binary carries SASS for ("80 86 89 90 100 120")
 * and the PTX it carries ("120"), as compiled ("" without CUDA). */
const char *ll_cuda_sass_archs(void);
const char *ll_cuda_ptx_arch(void);
/* Which image of the kernels a device runs (cudaFuncGetAttributes on a
 * kernel compiled like all the others): its compute capability (e.g. 90),
 * binaryVersion and ptxVersion; *jit = 1 when no SASS matches the device so
 * the driver compiled the PTX.  0, or -1 + error (no device, no image). */
int ll_cuda_kernel_image(int device, int *cc, int *binary_version, int *ptx_version, int *jit);

/* ---- NCCL (kernels/dist/dist_nccl.cu) ---- */
/* 1 when this binary has NCCL (a CUDA + NCCL + MPI build). */
int ll_nccl_compiled(void);
/* ncclGetVersion (e.g. 22703 = 2.27.3); 0 without NCCL. */
int ll_nccl_version(void);
/* The bytes of an ncclUniqueId (NCCL_UNIQUE_ID_BYTES), which rank 0 makes
 * and broadcasts (host/dist does the broadcast over MPI). */
#define LL_NCCL_ID_BYTES 128
int ll_nccl_unique_id(unsigned char id[LL_NCCL_ID_BYTES], int rank);
/* One communicator of nranks on `device` (made current) with its own
 * non-blocking stream; collective over the ranks.  NULL + error. */
typedef struct ll_nccl ll_nccl;
ll_nccl *ll_nccl_new(const unsigned char id[LL_NCCL_ID_BYTES], int nranks, int rank, int device);
void ll_nccl_free(ll_nccl *c);
/* HOST buf[n] on rank root := the sum over ranks (ncclReduce staged through
 * device memory in chunks, waited for).  0 / -1. */
int ll_nccl_sum_host(ll_nccl *c, double *buf, size_t n, int root);
/* DEVICE buf[n] on rank root := the sum over ranks, in place, enqueued on
 * `stream` (a cudaStream_t: the statistics' own), not waited for. */
int ll_nccl_reduce(ll_nccl *c, double *buf, size_t n, int root, void *stream);
/* Waits for `stream` (the enqueued reduces).  0 / -1. */
int ll_nccl_wait(ll_nccl *c, void *stream);
/* DEVICE floats to / from rank peer on the communicator's stream, waited for. */
int ll_nccl_send_floats(ll_nccl *c, int peer, const float *buf, size_t n);
int ll_nccl_recv_floats(ll_nccl *c, int peer, float *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
