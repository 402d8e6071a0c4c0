/* CUDA ops, norms: layernorm, rmsnorm (float64 accumulation as on the CPU). */
#include "ops/ops_internal.cuh"

/* ------------------------------------------------------------------- norms */
/* ll_warp_sum, ll_block_sum: kernels/core/reduce.cuh */
/* One block per row, as cpu_layernorm: float64 mean and variance, float
 * normalisation. */
__global__ void k_layernorm(float *out, const float *in, const float *w, const float *b, int C, float eps) {
    __shared__ double sh[33];
    const float *x = in + (size_t)blockIdx.x * C;
    float *y = out + (size_t)blockIdx.x * C;
    double s = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) s += x[c];
    double mean = ll_block_sum(s, sh) / C;
    double v = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) { double d = x[c] - mean; v += d * d; }
    v = ll_block_sum(v, sh);
    float rstd = (float)(1.0 / sqrt(v / C + (double)eps));
    float m = (float)mean;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float t = (x[c] - m) * rstd;
        if (w) t *= w[c];
        if (b) t += b[c];
        y[c] = t;
    }
}
__global__ void k_rmsnorm(float *out, const float *in, const float *w, int C, float eps) {
    __shared__ double sh[33];
    const float *x = in + (size_t)blockIdx.x * C;
    float *y = out + (size_t)blockIdx.x * C;
    double s = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) s += (double)x[c] * x[c];
    s = ll_block_sum(s, sh);
    float rs = (float)(1.0 / sqrt(s / C + (double)eps));
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float t = x[c] * rs;
        y[c] = w ? w[c] * t : t;
    }
}
static int norm_threads(int C) { return C >= 2048 ? 512 : C >= 512 ? 256 : 128; }
static int layernorm_(opsctx *x, float *out, const float *in, const float *w, const float *b, int N, int C, float eps) {
    if (N <= 0) return 0;
    LL_LAUNCH(k_layernorm, (unsigned)N, norm_threads(C), 0, x->c->stream, out, in, w, b, C, eps);
    return 0;
}
static int rmsnorm_(opsctx *x, float *out, const float *in, const float *w, int N, int C, float eps) {
    if (N <= 0) return 0;
    LL_LAUNCH(k_rmsnorm, (unsigned)N, norm_threads(C), 0, x->c->stream, out, in, w, C, eps);
    return 0;
}
void cu_layernorm(void *ctx, float *out, const float *in, const float *w, const float *b, int N, int C, float eps) {
    OPCALL(ctx, layernorm_((opsctx *)ctx, out, in, w, b, N, C, eps));
}
void cu_rmsnorm(void *ctx, float *out, const float *in, const float *w, int N, int C, float eps) {
    OPCALL(ctx, rmsnorm_((opsctx *)ctx, out, in, w, N, C, eps));
}
