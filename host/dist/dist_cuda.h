/* The few CUDA runtime facts host/dist needs (kernels/dist/dist_cuda.cu;
 * CUDA builds only: include freely, call under #ifdef LL_HAVE_CUDA). */
#ifndef LL_DIST_CUDA_H
#define LL_DIST_CUDA_H
#ifdef LL_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif
/* Visible CUDA devices (0 when there is no driver or device). */
int ll_cuda_device_count(void);
/* PCI id of a device ("0000:18:00.0", lower case).  0, or -1 + error. */
int ll_cuda_pci_busid(int device, char *buf, int cap);
/* The GPU generations this binary carries SASS for ("80 86 89 90 100 120")
 * and the PTX it carries ("120"), as compiled. */
const char *ll_cuda_sass_archs(void);
const char *ll_cuda_ptx_arch(void);
/* Which image of the kernels a device runs (cudaFuncGetAttributes on a
 * kernel compiled like all the others): its compute capability (e.g. 90),
 * binaryVersion and ptxVersion; *jit = 1 when no SASS matches the device so
 * the driver compiled the PTX.  0, or -1 + error (no device, no image). */
int ll_cuda_kernel_image(int device, int *cc, int *binary_version, int *ptx_version, int *jit);
#ifdef __cplusplus
}
#endif
#endif
#endif
