/* The device-resident reduce across ranks (docs/distributed.md): the shift
 * kernel, the pack/unpack of an entry, and the whole ll_dist_reduce_solve_device
 * path over a one-rank NCCL communicator.  GPU only; never run yet (no GPU
 * where it was written: docs/gpu-log.md).
 *
 * Oracles and tolerances:
 *   - pack/unpack: the statistics themselves (an entry moved bit for bit);
 *   - shift: the host shift ll_dist_shift_host (host/dist/dist.c, itself
 *     checked against one-pass statistics in tests/test_dist_shift.c) on the
 *     same downloaded statistics with made-up global means: 1e-12 relative per
 *     element (float64, the same operations rounded the same way — no FMA on
 *     either side — so bitwise equality is expected; the count of differing
 *     elements is printed);
 *   - merge: three "ranks" of device statistics shifted on the device to the
 *     job's means and summed equal the device statistics of all the rows in
 *     one pass: 1e-12 of the largest |element| (float64 sums re-associated);
 *   - one-rank NCCL reduce + device solve: ll_stats_solve on the downloaded
 *     statistics (the CPU engine the CPU tests check against numpy), PR to
 *     1e-9 relative as tests/gpu/test_gpu_dist.c (two float64 eigen-solves). */
#ifdef LL_HAVE_CUDA
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend/cuda_backend.h"
#include "../harness.h"
#include "core/ll_util.h"
#include "dist/dist.h"
#include "probe/probe.h"

enum { E = 4, D = 40 };

static double urand(uint64_t *s) { return (double)(ll_splitmix64(s) >> 11) / 9007199254740992.0; }

/* rows[e] rows of entry e (float features, ids as labels) from the seed;
 * entry 1 layer-normalised (ones-null) */
static void make_rows(uint64_t seed, const long *rows, float **X, double **y) {
    for (int e = 0; e < E; e++) {
        X[e] = malloc(sizeof(float) * (rows[e] ? rows[e] : 1) * D);
        y[e] = malloc(sizeof(double) * (rows[e] ? rows[e] : 1));
        for (long i = 0; i < rows[e]; i++) {
            double t = 0;
            for (int j = 0; j < D; j++) {
                float v = (float)(urand(&seed) - 0.5 + 0.1 * j + 0.3 * e);
                X[e][i * D + j] = v;
                t += v * (j % 3);
            }
            y[e][i] = floor(1000 + 300 * t + 200 * urand(&seed));
        }
    }
}

static ll_cuda_stats *fold(const long *rows, float **X, double **y, long first_of_each, long count_of_each) {
    ll_cuda_stats *s = ll_cuda_stats_new(E, D, LL_TARGET_ID, 0, 4096, LL_GRAM_FP64);
    if (!s) return NULL;
    for (int e = 0; e < E; e++) {
        long a = LL_MIN(first_of_each, rows[e]), n = LL_MIN(count_of_each, rows[e] - a);
        if (n > 0 && ll_cuda_stats_add_host(s, e, X[e] + a * D, y[e] + a, n,
                                            e == 1 ? LL_NORM_LAYERNORM : LL_NORM_NONE, 1e-5) != 0) {
            ll_cuda_stats_free(s);
            return NULL;
        }
    }
    return s;
}

static ll_stats *download(ll_cuda_stats *s) {
    ll_stats *h = ll_stats_new(E, D, LL_TARGET_ID, 0);
    if (ll_cuda_stats_download(s, h) != 0) { ll_stats_free(h); return NULL; }
    return h;
}

static ll_stats *copy_stats(const ll_stats *a) {
    ll_stats *b = ll_stats_new(a->E, a->d, a->target, a->K);
    size_t n = ll_stats_pack_len(a);
    double *buf = malloc(n * sizeof(double));
    ll_stats_pack(a, buf);
    int rc = ll_stats_unpack(b, buf, n);
    free(buf);
    memcpy(b->ones_null, a->ones_null, sizeof(int) * (size_t)a->E);
    if (rc != 0) { ll_stats_free(b); return NULL; }
    return b;
}

TEST(gpu_devreduce_shift_matches_host_shift) {
    REQUIRE_MSG(ll_cuda_init(0) == 0, "%s", ll_last_error());
    const long rows[E] = {500, 300, 77, 0}; /* entry 3 empty: the shift leaves it alone */
    float *X[E];
    double *y[E];
    make_rows(11, rows, X, y);
    ll_cuda_stats *dev = fold(rows, X, y, 0, 1000);
    REQUIRE_MSG(dev, "%s", ll_last_error());
    ll_stats *h = download(dev);
    REQUIRE_MSG(h, "%s", ll_last_error());
    /* made-up global statistics: more examples elsewhere, other means */
    double gn[E], gy[E], gm[E * D];
    int onull[E] = {0, 1, 0, 0};
    uint64_t s = 5;
    for (int e = 0; e < E; e++) {
        gn[e] = h->n[e] + 1000 + e;
        gy[e] = h->ymean[e] + 37.5 - 10 * e;
        for (int j = 0; j < D; j++) gm[e * D + j] = h->mean[e * D + j] + 2 * (urand(&s) - 0.5);
    }
    ll_stats *want = copy_stats(h);
    REQUIRE(want);
    ll_dist_shift_host(want, gn, gm, gy);
    REQUIRE_MSG(ll_cuda_stats_shift(dev, gn, gm, gy, onull) == 0, "%s", ll_last_error());
    ll_stats *got = download(dev);
    REQUIRE_MSG(got, "%s", ll_last_error());
    long differ = 0, total = 0;
    for (int e = 0; e < E; e++) {
        for (int k = 0; k < D * D; k++, total++) {
            double a = got->M2[(size_t)e * D * D + k], b = want->M2[(size_t)e * D * D + k];
            differ += a != b;
            CHECK_REL(a, b, 1e-12);
        }
        for (int j = 0; j < D; j++, total++) {
            differ += got->Cxy[e * D + j] != want->Cxy[e * D + j];
            CHECK_REL(got->Cxy[e * D + j], want->Cxy[e * D + j], 1e-12);
            CHECK_REL(got->mean[e * D + j], gm[e * D + j], 0);
        }
        CHECK_REL(got->Syy[e], want->Syy[e], 1e-12);
        CHECK_REL(got->ymean[e], gy[e], 0);
        CHECK_REL(got->n[e], gn[e], 0);
        CHECK_INT(got->ones_null[e], onull[e]);
    }
    /* the empty entry: comoments untouched (zero) */
    CHECK(got->M2[(size_t)3 * D * D + 5] == 0 && got->Syy[3] == 0);
    printf("    shift: %ld of %ld elements differ from the host shift's bits\n", differ, total);
    ll_stats_free(h); ll_stats_free(want); ll_stats_free(got);
    ll_cuda_stats_free(dev);
    for (int e = 0; e < E; e++) { free(X[e]); free(y[e]); }
}

/* Pack entry 0 (triangle, Cxy, Syy) and unpack it over entry 2: entry 2's
 * comoments become entry 0's, bit for bit (oracle: the data itself); the
 * packed length is the host reduce's d(d+1)/2 + d + 1. */
TEST(gpu_devreduce_pack_unpack_moves_an_entry) {
    REQUIRE_MSG(ll_cuda_init(0) == 0, "%s", ll_last_error());
    const long rows[E] = {200, 100, 300, 50};
    float *X[E];
    double *y[E];
    make_rows(3, rows, X, y);
    ll_cuda_stats *dev = fold(rows, X, y, 0, 1000);
    REQUIRE_MSG(dev, "%s", ll_last_error());
    ll_stats *before = download(dev);
    REQUIRE_MSG(before, "%s", ll_last_error());
    size_t len = ll_cuda_stats_pack_len(dev);
    CHECK_INT((long long)len, (long long)(D * (D + 1) / 2 + D + 1));
    double *buf = NULL;
    REQUIRE_MSG(ll_cuda_alloc((void **)&buf, len * sizeof(double), "test pack buffer") == 0, "%s", ll_last_error());
    REQUIRE_MSG(ll_cuda_stats_pack(dev, 0, buf, 0) == 0, "%s", ll_last_error());
    REQUIRE_MSG(ll_cuda_stats_pack(dev, 2, buf, 1) == 0, "%s", ll_last_error());
    double *host = malloc(len * sizeof(double));
    REQUIRE_MSG(ll_cuda_memcpy_d2h(host, buf, len * sizeof(double)) == 0, "%s", ll_last_error());
    ll_stats *after = download(dev);
    REQUIRE_MSG(after, "%s", ll_last_error());
    /* the packed order: row i of the (row-major) upper triangle, then Cxy, Syy */
    size_t o = 0;
    for (int i = 0; i < D; i++)
        for (int j = i; j < D; j++, o++) CHECK(host[o] == before->M2[(size_t)i * D + j]);
    for (int j = 0; j < D; j++) CHECK(host[o + j] == before->Cxy[j]);
    CHECK(host[o + D] == before->Syy[0]);
    for (int k = 0; k < D * D; k++) CHECK(after->M2[(size_t)2 * D * D + k] == before->M2[k]);
    for (int j = 0; j < D; j++) CHECK(after->Cxy[2 * D + j] == before->Cxy[j]);
    CHECK(after->Syy[2] == before->Syy[0]);
    /* the other entries and entry 2's means are untouched */
    for (int k = 0; k < D * D; k++) CHECK(after->M2[(size_t)1 * D * D + k] == before->M2[(size_t)1 * D * D + k]);
    for (int j = 0; j < D; j++) CHECK(after->mean[2 * D + j] == before->mean[2 * D + j]);
    free(host);
    ll_cuda_free(buf);
    ll_stats_free(before); ll_stats_free(after);
    ll_cuda_stats_free(dev);
    for (int e = 0; e < E; e++) { free(X[e]); free(y[e]); }
}

TEST(gpu_devreduce_shifted_ranks_sum_to_one_pass) {
    REQUIRE_MSG(ll_cuda_init(0) == 0, "%s", ll_last_error());
    const long rows[E] = {600, 450, 301, 90};
    float *X[E];
    double *y[E];
    make_rows(23, rows, X, y);
    /* three ranks: rows [0,200), [200,201), [201, ...) of each entry */
    ll_cuda_stats *rk[3] = {fold(rows, X, y, 0, 200), fold(rows, X, y, 200, 1), fold(rows, X, y, 201, 100000)};
    ll_cuda_stats *one = fold(rows, X, y, 0, 100000);
    REQUIRE_MSG(rk[0] && rk[1] && rk[2] && one, "%s", ll_last_error());
    double n[3][E], mean[3][E * D], ym[3][E];
    int ones[3][E];
    for (int r = 0; r < 3; r++)
        REQUIRE_MSG(ll_cuda_stats_moments(rk[r], n[r], mean[r], ym[r], ones[r]) == 0, "%s", ll_last_error());
    double gn[E], gy[E], gm[E * D];
    int onull[E];
    for (int e = 0; e < E; e++) {
        double N = 0, sy = 0, sx[D];
        memset(sx, 0, sizeof sx);
        onull[e] = 1;
        for (int r = 0; r < 3; r++) {
            N += n[r][e];
            sy += n[r][e] * ym[r][e];
            for (int j = 0; j < D; j++) sx[j] += n[r][e] * mean[r][e * D + j];
            onull[e] = onull[e] && ones[r][e];
        }
        gn[e] = N;
        gy[e] = sy / N;
        for (int j = 0; j < D; j++) gm[e * D + j] = sx[j] / N;
    }
    CHECK_INT(onull[1], 1); /* the layer-normalised entry on every rank */
    CHECK_INT(onull[0], 0);
    ll_stats *sum = ll_stats_new(E, D, LL_TARGET_ID, 0);
    for (int r = 0; r < 3; r++) {
        REQUIRE_MSG(ll_cuda_stats_shift(rk[r], gn, gm, gy, onull) == 0, "%s", ll_last_error());
        ll_stats *h = download(rk[r]);
        REQUIRE_MSG(h, "%s", ll_last_error());
        for (size_t k = 0; k < (size_t)E * D * D; k++) sum->M2[k] += h->M2[k];
        for (size_t k = 0; k < (size_t)E * D; k++) sum->Cxy[k] += h->Cxy[k];
        for (int e = 0; e < E; e++) sum->Syy[e] += h->Syy[e];
        ll_stats_free(h);
    }
    ll_stats *w = download(one);
    REQUIRE_MSG(w, "%s", ll_last_error());
    for (int e = 0; e < E; e++) {
        double sm = 0, sc = 0, worst = 0;
        for (int k = 0; k < D * D; k++) sm = fmax(sm, fabs(w->M2[(size_t)e * D * D + k]));
        for (int j = 0; j < D; j++) sc = fmax(sc, fabs(w->Cxy[e * D + j]));
        for (int k = 0; k < D * D; k++)
            worst = fmax(worst, fabs(sum->M2[(size_t)e * D * D + k] - w->M2[(size_t)e * D * D + k]) / sm);
        CHECK_MSG(worst <= 1e-12, "entry %d: M2 of the shifted ranks' sum differs by %.3g of its largest element", e, worst);
        for (int j = 0; j < D; j++) CHECK_NEAR(sum->Cxy[e * D + j], w->Cxy[e * D + j], 1e-12 * sc);
        CHECK_REL(sum->Syy[e], w->Syy[e], 1e-12);
        CHECK_REL(gn[e], w->n[e], 0);
        CHECK_REL(gy[e], w->ymean[e], 1e-13);
    }
    ll_stats_free(sum); ll_stats_free(w);
    for (int r = 0; r < 3; r++) ll_cuda_stats_free(rk[r]);
    ll_cuda_stats_free(one);
    for (int e = 0; e < E; e++) { free(X[e]); free(y[e]); }
}

TEST(gpu_devreduce_one_rank_nccl_reduce_and_device_solve) {
    REQUIRE_MSG(ll_cuda_init(0) == 0, "%s", ll_last_error());
    setenv("LAYERLAW_NCCL", "1", 1); /* a one-rank NCCL communicator */
    /* one rank needs no network, but NCCL's bootstrap still opens a socket:
     * on a sandboxed machine the loopback is the interface that surely exists */
    setenv("NCCL_SOCKET_IFNAME", "lo", 0);
    ll_dist *d = ll_dist_init(NULL, NULL);
    REQUIRE_MSG(d, "%s", ll_last_error());
    REQUIRE_MSG(ll_dist_device_reduce_possible(d), "this build has no NCCL (or no MPI): the device reduce is not in it");
    REQUIRE_MSG(ll_dist_use_device(d, 0) == 0, "%s", ll_last_error());

    const long rows[E] = {500, 400, 300, 200};
    float *X[E];
    double *y[E];
    make_rows(37, rows, X, y);
    ll_cuda_stats *dev = fold(rows, X, y, 0, 100000);
    REQUIRE_MSG(dev, "%s", ll_last_error());
    ll_stats *h = download(dev);
    REQUIRE_MSG(h, "%s", ll_last_error());
    ll_probe_result cpu[E], gpu[E], cpu_r[E], gpu_r[E];
    REQUIRE(ll_stats_solve(h, 0, 1, cpu) == 0);
    REQUIRE(ll_stats_solve(h, 0.3, 1, cpu_r) == 0);
    ll_dist_devstats ds;
    ll_cuda_devred *rd = ll_cuda_devred_new(dev, &ds);
    REQUIRE_MSG(rd, "%s", ll_last_error());
    CHECK_INT(ds.E, E);
    CHECK_INT(ds.d, D);
    CHECK(ds.stream != NULL && !ds.host_memory);
    CHECK(ll_dist_devstats_usable(d, &ds));
    int mixed = -1;
    REQUIRE_MSG(ll_dist_choose_device_reduce(d, &ds, &mixed) == 1, "device reduce not chosen: %s", ll_last_error());
    CHECK_INT(mixed, 0);
    memset(gpu, 0, sizeof gpu);
    REQUIRE_MSG(ll_dist_reduce_solve_device(d, &ds, 0, gpu) == 0, "%s", ll_last_error());
    for (int e = 0; e < E; e++) {
        CHECK_REL(gpu[e].pr, cpu[e].pr, 1e-9);
        CHECK_REL(gpu[e].n, cpu[e].n, 0);
        CHECK_INT(gpu[e].rank, cpu[e].rank);
    }
    /* a range of entries with a ridge, on the reduced statistics */
    REQUIRE_MSG(ll_cuda_stats_solve_range(dev, 1, 3, 0.3, 0, gpu_r) == 0, "%s", ll_last_error());
    for (int e = 1; e < 3; e++) CHECK_REL(gpu_r[e - 1].pr, cpu_r[e].pr, 1e-9);
    ll_cuda_devred_free(rd);
    ll_stats_free(h);
    ll_cuda_stats_free(dev);
    for (int e = 0; e < E; e++) { free(X[e]); free(y[e]); }
    ll_dist_finalize(d);
}
#endif
