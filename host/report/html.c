/* report.html (self-contained: the figures inline as SVG, no network) and
 * report.md (figures referenced as PNG files beside it) over a set of runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend_info.h"
#include "core/ll_util.h"
#include "report/plot.h"
#include "report/plot_internal.h"

/* HTML text: & < > " ' escaped, invalid UTF-8 replaced (U+FFFD) */
static void hb_esc(ll_sbuf *b, const char *s) {
    for (const char *p = s; *p;) {
        switch (*p) {
        case '&': ll_sb_add(b, "&amp;", 5); break;
        case '<': ll_sb_add(b, "&lt;", 4); break;
        case '>': ll_sb_add(b, "&gt;", 4); break;
        case '"': ll_sb_add(b, "&quot;", 6); break;
        case '\'': ll_sb_add(b, "&#39;", 5); break;
        default: {
            size_t k = plt_utf8_len(p);
            plt_sb_utf8(b, p, k ? k : 1);
            p += k ? k : 1;
            continue;
        }
        }
        p++;
    }
}
/* pre, the escaped text, post */
static void esc_in(ll_sbuf *b, const char *pre, const char *s, const char *post) {
    ll_sb_puts(b, pre);
    hb_esc(b, s);
    ll_sb_puts(b, post);
}
/* outdir/name from b, pending with the figures (ll_plot_commit); frees b */
static int write_out(ll_figlist *fl, const char *outdir, const char *name, ll_sbuf *b) {
    if (!fl->pending) fl->pending = ll_xcalloc(1, sizeof *fl->pending);
    int rc = plt_pending_write(fl->pending, outdir, name, b->s, b->n);
    free(b->s);
    return rc;
}
/* Markdown text (a table cell, a list item): no raw HTML and no markup from
 * the text: < > & as entities, Markdown's punctuation backslash-escaped,
 * newlines as spaces, invalid UTF-8 replaced */
static void hb_md(ll_sbuf *b, const char *s) {
    for (const char *p = s; *p;) {
        if (*p == '<') ll_sb_puts(b, "&lt;");
        else if (*p == '>') ll_sb_puts(b, "&gt;");
        else if (*p == '&') ll_sb_puts(b, "&amp;");
        else if (*p == '\n' || *p == '\r') ll_sb_add(b, " ", 1);
        else if (strchr("\\`*_[]|~", *p)) { ll_sb_add(b, "\\", 1); ll_sb_add(b, p, 1); }
        else {
            size_t k = plt_utf8_len(p);
            plt_sb_utf8(b, p, k ? k : 1);
            p += k ? k : 1;
            continue;
        }
        p++;
    }
}
/* a Markdown code span holding s literally: fenced by more backquotes than
 * any run inside it (CommonMark), padded with spaces; newlines as spaces */
static void md_code(ll_sbuf *b, const char *s) {
    int run = 0, longest = 0;
    for (const char *p = s; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        longest = LL_MAX(longest, run);
    }
    for (int i = 0; i <= longest; i++) ll_sb_add(b, "`", 1);
    ll_sb_add(b, " ", 1);
    ll_sbuf t = {0};
    for (const char *p = s; *p; p++) ll_sb_add(&t, *p == '\n' || *p == '\r' ? " " : p, 1);
    if (t.n) plt_sb_utf8(b, t.s, t.n);
    free(t.s);
    ll_sb_add(b, " ", 1);
    for (int i = 0; i <= longest; i++) ll_sb_add(b, "`", 1);
}

static void num(char *buf, size_t cap, double v, const char *fmt) {
    if (isfinite(v)) snprintf(buf, cap, fmt, v);
    else snprintf(buf, cap, "–");
}

/* the columns of the results table, as strings */
#define NCOL 19
static const char *const COLS[NCOL] = {"series", "model", "weights", "step", "data", "measure", "position", "norm", "target",
                                       "shuffle", "entries", "slope", "intercept", "R²", "r", "ρ", "examples", "N/d",
                                       "tokens/s"};
#define NTEXT 10 /* the first NTEXT columns are text (left-aligned) */
#define CELL 256
static void row(const ll_result_file *r, char cell[NCOL][CELL]) {
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(r->root, "config");
    snprintf(cell[0], CELL, "%s", r->series);
    snprintf(cell[1], CELL, "%s", r->label);
    snprintf(cell[2], CELL, "%s", r->made_up ? "made-up numbers" : !strcmp(r->weights, "unknown") ? "–" : r->weights);
    if (r->step >= 0) snprintf(cell[3], CELL, "%lld", r->step);
    else snprintf(cell[3], CELL, "–");
    snprintf(cell[4], CELL, "%s", r->data[0] ? r->data : "–");
    if (r->folds > 0) snprintf(cell[5], CELL, "%s, %d folds", r->measure, r->folds);
    else snprintf(cell[5], CELL, "%s", r->measure);
    /* fit results have no position (their labels are whatever was given) */
    snprintf(cell[6], CELL, "%s", cJSON_GetObjectItemCaseSensitive(cfg, "position") ? r->position : "–");
    snprintf(cell[7], CELL, "%s", r->norm[0] ? r->norm : "–");
    snprintf(cell[8], CELL, "%s", r->target);
    if (r->shuffle >= 0) snprintf(cell[9], CELL, "seed %lld", r->shuffle);
    else snprintf(cell[9], CELL, "–");
    snprintf(cell[10], CELL, "%d", r->E);
    num(cell[11], CELL, r->slope, "%.5g");
    num(cell[12], CELL, r->intercept, "%.5g");
    num(cell[13], CELL, r->r2, "%.4f");
    num(cell[14], CELL, r->r, "%.4f");
    num(cell[15], CELL, r->rho, "%.4f");
    num(cell[16], CELL, r->n_examples, "%.0f");
    num(cell[17], CELL, r->per_feature, "%.1f");
    if (isfinite(r->per_feature) && r->per_feature > 0 && r->per_feature < 20) strcat(cell[17], " (< 20)");
    num(cell[18], CELL, r->tokens_per_s, "%.0f");
    for (int c = 0; c < NCOL; c++) plt_utf8_trim(cell[c]);
}

static int by_model(const void *a, const void *b) { return ll_result_file_cmp(*(ll_result_file *const *)a, *(ll_result_file *const *)b); }
static ll_result_file **sorted(const ll_result_set *rs) {
    ll_result_file **v = ll_xmalloc((size_t)(rs->n + 1) * sizeof(ll_result_file *));
    for (int i = 0; i < rs->n; i++) v[i] = &rs->runs[i];
    qsort(v, (size_t)rs->n, sizeof(ll_result_file *), by_model);
    return v;
}

/* the SVG file without its XML prolog and doctype, for inlining.  gnuplot
 * names its markers and patterns by id (gpPt6, gpPat1) in every file, and ids
 * are document-wide in HTML: each figure's ids and the references to them
 * (href='#..', url(#..)) get the figure's name as a prefix. */
static char *inline_svg(const ll_figlist *fl, const char *outdir, const char *name) {
    char p[4700], nm[128];
    snprintf(nm, sizeof nm, "%s.svg", name);
    char *s = ll_read_file(ll_plot_file_path(fl, outdir, nm, p, sizeof p), NULL);
    if (!s) return NULL;
    char *start = strstr(s, "<svg");
    if (!start) { free(s); ll_set_error("%s: not an SVG file", p); return NULL; }
    static const char *const pat[] = {" id='", " id=\"", "href='#", "href=\"#", "url(#"};
    ll_sbuf b = {0};
    for (const char *q = start; *q;) {
        int hit = -1;
        for (int k = 0; k < 5 && hit < 0; k++)
            if (!strncmp(q, pat[k], strlen(pat[k]))) hit = k;
        if (hit < 0) { ll_sb_add(&b, q, 1); q++; continue; }
        ll_sb_add(&b, pat[hit], strlen(pat[hit]));
        ll_sb_printf(&b, "%s-", name);
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
    "tr:nth-child(even) td{background:#fafafa}.tw{overflow-x:auto}\n"
    "figure{margin:1em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}"
    "figcaption{font-size:.9em;color:#444;max-width:60em}\n"
    "pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.8em}details{margin:.3em 0}"
    "summary{cursor:pointer}code{font-size:.9em}.note{color:#666}\n";

int ll_report_html(const ll_result_set *rs, ll_figlist *fl, const char *outdir) {
    ll_sbuf b = {0};
    ll_sb_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<title>layerlaw report: %d run%s</title>\n<style>\n%s</style>\n</head>\n<body>\n",
              rs->n, rs->n == 1 ? "" : "s", CSS);
    ll_sb_printf(&b, "<h1>layerlaw report</h1>\n<p>%d result%s (law.json). The law of equi-learning: the prediction "
                  "residual PR of a linear probe from each layer's hidden states to the next-token id falls "
                  "geometrically with depth; slope and intercept of log10 PR against the layer, R² and Pearson r "
                  "of that fit, ρ = 10<sup>slope</sup> the decay ratio per layer.</p>\n",
              rs->n, rs->n == 1 ? "" : "s");
    /* contents */
    ll_sb_printf(&b, "<ul>\n<li><a href=\"#results\">Results</a></li>\n");
    for (int i = 0; i < fl->n; i++) {
        ll_sb_printf(&b, "<li><a href=\"#fig-%s\">", fl->figs[i].name);
        esc_in(&b, "", fl->figs[i].title, "</a></li>\n");
    }
    ll_sb_printf(&b, "<li><a href=\"#provenance\">Provenance</a></li>\n</ul>\n");
    /* table */
    ll_sb_printf(&b, "<h2 id=\"results\">Results</h2>\n<div class=\"tw\"><table>\n<thead><tr>");
    for (int c = 0; c < NCOL; c++) esc_in(&b, "<th>", COLS[c], "</th>");
    ll_sb_printf(&b, "<th>run</th></tr></thead>\n<tbody>\n");
    ll_result_file **v = sorted(rs);
    for (int i = 0; i < rs->n; i++) {
        char cell[NCOL][CELL];
        row(v[i], cell);
        ll_sb_printf(&b, "<tr>");
        for (int c = 0; c < NCOL; c++) {
            ll_sb_printf(&b, c == 0 ? "<td class=\"t\" title=\"" : c < NTEXT ? "<td class=\"t\">" : "<td>");
            if (c == 0) { hb_esc(&b, v[i]->model_key); ll_sb_printf(&b, "\">"); }
            esc_in(&b, "", cell[c], "</td>");
        }
        ll_sb_printf(&b, "<td><a href=\"#run-%d\">%d</a></td></tr>\n", i + 1, i + 1);
    }
    ll_sb_printf(&b, "</tbody>\n</table></div>\n");
    /* figures */
    for (int i = 0; i < fl->n; i++) {
        const ll_fig *g = &fl->figs[i];
        ll_sb_printf(&b, "<h2 id=\"fig-%s\">", g->name);
        esc_in(&b, "", g->title, "</h2>\n<figure>\n");
        char *svg = inline_svg(fl, outdir, g->name);
        if (!svg) { free(v); free(b.s); return -1; }
        ll_sb_add(&b, svg, strlen(svg));
        free(svg);
        esc_in(&b, "\n<figcaption>", g->caption, "");
        ll_sb_printf(&b, " Data: <code>%s.csv</code>; script: <code>%s.gp</code>.</figcaption>\n</figure>\n", g->name, g->name);
    }
    if (fl->nnotes) {
        ll_sb_printf(&b, "<h2>Figures not drawn</h2>\n<ul class=\"note\">\n");
        for (int i = 0; i < fl->nnotes; i++) esc_in(&b, "<li>", fl->notes[i], "</li>\n");
        ll_sb_printf(&b, "</ul>\n");
    }
    /* provenance */
    ll_sb_printf(&b, "<h2 id=\"provenance\">Provenance</h2>\n<p>The <code>config</code> object of every law.json "
                  "(and its <code>provenance</code> object when present).</p>\n");
    for (int i = 0; i < rs->n; i++) {
        const ll_result_file *r = v[i];
        ll_sb_printf(&b, "<details id=\"run-%d\"><summary>%d. ", i + 1, i + 1);
        esc_in(&b, "", r->path, "</summary>\n");
        const char *keys[] = {"config", "provenance", "model"};
        for (int k = 0; k < 3; k++) {
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(r->root, keys[k]);
            if (!o) continue;
            char *t = cJSON_Print(o);
            ll_sb_printf(&b, "<p><b>%s</b></p><pre>", keys[k]);
            if (t) hb_esc(&b, t);
            ll_sb_printf(&b, "</pre>\n");
            free(t);
        }
        ll_sb_printf(&b, "</details>\n");
    }
    ll_sb_printf(&b, "<p class=\"note\">Made by layerlaw %s (layerlaw report).</p>\n</body>\n</html>\n", LL_VERSION);
    free(v);
    return write_out(fl, outdir, "report.html", &b);
}

int ll_report_md(const ll_result_set *rs, ll_figlist *fl, const char *outdir) {
    ll_sbuf b = {0};
    ll_sb_printf(&b, "# layerlaw report\n\n%d result%s (law.json). Slope and intercept of log10 PR against the layer, "
                  "R² and Pearson r of that fit, ρ = 10^slope the decay ratio per layer.\n\n## Results\n\n|",
              rs->n, rs->n == 1 ? "" : "s");
    for (int c = 0; c < NCOL; c++) ll_sb_printf(&b, " %s |", COLS[c]);
    ll_sb_printf(&b, "\n|");
    for (int c = 0; c < NCOL; c++) ll_sb_printf(&b, "%s", c < NTEXT ? "---|" : "--:|");
    ll_sb_printf(&b, "\n");
    ll_result_file **v = sorted(rs);
    for (int i = 0; i < rs->n; i++) {
        char cell[NCOL][CELL];
        row(v[i], cell);
        ll_sb_printf(&b, "|");
        for (int c = 0; c < NCOL; c++) { ll_sb_printf(&b, " "); hb_md(&b, cell[c]); ll_sb_printf(&b, " |"); }
        ll_sb_printf(&b, "\n");
    }
    for (int i = 0; i < fl->n; i++) {
        const ll_fig *g = &fl->figs[i];
        ll_sb_printf(&b, "\n## %s\n\n![%s](%s.png)\n\n%s Data: `%s.csv`.\n", g->title, g->title, g->name, g->caption, g->name);
    }
    if (fl->nnotes) {
        ll_sb_printf(&b, "\n## Figures not drawn\n\n");
        for (int i = 0; i < fl->nnotes; i++) { ll_sb_puts(&b, "- "); hb_md(&b, fl->notes[i]); ll_sb_puts(&b, "\n"); }
    }
    ll_sb_printf(&b, "\n## Provenance\n\n");
    for (int i = 0; i < rs->n; i++) {
        const ll_result_file *r = v[i];
        ll_sb_printf(&b, "%d. ", i + 1);
        md_code(&b, r->path);
        ll_sb_puts(&b, "\n");
        const char *keys[] = {"config", "provenance"};
        for (int k = 0; k < 2; k++) {
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(r->root, keys[k]);
            if (!o) continue;
            char *t = cJSON_PrintUnformatted(o);
            ll_sb_printf(&b, "   - %s: ", keys[k]);
            md_code(&b, t ? t : "");
            ll_sb_puts(&b, "\n");
            free(t);
        }
    }
    free(v);
    return write_out(fl, outdir, "report.md", &b);
}
