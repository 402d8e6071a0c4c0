/* Reductions shared by every kernel file (ops, probe statistics). */
#ifndef LL_REDUCE_CUH
#define LL_REDUCE_CUH

/* Sum over the 32 lanes of a warp; the result in every lane. */
static __device__ __forceinline__ double ll_warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, <= 1024); the result in
 * every thread.  sh: 33 doubles of shared memory (may be reused by the next
 * call: the leading barrier protects it). */
static __device__ __forceinline__ double ll_block_sum(double v, double *sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = ll_warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    if (w == 0) {
        double t = lane < nw ? sh[lane] : 0.0;
        t = ll_warp_sum(t);
        if (lane == 0) sh[32] = t;
    }
    __syncthreads();
    return sh[32];
}
#endif
