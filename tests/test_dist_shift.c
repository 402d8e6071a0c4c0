/* The shift to the global means that both reduces apply before summing
 * (host/dist/dist.c ll_dist_shift_host; its device twin is checked against
 * it in tests/gpu/test_gpu_devreduce.c).
 *
 * Oracle: ll_stats_add over ALL the rows at once (host/probe/probe.c, itself
 * checked against numpy in test_probe.c).  The rows are split into three
 * "ranks" (one of them empty for one entry), each part folded into its own
 * statistics, shifted to the global count and means derived here by hand
 * (N = Σ n_r, μ = Σ n_r x̄_r / N), and summed: the sum must be the one-pass
 * statistics.  Tolerance: 1e-12 of the largest |element| of each matrix —
 * both sides are float64 sums of ~10³ products of O(1..30) values re-associated
 * (rounding ~ 10³·2⁻⁵³ ≈ 1e-13 relative to that scale). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "core/ll_util.h"
#include "dist/dist.h"
#include "probe/probe.h"

static double urand(uint64_t *s) { return (double)(ll_splitmix64(s) >> 11) / 9007199254740992.0; }

static double maxabs(const double *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

TEST(dist_shift_host_then_sum_is_the_one_pass_statistics) {
    enum { E = 2, D = 12, R = 3 };
    const long nrows[R][E] = {{300, 40}, {1, 0}, {157, 500}}; /* rank 1: one row of entry 0, none of entry 1 */
    uint64_t seed = 42;
    ll_stats *all = ll_stats_new(E, D, LL_TARGET_ID, 0), *part[R];
    for (int r = 0; r < R; r++) part[r] = ll_stats_new(E, D, LL_TARGET_ID, 0);
    for (int e = 0; e < E; e++) {
        long tot = 0;
        for (int r = 0; r < R; r++) tot += nrows[r][e];
        double *X = malloc(sizeof(double) * tot * D), *Xc = malloc(sizeof(double) * tot * D), *y = malloc(sizeof(double) * tot);
        for (long i = 0; i < tot; i++) {
            double t = 0;
            for (int j = 0; j < D; j++) {
                /* offset means (up to ~25) so that the shift terms are large */
                double v = urand(&seed) - 0.5 + 2.0 * j + (i < nrows[0][e] ? 3.0 : 0.0);
                X[i * D + j] = v;
                t += v * ((j % 4) - 1.5);
            }
            y[i] = floor(500 + 40 * t + 100 * urand(&seed));
        }
        memcpy(Xc, X, sizeof(double) * tot * D);
        ll_stats_add(all, e, Xc, y, tot);
        long off = 0;
        for (int r = 0; r < R; r++) {
            if (nrows[r][e]) {
                memcpy(Xc, X + off * D, sizeof(double) * nrows[r][e] * D);
                ll_stats_add(part[r], e, Xc, y + off, nrows[r][e]);
            }
            off += nrows[r][e];
        }
        free(X); free(Xc); free(y);
    }
    /* the global count and means, by hand */
    double gn[E], gy[E], gm[E * D];
    for (int e = 0; e < E; e++) {
        double n = 0, sy = 0, sx[D] = {0};
        for (int r = 0; r < R; r++) {
            double nr = part[r]->n[e];
            n += nr;
            sy += nr * part[r]->ymean[e];
            for (int j = 0; j < D; j++) sx[j] += nr * part[r]->mean[e * D + j];
        }
        gn[e] = n;
        gy[e] = sy / n;
        for (int j = 0; j < D; j++) gm[e * D + j] = sx[j] / n;
    }
    /* an empty entry is left alone by the shift */
    double m2_before = part[1]->M2[1 * D * D + 3];
    for (int r = 0; r < R; r++) ll_dist_shift_host(part[r], gn, gm, gy);
    CHECK(part[1]->M2[1 * D * D + 3] == m2_before);
    for (int e = 0; e < E; e++) {
        CHECK_REL(part[0]->n[e], all->n[e], 0); /* n := global count on every rank */
        CHECK_REL(part[2]->ymean[e], all->ymean[e], 1e-13);
        double M2[D * D], Cxy[D], Syy = 0;
        memset(M2, 0, sizeof M2);
        memset(Cxy, 0, sizeof Cxy);
        for (int r = 0; r < R; r++) {
            for (int k = 0; k < D * D; k++) M2[k] += part[r]->M2[(size_t)e * D * D + k];
            for (int j = 0; j < D; j++) Cxy[j] += part[r]->Cxy[(size_t)e * D + j];
            Syy += part[r]->Syy[e];
            for (int j = 0; j < D; j++) CHECK_REL(part[r]->mean[e * D + j], all->mean[e * D + j], 1e-13);
        }
        const double *A = all->M2 + (size_t)e * D * D, *C = all->Cxy + (size_t)e * D;
        double sm = maxabs(A, D * D), sc = maxabs(C, D), worst = 0;
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++) {
                /* the one-pass M2 is valid in its upper triangle (row-major) */
                double want = j >= i ? A[i * D + j] : A[j * D + i];
                worst = fmax(worst, fabs(M2[i * D + j] - want) / sm);
                CHECK(M2[i * D + j] == M2[j * D + i]); /* the shift keeps both triangles equal */
            }
        CHECK_MSG(worst <= 1e-12, "entry %d: M2 differs by %.3g of its largest element", e, worst);
        for (int j = 0; j < D; j++) CHECK_NEAR(Cxy[j], C[j], 1e-12 * sc);
        CHECK_REL(Syy, all->Syy[e], 1e-12);
    }
    for (int r = 0; r < R; r++) ll_stats_free(part[r]);
    ll_stats_free(all);
}
