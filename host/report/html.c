/* report.html (self-contained: the figures inline as SVG, no network) and
 * report.md (figures referenced as PNG files beside it) over a set of runs. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend_info.h"
#include "core/ll_util.h"
#include "report/plot.h"

typedef struct {
    char *s;
    size_t n, cap;
} hbuf;
static void hb_add(hbuf *b, const char *s, size_t k) {
    if (b->n + k + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + k + 1) c *= 2;
        b->s = ll_xrealloc(b->s, c);
        b->cap = c;
    }
    memcpy(b->s + b->n, s, k);
    b->n += k;
    b->s[b->n] = 0;
}
static void hb_printf(hbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hb_printf(hbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    char *t = ll_xmalloc((size_t)k + 1);
    va_start(ap, fmt);
    vsnprintf(t, (size_t)k + 1, fmt, ap);
    va_end(ap);
    hb_add(b, t, (size_t)k);
    free(t);
}
/* HTML text: & < > " escaped */
static void hb_esc(hbuf *b, const char *s) {
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': hb_add(b, "&amp;", 5); break;
        case '<': hb_add(b, "&lt;", 4); break;
        case '>': hb_add(b, "&gt;", 4); break;
        case '"': hb_add(b, "&quot;", 6); break;
        default: hb_add(b, p, 1);
        }
    }
}
/* Markdown table cell: | and newlines escaped */
static void hb_md(hbuf *b, const char *s) {
    for (const char *p = s; *p; p++) {
        if (*p == '|') hb_add(b, "\\|", 2);
        else if (*p == '\n' || *p == '\r') hb_add(b, " ", 1);
        else hb_add(b, p, 1);
    }
}

static void num(char *buf, size_t cap, double v, const char *fmt) {
    if (isfinite(v)) snprintf(buf, cap, fmt, v);
    else snprintf(buf, cap, "–");
}

/* the columns of the results table, as strings */
#define NCOL 15
static const char *const COLS[NCOL] = {"model", "step", "data", "position", "norm", "target", "shuffle", "entries",
                                       "slope", "intercept", "R²", "r", "ρ", "examples", "tokens/s"};
#define NTEXT 7 /* the first NTEXT columns are text (left-aligned) */
static void row(const ll_run *r, char cell[NCOL][128]) {
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(r->root, "config");
    snprintf(cell[0], 128, "%s", r->label);
    if (r->step >= 0) snprintf(cell[1], 128, "%lld", r->step);
    else snprintf(cell[1], 128, "–");
    snprintf(cell[2], 128, "%s", r->data[0] ? r->data : "–");
    /* fit results have no position (their labels are whatever was given) */
    snprintf(cell[3], 128, "%s", cJSON_GetObjectItemCaseSensitive(cfg, "position") ? r->position : "–");
    snprintf(cell[4], 128, "%s", r->norm[0] ? r->norm : "–");
    snprintf(cell[5], 128, "%s", r->target);
    if (r->shuffle >= 0) snprintf(cell[6], 128, "seed %lld", r->shuffle);
    else snprintf(cell[6], 128, "–");
    snprintf(cell[7], 128, "%d", r->E);
    num(cell[8], 128, r->slope, "%.5g");
    num(cell[9], 128, r->intercept, "%.5g");
    num(cell[10], 128, r->r2, "%.4f");
    num(cell[11], 128, r->r, "%.4f");
    num(cell[12], 128, r->rho, "%.4f");
    num(cell[13], 128, r->n_examples, "%.0f");
    num(cell[14], 128, r->tokens_per_s, "%.0f");
}

static int by_model(const void *a, const void *b) {
    const ll_run *x = *(ll_run *const *)a, *y = *(ll_run *const *)b;
    int c = strcmp(x->series, y->series); /* a model's training steps in order */
    if (c) return c;
    if (x->step != y->step) return (x->step > y->step) - (x->step < y->step);
    return strcmp(x->path, y->path);
}
static ll_run **sorted(const ll_runset *rs) {
    ll_run **v = ll_xmalloc((size_t)(rs->n + 1) * sizeof(ll_run *));
    for (int i = 0; i < rs->n; i++) v[i] = &rs->runs[i];
    qsort(v, (size_t)rs->n, sizeof(ll_run *), by_model);
    return v;
}

/* the SVG file without its XML prolog and doctype, for inlining.  gnuplot
 * names its markers and patterns by id (gpPt6, gpPat1) in every file, and ids
 * are document-wide in HTML: each figure's ids and the references to them
 * (href='#..', url(#..)) get the figure's name as a prefix. */
static char *inline_svg(const char *outdir, const char *name) {
    char p[4096], nm[128];
    snprintf(nm, sizeof nm, "%s.svg", name);
    char *s = ll_read_file(ll_path_join(p, sizeof p, outdir, nm), NULL);
    if (!s) return NULL;
    char *start = strstr(s, "<svg");
    if (!start) { free(s); ll_set_error("%s: not an SVG file", p); return NULL; }
    static const char *const pat[] = {" id='", " id=\"", "href='#", "href=\"#", "url(#"};
    hbuf b = {0};
    for (const char *q = start; *q;) {
        int hit = -1;
        for (int k = 0; k < 5 && hit < 0; k++)
            if (!strncmp(q, pat[k], strlen(pat[k]))) hit = k;
        if (hit < 0) { hb_add(&b, q, 1); q++; continue; }
        hb_add(&b, pat[hit], strlen(pat[hit]));
        hb_printf(&b, "%s-", name);
        q += strlen(pat[hit]);
    }
    free(s);
    return b.s;
}

static const char *CSS =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:1400px;margin:1.5em auto;padding:0 1em;"
    "color:#222;line-height:1.4}\n"
    "h1{font-size:1.6em}h2{font-size:1.3em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\n"
    "table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .5em;"
    "text-align:right;white-space:nowrap}th{background:#f0f0f0}td.t{text-align:left}"
    "tr:nth-child(even) td{background:#fafafa}\n"
    "figure{margin:1em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}"
    "figcaption{font-size:.9em;color:#444;max-width:60em}\n"
    "pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.8em}details{margin:.3em 0}"
    "summary{cursor:pointer}code{font-size:.9em}.note{color:#666}\n";

int ll_report_html(const ll_runset *rs, const ll_figlist *fl, const char *outdir) {
    hbuf b = {0};
    hb_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<title>layerlaw report: %d run%s</title>\n<style>\n%s</style>\n</head>\n<body>\n",
              rs->n, rs->n == 1 ? "" : "s", CSS);
    hb_printf(&b, "<h1>layerlaw report</h1>\n<p>%d result%s (law.json). The law of equi-learning: the prediction "
                  "residual PR of a linear probe from each layer's hidden states to the next-token id falls "
                  "geometrically with depth; slope and intercept of log10 PR against the layer, R² and Pearson r "
                  "of that fit, ρ = 10<sup>slope</sup> the decay ratio per layer.</p>\n",
              rs->n, rs->n == 1 ? "" : "s");
    /* contents */
    hb_printf(&b, "<ul>\n<li><a href=\"#results\">Results</a></li>\n");
    for (int i = 0; i < fl->n; i++) {
        hb_printf(&b, "<li><a href=\"#fig-%s\">", fl->figs[i].name);
        hb_esc(&b, fl->figs[i].title);
        hb_printf(&b, "</a></li>\n");
    }
    hb_printf(&b, "<li><a href=\"#provenance\">Provenance</a></li>\n</ul>\n");
    /* table */
    hb_printf(&b, "<h2 id=\"results\">Results</h2>\n<table>\n<thead><tr>");
    for (int c = 0; c < NCOL; c++) { hb_printf(&b, "<th>"); hb_esc(&b, COLS[c]); hb_printf(&b, "</th>"); }
    hb_printf(&b, "<th>run</th></tr></thead>\n<tbody>\n");
    ll_run **v = sorted(rs);
    for (int i = 0; i < rs->n; i++) {
        char cell[NCOL][128];
        row(v[i], cell);
        hb_printf(&b, "<tr>");
        for (int c = 0; c < NCOL; c++) {
            hb_printf(&b, c == 0 ? "<td class=\"t\" title=\"" : c < NTEXT ? "<td class=\"t\">" : "<td>");
            if (c == 0) { hb_esc(&b, v[i]->model_key); hb_printf(&b, "\">"); }
            hb_esc(&b, cell[c]);
            hb_printf(&b, "</td>");
        }
        hb_printf(&b, "<td><a href=\"#run-%d\">%d</a></td></tr>\n", i + 1, i + 1);
    }
    hb_printf(&b, "</tbody>\n</table>\n");
    /* figures */
    for (int i = 0; i < fl->n; i++) {
        const ll_fig *g = &fl->figs[i];
        hb_printf(&b, "<h2 id=\"fig-%s\">", g->name);
        hb_esc(&b, g->title);
        hb_printf(&b, "</h2>\n<figure>\n");
        char *svg = inline_svg(outdir, g->name);
        if (!svg) { free(v); free(b.s); return -1; }
        hb_add(&b, svg, strlen(svg));
        free(svg);
        hb_printf(&b, "\n<figcaption>");
        hb_esc(&b, g->caption);
        hb_printf(&b, " Data: <code>%s.csv</code>; script: <code>%s.gp</code>.</figcaption>\n</figure>\n", g->name, g->name);
    }
    if (fl->nnotes) {
        hb_printf(&b, "<h2>Figures not drawn</h2>\n<ul class=\"note\">\n");
        for (int i = 0; i < fl->nnotes; i++) { hb_printf(&b, "<li>"); hb_esc(&b, fl->notes[i]); hb_printf(&b, "</li>\n"); }
        hb_printf(&b, "</ul>\n");
    }
    /* provenance */
    hb_printf(&b, "<h2 id=\"provenance\">Provenance</h2>\n<p>The <code>config</code> object of every law.json "
                  "(and its <code>provenance</code> object when present).</p>\n");
    for (int i = 0; i < rs->n; i++) {
        const ll_run *r = v[i];
        hb_printf(&b, "<details id=\"run-%d\"><summary>%d. ", i + 1, i + 1);
        hb_esc(&b, r->path);
        hb_printf(&b, "</summary>\n");
        const char *keys[] = {"config", "provenance", "model"};
        for (int k = 0; k < 3; k++) {
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(r->root, keys[k]);
            if (!o) continue;
            char *t = cJSON_Print(o);
            hb_printf(&b, "<p><b>%s</b></p><pre>", keys[k]);
            if (t) hb_esc(&b, t);
            hb_printf(&b, "</pre>\n");
            free(t);
        }
        hb_printf(&b, "</details>\n");
    }
    hb_printf(&b, "<p class=\"note\">Made by layerlaw %s (layerlaw report).</p>\n</body>\n</html>\n", LL_VERSION);
    free(v);
    char p[4096];
    int rc = ll_write_file_atomic(ll_path_join(p, sizeof p, outdir, "report.html"), b.s, b.n);
    free(b.s);
    return rc;
}

int ll_report_md(const ll_runset *rs, const ll_figlist *fl, const char *outdir) {
    hbuf b = {0};
    hb_printf(&b, "# layerlaw report\n\n%d result%s (law.json). Slope and intercept of log10 PR against the layer, "
                  "R² and Pearson r of that fit, ρ = 10^slope the decay ratio per layer.\n\n## Results\n\n|",
              rs->n, rs->n == 1 ? "" : "s");
    for (int c = 0; c < NCOL; c++) hb_printf(&b, " %s |", COLS[c]);
    hb_printf(&b, "\n|");
    for (int c = 0; c < NCOL; c++) hb_printf(&b, "%s", c < NTEXT ? "---|" : "--:|");
    hb_printf(&b, "\n");
    ll_run **v = sorted(rs);
    for (int i = 0; i < rs->n; i++) {
        char cell[NCOL][128];
        row(v[i], cell);
        hb_printf(&b, "|");
        for (int c = 0; c < NCOL; c++) { hb_printf(&b, " "); hb_md(&b, cell[c]); hb_printf(&b, " |"); }
        hb_printf(&b, "\n");
    }
    for (int i = 0; i < fl->n; i++) {
        const ll_fig *g = &fl->figs[i];
        hb_printf(&b, "\n## %s\n\n![%s](%s.png)\n\n%s Data: `%s.csv`.\n", g->title, g->title, g->name, g->caption, g->name);
    }
    if (fl->nnotes) {
        hb_printf(&b, "\n## Figures not drawn\n\n");
        for (int i = 0; i < fl->nnotes; i++) hb_printf(&b, "- %s\n", fl->notes[i]);
    }
    hb_printf(&b, "\n## Provenance\n\n");
    for (int i = 0; i < rs->n; i++) {
        const ll_run *r = v[i];
        hb_printf(&b, "%d. `%s`\n", i + 1, r->path);
        const char *keys[] = {"config", "provenance"};
        for (int k = 0; k < 2; k++) {
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(r->root, keys[k]);
            if (!o) continue;
            char *t = cJSON_PrintUnformatted(o);
            hb_printf(&b, "   - %s: `%s`\n", keys[k], t ? t : "");
            free(t);
        }
    }
    free(v);
    char p[4096];
    int rc = ll_write_file_atomic(ll_path_join(p, sizeof p, outdir, "report.md"), b.s, b.n);
    free(b.s);
    return rc;
}
