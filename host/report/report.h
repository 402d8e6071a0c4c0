/* Results: DIR/law.json, DIR/layers.csv (both written atomically) and the
 * readable table on stdout. */
#ifndef LL_REPORT_H
#define LL_REPORT_H
#include <stdio.h>
#include <cJSON.h>
#include "probe/probe.h"

/* law may be NULL (fewer than 3 points: no law fit).  config and extra are
 * taken over (freed); extra's members (model, throughput, ...) are added to
 * the top level of law.json.  Creates outdir if needed. */
int ll_report_write(const char *outdir, const ll_probe_result *res, int E, const ll_law *law,
                    long n_examples, int dim, cJSON *config, cJSON *extra);
void ll_report_print(FILE *f, const ll_probe_result *res, int E, const ll_law *law, long n_examples, int dim);
/* The same with a measure other than PR and extra per-layer columns.
 * value_key names the value in law.json/layers.csv ("pr" when NULL;
 * log10_<key> beside it), rss_key/tss_key the two sums (res[].rss, res[].tss),
 * value_name its column title on stdout; cols[c][e] are added to each layer
 * (JSON, CSV and table) as col_names[c] (NaN: null). */
typedef struct {
    const char *value_key, *rss_key, *tss_key, *value_name;
    int n_cols;
    const char *const *col_names;
    const double *const *cols;
} ll_report_more;
int ll_report_write_more(const char *outdir, const ll_probe_result *res, int E, const ll_law *law,
                         long n_examples, int dim, cJSON *config, cJSON *extra, const ll_report_more *more);
void ll_report_print_more(FILE *f, const ll_probe_result *res, int E, const ll_law *law, long n_examples, int dim,
                          const ll_report_more *more);
#endif
