/* The stable C ABI of the Python package (python/layerlaw, through ctypes):
 * plain C types only (ints, doubles, pointers, strings), no structs cross it,
 * so that a binding needs no header.  Built into build/liblayerlaw.so by
 * `make shared` (with the command line inside, for ll_api_cli).
 *
 * Every function returns 0 on success; -1 on a failure inside the library
 * (ll_api_last_error: one line); -2 on bad input (the line names the problem:
 * a non-finite feature, too few examples, constant labels).  Nothing here
 * prints; the library's warnings are kept (ll_api_take_warnings). */
#ifndef LL_API_H
#define LL_API_H
#include <stddef.h>
#include <stdint.h>

#define LL_API_VERSION 1
int ll_api_version(void);
const char *ll_api_layerlaw_version(void); /* LL_VERSION */
int ll_api_cuda_compiled(void);
const char *ll_api_last_error(void);
/* The warnings since the last call ('\n' after each), copied into buf (cap
 * bytes, always terminated) and forgotten; returns their full length. */
size_t ll_api_take_warnings(char *buf, size_t cap);

/* Streaming statistics with fit's exact arithmetic: rows are converted to
 * float64, kept in blocks of batch_rows examples (aligned to the example
 * count since the start, whatever the sizes of the adds), and each full block
 * is normalised (ll_normalize_rows: every entry but the last, all with
 * norm_last) and folded (ll_stats_add) as `layerlaw fit --batch-rows R` does,
 * so the statistics are bit for bit fit's on the same examples.
 * norm: ll_norm (0 none, 1 layernorm, 2 rmsnorm, 3 standardize); threads <= 0:
 * every processor.  Memory: E·d² doubles of statistics and, once added to, a
 * block of batch_rows·E·d doubles. */
typedef struct ll_api_stats ll_api_stats;
ll_api_stats *ll_api_stats_new(int E, int d, int norm, double eps, int norm_last, long batch_rows, int threads);
void ll_api_stats_free(ll_api_stats *s);
/* dtype of the features */
enum { LL_API_F32 = 0, LL_API_F64 = 1, LL_API_F16 = 2, LL_API_BF16 = 3 };
/* n examples: entry e of example i is the d contiguous values at
 * (const char *)base[e] + i * row_stride[e] * element size; labels[i] the
 * token id.  Every value is checked first: a NaN or Inf leaves the
 * statistics as they were and returns -2 ("example I, entry E: non-finite
 * value (NaN or Inf)", I counted from the first example of this call). */
int ll_api_stats_add(ll_api_stats *s, int dtype, const void *const *base, const int64_t *row_stride,
                     const int64_t *labels, long n);
/* n examples in DEVICE memory of CUDA device `device` (a backend built with
 * CUDA): base[e] the (n, d) row-major float32 rows of entry e, labels[n] in
 * host memory.  They are normalised and folded by the CUDA backend's
 * statistics (kernels/probe/, in blocks of at most batch_rows), which are
 * downloaded and merged into the host statistics at solve / merge / pack
 * (so the result equals the CPU statistics to float64 rounding, not bit for
 * bit).  Returns when the device has finished reading base.  -1 + error
 * when the library has no CUDA backend or no device. */
int ll_api_stats_add_device(ll_api_stats *s, int device, const void *const *base, const int64_t *labels, long n);
long ll_api_stats_count(const ll_api_stats *s);
/* dst ⊕= src: both blocks in progress are folded first (src's into a copy),
 * then the statistics merged (Chan et al.; same E, d and norm settings). */
int ll_api_stats_merge(ll_api_stats *dst, const ll_api_stats *src);
/* Solves every entry (the block in progress folded into a copy: s is not
 * changed).  out[E*5]: pr, rss, tss, n, rank of each entry.  Needs at least
 * 2 examples and labels that are not constant (-2 otherwise). */
int ll_api_stats_solve(const ll_api_stats *s, double ridge, double *out);
/* The statistics as one flat float64 buffer (ll_stats_pack of a copy with the
 * block in progress folded), for pickling; ll_api_stats_unpack replaces the
 * statistics of a new, empty s. */
size_t ll_api_stats_pack_len(const ll_api_stats *s);
int ll_api_stats_pack(const ll_api_stats *s, double *buf);
int ll_api_stats_unpack(ll_api_stats *s, const double *buf, size_t len);

/* The law (ll_law_fit): law[8] = first_entry, n_points, slope, intercept, r2,
 * pearson_r, decay_ratio, overall_ratio.  0 / -2 (too few entries). */
int ll_api_law_fit(const double *pr, int E, int first, double *law);

/* law.json + layers.csv in outdir, as the command line writes them
 * (ll_report_write): res[E*5] as ll_api_stats_solve's, the law fitted from
 * entry fit_from (fit_from < 0: no law), config and extra JSON objects as
 * text (extra's members go to the top level; NULL: none).  figure: also the
 * per-run figure (law.png, law.svg) when gnuplot is present.  0 / -1. */
int ll_api_write(const char *outdir, const double *res, int E, int fit_from, long n_examples, int dim,
                 const char *config_json, const char *extra_json, int figure);
/* n files in dir, all or none (ll_write_files_atomic). */
int ll_api_write_files(const char *dir, int n, const char *const *names, const void *const *data,
                       const size_t *lens);
/* The per-run figure beside outdir/law.json: 0 drawn, 1 no gnuplot, -1 error. */
int ll_api_figure(const char *outdir);

/* The command line in this process: argv[0] "layerlaw", argv[1] the command
 * (run, fit, ...), as build/layerlaw.  Returns its exit status; on a
 * non-zero status ll_api_last_error holds the line it printed. */
int ll_api_cli(int argc, char **argv);
#endif
