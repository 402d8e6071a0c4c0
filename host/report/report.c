/* Results: law.json + layers.csv as one set (both or neither), and the
 * table on stdout. */
#include "report/report.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "backend/backend_info.h"
#include "core/ll_util.h"

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

int ll_report_check_outdir(const char *outdir) {
    struct stat st;
    if (!outdir || !*outdir) { ll_set_error("--out: an empty path"); return -1; }
    if (stat(outdir, &st) != 0 && lstat(outdir, &st) == 0 && S_ISLNK(st.st_mode)) {
        ll_set_error("%s: a symbolic link to nothing (--out)", outdir);
        return -1;
    }
    if (stat(outdir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) { ll_set_error("%s: exists and is not a folder (--out)", outdir); return -1; }
        if (access(outdir, W_OK | X_OK) != 0) { ll_set_error("%s: not writable (--out)", outdir); return -1; }
        return 0;
    }
    /* not there yet: the nearest existing ancestor must be a writable folder */
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", outdir);
    for (;;) {
        char *slash = strrchr(buf, '/');
        while (slash && slash > buf && slash[1] == 0) { *slash = 0; slash = strrchr(buf, '/'); }
        if (!slash) { snprintf(buf, sizeof buf, "."); }
        else if (slash == buf) buf[1] = 0;
        else *slash = 0;
        if (stat(buf, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) { ll_set_error("%s: cannot create the results folder: %s is not a folder", outdir, buf); return -1; }
            if (access(buf, W_OK | X_OK) != 0) { ll_set_error("%s: cannot create the results folder: %s is not writable", outdir, buf); return -1; }
            return 0;
        }
        if (!strcmp(buf, ".") || !strcmp(buf, "/")) { ll_set_error("%s: cannot create the results folder", outdir); return -1; }
    }
}

/* A run id that keeps concatenated layers.csv rows apart: UTC time + pid. */
static void make_run_id(char *buf, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, cap, "%04d%02d%02dT%02d%02d%02dZ-%ld", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (long)getpid());
}

static const char *csv_safe(const char *s, char *buf, size_t cap) {
    /* a CSV field: quoted when it holds a comma, quote or newline */
    if (!strpbrk(s, ",\"\n\r")) return s;
    size_t k = 0;
    buf[k++] = '"';
    for (; *s && k + 3 < cap; s++) {
        if (*s == '"') buf[k++] = '"';
        buf[k++] = *s;
    }
    buf[k++] = '"';
    buf[k] = 0;
    return buf;
}

static int write_set(const char *outdir, const ll_probe_result *res, int E, const ll_law *law, long n_examples, int dim,
                     cJSON *config, cJSON *extra, const double *fwd_s, const double *cap_s, const ll_report_more *more) {
    int rc = -1;
    const char *vk = more && more->value_key ? more->value_key : "pr";
    const char *rk = more && more->rss_key ? more->rss_key : "rss";
    const char *tk = more && more->tss_key ? more->tss_key : "tss";
    const int ncol = more ? more->n_cols : 0;
    char logk[64];
    snprintf(logk, sizeof logk, "log10_%s", vk);
    char run_id[64];
    make_run_id(run_id, sizeof run_id);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "layerlaw_version", LL_VERSION);
    cJSON_AddStringToObject(root, "run_id", run_id);
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
        cJSON_AddBoolToObject(l, "in_fit", law && e >= law->first_entry);
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
    cJSON_AddNumberToObject(root, "examples_per_feature", dim > 0 ? (double)n_examples / dim : 0);
    if (config) cJSON_AddItemToObject(root, "config", config);
    else cJSON_AddObjectToObject(root, "config");
    if (extra) {
        cJSON *it = extra->child;
        while (it) {
            cJSON *next = it->next;
            cJSON_DetachItemViaPointer(extra, it);
            cJSON_AddItemToObject(root, it->string, it);
            it = next;
        }
        cJSON_Delete(extra);
    }
    char *json = cJSON_Print(root);
    /* layers.csv: the rows stay identifiable when runs are concatenated */
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *mj = cm ? cJSON_GetObjectItemCaseSensitive(cm, "model") : NULL;
    if (!cJSON_IsString(mj)) mj = cm ? cJSON_GetObjectItemCaseSensitive(cm, "features") : NULL;
    char mbuf[4200];
    const char *model = cJSON_IsString(mj) ? csv_safe(mj->valuestring, mbuf, sizeof mbuf) : "";
    size_t cap = 512 + (size_t)ncol * 64 + (size_t)E * (256 + strlen(model) + (size_t)ncol * 26), k = 0;
    char *csv = ll_xmalloc(cap);
    /* measure columns (value, log10, the two sums) named by the measure; extra columns last */
    k += (size_t)snprintf(csv + k, cap - k, "index,%s,%s,%s,%s,rank,in_fit,forward_s,capture_s,run_id,model", vk, logk, rk, tk);
    for (int c = 0; c < ncol; c++) k += (size_t)snprintf(csv + k, cap - k, ",%s", more->col_names[c]);
    k += (size_t)snprintf(csv + k, cap - k, "\n");
    for (int e = 0; e < E; e++) {
        k += (size_t)snprintf(csv + k, cap - k, "%d,%.17g,%.17g,%.17g,%.17g,%d,%d,%.6g,%.6g,%s,%s", e, res[e].pr,
                              res[e].pr > 0 ? log10(res[e].pr) : NAN, res[e].rss, res[e].tss, res[e].rank,
                              law && e >= law->first_entry, fwd_s ? fwd_s[e] : NAN, cap_s ? cap_s[e] : NAN, run_id,
                              model);
        for (int c = 0; c < ncol; c++) k += (size_t)snprintf(csv + k, cap - k, ",%.17g", more->cols[c][e]);
        k += (size_t)snprintf(csv + k, cap - k, "\n");
    }
    if (json) {
        const char *names[2] = {"law.json", "layers.csv"};
        const void *data[2] = {json, csv};
        size_t lens[2] = {strlen(json), k};
        rc = ll_write_files_atomic(outdir, 2, names, data, lens);
    } else {
        ll_set_error("%s: cannot serialise law.json", outdir);
    }
    free(csv);
    free(json);
    cJSON_Delete(root);
    return rc;
}

int ll_report_write(const char *outdir, const ll_probe_result *res, int E, const ll_law *law, long n_examples, int dim,
                    cJSON *config, cJSON *extra) {
    return write_set(outdir, res, E, law, n_examples, dim, config, extra, NULL, NULL, NULL);
}

int ll_report_write_more(const char *outdir, const ll_probe_result *res, int E, const ll_law *law,
                         long n_examples, int dim, cJSON *config, cJSON *extra, const ll_report_more *more) {
    return write_set(outdir, res, E, law, n_examples, dim, config, extra, more ? more->forward_s : NULL,
                     more ? more->capture_s : NULL, more);
}

/* ---- measures (docs/measures.md) ---- */
static cJSON *jk_json(const ll_jackknife *j) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "estimate", j->estimate);
    cJSON_AddNumberToObject(o, "se", j->se);
    cJSON_AddNumberToObject(o, "lo", j->lo);
    cJSON_AddNumberToObject(o, "hi", j->hi);
    cJSON_AddNumberToObject(o, "t", j->t);
    cJSON_AddNumberToObject(o, "leave_one_out_mean", j->mean);
    cJSON_AddItemToObject(o, "leave_one_out", cJSON_CreateDoubleArray(j->values, j->K));
    return o;
}

int ll_report_add_heldout(cJSON *extra, const ll_heldout *ho, const ll_law *full, int fit_from, const char *fold_of,
                          uint64_t seed) {
    cJSON *h = cJSON_AddObjectToObject(extra, "heldout");
    cJSON_AddNumberToObject(h, "folds", ho->K);
    cJSON_AddNumberToObject(h, "fold_seed", (double)seed);
    cJSON_AddStringToObject(h, "fold_of", fold_of);
    cJSON_AddItemToObject(h, "fold_examples", cJSON_CreateDoubleArray(ho->fold_n, ho->K));
    ll_law hl;
    if (ll_law_fit(ho->pr, ho->E, fit_from, &hl) != 0) return -1;
    cJSON *f = cJSON_AddObjectToObject(h, "fit");
    cJSON_AddNumberToObject(f, "slope", hl.slope);
    cJSON_AddNumberToObject(f, "intercept", hl.intercept);
    cJSON_AddNumberToObject(f, "r2", hl.r2);
    cJSON_AddNumberToObject(f, "pearson_r", hl.pearson_r);
    cJSON_AddNumberToObject(f, "decay_ratio", hl.decay_ratio);
    cJSON_AddNumberToObject(f, "overall_ratio", hl.overall_ratio);
    ll_jackknife js, jr;
    if (ll_jackknife_law(ho, fit_from, full, &js, &jr) != 0) return -1;
    cJSON *jk = cJSON_AddObjectToObject(h, "jackknife");
    cJSON_AddItemToObject(jk, "slope", jk_json(&js));
    cJSON_AddItemToObject(jk, "pearson_r", jk_json(&jr));
    cJSON *pf = cJSON_AddArrayToObject(h, "pr_fold");
    cJSON *pt = cJSON_AddArrayToObject(h, "pr_train");
    for (int e = 0; e < ho->E; e++) {
        cJSON_AddItemToArray(pf, cJSON_CreateDoubleArray(ho->pr_fold + (size_t)e * ho->K, ho->K));
        cJSON_AddItemToArray(pt, cJSON_CreateDoubleArray(ho->pr_train + (size_t)e * ho->K, ho->K));
    }
    return 0;
}

void ll_report_add_classes(cJSON *extra, int distinct, int used, long pooled_examples) {
    cJSON *cl = cJSON_AddObjectToObject(extra, "classes");
    cJSON_AddNumberToObject(cl, "distinct", distinct);
    cJSON_AddNumberToObject(cl, "kept", used < distinct ? used - 1 : distinct);
    cJSON_AddBoolToObject(cl, "pooled", used < distinct);
    cJSON_AddNumberToObject(cl, "pooled_classes", used < distinct ? distinct - used + 1 : 0);
    cJSON_AddNumberToObject(cl, "pooled_examples", (double)pooled_examples);
}

const ll_report_more *ll_report_more_for(int measure, const double *const *heldout_cols, ll_report_more *buf) {
    static const char *ho_names[] = {"pr_heldout", "pr_heldout_fold_mean", "pr_heldout_fold_sd"};
    memset(buf, 0, sizeof *buf);
    if (measure == LL_MEASURE_FUZZINESS) {
        buf->value_key = "separation_fuzziness"; buf->rss_key = "tr_sw"; buf->tss_key = "tr_sb"; buf->value_name = "D";
    }
    if (heldout_cols && heldout_cols[0]) {
        buf->n_cols = 3;
        buf->col_names = ho_names;
        buf->cols = heldout_cols;
    }
    return buf;
}

void ll_report_print(FILE *f, const ll_probe_result *res, int E, const ll_law *law, long n_examples, int dim) {
    ll_report_print_more(f, res, E, law, n_examples, dim, NULL);
}

void ll_report_print_more(FILE *f, const ll_probe_result *res, int E, const ll_law *law, long n_examples, int dim,
                          const ll_report_more *more) {
    const int plain = !more || !more->value_name, ncol = more ? more->n_cols : 0;
    const double per = dim > 0 ? (double)n_examples / dim : 0;
    fprintf(f, "%ld examples, %d entries, dim %d, examples per feature N/d %.1f\n", n_examples, E, dim, per);
    if (dim > 0 && per < 20)
        fprintf(f, "warning: only %.1f examples per feature (N/d < 20): the probe fits noise and PRs read low; give it more text\n", per);
    if (plain) fprintf(f, "entry         PR     log10 PR  rank");
    else fprintf(f, "entry  %10s  log10 %s  rank", more->value_name, more->value_name);
    for (int c = 0; c < ncol; c++) fprintf(f, "  %12s", more->col_names[c]);
    fprintf(f, "\n");
    for (int e = 0; e < E; e++) {
        const char *mark = (law && e >= law->first_entry) ? "" : "  (not in fit)";
        fprintf(f, plain ? "%5d  %10.6f  %10.5f  %4d" : "%5d  %10.6g  %10.5f  %4d", e, res[e].pr,
                res[e].pr > 0 ? log10(res[e].pr) : NAN, res[e].rank);
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

void ll_report_print_gpu_timing(FILE *f, const cJSON *extra) {
    const cJSON *gt = extra ? cJSON_GetObjectItemCaseSensitive(extra, "gpu_timing") : NULL;
    const cJSON *nb = gt ? cJSON_GetObjectItemCaseSensitive(gt, "batches") : NULL;
    const cJSON *pe = gt ? cJSON_GetObjectItemCaseSensitive(gt, "per_entry") : NULL;
    if (!cJSON_IsNumber(nb) || nb->valuedouble <= 0 || !cJSON_IsArray(pe)) return;
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(gt, "peak_bf16_gemm_tflops");
    fprintf(f, "GPU per entry (%.0f batches; bf16 GEMM peak measured %.0f TFLOP/s)\n", nb->valuedouble,
            cJSON_IsNumber(pk) ? pk->valuedouble : 0);
    fprintf(f, "entry  layer ms/batch   tokens/s   capture ms/batch\n");
    const cJSON *o;
    cJSON_ArrayForEach(o, pe) {
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, "index"), *l = cJSON_GetObjectItemCaseSensitive(o, "layer_ms_per_batch"),
                    *t = cJSON_GetObjectItemCaseSensitive(o, "tokens_per_s"), *c = cJSON_GetObjectItemCaseSensitive(o, "capture_ms_per_batch");
        fprintf(f, "%5d  %14.3f  %9.3g  %17.3f\n", i ? (int)i->valuedouble : -1, l ? l->valuedouble : 0,
                t ? t->valuedouble : 0, c ? c->valuedouble : 0);
    }
}
