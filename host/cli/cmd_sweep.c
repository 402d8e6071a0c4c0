/* layerlaw sweep CONFIG: every point of a sweep file, one run of the library
 * pipeline each, recorded in a results store (host/sweep/store.h) and in
 * OUT/points/<key>/{law.json,layers.csv}; points already in the store are
 * skipped, so a rerun resumes.  docs/sweeps.md. */
#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/cli.h"
#include "core/ll_util.h"
#include "hub/hub.h"
#include "pipeline/pipeline.h"
#include "report/provenance.h"
#include "report/report.h"
#include "sweep/store.h"
#include "sweep/sweep.h"

static void sweep_usage(FILE *f) {
    fprintf(f,
            "usage: layerlaw sweep CONFIG [options]\n\n"
            "  CONFIG  a sweep file (YAML or JSON): models, data, axes to cross, options (docs/sweeps.md)\n\n"
            "options:\n"
            "  --out DIR          output folder (default: the file's out:); OUT/points/<key>/ per point\n"
            "  --store FILE       results store (default: the file's store:, else OUT/results.sqlite)\n"
            "  --journal J        wal (default) | delete (a store on a network file system shared by hosts)\n"
            "  --dry-run          list the points (key, model, axes, done or not) and run nothing\n"
            "  --only AXIS=V[,V]  run only matching points (model=NAME, data=NAME, key=PREFIX, any option);\n"
            "                     repeat to combine (all must match)\n"
            "  --task I --tasks N run only points with index %% N == I (Slurm array tasks, manual splits)\n"
            "  --slurm            write OUT/sweep.sbatch, a job array over the points sharing one store, and exit\n"
            "  --slurm-chunk K    points per array task (default 1)\n"
            "  --sbatch 'OPT'     an extra '#SBATCH OPT' line (repeat), e.g. --sbatch '--gpus=1'\n"
            "  --offline          hub models from the cache only (as HF_HUB_OFFLINE=1)\n"
            "  --quiet            no summary table\n");
}

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

/* Options of the pipeline from a resolved point configuration. */
static void config_to_opts(const cJSON *c, ll_run_opts *o) {
#define S(k) (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, k)) ? cJSON_GetObjectItemCaseSensitive(c, k)->valuestring : NULL)
#define N(k) (cJSON_GetObjectItemCaseSensitive(c, k) ? cJSON_GetObjectItemCaseSensitive(c, k)->valuedouble : 0)
#define B(k) cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, k))
    ll_run_opts_default(o);
    o->model = S("model");
    o->tokens = S("tokens");
    o->data = S("data");
    o->tokenizer = S("tokenizer");
    o->split = S("split");
    o->text_field = S("text_field");
    o->docs = (long long)N("docs");
    o->seed = (uint64_t)N("seed");
    o->max_length = (int)N("max_length");
    o->batch_size = (int)N("batch_size");
    o->batch_tokens = (long long)N("batch_tokens");
    o->keep_order = B("keep_order");
    ll_position_parse(S("position"), &o->position);
    const char *nm = S("norm");
    o->norm_initialized = !strcmp(nm, "initialized");
    if (!o->norm_initialized) ll_norm_parse(nm, &o->norm);
    o->norm_last = B("norm_last");
    o->fit_from = (int)N("fit_from");
    o->ridge = N("ridge");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(c, "shuffle_vocab");
    o->have_shuffle = cJSON_IsNumber(sh);
    o->shuffle_seed = o->have_shuffle ? (uint64_t)sh->valuedouble : 0;
    o->embedding_entry = B("embedding_entry");
    o->backend = S("backend");
    o->device = (int)N("device");
    o->compute = S("compute");
    o->threads = (int)N("threads");
#undef S
#undef N
#undef B
}

static int run_point_local(const ll_sweep *sw, const ll_sweep_point *p, ll_run_opts *o, const cJSON *hub_prov,
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

static int run_point_local(const ll_sweep *sw, const ll_sweep_point *p, ll_run_opts *op, const cJSON *hub_prov,
                           const char *out, ll_store *st, const char *label, int first, int argc, char **argv) {
    ll_run_opts o = *op;
    /* a shape file: random weights at that shape (seed 0), for throughput */
    o.synthetic = !strcmp(p->model_kind, "synthetic");
    o.synthetic_seed = 0;
    /* the backend notice once per sweep where no live line is shown */
    o.progress = first || isatty(2) ? 1 : -1;
    o.progress_label = label;
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
    char dir[4096], pd[4096], lp[4200];
    snprintf(pd, sizeof pd, "%s/points", out);
    ll_path_join(dir, sizeof dir, pd, p->key);
    if (!r.extra) r.extra = cJSON_CreateObject();
    cJSON_AddItemToObject(r.extra, "provenance", prov);
    cJSON_AddItemToObject(r.extra, "sweep", si);
    ll_hub_annotate(r.extra, hub_prov, NULL);
    const int have_law = r.have_law;
    const ll_law law_fit = r.law;
    double t1 = ll_now();
    if (ll_report_write_run(dir, &r) != 0) {
        ll_run_result_free(&r);
        return 1;
    }
    double t_report = ll_now() - t1;
    /* the record is exactly what law.json says */
    cJSON *law = ll_json_load(ll_path_join(lp, sizeof lp, dir, "law.json"));
    if (!law) { ll_run_result_free(&r); ll_set_error("%s: cannot read back", lp); return 1; }
    ll_store_record rec = {.key = p->key, .sweep = sw->name, .model = p->model_name, .axes = p->axes,
                           .config = p->config, .result = law,
                           .slope = have_law ? law_fit.slope : NAN, .pearson_r = have_law ? law_fit.pearson_r : NAN,
                           .decay_ratio = have_law ? law_fit.decay_ratio : NAN,
                           .tokens_per_s = ll_json_num(law, "throughput", "tokens_per_s"),
                           .n_params = ll_json_num(law, "model", "n_params"), .seconds = t_run};
    int put = ll_store_put(st, &rec);
    double t_book = ll_now() - t1;
    cJSON_Delete(law);
    ll_run_result_free(&r);
    if (put < 0) return 1;
    if (getenv("LAYERLAW_SWEEP_OVERHEAD"))
        fprintf(stderr, "layerlaw: point %s: run %.4f s, provenance %.4f s, law.json+layers.csv %.4f s, store %.4f s "
                        "(%.3f%% overhead)\n", p->key, t_run, t_prov, t_report, t_book - t_report, 100 * (t_prov + t_book) / t_run);
    return 0;
}

static void print_summary(FILE *f, const ll_sweep *sw, ll_store *st, const int *sel, int nsel, const char *csv_path) {
    cJSON *all = st ? ll_store_dump(st) : NULL;
    size_t cap = 1 << 16, k = 0;
    char *csv = ll_xmalloc(cap);
#define CSV(...) do { int _w = snprintf(csv + k, cap - k, __VA_ARGS__); if (_w > 0 && k + (size_t)_w >= cap) { cap = 2 * (k + (size_t)_w) + 1024; csv = ll_xrealloc(csv, cap); _w = snprintf(csv + k, cap - k, __VA_ARGS__); } if (_w > 0) k += (size_t)_w; } while (0)
    if (f) fprintf(f, "%-4s %-16s %-22s %10s", "#", "key", "model", "params");
    CSV("index,key,model,params");
    for (int a = 0; a < sw->n_axes; a++) { if (f) fprintf(f, " %-12s", sw->axis_names[a]); CSV(",%s", sw->axis_names[a]); }
    if (f) fprintf(f, " %12s %9s %9s %12s  status\n", "slope", "pearson_r", "rho", "tokens/s");
    CSV(",slope,pearson_r,rho,tokens_per_s,status\n");
    for (int i = 0; i < nsel; i++) {
        const ll_sweep_point *p = &sw->points[sel[i]];
        const cJSON *rec = NULL;
        for (const cJSON *x = all ? all->child : NULL; x; x = x->next)
            if (!strcmp(cJSON_GetObjectItemCaseSensitive(x, "key")->valuestring, p->key)) { rec = x; break; }
        double np = rec ? ll_json_num(cJSON_GetObjectItemCaseSensitive(rec, "result"), "model", "n_params") : NAN;
        char nps[32];
        if (isfinite(np)) snprintf(nps, sizeof nps, np >= 1e9 ? "%.2fB" : np >= 1e6 ? "%.1fM" : np >= 1e3 ? "%.1fK" : "%.0f",
                                   np >= 1e9 ? np / 1e9 : np >= 1e6 ? np / 1e6 : np >= 1e3 ? np / 1e3 : np);
        else snprintf(nps, sizeof nps, "-");
        if (f) fprintf(f, "%-4d %-16s %-22.22s %10s", p->index + 1, p->key, p->model_name, nps);
        CSV("%d,%s,%s,%.17g", p->index + 1, p->key, p->model_name, np);
        for (int a = 0; a < sw->n_axes; a++) {
            char v[128];
            ll_sweep_value_str(cJSON_GetObjectItemCaseSensitive(p->axes, sw->axis_names[a]), v, sizeof v);
            if (f) fprintf(f, " %-12.12s", v);
            CSV(",%s", v);
        }
        const char *status = rec                                   ? "done"
                             : model_missing(p)                    ? "missing"
                             : st && ll_store_failed(st, p->key) == 1 ? "failed"
                                                                    : "not run";
        double sl = rec ? ll_json_num(rec, "slope", NULL) : NAN, pr = rec ? ll_json_num(rec, "pearson_r", NULL) : NAN,
               rho = rec ? ll_json_num(rec, "decay_ratio", NULL) : NAN, tps = rec ? ll_json_num(rec, "tokens_per_s", NULL) : NAN;
        if (f) fprintf(f, " %12.6g %9.5f %9.5f %12.4g  %s%s%s\n", sl, pr, rho, tps, status,
                strcmp(status, "missing") ? "" : " ", strcmp(status, "missing") ? "" : p->model_path);
        CSV(",%.17g,%.17g,%.17g,%.17g,%s\n", sl, pr, rho, tps, status);
    }
#undef CSV
    if (csv_path) ll_write_file_atomic(csv_path, csv, k);
    free(csv);
    cJSON_Delete(all);
}

/* The sbatch script: a job array whose task I runs the points with
 * index % N == I, all writing one store. */
static int write_slurm(const ll_sweep *sw, const char *cfg_path, const char *out, const char *store, int chunk,
                       char **only, int n_only, char **sbatch, int n_sbatch, int n_points, char *path_out, size_t cap) {
    int tasks = (n_points + chunk - 1) / chunk;
    if (tasks < 1) tasks = 1;
    char bin[4096];
    ssize_t bl = readlink("/proc/self/exe", bin, sizeof bin - 1);
    if (bl <= 0) snprintf(bin, sizeof bin, "layerlaw");
    else bin[bl] = 0;
    char cfg_abs[4096], out_abs[4096], store_abs[4096], cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, ".");
    if (!realpath(cfg_path, cfg_abs)) snprintf(cfg_abs, sizeof cfg_abs, "%s", cfg_path);
    if (!realpath(out, out_abs)) snprintf(out_abs, sizeof out_abs, "%s", out);
    if (!realpath(store, store_abs)) snprintf(store_abs, sizeof store_abs, "%s", store);
    size_t scap = 8192 + 512 * (size_t)(n_only + n_sbatch), k = 0;
    char *s = ll_xmalloc(scap);
    k += (size_t)snprintf(s + k, scap - k,
                          "#!/bin/bash\n"
                          "# written by: layerlaw sweep %s --slurm  (sweep '%s', %d points, %d per task)\n"
                          "# submit:     sbatch %s/sweep.sbatch\n"
                          "# Every task writes the same results store; a task resubmitted after a failure\n"
                          "# or a time limit skips the points already recorded.\n"
                          "#SBATCH --job-name=layerlaw-%s\n"
                          "#SBATCH --array=0-%d\n"
                          "#SBATCH --output=%s/slurm/%%A_%%a.out\n",
                          cfg_path, sw->name, n_points, chunk, out_abs, sw->name, tasks - 1, out_abs);
    for (int i = 0; i < n_sbatch; i++) k += (size_t)snprintf(s + k, scap - k, "#SBATCH %s\n", sbatch[i]);
    k += (size_t)snprintf(s + k, scap - k,
                          "set -euo pipefail\n"
                          "cd '%s'   # relative paths in the sweep file are taken from here\n"
                          "mkdir -p '%s/slurm'\n"
                          "export LAYERLAW_QUIET=1\n"
                          "exec '%s' sweep '%s' --out '%s' --store '%s' --journal delete --tasks %d --task \"$SLURM_ARRAY_TASK_ID\"",
                          cwd, out_abs, bin, cfg_abs, out_abs, store_abs, tasks);
    for (int i = 0; i < n_only; i++) k += (size_t)snprintf(s + k, scap - k, " --only '%s'", only[i]);
    k += (size_t)snprintf(s + k, scap - k, " --quiet\n");
    snprintf(path_out, cap, "%s/sweep.sbatch", out);
    int rc = ll_write_file_atomic(path_out, s, k);
    if (rc == 0) chmod(path_out, 0755);
    free(s);
    return rc;
}

int cmd_sweep(int argc, char **argv) {
    const char *out = NULL, *store_path = NULL, *journal = NULL;
    int dry = 0, quiet = 0, slurm = 0, chunk = 1, task = -1, tasks = 0;
    char **only = ll_xcalloc((size_t)argc + 1, sizeof(char *)), **sbatch = ll_xcalloc((size_t)argc + 1, sizeof(char *));
    int n_only = 0, n_sbatch = 0;
    enum { O_OUT = 1, O_STORE, O_JOURNAL, O_DRY, O_ONLY, O_TASK, O_TASKS, O_SLURM, O_CHUNK, O_SBATCH, O_QUIET, O_HELP, O_OFFLINE };
    static const struct option opts[] = {
        {"out", 1, 0, O_OUT},       {"store", 1, 0, O_STORE},   {"journal", 1, 0, O_JOURNAL},
        {"dry-run", 0, 0, O_DRY},   {"only", 1, 0, O_ONLY},     {"task", 1, 0, O_TASK},
        {"tasks", 1, 0, O_TASKS},   {"slurm", 0, 0, O_SLURM},   {"slurm-chunk", 1, 0, O_CHUNK},
        {"sbatch", 1, 0, O_SBATCH}, {"quiet", 0, 0, O_QUIET},   {"help", 0, 0, O_HELP},
        {"offline", 0, 0, O_OFFLINE}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c, rc = 2;
    char *end;
    ll_sweep *sw = NULL;
    ll_store *st = NULL;
    int *sel = NULL;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_OUT: out = optarg; break;
        case O_STORE: store_path = optarg; break;
        case O_JOURNAL: journal = optarg; break;
        case O_DRY: dry = 1; break;
        case O_ONLY: only[n_only++] = optarg; break;
        case O_TASK: task = (int)strtol(optarg, &end, 10); if (*end || task < 0) { rc = cli_fail("--task: bad value '%s'", optarg); goto done; } break;
        case O_TASKS: tasks = (int)strtol(optarg, &end, 10); if (*end || tasks < 1) { rc = cli_fail("--tasks: bad value '%s'", optarg); goto done; } break;
        case O_SLURM: slurm = 1; break;
        case O_CHUNK: chunk = (int)strtol(optarg, &end, 10); if (*end || chunk < 1) { rc = cli_fail("--slurm-chunk: bad value '%s'", optarg); goto done; } break;
        case O_SBATCH: sbatch[n_sbatch++] = optarg; break;
        case O_QUIET: quiet = 1; break;
        case O_OFFLINE: ll_hub_set_offline(1); break;
        case O_HELP: sweep_usage(stdout); rc = 0; goto done;
        default: sweep_usage(stderr); rc = cli_fail("sweep: unknown or incomplete option '%s'", argv[optind - 1]); goto done;
        }
    }
    if (optind != argc - 1) { sweep_usage(stderr); rc = cli_fail("sweep: give exactly one sweep file"); goto done; }
    if ((task >= 0) != (tasks > 0)) { rc = cli_fail("sweep: --task and --tasks go together"); goto done; }
    if (tasks > 0 && task >= tasks) { rc = cli_fail("--task %d: must be below --tasks %d", task, tasks); goto done; }
    if (journal && strcmp(journal, "wal") && strcmp(journal, "delete")) { rc = cli_fail("--journal: unknown mode '%s' (wal|delete)", journal); goto done; }
    const char *cfg_path = argv[optind];
    sw = ll_sweep_load(cfg_path);
    if (!sw) { rc = cli_fail_lib(); goto done; }
    if (!out) out = sw->out;
    if (!out) { rc = cli_fail("%s: no output folder (give out: in the file or --out DIR)", cfg_path); goto done; }
    char store_buf[4096];
    if (!store_path) store_path = sw->store;
    if (!store_path) store_path = ll_path_join(store_buf, sizeof store_buf, out, "results.sqlite");
    if (!journal) journal = sw->journal;
    /* the points selected */
    sel = ll_xmalloc(sizeof(int) * (size_t)(sw->n_points + 1));
    int nsel = 0, nmatch = 0;
    for (int i = 0; i < sw->n_points; i++) {
        int m = ll_sweep_point_matches(sw, &sw->points[i], only, n_only);
        if (m < 0) { rc = cli_fail_lib(); goto done; }
        /* a task's share: chunks of the matching points, dealt round robin */
        if (m && (slurm || tasks == 0 || (nmatch / chunk) % tasks == task)) sel[nsel++] = i;
        nmatch += m;
    }
    if (slurm) {
        if (nsel == 0) { rc = cli_fail("%s: no point matches the --only filters", cfg_path); goto done; }
        /* the store is created here, with the rollback journal (tasks on
         * several hosts: WAL needs them on one) unless told otherwise */
        if (ll_mkdirs(out) != 0) { rc = cli_fail_lib(); goto done; }
        st = ll_store_open(store_path, journal ? journal : "delete");
        if (!st) { rc = cli_fail_lib(); goto done; }
        const char *jm = ll_store_journal(st);
        if (jm && !strcmp(jm, "wal") && !(journal && !strcmp(journal, "wal")))
            fprintf(stderr, "layerlaw: warning: %s was created with the WAL journal, which needs every task on one host; "
                            "for tasks on several hosts give a new store (--store FILE)\n", store_path);
        char sp[4200];
        char sd[4200];
        snprintf(sd, sizeof sd, "%s/slurm", out); /* Slurm opens the task logs before the script runs */
        if (ll_mkdirs(sd) != 0 ||
            write_slurm(sw, cfg_path, out, store_path, chunk, only, n_only, sbatch, n_sbatch, nsel, sp, sizeof sp) != 0) {
            rc = cli_fail_lib();
            goto done;
        }
        printf("%s: %d points in %d array tasks; submit with: sbatch %s\n", sp, nsel, (nsel + chunk - 1) / chunk, sp);
        rc = 0;
        goto done;
    }
    if (dry) {
        /* nothing is created: the store is read only if it exists */
        if (ll_path_exists(store_path)) {
            st = ll_store_open(store_path, NULL);
            if (!st) { rc = cli_fail_lib(); goto done; }
        }
        int n_done = 0, n_missing = 0;
        printf("%s: sweep '%s', %d points (%d selected)\n", cfg_path, sw->name, sw->n_points, nsel);
        printf("%-4s %-16s %-22s %-9s", "#", "key", "model", "kind");
        for (int a = 0; a < sw->n_axes; a++) printf(" %-12s", sw->axis_names[a]);
        printf("  status\n");
        for (int i = 0; i < nsel; i++) {
            const ll_sweep_point *p = &sw->points[sel[i]];
            const char *status = point_status(st, p);
            n_done += is_done(status);
            n_missing += !strcmp(status, "missing");
            printf("%-4d %-16s %-22.22s %-9s", p->index + 1, p->key, p->model_name, p->model_kind);
            for (int a = 0; a < sw->n_axes; a++) {
                char v[128];
                ll_sweep_value_str(cJSON_GetObjectItemCaseSensitive(p->axes, sw->axis_names[a]), v, sizeof v);
                printf(" %-12.12s", v);
            }
            if (!strcmp(status, "missing")) printf("  missing: %s\n", p->model_path);
            else if (!is_done(status) && ll_hub_cached(p->model_path) == 0) printf("  %s (fetched from the hub)\n", status);
            else printf("  %s\n", status);
        }
        printf("%d done, %d to run, %d with a missing model\n", n_done, nsel - n_done - n_missing, n_missing);
        rc = 0;
        goto done;
    }
    if (ll_mkdirs(out) != 0) { rc = cli_fail_lib(); goto done; }
    st = ll_store_open(store_path, journal);
    if (!st) { rc = cli_fail_lib(); goto done; }
    int n_run = 0, n_skip = 0, n_missing = 0, n_fail = 0, n_todo = 0;
    for (int i = 0; i < nsel; i++) n_todo += !is_done(point_status(st, &sw->points[sel[i]]));
    double t_start = ll_now();
    int k_todo = 0;
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
        double el = ll_now() - t_start;
        if (n_run > 0) ll_format_duration(el / n_run * (n_todo - k_todo + 1), eta, sizeof eta);
        snprintf(label, sizeof label, "point %d/%d %s (sweep ETA %s)", k_todo, n_todo, p->model_name, eta);
        int prc = run_point(sw, p, out, st, label, n_run + n_fail == 0, argc + 1, argv - 1);
        if (prc != 0) {
            fprintf(stderr, "layerlaw: point %d/%d (%s, %s) failed: %s\n", k_todo, n_todo, p->key, p->model_name, ll_last_error());
            ll_store_put_failure(st, p->key, prc, ll_last_error());
            n_fail++;
            continue;
        }
        n_run++;
    }
    char csv[4200];
    snprintf(csv, sizeof csv, "%s/summary.csv", out);
    if (!quiet) print_summary(stdout, sw, st, sel, nsel, csv);
    else print_summary(NULL, sw, st, sel, nsel, csv);
    fprintf(stderr, "layerlaw: sweep '%s': %d run, %d already done, %d missing, %d failed; store %s\n", sw->name, n_run,
            n_skip, n_missing, n_fail, store_path);
    rc = n_fail ? 1 : 0;
done:
    ll_store_close(st);
    ll_sweep_free(sw);
    free(sel);
    free(only);
    free(sbatch);
    return rc;
}
