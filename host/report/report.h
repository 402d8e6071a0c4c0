/* Results: DIR/law.json and DIR/layers.csv, written as one set (both appear
 * or neither; an old set is kept until the new one is complete), and the
 * readable table on stdout.  The one module that owns the result formats. */
#ifndef LL_REPORT_H
#define LL_REPORT_H
#include <stdio.h>
#include <cJSON.h>
#include "pipeline/pipeline.h"
#include "probe/probe.h"

/* Before any work: outdir is a writable folder, or can be created (its
 * nearest existing ancestor is a writable folder).  0, or -1 + error. */
int ll_report_check_outdir(const char *outdir);
/* law may be NULL (fewer than 3 points: no law fit).  config and extra are
 * taken over (freed); extra's members (model, throughput, ...) are added to
 * the top level of law.json.  Creates outdir if needed. */
int ll_report_write(const char *outdir, const ll_probe_result *res, int E, const ll_law *law,
                    long n_examples, int dim, cJSON *config, cJSON *extra);
/* The same for a pipeline result (its config and extra are taken over). */
int ll_report_write_run(const char *outdir, ll_run_result *r);
void ll_report_print(FILE *f, const ll_probe_result *res, int E, const ll_law *law, long n_examples, int dim);
/* The per-entry device timing table, when the result has one. */
void ll_report_print_gpu_timing(FILE *f, const cJSON *extra);
#endif
