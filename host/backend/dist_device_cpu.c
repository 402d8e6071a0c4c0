/* backend/dist_device.h in a build without CUDA: no device, no NCCL.  (CUDA
 * builds: kernels/dist/dist_cuda.cu and dist_nccl.cu.) */
#include "backend/dist_device.h"
#ifndef LL_HAVE_CUDA
#include "core/ll_util.h"

int ll_cuda_device_count(void) { return 0; }
int ll_cuda_pci_busid(int device, char *buf, int cap) {
    (void)buf; (void)cap;
    ll_set_error("device %d: built without CUDA", device);
    return -1;
}
const char *ll_cuda_sass_archs(void) { return ""; }
const char *ll_cuda_ptx_arch(void) { return ""; }
int ll_cuda_kernel_image(int device, int *cc, int *binary_version, int *ptx_version, int *jit) {
    (void)cc; (void)binary_version; (void)ptx_version; (void)jit;
    ll_set_error("device %d: built without CUDA", device);
    return -1;
}

int ll_nccl_compiled(void) { return 0; }
int ll_nccl_version(void) { return 0; }
static int no_nccl(int rank) {
    ll_set_error("NCCL: this layerlaw was built without CUDA and NCCL (rank %d)", rank);
    return -1;
}
int ll_nccl_unique_id(unsigned char id[LL_NCCL_ID_BYTES], int rank) { (void)id; return no_nccl(rank); }
ll_nccl *ll_nccl_new(const unsigned char id[LL_NCCL_ID_BYTES], int nranks, int rank, int device) {
    (void)id; (void)nranks; (void)device;
    no_nccl(rank);
    return NULL;
}
void ll_nccl_free(ll_nccl *c) { (void)c; }
int ll_nccl_sum_host(ll_nccl *c, double *buf, size_t n, int root) { (void)c; (void)buf; (void)n; (void)root; return no_nccl(0); }
int ll_nccl_reduce(ll_nccl *c, double *buf, size_t n, int root, void *stream) {
    (void)c; (void)buf; (void)n; (void)root; (void)stream;
    return no_nccl(0);
}
int ll_nccl_wait(ll_nccl *c, void *stream) { (void)c; (void)stream; return no_nccl(0); }
int ll_nccl_send_floats(ll_nccl *c, int peer, const float *buf, size_t n) { (void)c; (void)peer; (void)buf; (void)n; return no_nccl(0); }
int ll_nccl_recv_floats(ll_nccl *c, int peer, float *buf, size_t n) { (void)c; (void)peer; (void)buf; (void)n; return no_nccl(0); }
#endif
