/* What the device statistics' files share (kernels/probe/, internal): the
 * statistics object and its allocation.  The files: probe_stats.cu (the
 * object: new, free, reset, copies to and from the host), probe_accumulate.cu
 * (normalise, centre, Gram, Chan merge: ll_cuda_stats_add*), probe_pack.cu
 * (the reduce across ranks on the device: moments, shift, pack), probe_solve.cu
 * (the batched cuSOLVER solve). */
#ifndef LL_PROBE_INTERNAL_CUH
#define LL_PROBE_INTERNAL_CUH
#include "core/ll_cuda.h"
extern "C" {
#include "backend/oom.h"
}
#include "core/reduce.cuh"
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ll_cuda_stats {
    int E, d, K;
    ll_target target;
    long max_rows;
    ll_gram_mode gram;      /* asked for */
    ll_gram_mode gram_eff;  /* in use (FP64EMU falls back to FP64 where unsupported) */
    double *h_n;            /* [E] host: counts */
    int *h_ones;            /* [E] host: -1 nothing yet, 1 all batches Σx=0 normalised, 0 otherwise */
    /* device statistics */
    double *mean, *M2, *ymean, *Cxy, *Syy, *class_n, *class_sum;
    /* device scratch */
    double *Z, *mub, *delta, *yc, *scal;
    float *P;               /* [3·max_rows·d] hi | hi | 2lo (TF32X3), [2·max_rows·d] hi | lo (TF32SYRK),
                               [max_rows·d] (FP32) */
    float *Gb;              /* [d·d] batch Gram (FP32 modes) */
    float *stage_X;         /* add_host staging */
    double *stage_y;
    size_t bytes;
};

template <typename T> static inline int dalloc(ll_cuda_stats *s, T **p, size_t count) {
    size_t bytes = count * sizeof(T);
    LL_TRY(ll_cuda_alloc((void **)p, bytes, "the statistics (E=%d, d=%d, %ld rows a batch)", s->E, s->d, (long)s->max_rows));
    s->bytes += bytes;
    return 0;
}

/* M2's lower triangle copied onto its upper one, `count` matrices d×d from
 * M (k_symmetrize, probe_stats.cu), enqueued on st.  0 / -1 + error. */
int probe_symmetrize(double *M, int d, int count, cudaStream_t st);
#endif
