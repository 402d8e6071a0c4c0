/* Results: DIR/law.json and DIR/layers.csv, written as one set (both appear
 * or neither; an old set is kept until the new one is complete), and the
 * readable table on stdout.  The one module that owns the result formats. */
#ifndef LL_REPORT_H
#define LL_REPORT_H
#include <stdio.h>
#include <cJSON.h>
#include "probe/measures.h"
#include "probe/probe.h"

/* Before any work: outdir is a writable folder, or can be created (its
 * nearest existing ancestor is a writable folder).  0, or -1 + error. */
int ll_report_check_outdir(const char *outdir);
/* law may be NULL (fewer than 3 points: no law fit).  config and extra are
 * taken over (freed); extra's members (model, throughput, ...) are added to
 * the top level of law.json.  Creates outdir if needed. */
int ll_report_write(const char *outdir, const ll_probe_result *res, int E, const ll_law *law,
                    long n_examples, int dim, cJSON *config, cJSON *extra);
void ll_report_print(FILE *f, const ll_probe_result *res, int E, const ll_law *law, long n_examples, int dim);
/* The same with a measure other than PR and extra per-layer columns
 * (docs/measures.md).  value_key names the value in law.json/layers.csv
 * ("pr" when NULL; log10_<key> beside it), rss_key/tss_key the two sums
 * (res[].rss, res[].tss), value_name its column title on stdout; cols[c][e]
 * are added to each layer (JSON, CSV after the fixed columns, and the
 * table) as col_names[c] (NaN: null). */
typedef struct {
    const char *value_key, *rss_key, *tss_key, *value_name;
    int n_cols;
    const char *const *col_names;
    const double *const *cols;
    /* per-entry seconds of a run (layers.csv's forward_s, capture_s; NULL:
     * empty) */
    const double *forward_s, *capture_s;
} ll_report_more;
int ll_report_write_more(const char *outdir, const ll_probe_result *res, int E, const ll_law *law,
                         long n_examples, int dim, cJSON *config, cJSON *extra, const ll_report_more *more);
void ll_report_print_more(FILE *f, const ll_probe_result *res, int E, const ll_law *law, long n_examples, int dim,
                          const ll_report_more *more);
/* law.json members of the measures (docs/measures.md), added to extra:
 * "heldout" (folds, fold sizes, the law of the held-out PR, the jackknife
 * of the full law's slope and Pearson r, per-fold and leave-one-out PRs;
 * -1 when a law fit fails) and "classes" (distinct, kept, pooled). */
int ll_report_add_heldout(cJSON *extra, const ll_heldout *ho, const ll_law *full, int fit_from, const char *fold_of,
                          uint64_t seed);
void ll_report_add_classes(cJSON *extra, int distinct, int used, long pooled_examples);
/* The report layout of a measure (ll_measure) and optional held-out columns
 * (pr_heldout, its fold mean and sd; heldout_cols[0] NULL: none), in buf. */
const ll_report_more *ll_report_more_for(int measure, const double *const *heldout_cols, ll_report_more *buf);
/* The per-entry device timing table, when the result has one. */
void ll_report_print_gpu_timing(FILE *f, const cJSON *extra);
#endif
