/* Benchmark arithmetic (hand-derived values) and the CPU peak probes. */
#include <math.h>
#include <stdlib.h>
#include "harness.h"
#include "bench/bench.h"
#include "core/ll_util.h"

TEST(bench_summary_by_hand) {
    /* 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squares 32, sample sd sqrt(32/7) */
    const double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
    ll_bench_summary s;
    ll_bench_summarise(x, 8, &s);
    CHECK_INT(s.n, 8);
    CHECK_NEAR(s.mean, 5.0, 1e-15);
    CHECK_REL(s.sd, sqrt(32.0 / 7.0), 1e-15); /* rounding only */
    CHECK(s.min == 2 && s.max == 9);
    ll_bench_summarise(x, 1, &s);
    CHECK(s.mean == 2 && s.sd == 0);
    /* a large offset: the two-pass sd does not cancel */
    const double y[] = {1e9 + 1, 1e9 + 2, 1e9 + 3};
    ll_bench_summarise(y, 3, &s);
    CHECK_REL(s.sd, 1.0, 1e-12);
}

TEST(bench_rates_by_hand) {
    /* GPT-2 small, one layer, 4096 tokens: 2 x 7,077,888 weights x 4096 = 5.798e10 flops in 0.05 s */
    double fl = 2.0 * 7077888.0 * 4096.0;
    CHECK_REL(ll_bench_tflops(fl, 0.05), fl / 0.05 / 1e12, 1e-15);
    CHECK_REL(ll_bench_tflops(1e12, 2.0), 0.5, 1e-15);
    CHECK_REL(ll_bench_gbps(3e9, 1.5), 2.0, 1e-15);
    CHECK_REL(ll_bench_fraction(0.25, 2.0), 0.125, 1e-15);
    CHECK(ll_bench_fraction(1, 0) == 0);
    CHECK(ll_bench_tflops(1, 0) == 0);
}

TEST(bench_cpu_peaks_measure_something) {
    double g = 0, b = 0;
    REQUIRE(ll_cpu_measure_sgemm(256, 2, &g) == 0);
    CHECK(g > 0.01 && g < 1e5); /* GFLOP/s: any real CPU is inside this */
    REQUIRE(ll_cpu_measure_memcpy(8 << 20, 2, &b) == 0);
    CHECK(b > 0.01 && b < 1e4);
    CHECK(ll_peak_rss_bytes() > 1e6);
    CHECK(ll_cpu_measure_sgemm(0, 1, &g) == -1);
}
