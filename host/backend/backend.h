/* One backend interface: the op table a forward runs on, and the probe (the
 * statistics and the capture sink that folds every entry into them), chosen
 * once.  The CPU backend (host/backend/backend.c) and the CUDA backend
 * (host/backend/backend_cuda.c, built when the toolkit is present) fill the
 * same struct; nothing outside those two files tests which one it is.
 *
 *   ll_backend_select   decides (auto|cpu|cuda, compute type) without touching
 *                       a device: input errors come back before any work;
 *   ll_backend_open     initialises it (device context, threads);
 *   b->probe_new        statistics + sink for E entries of width d;
 *   b->probe_get_stats  a host copy of the statistics (reduce across ranks,
 *                       pack, merge);
 *   b->probe_solve      every entry's probe (CUDA: one batched cuSOLVER call);
 *   b->probe_devstats   the statistics for a reduce across ranks that leaves
 *                       them on the device (CUDA + NCCL);
 *   b->probe_timing     per-entry device time (NULL where not measured). */
#ifndef LL_BACKEND_H
#define LL_BACKEND_H
#include <stdio.h>
#include "capture/capture.h"
#include "ops/ops.h"
#include "probe/probe.h"

typedef struct {
    const char *name;  /* "cpu" or "cuda" */
    int device;
    int gpu;           /* the GPU it computes on (-1: none, host memory): binding, NCCL */
    int bf16;          /* compute: 1 bf16 GEMMs (CUDA), 0 fp32 */
    int keep_half;     /* load matrices as stored (F16/BF16) */
    int have_device;   /* a usable CUDA device was found */
    char why[256];     /* what was found (device name, or why not) */
} ll_backend_choice;

/* requested: auto|cpu|cuda; compute: auto|bf16|fp32.  0, or -1 with a
 * one-line error (unknown name, cuda requested but absent, bf16 on the CPU). */
int ll_backend_select(const char *requested, const char *compute, int device, ll_backend_choice *out);
/* The values of --backend and --compute, NULL-terminated, then an empty
 * alias list (cli/opts.h's LL_OPT_CHOICE form; sweeps check against them too). */
extern const char *const ll_backend_names[];
extern const char *const ll_compute_names[];

typedef struct {
    int E, d;
    ll_target target;
    int K;                 /* one-hot classes (0: id target) */
    long max_rows;         /* the most rows of one batch (device scratch) */
    ll_position pos;
    ll_norm norm;
    double eps;
    int norm_last;
    const ll_classmap *cmap;          /* one-hot: token id -> class */
    const ll_classmap *relabel_ids;   /* shuffled vocabulary: ids -> relabel_to (not owned) */
    const int64_t *relabel_to;
} ll_probe_opts;

typedef struct ll_backend ll_backend;
struct ll_dist_devstats; /* host/dist/dist.h */
struct ll_backend {
    const char *name;
    const ll_ops *ops;
    void *ctx;
    int threads;
    char description[256];
    ll_capture *(*probe_new)(ll_backend *b, const ll_probe_opts *o);
    long (*probe_examples)(const ll_capture *c);
    int (*probe_get_stats)(ll_capture *c, ll_stats *host);  /* host has the probe's E, d, target, K */
    int (*probe_solve)(ll_capture *c, double ridge, int threads, ll_probe_result *out);
    /* Solves statistics given in host memory (e.g. merged across ranks) where
     * this backend solves: the CPU with ll_stats_solve, CUDA uploads them and
     * runs the batched device solve (id target; one-hot on the host). */
    int (*solve_stats)(ll_backend *b, const ll_stats *st, double ridge, int threads, ll_probe_result *out);
    /* The probe's statistics as a table host/dist can reduce across ranks
     * without copying them to the host (ll_dist_reduce_solve_device): 0 and
     * *out filled, or 1 when they cannot be (NULL hook: the CPU backend;
     * CUDA: the one-hot target).  Valid until probe_free. */
    int (*probe_devstats)(ll_capture *c, struct ll_dist_devstats *out);
    void (*probe_free)(ll_capture *c);
    /* device timing: mark the start of a batch (before the forward), then
     * cumulative ms per entry; NULL where the backend does not time */
    int (*probe_batch_start)(ll_capture *c);
    long (*probe_timing)(const ll_capture *c, double *layer_ms, double *capture_ms);
    /* the bf16 GEMM ceiling measured now (TFLOP/s), or 0 */
    double (*measure_peak_tflops)(ll_backend *b);
    void (*close)(ll_backend *b);
};

/* The one line saying which backend runs and why ("using the CPU backend
 * (no usable NVIDIA driver)"), in buf; returns buf. */
const char *ll_backend_notice(const ll_backend_choice *c, char *buf, size_t cap);

/* NULL + error (a runtime failure: the choice was validated by select). */
ll_backend *ll_backend_open(const ll_backend_choice *c, int threads);
void ll_backend_close(ll_backend *b);

/* The backends' own constructors (used by ll_backend_open). */
ll_backend *ll_backend_cpu_open(int threads);
ll_backend *ll_backend_cuda_open(int device, int bf16, int threads); /* NULL + error when not built */
#endif
