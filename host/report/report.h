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
#endif
