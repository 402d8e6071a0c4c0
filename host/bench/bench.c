#include "bench/bench.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "core/ll_util.h"

void ll_bench_summarise(const double *x, int n, ll_bench_summary *s) {
    memset(s, 0, sizeof *s);
    s->n = n;
    if (n < 1) { s->mean = s->sd = s->min = s->max = NAN; return; }
    double sum = 0;
    s->min = s->max = x[0];
    for (int i = 0; i < n; i++) {
        sum += x[i];
        if (x[i] < s->min) s->min = x[i];
        if (x[i] > s->max) s->max = x[i];
    }
    s->mean = sum / n;
    double ss = 0; /* two-pass: no cancellation */
    for (int i = 0; i < n; i++) ss += (x[i] - s->mean) * (x[i] - s->mean);
    s->sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
}

double ll_bench_tflops(double flops, double seconds) { return seconds > 0 ? flops / seconds / 1e12 : 0; }
double ll_bench_gbps(double bytes, double seconds) { return seconds > 0 ? bytes / seconds / 1e9 : 0; }
double ll_bench_fraction(double achieved, double peak) { return peak > 0 ? achieved / peak : 0; }

int ll_cpu_measure_sgemm(int n, int reps, double *gflops) {
    size_t nn;
    if (n < 1 || reps < 1 || ll_mul_size((size_t)n, (size_t)n, &nn) != 0) { ll_set_error("sgemm peak: bad size %d", n); return -1; }
    float *a = ll_xmalloc_aligned(nn * sizeof(float)), *b = ll_xmalloc_aligned(nn * sizeof(float)),
          *c = ll_xmalloc_aligned(nn * sizeof(float));
    for (size_t i = 0; i < nn; i++) { a[i] = (float)((i * 7) % 13) / 13.0f; b[i] = (float)((i * 5) % 11) / 11.0f; }
    double best = 0;
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        double t0 = ll_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = ll_now() - t0;
        if (r >= 0 && dt > 0) { double g = 2.0 * n * (double)n * n / dt / 1e9; if (g > best) best = g; }
    }
    free(a);
    free(b);
    free(c);
    *gflops = best;
    return 0;
}

int ll_cpu_measure_memcpy(size_t bytes, int reps, double *gbps) {
    if (bytes < 1 || reps < 1) { ll_set_error("memcpy peak: bad size"); return -1; }
    char *src = ll_xmalloc_aligned(bytes), *dst = ll_xmalloc_aligned(bytes);
    memset(src, 1, bytes);
    memset(dst, 2, bytes);
    double best = 0;
    for (int r = -1; r < reps; r++) {
        double t0 = ll_now();
        memcpy(dst, src, bytes);
        double dt = ll_now() - t0;
        if (r >= 0 && dt > 0) { double g = 2.0 * (double)bytes / dt / 1e9; if (g > best) best = g; }
        src[r & 1023] ^= dst[(r * 31) & 1023]; /* keep the copies observable */
    }
    free(src);
    free(dst);
    *gbps = best;
    return 0;
}

double ll_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_maxrss * 1024.0; /* Linux: kilobytes */
}
