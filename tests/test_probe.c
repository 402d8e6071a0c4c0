/* The probe engine in-process: shard merge equals one pass, the ones
 * direction of LayerNorm'd features is handled as a pseudo-inverse would, the
 * law fit, the class map and the portable shuffle. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "core/ll_util.h"
#include "probe/probe.h"
#include <cblas.h>
#include <omp.h>

static double frand(uint64_t *s) { return (double)(ll_splitmix64(s) >> 11) * (1.0 / 9007199254740992.0) - 0.5; }

static void fill(double *X, double *y, long n, int d, uint64_t *s) {
    for (long i = 0; i < n; i++) {
        double t = 0;
        for (int j = 0; j < d; j++) { X[i * d + j] = frand(s) * (1 + j) + 3.0 * j; t += X[i * d + j] * (j % 3 - 1); }
        y[i] = (double)(long)(1000 + 400 * t + 300 * frand(s));
    }
}

TEST(probe_shard_merge_equals_single_pass) {
    int E = 3, d = 17;
    long n = 1000;
    uint64_t s = 42;
    double *X = ll_xmalloc((size_t)n * d * sizeof(double)), *y = ll_xmalloc((size_t)n * sizeof(double));
    double *W = ll_xmalloc((size_t)n * d * sizeof(double));
    fill(X, y, n, d, &s);
    ll_stats *one = ll_stats_new(E, d, LL_TARGET_ID, 0), *a = ll_stats_new(E, d, LL_TARGET_ID, 0),
             *b = ll_stats_new(E, d, LL_TARGET_ID, 0);
    for (int e = 0; e < E; e++) {
        memcpy(W, X, (size_t)n * d * sizeof(double));
        ll_stats_add(one, e, W, y, n); /* one pass */
        long cut[] = {0, 1, 250, 251, 600, 1000};
        for (int k = 0; k < 5; k++) { /* uneven batches, into two shards */
            memcpy(W, X + cut[k] * d, (size_t)(cut[k + 1] - cut[k]) * d * sizeof(double));
            ll_stats_add(k % 2 ? b : a, e, W, y + cut[k], cut[k + 1] - cut[k]);
        }
    }
    REQUIRE(ll_stats_merge(a, b) == 0);
    for (int e = 0; e < E; e++) {
        CHECK(a->n[e] == one->n[e]);
        for (int j = 0; j < d; j++) CHECK_REL(a->mean[e * d + j], one->mean[e * d + j], 1e-13);
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++) CHECK_REL(a->M2[(size_t)e * d * d + i * d + j], one->M2[(size_t)e * d * d + i * d + j], 1e-11);
        CHECK_REL(a->Syy[e], one->Syy[e], 1e-12);
    }
    ll_probe_result r1[3], r2[3];
    REQUIRE(ll_stats_solve(one, 0, 2, r1) == 0);
    REQUIRE(ll_stats_solve(a, 0, 2, r2) == 0);
    for (int e = 0; e < E; e++) {
        CHECK_REL(r2[e].pr, r1[e].pr, 1e-11);
        CHECK(r1[e].pr > 0 && r1[e].pr < 1);
        CHECK_INT(r1[e].rank, d);
    }
    ll_stats_free(one); ll_stats_free(a); ll_stats_free(b);
    free(X); free(y); free(W);
}

/* LayerNorm'd features: rank d-1; the residual equals that of the fit on
 * the first d-1 coordinates (which span the same space). */
TEST(probe_layernorm_rank_deficient) {
    int d = 12;
    long n = 500;
    uint64_t s = 7;
    double *X = ll_xmalloc((size_t)n * d * sizeof(double)), *y = ll_xmalloc((size_t)n * sizeof(double));
    fill(X, y, n, d, &s);
    ll_normalize_rows(X, n, d, LL_NORM_LAYERNORM, 1e-5);
    double *Z = ll_xmalloc((size_t)n * (d - 1) * sizeof(double));
    for (long i = 0; i < n; i++) memcpy(Z + i * (d - 1), X + i * d, (size_t)(d - 1) * sizeof(double));
    for (int flag = 0; flag < 2; flag++) { /* known null (flag) or detected */
        ll_stats *full = ll_stats_new(1, d, LL_TARGET_ID, 0), *red = ll_stats_new(1, d - 1, LL_TARGET_ID, 0);
        full->ones_null[0] = flag;
        double *W = ll_xmalloc((size_t)n * d * sizeof(double));
        memcpy(W, X, (size_t)n * d * sizeof(double));
        ll_stats_add(full, 0, W, y, n);
        memcpy(W, Z, (size_t)n * (d - 1) * sizeof(double));
        ll_stats_add(red, 0, W, y, n);
        ll_probe_result rf, rr;
        REQUIRE(ll_stats_solve(full, 0, 1, &rf) == 0);
        REQUIRE(ll_stats_solve(red, 0, 1, &rr) == 0);
        CHECK_REL(rf.pr, rr.pr, 1e-10);
        CHECK_INT(rf.rank, d - 1);
        CHECK_INT(rr.rank, d - 1);
        free(W);
        ll_stats_free(full); ll_stats_free(red);
    }
    free(X); free(y); free(Z);
}

TEST(probe_law_fit_exact_line) {
    double pr[6] = {0.9, 0.5, 0.25, 0.125, 0.0625, 0.03125};
    ll_law l;
    REQUIRE(ll_law_fit(pr, 6, 1, &l) == 0);
    CHECK_NEAR(l.slope, log10(0.5), 1e-14);
    CHECK_NEAR(l.intercept, log10(0.5), 1e-14);
    CHECK_NEAR(l.pearson_r, -1.0, 1e-14);
    CHECK_NEAR(l.r2, 1.0, 1e-14);
    CHECK_NEAR(l.decay_ratio, 0.5, 1e-14);
    CHECK_NEAR(l.overall_ratio, 0.0625, 1e-14);
    CHECK_INT(l.n_points, 5);
    CHECK(ll_law_fit(pr, 2, 1, &l) == -1);
    pr[3] = 0;
    CHECK(ll_law_fit(pr, 6, 1, &l) == -1);
}

TEST(probe_shuffle_is_a_permutation_of_present_ids) {
    int64_t lab[8] = {5, 9, 5, 100, 7, 9, 9, 42}, orig[8];
    memcpy(orig, lab, sizeof lab);
    ll_shuffle_vocab(lab, 8, 7);
    /* same multiset of ids, same equality pattern */
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) CHECK((orig[i] == orig[j]) == (lab[i] == lab[j]));
    ll_classmap a, b;
    ll_classmap_build(&a, orig, 8);
    ll_classmap_build(&b, lab, 8);
    CHECK_INT(a.K, 5);
    CHECK_INT(b.K, 5);
    for (int k = 0; k < 5; k++) CHECK(a.ids[k] == b.ids[k]);
    CHECK_INT(ll_classmap_index(&a, 42), 3);
    CHECK_INT(ll_classmap_index(&a, 43), -1);
    ll_classmap_free(&a);
    ll_classmap_free(&b);
    uint64_t st = 0;
    CHECK(ll_splitmix64(&st) == 0xe220a8397b1dcdafull); /* published splitmix64 first output for seed 0 */
}

/* The banded multi-threaded Gram equals one DSYRK (odd d, 2 and 3 threads). */
TEST(probe_banded_gram_equals_dsyrk) {
    int d = 233;
    long n = 301;
    uint64_t s = 99;
    double *X = ll_xmalloc((size_t)n * d * sizeof(double)), *y = ll_xmalloc((size_t)n * sizeof(double));
    double *W = ll_xmalloc((size_t)n * d * sizeof(double));
    fill(X, y, n, d, &s);
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
    ll_stats *ref = ll_stats_new(1, d, LL_TARGET_ID, 0);
    omp_set_num_threads(1);
    memcpy(W, X, (size_t)n * d * sizeof(double));
    ll_stats_add(ref, 0, W, y, n);
    for (int th = 2; th <= 3; th++) {
        ll_stats *a = ll_stats_new(1, d, LL_TARGET_ID, 0);
        omp_set_num_threads(th);
        memcpy(W, X, (size_t)n * d * sizeof(double));
        ll_stats_add(a, 0, W, y, n);
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++) {
                /* a dot product's rounding is bounded relative to |x_i||x_j|
                 * (Cauchy-Schwarz: sqrt(M2_ii M2_jj)), not to the result,
                 * which may be near 0: a band order changes only that */
                double scale = sqrt(ref->M2[i * d + i] * ref->M2[j * d + j]);
                CHECK(fabs(a->M2[i * d + j] - ref->M2[i * d + j]) <= 1e-12 * scale);
            }
        ll_stats_free(a);
    }
    openblas_set_num_threads(saved);
    ll_stats_free(ref);
    free(X); free(y); free(W);
}

TEST(probe_stats_pack_roundtrip_and_shape_check) {
    for (int target = 0; target < 2; target++) {
        int E = 3, d = 5, K = target ? 4 : 0;
        long n = 40;
        uint64_t s = 7 + target;
        double *X = ll_xmalloc((size_t)n * d * sizeof(double)), *y = ll_xmalloc((size_t)n * sizeof(double));
        ll_stats *a = ll_stats_new(E, d, target ? LL_TARGET_ONEHOT : LL_TARGET_ID, K);
        for (int e = 0; e < E; e++) {
            fill(X, y, n, d, &s);
            for (long i = 0; i < n; i++) y[i] = target ? (double)(i % K) : y[i];
            ll_stats_add(a, e, X, y, n);
        }
        a->ones_null[1] = 1;
        size_t len = ll_stats_pack_len(a);
        double *buf = ll_xmalloc(len * sizeof(double));
        ll_stats_pack(a, buf);
        ll_stats *b = ll_stats_new(E, d, a->target, K);
        REQUIRE(ll_stats_unpack(b, buf, len) == 0);
        CHECK(memcmp(a->M2, b->M2, sizeof(double) * E * d * d) == 0);
        CHECK(memcmp(a->mean, b->mean, sizeof(double) * E * d) == 0);
        CHECK(memcmp(a->Cxy, b->Cxy, sizeof(double) * E * d) == 0);
        CHECK(memcmp(a->n, b->n, sizeof(double) * E) == 0 && memcmp(a->Syy, b->Syy, sizeof(double) * E) == 0);
        CHECK(memcmp(a->ymean, b->ymean, sizeof(double) * E) == 0);
        CHECK(b->ones_null[1] == 1 && b->ones_null[0] == 0);
        if (K) CHECK(memcmp(a->class_sum, b->class_sum, sizeof(double) * E * K * d) == 0 &&
                     memcmp(a->class_n, b->class_n, sizeof(double) * E * K) == 0);
        ll_stats *c = ll_stats_new(E, d + 1, a->target, K); /* another shape: refused */
        CHECK(ll_stats_unpack(c, buf, len) != 0);
        buf[0] = 1;
        CHECK(ll_stats_unpack(b, buf, len) != 0);
        ll_stats_free(a); ll_stats_free(b); ll_stats_free(c);
        free(buf); free(X); free(y);
    }
}
