/* Backend discovery.  The binary always starts without a GPU or driver. */
#ifndef LL_BACKEND_INFO_H
#define LL_BACKEND_INFO_H
#define LL_VERSION "0.1.0"
/* 1 if the CUDA backend is compiled in. */
int ll_cuda_compiled(void);
/* 1 if a usable CUDA device is present; writes a short reason/description. */
int ll_cuda_available(char *why, int cap);
/* What provenance records of the GPU: device `device`'s name, compute
 * capability and memory, the device count, and the driver's and runtime's
 * CUDA versions (e.g. 13000 = 13.0).  0, or -1 without a usable device
 * (why: the reason, as ll_cuda_available). */
typedef struct {
    int n_devices;
    char name[256];
    int sm_major, sm_minor;
    double mem_gib;
    int driver_version, runtime_version;
} ll_gpu_info;
int ll_gpu_info_get(int device, ll_gpu_info *g, char *why, int cap);
/* `layerlaw info`'s lines on the kernels: the SASS / PTX this binary carries
 * and which image each device runs (empty in a CPU build).  Into buf. */
#include <stddef.h>
void ll_cuda_kernel_lines(char *buf, size_t cap);
#endif
