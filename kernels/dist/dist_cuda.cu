/* host/backend/dist_device.h, CUDA facts: device count, PCI ids, and which kernel image a
 * device gets from the fat binary. */
#include <cuda_runtime.h>
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "core/ll_cuda.h"
#include "backend/dist_device.h"

#ifndef LL_CUDA_ARCHS
#define LL_CUDA_ARCHS "unknown"
#endif
#ifndef LL_CUDA_PTX
#define LL_CUDA_PTX "unknown"
#endif

extern "C" const char *ll_cuda_sass_archs(void) { return LL_CUDA_ARCHS; }
extern "C" const char *ll_cuda_ptx_arch(void) { return LL_CUDA_PTX; }

extern "C" int ll_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky "no driver" error */
        return 0;
    }
    return n;
}

extern "C" int ll_cuda_pci_busid(int device, char *buf, int cap) {
    LL_CU(cudaDeviceGetPCIBusId(buf, cap, device));
    for (char *p = buf; *p; p++) *p = (char)tolower((unsigned char)*p);
    /* CUDA writes an 8-digit domain ("00000000:18:00.0"); hwloc and lspci use 4 */
    unsigned dom, bus, dev, fn;
    if (sscanf(buf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) == 4) snprintf(buf, cap, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
    return 0;
}

/* A kernel compiled with the same -gencode list as every other .cu file. */
__global__ void ll_k_image_probe(int *x) {
    if (x) *x = 1;
}

extern "C" int ll_cuda_kernel_image(int device, int *cc, int *binary_version, int *ptx_version, int *jit) {
    cudaDeviceProp p;
    LL_CU(cudaGetDeviceProperties(&p, device));
    LL_CU(cudaSetDevice(device));
    cudaFuncAttributes a;
    LL_CU(cudaFuncGetAttributes(&a, ll_k_image_probe));
    *cc = p.major * 10 + p.minor;
    *binary_version = a.binaryVersion;
    *ptx_version = a.ptxVersion;
    /* SASS for sm_XY runs on cc X.y' >= X.Y of the same major; otherwise
     * (or when the SASS list has no such entry) the PTX was JIT-compiled */
    int sass = 0;
    char list[256];
    snprintf(list, sizeof list, "%s", LL_CUDA_ARCHS);
    for (char *s = strtok(list, " "); s; s = strtok(NULL, " ")) {
        int v = atoi(s);
        if (v / 10 == *cc / 10 && v <= *cc && v == a.binaryVersion) sass = 1;
    }
    *jit = !sass;
    return 0;
}
