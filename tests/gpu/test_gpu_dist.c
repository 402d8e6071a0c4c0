/* Statistics merged on the host (across ranks) solved on the device:
 * ll_cuda_stats_upload then ll_cuda_stats_solve against ll_stats_solve on the
 * same host statistics (host/probe/probe.c: the oracle the CPU tests check
 * against numpy).  Tolerance: 1e-9 relative on PR — both are float64
 * eigen-solves of the same matrices (the fp64 device solve matched the CPU
 * to 4.2e-13 at d = 768 in docs/gpu-log.md run 1).  GPU only. */
#ifdef LL_HAVE_CUDA
#include <math.h>
#include <stdlib.h>
#include "backend/cuda_backend.h"
#include "../harness.h"
#include "core/ll_util.h"
#include "probe/probe.h"

TEST(gpu_dist_upload_then_device_solve) {
    REQUIRE_MSG(ll_cuda_init(0) == 0, "%s", ll_last_error());
    const int E = 3, d = 40;
    const long n = 500;
    uint64_t st = 7;
    ll_stats *h = ll_stats_new(E, d, LL_TARGET_ID, 0);
    double *X = malloc(sizeof(double) * n * d), *y = malloc(sizeof(double) * n);
    for (int e = 0; e < E; e++) {
        for (long i = 0; i < n; i++) {
            double t = 0;
            for (int j = 0; j < d; j++) {
                double v = (double)(ll_splitmix64(&st) >> 11) / 9007199254740992.0 - 0.5 + 0.1 * j;
                X[i * d + j] = v;
                t += v * (j % 3);
            }
            y[i] = floor(1000 + 300 * t + (double)(ll_splitmix64(&st) % 200));
        }
        if (e == 1) ll_normalize_rows(X, n, d, LL_NORM_LAYERNORM, 1e-5), h->ones_null[e] = 1;
        ll_stats_add(h, e, X, y, n);
    }
    /* both triangles, as the reduce leaves them */
    for (int e = 0; e < E; e++)
        for (int i = 0; i < d; i++)
            for (int j = 0; j < i; j++) h->M2[(size_t)e * d * d + (size_t)i * d + j] = h->M2[(size_t)e * d * d + (size_t)j * d + i];
    ll_probe_result cpu[3], gpu[3];
    REQUIRE(ll_stats_solve(h, 0, 1, cpu) == 0);
    ll_cuda_stats *dev = ll_cuda_stats_new(E, d, LL_TARGET_ID, 0, 1, LL_GRAM_FP64);
    REQUIRE_MSG(dev, "%s", ll_last_error());
    REQUIRE_MSG(ll_cuda_stats_upload(dev, h) == 0, "%s", ll_last_error());
    REQUIRE_MSG(ll_cuda_stats_solve(dev, 0, 0, gpu) == 0, "%s", ll_last_error());
    for (int e = 0; e < E; e++) {
        CHECK_REL(gpu[e].pr, cpu[e].pr, 1e-9);
        CHECK_REL(gpu[e].n, cpu[e].n, 0);
        CHECK_INT(gpu[e].rank, cpu[e].rank);
    }
    ll_cuda_stats_free(dev);
    ll_stats_free(h);
    free(X); free(y);
}
#endif
