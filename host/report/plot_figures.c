/* Figures, part 3: the figure families (main, scaling, steps, flow,
 * measures, throughput) and the per-run figure, over ll_result_file records and the
 * figure description of plot_internal.h.  Runs come sorted (ll_result_file_cmp:
 * series, weights, size, step, label), so every figure lists them in one
 * order; runs are grouped by what they measured (measure, target, shuffle,
 * norm, position) and by model, lineage (a model across training steps) or
 * series (a family across sizes), never by the first match. */
#include "report/plot.h"
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "report/plot_internal.h"

/* ---- helpers over runs -------------------------------------------------- */

#define RHO_DEF "decay ratio ρ = 10ˢˡᵒᵖᵉ (per layer)"
static const char *POS_ORDER[] = {"previous", "current", "next", "next-next"};
static int pos_index(const char *p) {
    for (int i = 0; i < 4; i++) if (!strcmp(p, POS_ORDER[i])) return i;
    return 4;
}
static int is_default_norm(const char *n) { return !strcmp(n, "initialized") || !strcmp(n, "layernorm") || !strcmp(n, "rmsnorm") || !n[0]; }
static int is_pr(const ll_result_file *r) { return !strcmp(r->measure, "pr") && !strcmp(r->target, "id"); }
/* the measurement of the paper's main figures: PR of the token id, next token, no shuffle */
static int is_baseline(const ll_result_file *r) { return is_pr(r) && !strcmp(r->position, "next") && r->shuffle < 0; }
/* preference among runs of one kind for one model: the default norm first
 * (ties: the earlier in the one order) */
static int better(const ll_result_file *a, const ll_result_file *b) {
    int da = is_default_norm(a->norm), db = is_default_norm(b->norm);
    return da > db;
}
/* keeps in *slot the preferred of the runs offered */
static void offer(const ll_result_set *rs, int *slot, int i) {
    if (*slot < 0 || better(&rs->runs[i], &rs->runs[*slot])) *slot = i;
}

/* " (260K params)", or "" when the size is unknown (fit results) */
static void fmt_params(char *buf, size_t cap, double n) {
    if (!isfinite(n) || n <= 0) snprintf(buf, cap, "%s", "");
    else if (n >= 1e9) snprintf(buf, cap, " (%.3gB params)", n / 1e9);
    else if (n >= 1e6) snprintf(buf, cap, " (%.3gM params)", n / 1e6);
    else if (n >= 1e3) snprintf(buf, cap, " (%.3gK params)", n / 1e3);
    else snprintf(buf, cap, " (%.0f params)", n);
}
/* what a reader must know about a run's weights and numbers */
static const char *weights_tag(const ll_result_file *r) {
    if (r->made_up) return ", made-up numbers";
    if (!strcmp(r->weights, "random")) return ", random weights";
    return "";
}
/* warnings about a run's fit, drawn under its panel: few examples per
 * feature (in-sample PR reads low), a law through 3 points or fewer */
static void run_note(char *buf, size_t cap, const ll_result_file *r) {
    size_t k = 0;
    buf[0] = 0;
    if (isfinite(r->per_feature) && r->per_feature > 0 && r->per_feature < 20)
        k += (size_t)snprintf(buf + k, cap - k, "N/d = %.1f < 20: the probe fits noise, PR reads low", r->per_feature);
    if (r->have_fit && r->n_fit <= 3 && k < cap)
        k += (size_t)snprintf(buf + k, cap - k, "%sfit through %d points: r says little", k ? "; " : "", r->n_fit);
    plt_utf8_trim(buf);
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
    fpanel *p = plt_fig_panel(f);
    layer_axes(p, ylabel, key);
    return p;
}
/* a curve of a run over its entries: x = entry index */
static fseries *values_series(fpanel *p, const double *v, int E, int kind, int style, const char *key) {
    fseries *s = plt_panel_series(p, kind, style, key);
    for (int e = 0; e < E && v; e++)
        if (v[e] > 0) plt_series_add(s, e, v[e]);
    return s;
}
static fseries *pr_series(fpanel *p, const ll_result_file *r, int kind, int style, const char *key) {
    return values_series(p, r->pr, r->E, kind, style, key);
}
/* the PR points of a run, those in the fit (style 0) and the rest (style 1,
 * grey open squares); returns the second series */
static fseries *fit_points(fpanel *p, const ll_result_file *r, const char *key_in, const char *key_out) {
    fseries *in = plt_panel_series(p, K_PTS, 0, key_in);
    fseries *out = plt_panel_series(p, K_PTS, 1, key_out);
    out->pt = 4;
    snprintf(out->rgb, sizeof out->rgb, "#888888");
    for (int e = 0; e < r->E; e++)
        if (r->pr[e] > 0) plt_series_add(r->have_fit && e >= r->first_entry ? in : out, e, r->pr[e]);
    return out;
}
static void fit_line(fpanel *p, const ll_result_file *r, int style, const char *key) {
    if (!r->have_fit) return;
    fseries *s = plt_panel_series(p, K_LINE, style, key);
    for (int e = r->first_entry; e < r->E; e++) plt_series_add(s, e, pow(10, r->intercept + r->slope * (e - r->first_entry)));
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
/* A figure with nothing to draw: dropped, the reason noted; 0 (not an error). */
static int skip(figure *f, ll_figlist *fl, const char *why) {
    plt_fig_free(f);
    note(fl, "%s", why);
    return 0;
}

static int emit(figure *f, const char *outdir, unsigned formats, ll_figlist *fl, const char *caption) {
    if (!fl->pending) fl->pending = ll_xcalloc(1, sizeof *fl->pending);
    int rc = plt_fig_render(f, outdir, formats, fl->pending);
    if (rc == 0) {
        fl->figs = ll_xrealloc(fl->figs, (size_t)(fl->n + 1) * sizeof(ll_fig));
        ll_fig *g = &fl->figs[fl->n++];
        memset(g, 0, sizeof *g);
        snprintf(g->name, sizeof g->name, "%s", f->name);
        snprintf(g->title, sizeof g->title, "%s", f->title);
        snprintf(g->caption, sizeof g->caption, "%s", caption);
    }
    plt_fig_free(f);
    return rc;
}
void ll_figlist_free(ll_figlist *fl) {
    for (int i = 0; i < fl->nnotes; i++) free(fl->notes[i]);
    free(fl->notes);
    free(fl->figs);
    if (fl->pending) { plt_pending_abort(fl->pending); free(fl->pending); }
    memset(fl, 0, sizeof *fl);
}
int ll_plot_commit(ll_figlist *fl) {
    if (!fl->pending) return 0;
    int rc = plt_pending_commit(fl->pending);
    free(fl->pending);
    fl->pending = NULL;
    return rc;
}
const char *ll_plot_file_path(const ll_figlist *fl, const char *outdir, const char *name, char *buf, size_t cap) {
    ll_path_join(buf, cap, outdir, name);
    for (int i = 0; fl->pending && i < fl->pending->n; i++)
        if (!strcmp(fl->pending->dst[i], buf)) { snprintf(buf, cap, "%s", fl->pending->tmp[i]); break; }
    return buf;
}

/* representative baseline run of each lineage (a model without its step):
 * the latest step, the default norm.  Indices in the one order, count in *n. */
static int *representatives(const ll_result_set *rs, int *n) {
    int *idx = ll_xmalloc((size_t)(rs->n + 1) * sizeof(int));
    *n = 0;
    for (int i = 0; i < rs->n; i++) {
        const ll_result_file *r = &rs->runs[i];
        if (!is_baseline(r) || !r->have_fit) continue;
        int k;
        for (k = 0; k < *n; k++)
            if (!strcmp(rs->runs[idx[k]].lineage, r->lineage)) break;
        if (k == *n) { idx[(*n)++] = i; continue; }
        const ll_result_file *o = &rs->runs[idx[k]];
        if (r->step > o->step || (r->step == o->step && better(r, o))) idx[k] = i;
    }
    return idx;
}

static int grid_cols(int n, int maxc) {
    int c = (int)ceil(sqrt((double)n));
    return LL_MAX(1, LL_MIN(c, maxc));
}

/* ---- the figure families ------------------------------------------------- */

static int fig_main(const ll_result_set *rs, const char *outdir, unsigned formats, ll_figlist *fl) {
    int n;
    int *idx = representatives(rs, &n);
    if (n == 0) { free(idx); note(fl, "main: no run of the next-token probe (measure pr, position next, no shuffle) with a law fit"); return 0; }
    figure f = {0};
    snprintf(f.name, sizeof f.name, "main");
    snprintf(f.title, sizeof f.title, "The law of equi-learning: prediction residual per layer (%d model%s)", n, n > 1 ? "s" : "");
    f.ncols = grid_cols(n, 4);
    f.pw = 380;
    f.ph = 360;
    for (int k = 0; k < n; k++) {
        const ll_result_file *r = &rs->runs[idx[k]];
        fpanel *p = plt_fig_panel(&f);
        char par[64];
        fmt_params(par, sizeof par, r->n_params);
        snprintf(p->title, sizeof p->title, "%s%s%s\nr = %.4f, ρ = %.4f", r->label, par, weights_tag(r), r->r, r->rho);
        layer_axes(p, "PR (log scale)", 1);
        run_note(p->note, sizeof p->note, r);
        fit_points(p, r, "PR", "PR, not in the fit");
        fit_line(p, r, 1, "fitted line");
    }
    free(idx);
    return emit(&f, outdir, formats, fl,
                "One panel per model: the prediction residual PR of the next-token linear probe at each hidden-state "
                "entry (log scale), the least-squares line fitted to log₁₀ PR over the entries in the fit (grey open "
                "squares: entries left out of the fit), its Pearson r and the decay ratio ρ = 10ˢˡᵒᵖᵉ. Models with "
                "random weights are marked so; a red note under a panel warns of few examples per feature or a fit "
                "through 3 points or fewer.");
}

static const ll_result_set *g_sort_rs;
static int cmp_by_step(const void *a, const void *b) {
    long long x = g_sort_rs->runs[*(const int *)a].step, y = g_sort_rs->runs[*(const int *)b].step;
    return (x > y) - (x < y);
}
static int same_series(const ll_result_file *a, const ll_result_file *b) {
    return !strcmp(a->series, b->series) && !strcmp(a->weights, b->weights) && a->made_up == b->made_up;
}

static int fig_scaling(const ll_result_set *rs, const char *outdir, unsigned formats, ll_figlist *fl) {
    int n;
    int *idx = representatives(rs, &n);
    figure f = {.name = "scaling", .title = "Model scaling: the law across sizes, one curve per series", .pw = 520, .ph = 360};
    int *grp = ll_xmalloc((size_t)(n + 1) * sizeof(int));
    int *done = ll_xcalloc((size_t)(n + 1), sizeof(int)), families = 0;
    int *gstart = ll_xmalloc((size_t)(n + 1) * sizeof(int)), *glen = ll_xmalloc((size_t)(n + 1) * sizeof(int));
    int *all = ll_xmalloc((size_t)(n + 1) * sizeof(int)), nall = 0;
    /* runs come in (series, weights, size) order: a series is a run of equal keys */
    for (int a = 0; a < n; a++) {
        if (done[a]) continue;
        const ll_result_file *ra = &rs->runs[idx[a]];
        int m = 0;
        for (int b = a; b < n; b++)
            if (!done[b] && same_series(&rs->runs[idx[b]], ra) && isfinite(rs->runs[idx[b]].n_params)) {
                grp[m++] = idx[b];
                done[b] = 1;
            }
        int sizes = 0;
        for (int i = 0; i < m; i++) sizes += i == 0 || rs->runs[grp[i]].n_params != rs->runs[grp[i - 1]].n_params;
        if (sizes < 2) continue;
        gstart[families] = nall;
        glen[families++] = m;
        for (int i = 0; i < m; i++) all[nall++] = grp[i];
        fpanel *p = layer_panel(&f, "PR (log scale)", 1);
        snprintf(p->title, sizeof p->title, "%s%s: PR per layer, %d models", ra->series, weights_tag(ra), m);
        for (int i = 0; i < m; i++) {
            const ll_result_file *r = &rs->runs[grp[i]];
            char key[256], par[64];
            fmt_params(par, sizeof par, r->n_params);
            snprintf(key, sizeof key, "%s%s", r->label, par);
            pr_series(p, r, K_LP, i, key);
        }
    }
    if (families) {
        /* the decay ratio against size: one curve per series, never one line through two */
        fpanel *q = plt_fig_panel(&f);
        snprintf(q->title, sizeof q->title, "decay ratio against size (one curve per series)");
        snprintf(q->xlabel, sizeof q->xlabel, "model size (parameters, log scale)");
        snprintf(q->ylabel, sizeof q->ylabel, RHO_DEF);
        q->logx = 1;
        q->si_x = 1;
        q->key = 1;
        for (int g = 0; g < families; g++) {
            const ll_result_file *r0 = &rs->runs[all[gstart[g]]];
            char key[512];
            snprintf(key, sizeof key, "%s%s", r0->series, weights_tag(r0));
            fseries *s = plt_panel_series(q, K_LP, g, key);
            for (int i = 0; i < glen[g]; i++) {
                const ll_result_file *r = &rs->runs[all[gstart[g] + i]];
                plt_series_add(s, r->n_params, r->rho);
            }
        }
    }
    free(grp); free(done); free(idx); free(gstart); free(glen); free(all);
    if (!families) return skip(&f, fl, "scaling: no series with results at 2 or more sizes (series from run --series, the sweep's series:, or the model name without its size; model.n_params)");
    f.ncols = grid_cols(f.np, 3);
    return emit(&f, outdir, formats, fl,
                "Per series (a model family: run --series or the sweep's series:, else the model name without its "
                "size), the PR curves of each size on shared axes; last panel, the decay ratio ρ = 10ˢˡᵒᵖᵉ of the "
                "fitted law against the number of parameters, one curve per series. Models with random weights form "
                "series of their own.");
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

static int fig_steps(const ll_result_set *rs, const char *outdir, unsigned formats, ll_figlist *fl) {
    figure f = {.name = "steps", .title = "Training dynamics: the law across training steps", .ncols = 3, .pw = 430, .ph = 330};
    int *grp = ll_xmalloc((size_t)(rs->n + 1) * sizeof(int));
    int *done = ll_xcalloc((size_t)(rs->n + 1), sizeof(int)), nser = 0;
    for (int a = 0; a < rs->n; a++) {
        const ll_result_file *ra = &rs->runs[a];
        if (done[a] || ra->step < 0 || !is_baseline(ra) || !ra->have_fit) continue;
        int m = 0;
        for (int b = a; b < rs->n; b++) {
            const ll_result_file *r = &rs->runs[b];
            if (done[b] || r->step < 0 || !is_baseline(r) || !r->have_fit || strcmp(r->lineage, ra->lineage)) continue;
            done[b] = 1;
            /* one run per step: the default norm */
            int k;
            for (k = 0; k < m; k++) if (rs->runs[grp[k]].step == r->step) break;
            if (k == m) grp[m++] = b;
            else if (better(r, &rs->runs[grp[k]])) grp[k] = b;
        }
        if (m < 2) continue;
        nser++;
        g_sort_rs = rs;
        qsort(grp, (size_t)m, sizeof(int), cmp_by_step);
        char name[256], b[512];
        snprintf(name, sizeof name, "%s", plt_base_name(b, sizeof b, ra->lineage));
        fpanel *p = layer_panel(&f, "PR (log scale)", 1);
        snprintf(p->title, sizeof p->title, "%s: PR per layer by training step", name);
        for (int i = 0; i < m; i++) {
            const ll_result_file *r = &rs->runs[grp[i]];
            char key[64];
            snprintf(key, sizeof key, "step %lld", r->step);
            fseries *s = pr_series(p, r, K_LP, i, key);
            /* up to 0.8 of the scale: the lightest viridis greens are faint on white */
            viridis(s->rgb, m > 1 ? 0.8 * i / (m - 1) : 0);
        }
        int zero = 0;
        for (int i = 0; i < m; i++) zero += rs->runs[grp[i]].step <= 0;
        for (int w = 0; w < 2; w++) {
            fpanel *q = plt_fig_panel(&f);
            snprintf(q->title, sizeof q->title, "%s: %s", name, w == 0 ? "decay ratio ρ" : "Pearson r of the fit");
            snprintf(q->xlabel, sizeof q->xlabel, zero ? "training step (log scale; step 0 not shown)" : "training step (log scale)");
            snprintf(q->ylabel, sizeof q->ylabel, w == 0 ? RHO_DEF : "Pearson r of log₁₀ PR vs layer");
            q->logx = 1;
            q->si_x = 1;
            fseries *s = plt_panel_series(q, K_LP, w == 0 ? 0 : 1, w == 0 ? "ρ" : "r");
            for (int i = 0; i < m; i++) {
                const ll_result_file *r = &rs->runs[grp[i]];
                if (r->step > 0) plt_series_add(s, (double)r->step, w == 0 ? r->rho : r->r);
            }
        }
    }
    free(grp);
    free(done);
    if (!nser) return skip(&f, fl, "steps: no model with results at 2 or more training steps (stepN in the model folder name, or config step/revision)");
    return emit(&f, outdir, formats, fl,
                "Per model: PR curves coloured by training step (dark = early, light = late; viridis), and the decay "
                "ratio ρ and Pearson r of the fitted law against the training step (log axis). The step is read from "
                "the model folder name (stepN) or the config's step/revision.");
}


static int fig_flow(const ll_result_set *rs, const char *outdir, unsigned formats, ll_figlist *fl) {
    figure f = {.name = "flow", .title = "Information flow: probing the previous, current, next and next-next token", .pw = 460, .ph = 330};
    int *done = ll_xcalloc((size_t)(rs->n + 1), sizeof(int)), ng = 0;
    int grp[4];
    for (int a = 0; a < rs->n; a++) {
        const ll_result_file *ra = &rs->runs[a];
        if (done[a] || ra->shuffle >= 0 || !is_pr(ra)) continue;
        int have[4] = {-1, -1, -1, -1}, m = 0;
        for (int b = a; b < rs->n; b++) {
            const ll_result_file *r = &rs->runs[b];
            if (done[b] || strcmp(r->model_key, ra->model_key) || strcmp(r->norm, ra->norm) || r->shuffle >= 0 || !is_pr(r))
                continue;
            int pi = pos_index(r->position);
            if (pi < 4 && have[pi] < 0) { have[pi] = b; done[b] = 1; }
        }
        for (int i = 0; i < 4; i++) if (have[i] >= 0) grp[m++] = have[i];
        if (m < 2) continue;
        ng++;
        fpanel *p = layer_panel(&f, "PR (log scale)", 1);
        snprintf(p->title, sizeof p->title, "%s%s (norm %s)", ra->label, weights_tag(ra), ra->norm[0] ? ra->norm : "?");
        for (int i = 0; i < m; i++) {
            const ll_result_file *r = &rs->runs[grp[i]];
            char key[128];
            if (r->have_fit) snprintf(key, sizeof key, "%s, ρ = %.3f", r->position, r->rho);
            else snprintf(key, sizeof key, "%s (no fit)", r->position);
            pr_series(p, r, K_LP, pos_index(r->position), key);
        }
    }
    free(done);
    if (!ng) return skip(&f, fl, "flow: no model with runs at 2 or more token positions (config.position)");
    f.ncols = grid_cols(ng, 3);
    return emit(&f, outdir, formats, fl,
                "Per model: the PR of probes whose target is the previous, current, next or next-next token "
                "(run --position), from the same hidden states.");
}

static int norm_rank(const char *n) { return !strcmp(n, "none") ? 0 : !strcmp(n, "standardize") ? 1 : 2; }

/* what one model was measured with, at the next token */
typedef struct {
    int base, shuf, onehot, fz, ho;
    int norms[16], nn;
} measure_set;
static void measures_of(const ll_result_set *rs, const char *mk, measure_set *m) {
    m->base = m->shuf = m->onehot = m->fz = m->ho = -1;
    m->nn = 0;
    for (int i = 0; i < rs->n; i++) {
        const ll_result_file *r = &rs->runs[i];
        if (strcmp(r->model_key, mk) || strcmp(r->position, "next")) continue;
        if (!strcmp(r->measure, "fuzziness")) { if (r->sepfuzz) offer(rs, &m->fz, i); continue; }
        if (!strcmp(r->measure, "onehot") || !strcmp(r->target, "onehot")) { if (r->shuffle < 0) offer(rs, &m->onehot, i); continue; }
        if (!is_pr(r)) continue;
        if (r->shuffle >= 0) { offer(rs, &m->shuf, i); continue; }
        offer(rs, &m->base, i);
        if (r->ho_pr) offer(rs, &m->ho, i);
        int k;
        for (k = 0; k < m->nn; k++) if (!strcmp(rs->runs[m->norms[k]].norm, r->norm)) break;
        if (k == m->nn && m->nn < 16) m->norms[m->nn++] = i;
    }
    /* normalisations in the order none, standardization, the rest */
    for (int x = 1; x < m->nn; x++)
        for (int y = x; y > 0 && norm_rank(rs->runs[m->norms[y]].norm) < norm_rank(rs->runs[m->norms[y - 1]].norm); y--) {
            int t = m->norms[y]; m->norms[y] = m->norms[y - 1]; m->norms[y - 1] = t;
        }
}

static int fig_measures(const ll_result_set *rs, const char *outdir, unsigned formats, ll_figlist *fl) {
    figure f = {.name = "measures", .title = "Measures and normalisation", .pw = 500, .ph = 360};
    strlist models = {0};
    for (int i = 0; i < rs->n; i++) plt_sl_add_new(&models, rs->runs[i].model_key);
    measure_set *ms = ll_xcalloc((size_t)models.n + 1, sizeof *ms);
    int *row = ll_xcalloc((size_t)models.n + 1, sizeof(int));
    /* the columns present in any row: PR-type measures, fuzziness D, normalisations */
    int col_pr = 0, col_fz = 0, col_norm = 0, rows = 0;
    for (int mi = 0; mi < models.n; mi++) {
        measure_set *m = &ms[mi];
        measures_of(rs, models.v[mi], m);
        int npr = (m->base >= 0) + (m->shuf >= 0) + (m->onehot >= 0) + (m->ho >= 0);
        int nall = npr + (m->fz >= 0);
        if (nall < 2 && m->nn < 2) continue;
        row[mi] = 1;
        rows++;
        col_pr |= npr >= 2 || (npr >= 1 && m->fz >= 0);
        col_fz |= m->fz >= 0;
        col_norm |= m->nn >= 2;
    }
    for (int mi = 0; mi < models.n; mi++) {
        if (!row[mi]) continue;
        const measure_set *m = &ms[mi];
        int any = m->base >= 0 ? m->base : m->fz >= 0 ? m->fz : m->onehot >= 0 ? m->onehot : m->shuf >= 0 ? m->shuf : m->norms[0];
        const ll_result_file *ra = &rs->runs[any];
        char label[300];
        snprintf(label, sizeof label, "%s%s", ra->label, weights_tag(ra));
        int npr = (m->base >= 0) + (m->shuf >= 0) + (m->onehot >= 0) + (m->ho >= 0);
        if (col_pr) {
            fpanel *p = plt_fig_panel(&f);
            if (npr >= 2 || (npr >= 1 && m->fz >= 0)) {
                snprintf(p->title, sizeof p->title, "%s: PR under each measure", label);
                layer_axes(p, "PR (log scale)", 1);
                if (m->base >= 0) pr_series(p, &rs->runs[m->base], K_LP, 0, "PR (token id)");
                if (m->shuf >= 0) {
                    char key[96];
                    snprintf(key, sizeof key, "shuffled vocabulary (seed %lld)", rs->runs[m->shuf].shuffle);
                    pr_series(p, &rs->runs[m->shuf], K_LP, 1, key);
                }
                if (m->onehot >= 0) pr_series(p, &rs->runs[m->onehot], K_LP, 2, "one-hot PR (ΣRSS/ΣTSS over classes)");
                if (m->ho >= 0) {
                    const ll_result_file *r = &rs->runs[m->ho];
                    char key[128];
                    snprintf(key, sizeof key, "held-out PR, %d folds (bars: ± sd over folds)", r->folds);
                    fseries *s = plt_panel_series(p, K_ERR, 3, key);
                    for (int e = 0; e < r->E; e++)
                        if (r->ho_pr[e] > 0) plt_series_add_err(s, e, r->ho_pr[e], r->ho_sd ? r->ho_sd[e] : NAN);
                }
            } else {
                p->empty = 1;
            }
        }
        if (col_fz) {
            fpanel *p = plt_fig_panel(&f);
            if (m->fz >= 0) {
                const ll_result_file *r = &rs->runs[m->fz];
                snprintf(p->title, sizeof p->title, "%s: separation fuzziness", label);
                layer_axes(p, "D = tr(S_w S_b⁺) (log scale)", 1);
                values_series(p, r->sepfuzz, r->E, K_LP, 3, "separation fuzziness D");
                if (r->have_fit) {
                    char key[128];
                    snprintf(key, sizeof key, "fitted line (ρ = %.4f)", r->rho);
                    fit_line(p, r, 1, key);
                }
            } else {
                p->empty = 1;
            }
        }
        if (col_norm) {
            fpanel *q = plt_fig_panel(&f);
            if (m->nn >= 2) {
                snprintf(q->title, sizeof q->title, "%s: normalisation of the features", label);
                layer_axes(q, "PR (log scale)", 1);
                for (int k = 0; k < m->nn; k++) {
                    const ll_result_file *r = &rs->runs[m->norms[k]];
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
    }
    plt_sl_free(&models);
    free(ms);
    free(row);
    if (!rows) return skip(&f, fl, "measures: no model with a shuffled-vocabulary, one-hot, fuzziness or held-out result, or 2 or more normalisations, beside its PR");
    f.ncols = col_pr + col_fz + col_norm;
    return emit(&f, outdir, formats, fl,
                "Per model, each measure present (run --measure, --shuffle-vocab, --folds): the PR of the token-id "
                "probe beside the shuffled-vocabulary PR (a control: ids permuted), the one-hot PR and the held-out "
                "PR (bars: its sd over folds); the separation fuzziness D on its own log axis; and the PR with the "
                "features not normalised, standardised per token, or through a freshly initialised norm.");
}

static int cmp_bench(const void *a, const void *b) {
    const ll_bench_entry *x = a, *y = b;
    int c = strcmp(x->series, y->series);
    if (c) return c;
    double p = isfinite(x->n_params) ? x->n_params : INFINITY, q = isfinite(y->n_params) ? y->n_params : INFINITY;
    if (p != q) return p < q ? -1 : 1;
    return strcmp(x->label, y->label);
}

static int fig_throughput(const ll_result_set *rs, const char *outdir, unsigned formats, ll_figlist *fl) {
    figure f = {.name = "throughput", .title = "Throughput: time per layer, forward and capture", .pw = 420, .ph = 340};
    strlist models = {0};
    int nb = 0, nt = 0;
    /* bench results: mean ± sd over the repetitions */
    ll_bench_entry *be = NULL;
    if (rs->nbench) {
        be = ll_xmalloc((size_t)rs->nbench * sizeof *be);
        memcpy(be, rs->bench, (size_t)rs->nbench * sizeof *be);
        qsort(be, (size_t)rs->nbench, sizeof *be, cmp_bench);
    }
    for (int i = 0; i < rs->nbench && nb < 24; i++) {
        const ll_bench_entry *b = &be[i];
        nb++;
        fpanel *p = plt_fig_panel(&f);
        char par[64];
        fmt_params(par, sizeof par, b->n_params);
        snprintf(p->title, sizeof p->title, "%s%s%s\n(bench, %s, %d reps)", b->label, par,
                 !strcmp(b->weights, "random") ? ", random weights" : "", b->backend[0] ? b->backend : "?", b->reps);
        snprintf(p->xlabel, sizeof p->xlabel, "layer (hidden-state entry)");
        snprintf(p->ylabel, sizeof p->ylabel, "wall time per entry (ms, mean ± sd)");
        p->int_x = 1;
        p->key = 1;
        fseries *fw = plt_panel_series(p, K_ERR, 0, "forward");
        fseries *cp = plt_panel_series(p, K_ERR, 1, "capture");
        for (int e = 0; e < b->E; e++) {
            plt_series_add_err(fw, e, b->fwd_ms[e], b->fwd_sd[e]);
            plt_series_add_err(cp, e, b->cap_ms[e], b->cap_sd[e]);
        }
    }
    for (int i = 0; i < rs->n && nb < 24; i++) {
        const ll_result_file *r = &rs->runs[i];
        int gpu = r->gpu_layer_ms != NULL;
        if (!gpu && !(r->fwd_s && r->cap_s)) continue;
        if (!plt_sl_add_new(&models, r->lineage)) continue; /* one panel per model (its training steps time alike) */
        nb++;
        fpanel *p = plt_fig_panel(&f);
        const char *bk = plt_jstr(cJSON_GetObjectItemCaseSensitive(r->root, "config"), "backend");
        snprintf(p->title, sizeof p->title, "%s%s\n(%s; one run; solve %.3g s)", r->label, weights_tag(r), bk ? bk : gpu ? "cuda" : "cpu", r->solve_s);
        snprintf(p->xlabel, sizeof p->xlabel, "layer (hidden-state entry)");
        snprintf(p->ylabel, sizeof p->ylabel, gpu ? "GPU time per batch (ms)" : "wall time (ms)");
        p->boxes = 1;
        p->key = 2;
        fseries *tot = plt_panel_series(p, K_BOX, 1, "capture (hatched; bar top = forward + capture)");
        tot->fill = 1;
        fseries *fw = plt_panel_series(p, K_BOX, 0, "forward");
        for (int e = 0; e < r->E; e++) {
            /* ms: gpu_timing is in ms per batch, throughput in s */
            double a = gpu ? r->gpu_layer_ms[e] : 1e3 * r->fwd_s[e], c = gpu ? r->gpu_cap_ms[e] : 1e3 * r->cap_s[e];
            if (!isfinite(a)) a = 0;
            if (!isfinite(c)) c = 0;
            plt_series_add(tot, e, a + c);
            plt_series_add(fw, e, a);
        }
    }
    plt_sl_free(&models);
    /* tokens/s against size: bench (mean ± sd, one curve per series), runs (one point each) */
    int nbt = 0;
    for (int i = 0; i < rs->nbench; i++) nbt += be[i].tok_s > 0 && be[i].n_params > 0;
    for (int i = 0; i < rs->n; i++) nt += rs->runs[i].tokens_per_s > 0 && rs->runs[i].n_params > 0;
    if (nt || nbt) {
        fpanel *q = plt_fig_panel(&f);
        snprintf(q->title, sizeof q->title, "tokens/s against model size");
        snprintf(q->xlabel, sizeof q->xlabel, "model size (parameters, log scale)");
        snprintf(q->ylabel, sizeof q->ylabel, "throughput (tokens/s, log scale)");
        q->logx = q->logy = 1;
        q->si_x = q->si_y = 1;
        q->key = 1;
        int style = 0;
        for (int i = 0; i < rs->nbench;) {
            int j = i;
            while (j < rs->nbench && !strcmp(be[j].series, be[i].series)) j++;
            char key[256];
            snprintf(key, sizeof key, "%s (bench, mean ± sd)", be[i].series);
            fseries *s = plt_panel_series(q, K_ERR, style++, key);
            for (int k = i; k < j; k++)
                if (be[k].tok_s > 0 && be[k].n_params > 0) plt_series_add_err(s, be[k].n_params, be[k].tok_s, be[k].tok_s_sd);
            i = j;
        }
        if (nt) {
            fseries *s = plt_panel_series(q, K_PTS, style, "runs (law.json, one sample each)");
            for (int i = 0; i < rs->n; i++) {
                const ll_result_file *r = &rs->runs[i];
                if (r->tokens_per_s > 0 && r->n_params > 0) plt_series_add(s, r->n_params, r->tokens_per_s);
            }
        }
    }
    free(be);
    if (!nb && !nt && !nbt) return skip(&f, fl, "throughput: no bench result and no run with per-entry timing (law.json throughput / gpu_timing)");
    f.ncols = grid_cols(f.np, 4);
    return emit(&f, outdir, formats, fl,
                "Per model (at most 24 panels): the time spent at each hidden-state entry. From layerlaw bench: the "
                "forward pass and the capture into the probe statistics, mean ± sample sd over the repetitions. From "
                "a run's law.json (one sample): the forward (solid) with the capture stacked on top (hatched); GPU "
                "runs show device time per batch. Last panel: tokens/s against model size.");
}

int ll_plot_figures(const ll_result_set *rs, const char *outdir, unsigned formats, unsigned figures, ll_figlist *fl) {
    memset(fl, 0, sizeof *fl);
    if (!ll_gnuplot_available()) {
        ll_set_error("gnuplot with the cairo terminals is not installed (Debian: apt-get install gnuplot-nox; or set LAYERLAW_GNUPLOT)");
        return -1;
    }
    if (ll_mkdirs(outdir) != 0) return -1;
    typedef int (*famfn)(const ll_result_set *, const char *, unsigned, ll_figlist *);
    static const famfn fams[] = {fig_main, fig_scaling, fig_steps, fig_flow, fig_measures, fig_throughput};
    for (int i = 0; i < 6; i++)
        if ((figures & (1u << i)) && fams[i](rs, outdir, formats, fl) != 0) return -1;
    return 0;
}

/* ---- the per-run figure ------------------------------------------------- */

int ll_plot_run_figure(const char *outdir) {
    if (!ll_gnuplot_available()) return 1;
    char path[4096];
    ll_result_file r;
    if (ll_result_file_load(ll_path_join(path, sizeof path, outdir, "law.json"), &r) != 0) return -1;
    figure f = {0};
    snprintf(f.name, sizeof f.name, "law");
    char par[64];
    fmt_params(par, sizeof par, r.n_params);
    snprintf(f.title, sizeof f.title, "%s%s%s%s%s\ndata %s, %.0f examples", r.label, r.model_type[0] ? ", " : "",
             r.model_type, par, weights_tag(&r), r.data[0] ? r.data : "?", r.n_examples);
    f.ncols = 1;
    f.no_csv = 1;
    f.pw = 760;
    f.ph = 500;
    fpanel *p = plt_fig_panel(&f);
    /* fit results have no position: their labels come from elsewhere */
    int has_pos = plt_jstr(cJSON_GetObjectItemCaseSensitive(r.root, "config"), "position") != NULL;
    snprintf(p->title, sizeof p->title, "%s%s%snorm %s, target %s%s", has_pos ? "position " : "",
             has_pos ? r.position : "", has_pos ? ", " : "", r.norm[0] ? r.norm : "?", r.target,
             r.shuffle >= 0 ? ", shuffled vocabulary" : "");
    layer_axes(p, "prediction residual PR (log scale)", 2);
    run_note(p->note, sizeof p->note, &r);
    fit_points(p, &r, "PR (entries in the fit)", "PR (entries not in the fit)");
    if (r.have_fit) {
        char key[256];
        snprintf(key, sizeof key, "fit: slope %.4g, ρ = %.4f, r = %.4f, R² = %.4f", r.slope, r.rho, r.r, r.r2);
        fit_line(p, &r, 1, key);
    }
    plt_pending pend = {0};
    int rc = plt_fig_render(&f, outdir, LL_FMT_PNG | LL_FMT_SVG, &pend);
    plt_fig_free(&f);
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
        rc = plt_pending_write(&pend, outdir, "law_points.csv", b.s, b.n);
        free(b.s);
    }
    if (rc == 0) rc = plt_pending_commit(&pend);
    else plt_pending_abort(&pend);
    ll_result_file_free(&r);
    return rc == 0 ? 0 : -1;
}
