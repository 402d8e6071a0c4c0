/* CUDA backend: host-callable API (implemented in the kernels/ folder, compiled only
 * when the build has CUDA=1, which defines LL_HAVE_CUDA).  Include this header
 * anywhere; call these functions only under #ifdef LL_HAVE_CUDA.
 *
 * Every function returns 0 (or a valid pointer) on success and -1 (NULL) with
 * ll_last_error() set to one line naming the failing CUDA call, function,
 * file and line.  Nothing here runs at start-up: the binary starts without a
 * driver, and the device is touched only on the first call. */
#ifndef LL_CUDA_BACKEND_H
#define LL_CUDA_BACKEND_H
#ifdef LL_HAVE_CUDA
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
#include "capture/capture.h"
#include "ops/ops.h"
#include "probe/probe.h"

/* ---- device ------------------------------------------------------------ */
/* Selects the device (call before anything else; default 0). */
int ll_cuda_init(int device);
/* One line: "NVIDIA H100 80GB HBM3, sm_90, 132 SMs, 79.1 GiB, driver 13.0". */
int ll_cuda_describe(char *buf, int cap);
int ll_cuda_sync(void);
/* The backend's stream (a cudaStream_t), for callers that launch on it. */
void *ll_cuda_stream(void);
/* Device memory.  ll_cuda_malloc: NULL + error on failure; an out-of-memory
 * error is one line naming what did not fit (the label of ll_oom_label(),
 * backend/oom.h, or "device buffers") and the free / total memory.
 * ll_cuda_alloc: the same with a printf-style description of the buffer.
 * ll_cuda_try_alloc: 1 on out of memory (no error set: the caller may retry
 * smaller), -1 + error on any other failure.  Every allocation counts against
 * the cap LAYERLAW_CUDA_MEM_LIMIT (bytes; for tests); ll_cuda_mem_info reports
 * free / total memory with that cap applied (*limited = 1 when it is set).
 * Free every buffer with ll_cuda_free. */
void *ll_cuda_malloc(size_t bytes);
int ll_cuda_alloc(void **p, size_t bytes, const char *what_fmt, ...) __attribute__((format(printf, 3, 4)));
int ll_cuda_try_alloc(void **p, size_t bytes);
void ll_cuda_free(void *p);
int ll_cuda_mem_info(size_t *free_b, size_t *total_b, int *limited);
size_t ll_cuda_mem_used(void); /* bytes held through this allocator */
int ll_cuda_memcpy_h2d(void *dst, const void *src, size_t bytes);  /* synchronous */
int ll_cuda_memcpy_d2h(void *dst, const void *src, size_t bytes);
int ll_cuda_memset(void *dst, int value, size_t bytes);

/* ---- probe statistics on the device (kernels/probe/probe_*.cu) ---------------
 * The device twin of ll_stats (host/probe.h): per entry n, mean, M2 (centred
 * Gram), ȳ, Cxy, Syy — and for the one-hot target class counts and per-class
 * feature sums.  Device memory is E·d² doubles plus batch scratch for
 * max_rows rows; it does not grow with tokens.  Each batch is normalised per
 * row (weight 1, bias 0, in float64), centred on its own mean, its Gram
 * computed as chosen by `gram`, and folded in with Chan's pairwise update. */
typedef enum {
    LL_GRAM_FP64 = 0,   /* DSYRK on the float64 centred rows (the reference) */
    LL_GRAM_TF32X3,     /* x = hi + lo (TF32 each), hi·hiᵀ + hi·loᵀ + lo·hiᵀ on tensor cores (one GEMM,
                           K = 2m: hi·hiᵀ + 2·hi·loᵀ, symmetric part), FP32 sums per batch */
    LL_GRAM_FP32,       /* SGEMM in plain FP32 per batch */
    LL_GRAM_FP64EMU,    /* cublasGemmEx CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT (falls back to FP64 where unsupported) */
    LL_GRAM_TF32SYRK,   /* the tf32x3 terms as cublasSsyrk(hi) + cublasSsyr2k(hi, lo) with TF32 tensor-op math:
                           one triangle, 3m·d² instead of 4m·d² flops (if cuBLAS uses tensor cores there) */
    LL_GRAM_N_MODES
} ll_gram_mode;
const char *ll_gram_mode_name(ll_gram_mode m);
int ll_gram_mode_parse(const char *s, ll_gram_mode *out); /* fp64|tf32x3|fp32|fp64emu|tf32syrk */

typedef struct ll_cuda_stats ll_cuda_stats;
ll_cuda_stats *ll_cuda_stats_new(int E, int d, ll_target target, int K, long max_rows, ll_gram_mode gram);
void ll_cuda_stats_free(ll_cuda_stats *s);
int ll_cuda_stats_reset(ll_cuda_stats *s);
/* Folds n rows into entry e.  X: device float32 rows, row i at X + i*ldx
 * (ldx >= d); y: device float64 labels (token id, or class 0..K-1 for the
 * one-hot target).  n may exceed max_rows (split internally).  Rows are
 * normalised with `norm` (eps as ll_normalize_rows); LAYERNORM and
 * STANDARDIZE mark the entry ones_null.  Asynchronous on the backend stream. */
int ll_cuda_stats_add(ll_cuda_stats *s, int e, const float *X, long ldx, const double *y, long n,
                      ll_norm norm, double eps);
/* Same with a row list: row i is X + rows[i]*ldx (rows: device int64 [n]). */
int ll_cuda_stats_add_gather(ll_cuda_stats *s, int e, const float *X, long ldx, const int64_t *rows,
                             const double *y, long n, ll_norm norm, double eps);
/* Same, from host memory (X n×d contiguous). */
int ll_cuda_stats_add_host(ll_cuda_stats *s, int e, const float *X, const double *y, long n,
                           ll_norm norm, double eps);
/* Copies the statistics into a host ll_stats of the same E, d, target, K
 * (its contents are replaced), so that ll_stats_solve / ll_stats_merge apply. */
int ll_cuda_stats_download(ll_cuda_stats *s, ll_stats *dst);
/* The inverse: replaces the device statistics with a host ll_stats of the
 * same E, d, target, K (M2's upper triangle is what the solve reads), e.g.
 * statistics merged across ranks, so that ll_cuda_stats_solve applies. */
int ll_cuda_stats_upload(ll_cuda_stats *s, const ll_stats *src);
/* Copies entry src's statistics over entry dst (benchmarks, tests). */
int ll_cuda_stats_copy_entry(ll_cuda_stats *s, int dst, int src);
/* E, d and target of the statistics (any may be NULL). */
void ll_cuda_stats_shape(const ll_cuda_stats *s, int *E, int *d, ll_target *target);
/* Examples folded into entry e so far. */
double ll_cuda_stats_count(const ll_cuda_stats *s, int e);
/* Device memory held (bytes). */
size_t ll_cuda_stats_bytes(const ll_cuda_stats *s);

/* Solves every entry's probe on the device: the id target only (one-hot:
 * download and use ll_stats_solve).  The semantics of ll_stats_solve
 * (host/probe/probe.c), step by step: centred Gram; the ones direction deflated
 * (P·G·P, P = I − 11ᵀ/d) for ones_null entries or where uᵀGu <= 1e-10·tr/d;
 * OLS: diagonal equilibration, eigenvalues <= 1e-12·λmax dropped,
 * RSS = TSS − Σ_k (v_kᵀb)²/λ_k; ridge r > 0: no scaling, all eigenpairs,
 * Σ_k (v_kᵀb)²(2/(λ+r) − λ/(λ+r)²); n < 2 or TSS = 0: PR = NaN.  All entries in one batched cuSOLVER call
 * (cusolverDnXsyevBatched), split into chunks only where memory or the 32-bit
 * size limit demands; solver = 0 batched, 1 a loop of cusolverDnXsyevd. */
int ll_cuda_stats_solve(ll_cuda_stats *s, double ridge, int solver, ll_probe_result *out);
/* The same for entries [e0, e1) only (out[0 .. e1−e0)): a rank of the device
 * reduce solves its block of entries where the reduce left them. */
int ll_cuda_stats_solve_range(ll_cuda_stats *s, int e0, int e1, double ridge, int solver, ll_probe_result *out);

/* ---- the reduce across ranks in device memory (kernels/probe/probe_pack.cu;
 * driven by host/dist/dist.c through backend_cuda.c's ll_dist_devstats) ----
 * Host copies of the per-entry count, means (E·d), label mean and ones-null
 * flag (h_ones == 1): the small download the global means are made from. */
int ll_cuda_stats_moments(ll_cuda_stats *s, double *n, double *mean, double *ymean, int *ones_null);
/* Shifts every entry's comoments in place to the given global count gn[E],
 * means gmean[E·d] and label means gymean[E] (the parallel-axis theorem, the
 * formulas and rounding of host/dist/dist.c's host shift:
 * M2 += n(x̄−μ)(x̄−μ)ᵀ, Cxy += n(x̄−μ)(ȳ−ȳ_g), Syy += n(ȳ−ȳ_g)²; an entry with
 * n = 0 is unchanged), then sets mean := μ, ȳ := ȳ_g, the count := gn and the
 * ones-null flag := ones_null (where gn > 0).  After it, the statistics of
 * the ranks SUM to the merged ones.  Id target only.  Synchronous. */
int ll_cuda_stats_shift(ll_cuda_stats *s, const double *gn, const double *gmean, const double *gymean,
                        const int *ones_null);
/* Doubles entry e's reduced part takes packed: the triangle of M2
 * (d(d+1)/2, the host reduce's order), Cxy (d), Syy (1). */
size_t ll_cuda_stats_pack_len(const ll_cuda_stats *s);
/* unpack 0: entry e -> device buf (ll_cuda_stats_pack_len doubles); 1: buf ->
 * entry e.  Asynchronous on the backend stream. */
int ll_cuda_stats_pack(ll_cuda_stats *s, int e, double *buf, int unpack);
/* The ll_dist_devstats table (host/dist/dist.h) over device statistics
 * (host/backend/backend_cuda.c): *out filled, its ctx the returned object
 * (owns the one-entry pack buffer, allocated on first use).  Id target only
 * (NULL + error otherwise).  Free after the reduce; st is not owned. */
struct ll_dist_devstats;
typedef struct ll_cuda_devred ll_cuda_devred;
ll_cuda_devred *ll_cuda_devred_new(ll_cuda_stats *st, struct ll_dist_devstats *out);
void ll_cuda_devred_free(ll_cuda_devred *r);

/* ---- device probe capture (kernels/capture/capture_cuda.cu) ----------------------
 * The twin of ll_capture_probe_new (host/capture/capture.h) over device statistics.
 * Its on_entry takes HOST hidden states (uploads them: works with today's
 * ll_model_emit); ll_cuda_capture_on_entry_device takes the DEVICE entry
 * [B*T, C] directly (nothing leaves the GPU) — see docs/cuda.md for the hook
 * in ll_model_emit.  Free with ll_cuda_capture_free (not ll_capture_free). */
ll_capture *ll_cuda_capture_probe_new(ll_cuda_stats *st, int E, int d, ll_position pos, ll_norm norm,
                                      double eps, int norm_last, const ll_classmap *cmap);
/* Label ids mapped through ids->ids[k] -> to[k] (shuffled vocabulary; not owned). */
int ll_cuda_capture_probe_relabel(ll_capture *c, const ll_classmap *ids, const int64_t *to);
int ll_cuda_capture_on_entry_device(ll_capture *c, int e, const float *h_dev, const int32_t *tokens,
                                    const int *lens, int B, int T, int C);
void ll_cuda_capture_free(ll_capture *c);
long ll_cuda_capture_examples(const ll_capture *c);
/* Records the batch-start event (call right before ll_model_forward) so that
 * entry 0 (the embedding) is timed too. */
int ll_cuda_capture_mark_start(ll_capture *c);
/* Cumulative ms per entry: layer compute (arrival(e) − folded(e−1)) and
 * capture (fold of entry e).  Returns the number of batches timed. */
long ll_cuda_capture_timing(const ll_capture *c, double *layer_ms, double *capture_ms);

/* ---- op table (kernels/ops/ops_cuda.cu, the ops in kernels/ops/ops_*.cu) ------
 * The CUDA backend of host/ops/ops.h: same names and signatures as the CPU table,
 * backend pointers are device pointers.  compute: LL_DT_F32 (F32 weights run
 * plain FP32 SGEMM, no TF32) or LL_DT_BF16 (GEMM inputs in bf16, FP32
 * accumulation).  Weights may be F32, BF16 or F16 on the device. */
const ll_ops *ll_cuda_ops(void);
void *ll_cuda_ops_ctx_new(int device, ll_dtype compute);   /* NULL + error */
void ll_cuda_ops_ctx_free(void *ctx);
/* Uploads a host F32 matrix [rows, cols] as dtype (F32, BF16, F16); dst->data
 * is device memory (free with ll_cuda_free). */
int ll_cuda_upload_weight(ll_weight *dst, const float *src, int64_t rows, int64_t cols, ll_dtype dt);

/* ---- measured ceilings (kernels/bench/cuda_bench.cu) -------------------------- */
/* bf16 GEMM m=n=k=size through cublasGemmEx (FP32 accumulate): TFLOP/s, median of reps. */
int ll_cuda_measure_gemm_bf16(int size, int reps, double *tflops);
/* Device-to-device copy of `bytes`: GB/s counting bytes read + written. */
int ll_cuda_measure_copy(size_t bytes, int reps, double *gbps);
/* x[i] = scale·U(-1,1) + offsets·U(-1,1) per column (rows of `cols` floats;
 * offsets = 0: none), a counter-based hash of (i, seed): for benchmarks. */
int ll_cuda_fill_random(float *x, size_t n, int cols, uint64_t seed, float scale, float offsets);
/* A device weight [rows, cols] of dtype (F32/BF16/F16), scale·U(-1,1) (free w->data with ll_cuda_free). */
int ll_cuda_random_weight(ll_weight *w, int64_t rows, int64_t cols, ll_dtype dt, uint64_t seed, float scale);

/* In place on a device weight (data, dtype F32/BF16/F16, rows·cols values):
 * scale·U(-1,1) from a counter-based hash of (index, seed) when scale != 0,
 * else every value = `value`.  For random-weight models at real shapes
 * (bench/gpu_e2e.c); asynchronous on the backend stream. */
int ll_cuda_fill_weight(ll_weight *w, uint64_t seed, float scale, float value);

/* ---- events (per-layer timing) ------------------------------------------ */
typedef struct ll_cuda_timer ll_cuda_timer;
ll_cuda_timer *ll_cuda_timer_new(int n_marks);
void ll_cuda_timer_free(ll_cuda_timer *t);
int ll_cuda_timer_mark(ll_cuda_timer *t, int i);          /* records event i on the stream */
int ll_cuda_timer_elapsed(ll_cuda_timer *t, int i, int j, float *ms); /* syncs on j */

#ifdef __cplusplus
}
#endif
#endif /* LL_HAVE_CUDA */
#endif
