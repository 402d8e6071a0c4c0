/* layerlaw sweep CONFIG: every point of a sweep file, one run of the library
 * pipeline each, recorded in a results store (host/sweep/store.h) and in
 * OUT/points/<key>/{law.json,layers.csv}; points already in the store are
 * skipped, so a rerun resumes.  docs/sweeps.md. */
#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/opts.h"
#include "core/ll_util.h"
#include "hub/hub.h"
#include "pipeline/pipeline.h"
#include "pipeline/run_options.h"
#include "report/provenance.h"
#include "report/report.h"
#include "sweep/slurm.h"
#include "sweep/store.h"
#include "sweep/sweep.h"

static const char SWEEP_USAGE[] =
    "usage: layerlaw sweep CONFIG [options]\n\n"
    "  CONFIG  a sweep file (YAML or JSON): models, data, axes to cross, options (docs/sweeps.md)\n\n"
    "options:\n";

static int is_done(const char *status) { return status && !strcmp(status, "done"); }

/* a hub id is missing only when offline and not cached: it is fetched when run */
static int model_missing(const ll_sweep_point *p) {
    int hc = ll_hub_cached(p->model_path);
    if (hc >= 0) return hc == 0 && ll_hub_offline();
    return !ll_path_exists(p->model_path);
}

static const char *point_status(ll_store *st, const ll_sweep_point *p) {
    if (model_missing(p)) return "missing";
    if (st) {
        int h = ll_store_has(st, p->key);
        if (h == 1) return "done";
    }
    return "todo";
}

/* Options of the pipeline from a resolved point configuration: through
 * run's one option table (pipeline/run_options.h), as `layerlaw run` sets them. */
static void config_to_opts(const cJSON *c, ll_run_opts *o) {
    ll_run_opts_default(o);
    ll_run_opts_from_config(o, c); /* values checked when the sweep was read */
}

/* Writes a point's law.json + layers.csv and reads law.json back: the row
 * records exactly what the file says (called under the store's lock). */
typedef struct {
    const char *dir;
    ll_run_result *r;
    cJSON *law;
    double t_report;
} point_files;

static int write_point_files(void *ctx, ll_store_record *rec) {
    point_files *pf = ctx;
    char lp[4200];
    double t1 = ll_now();
    if (ll_report_write_run(pf->dir, pf->r) != 0) return -1;
    pf->t_report = ll_now() - t1;
    pf->law = ll_json_load(ll_path_join(lp, sizeof lp, pf->dir, "law.json"));
    if (!pf->law) { ll_set_error("%s: cannot read back", lp); return -1; }
    rec->result = pf->law;
    rec->tokens_per_s = ll_json_num(pf->law, "throughput", "tokens_per_s");
    rec->n_params = ll_json_num(pf->law, "model", "n_params");
    return 0;
}

/* The sweep's own record in law.json: name, file, key, axes, timings. */
static cJSON *sweep_info(const ll_sweep *sw, const ll_sweep_point *p, double t_run, double t_prov) {
    cJSON *si = cJSON_CreateObject();
    cJSON_AddStringToObject(si, "name", sw->name);
    cJSON_AddStringToObject(si, "file", sw->file);
    cJSON_AddStringToObject(si, "key", p->key);
    cJSON_AddNumberToObject(si, "index", p->index);
    cJSON_AddStringToObject(si, "model_name", p->model_name);
    cJSON_AddItemToObject(si, "axes", cJSON_Duplicate(p->axes, 1));
    cJSON_AddItemToObject(si, "point_config", cJSON_Duplicate(p->config, 1));
    cJSON_AddNumberToObject(si, "run_s", t_run);
    cJSON_AddNumberToObject(si, "provenance_s", t_prov);
    return si;
}

static int run_point_local(const ll_sweep *sw, const ll_sweep_point *p, const ll_run_opts *op, const cJSON *hub_prov,
                           const char *out, ll_store *st, const char *label, int first, int argc, char **argv);

/* Runs one point; returns 0, or the pipeline's status (1 / 2).  Hub ids
 * (host/hub/hub.h) are resolved (fetched) first. */
static int run_point(const ll_sweep *sw, const ll_sweep_point *p, const char *out, ll_store *st, const char *label,
                     int first, int argc, char **argv) {
    ll_run_opts o;
    config_to_opts(p->config, &o);
    char *model = NULL, *tok = NULL;
    cJSON *prov = NULL;
    int rc = 0;
    if (strcmp(p->model_kind, "synthetic"))
        rc = ll_model_path_resolve(o.model, LL_HUB_NEED_MODEL | (o.data && !o.tokenizer ? LL_HUB_NEED_TOKENIZER : 0),
                                   &model, &prov);
    if (!rc && o.tokenizer) rc = ll_model_path_resolve(o.tokenizer, LL_HUB_NEED_TOKENIZER, &tok, NULL);
    if (!rc) {
        if (model) o.model = model;
        if (tok) o.tokenizer = tok;
        rc = run_point_local(sw, p, &o, prov, out, st, label, first, argc, argv);
    }
    free(model);
    free(tok);
    cJSON_Delete(prov);
    return rc;
}

static int run_point_local(const ll_sweep *sw, const ll_sweep_point *p, const ll_run_opts *op, const cJSON *hub_prov,
                           const char *out, ll_store *st, const char *label, int first, int argc, char **argv) {
    ll_run_opts o = *op;
    /* a shape file: random weights at that shape (seed 0), for throughput */
    o.synthetic = !strcmp(p->model_kind, "synthetic");
    o.synthetic_seed = 0;
    /* the backend notice once per sweep where no live line is shown */
    o.progress = first || isatty(2) ? 1 : -1;
    o.progress_label = label;
    o.label = p->model_name; /* the figures' labels and series */
    o.series = p->series;
    double t0 = ll_now();
    ll_run_result r;
    memset(&r, 0, sizeof r);
    int rc = ll_run_pipeline(&o, &r);
    if (rc != 0) { ll_run_result_free(&r); return rc; }
    double t_run = ll_now() - t0;
    /* provenance: hashes of the model, tokenizer and data inputs */
    const char *inputs[4] = {o.model, o.tokens, o.data, o.tokenizer};
    double tp0 = ll_now();
    cJSON *prov = ll_provenance(argc, argv, inputs, 4);
    double t_prov = ll_now() - tp0;
    char dir[4096], pd[4096];
    snprintf(pd, sizeof pd, "%s/points", out);
    ll_path_join(dir, sizeof dir, pd, p->key);
    if (!r.extra) r.extra = cJSON_CreateObject();
    cJSON_AddItemToObject(r.extra, "provenance", prov);
    cJSON_AddItemToObject(r.extra, "sweep", sweep_info(sw, p, t_run, t_prov));
    ll_hub_annotate(r.extra, hub_prov, NULL);
    ll_store_record rec = {.key = p->key, .sweep = sw->name, .model = p->model_name, .axes = p->axes,
                           .config = p->config, .slope = r.have_law ? r.law.slope : NAN,
                           .pearson_r = r.have_law ? r.law.pearson_r : NAN,
                           .decay_ratio = r.have_law ? r.law.decay_ratio : NAN, .seconds = t_run};
    point_files pf = {.dir = dir, .r = &r};
    double t1 = ll_now();
    int put = ll_store_put_locked(st, &rec, write_point_files, &pf);
    double t_book = ll_now() - t1;
    cJSON_Delete(pf.law);
    ll_run_result_free(&r);
    if (put < 0) return 1;
    if (put == 0) fprintf(stderr, "layerlaw: point %s: recorded by another sweep meanwhile; kept its row and files\n", p->key);
    if (getenv("LAYERLAW_SWEEP_OVERHEAD"))
        fprintf(stderr, "layerlaw: point %s: run %.4f s, provenance %.4f s, law.json+layers.csv %.4f s, store %.4f s "
                        "(%.3f%% overhead)\n", p->key, t_run, t_prov, pf.t_report, t_book - pf.t_report, 100 * (t_prov + t_book) / t_run);
    return 0;
}

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line
 * break, quotes doubled. */
static void csv_field(ll_sbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) { ll_sb_puts(b, s); return; }
    ll_sb_add(b, "\"", 1);
    for (; *s; s++) ll_sb_add(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
    ll_sb_add(b, "\"", 1);
}

static const char *summary_status(ll_store *st, const ll_sweep_point *p, const cJSON *rec) {
    return rec                                      ? "done"
           : model_missing(p)                      ? "missing"
           : st && ll_store_failed(st, p->key) == 1 ? "failed"
                                                    : "not run";
}

static void params_str(double np, char *nps, size_t cap) {
    if (isfinite(np)) snprintf(nps, cap, np >= 1e9 ? "%.2fB" : np >= 1e6 ? "%.1fM" : np >= 1e3 ? "%.1fK" : "%.0f",
                               np >= 1e9 ? np / 1e9 : np >= 1e6 ? np / 1e6 : np >= 1e3 ? np / 1e3 : np);
    else snprintf(nps, cap, "-");
}

/* One point's line of the table (f, may be NULL) and of summary.csv. */
static void summary_row(FILE *f, ll_sbuf *csv, const ll_sweep *sw, ll_store *st, const ll_sweep_point *p) {
    cJSON *rec = st ? ll_store_get(st, p->key) : NULL;
    double np = rec ? ll_json_num(cJSON_GetObjectItemCaseSensitive(rec, "result"), "model", "n_params") : NAN;
    char nps[32];
    params_str(np, nps, sizeof nps);
    if (f) fprintf(f, "%-4d %-16s %-22.22s %10s", p->index + 1, p->key, p->model_name, nps);
    ll_sb_printf(csv, "%d,", p->index + 1);
    csv_field(csv, p->key);
    ll_sb_puts(csv, ",");
    csv_field(csv, p->model_name);
    ll_sb_printf(csv, ",%.17g", np);
    for (int a = 0; a < sw->n_axes; a++) {
        char v[128];
        ll_sweep_value_str(cJSON_GetObjectItemCaseSensitive(p->axes, sw->axis_names[a]), v, sizeof v);
        if (f) fprintf(f, " %-12.12s", v);
        ll_sb_puts(csv, ",");
        csv_field(csv, v);
    }
    const char *status = summary_status(st, p, rec);
    double sl = rec ? ll_json_num(rec, "slope", NULL) : NAN, pr = rec ? ll_json_num(rec, "pearson_r", NULL) : NAN,
           rho = rec ? ll_json_num(rec, "decay_ratio", NULL) : NAN, tps = rec ? ll_json_num(rec, "tokens_per_s", NULL) : NAN;
    int missing = !strcmp(status, "missing");
    if (f) fprintf(f, " %12.6g %9.5f %9.5f %12.4g  %s%s%s\n", sl, pr, rho, tps, status, missing ? " " : "",
                   missing ? p->model_path : "");
    ll_sb_printf(csv, ",%.17g,%.17g,%.17g,%.17g,%s\n", sl, pr, rho, tps, status);
    cJSON_Delete(rec);
}

static void print_summary(FILE *f, const ll_sweep *sw, ll_store *st, const int *sel, int nsel, const char *csv_path) {
    ll_sbuf csv = {0};
    if (f) fprintf(f, "%-4s %-16s %-22s %10s", "#", "key", "model", "params");
    ll_sb_puts(&csv, "index,key,model,params");
    for (int a = 0; a < sw->n_axes; a++) {
        if (f) fprintf(f, " %-12s", sw->axis_names[a]);
        ll_sb_puts(&csv, ",");
        csv_field(&csv, sw->axis_names[a]);
    }
    if (f) fprintf(f, " %12s %9s %9s %12s  status\n", "slope", "pearson_r", "rho", "tokens/s");
    ll_sb_puts(&csv, ",slope,pearson_r,rho,tokens_per_s,status\n");
    for (int i = 0; i < nsel; i++) summary_row(f, &csv, sw, st, &sw->points[sel[i]]);
    if (csv_path && ll_write_file_atomic(csv_path, csv.s, csv.n) != 0)
        fprintf(stderr, "layerlaw: %s\n", ll_last_error());
    free(csv.s);
}

/* The command's options. */
typedef struct {
    const char *out, *store_path, *journal, *cfg_path;
    int dry, quiet, slurm, chunk, task, tasks;
    ll_opt_list only, sbatch; /* --only, --sbatch: every value */
    char store_buf[4096];
} sweep_args;

/* Parses argv into a; 0, 1 (--help printed), or 2 (one line printed). */
static int parse_args(int argc, char **argv, sweep_args *a) {
    int offline = 0;
    const ll_opt opts[] = {
        {"out", LL_OPT_STR, &a->out, 0, 0, "DIR", "output folder (default: the file's out:); OUT/points/<key>/ per point"},
        {"store", LL_OPT_STR, &a->store_path, 0, 0, "FILE", "results store (default: the file's store:, else OUT/results.sqlite)"},
        {"journal", LL_OPT_CHOICE, &a->journal, 0, 0, "J", "wal (default) | delete (a store on a network file system shared by hosts)", NULL, 0, ll_store_journal_names},
        {"dry-run", LL_OPT_FLAG, &a->dry, 0, 0, NULL, "list the points (key, model, axes, done or not) and run nothing"},
        {"only", LL_OPT_LIST, &a->only, 0, 0, "AXIS=V[,V]", "run only matching points (model=NAME, data=NAME, key=PREFIX, any option);\nrepeat to combine (all must match)"},
        {"task", LL_OPT_INT, &a->task, 0, INT_MAX, "I", "with --tasks N: run only points with index % N == I (Slurm array tasks,\nmanual splits)"},
        {"tasks", LL_OPT_INT, &a->tasks, 1, INT_MAX, "N", "the number of tasks (with --task)"},
        {"slurm", LL_OPT_FLAG, &a->slurm, 0, 0, NULL, "write OUT/sweep.sbatch, a job array over the points sharing one store, and exit"},
        {"slurm-chunk", LL_OPT_INT, &a->chunk, 1, INT_MAX, "K", "points per array task (default 1)"},
        {"sbatch", LL_OPT_LIST, &a->sbatch, 0, 0, "'OPT'", "an extra '#SBATCH OPT' line (repeat), e.g. --sbatch '--gpus=1'"},
        {"offline", LL_OPT_FLAG, &offline, 0, 0, NULL, "hub models from the cache only (as HF_HUB_OFFLINE=1)"},
        {"quiet", LL_OPT_FLAG, &a->quiet, 0, 0, NULL, "no summary table"},
        {NULL, 0, NULL, 0, 0, NULL, NULL}};
    int first = -1;
    int prc = ll_opts_parse(SWEEP_USAGE, opts, argc, argv, &first);
    if (prc) return prc;
    if (offline) ll_hub_set_offline(1);
    if (first < 0 || first != argc - 1)
        return cli_fail("sweep: give exactly one sweep file; see layerlaw sweep --help");
    if ((a->task >= 0) != (a->tasks > 0)) return cli_fail("sweep: --task and --tasks go together");
    if (a->tasks > 0 && a->task >= a->tasks) return cli_fail("--task %d: must be below --tasks %d", a->task, a->tasks);
    a->cfg_path = argv[first];
    return 0;
}

/* The selected points' indices: --only, then the task's share (chunks of the
 * matching points dealt round robin).  -1 + error on a bad filter. */
static int select_points(const ll_sweep *sw, const sweep_args *a, int *sel) {
    int nsel = 0, nmatch = 0;
    for (int i = 0; i < sw->n_points; i++) {
        int m = ll_sweep_point_matches(sw, &sw->points[i], a->only.v, a->only.n);
        if (m < 0) return -1;
        if (m && (a->slurm || a->tasks == 0 || (nmatch / a->chunk) % a->tasks == a->task)) sel[nsel++] = i;
        nmatch += m;
    }
    return nsel;
}

/* --slurm: the store is created here, with the rollback journal (tasks on
 * several hosts: WAL needs them on one) unless told otherwise. */
static int do_slurm(const ll_sweep *sw, const sweep_args *a, int nsel) {
    if (nsel == 0) return cli_fail("%s: no point matches the --only filters", a->cfg_path);
    if (ll_mkdirs(a->out) != 0) return cli_fail_lib();
    ll_store *st = ll_store_open(a->store_path, a->journal ? a->journal : "delete");
    if (!st) return cli_fail_lib();
    const char *jm = ll_store_journal(st);
    if (jm && !strcmp(jm, "wal") && !(a->journal && !strcmp(a->journal, "wal")))
        fprintf(stderr, "layerlaw: warning: %s was created with the WAL journal, which needs every task on one host; "
                        "for tasks on several hosts give a new store (--store FILE)\n", a->store_path);
    ll_store_close(st);
    char sp[4200], sd[4200];
    snprintf(sd, sizeof sd, "%s/slurm", a->out); /* Slurm opens the task logs before the script runs */
    ll_slurm_opts so = {.cfg_path = a->cfg_path, .out = a->out, .store = a->store_path, .chunk = a->chunk,
                        .only = a->only.v, .n_only = a->only.n, .sbatch = a->sbatch.v, .n_sbatch = a->sbatch.n,
                        .n_points = nsel};
    if (ll_mkdirs(sd) != 0 || ll_sweep_write_slurm(sw, &so, sp, sizeof sp) != 0) return cli_fail_lib();
    printf("%s: %d points in %d array tasks; submit with: sbatch %s\n", sp, nsel, ll_slurm_tasks(nsel, a->chunk), sp);
    return 0;
}

/* --dry-run: nothing is created; the store is read only if it exists. */
static int do_dry_run(const ll_sweep *sw, const sweep_args *a, const int *sel, int nsel) {
    ll_store *st = NULL;
    if (ll_path_exists(a->store_path) && !(st = ll_store_open_readonly(a->store_path))) return cli_fail_lib();
    int n_done = 0, n_missing = 0;
    printf("%s: sweep '%s', %d points (%d selected)\n", a->cfg_path, sw->name, sw->n_points, nsel);
    printf("%-4s %-16s %-22s %-9s", "#", "key", "model", "kind");
    for (int i = 0; i < sw->n_axes; i++) printf(" %-12s", sw->axis_names[i]);
    printf("  status\n");
    for (int i = 0; i < nsel; i++) {
        const ll_sweep_point *p = &sw->points[sel[i]];
        const char *status = point_status(st, p);
        n_done += is_done(status);
        n_missing += !strcmp(status, "missing");
        printf("%-4d %-16s %-22.22s %-9s", p->index + 1, p->key, p->model_name, p->model_kind);
        for (int x = 0; x < sw->n_axes; x++) {
            char v[128];
            ll_sweep_value_str(cJSON_GetObjectItemCaseSensitive(p->axes, sw->axis_names[x]), v, sizeof v);
            printf(" %-12.12s", v);
        }
        if (!strcmp(status, "missing")) printf("  missing: %s\n", p->model_path);
        else if (!is_done(status) && ll_hub_cached(p->model_path) == 0) printf("  %s (fetched from the hub)\n", status);
        else printf("  %s\n", status);
    }
    printf("%d done, %d to run, %d with a missing model\n", n_done, nsel - n_done - n_missing, n_missing);
    ll_store_close(st);
    return 0;
}

/* Runs the selected points not yet done; 0, or 1 when a point failed. */
static int run_points(const ll_sweep *sw, const sweep_args *a, ll_store *st, const int *sel, int nsel, int argc,
                      char **argv) {
    int n_run = 0, n_skip = 0, n_missing = 0, n_fail = 0, n_todo = 0, k_todo = 0;
    for (int i = 0; i < nsel; i++) n_todo += !is_done(point_status(st, &sw->points[sel[i]]));
    double t_start = ll_now();
    for (int i = 0; i < nsel; i++) {
        const ll_sweep_point *p = &sw->points[sel[i]];
        const char *status = point_status(st, p);
        if (is_done(status)) { n_skip++; continue; }
        k_todo++;
        if (!strcmp(status, "missing")) {
            fprintf(stderr, "layerlaw: point %d/%d (%s): model '%s' missing: expected at %s\n", k_todo, n_todo, p->key,
                    p->model_name, p->model_path);
            n_missing++;
            continue;
        }
        char label[256], eta[32] = "?";
        if (n_run > 0) ll_format_duration((ll_now() - t_start) / n_run * (n_todo - k_todo + 1), eta, sizeof eta);
        snprintf(label, sizeof label, "point %d/%d %s (sweep ETA %s)", k_todo, n_todo, p->model_name, eta);
        int prc = run_point(sw, p, a->out, st, label, n_run + n_fail == 0, argc + 1, argv - 1);
        if (prc != 0) {
            fprintf(stderr, "layerlaw: point %d/%d (%s, %s) failed: %s\n", k_todo, n_todo, p->key, p->model_name, ll_last_error());
            ll_store_put_failure(st, p->key, prc, ll_last_error());
            n_fail++;
            continue;
        }
        n_run++;
    }
    char csv[4200];
    snprintf(csv, sizeof csv, "%s/summary.csv", a->out);
    print_summary(a->quiet ? NULL : stdout, sw, st, sel, nsel, csv);
    fprintf(stderr, "layerlaw: sweep '%s': %d run, %d already done, %d missing, %d failed; store %s\n", sw->name, n_run,
            n_skip, n_missing, n_fail, a->store_path);
    return n_fail ? 1 : 0;
}

int cmd_sweep(int argc, char **argv) {
    sweep_args a = {.chunk = 1, .task = -1};
    ll_sweep *sw = NULL;
    ll_store *st = NULL;
    int *sel = NULL, nsel;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0) { rc = rc == 1 ? 0 : 2; goto done; }
    rc = 2;
    if (!(sw = ll_sweep_load(a.cfg_path))) { rc = cli_fail_lib(); goto done; }
    if (!a.out) a.out = sw->out;
    if (!a.out) { rc = cli_fail("%s: no output folder (give out: in the file or --out DIR)", a.cfg_path); goto done; }
    if (!a.store_path) a.store_path = sw->store;
    if (!a.store_path) a.store_path = ll_path_join(a.store_buf, sizeof a.store_buf, a.out, "results.sqlite");
    if (!a.journal) a.journal = sw->journal;
    sel = ll_xmalloc(sizeof(int) * (size_t)(sw->n_points + 1));
    if ((nsel = select_points(sw, &a, sel)) < 0) { rc = cli_fail_lib(); goto done; }
    if (a.slurm) { rc = do_slurm(sw, &a, nsel); goto done; }
    if (a.dry) { rc = do_dry_run(sw, &a, sel, nsel); goto done; }
    /* the store is opened (and checked: ours, writable, a regular file) before any point runs */
    if (ll_mkdirs(a.out) != 0 || !(st = ll_store_open(a.store_path, a.journal))) { rc = cli_fail_lib(); goto done; }
    rc = run_points(sw, &a, st, sel, nsel, argc, argv);
done:
    ll_store_close(st);
    ll_sweep_free(sw);
    free(sel);
    free(a.only.v);
    free(a.sbatch.v);
    return rc;
}
