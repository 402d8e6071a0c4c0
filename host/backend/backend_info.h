/* Backend discovery.  The binary always starts without a GPU or driver. */
#ifndef LL_BACKEND_INFO_H
#define LL_BACKEND_INFO_H
#define LL_VERSION "0.1.0"
/* 1 if the CUDA backend is compiled in. */
int ll_cuda_compiled(void);
/* 1 if a usable CUDA device is present; writes a short reason/description. */
int ll_cuda_available(char *why, int cap);
#endif
