#include "backend/backend_info.h"
#include <stdio.h>
#include <stdlib.h>
#ifdef LL_HAVE_CUDA
#include <cuda_runtime_api.h>
int ll_cuda_compiled(void) { return 1; }
int ll_cuda_available(char *why, int cap) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        const char *r = e == cudaErrorInsufficientDriver ? "no usable NVIDIA driver"
                        : e == cudaErrorNoDevice || e == cudaSuccess ? "no CUDA device found"
                        : cudaGetErrorString(e);
        snprintf(why, (size_t)cap, "%s", r);
        return 0;
    }
    struct cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) { snprintf(why, (size_t)cap, "CUDA device 0 unreadable"); return 0; }
    snprintf(why, (size_t)cap, "%d device(s), 0: %s, sm_%d%d", n, p.name, p.major, p.minor);
    return 1;
}
int ll_gpu_info_get(int device, ll_gpu_info *g, char *why, int cap) {
    if (!ll_cuda_available(why, cap)) return -1;
    struct cudaDeviceProp p;
    if (cudaGetDeviceCount(&g->n_devices) != cudaSuccess || cudaGetDeviceProperties(&p, device) != cudaSuccess) {
        snprintf(why, (size_t)cap, "CUDA device %d unreadable", device);
        return -1;
    }
    snprintf(g->name, sizeof g->name, "%s", p.name);
    g->sm_major = p.major;
    g->sm_minor = p.minor;
    g->mem_gib = (double)p.totalGlobalMem / (1 << 30);
    g->driver_version = g->runtime_version = 0;
    cudaDriverGetVersion(&g->driver_version);
    cudaRuntimeGetVersion(&g->runtime_version);
    return 0;
}
#else
int ll_gpu_info_get(int device, ll_gpu_info *g, char *why, int cap) {
    (void)device;
    (void)g;
    snprintf(why, (size_t)cap, "built without CUDA");
    return -1;
}
int ll_cuda_compiled(void) { return 0; }
int ll_cuda_available(char *why, int cap) {
    snprintf(why, (size_t)cap, "built without CUDA");
    return 0;
}
#endif

/* the kernel-image lines of `layerlaw info` */
#ifdef LL_HAVE_CUDA
#include "backend/dist_device.h"
#include "core/ll_util.h"
void ll_cuda_kernel_lines(char *buf, size_t cap) {
    ll_sbuf b = {0};
    ll_sb_printf(&b, "cuda kernels: SASS for sm_%s + PTX compute_%s (driver JIT for newer GPUs)\n", ll_cuda_sass_archs(),
                 ll_cuda_ptx_arch());
    int n = ll_cuda_device_count();
    for (int i = 0; i < n; i++) {
        int cc, bin, ptx, jit;
        char bus[64] = "?";
        ll_cuda_pci_busid(i, bus, sizeof bus);
        if (ll_cuda_kernel_image(i, &cc, &bin, &ptx, &jit) == 0)
            ll_sb_printf(&b, "device %d (%s, sm_%d): runs %s (binaryVersion %d, ptxVersion %d)\n", i, bus, cc,
                         jit ? "PTX JIT-compiled by the driver" : "precompiled SASS", bin, ptx);
        else
            ll_sb_printf(&b, "device %d (%s): no kernel image: %s\n", i, bus, ll_last_error());
    }
    snprintf(buf, cap, "%s", b.s ? b.s : "");
    free(b.s);
}
#else
void ll_cuda_kernel_lines(char *buf, size_t cap) {
    if (cap) buf[0] = 0;
}
#endif
