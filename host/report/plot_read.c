/* Figures, part 1: reading results (law.json files, folders of them) into
 * ll_result_file records (see plot.h and docs/figures.md). */
#include "report/plot.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core/ll_util.h"
#include "report/plot_internal.h"

/* ---- reading results -------------------------------------------------- */

static char *dup_or(const char *s, const char *dflt) { return ll_xstrdup(s ? s : dflt); }
const char *plt_jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
double plt_jnum(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}
/* base name of a path, trailing slashes ignored, into buf */
const char *plt_base_name(char *buf, size_t cap, const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t i = n;
    while (i > 0 && path[i - 1] != '/') i--;
    size_t k = LL_MIN(n - i, cap - 1);
    memcpy(buf, path + i, k);
    buf[k] = 0;
    return buf;
}

/* "step143000" in s: the step, or -1 (and where it starts) */
static long long find_step(const char *s, const char **at) {
    for (const char *p = s; (p = strstr(p, "step")) != NULL; p += 4) {
        if (p[4] >= '0' && p[4] <= '9') {
            if (at) *at = p;
            return strtoll(p + 4, NULL, 10);
        }
    }
    return -1;
}

/* a whole number read from JSON into a range, else dflt (no undefined
 * conversion of a huge or non-finite double) */
static long long jint(double v, long long lo, long long hi, long long dflt) {
    return isfinite(v) && v >= (double)lo && v <= (double)hi ? (long long)v : dflt;
}

/* 1 when the dash/underscore-separated token s[0..n) is a model size: a
 * number with a unit (70m, 1.4b, 135M, 260K) */
static int size_token(const char *s, size_t n) {
    size_t i = 0, d = 0;
    while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) { d += s[i] != '.'; i++; }
    return d > 0 && i + 1 == n && strchr("kKmMbBtT", s[i]) != NULL;
}
/* the series of a model from its label: the label without its size token
 * and without a revision ("pythia-70m@step1000" -> "pythia") */
static char *label_stem(const char *label) {
    ll_sbuf b = {0};
    size_t n = strcspn(label, "@");
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && label[j] != '-' && label[j] != '_') j++;
        if (!size_token(label + i, j - i)) {
            if (b.n && i > 0) ll_sb_add(&b, label + i - 1, 1); /* its separator */
            ll_sb_add(&b, label + i, j - i);
        }
        i = j + 1;
    }
    if (!b.n) ll_sb_add(&b, label, n);
    ll_sb_add(&b, "", 0);
    if (!b.s) return ll_xstrdup(label);
    return b.s;
}

/* reads a regular file of at most LL_PLOT_MAX_BYTES: no device, FIFO or
 * endless stream is read */
static cJSON *load_json_bounded(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) { ll_set_error("%s: %s", path, strerror(errno)); return NULL; }
    if (!S_ISREG(st.st_mode)) { ll_set_error("%s: not a regular file", path); return NULL; }
    if (st.st_size > LL_PLOT_MAX_BYTES) {
        ll_set_error("%s: %lld bytes: larger than a result file can be (%lld)", path, (long long)st.st_size,
                     (long long)LL_PLOT_MAX_BYTES);
        return NULL;
    }
    return ll_json_load(path);
}

/* an array of E numbers (NaN where not a number), walked once: linear in E */
static double *layer_values(const cJSON *layers, int E, const char *k, int *nfinite) {
    double *x = ll_xmalloc((size_t)E * sizeof(double));
    int e = 0, nf = 0;
    for (const cJSON *l = layers ? layers->child : NULL; l && e < E; l = l->next, e++) {
        x[e] = plt_jnum(l, k);
        nf += isfinite(x[e]);
    }
    for (; e < E; e++) x[e] = NAN;
    if (nfinite) *nfinite = nf;
    return x;
}
static double *jarr(const cJSON *a, int E) {
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != E) return NULL;
    double *x = ll_xmalloc((size_t)E * sizeof(double));
    int i = 0;
    for (const cJSON *v = a->child; v && i < E; v = v->next, i++) x[i] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    return x;
}

static int run_from_json(const char *path, cJSON *root, ll_result_file *r) {
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    int E = cJSON_IsArray(layers) ? cJSON_GetArraySize(layers) : 0;
    if (E < 1) { ll_set_error("%s: not a layerlaw law.json (no \"layers\")", path); return -1; }
    if (E > LL_PLOT_MAX_ENTRIES) { ll_set_error("%s: %d layers: more than %d", path, E, LL_PLOT_MAX_ENTRIES); return -1; }
    r->root = root;
    r->path = ll_xstrdup(path);
    r->E = E;
    int nf = 0, nh = 0;
    r->pr = layer_values(layers, E, "pr", NULL);
    r->sepfuzz = layer_values(layers, E, "separation_fuzziness", &nf);
    if (!nf) { free(r->sepfuzz); r->sepfuzz = NULL; }
    r->ho_pr = layer_values(layers, E, "pr_heldout", &nh);
    r->ho_sd = layer_values(layers, E, "pr_heldout_fold_sd", NULL);
    if (!nh) { free(r->ho_pr); free(r->ho_sd); r->ho_pr = r->ho_sd = NULL; }
    const cJSON *fit = cJSON_GetObjectItemCaseSensitive(root, "fit");
    r->slope = r->intercept = r->r2 = r->r = r->rho = r->overall = NAN;
    if (cJSON_IsObject(fit) && isfinite(plt_jnum(fit, "slope"))) {
        r->have_fit = 1;
        r->first_entry = (int)jint(plt_jnum(fit, "first_entry"), 0, E - 1, 0);
        r->n_fit = (int)jint(plt_jnum(fit, "n_points"), 0, E, E - r->first_entry);
        r->slope = plt_jnum(fit, "slope");
        r->intercept = plt_jnum(fit, "intercept");
        r->r2 = plt_jnum(fit, "r2");
        r->r = plt_jnum(fit, "pearson_r");
        r->rho = plt_jnum(fit, "decay_ratio");
        if (!isfinite(r->rho)) r->rho = pow(10.0, r->slope);
        r->overall = plt_jnum(fit, "overall_ratio");
    }
    r->n_examples = plt_jnum(root, "n_examples");
    r->per_feature = plt_jnum(root, "examples_per_feature");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *sweep = cJSON_GetObjectItemCaseSensitive(root, "sweep");
    const char *cmd = plt_jstr(cfg, "command");
    r->command = dup_or(cmd, "run");
    r->position = dup_or(plt_jstr(cfg, "position"), "next");
    r->norm = dup_or(plt_jstr(cfg, "norm"), "");
    r->target = dup_or(plt_jstr(cfg, "target"), "id");
    /* what was measured: config.measure, else what the layers hold */
    const char *ms = plt_jstr(cfg, "measure");
    if (!ms) ms = plt_jstr(root, "measure");
    if (!ms) ms = r->sepfuzz && !isfinite(r->pr[0]) ? "fuzziness" : !strcmp(r->target, "onehot") ? "onehot" : "pr";
    r->measure = ll_xstrdup(ms);
    r->shuffle = jint(plt_jnum(cfg, "shuffle_vocab_seed"), 0, INT64_MAX / 2, -1);
    r->folds = (int)jint(plt_jnum(cfg, "folds"), 0, 1 << 20, 0);
    r->model_type = dup_or(plt_jstr(model, "model_type"), "");
    r->n_params = plt_jnum(model, "n_params");
    /* random weights: a synthetic shape, or the run said so (--weights random) */
    const char *w = plt_jstr(cfg, "weights");
    if (!w) w = plt_jstr(model, "weights");
    if (!w) w = cJSON_GetObjectItemCaseSensitive(cfg, "synthetic_seed") ? "random" : plt_jstr(cfg, "features") ? "unknown" : "checkpoint";
    r->weights = ll_xstrdup(w);
    r->made_up = cJSON_GetObjectItemCaseSensitive(root, "synthetic") != NULL &&
                 !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "synthetic")) &&
                 !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "synthetic"));
    const char *key = plt_jstr(model, "dir");
    if (!key) key = plt_jstr(cfg, "model");
    if (!key) key = plt_jstr(cfg, "features");
    if (!key) key = path;
    r->model_key = ll_xstrdup(key);
    const char *data = plt_jstr(cfg, "data");
    if (!data) data = plt_jstr(cfg, "tokens");
    if (!data) data = plt_jstr(cfg, "labels");
    char b[512], b2[512];
    r->data = ll_xstrdup(data ? plt_base_name(b, sizeof b, data) : "");
    /* training step: the model folder's name, else config.step / revision */
    const char *at = NULL;
    plt_base_name(b, sizeof b, key);
    r->step = find_step(b, &at);
    if (r->step >= 0) {
        if (at == b && strspn(b + 4, "0123456789") == strlen(b + 4)) {
            /* the folder is stepN: the lineage is its parent */
            char parent[4096];
            snprintf(parent, sizeof parent, "%s", key);
            size_t n = strlen(parent);
            while (n > 1 && parent[n - 1] == '/') parent[--n] = 0;
            char *sl = strrchr(parent, '/');
            if (sl) *sl = 0; else snprintf(parent, sizeof parent, ".");
            r->lineage = ll_xstrdup(parent);
            snprintf(b2, sizeof b2, "%s", plt_base_name(b, sizeof b, parent));
        } else {
            /* name-step1000: strip the step and its separator */
            char s2[4096];
            size_t pre = (size_t)(at - b);
            while (pre > 0 && (b[pre - 1] == '-' || b[pre - 1] == '_' || b[pre - 1] == '.')) pre--;
            snprintf(b2, sizeof b2, "%.*s", (int)pre, b);
            size_t kl = strlen(key);
            while (kl > 1 && key[kl - 1] == '/') kl--;
            snprintf(s2, sizeof s2, "%.*s%s", (int)(kl - strlen(b)), key, b2);
            r->lineage = ll_xstrdup(s2);
        }
    } else {
        double st = plt_jnum(cfg, "step");
        const char *rev = plt_jstr(cfg, "revision");
        if (!isfinite(st)) st = plt_jnum(model, "step");
        if (!rev) rev = plt_jstr(model, "revision");
        if (isfinite(st)) r->step = jint(st, 0, INT64_MAX / 2, -1);
        else if (rev) r->step = find_step(rev, NULL);
        r->lineage = ll_xstrdup(key);
        snprintf(b2, sizeof b2, "%s", b);
    }
    /* label: the one the user chose (run --label, the sweep's name:), else the
     * model folder's name (without .gguf; features file without .npy for fit) */
    char *dot = strstr(b2, ".npy");
    if (dot && !strcmp(r->command, "fit")) *dot = 0;
    size_t bl = strlen(b2);
    if (bl > 5 && !strcmp(b2 + bl - 5, ".gguf")) b2[bl - 5] = 0;
    if (!b2[0]) snprintf(b2, sizeof b2, "%s", key);
    const char *lab = plt_jstr(cfg, "label");
    if (!lab || !*lab) lab = plt_jstr(sweep, "model_name");
    r->label = ll_xstrdup(lab && *lab ? lab : b2);
    /* series (a model family: scaling draws one curve per series): chosen by
     * the user (run --series, the sweep's series:), else the label without
     * its size */
    const char *ser = plt_jstr(cfg, "series");
    if (!ser || !*ser) ser = plt_jstr(sweep, "series");
    r->series = ser && *ser ? ll_xstrdup(ser) : label_stem(r->label);
    const cJSON *tp = cJSON_GetObjectItemCaseSensitive(root, "throughput");
    r->tokens_per_s = plt_jnum(tp, "tokens_per_s");
    r->solve_s = plt_jnum(tp, "solve_s");
    r->fwd_s = jarr(cJSON_GetObjectItemCaseSensitive(tp, "per_entry_forward_s"), E);
    r->cap_s = jarr(cJSON_GetObjectItemCaseSensitive(tp, "per_entry_capture_s"), E);
    const cJSON *gt = cJSON_GetObjectItemCaseSensitive(root, "gpu_timing");
    const cJSON *pe = cJSON_GetObjectItemCaseSensitive(gt, "per_entry");
    if (cJSON_IsArray(pe) && cJSON_GetArraySize(pe) == E) {
        r->gpu_layer_ms = layer_values(pe, E, "layer_ms_per_batch", NULL);
        r->gpu_cap_ms = layer_values(pe, E, "capture_ms_per_batch", NULL);
    }
    return 0;
}

int ll_result_file_load(const char *path, ll_result_file *r) {
    memset(r, 0, sizeof *r);
    cJSON *root = load_json_bounded(path);
    if (!root) return -1;
    if (run_from_json(path, root, r) != 0) {
        if (!r->root) cJSON_Delete(root);
        ll_result_file_free(r);
        return -1;
    }
    return 0;
}

/* (series, size, step, label, path): one order for every figure and table */
int ll_result_file_cmp(const ll_result_file *x, const ll_result_file *y) {
    int c = strcmp(x->series, y->series);
    if (c) return c;
    if ((c = strcmp(x->weights, y->weights))) return c;
    double a = isfinite(x->n_params) ? x->n_params : INFINITY, b = isfinite(y->n_params) ? y->n_params : INFINITY;
    if (a != b) return a < b ? -1 : 1;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    if ((c = strcmp(x->label, y->label))) return c;
    return strcmp(x->path, y->path);
}

void ll_result_file_free(ll_result_file *r) {
    free(r->path); free(r->label); free(r->model_key); free(r->series); free(r->lineage); free(r->model_type);
    free(r->measure); free(r->weights); free(r->ho_pr); free(r->ho_sd);
    free(r->data); free(r->command); free(r->position); free(r->norm); free(r->target);
    free(r->pr); free(r->sepfuzz); free(r->fwd_s); free(r->cap_s); free(r->gpu_layer_ms); free(r->gpu_cap_ms);
    cJSON_Delete(r->root);
    memset(r, 0, sizeof *r);
}

void plt_sl_add(strlist *l, const char *s) {
    if (l->n == l->cap) { l->cap = l->cap ? 2 * l->cap : 16; l->v = ll_xrealloc(l->v, (size_t)l->cap * sizeof(char *)); }
    l->v[l->n++] = ll_xstrdup(s);
}
/* adds s unless the list holds it already; 1 when added */
int plt_sl_add_new(strlist *l, const char *s) {
    for (int j = 0; j < l->n; j++)
        if (!strcmp(l->v[j], s)) return 0;
    plt_sl_add(l, s);
    return 1;
}
void plt_sl_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}
/* law.json (and bench.json) files below dir.  Symbolic links are not
 * followed (a `latest -> run1` link would count a run twice, `self -> .`
 * would never end): only the tree itself is searched. */
static int walk(const char *dir, strlist *out, int depth) {
    if (depth > 64) return 0;
    DIR *d = opendir(dir);
    if (!d) { ll_set_error("%s: cannot read folder: %s", dir, strerror(errno)); return -1; }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue; /* ., .., hidden and our temp files */
        char p[4096];
        if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= (int)sizeof p) continue;
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (walk(p, out, depth + 1) != 0) { closedir(d); return -1; }
        } else if (S_ISREG(st.st_mode) && (!strcmp(de->d_name, "law.json") || !strcmp(de->d_name, "bench.json"))) {
            plt_sl_add(out, p);
        }
    }
    closedir(d);
    return 0;
}
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* one test of a bench JSON (layerlaw bench -o json): per-entry time and
 * tokens/s as mean and sample sd over the repetitions */
static double sum_field(const cJSON *o, const char *k, const char *f) {
    return plt_jnum(cJSON_GetObjectItemCaseSensitive(o, k), f);
}
static int bench_from_json(const char *path, const cJSON *root, ll_result_set *rs) {
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(root, "tests");
    int reps = (int)jint(plt_jnum(root, "repetitions"), 0, 1 << 30, 0);
    int k = 0;
    for (const cJSON *t = tests->child; t; t = t->next, k++) {
        const cJSON *pe = cJSON_GetObjectItemCaseSensitive(t, "per_entry");
        int E = cJSON_IsArray(pe) ? cJSON_GetArraySize(pe) : 0;
        if (E < 1 || E > LL_PLOT_MAX_ENTRIES) { ll_set_error("%s: tests[%d]: no per_entry timing", path, k); return -1; }
        rs->bench = ll_xrealloc(rs->bench, (size_t)(rs->nbench + 1) * sizeof *rs->bench);
        ll_bench_entry *b = &rs->bench[rs->nbench++];
        memset(b, 0, sizeof *b);
        b->path = ll_xstrdup(path);
        b->E = E;
        b->reps = reps;
        char nb[4096];
        const char *m = plt_jstr(t, "model");
        plt_base_name(nb, sizeof nb, m ? m : path);
        size_t nl = strlen(nb);
        if (nl > 12 && !strcmp(nb + nl - 12, "/config.json")) nb[nl - 12] = 0;
        if (!strcmp(nb, "config.json") && m) { /* a shape's config.json: its folder */
            char up[4096];
            snprintf(up, sizeof up, "%s", m);
            char *sl = strrchr(up, '/');
            if (sl) { *sl = 0; plt_base_name(nb, sizeof nb, up); }
        }
        b->label = ll_xstrdup(nb);
        b->series = label_stem(nb);
        b->weights = ll_xstrdup(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "synthetic")) ? "random" : "checkpoint");
        const char *be = plt_jstr(t, "backend");
        b->backend = ll_xstrdup(be ? be : "");
        b->n_params = plt_jnum(cJSON_GetObjectItemCaseSensitive(t, "model_info"), "n_params");
        b->threads = plt_jnum(t, "threads");
        b->tok_s = sum_field(t, "tokens_per_s", "mean");
        b->tok_s_sd = sum_field(t, "tokens_per_s", "sd");
        b->fwd_ms = ll_xmalloc((size_t)E * sizeof(double));
        b->fwd_sd = ll_xmalloc((size_t)E * sizeof(double));
        b->cap_ms = ll_xmalloc((size_t)E * sizeof(double));
        b->cap_sd = ll_xmalloc((size_t)E * sizeof(double));
        int e = 0;
        for (const cJSON *x = pe->child; x && e < E; x = x->next, e++) {
            b->fwd_ms[e] = 1e3 * sum_field(x, "forward_s", "mean");
            b->fwd_sd[e] = 1e3 * sum_field(x, "forward_s", "sd");
            b->cap_ms[e] = 1e3 * sum_field(x, "capture_s", "mean");
            b->cap_sd[e] = 1e3 * sum_field(x, "capture_s", "sd");
        }
    }
    return 0;
}
static void bench_free(ll_bench_entry *b) {
    free(b->path); free(b->label); free(b->series); free(b->weights); free(b->backend);
    free(b->fwd_ms); free(b->fwd_sd); free(b->cap_ms); free(b->cap_sd);
}

static int cmp_run(const void *a, const void *b) { return ll_result_file_cmp((const ll_result_file *)a, (const ll_result_file *)b); }

int ll_runset_load(ll_result_set *rs, const char *const *paths, int npaths) {
    memset(rs, 0, sizeof *rs);
    strlist files = {0};
    int rc = -1;
    for (int i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) { ll_set_error("%s: no such file or folder", paths[i]); goto out; }
        if (S_ISDIR(st.st_mode)) {
            char p[4096];
            snprintf(p, sizeof p, "%s", paths[i]);
            size_t n = strlen(p);
            while (n > 1 && p[n - 1] == '/') p[--n] = 0;
            int before = files.n;
            if (walk(p, &files, 0) != 0) goto out;
            if (files.n == before) { ll_set_error("%s: no law.json in this folder or below", paths[i]); goto out; }
            qsort(files.v + before, (size_t)(files.n - before), sizeof(char *), cmp_str);
        } else if (!S_ISREG(st.st_mode)) {
            ll_set_error("%s: not a regular file or a folder", paths[i]);
            goto out;
        } else {
            plt_sl_add(&files, paths[i]);
        }
    }
    if (files.n == 0) { ll_set_error("no results given"); goto out; }
    rs->runs = ll_xcalloc((size_t)files.n, sizeof(ll_result_file));
    dev_t *dev = ll_xcalloc((size_t)files.n, sizeof(dev_t));
    ino_t *ino = ll_xcalloc((size_t)files.n, sizeof(ino_t));
    int nseen = 0;
    for (int i = 0; i < files.n; i++) {
        /* one file named twice (two paths, or a hard link) counts once */
        struct stat st;
        if (stat(files.v[i], &st) != 0) continue;
        int dup = 0;
        for (int j = 0; j < nseen && !dup; j++) dup = dev[j] == st.st_dev && ino[j] == st.st_ino;
        if (dup) continue;
        dev[nseen] = st.st_dev;
        ino[nseen++] = st.st_ino;
        cJSON *root = load_json_bounded(files.v[i]);
        if (!root) goto fail;
        if (!cJSON_GetObjectItemCaseSensitive(root, "layers") && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "tests"))) {
            int brc = bench_from_json(files.v[i], root, rs);
            cJSON_Delete(root);
            if (brc != 0) goto fail;
            continue;
        }
        memset(&rs->runs[rs->n], 0, sizeof(ll_result_file));
        if (run_from_json(files.v[i], root, &rs->runs[rs->n]) != 0) {
            if (!rs->runs[rs->n].root) cJSON_Delete(root);
            ll_result_file_free(&rs->runs[rs->n]);
            goto fail;
        }
        rs->n++;
    }
    free(dev);
    free(ino);
    qsort(rs->runs, (size_t)rs->n, sizeof(ll_result_file), cmp_run);
    rc = 0;
    goto out;
fail:
    free(dev);
    free(ino);
    ll_runset_free(rs);
out:
    plt_sl_free(&files);
    return rc;
}

void ll_runset_free(ll_result_set *rs) {
    for (int i = 0; i < rs->n; i++) ll_result_file_free(&rs->runs[i]);
    for (int i = 0; i < rs->nbench; i++) bench_free(&rs->bench[i]);
    free(rs->runs);
    free(rs->bench);
    memset(rs, 0, sizeof *rs);
}
