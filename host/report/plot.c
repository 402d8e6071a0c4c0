/* Figures from law.json results, drawn by gnuplot (see plot.h and
 * docs/figures.md).  Three parts: reading results (ll_run_load,
 * ll_runset_load), a small figure description (panels of series) rendered to
 * NAME.csv + NAME.gp and run through gnuplot, and the figure families. */
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

extern char **environ;

/* ---- gnuplot and CSV text (into an ll_sbuf, core/ll_util.h) ---------- */

/* a gnuplot string: single-quoted (no backquote command substitution, no
 * escapes; ' doubled); a newline becomes 'a'."\n".'b' (a line break in a
 * title); other control characters become spaces.  Double-quoted strings are
 * never used for text from results: gnuplot runs `...` inside them. */
static void sb_gpstr(ll_sbuf *b, const char *s) {
    ll_sb_puts(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'') ll_sb_puts(b, "''");
        else if (*p == '\n') ll_sb_puts(b, "'.\"\\n\".'");
        else if ((unsigned char)*p < 0x20) ll_sb_puts(b, " ");
        else ll_sb_printf(b, "%c", *p);
    }
    ll_sb_puts(b, "'");
}
/* a CSV field (RFC 4180 quoting when needed) */
static void sb_csv(ll_sbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) { ll_sb_puts(b, s); return; }
    ll_sb_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"') ll_sb_puts(b, "\"\"");
        else ll_sb_printf(b, "%c", *p);
    }
    ll_sb_puts(b, "\"");
}

/* ---- reading results -------------------------------------------------- */

static char *dup_or(const char *s, const char *dflt) { return ll_xstrdup(s ? s : dflt); }
static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
static double jnum(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}
static double *jarr(const cJSON *a, int E) {
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != E) return NULL;
    double *x = ll_xmalloc((size_t)E * sizeof(double));
    for (int i = 0; i < E; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        x[i] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
    return x;
}

/* base name of a path, trailing slashes ignored, into buf */
static const char *base_name(char *buf, size_t cap, const char *path) {
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

int ll_run_load(const char *path, ll_run *r) {
    memset(r, 0, sizeof *r);
    cJSON *root = ll_json_load(path);
    if (!root) return -1;
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    int E = cJSON_IsArray(layers) ? cJSON_GetArraySize(layers) : 0;
    if (E < 1) { cJSON_Delete(root); ll_set_error("%s: not a layerlaw law.json (no \"layers\")", path); return -1; }
    r->root = root;
    r->path = ll_xstrdup(path);
    r->E = E;
    r->pr = ll_xmalloc((size_t)E * sizeof(double));
    int nf = 0;
    for (int e = 0; e < E; e++) {
        const cJSON *l = cJSON_GetArrayItem(layers, e);
        r->pr[e] = jnum(l, "pr");
        nf += isfinite(jnum(l, "separation_fuzziness"));
    }
    if (nf) {
        r->fuzz = ll_xmalloc((size_t)E * sizeof(double));
        for (int e = 0; e < E; e++) r->fuzz[e] = jnum(cJSON_GetArrayItem(layers, e), "separation_fuzziness");
    }
    const cJSON *fit = cJSON_GetObjectItemCaseSensitive(root, "fit");
    r->slope = r->intercept = r->r2 = r->r = r->rho = r->overall = NAN;
    if (cJSON_IsObject(fit) && isfinite(jnum(fit, "slope"))) {
        r->have_fit = 1;
        r->first_entry = (int)jnum(fit, "first_entry");
        if (r->first_entry < 0 || r->first_entry >= E) r->first_entry = 0;
        r->slope = jnum(fit, "slope");
        r->intercept = jnum(fit, "intercept");
        r->r2 = jnum(fit, "r2");
        r->r = jnum(fit, "pearson_r");
        r->rho = jnum(fit, "decay_ratio");
        if (!isfinite(r->rho)) r->rho = pow(10.0, r->slope);
        r->overall = jnum(fit, "overall_ratio");
    }
    r->n_examples = jnum(root, "n_examples");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *cmd = jstr(cfg, "command");
    r->command = dup_or(cmd, "run");
    r->position = dup_or(jstr(cfg, "position"), "next");
    r->norm = dup_or(jstr(cfg, "norm"), "");
    r->target = dup_or(jstr(cfg, "target"), "id");
    double sh = jnum(cfg, "shuffle_vocab_seed");
    r->shuffle = isfinite(sh) ? (long long)sh : -1;
    r->model_type = dup_or(jstr(model, "model_type"), "");
    r->n_params = jnum(model, "n_params");
    const char *key = jstr(model, "dir");
    if (!key) key = jstr(cfg, "model");
    if (!key) key = jstr(cfg, "features");
    if (!key) key = path;
    r->model_key = ll_xstrdup(key);
    const char *data = jstr(cfg, "data");
    if (!data) data = jstr(cfg, "tokens");
    if (!data) data = jstr(cfg, "labels");
    char b[512], b2[512];
    r->data = ll_xstrdup(data ? base_name(b, sizeof b, data) : "");
    /* training step: the model folder's name, else config.step / revision */
    const char *at = NULL;
    base_name(b, sizeof b, key);
    r->step = find_step(b, &at);
    if (r->step >= 0) {
        if (at == b && strspn(b + 4, "0123456789") == strlen(b + 4)) {
            /* the folder is stepN: the series is its parent */
            char parent[4096];
            snprintf(parent, sizeof parent, "%s", key);
            size_t n = strlen(parent);
            while (n > 1 && parent[n - 1] == '/') parent[--n] = 0;
            char *sl = strrchr(parent, '/');
            if (sl) *sl = 0; else snprintf(parent, sizeof parent, ".");
            r->series = ll_xstrdup(parent);
            snprintf(b2, sizeof b2, "%s", base_name(b, sizeof b, parent));
        } else {
            /* name-step1000: strip the step and its separator */
            char s2[4096];
            size_t pre = (size_t)(at - b);
            while (pre > 0 && (b[pre - 1] == '-' || b[pre - 1] == '_' || b[pre - 1] == '.')) pre--;
            snprintf(s2, sizeof s2, "%.*s", (int)pre, b);
            snprintf(b2, sizeof b2, "%s", s2);
            size_t kl = strlen(key);
            while (kl > 1 && key[kl - 1] == '/') kl--;
            snprintf(s2, sizeof s2, "%.*s%s", (int)(kl - strlen(b)), key, b2);
            r->series = ll_xstrdup(s2);
        }
    } else {
        double st = jnum(cfg, "step");
        const char *rev = jstr(cfg, "revision");
        if (!isfinite(st)) st = jnum(model, "step");
        if (!rev) rev = jstr(model, "revision");
        if (isfinite(st)) r->step = (long long)st;
        else if (rev) r->step = find_step(rev, NULL);
        r->series = ll_xstrdup(key);
        snprintf(b2, sizeof b2, "%s", b);
    }
    /* label: the model folder's name (features file without .npy for fit) */
    char *dot = strstr(b2, ".npy");
    if (dot && !strcmp(r->command, "fit")) *dot = 0;
    if (!b2[0]) snprintf(b2, sizeof b2, "%s", key);
    r->label = ll_xstrdup(b2);
    const cJSON *tp = cJSON_GetObjectItemCaseSensitive(root, "throughput");
    r->tokens_per_s = jnum(tp, "tokens_per_s");
    r->solve_s = jnum(tp, "solve_s");
    r->fwd_s = jarr(cJSON_GetObjectItemCaseSensitive(tp, "per_entry_forward_s"), E);
    r->cap_s = jarr(cJSON_GetObjectItemCaseSensitive(tp, "per_entry_capture_s"), E);
    const cJSON *gt = cJSON_GetObjectItemCaseSensitive(root, "gpu_timing");
    const cJSON *pe = cJSON_GetObjectItemCaseSensitive(gt, "per_entry");
    if (cJSON_IsArray(pe) && cJSON_GetArraySize(pe) == E) {
        r->gpu_layer_ms = ll_xmalloc((size_t)E * sizeof(double));
        r->gpu_cap_ms = ll_xmalloc((size_t)E * sizeof(double));
        for (int e = 0; e < E; e++) {
            const cJSON *o = cJSON_GetArrayItem(pe, e);
            r->gpu_layer_ms[e] = jnum(o, "layer_ms_per_batch");
            r->gpu_cap_ms[e] = jnum(o, "capture_ms_per_batch");
        }
    }
    return 0;
}

void ll_run_free(ll_run *r) {
    free(r->path); free(r->label); free(r->model_key); free(r->series); free(r->model_type);
    free(r->data); free(r->command); free(r->position); free(r->norm); free(r->target);
    free(r->pr); free(r->fuzz); free(r->fwd_s); free(r->cap_s); free(r->gpu_layer_ms); free(r->gpu_cap_ms);
    cJSON_Delete(r->root);
    memset(r, 0, sizeof *r);
}

typedef struct {
    char **v;
    int n, cap;
} strlist;
static void sl_add(strlist *l, const char *s) {
    if (l->n == l->cap) { l->cap = l->cap ? 2 * l->cap : 16; l->v = ll_xrealloc(l->v, (size_t)l->cap * sizeof(char *)); }
    l->v[l->n++] = ll_xstrdup(s);
}
/* adds s unless the list holds it already; 1 when added */
static int sl_add_new(strlist *l, const char *s) {
    for (int j = 0; j < l->n; j++)
        if (!strcmp(l->v[j], s)) return 0;
    sl_add(l, s);
    return 1;
}
static void sl_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}
static int walk(const char *dir, strlist *out, int depth) {
    if (depth > 32) return 0;
    DIR *d = opendir(dir);
    if (!d) { ll_set_error("%s: cannot read folder: %s", dir, strerror(errno)); return -1; }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue; /* ., .., hidden and our temp files */
        char p[4096];
        if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= (int)sizeof p) continue;
        struct stat st;
        if (stat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (walk(p, out, depth + 1) != 0) { closedir(d); return -1; }
        } else if (S_ISREG(st.st_mode) && !strcmp(de->d_name, "law.json")) {
            sl_add(out, p);
        }
    }
    closedir(d);
    return 0;
}
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int ll_runset_load(ll_runset *rs, const char *const *paths, int npaths) {
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
        } else {
            sl_add(&files, paths[i]);
        }
    }
    if (files.n == 0) { ll_set_error("no results given"); goto out; }
    rs->runs = ll_xcalloc((size_t)files.n, sizeof(ll_run));
    for (int i = 0; i < files.n; i++) {
        int dup = 0;
        for (int j = 0; j < i; j++) dup |= !strcmp(files.v[i], files.v[j]);
        if (dup) continue;
        if (ll_run_load(files.v[i], &rs->runs[rs->n]) != 0) { ll_runset_free(rs); goto out; }
        rs->n++;
    }
    rc = 0;
out:
    sl_free(&files);
    return rc;
}

void ll_runset_free(ll_runset *rs) {
    for (int i = 0; i < rs->n; i++) ll_run_free(&rs->runs[i]);
    free(rs->runs);
    memset(rs, 0, sizeof *rs);
}

/* ---- options ------------------------------------------------------------ */

static int parse_words(const char *s, const char *const *words, int nw, unsigned *out, const char *what) {
    unsigned m = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int found = 0;
        if (!strcmp(t, "all")) { m = (1u << nw) - 1; found = 1; }
        for (int i = 0; i < nw && !found; i++)
            if (!strcmp(t, words[i])) { m |= 1u << i; found = 1; }
        if (!found) { ll_set_error("--%s: unknown word '%s'", what, t); return -1; }
    }
    if (!m) { ll_set_error("--%s: empty list", what); return -1; }
    *out = m;
    return 0;
}
static const char *const FMT_WORDS[] = {"png", "svg", "pdf", "eps"};
static const char *const FMT_TERM[] = {"pngcairo", "svg", "pdfcairo", "epscairo"};
static const char *const FIG_WORDS[] = {"main", "scaling", "steps", "flow", "measures", "throughput"};
int ll_plot_parse_formats(const char *s, unsigned *out) { return parse_words(s, FMT_WORDS, 4, out, "format"); }
int ll_plot_parse_figures(const char *s, unsigned *out) { return parse_words(s, FIG_WORDS, 6, out, "figures"); }

/* ---- running gnuplot -------------------------------------------------- */

static const char *gnuplot_prog(void) {
    const char *g = getenv("LAYERLAW_GNUPLOT");
    return g && *g ? g : "gnuplot";
}

/* Runs `gnuplot script` in dir (no shell), its output to errbuf. */
static int spawn_gnuplot(const char *dir, const char *script, char *err, size_t errcap) {
    char logp[4200];
    snprintf(logp, sizeof logp, "%s/.gnuplot.log.XXXXXX", dir);
    int lfd = mkstemp(logp);
    if (lfd < 0) { snprintf(err, errcap, "cannot create a log file in %s", dir); return -1; }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, lfd, 1);
    posix_spawn_file_actions_adddup2(&fa, lfd, 2);
    posix_spawn_file_actions_addclose(&fa, lfd);
    if (dir) posix_spawn_file_actions_addchdir_np(&fa, dir);
    char *argv[] = {(char *)gnuplot_prog(), (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    if (rc == 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    }
    /* the first lines gnuplot printed */
    err[0] = 0;
    lseek(lfd, 0, SEEK_SET);
    ssize_t k = read(lfd, err, errcap - 1);
    err[k > 0 ? k : 0] = 0;
    for (char *p = err; *p; p++) if (*p == '\n' && p[1]) *p = ' ';
    close(lfd);
    unlink(logp);
    if (rc != 0) { snprintf(err, errcap, "cannot run %s: %s", argv[0], strerror(rc)); return -1; }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    return 0;
}

int ll_gnuplot_available(void) {
    static int cached = -1;
    if (cached >= 0) return cached;
    char tmpd[] = "/tmp/layerlaw-gp.XXXXXX";
    if (!mkdtemp(tmpd)) return cached = 0;
    char sp[256], err[512];
    snprintf(sp, sizeof sp, "%s/probe.gp", tmpd);
    FILE *f = fopen(sp, "w");
    int ok = 0;
    if (f) {
        /* the cairo terminal must exist: 'set terminal' of an unknown one fails */
        fputs("set terminal pngcairo\nset terminal svg\n", f);
        fclose(f);
        ok = spawn_gnuplot(tmpd, "probe.gp", err, sizeof err) == 0;
        unlink(sp);
    }
    rmdir(tmpd);
    return cached = ok;
}

/* ---- figure description ------------------------------------------------- */

enum { K_LP, K_PTS, K_LINE, K_BOX };
typedef struct {
    char key[256];
    int kind, style;
    char rgb[8];     /* colour override "#rrggbb" ("" = the style's) */
    int pt;          /* point type override (0: the style's) */
    int fill;        /* boxes: 0 solid, 1 pattern */
    double *x, *y;
    int n;
} fseries;
typedef struct {
    char title[400], xlabel[200], ylabel[200];
    int logx, logy, empty;
    int key;          /* 0 off, 1 outside right, 2 below */
    int int_x;        /* integer x ticks (layer index) */
    int boxes;        /* bar chart */
    int si_x, si_y;   /* tick labels with SI prefixes (sizes, steps, tokens/s) */
    fseries **s; /* each allocated on its own: pointers stay valid */
    int ns;
} fpanel;
typedef struct {
    char name[64], title[400];
    int ncols, pw, ph;
    int no_csv; /* the per-run figure writes its own law_points.csv */
    fpanel **p;
    int np;
} figure;

/* Okabe-Ito, in an order that keeps neighbours distinct in greyscale too
 * (dark blue, vermillion, bluish green, reddish purple, orange, sky blue,
 * black, yellow); point and dash types change with the colour. */
static const char *const PAL[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"};
static const int PT[] = {7, 5, 9, 11, 13, 4, 6, 8};
static const int DT[] = {1, 2, 4, 5, 3, 1, 2, 4};
#define NPAL 8

static fpanel *fig_panel(figure *f) {
    f->p = ll_xrealloc(f->p, (size_t)(f->np + 1) * sizeof(fpanel *));
    fpanel *p = ll_xcalloc(1, sizeof *p);
    f->p[f->np++] = p;
    return p;
}
static fseries *panel_series(fpanel *p, int kind, int style, const char *key) {
    p->s = ll_xrealloc(p->s, (size_t)(p->ns + 1) * sizeof(fseries *));
    fseries *s = ll_xcalloc(1, sizeof *s);
    p->s[p->ns++] = s;
    s->kind = kind;
    s->style = style;
    snprintf(s->key, sizeof s->key, "%s", key ? key : "");
    return s;
}
static void series_add(fseries *s, double x, double y) {
    s->x = ll_xrealloc(s->x, (size_t)(s->n + 1) * sizeof(double));
    s->y = ll_xrealloc(s->y, (size_t)(s->n + 1) * sizeof(double));
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
}
static void fig_free(figure *f) {
    for (int i = 0; i < f->np; i++) {
        for (int j = 0; j < f->p[i]->ns; j++) { free(f->p[i]->s[j]->x); free(f->p[i]->s[j]->y); free(f->p[i]->s[j]); }
        free(f->p[i]->s);
        free(f->p[i]);
    }
    free(f->p);
    memset(f, 0, sizeof *f);
}

/* nice step for about n ticks over span */
static double nice_step(double span, int n) {
    double raw = span / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
}

/* a tick label: SI prefix (35K, 1.5M) for sizes and steps, else %.3g */
static void tick_label(char *buf, size_t cap, double v, int si) {
    static const char *pre[] = {"", "K", "M", "B", "T"};
    if (!si) { snprintf(buf, cap, "%.3g", v); return; }
    int k = 0;
    while (fabs(v) >= 1000 && k < 4) { v /= 1000; k++; }
    snprintf(buf, cap, "%.3g%s", v, pre[k]);
}

/* range and ticks.  gnuplot labels a log axis only at powers of ten, which
 * leaves a range inside one decade (PR 0.83..0.91) without labels, so the
 * ticks of a log axis are written out: 1-2-5 steps when they give 3 or
 * more, else linear nice steps. */
static void axis_cmds(ll_sbuf *b, const fpanel *p, char ax) {
    double lo = INFINITY, hi = -INFINITY;
    int logs = ax == 'x' ? p->logx : p->logy, si = ax == 'x' ? p->si_x : p->si_y;
    for (int i = 0; i < p->ns; i++)
        for (int j = 0; j < p->s[i]->n; j++) {
            double v = ax == 'x' ? p->s[i]->x[j] : p->s[i]->y[j];
            if (!isfinite(v) || (logs && !(v > 0))) continue;
            lo = LL_MIN(lo, v);
            hi = LL_MAX(hi, v);
        }
    if (!(lo <= hi)) return;
    char lab[64];
    if (logs) {
        ll_sb_printf(b, "set logscale %c 10\n", ax);
        double l0 = log10(lo), l1 = log10(hi), pad = LL_MAX((l1 - l0) * 0.06, 0.01);
        double a = pow(10, l0 - pad), z = pow(10, l1 + pad);
        ll_sb_printf(b, "set %crange [%.10g:%.10g]\n", ax, a, z);
        double t125[64];
        int n125 = 0;
        for (int e = (int)floor(log10(a)); e <= (int)ceil(log10(z)) && n125 < 60; e++)
            for (int m = 0; m < 3; m++) {
                double t = (m == 0 ? 1 : m == 1 ? 2 : 5) * pow(10, e);
                if (t >= a * (1 - 1e-12) && t <= z * (1 + 1e-12)) t125[n125++] = t;
            }
        int ndec = (int)floor(log10(z)) - (int)ceil(log10(a)) + 1;
        ll_sb_printf(b, "set %ctics (", ax);
        int k = 0;
        if (ndec >= 4) { /* many decades: powers of ten */
            for (int i = 0; i < n125; i++)
                if (fabs(log10(t125[i]) - round(log10(t125[i]))) < 1e-9) {
                    tick_label(lab, sizeof lab, t125[i], si);
                    ll_sb_printf(b, "%s'%s' %.10g", k++ ? ", " : "", lab, t125[i]);
                }
        } else if (n125 >= 3) {
            for (int i = 0; i < n125; i++) {
                tick_label(lab, sizeof lab, t125[i], si);
                ll_sb_printf(b, "%s'%s' %.10g", k++ ? ", " : "", lab, t125[i]);
            }
        } else {
            double st = nice_step(z - a, 6);
            for (double t = ceil(a / st) * st; t <= z * (1 + 1e-12); t += st)
                if (t > 0) {
                    tick_label(lab, sizeof lab, t, si);
                    ll_sb_printf(b, "%s'%s' %.10g", k++ ? ", " : "", lab, t);
                }
        }
        ll_sb_puts(b, ")\n");
        ll_sb_printf(b, "set m%ctics default\n", ax);
    } else if (ax == 'x' && (p->int_x || p->boxes)) {
        ll_sb_printf(b, "set xrange [%g:%g]\n", lo - 0.5, hi + 0.5);
        double st = hi - lo <= 16 ? 1 : nice_step(hi - lo, 8);
        ll_sb_printf(b, "set xtics %g\n", LL_MAX(st, 1));
    } else {
        double pad = (hi - lo) * 0.06;
        if (pad == 0) pad = fabs(hi) * 0.05 + 0.05;
        double a = lo - pad, z = hi + pad;
        if (p->boxes && ax == 'y') { a = 0; z = hi * 1.08; }
        ll_sb_printf(b, "set %crange [%.10g:%.10g]\n", ax, a, z);
        /* ticks at a nice step, labelled with as many decimals as the step needs */
        double st = nice_step(z - a, 5);
        int dec = LL_MAX(0, (int)-floor(log10(st) + 1e-9));
        ll_sb_printf(b, "set %ctics %.10g\nset format %c '%%.%df'\n", ax, st, ax, dec);
    }
}

static void panel_body(ll_sbuf *b, const figure *f, int pi) {
    const fpanel *p = f->p[pi];
    if (p->empty) { ll_sb_puts(b, "set multiplot next\n"); return; }
    ll_sb_puts(b, "reset\nset encoding utf8\nset border 3 lw 1\nset tics nomirror out\nset grid lc rgb '#e0e0e0' lw 1\n");
    /* with a key, the panel title heads the key (both above the plot) */
    ll_sb_puts(b, p->key ? "unset title\n" : "set title ");
    if (!p->key) sb_gpstr(b, p->title);
    ll_sb_puts(b, "\nset xlabel ");
    sb_gpstr(b, p->xlabel);
    ll_sb_puts(b, "\nset ylabel ");
    sb_gpstr(b, p->ylabel);
    ll_sb_puts(b, "\n");
    axis_cmds(b, p, 'x');
    axis_cmds(b, p, 'y');
    /* the key above the plot, under its title: it never covers data and,
     * unlike a key below, never collides with the x label in a multiplot */
    if (p->key) {
        ll_sb_puts(b, "set key tmargin center horizontal Left reverse samplen 2.5 width 1 font ',9' title ");
        sb_gpstr(b, p->title);
        ll_sb_puts(b, " font ',10'\n");
    }
    else ll_sb_puts(b, "set key off\n");
    if (p->boxes) ll_sb_puts(b, "set boxwidth 0.7\n");
    ll_sb_puts(b, "plot ");
    for (int i = 0; i < p->ns; i++) {
        const fseries *s = p->s[i];
        int st = s->style % NPAL;
        const char *rgb = s->rgb[0] ? s->rgb : PAL[st];
        int pt = s->pt ? s->pt : PT[st];
        ll_sb_printf(b, "%s$d%d_%d using 1:2 ", i ? ", \\\n     " : "", pi, i);
        switch (s->kind) {
        case K_LP: ll_sb_printf(b, "with linespoints lw 1.5 dt %d pt %d ps 0.9 lc rgb '%s'", DT[st], pt, rgb); break;
        case K_PTS: ll_sb_printf(b, "with points pt %d ps 1.1 lc rgb '%s'", pt, rgb); break;
        case K_LINE: ll_sb_printf(b, "with lines lw 2 dt %d lc rgb '%s'", DT[st], rgb); break;
        case K_BOX:
            if (s->fill) ll_sb_printf(b, "with boxes fs pattern 4 border lc rgb '#000000' lc rgb '%s'", rgb);
            else ll_sb_printf(b, "with boxes fs solid 0.85 border lc rgb '#000000' lc rgb '%s'", rgb);
            break;
        }
        if (s->key[0] && p->key) { ll_sb_puts(b, " title "); sb_gpstr(b, s->key); }
        else ll_sb_puts(b, " notitle");
    }
    ll_sb_puts(b, "\n");
}

/* the script; out_stem is the output file name without its extension */
static void fig_script(ll_sbuf *b, const figure *f, unsigned formats, const char *out_prefix) {
    ll_sb_printf(b, "# layerlaw figure '%s' (the same numbers are in %s%s.csv); run: gnuplot %s.gp\n", f->name, f->name,
              f->no_csv ? "_points" : "", f->name);
    ll_sb_puts(b, "set encoding utf8\n");
    for (int pi = 0; pi < f->np; pi++)
        for (int i = 0; i < f->p[pi]->ns; i++) {
            const fseries *s = f->p[pi]->s[i];
            ll_sb_printf(b, "$d%d_%d << EOD\n", pi, i);
            for (int j = 0; j < s->n; j++) ll_sb_printf(b, "%.17g %.17g\n", s->x[j], s->y[j]);
            if (s->n == 0) ll_sb_puts(b, "NaN NaN\n");
            ll_sb_puts(b, "EOD\n");
        }
    int rows = (f->np + f->ncols - 1) / f->ncols;
    int W = LL_MAX(f->pw * f->ncols, 800), H = f->ph * rows + 40;
    /* a key above the first row's panels needs a line under the figure title */
    int keyed = 0;
    for (int pi = 0; pi < f->np && pi < f->ncols; pi++) keyed |= f->p[pi]->key && !f->p[pi]->empty;
    char title[512];
    snprintf(title, sizeof title, "%s%s", f->title, keyed ? "\n" : "");
    for (int k = 0; k < 4; k++) {
        if (!(formats & (1u << k))) continue;
        if (k < 2) ll_sb_printf(b, "set terminal %s size %d,%d font 'DejaVu Sans,10' noenhanced%s\n", FMT_TERM[k], W, H,
                             k == 0 ? " background rgb 'white'" : " background rgb 'white'");
        else ll_sb_printf(b, "set terminal %s size %.2fin,%.2fin font 'DejaVu Sans,7' noenhanced\n", FMT_TERM[k], W / 100.0, H / 100.0);
        ll_sb_printf(b, "set output '%s%s.%s'\n", out_prefix, f->name, FMT_WORDS[k]);
        ll_sb_printf(b, "set multiplot layout %d,%d title ", rows, f->ncols);
        sb_gpstr(b, title);
        ll_sb_puts(b, " font ',12'\n");
        for (int pi = 0; pi < f->np; pi++) panel_body(b, f, pi);
        ll_sb_puts(b, "unset multiplot\nunset output\n");
    }
}

static void fig_csv(ll_sbuf *b, const figure *f) {
    ll_sb_puts(b, "figure,panel,panel_title,series,x_label,y_label,x,y\n");
    for (int pi = 0; pi < f->np; pi++) {
        const fpanel *p = f->p[pi];
        for (int i = 0; i < p->ns; i++) {
            const fseries *s = p->s[i];
            for (int j = 0; j < s->n; j++) {
                ll_sb_printf(b, "%s,%d,", f->name, pi);
                sb_csv(b, p->title);
                ll_sb_puts(b, ",");
                sb_csv(b, s->key);
                ll_sb_puts(b, ",");
                sb_csv(b, p->xlabel);
                ll_sb_puts(b, ",");
                sb_csv(b, p->ylabel);
                ll_sb_printf(b, ",%.17g,%.17g\n", s->x[j], s->y[j]);
            }
        }
    }
}

/* Writes NAME.csv, NAME.gp and the formats in outdir. */
static int fig_render(const figure *f, const char *outdir, unsigned formats) {
    char path[4096], tmp_prefix[128], err[2048];
    ll_sbuf csv = {0}, gp = {0}, run = {0};
    int rc = -1;
    fig_csv(&csv, f);
    fig_script(&gp, f, formats, "");
    snprintf(tmp_prefix, sizeof tmp_prefix, ".tmp%ld.", (long)getpid());
    fig_script(&run, f, formats, tmp_prefix);
    char run_name[256];
    snprintf(run_name, sizeof run_name, ".tmp%ld.%s.gp", (long)getpid(), f->name);
    ll_path_join(path, sizeof path, outdir, run_name);
    if (ll_write_file_atomic(path, run.s, run.n) != 0) goto out;
    if (spawn_gnuplot(outdir, run_name, err, sizeof err) != 0) {
        unlink(path);
        for (int k = 0; k < 4; k++) {
            char t[4096], nm[256];
            snprintf(nm, sizeof nm, "%s%s.%s", tmp_prefix, f->name, FMT_WORDS[k]);
            unlink(ll_path_join(t, sizeof t, outdir, nm));
        }
        ll_set_error("%s/%s: gnuplot failed: %.300s", outdir, f->name, err[0] ? err : "(no message)");
        goto out;
    }
    unlink(path);
    for (int k = 0; k < 4; k++) {
        if (!(formats & (1u << k))) continue;
        char from[4096], to[4096], nm[256];
        snprintf(nm, sizeof nm, "%s%s.%s", tmp_prefix, f->name, FMT_WORDS[k]);
        ll_path_join(from, sizeof from, outdir, nm);
        snprintf(nm, sizeof nm, "%s.%s", f->name, FMT_WORDS[k]);
        ll_path_join(to, sizeof to, outdir, nm);
        if (rename(from, to) != 0) { ll_set_error("%s: cannot rename: %s", to, strerror(errno)); goto out; }
    }
    snprintf(run_name, sizeof run_name, "%s.csv", f->name);
    if (!f->no_csv && ll_write_file_atomic(ll_path_join(path, sizeof path, outdir, run_name), csv.s, csv.n) != 0) goto out;
    snprintf(run_name, sizeof run_name, "%s.gp", f->name);
    if (ll_write_file_atomic(ll_path_join(path, sizeof path, outdir, run_name), gp.s, gp.n) != 0) goto out;
    rc = 0;
out:
    free(csv.s);
    free(gp.s);
    free(run.s);
    return rc;
}

/* ---- helpers over runs -------------------------------------------------- */

static const char *POS_ORDER[] = {"previous", "current", "next", "next-next"};
static int pos_index(const char *p) {
    for (int i = 0; i < 4; i++) if (!strcmp(p, POS_ORDER[i])) return i;
    return 4;
}
static int is_default_norm(const char *n) { return !strcmp(n, "initialized") || !strcmp(n, "layernorm") || !strcmp(n, "rmsnorm") || !n[0]; }
/* the measurement of the paper's main figures: next token, id target, no shuffle */
static int is_baseline(const ll_run *r) {
    return !strcmp(r->position, "next") && !strcmp(r->target, "id") && r->shuffle < 0;
}
/* preference among the baseline runs of one model: the default norm first */
static int better_baseline(const ll_run *a, const ll_run *b) {
    int da = is_default_norm(a->norm), db = is_default_norm(b->norm);
    if (da != db) return da > db;
    return 0;
}

/* " (260K params)", or "" when the size is unknown (fit results) */
static void fmt_params(char *buf, size_t cap, double n) {
    if (!isfinite(n) || n <= 0) snprintf(buf, cap, "%s", "");
    else if (n >= 1e9) snprintf(buf, cap, " (%.3gB params)", n / 1e9);
    else if (n >= 1e6) snprintf(buf, cap, " (%.3gM params)", n / 1e6);
    else if (n >= 1e3) snprintf(buf, cap, " (%.3gK params)", n / 1e3);
    else snprintf(buf, cap, " (%.0f params)", n);
}

/* a panel over the hidden-state entries with a log y axis (the caller titles it) */
static void layer_axes(fpanel *p, const char *ylabel, int key) {
    snprintf(p->xlabel, sizeof p->xlabel, "layer (hidden-state entry)");
    snprintf(p->ylabel, sizeof p->ylabel, "%s", ylabel);
    p->logy = 1;
    p->int_x = 1;
    p->key = key;
}
static fpanel *layer_panel(figure *f, const char *ylabel, int key) {
    fpanel *p = fig_panel(f);
    layer_axes(p, ylabel, key);
    return p;
}

/* the PR curve of a run: x = entry index */
static fseries *pr_series(fpanel *p, const ll_run *r, int kind, int style, const char *key) {
    fseries *s = panel_series(p, kind, style, key);
    for (int e = 0; e < r->E; e++)
        if (r->pr[e] > 0) series_add(s, e, r->pr[e]);
    return s;
}
/* the PR points of a run, those in the fit (style 0) and the rest (style 1,
 * grey open squares); returns the second series */
static fseries *fit_points(fpanel *p, const ll_run *r, const char *key_in, const char *key_out) {
    fseries *in = panel_series(p, K_PTS, 0, key_in);
    fseries *out = panel_series(p, K_PTS, 1, key_out);
    out->pt = 4;
    snprintf(out->rgb, sizeof out->rgb, "#888888");
    for (int e = 0; e < r->E; e++)
        if (r->pr[e] > 0) series_add(r->have_fit && e >= r->first_entry ? in : out, e, r->pr[e]);
    return out;
}
static void fit_line(fpanel *p, const ll_run *r, int style, const char *key) {
    if (!r->have_fit) return;
    fseries *s = panel_series(p, K_LINE, style, key);
    for (int e = r->first_entry; e < r->E; e++) series_add(s, e, pow(10, r->intercept + r->slope * (e - r->first_entry)));
}

static void note(ll_figlist *fl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(ll_figlist *fl, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fl->notes = ll_xrealloc(fl->notes, (size_t)(fl->nnotes + 1) * sizeof(char *));
    fl->notes[fl->nnotes++] = ll_xstrdup(buf);
}
static int emit(figure *f, const char *outdir, unsigned formats, ll_figlist *fl, const char *caption) {
    int rc = fig_render(f, outdir, formats);
    if (rc == 0) {
        fl->figs = ll_xrealloc(fl->figs, (size_t)(fl->n + 1) * sizeof(ll_fig));
        ll_fig *g = &fl->figs[fl->n++];
        memset(g, 0, sizeof *g);
        snprintf(g->name, sizeof g->name, "%s", f->name);
        snprintf(g->title, sizeof g->title, "%s", f->title);
        snprintf(g->caption, sizeof g->caption, "%s", caption);
    }
    fig_free(f);
    return rc;
}
void ll_figlist_free(ll_figlist *fl) {
    for (int i = 0; i < fl->nnotes; i++) free(fl->notes[i]);
    free(fl->notes);
    free(fl->figs);
    memset(fl, 0, sizeof *fl);
}

/* representative baseline run of each series (model without its step): the
 * latest step, the default norm.  Returns indices, count in *n. */
static int *representatives(const ll_runset *rs, int *n) {
    int *idx = ll_xmalloc((size_t)(rs->n + 1) * sizeof(int));
    *n = 0;
    for (int i = 0; i < rs->n; i++) {
        const ll_run *r = &rs->runs[i];
        if (!is_baseline(r) || !r->have_fit) continue;
        int k;
        for (k = 0; k < *n; k++)
            if (!strcmp(rs->runs[idx[k]].series, r->series)) break;
        if (k == *n) { idx[(*n)++] = i; continue; }
        const ll_run *o = &rs->runs[idx[k]];
        if (r->step > o->step || (r->step == o->step && better_baseline(r, o))) idx[k] = i;
    }
    return idx;
}

static int grid_cols(int n, int maxc) {
    int c = (int)ceil(sqrt((double)n));
    return LL_MAX(1, LL_MIN(c, maxc));
}

/* ---- the figure families ------------------------------------------------- */

static int fig_main(const ll_runset *rs, const char *outdir, unsigned formats, ll_figlist *fl) {
    int n;
    int *idx = representatives(rs, &n);
    if (n == 0) { free(idx); note(fl, "main: no run of the next-token probe (position next, target id, no shuffle) with a law fit"); return 0; }
    figure f = {0};
    snprintf(f.name, sizeof f.name, "main");
    snprintf(f.title, sizeof f.title, "The law of equi-learning: prediction residual per layer (%d model%s)", n, n > 1 ? "s" : "");
    f.ncols = grid_cols(n, 4);
    f.pw = 360;
    f.ph = 300;
    for (int k = 0; k < n; k++) {
        const ll_run *r = &rs->runs[idx[k]];
        fpanel *p = fig_panel(&f);
        char par[64];
        fmt_params(par, sizeof par, r->n_params);
        snprintf(p->title, sizeof p->title, "%s%s\nr = %.4f, ρ = %.4f", r->label, par, r->r, r->rho);
        layer_axes(p, "PR (log scale)", 0);
        fit_points(p, r, "PR", "PR, not in the fit");
        fit_line(p, r, 1, "fitted line");
    }
    free(idx);
    return emit(&f, outdir, formats, fl,
                "One panel per model: the prediction residual PR of the next-token linear probe at each hidden-state "
                "entry (log scale), the least-squares line fitted to log10 PR over the entries in the fit (grey open "
                "squares: entries left out of the fit), its Pearson r and the decay ratio ρ = 10^slope.");
}

static const ll_runset *g_sort_rs;
static int cmp_by_params(const void *a, const void *b) {
    double x = g_sort_rs->runs[*(const int *)a].n_params, y = g_sort_rs->runs[*(const int *)b].n_params;
    return (x > y) - (x < y);
}
static int cmp_by_step(const void *a, const void *b) {
    long long x = g_sort_rs->runs[*(const int *)a].step, y = g_sort_rs->runs[*(const int *)b].step;
    return (x > y) - (x < y);
}

static int fig_scaling(const ll_runset *rs, const char *outdir, unsigned formats, ll_figlist *fl) {
    int n;
    int *idx = representatives(rs, &n);
    figure f = {.name = "scaling", .title = "Model scaling: the law across sizes of one family", .ncols = 2, .pw = 520, .ph = 340};
    int *grp = ll_xmalloc((size_t)(n + 1) * sizeof(int));
    int *done = ll_xcalloc((size_t)(n + 1), sizeof(int)), families = 0;
    for (int a = 0; a < n; a++) {
        if (done[a]) continue;
        const ll_run *ra = &rs->runs[idx[a]];
        int m = 0;
        for (int b = a; b < n; b++)
            if (!done[b] && !strcmp(rs->runs[idx[b]].model_type, ra->model_type) && isfinite(rs->runs[idx[b]].n_params)) {
                grp[m++] = idx[b];
                done[b] = 1;
            }
        int sizes = 0;
        for (int i = 0; i < m; i++) {
            int seen = 0;
            for (int j = 0; j < i; j++) seen |= rs->runs[grp[j]].n_params == rs->runs[grp[i]].n_params;
            sizes += !seen;
        }
        if (!ra->model_type[0] || sizes < 2) continue;
        families++;
        g_sort_rs = rs;
        qsort(grp, (size_t)m, sizeof(int), cmp_by_params);
        fpanel *p = layer_panel(&f, "PR (log scale)", 1);
        snprintf(p->title, sizeof p->title, "%s: PR per layer, %d models", ra->model_type, m);
        for (int i = 0; i < m; i++) {
            const ll_run *r = &rs->runs[grp[i]];
            char key[256], par[64];
            fmt_params(par, sizeof par, r->n_params);
            snprintf(key, sizeof key, "%s%s", r->label, par);
            pr_series(p, r, K_LP, i, key);
        }
        fpanel *q = fig_panel(&f);
        snprintf(q->title, sizeof q->title, "%s: decay ratio against size", ra->model_type);
        snprintf(q->xlabel, sizeof q->xlabel, "model size (parameters, log scale)");
        snprintf(q->ylabel, sizeof q->ylabel, "decay ratio ρ = 10^slope (per layer)");
        q->logx = 1;
        q->si_x = 1;
        fseries *s = panel_series(q, K_LP, 0, "ρ");
        for (int i = 0; i < m; i++) series_add(s, rs->runs[grp[i]].n_params, rs->runs[grp[i]].rho);
    }
    free(grp);
    free(done);
    free(idx);
    if (!families) { fig_free(&f); note(fl, "scaling: no model family with results at 2 or more sizes (model.model_type, model.n_params)"); return 0; }
    return emit(&f, outdir, formats, fl,
                "Per model family (model_type): left, the PR curves of each size on shared axes; right, the decay "
                "ratio ρ = 10^slope of the fitted law against the number of parameters.");
}

static void viridis(char *out, double t) {
    /* five stops of viridis (perceptually uniform, colour-blind safe, monotone
     * in lightness: readable in greyscale); the light end stops short of yellow */
    static const double S[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {190, 215, 40}};
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    double u = t * 4;
    int i = (int)u;
    if (i >= 4) i = 3;
    double w = u - i;
    int c[3];
    for (int k = 0; k < 3; k++) c[k] = (int)lround(S[i][k] * (1 - w) + S[i + 1][k] * w);
    sprintf(out, "#%02x%02x%02x", c[0], c[1], c[2]);
}

static int fig_steps(const ll_runset *rs, const char *outdir, unsigned formats, ll_figlist *fl) {
    figure f = {.name = "steps", .title = "Training dynamics: the law across training steps", .ncols = 3, .pw = 430, .ph = 330};
    int *grp = ll_xmalloc((size_t)(rs->n + 1) * sizeof(int));
    int *done = ll_xcalloc((size_t)(rs->n + 1), sizeof(int)), nser = 0;
    for (int a = 0; a < rs->n; a++) {
        const ll_run *ra = &rs->runs[a];
        if (done[a] || ra->step < 0 || !is_baseline(ra) || !ra->have_fit) continue;
        int m = 0;
        for (int b = a; b < rs->n; b++) {
            const ll_run *r = &rs->runs[b];
            if (done[b] || r->step < 0 || !is_baseline(r) || !r->have_fit || strcmp(r->series, ra->series)) continue;
            done[b] = 1;
            /* one run per step: the default norm */
            int k;
            for (k = 0; k < m; k++) if (rs->runs[grp[k]].step == r->step) break;
            if (k == m) grp[m++] = b;
            else if (better_baseline(r, &rs->runs[grp[k]])) grp[k] = b;
        }
        if (m < 2) continue;
        nser++;
        g_sort_rs = rs;
        qsort(grp, (size_t)m, sizeof(int), cmp_by_step);
        char name[256], b[512];
        snprintf(name, sizeof name, "%s", base_name(b, sizeof b, ra->series));
        fpanel *p = layer_panel(&f, "PR (log scale)", 1);
        snprintf(p->title, sizeof p->title, "%s: PR per layer by training step", name);
        for (int i = 0; i < m; i++) {
            const ll_run *r = &rs->runs[grp[i]];
            char key[64];
            snprintf(key, sizeof key, "step %lld", r->step);
            fseries *s = pr_series(p, r, K_LP, i, key);
            /* up to 0.8 of the scale: the lightest viridis greens are faint on white */
            viridis(s->rgb, m > 1 ? 0.8 * i / (m - 1) : 0);
        }
        int zero = 0;
        for (int i = 0; i < m; i++) zero += rs->runs[grp[i]].step <= 0;
        for (int w = 0; w < 2; w++) {
            fpanel *q = fig_panel(&f);
            snprintf(q->title, sizeof q->title, "%s: %s", name, w == 0 ? "decay ratio ρ" : "Pearson r of the fit");
            snprintf(q->xlabel, sizeof q->xlabel, zero ? "training step (log scale; step 0 not shown)" : "training step (log scale)");
            snprintf(q->ylabel, sizeof q->ylabel, w == 0 ? "decay ratio ρ = 10^slope (per layer)" : "Pearson r of log10 PR vs layer");
            q->logx = 1;
            q->si_x = 1;
            fseries *s = panel_series(q, K_LP, w == 0 ? 0 : 1, w == 0 ? "ρ" : "r");
            for (int i = 0; i < m; i++) {
                const ll_run *r = &rs->runs[grp[i]];
                if (r->step > 0) series_add(s, (double)r->step, w == 0 ? r->rho : r->r);
            }
        }
    }
    free(grp);
    free(done);
    if (!nser) { fig_free(&f); note(fl, "steps: no model with results at 2 or more training steps (stepN in the model folder name, or config step/revision)"); return 0; }
    return emit(&f, outdir, formats, fl,
                "Per model: PR curves coloured by training step (dark = early, light = late; viridis), and the decay "
                "ratio ρ and Pearson r of the fitted law against the training step (log axis). The step is read from "
                "the model folder name (stepN) or the config's step/revision.");
}

static int fig_flow(const ll_runset *rs, const char *outdir, unsigned formats, ll_figlist *fl) {
    figure f = {.name = "flow", .title = "Information flow: probing the previous, current, next and next-next token", .pw = 460, .ph = 330};
    int *done = ll_xcalloc((size_t)(rs->n + 1), sizeof(int)), ng = 0;
    int grp[4];
    for (int a = 0; a < rs->n; a++) {
        const ll_run *ra = &rs->runs[a];
        if (done[a] || ra->shuffle >= 0 || strcmp(ra->target, "id")) continue;
        int have[4] = {-1, -1, -1, -1}, m = 0;
        for (int b = a; b < rs->n; b++) {
            const ll_run *r = &rs->runs[b];
            if (done[b] || strcmp(r->model_key, ra->model_key) || strcmp(r->norm, ra->norm) || r->shuffle >= 0 ||
                strcmp(r->target, "id"))
                continue;
            int pi = pos_index(r->position);
            if (pi < 4 && have[pi] < 0) { have[pi] = b; done[b] = 1; }
        }
        for (int i = 0; i < 4; i++) if (have[i] >= 0) grp[m++] = have[i];
        if (m < 2) continue;
        ng++;
        fpanel *p = layer_panel(&f, "PR (log scale)", 1);
        snprintf(p->title, sizeof p->title, "%s (norm %s)", ra->label, ra->norm[0] ? ra->norm : "?");
        for (int i = 0; i < m; i++) {
            const ll_run *r = &rs->runs[grp[i]];
            char key[128];
            snprintf(key, sizeof key, "%s%s", r->position,
                     r->have_fit ? "" : " (no fit)");
            if (r->have_fit) snprintf(key, sizeof key, "%s, ρ = %.3f", r->position, r->rho);
            pr_series(p, r, K_LP, pos_index(r->position), key);
        }
    }
    free(done);
    if (!ng) { fig_free(&f); note(fl, "flow: no model with runs at 2 or more token positions (config.position)"); return 0; }
    f.ncols = grid_cols(ng, 3);
    return emit(&f, outdir, formats, fl,
                "Per model: the PR of probes whose target is the previous, current, next or next-next token "
                "(run --position), from the same hidden states.");
}

static int norm_rank(const char *n) { return !strcmp(n, "none") ? 0 : !strcmp(n, "standardize") ? 1 : 2; }

static int fig_measures(const ll_runset *rs, const char *outdir, unsigned formats, ll_figlist *fl) {
    figure f = {.name = "measures", .title = "Measures and normalisation", .ncols = 2, .pw = 500, .ph = 340};
    strlist models = {0};
    for (int i = 0; i < rs->n; i++) sl_add_new(&models, rs->runs[i].model_key);
    int rows = 0;
    for (int mi = 0; mi < models.n; mi++) {
        const char *mk = models.v[mi];
        /* measures: the baseline PR, shuffled-vocabulary PR, one-hot PR, fuzziness */
        int base = -1, shuf = -1, onehot = -1, fz = -1;
        int norms[16], nn = 0;
        for (int i = 0; i < rs->n; i++) {
            const ll_run *r = &rs->runs[i];
            if (strcmp(r->model_key, mk) || strcmp(r->position, "next")) continue;
            if (is_baseline(r)) {
                if (base < 0 || better_baseline(r, &rs->runs[base])) base = i;
                if (r->fuzz && fz < 0) fz = i;
                int k;
                for (k = 0; k < nn; k++) if (!strcmp(rs->runs[norms[k]].norm, r->norm)) break;
                if (k == nn && nn < 16) norms[nn++] = i;
                else if (k < nn && better_baseline(r, &rs->runs[norms[k]])) norms[k] = i;
            } else if (r->shuffle >= 0 && !strcmp(r->target, "id")) {
                if (shuf < 0) shuf = i;
            } else if (!strcmp(r->target, "onehot") && r->shuffle < 0) {
                if (onehot < 0) onehot = i;
            }
        }
        /* normalisations in the order none, standardization, the rest */
        for (int x = 1; x < nn; x++)
            for (int y = x; y > 0 && norm_rank(rs->runs[norms[y]].norm) < norm_rank(rs->runs[norms[y - 1]].norm); y--) {
                int t = norms[y]; norms[y] = norms[y - 1]; norms[y - 1] = t;
            }
        int nmeas = (base >= 0) + (shuf >= 0) + (onehot >= 0) + (fz >= 0);
        if (nmeas < 2 && nn < 2) continue;
        const char *label = rs->runs[base >= 0 ? base : norms[0]].label;
        rows++;
        fpanel *p = fig_panel(&f);
        if (nmeas >= 2) {
            snprintf(p->title, sizeof p->title, "%s: PR under other measures", label);
            layer_axes(p, fz >= 0 ? "PR, or D (log scale)" : "PR (log scale)", 1);
            if (base >= 0) pr_series(p, &rs->runs[base], K_LP, 0, "PR (token id)");
            if (shuf >= 0) {
                char key[96];
                snprintf(key, sizeof key, "shuffled vocabulary (seed %lld)", rs->runs[shuf].shuffle);
                pr_series(p, &rs->runs[shuf], K_LP, 1, key);
            }
            if (onehot >= 0) pr_series(p, &rs->runs[onehot], K_LP, 2, "one-hot target");
            if (fz >= 0) {
                const ll_run *r = &rs->runs[fz];
                fseries *s = panel_series(p, K_LP, 3, "separation fuzziness D");
                for (int e = 0; e < r->E; e++) if (r->fuzz[e] > 0) series_add(s, e, r->fuzz[e]);
            }
        } else {
            p->empty = 1;
        }
        fpanel *q = fig_panel(&f);
        if (nn >= 2) {
            snprintf(q->title, sizeof q->title, "%s: normalisation of the features", label);
            layer_axes(q, "PR (log scale)", 1);
            for (int k = 0; k < nn; k++) {
                const ll_run *r = &rs->runs[norms[k]];
                char key[128];
                snprintf(key, sizeof key, "%s", r->norm[0] ? r->norm : "?");
                if (!strcmp(r->norm, "standardize")) snprintf(key, sizeof key, "standardization");
                if (!strcmp(r->norm, "initialized")) snprintf(key, sizeof key, "initialized (fresh model norm)");
                pr_series(q, r, K_LP, k, key);
            }
        } else {
            q->empty = 1;
        }
    }
    sl_free(&models);
    if (!rows) { fig_free(&f); note(fl, "measures: no model with a shuffled-vocabulary, one-hot or fuzziness result, or 2 or more normalisations, beside its PR"); return 0; }
    return emit(&f, outdir, formats, fl,
                "Per model: left, the PR of the token-id probe beside the shuffled-vocabulary PR (a control: ids "
                "permuted), the one-hot-target PR and the separation fuzziness D where present; right, the PR with "
                "the features not normalised, standardised per token, or through a freshly initialised norm.");
}

static int fig_throughput(const ll_runset *rs, const char *outdir, unsigned formats, ll_figlist *fl) {
    figure f = {.name = "throughput", .title = "Throughput: time per layer, forward and capture", .pw = 420, .ph = 320};
    strlist models = {0};
    int nb = 0, nt = 0;
    for (int i = 0; i < rs->n && nb < 24; i++) {
        const ll_run *r = &rs->runs[i];
        int gpu = r->gpu_layer_ms != NULL;
        if (!gpu && !(r->fwd_s && r->cap_s)) continue;
        if (!sl_add_new(&models, r->series)) continue; /* one panel per model (its training steps time alike) */
        nb++;
        fpanel *p = fig_panel(&f);
        const char *be = jstr(cJSON_GetObjectItemCaseSensitive(r->root, "config"), "backend");
        if (gpu) snprintf(p->title, sizeof p->title, "%s (%s; solve %.3g s)", r->label, be ? be : "cuda", r->solve_s);
        else snprintf(p->title, sizeof p->title, "%s (%s; solve %.3g s)", r->label, be ? be : "cpu", r->solve_s);
        snprintf(p->xlabel, sizeof p->xlabel, "layer (hidden-state entry)");
        snprintf(p->ylabel, sizeof p->ylabel, gpu ? "GPU time per batch (ms)" : "wall time (ms)");
        p->boxes = 1;
        p->key = 2;
        fseries *tot = panel_series(p, K_BOX, 1, "capture (hatched; bar top = forward + capture)");
        tot->fill = 1;
        fseries *fw = panel_series(p, K_BOX, 0, "forward");
        for (int e = 0; e < r->E; e++) {
            /* ms: gpu_timing is in ms per batch, throughput in s */
            double a = gpu ? r->gpu_layer_ms[e] : 1e3 * r->fwd_s[e], c = gpu ? r->gpu_cap_ms[e] : 1e3 * r->cap_s[e];
            if (!isfinite(a)) a = 0;
            if (!isfinite(c)) c = 0;
            series_add(tot, e, a + c);
            series_add(fw, e, a);
        }
    }
    sl_free(&models);
    /* tokens/s against size */
    for (int i = 0; i < rs->n; i++) nt += rs->runs[i].tokens_per_s > 0 && rs->runs[i].n_params > 0;
    if (nt) {
        fpanel *q = fig_panel(&f);
        snprintf(q->title, sizeof q->title, "tokens/s of the run against model size (%d runs)", nt);
        snprintf(q->xlabel, sizeof q->xlabel, "model size (parameters, log scale)");
        snprintf(q->ylabel, sizeof q->ylabel, "throughput (tokens/s, log scale)");
        q->logx = q->logy = 1;
        q->si_x = q->si_y = 1;
        fseries *s = panel_series(q, K_PTS, 0, "tokens/s");
        for (int i = 0; i < rs->n; i++) {
            const ll_run *r = &rs->runs[i];
            if (r->tokens_per_s > 0 && r->n_params > 0) series_add(s, r->n_params, r->tokens_per_s);
        }
    }
    if (!nb && !nt) { fig_free(&f); note(fl, "throughput: no run with per-entry timing (law.json throughput / gpu_timing)"); return 0; }
    f.ncols = grid_cols(f.np, 4);
    return emit(&f, outdir, formats, fl,
                "Per model (first run of each, at most 24): the time spent at each hidden-state entry, the forward pass (solid) "
                "and the capture into the probe statistics (hatched, stacked on top); GPU runs show device time per "
                "batch (gpu_timing), CPU runs wall time. Last panel: tokens/s of the whole run against model size.");
}

int ll_plot_figures(const ll_runset *rs, const char *outdir, unsigned formats, unsigned figures, ll_figlist *fl) {
    memset(fl, 0, sizeof *fl);
    if (!ll_gnuplot_available()) {
        ll_set_error("gnuplot with the cairo terminals is not installed (Debian: apt-get install gnuplot-nox; or set LAYERLAW_GNUPLOT)");
        return -1;
    }
    if (ll_mkdirs(outdir) != 0) return -1;
    typedef int (*famfn)(const ll_runset *, const char *, unsigned, ll_figlist *);
    static const famfn fams[] = {fig_main, fig_scaling, fig_steps, fig_flow, fig_measures, fig_throughput};
    for (int i = 0; i < 6; i++)
        if ((figures & (1u << i)) && fams[i](rs, outdir, formats, fl) != 0) return -1;
    return 0;
}

/* ---- the per-run figure ------------------------------------------------- */

int ll_plot_run_figure(const char *outdir) {
    if (!ll_gnuplot_available()) return 1;
    char path[4096];
    ll_run r;
    if (ll_run_load(ll_path_join(path, sizeof path, outdir, "law.json"), &r) != 0) return -1;
    figure f = {0};
    snprintf(f.name, sizeof f.name, "law");
    char par[64];
    fmt_params(par, sizeof par, r.n_params);
    snprintf(f.title, sizeof f.title, "%s%s%s%s\ndata %s, %.0f examples", r.label, r.model_type[0] ? ", " : "",
             r.model_type, par, r.data[0] ? r.data : "?", r.n_examples);
    f.ncols = 1;
    f.no_csv = 1;
    f.pw = 760;
    f.ph = 500;
    fpanel *p = fig_panel(&f);
    /* fit results have no position: their labels come from elsewhere */
    int has_pos = jstr(cJSON_GetObjectItemCaseSensitive(r.root, "config"), "position") != NULL;
    snprintf(p->title, sizeof p->title, "%s%s%snorm %s, target %s%s", has_pos ? "position " : "",
             has_pos ? r.position : "", has_pos ? ", " : "", r.norm[0] ? r.norm : "?", r.target,
             r.shuffle >= 0 ? ", shuffled vocabulary" : "");
    layer_axes(p, "prediction residual PR (log scale)", 2);
    fseries *out = fit_points(p, &r, "PR (entries in the fit)", "PR (entries not in the fit)");
    if (r.have_fit) {
        char key[256];
        snprintf(key, sizeof key, "fit: slope %.4g, ρ = %.4f, r = %.4f, R² = %.4f", r.slope, r.rho, r.r, r.r2);
        fit_line(p, &r, 1, key);
    }
    if (!out->n) { /* every entry in the fit: no "not in the fit" key */
        free(out->x); free(out->y); free(out);
        p->s[1] = p->s[2];
        p->ns--;
    }
    int rc = fig_render(&f, outdir, LL_FMT_PNG | LL_FMT_SVG);
    fig_free(&f);
    if (rc == 0) {
        /* law_points.csv: one row per entry, the numbers as in law.json */
        ll_sbuf b = {0};
        ll_sb_puts(&b, "entry,pr,log10_pr,in_fit,fit_log10_pr\n");
        for (int e = 0; e < r.E; e++) {
            int inf = r.have_fit && e >= r.first_entry;
            ll_sb_printf(&b, "%d,%.17g,%.17g,%d,", e, r.pr[e], r.pr[e] > 0 ? log10(r.pr[e]) : NAN, inf);
            if (inf) ll_sb_printf(&b, "%.17g\n", r.intercept + r.slope * (e - r.first_entry));
            else ll_sb_puts(&b, "\n");
        }
        rc = ll_write_file_atomic(ll_path_join(path, sizeof path, outdir, "law_points.csv"), b.s, b.n);
        free(b.s);
    }
    ll_run_free(&r);
    return rc == 0 ? 0 : -1;
}
