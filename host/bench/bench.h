/* Benchmark arithmetic and this machine's peaks, for `layerlaw bench`.
 *
 * Repetitions are summarised as llama-bench does: the warm-up runs are
 * dropped, then the mean and the sample standard deviation (n − 1) of the
 * rest, with the raw samples kept.  Achieved rates are counted work over
 * measured time; "fraction of peak" divides by a peak measured in the same
 * process (a large SGEMM and a large memcpy on the CPU; the CUDA bf16 GEMM and
 * device copy on a GPU), never by a datasheet number. */
#ifndef LL_BENCH_H
#define LL_BENCH_H
#include <stddef.h>

typedef struct {
    int n;            /* samples */
    double mean, sd;  /* sd: sample standard deviation (0 when n < 2) */
    double min, max;
} ll_bench_summary;

/* Summary of x[0..n) (n >= 1). */
void ll_bench_summarise(const double *x, int n, ll_bench_summary *s);

/* Achieved rates: flops / seconds / 1e12 (TFLOP/s), bytes / seconds / 1e9
 * (GB/s), and the fraction of a peak (0 when the peak is unknown). */
double ll_bench_tflops(double flops, double seconds);
double ll_bench_gbps(double bytes, double seconds);
double ll_bench_fraction(double achieved, double peak);

/* CPU peaks, measured now with the threads OpenBLAS / the process use:
 * GFLOP/s of an n×n×n SGEMM (2n³ flops; best of reps after one warm-up), and
 * GB/s of memcpy of `bytes` (read + write counted: 2·bytes per copy, as
 * STREAM's copy; best of reps).  0 or -1. */
int ll_cpu_measure_sgemm(int n, int reps, double *gflops);
int ll_cpu_measure_memcpy(size_t bytes, int reps, double *gbps);

/* Peak resident memory of this process so far (bytes, getrusage). */
double ll_peak_rss_bytes(void);
#endif
