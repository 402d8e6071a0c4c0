/* GPU benchmarks (run by scripts/gpu-check.sh on the device machine):
 *   copy     device-to-device copy bandwidth (bytes read + written)
 *   gemm     bf16 GEMM through cuBLAS, FP32 accumulate: the peak we report against
 *   gram     probe-statistics accumulation per Gram mode: ms per batch, input
 *            GB/s, TFLOP/s (2·m·d² per batch, a full XᵀX), and the accuracy of
 *            each mode against the float64 DSYRK path (M2 and PR)
 *   solve    batched probe solve: E=13,d=768 and E=33,d=4096 (cusolverDnXsyevBatched)
 *            and the loop of cusolverDnXsyevd for comparison
 * Usage: gpu_bench [--csv FILE] [--quick] [section ...]
 * Each result is printed (and appended to the CSV) as soon as it is measured,
 * so a run cut short by a timeout still leaves what it measured. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef LL_HAVE_CUDA
#include "cuda_backend.h"
#include "ll_util.h"
#include "probe.h"

static FILE *g_csv;
static int g_quick;

static void result(const char *bench, const char *params, const char *metric, double value, const char *unit) {
    printf("%-8s %-44s %-22s %12.4g %s\n", bench, params, metric, value, unit);
    fflush(stdout);
    if (g_csv) {
        fprintf(g_csv, "%s,\"%s\",%s,%.6g,%s\n", bench, params, metric, value, unit);
        fflush(g_csv);
    }
}
static int fail(const char *what) {
    printf("FAILED %s: %s\n", what, ll_last_error());
    fflush(stdout);
    return 1;
}

static int bench_copy(void) {
    double gbps;
    if (ll_cuda_measure_copy((size_t)2 << 30, g_quick ? 5 : 20, &gbps)) return fail("copy");
    result("copy", "2 GiB device-to-device", "bandwidth", gbps, "GB/s (read+write)");
    return 0;
}

static int bench_gemm(void) {
    int sizes[] = {4096, 8192};
    for (int i = 0; i < 2; i++) {
        double tf;
        if (ll_cuda_measure_gemm_bf16(sizes[i], g_quick ? 3 : 10, &tf)) return fail("gemm");
        char p[64];
        snprintf(p, sizeof p, "bf16 %d^3, fp32 accumulate", sizes[i]);
        result("gemm", p, "rate", tf, "TFLOP/s");
    }
    return 0;
}

static double *labels_device(long m, uint64_t seed) {
    double *h = malloc(sizeof(double) * (size_t)m);
    uint64_t st = seed;
    for (long i = 0; i < m; i++) h[i] = (double)(ll_splitmix64(&st) % 50000);
    double *d = ll_cuda_malloc(sizeof(double) * (size_t)m);
    if (d && ll_cuda_memcpy_h2d(d, h, sizeof(double) * (size_t)m)) { ll_cuda_free(d); d = NULL; }
    free(h);
    return d;
}

/* Time per batch of m rows for each mode; then the accuracy of the final
 * statistics after `nb` distinct batches against the FP64 path. */
static int bench_gram(int d, long m) {
    int nb = 4, reps = g_quick ? 3 : 10;
    float *X = ll_cuda_malloc(sizeof(float) * (size_t)m * d * nb);
    double *y = labels_device(m * nb, 7);
    if (!X || !y) return fail("gram alloc");
    /* features with per-column offsets (as hidden states have) */
    if (ll_cuda_fill_random(X, (size_t)m * d * nb, d, 11, 1.0f, 4.0f)) return fail("fill");
    ll_stats *ref = NULL;
    ll_probe_result rref = {0};
    char p[96];
    for (int mode = 0; mode < LL_GRAM_N_MODES; mode++) {
        ll_cuda_stats *s = ll_cuda_stats_new(1, d, LL_TARGET_ID, 0, m, (ll_gram_mode)mode);
        if (!s) return fail("gram stats");
        /* warm-up */
        if (ll_cuda_stats_add(s, 0, X, d, y, m, LL_NORM_LAYERNORM, 1e-5) || ll_cuda_sync()) {
            printf("FAILED gram %s: %s\n", ll_gram_mode_name((ll_gram_mode)mode), ll_last_error());
            ll_cuda_stats_free(s);
            continue;
        }
        ll_cuda_timer *t = ll_cuda_timer_new(2);
        ll_cuda_timer_mark(t, 0);
        for (int r = 0; r < reps; r++)
            if (ll_cuda_stats_add(s, 0, X + (size_t)(r % nb) * m * d, d, y + (r % nb) * m, m, LL_NORM_LAYERNORM, 1e-5))
                return fail("gram add");
        ll_cuda_timer_mark(t, 1);
        float ms;
        if (ll_cuda_timer_elapsed(t, 0, 1, &ms)) return fail("gram timer");
        ll_cuda_timer_free(t);
        double per = ms / reps;
        snprintf(p, sizeof p, "%s d=%d m=%ld layernorm", ll_gram_mode_name((ll_gram_mode)mode), d, m);
        result("gram", p, "ms/batch", per, "ms");
        result("gram", p, "input", (double)m * d * 4 / (per * 1e-3) / 1e9, "GB/s");
        result("gram", p, "rate(2md^2)", 2.0 * m * (double)d * d / (per * 1e-3) / 1e12, "TFLOP/s");
        result("gram", p, "tokens/s", m / (per * 1e-3), "rows/s (one entry)");
        /* accuracy: fresh statistics over nb distinct batches */
        ll_cuda_stats_reset(s);
        for (int b = 0; b < nb; b++)
            if (ll_cuda_stats_add(s, 0, X + (size_t)b * m * d, d, y + b * m, m, LL_NORM_LAYERNORM, 1e-5))
                return fail("gram add");
        ll_stats *h = ll_stats_new(1, d, LL_TARGET_ID, 0);
        if (ll_cuda_stats_download(s, h)) return fail("download");
        ll_probe_result r;
        if (ll_cuda_stats_solve(s, 0, 0, &r)) return fail("solve");
        if (mode == LL_GRAM_FP64) {
            ref = h;
            rref = r;
            result("gram", p, "PR(fp64 reference)", r.pr, "");
        } else if (ref) {
            double mx = 0, sc = 0;
            for (size_t i = 0; i < (size_t)d * d; i++) {
                double df = fabs(h->M2[i] - ref->M2[i]);
                if (df > mx) mx = df;
                if (fabs(ref->M2[i]) > sc) sc = fabs(ref->M2[i]);
            }
            result("gram", p, "M2 max rel err vs fp64", mx / sc, "");
            result("gram", p, "PR rel diff vs fp64", fabs(r.pr - rref.pr) / rref.pr, "");
            ll_stats_free(h);
        }
        ll_cuda_stats_free(s);
    }
    ll_stats_free(ref);
    ll_cuda_free(X);
    ll_cuda_free(y);
    return 0;
}

static int bench_solve(int E, int d, int solver) {
    long m = d + 512;
    float *X = ll_cuda_malloc(sizeof(float) * (size_t)m * d);
    double *y = labels_device(m, 3);
    if (!X || !y) return fail("solve alloc");
    if (ll_cuda_fill_random(X, (size_t)m * d, d, 5, 1.0f, 2.0f)) return fail("fill");
    ll_cuda_stats *s = ll_cuda_stats_new(E, d, LL_TARGET_ID, 0, 4096, LL_GRAM_TF32X3);
    if (!s) return fail("solve stats");
    /* entry 0 LayerNorm'd (deflated), entry 1 RMSNorm'd, the rest copies */
    if (ll_cuda_stats_add(s, 0, X, d, y, m, LL_NORM_LAYERNORM, 1e-5)) return fail("add");
    if (E > 1 && ll_cuda_stats_add(s, 1, X, d, y, m, LL_NORM_RMSNORM, 1e-5)) return fail("add");
    for (int e = 2; e < E; e++)
        if (ll_cuda_stats_copy_entry(s, e, e % 2)) return fail("copy entry");
    ll_probe_result *r = calloc((size_t)E, sizeof *r);
    if (ll_cuda_sync()) return fail("sync");
    double t0 = ll_now();
    int rc = ll_cuda_stats_solve(s, 0, solver, r);
    double t1 = ll_now();
    char p[96];
    snprintf(p, sizeof p, "E=%d d=%d %s", E, d, solver == 0 ? "XsyevBatched" : "loop Xsyevd");
    if (rc) {
        printf("FAILED solve %s: %s\n", p, ll_last_error());
    } else {
        result("solve", p, "time", t1 - t0, "s");
        result("solve", p, "PR entry0/1", r[0].pr, E > 1 ? "" : "");
        if (E > 1) result("solve", p, "PR entry1", r[1].pr, "");
        result("solve", p, "rank entry0 (LN: d-1)", r[0].rank, "");
    }
    free(r);
    ll_cuda_stats_free(s);
    ll_cuda_free(X);
    ll_cuda_free(y);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    const char *sections[16];
    int ns = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            g_csv = fopen(argv[++i], "a");
        } else if (!strcmp(argv[i], "--quick")) {
            g_quick = 1;
        } else if (ns < 16) {
            sections[ns++] = argv[i];
        }
    }
    if (ns == 0) {
        static const char *all[] = {"copy", "gemm", "gram", "solve"};
        for (int i = 0; i < 4; i++) sections[ns++] = all[i];
    }
    char desc[512];
    if (ll_cuda_init(0) || ll_cuda_describe(desc, sizeof desc)) {
        printf("FAILED device: %s\n", ll_last_error());
        return 2;
    }
    printf("device: %s\n", desc);
    int bad = 0;
    for (int k = 0; k < ns; k++) {
        const char *s = sections[k];
        if (!strcmp(s, "copy")) bad |= bench_copy();
        else if (!strcmp(s, "gemm")) bad |= bench_gemm();
        else if (!strcmp(s, "gram")) { bad |= bench_gram(768, 4096); bad |= bench_gram(4096, 4096); }
        else if (!strcmp(s, "solve")) {
            bad |= bench_solve(13, 768, 0);
            bad |= bench_solve(13, 768, 1);
            bad |= bench_solve(4, 4096, 1);
            bad |= bench_solve(33, 4096, 0);
        } else if (!strcmp(s, "solve-loop-big")) bad |= bench_solve(33, 4096, 1);
        else { printf("unknown section %s\n", s); bad = 1; }
    }
    if (g_csv) fclose(g_csv);
    return bad ? 1 : 0;
}
#else
int main(void) {
    printf("gpu_bench: built without CUDA\n");
    return 2;
}
#endif
