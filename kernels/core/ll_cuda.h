/* Internal header of the CUDA backend (kernels/*.cu only; C callers use
 * host/backend/cuda_backend.h).
 *
 * Error handling: every CUDA / cuBLAS / cuSOLVER call goes through one of the
 * LL_CU* macros below.  On failure they record one line with the failing
 * statement, function, file and line through ll_set_error() and make the
 * enclosing function return -1 (the library convention, host/core/ll_util.h).
 * Every kernel launch goes through LL_LAUNCH, which checks cudaGetLastError()
 * and names the kernel. */
#ifndef LL_CUDA_INTERNAL_H
#define LL_CUDA_INTERNAL_H
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <cusolverDn.h>
#include <stdint.h>

#ifndef LL_HAVE_CUDA
#define LL_HAVE_CUDA 1 /* nvcc is not given the C flags */
#endif
extern "C" {
#include "core/ll_util.h"
}
#include "backend/cuda_backend.h"

const char *ll_cublas_status_str(cublasStatus_t s);
const char *ll_cusolver_status_str(cusolverStatus_t s);

#define LL_CU_FAIL_(what, file, line, func, msg)                                         \
    ll_set_error("CUDA: %s failed: %s (%s, %s:%d)", what, msg, func, file, line)

#define LL_CU(call)                                                                      \
    do {                                                                                 \
        cudaError_t ll_e_ = (call);                                                      \
        if (ll_e_ != cudaSuccess) {                                                      \
            LL_CU_FAIL_(#call, __FILE__, __LINE__, __func__, cudaGetErrorString(ll_e_)); \
            return -1;                                                                   \
        }                                                                                \
    } while (0)
#define LL_CUBLAS(call)                                                                      \
    do {                                                                                     \
        cublasStatus_t ll_s_ = (call);                                                       \
        if (ll_s_ != CUBLAS_STATUS_SUCCESS) {                                                \
            LL_CU_FAIL_(#call, __FILE__, __LINE__, __func__, ll_cublas_status_str(ll_s_));   \
            return -1;                                                                       \
        }                                                                                    \
    } while (0)
#define LL_CUSOLVER(call)                                                                    \
    do {                                                                                     \
        cusolverStatus_t ll_s_ = (call);                                                     \
        if (ll_s_ != CUSOLVER_STATUS_SUCCESS) {                                              \
            LL_CU_FAIL_(#call, __FILE__, __LINE__, __func__, ll_cusolver_status_str(ll_s_)); \
            return -1;                                                                       \
        }                                                                                    \
    } while (0)
/* Kernel launch + launch-error check. */
#define LL_LAUNCH(kernel, grid, block, smem, stream, ...)                                    \
    do {                                                                                     \
        kernel<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__);                          \
        cudaError_t ll_e_ = cudaGetLastError();                                              \
        if (ll_e_ != cudaSuccess) {                                                          \
            LL_CU_FAIL_("launch " #kernel, __FILE__, __LINE__, __func__,                     \
                        cudaGetErrorString(ll_e_));                                          \
            return -1;                                                                       \
        }                                                                                    \
    } while (0)
/* Propagate a -1 from an internal helper. */
#define LL_TRY(x) do { if ((x) != 0) return -1; } while (0)

/* The process-wide device context (kernels/core/cuda_context.cu). */
typedef struct {
    int device, ready;
    cudaStream_t stream;
    cublasHandle_t blas;
    cusolverDnHandle_t solver;
    struct cudaDeviceProp prop;
} ll_cuda_ctx;
/* Initialises on first use (device from ll_cuda_init, default 0). NULL + error on failure. */
ll_cuda_ctx *ll_cuda_ctx_get(void);

static inline unsigned ll_cdiv(long a, long b) { return (unsigned)((a + b - 1) / b); }
#endif
