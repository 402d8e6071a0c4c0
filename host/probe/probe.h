/* The probe engine: per-entry streaming statistics in float64 and the linear
 * probe solve (He & Su 2024: PR = RSS/TSS of an OLS fit with intercept).
 *
 * Statistics per entry e (E entries, d features):
 *   n, mean x (d), M2 = Σ (x-x̄)(x-x̄)ᵀ (d×d), ȳ, Cxy = Σ (x-x̄)(y-ȳ) (d), Syy = Σ (y-ȳ)².
 * Batches are folded in with the pairwise (Chan et al.) update, so adding
 * shard A then merging shard B equals one pass over A∪B up to rounding.
 * For the one-hot target, class counts and per-class feature sums are kept
 * too (classes 0..K-1; map token ids to classes with ll_classmap).
 *
 * Solve: minimum-norm least squares on the centred Gram matrix (eigen-
 * decomposition; eigenvalues below 1e-12·λmax are treated as zero; when the
 * features lie in the hyperplane Σx = 0 — LayerNorm/standardised features —
 * that direction is deflated exactly first).  RSS = TSS − Σ_k (v_kᵀb)²/λ_k. */
#ifndef LL_PROBE_H
#define LL_PROBE_H
#include <stddef.h>
#include <stdint.h>
#include "core/ll_util.h" /* ll_splitmix64 */

typedef enum { LL_TARGET_ID = 0, LL_TARGET_ONEHOT = 1 } ll_target;

typedef struct {
    int E, d;
    ll_target target;
    int K;              /* one-hot classes (0 for the id target) */
    double *n;          /* [E] */
    double *mean;       /* [E*d] */
    double *M2;         /* [E*d*d] symmetric (both triangles kept) */
    double *ymean;      /* [E] */
    double *Cxy;        /* [E*d] */
    double *Syy;        /* [E] */
    double *class_n;    /* [E*K]       one-hot only */
    double *class_sum;  /* [E*K*d] raw Σx per class, one-hot only */
    int *ones_null;     /* [E] 1: features known to satisfy Σx = 0 (deflate 1/√d) */
} ll_stats;

ll_stats *ll_stats_new(int E, int d, ll_target target, int K);
void ll_stats_free(ll_stats *s);
void ll_stats_reset(ll_stats *s);
/* Adds n rows X (n×d, row-major, float64) for entry e with labels y: the
 * token id (id target) or the class index 0..K-1 (one-hot).  X is used as
 * scratch (centred in place).  Different entries may be added from
 * different threads at once; the same entry may not. */
void ll_stats_add(ll_stats *s, int e, double *X, const double *y, long n);
/* Bytes held by the statistics (E·d² dominates). */
size_t ll_stats_bytes(const ll_stats *s);
/* dst ⊕= src (same E, d, target, K). */
int ll_stats_merge(ll_stats *dst, const ll_stats *src);

/* Statistics that travel (between ranks, to files): one flat float64 buffer
 * [magic, version, E, d, target, K, n[E], mean[E*d], M2[E*d*d], ymean[E],
 * Cxy[E*d], Syy[E], ones_null[E], class_n[E*K], class_sum[E*K*d]].
 * ll_stats_pack_len is its length in doubles; ll_stats_unpack checks the
 * header against dst's shape (-1 + error "statistics: ..." otherwise) and
 * replaces dst's contents.  pack then unpack is the identity, bit for bit. */
/* Entries [e0, e1) of s as statistics of their own: a view into s's arrays
 * (no copy; valid while s is). */
ll_stats ll_stats_view(const ll_stats *s, int e0, int e1);
size_t ll_stats_pack_len(const ll_stats *s);
void ll_stats_pack(const ll_stats *s, double *buf);
int ll_stats_unpack(ll_stats *dst, const double *buf, size_t len);

typedef struct {
    double pr;    /* RSS / TSS */
    double rss, tss;
    double n;     /* examples */
    int rank;     /* numerical rank of the centred Gram matrix used */
} ll_probe_result;

/* A result as LL_PROBE_RESULT_DOUBLES doubles (pr, rss, tss, n, rank), for
 * sums across ranks in which each result is non-zero on one rank only. */
#define LL_PROBE_RESULT_DOUBLES 5
void ll_probe_result_to_doubles(const ll_probe_result *r, double *o);
void ll_probe_result_from_doubles(const double *o, ll_probe_result *r);

/* Solves every entry's probe (threads in parallel; threads<=0: all cores).
 * ridge >= 0 (0 = OLS, minimum norm).  Returns 0 or -1 with error set. */
int ll_stats_solve(const ll_stats *s, double ridge, int threads, ll_probe_result *out);

/* One entry's OLS solve (id target) with its coefficients: beta[d] such
 * that the fitted value of x is ȳ + (x − x̄)ᵀβ (the minimum-norm solution in
 * the equilibrated coordinates of the solve above; the ones direction is
 * zero when deflated).  Single-threaded; 0 or -1. */
int ll_stats_solve_beta(const ll_stats *s, int e, double *beta, ll_probe_result *r);

/* The exact deflation of the ones direction the solve applies to LayerNorm'd
 * / standardised features: G <- P G P (G d×d, full, row-major) and each of
 * nrhs right-hand sides B[c*d..] <- P B (B may be NULL), P = I − 11ᵀ/d. */
void ll_deflate_ones(double *G, double *B, int d, int nrhs);

/* Whether the features of a d×d second-moment matrix M2 (upper triangle read)
 * lie in Σx = 0: the Rayleigh quotient of 1/√d on M2 is below 1e-10 of the
 * mean diagonal (and the trace is positive).  Shared by the PR and the
 * fuzziness solves, so that both deflate the same entries. */
int ll_ones_null(const double *M2, int d);

/* Runs fn(ctx, i) for i in 0..n-1 on min(threads, n) OpenMP threads
 * (threads <= 0: every processor), each OpenBLAS/LAPACK call single-threaded
 * (no nesting).  Returns 0, or -1 with ll_last_error() the message of a
 * failing call.  The solves of every entry, fold and measure go through it. */
int ll_parallel_for(int n, int threads, int (*fn)(void *ctx, int i), void *ctx);

/* Maps label values (token ids) to dense class indices 0..K-1. */
typedef struct { int64_t *ids; int K; } ll_classmap; /* ids sorted */
int ll_classmap_build(ll_classmap *m, const int64_t *labels, long n);
int ll_classmap_index(const ll_classmap *m, int64_t id); /* -1 if absent */
void ll_classmap_free(ll_classmap *m);

/* The law: least-squares line of log10 PR over entries first..E-1 against
 * x = 0..E-1-first. */
typedef struct {
    int first_entry, n_points;
    double slope, intercept, r2, pearson_r, decay_ratio, overall_ratio;
} ll_law;
int ll_law_fit(const double *pr, int E, int first, ll_law *out);

/* The shuffled-vocabulary control (portable RNG: ll_splitmix64, core/ll_util.h): maps each
 * label through a random permutation of the distinct ids present (seeded
 * Fisher-Yates over the sorted ids), as the authors' 'shuffled-vocabulary'. */
void ll_shuffle_vocab(int64_t *labels, long n, uint64_t seed);
/* The permutation itself: perm[k] is the id that m->ids[k] becomes. */
void ll_vocab_permutation(const ll_classmap *m, uint64_t seed, int64_t *perm);

/* Normalisations applied per row (in float64).  eps ignored by standardize
 * (numpy std, no eps, as the authors). */
typedef enum { LL_NORM_NONE = 0, LL_NORM_LAYERNORM, LL_NORM_RMSNORM, LL_NORM_STANDARDIZE } ll_norm;
const char *ll_norm_name(ll_norm n);
int ll_norm_parse(const char *s, ll_norm *out); /* "initialized" is the caller's (the model's own norm) */
/* The values of a --norm option, NULL-terminated, then the aliases,
 * NULL-terminated (cli/opts.h's LL_OPT_CHOICE form): "initialized" first. */
extern const char *const ll_norm_choices[];
void ll_normalize_rows(double *X, long n, int d, ll_norm kind, double eps);
#endif
