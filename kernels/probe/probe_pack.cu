/* Device statistics, the reduce across ranks in device memory (driven by
 * host/dist/dist.c through backend_cuda.c's ll_dist_devstats): moments,
 * the shift to the global means, pack / unpack of an entry. */
#include "probe/probe_internal.cuh"

/* ------------------------------------------- the reduce across ranks, on the device */
/* What host/dist/dist.c does on the host (reduce_core), kept on the GPU so
 * that E·d² doubles never leave it: each rank shifts its comoments to the
 * global means (parallel-axis theorem), the shifted statistics are summed
 * with ncclReduce in device memory, the rank owning an entry solves it where
 * it is.  The arithmetic is the host's, operation for operation and rounded
 * the same way (__dmul_rn / __dadd_rn: no fused multiply-add, which the host
 * build does not use either), so both paths give the same bits for the same
 * inputs. */

/* Entry e, first part of the shift: δ_j = n>0 ? x̄_j − μ_j : 0 (kept in
 * delta for k_shift_m2), Cxy_j += (n·δ_j)·dy, x̄ := μ; one thread: Syy +=
 * (n·dy)·dy, ȳ := ȳ_global.  dy is computed by the caller (host), as the
 * host shift does. */
__global__ void k_shift_vec(double *__restrict__ mean, const double *__restrict__ mu, double *__restrict__ delta,
                            double *__restrict__ Cxy, double *Syy, double *ymean, int d, double n, double dy,
                            double ybar) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j < d) {
        double dl = n > 0 ? __dsub_rn(mean[j], mu[j]) : 0.0;
        delta[j] = dl;
        Cxy[j] = __dadd_rn(Cxy[j], __dmul_rn(__dmul_rn(n, dl), dy));
        mean[j] = mu[j];
    }
    if (j == 0) {
        *Syy = __dadd_rn(*Syy, __dmul_rn(__dmul_rn(n, dy), dy));
        *ymean = ybar;
    }
}
/* Entry e, M2: the host's row-major upper triangle (r <= c at r·d + c) is
 * this column-major lower one (column r, row c, the same address): M2[r·d+c]
 * += (n·δ_r)·δ_c.  The other triangle is not read before k_symmetrize. */
__global__ void k_shift_m2(double *__restrict__ M2, const double *__restrict__ delta, int d, double n) {
    int c = blockIdx.x * blockDim.x + threadIdx.x, r = blockIdx.y;
    if (c < r || c >= d) return;
    size_t k = (size_t)r * d + c;
    M2[k] = __dadd_rn(M2[k], __dmul_rn(__dmul_rn(n, delta[r]), delta[c]));
}
/* Packs entry e's reduced part as the host's buffer: the triangle by
 * columns (column r: rows r..d−1, starting at r·d − r(r−1)/2), then Cxy,
 * then Syy.  dir 0: statistics -> buf, 1: buf -> statistics. */
__global__ void k_pack_tri(double *__restrict__ M2, double *__restrict__ buf, int d, int dir) {
    int c = blockIdx.x * blockDim.x + threadIdx.x, r = blockIdx.y;
    if (c < r || c >= d) return;
    size_t k = (size_t)r * d + c, o = (size_t)r * d - (size_t)r * (r - 1) / 2 + (size_t)(c - r);
    if (dir == 0) buf[o] = M2[k];
    else M2[k] = buf[o];
}

extern "C" size_t ll_cuda_stats_pack_len(const ll_cuda_stats *s) {
    size_t d = s->d;
    return d * (d + 1) / 2 + d + 1;
}

extern "C" int ll_cuda_stats_moments(ll_cuda_stats *s, double *n, double *mean, double *ymean, int *ones_null) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    size_t E = s->E, d = s->d;
    LL_CU(cudaMemcpyAsync(mean, s->mean, E * d * sizeof(double), cudaMemcpyDeviceToHost, c->stream));
    LL_CU(cudaMemcpyAsync(ymean, s->ymean, E * sizeof(double), cudaMemcpyDeviceToHost, c->stream));
    LL_CU(cudaStreamSynchronize(c->stream));
    for (size_t e = 0; e < E; e++) {
        n[e] = s->h_n[e];
        ones_null[e] = s->h_ones[e] == 1;
    }
    return 0;
}

extern "C" int ll_cuda_stats_shift(ll_cuda_stats *s, const double *gn, const double *gmean, const double *gymean,
                                   const int *ones_null) {
    if (s->target != LL_TARGET_ID) {
        ll_set_error("CUDA statistics shift: the one-hot target's class sums are reduced on the host");
        return -1;
    }
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    const int E = s->E, d = s->d;
    double *ym = (double *)malloc((size_t)E * sizeof(double));
    if (!ym) { ll_set_error("CUDA statistics shift: out of host memory"); return -1; }
    if (cudaMemcpyAsync(ym, s->ymean, (size_t)E * sizeof(double), cudaMemcpyDeviceToHost, c->stream) != cudaSuccess ||
        cudaStreamSynchronize(c->stream) != cudaSuccess) {
        free(ym);
        LL_CU(cudaGetLastError());
        ll_set_error("CUDA statistics shift: reading the label means failed");
        return -1;
    }
    cudaError_t err = cudaSuccess;
    for (int e = 0; e < E && err == cudaSuccess; e++) {
        const double n = s->h_n[e];
        const double dy = n > 0 ? ym[e] - gymean[e] : 0;
        /* μ travels through the batch-mean scratch (d doubles; the upload is
         * ordered before the kernels on the stream, and synchronised below
         * before the next entry's upload overwrites it) */
        err = cudaMemcpyAsync(s->mub, gmean + (size_t)e * d, (size_t)d * sizeof(double), cudaMemcpyHostToDevice,
                              c->stream);
        if (err != cudaSuccess) break;
        k_shift_vec<<<ll_cdiv(d, 256), 256, 0, c->stream>>>(s->mean + (size_t)e * d, s->mub, s->delta,
                                                              s->Cxy + (size_t)e * d, s->Syy + e, s->ymean + e, d, n,
                                                              dy, gymean[e]);
        k_shift_m2<<<dim3(ll_cdiv(d, 256), d), 256, 0, c->stream>>>(s->M2 + (size_t)e * d * d, s->delta, d, n);
        err = cudaGetLastError();
        if (err == cudaSuccess) err = cudaStreamSynchronize(c->stream);
    }
    free(ym);
    if (err != cudaSuccess) {
        ll_set_error("CUDA: shifting the statistics to the global means failed: %s (%s, %s:%d)",
                     cudaGetErrorString(err), __func__, __FILE__, __LINE__);
        return -1;
    }
    for (int e = 0; e < E; e++) {
        s->h_n[e] = gn[e];
        s->h_ones[e] = gn[e] > 0 ? (ones_null[e] != 0) : -1;
    }
    return 0;
}

extern "C" int ll_cuda_stats_pack(ll_cuda_stats *s, int e, double *buf, int unpack) {
    if (e < 0 || e >= s->E) {
        ll_set_error("ll_cuda_stats_pack: entry %d out of range (E=%d)", e, s->E);
        return -1;
    }
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    const size_t d = s->d, tri = d * (d + 1) / 2;
    LL_LAUNCH(k_pack_tri, dim3(ll_cdiv((long)d, 256), (unsigned)d), 256, 0, c->stream, s->M2 + (size_t)e * d * d, buf,
              (int)d, unpack ? 1 : 0);
    cudaMemcpyKind k = cudaMemcpyDeviceToDevice;
    if (!unpack) {
        LL_CU(cudaMemcpyAsync(buf + tri, s->Cxy + (size_t)e * d, d * sizeof(double), k, c->stream));
        LL_CU(cudaMemcpyAsync(buf + tri + d, s->Syy + e, sizeof(double), k, c->stream));
    } else {
        LL_CU(cudaMemcpyAsync(s->Cxy + (size_t)e * d, buf + tri, d * sizeof(double), k, c->stream));
        LL_CU(cudaMemcpyAsync(s->Syy + e, buf + tri + d, sizeof(double), k, c->stream));
    }
    return 0;
}
