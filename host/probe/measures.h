/* The paper's other measures, from the same streaming statistics as the PR
 * probe (host/probe/probe.h).  Definitions and formulas: docs/measures.md.
 *
 *   pr         RSS/TSS of the scalar token-id probe (the paper's PR)
 *   onehot     ΣRSS/ΣTSS of the one-hot multi-output probe (target onehot)
 *   fuzziness  separation fuzziness D = tr(Sw · pinv(Sb)) (the authors'
 *              feature_quality_assessment.py:get_separation_fuzziness):
 *              Sb = Σ_c n_c μ_c μ_cᵀ / N, Sw = Σ_c Σ_{i∈c} (x_i−x̄_c)(x_i−x̄_c)ᵀ / N
 *              on the centred features, classes = label ids.  Streaming:
 *              N·Sb = Σ_c s_c s_cᵀ / n_c with s_c = S_c − n_c x̄ (the one-hot
 *              class sums), N·Sw = M2 − N·Sb.
 *
 * Held-out PR (folds): the examples are split into K folds by a hash of
 * their group (sequence) index; one ll_stats per fold; for fold k the probe
 * is fitted on the merge of the other folds and its residual on fold k is
 * computed exactly from fold k's own moments.  See ll_folds_solve. */
#ifndef LL_MEASURES_H
#define LL_MEASURES_H
#include <stddef.h>
#include <stdint.h>
#include "probe/probe.h"

typedef enum { LL_MEASURE_PR = 0, LL_MEASURE_FUZZINESS, LL_MEASURE_ONEHOT } ll_measure;
int ll_measure_parse(const char *s, ll_measure *out); /* 0 / -1 with error */
/* The names, NULL-terminated, then the aliases (cli/opts.h's LL_OPT_CHOICE form). */
extern const char *const ll_measure_choices[];
const char *ll_measure_name(ll_measure m);
/* The statistics' target a measure needs (fuzziness and onehot keep class sums). */
ll_target ll_measure_target(ll_measure m);

/* ---- separation fuzziness -------------------------------------------- */
typedef struct {
    double D;            /* tr(Sw · pinv(Sb)) */
    double tr_sw, tr_sb; /* tr(Sw), tr(Sb) (each divided by N, as the authors) */
    int rank;            /* rank of Sb kept by the pseudo-inverse */
    double n;            /* examples */
} ll_sepfuzz_result;
/* Every entry of s (target onehot: class_n/class_sum present); threads <= 0:
 * all cores.  pinv(Sb) keeps the eigenvalues above 1e-12·λmax (the PR
 * solve's threshold); when ones_null[e] the ones direction is projected out
 * of Sb and Sw first.  D = NaN for an entry with fewer than 2 examples or
 * Sb = 0.  0 or -1. */
int ll_fuzziness_solve(const ll_stats *s, int threads, ll_sepfuzz_result *out);

/* Class budget: with more than max_classes distinct classes, the
 * max_classes−1 most frequent (ties: smaller id first) keep their own class
 * and every other class is pooled into one class, index max_classes−1.
 * class_of[k] (k indexes m->ids) receives the dense class; returns the
 * number of dense classes, and *pooled_examples the examples in the pooled
 * class (0 when nothing is pooled).  max_classes <= 0 or >= m->K: identity. */
int ll_classmap_cap(const ll_classmap *m, const int64_t *labels, long n, int max_classes, int *class_of,
                    long *pooled_examples);
/* The same plan for a streaming run, from counts: label id lab[k] (after any
 * shuffle) was seen counts[k] times.  to[k] receives the id lab[k] is
 * relabelled to: itself, or for a pooled class the smallest pooled id (one
 * sentinel id per pool); cmap the distinct ids of to (the classes).
 * Returns the number of classes (cmap->K). */
int ll_class_plan(const int64_t *lab, const long *counts, int n, int max_classes, int64_t *to, ll_classmap *cmap,
                  long *pooled_examples);
/* The largest class count whose class sums (E·K·(d+1) doubles) fit in
 * budget_bytes (at least 2). */
int ll_classes_that_fit(int E, int d, double budget_bytes);

/* ---- held-out PR ------------------------------------------------------ */
#define LL_FOLDS_MAX 32
/* Fold of a group (sequence index): splitmix64 of seed ^ (group · 0xD1B54A32D192ED03),
 * modulo K.  The same on every machine. */
int ll_fold_of(uint64_t group, uint64_t seed, int K);

typedef struct {
    int K, E, d;
    uint64_t seed;
    ll_stats **fold; /* [K] id target */
} ll_folds;
ll_folds *ll_folds_new(int K, uint64_t seed, int E, int d);
void ll_folds_free(ll_folds *f);
/* Bytes the fold statistics hold (K·E·d² doubles dominate). */
size_t ll_folds_bytes(const ll_folds *f);
/* Adds n rows of entry e; fold[i] in 0..K-1 is row i's fold.  X is used as
 * scratch.  Thread rules as ll_stats_add (different entries at once). */
void ll_folds_add(ll_folds *f, int e, double *X, const double *y, const int *fold, long n);
/* total (same E, d, id target, zeroed, ones_null set by the caller) ⊕= every
 * fold, in fold order: the in-sample statistics of all examples. */
int ll_folds_merge_into(const ll_folds *f, ll_stats *total);

typedef struct {
    int K, E;
    double *pr;        /* [E] out-of-fold PR: Σ_k RSS_k / TSS (TSS of all examples) */
    double *rss;       /* [E] Σ_k RSS_k */
    double *pr_fold;   /* [E*K] RSS_k / TSS_k (fold k's own centred TSS) */
    double *pr_train;  /* [E*K] in-sample PR of the fit on all folds but k */
    double *fold_n;    /* [K] examples per fold (entry 0) */
} ll_heldout;
/* Solves the E·K leave-one-fold-out probes (OLS, id target).  total is the
 * merged statistics (for TSS).  Fails when a fold has no examples.  0 / -1. */
int ll_folds_solve(const ll_folds *f, const ll_stats *total, int threads, ll_heldout *out);
void ll_heldout_free(ll_heldout *h);
/* Mean and sample standard deviation (ddof 1) of pr_fold over folds, entry e. */
void ll_heldout_fold_spread(const ll_heldout *h, int e, double *mean, double *sd);

/* Leave-one-fold-out jackknife of a law parameter: values[k] from the law
 * fitted on pr_train[·,k]; se = sqrt((K−1)/K · Σ (θ_k − θ̄)²); interval
 * estimate ± t(0.975, K−1)·se around the full-data estimate. */
typedef struct {
    int K;
    double estimate, se, lo, hi, t, mean;
    double values[LL_FOLDS_MAX];
} ll_jackknife;
/* slope and Pearson r of the law fitted from entry first on; full is the
 * law on all examples.  0 / -1 (a law fit failed). */
int ll_jackknife_law(const ll_heldout *h, int first, const ll_law *full, ll_jackknife *slope, ll_jackknife *pearson_r);
/* Student t quantile 0.975 for df = 1..LL_FOLDS_MAX−1 (table). */
double ll_t975(int df);
#endif
