#include "report/report.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend_info.h"
#include "core/ll_util.h"

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

int ll_report_write(const char *outdir, const ll_probe_result *res, int E, const ll_law *law,
                    long n_examples, int dim, cJSON *config, cJSON *extra) {
    return ll_report_write_more(outdir, res, E, law, n_examples, dim, config, extra, NULL);
}

int ll_report_write_more(const char *outdir, const ll_probe_result *res, int E, const ll_law *law,
                         long n_examples, int dim, cJSON *config, cJSON *extra, const ll_report_more *more) {
    int rc = -1;
    const char *vk = more && more->value_key ? more->value_key : "pr";
    const char *rk = more && more->rss_key ? more->rss_key : "rss";
    const char *tk = more && more->tss_key ? more->tss_key : "tss";
    const int ncol = more ? more->n_cols : 0;
    char logk[64];
    snprintf(logk, sizeof logk, "log10_%s", vk);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "layerlaw_version", LL_VERSION);
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    for (int e = 0; e < E; e++) {
        cJSON *l = cJSON_CreateObject();
        cJSON_AddNumberToObject(l, "index", e);
        cJSON_AddItemToObject(l, vk, num_or_null(res[e].pr));
        cJSON_AddItemToObject(l, logk, num_or_null(res[e].pr > 0 ? log10(res[e].pr) : NAN));
        cJSON_AddItemToObject(l, rk, num_or_null(res[e].rss));
        cJSON_AddItemToObject(l, tk, num_or_null(res[e].tss));
        cJSON_AddNumberToObject(l, "rank", res[e].rank);
        for (int c = 0; c < ncol; c++) cJSON_AddItemToObject(l, more->col_names[c], num_or_null(more->cols[c][e]));
        cJSON_AddItemToArray(layers, l);
    }
    if (law) {
        cJSON *f = cJSON_AddObjectToObject(root, "fit");
        cJSON_AddNumberToObject(f, "first_entry", law->first_entry);
        cJSON_AddNumberToObject(f, "n_points", law->n_points);
        cJSON_AddItemToObject(f, "slope", num_or_null(law->slope));
        cJSON_AddItemToObject(f, "intercept", num_or_null(law->intercept));
        cJSON_AddItemToObject(f, "r2", num_or_null(law->r2));
        cJSON_AddItemToObject(f, "pearson_r", num_or_null(law->pearson_r));
        cJSON_AddItemToObject(f, "decay_ratio", num_or_null(law->decay_ratio));
        cJSON_AddItemToObject(f, "overall_ratio", num_or_null(law->overall_ratio));
    } else {
        cJSON_AddNullToObject(root, "fit");
    }
    cJSON_AddNumberToObject(root, "n_examples", (double)n_examples);
    cJSON_AddNumberToObject(root, "n_entries", E);
    cJSON_AddNumberToObject(root, "dim", dim);
    if (config) cJSON_AddItemToObject(root, "config", config);
    else cJSON_AddObjectToObject(root, "config");
    config = NULL;
    if (extra) {
        cJSON *it = extra->child;
        while (it) {
            cJSON *next = it->next;
            cJSON_DetachItemViaPointer(extra, it);
            cJSON_AddItemToObject(root, it->string, it);
            it = next;
        }
        cJSON_Delete(extra);
        extra = NULL;
    }
    char *json = cJSON_Print(root);
    /* layers.csv */
    size_t cap = 256 + (size_t)ncol * 64 + (size_t)E * (160 + (size_t)ncol * 26), k = 0;
    char *csv = ll_xmalloc(cap);
    k += (size_t)snprintf(csv + k, cap - k, "index,%s,%s,%s,%s,rank", vk, logk, rk, tk);
    for (int c = 0; c < ncol; c++) k += (size_t)snprintf(csv + k, cap - k, ",%s", more->col_names[c]);
    k += (size_t)snprintf(csv + k, cap - k, "\n");
    for (int e = 0; e < E; e++) {
        k += (size_t)snprintf(csv + k, cap - k, "%d,%.17g,%.17g,%.17g,%.17g,%d", e, res[e].pr,
                              res[e].pr > 0 ? log10(res[e].pr) : NAN, res[e].rss, res[e].tss, res[e].rank);
        for (int c = 0; c < ncol; c++) k += (size_t)snprintf(csv + k, cap - k, ",%.17g", more->cols[c][e]);
        k += (size_t)snprintf(csv + k, cap - k, "\n");
    }
    char p1[4096], p2[4096];
    if (!json || ll_mkdirs(outdir) != 0) goto out;
    if (ll_write_file_atomic(ll_path_join(p1, sizeof p1, outdir, "layers.csv"), csv, k) != 0) goto out;
    if (ll_write_file_atomic(ll_path_join(p2, sizeof p2, outdir, "law.json"), json, strlen(json)) != 0) goto out;
    rc = 0;
out:
    free(csv);
    free(json);
    cJSON_Delete(root);
    return rc;
}

void ll_report_print(FILE *f, const ll_probe_result *res, int E, const ll_law *law, long n_examples, int dim) {
    ll_report_print_more(f, res, E, law, n_examples, dim, NULL);
}

void ll_report_print_more(FILE *f, const ll_probe_result *res, int E, const ll_law *law, long n_examples, int dim,
                          const ll_report_more *more) {
    const char *vn = more && more->value_name ? more->value_name : "PR";
    const int ncol = more ? more->n_cols : 0;
    fprintf(f, "%ld examples, %d entries, dim %d\n", n_examples, E, dim);
    if (!more || !more->value_name) fprintf(f, "entry         PR     log10 PR  rank");
    else fprintf(f, "entry  %10s  log10 %s  rank", vn, vn);
    for (int c = 0; c < ncol; c++) fprintf(f, "  %12s", more->col_names[c]);
    fprintf(f, "\n");
    for (int e = 0; e < E; e++) {
        const char *mark = (law && e >= law->first_entry) ? "" : "  (not in fit)";
        fprintf(f, (!more || !more->value_name) ? "%5d  %10.6f  %10.5f  %4d" : "%5d  %10.6g  %10.5f  %4d", e, res[e].pr, res[e].pr > 0 ? log10(res[e].pr) : NAN, res[e].rank);
        for (int c = 0; c < ncol; c++) fprintf(f, "  %12.6g", more->cols[c][e]);
        fprintf(f, "%s\n", law ? mark : "");
    }
    if (law)
        fprintf(f, "law (entries %d..%d): slope %.6g  intercept %.6g  R^2 %.5f  Pearson r %.5f  decay ratio %.5f  overall ratio %.5f\n",
                law->first_entry, E - 1, law->slope, law->intercept, law->r2, law->pearson_r, law->decay_ratio,
                law->overall_ratio);
    else
        fprintf(f, "law: not fitted (fewer than 2 entries from --fit-from on, or a PR that is 0 or undefined)\n");
}
