/* Figures and reports (layerlaw plot / report, ll_plot_run_figure) from the
 * committed result sets in tests/fixtures/results/ (see its README).
 *
 * What can fail is checked against oracles outside the plotting code: the
 * plotted numbers, read back from the CSV beside each figure, against the
 * law.json files read here with cJSON (exact: both are printed with %.17g,
 * which round-trips a double; the fitted line, recomputed here from the
 * law.json fit, to 1e-12 relative: pow/log10 rounding); the SVG parsed by
 * libxml2 (well-formed, one <g id="gnuplot_plot_..."> per series, one <use>
 * per point, titles and axis labels in its text); the PNG signature and IHDR
 * size (hand-derived from the panel layout); the PDF and EPS headers.
 * gnuplot must be installed: when it is not, these tests fail. */
#include <cJSON.h>
#include <dirent.h>
#include <stdarg.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/ll_util.h"
#include "harness.h"
#include "report/plot.h"
#include "test_util.h"

#define RES "tests/fixtures/results"

/* ---- oracles ---------------------------------------------------------- */

static cJSON *law(const char *rel) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s/law.json", RES, rel);
    char *s = ll_read_file(p, NULL);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    free(s);
    return j;
}
static double law_pr(const cJSON *j, int e) {
    return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "layers"), e), "pr")->valuedouble;
}
static int law_E(const cJSON *j) { return cJSON_GetArraySize(cJSON_GetObjectItem(j, "layers")); }
static double law_fit(const cJSON *j, const char *k) { return cJSON_GetObjectItem(cJSON_GetObjectItem(j, "fit"), k)->valuedouble; }
static double law_tp(const cJSON *j, const char *arr, int e) {
    return cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "throughput"), arr), e)->valuedouble;
}

/* ---- CSV (RFC 4180: quoted fields may hold commas, quotes, newlines) ---- */

typedef struct {
    char *f[9];
    int nf;
} row_t;
typedef struct {
    row_t *r;
    int n;
} csv_t;
static int csv_read(const char *path, csv_t *c) {
    memset(c, 0, sizeof *c);
    char *s = ll_read_file(path, NULL);
    if (!s) return -1;
    char *p = s;
    int line = 0;
    while (*p) {
        row_t row = {0};
        for (;;) {
            char *buf = ll_xmalloc(strlen(p) + 1);
            size_t k = 0;
            if (*p == '"') {
                p++;
                while (*p && !(*p == '"' && p[1] != '"')) {
                    if (*p == '"') p++;
                    buf[k++] = *p++;
                }
                if (*p == '"') p++;
            } else {
                while (*p && *p != ',' && *p != '\n') buf[k++] = *p++;
            }
            buf[k] = 0;
            if (row.nf < 9) row.f[row.nf++] = buf;
            else free(buf);
            if (*p == ',') { p++; continue; }
            if (*p == '\n') p++;
            break;
        }
        if (line++ == 0) { for (int i = 0; i < row.nf; i++) free(row.f[i]); continue; } /* header */
        c->r = ll_xrealloc(c->r, (size_t)(c->n + 1) * sizeof(row_t));
        c->r[c->n++] = row;
    }
    free(s);
    return 0;
}
static void csv_free(csv_t *c) {
    for (int i = 0; i < c->n; i++) for (int k = 0; k < c->r[i].nf; k++) free(c->r[i].f[k]);
    free(c->r);
}
/* figure CSV columns */
enum { C_FIG, C_PANEL, C_PTITLE, C_SERIES, C_XL, C_YL, C_X, C_Y, C_YERR };
static double cx(const row_t *r) { return strtod(r->f[C_X], NULL); }
static double cy(const row_t *r) { return strtod(r->f[C_Y], NULL); }
static int starts(const char *s, const char *pre) { return strncmp(s, pre, strlen(pre)) == 0; }

/* ---- files ---------------------------------------------------------------- */

static unsigned be32(const unsigned char *p) { return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3]; }
/* PNG signature, IHDR first; width and height out */
static int png_size(const char *path, unsigned *w, unsigned *h) {
    size_t n;
    unsigned char *s = (unsigned char *)ll_read_file(path, &n);
    if (!s) return -1;
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    int ok = n > 33 && !memcmp(s, sig, 8) && be32(s + 8) == 13 && !memcmp(s + 12, "IHDR", 4);
    if (ok) { *w = be32(s + 16); *h = be32(s + 20); }
    free(s);
    return ok ? 0 : -1;
}
static int file_starts(const char *path, const char *magic) {
    char *s = ll_read_file(path, NULL);
    int ok = s && starts(s, magic);
    free(s);
    return ok;
}

typedef struct {
    int groups;      /* <g id="gnuplot_plot_..."> */
    int uses;        /* <use> inside those groups: one per point (and key sample) */
    char *text;      /* all text content, concatenated with '\n' */
    size_t tn;
} svg_t;
static void svg_walk(xmlNode *n, svg_t *s, int in_plot) {
    for (; n; n = n->next) {
        int here = in_plot;
        if (n->type == XML_ELEMENT_NODE) {
            xmlChar *id = xmlGetProp(n, (const xmlChar *)"id");
            if (!strcmp((const char *)n->name, "g") && id && starts((const char *)id, "gnuplot_plot_")) { s->groups++; here = 1; }
            if (!strcmp((const char *)n->name, "use") && in_plot) s->uses++;
            xmlFree(id);
        } else if (n->type == XML_TEXT_NODE && n->content) {
            size_t k = strlen((const char *)n->content);
            s->text = ll_xrealloc(s->text, s->tn + k + 2);
            memcpy(s->text + s->tn, n->content, k);
            s->tn += k;
            s->text[s->tn++] = '\n';
            s->text[s->tn] = 0;
        }
        svg_walk(n->children, s, here);
    }
}
/* parses the SVG (well-formed XML, root <svg>) */
static int svg_read(const char *path, svg_t *s) {
    memset(s, 0, sizeof *s);
    xmlDoc *d = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!d) return -1;
    xmlNode *root = xmlDocGetRootElement(d);
    int ok = root && !strcmp((const char *)root->name, "svg");
    if (ok) svg_walk(root, s, 0);
    if (!s->text) s->text = ll_xstrdup("");
    xmlFreeDoc(d);
    return ok ? 0 : -1;
}

static char *cat_path(char *buf, size_t cap, const char *dir, const char *name) {
    snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

/* ---- the per-run figure -------------------------------------------------- */

TEST(plot_run_figure_stories260K) {
    const char *T = ll_test_tmpdir();
    char p[1024];
    REQUIRE(copy_file(RES "/stories260K/position-next/law.json", cat_path(p, sizeof p, T, "law.json")) == 0);
    REQUIRE_MSG(ll_plot_run_figure(T) == 0, "%s", ll_last_error());
    cJSON *j = law("stories260K/position-next");
    REQUIRE(j);
    int E = law_E(j), first = (int)law_fit(j, "first_entry");
    CHECK_INT(E, 6);
    /* law_points.csv: entry,pr,log10_pr,in_fit,fit_log10_pr */
    csv_t c;
    REQUIRE(csv_read(cat_path(p, sizeof p, T, "law_points.csv"), &c) == 0);
    CHECK_INT(c.n, E);
    for (int i = 0; i < c.n && i < E; i++) {
        const row_t *r = &c.r[i];
        REQUIRE(r->nf == 5);
        CHECK_INT(atoi(r->f[0]), i);
        CHECK(strtod(r->f[1], NULL) == law_pr(j, i)); /* %.17g round-trips */
        CHECK_INT(atoi(r->f[3]), i >= first);
        if (i >= first) CHECK_REL(strtod(r->f[4], NULL), law_fit(j, "intercept") + law_fit(j, "slope") * (i - first), 1e-12);
        else CHECK(r->f[4][0] == 0);
    }
    csv_free(&c);
    /* the fitted line is the least-squares line of log10 PR over the entries
     * in the fit, derived here in closed form from the PRs alone */
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int m = E - first;
    for (int e = first; e < E; e++) {
        double x = e - first, y = log10(law_pr(j, e));
        sx += x; sy += y; sxx += x * x; sxy += x * y;
    }
    double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
    CHECK_REL(law_fit(j, "slope"), slope, 1e-9);
    unsigned w = 0, h = 0;
    REQUIRE(png_size(cat_path(p, sizeof p, T, "law.png"), &w, &h) == 0);
    CHECK_INT(w, 800); /* one 760-px panel, widened to the 800-px minimum */
    CHECK_INT(h, 540); /* 500 + 40 for the figure title */
    svg_t s;
    REQUIRE(svg_read(cat_path(p, sizeof p, T, "law.svg"), &s) == 0);
    /* points in the fit, points left out, the fitted line */
    CHECK_INT(s.groups, 3);
    /* one <use> per point plus one key sample for each of the 2 point series */
    CHECK_INT(s.uses, E + 2);
    char rho[64];
    snprintf(rho, sizeof rho, "ρ = %.4f", law_fit(j, "decay_ratio"));
    CHECK_MSG(strstr(s.text, rho) != NULL, "no '%s' in the SVG text", rho);
    snprintf(rho, sizeof rho, "r = %.4f", law_fit(j, "pearson_r"));
    CHECK_MSG(strstr(s.text, rho) != NULL, "no '%s' in the SVG text", rho);
    CHECK(strstr(s.text, "stories260K-hf") && strstr(s.text, "llama") && strstr(s.text, "alice-200x128.tok512.jsonl"));
    CHECK(strstr(s.text, "layer (hidden-state entry)") && strstr(s.text, "prediction residual PR (log scale)"));
    CHECK(strstr(s.text, "not in the fit") != NULL);
    free(s.text);
    /* nothing left behind but the outputs */
    CHECK(!ll_path_exists(cat_path(p, sizeof p, T, "law.csv")));
    cJSON_Delete(j);
}

TEST(plot_run_figure_without_gnuplot) {
    const char *T = ll_test_tmpdir();
    char p[1024];
    REQUIRE(copy_file(RES "/fit/fitfrom/law.json", cat_path(p, sizeof p, T, "law.json")) == 0);
    setenv("LAYERLAW_GNUPLOT", "/nonexistent/gnuplot", 1);
    CHECK_INT(ll_plot_run_figure(T), 1);
    CHECK(!ll_path_exists(cat_path(p, sizeof p, T, "law.png")));
    CHECK(!ll_path_exists(cat_path(p, sizeof p, T, "law_points.csv")));
    unsetenv("LAYERLAW_GNUPLOT");
}

/* ---- the figure families --------------------------------------------------- */

static const char *g_out; /* shared across checks in one test */

/* `layerlaw ARGS 2>&1` (printf-style) must exit 0; the figures it wrote into
 * out are then read from there (g_out).  0, or -1 after a failed check. */
static int make_figs(const char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int make_figs(const char *out, const char *fmt, ...) {
    char args[3072], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", ll_bin_path(), args);
    g_out = out;
    return CHECK_CMD(cmd, 0, NULL) ? 0 : -1;
}

static void check_files(const char *name, int want_pdf) {
    char p[1024], nm[128];
    unsigned w = 0, h = 0;
    snprintf(nm, sizeof nm, "%s.png", name);
    CHECK_MSG(png_size(cat_path(p, sizeof p, g_out, nm), &w, &h) == 0 && w >= 800 && h > 100, "%s: bad PNG", nm);
    snprintf(nm, sizeof nm, "%s.gp", name);
    CHECK_MSG(file_starts(cat_path(p, sizeof p, g_out, nm), "# layerlaw figure"), "%s missing", nm);
    if (want_pdf) {
        snprintf(nm, sizeof nm, "%s.pdf", name);
        CHECK_MSG(file_starts(cat_path(p, sizeof p, g_out, nm), "%PDF-"), "%s: not a PDF", nm);
        snprintf(nm, sizeof nm, "%s.eps", name);
        char *s = ll_read_file(cat_path(p, sizeof p, g_out, nm), NULL);
        CHECK_MSG(s && starts(s, "%!PS-Adobe-") && strstr(s, "EPSF-") && strstr(s, "%%BoundingBox"), "%s: not EPS", nm);
        free(s);
    }
}

static int open_fig(const char *name, csv_t *c, svg_t *s) {
    char p[1024], nm[128];
    snprintf(nm, sizeof nm, "%s.csv", name);
    if (csv_read(cat_path(p, sizeof p, g_out, nm), c) != 0) return -1;
    snprintf(nm, sizeof nm, "%s.svg", name);
    if (svg_read(cat_path(p, sizeof p, g_out, nm), s) != 0) { csv_free(c); return -1; }
    return 0;
}

/* every row of series `series` in panels whose title starts with `panel`:
 * y == law.json PR at x (times scale); returns the number of rows seen */
static int check_pr_rows(const csv_t *c, const char *panel, const char *series, const cJSON *j) {
    int n = 0;
    for (int i = 0; i < c->n; i++) {
        const row_t *r = &c->r[i];
        if (!starts(r->f[C_PTITLE], panel) || !starts(r->f[C_SERIES], series)) continue;
        int e = (int)cx(r);
        CHECK_MSG(e >= 0 && e < law_E(j) && cy(r) == law_pr(j, e), "%s / %s: entry %d: plotted %.17g", panel, series, e, cy(r));
        n++;
    }
    return n;
}

TEST(plot_all_families) {
    const char *T = ll_test_tmpdir();
    char out[1024];
    snprintf(out, sizeof out, "%s/figs", T);
    REQUIRE(make_figs(out, "plot %s --out %s --format pdf,eps", RES, out) == 0);
    const char *names[] = {"main", "scaling", "steps", "flow", "measures", "throughput"};
    for (int i = 0; i < 6; i++) check_files(names[i], 1);

    /* main: one panel per model (12 model fixtures, stories260K, 2 fit
     * feature sets, 4 synthetic sizes), 3 series each (2 when every entry is
     * in the fit), a key in every panel */
    csv_t c;
    svg_t s;
    REQUIRE(open_fig("main", &c, &s) == 0);
    unsigned w, h;
    char p[1024];
    REQUIRE(png_size(cat_path(p, sizeof p, out, "main.png"), &w, &h) == 0);
    CHECK_INT(w, 4 * 380); /* 19 panels: 4 columns of 380 px, 5 rows of 360 + 40 */
    CHECK_INT(h, 5 * 360 + 40);
    int points = 0, maxpanel = -1, pser = 0;
    char lastkey[512] = "";
    for (int i = 0; i < c.n; i++) {
        int is_pts = starts(c.r[i].f[C_SERIES], "PR");
        points += is_pts;
        char k[512];
        snprintf(k, sizeof k, "%s|%s", c.r[i].f[C_PANEL], c.r[i].f[C_SERIES]);
        if (is_pts && strcmp(k, lastkey)) { pser++; snprintf(lastkey, sizeof lastkey, "%s", k); }
        maxpanel = LL_MAX(maxpanel, atoi(c.r[i].f[C_PANEL]));
    }
    CHECK_INT(maxpanel, 18);
    CHECK_INT(s.uses, points + pser); /* one <use> per point, one per key sample of a point series */
    CHECK(strstr(s.text, "layer (hidden-state entry)") && strstr(s.text, "PR (log scale)"));
    CHECK(strstr(s.text, "The law of equi-learning") != NULL);
    /* random weights and made-up numbers are said; a fit of 3 points gets a note */
    CHECK(strstr(s.text, "gpt2 (44.3K params), random weights") != NULL);
    CHECK(strstr(s.text, "synth-pythia-70m (70.4M params), made-up numbers") != NULL);
    CHECK(strstr(s.text, "fit through 3 points") != NULL);
    /* the one order: series, size, step, name (fitfrom.F, gpt2, gpt2_sharded, ...) */
    int pfit = -1, pg2 = -1, pg2s = -1, p14 = -1, p410 = -1;
    for (int i = 0; i < c.n; i++) {
        int pn = atoi(c.r[i].f[C_PANEL]);
        const char *t = c.r[i].f[C_PTITLE];
        if (starts(t, "fitfrom.F")) pfit = pn;
        if (starts(t, "gpt2 (")) pg2 = pn;
        if (starts(t, "gpt2_sharded (")) pg2s = pn;
        if (starts(t, "synth-pythia-14m (")) p14 = pn;
        if (starts(t, "synth-pythia-410m (")) p410 = pn;
    }
    CHECK(pfit == 0 && pg2 == 1 && pg2s == 2 && p14 >= 0 && p410 == p14 + 3);
    cJSON *j = law("stories260K/position-next");
    CHECK_INT(check_pr_rows(&c, "stories260K-hf", "PR", j), 6);
    cJSON *ff = law("fit/fitfrom");
    /* fit from entry 2: entries 0 and 1 drawn as "not in the fit" */
    CHECK_INT(check_pr_rows(&c, "fitfrom.F", "PR, not in the fit", ff), 2);
    CHECK_INT(check_pr_rows(&c, "fitfrom.F", "PR", ff), 6);
    int line = 0;
    for (int i = 0; i < c.n; i++) {
        const row_t *r = &c.r[i];
        if (!starts(r->f[C_PTITLE], "fitfrom.F") || strcmp(r->f[C_SERIES], "fitted line")) continue;
        line++;
        CHECK_REL(cy(r), pow(10, law_fit(ff, "intercept") + law_fit(ff, "slope") * (cx(r) - 2)), 1e-12);
    }
    CHECK_INT(line, 4);
    char rr[64];
    snprintf(rr, sizeof rr, "r = %.4f, ρ = %.4f", law_fit(j, "pearson_r"), law_fit(j, "decay_ratio"));
    CHECK_MSG(strstr(s.text, rr) != NULL, "main: no '%s'", rr);
    cJSON *s70 = law("synthetic/synth-pythia-70m/step143000"); /* the latest step stands for the model */
    CHECK_INT(check_pr_rows(&c, "synth-pythia-70m", "PR", s70), 7);
    cJSON_Delete(ff);
    csv_free(&c);
    free(s.text);

    /* flow: stories260K at the four positions */
    REQUIRE(open_fig("flow", &c, &s) == 0);
    const char *pos[] = {"previous", "current", "next", "next-next"};
    for (int k = 0; k < 4; k++) {
        char rel[128], ser[64];
        snprintf(rel, sizeof rel, "stories260K/position-%s", pos[k]);
        snprintf(ser, sizeof ser, "%s,", pos[k]);
        cJSON *pj = law(rel);
        REQUIRE(pj);
        CHECK_MSG(check_pr_rows(&c, "stories260K-hf", ser, pj) == 6, "flow: %s", pos[k]);
        cJSON_Delete(pj);
    }
    CHECK_INT(s.groups, 4);
    CHECK_INT(s.uses, 4 * 6 + 4); /* points and one key sample per series */
    CHECK(strstr(s.text, "next-next") && strstr(s.text, "layer (hidden-state entry)"));
    csv_free(&c);
    free(s.text);

    /* measures: shuffled vocabulary, one-hot, normalisations */
    REQUIRE(open_fig("measures", &c, &s) == 0);
    cJSON *sh = law("stories260K/shuffle-1"), *nn = law("stories260K/norm-none"), *ns = law("stories260K/norm-standardize");
    cJSON *oh = law("fit/well/onehot"), *wl = law("fit/well/layernorm");
    REQUIRE(sh && nn && ns && oh && wl);
    CHECK_INT(check_pr_rows(&c, "stories260K-hf: PR under", "PR (token id)", j), 6);
    CHECK_INT(check_pr_rows(&c, "stories260K-hf: PR under", "shuffled vocabulary (seed 1)", sh), 6);
    CHECK_INT(check_pr_rows(&c, "stories260K-hf: normal", "none", nn), 6);
    CHECK_INT(check_pr_rows(&c, "stories260K-hf: normal", "standardization", ns), 6);
    CHECK_INT(check_pr_rows(&c, "stories260K-hf: normal", "initialized", j), 6);
    CHECK_INT(check_pr_rows(&c, "well.F: PR under", "one-hot PR", oh), law_E(oh));
    CHECK_INT(check_pr_rows(&c, "well.F: PR under", "PR (token id)", wl), law_E(wl));
    CHECK(strstr(s.text, "standardization") && strstr(s.text, "shuffled vocabulary (seed 1)"));
    cJSON_Delete(sh); cJSON_Delete(nn); cJSON_Delete(ns); cJSON_Delete(oh); cJSON_Delete(wl);
    csv_free(&c);
    free(s.text);

    /* steps: rho and r of every step of synth-pythia-70m */
    REQUIRE(open_fig("steps", &c, &s) == 0);
    const int steps[] = {1, 64, 512, 4000, 16000, 64000, 143000};
    int nrho = 0, nr = 0, ncurve = 0;
    for (int i = 0; i < c.n; i++) {
        const row_t *r = &c.r[i];
        if (starts(r->f[C_SERIES], "step ")) { ncurve++; continue; }
        char rel[128];
        snprintf(rel, sizeof rel, "synthetic/synth-pythia-70m/step%.0f", cx(r));
        cJSON *sj = law(rel);
        REQUIRE_MSG(sj, "steps: no %s", rel);
        if (!strcmp(r->f[C_SERIES], "ρ")) { nrho++; CHECK(cy(r) == law_fit(sj, "decay_ratio")); }
        else if (!strcmp(r->f[C_SERIES], "r")) { nr++; CHECK(cy(r) == law_fit(sj, "pearson_r")); }
        cJSON_Delete(sj);
    }
    CHECK_INT(nrho, 7);
    CHECK_INT(nr, 7);
    CHECK_INT(ncurve, 7 * 7); /* 7 steps x 7 entries */
    for (int k = 0; k < 7; k++) {
        char rel[128], ser[64];
        snprintf(rel, sizeof rel, "synthetic/synth-pythia-70m/step%d", steps[k]);
        snprintf(ser, sizeof ser, "step %d", steps[k]);
        cJSON *sj = law(rel);
        REQUIRE(sj);
        int cnt = 0;
        for (int i = 0; i < c.n; i++)
            if (!strcmp(c.r[i].f[C_SERIES], ser)) { cnt++; CHECK(cy(&c.r[i]) == law_pr(sj, (int)cx(&c.r[i]))); }
        CHECK_INT(cnt, 7);
        cJSON_Delete(sj);
    }
    CHECK(strstr(s.text, "training step (log scale)") && strstr(s.text, "Pearson r"));
    CHECK_INT(s.groups, 7 + 2);
    csv_free(&c);
    free(s.text);

    /* scaling: one series (synth-pythia: the labels without their sizes),
     * the decay ratio against size; the fixtures gpt2 and gpt2_sharded are two
     * series (two names), so no curve joins them */
    REQUIRE(open_fig("scaling", &c, &s) == 0);
    const char *sizes[] = {"14m", "70m", "160m", "410m"};
    int ng = 0;
    for (int i = 0; i < c.n; i++) {
        const row_t *r = &c.r[i];
        CHECK(strstr(r->f[C_PTITLE], "gpt2") == NULL && strstr(r->f[C_SERIES], "gpt2") == NULL);
        if (!starts(r->f[C_PTITLE], "decay ratio against size")) continue;
        CHECK(!strcmp(r->f[C_SERIES], "synth-pythia, made-up numbers"));
        ng++;
        int found = 0;
        for (int k = 0; k < 4; k++) {
            char rel[128];
            snprintf(rel, sizeof rel, "synthetic/synth-pythia-%s/step143000", sizes[k]);
            cJSON *g = law(rel);
            REQUIRE(g);
            if (cx(r) == cJSON_GetObjectItem(cJSON_GetObjectItem(g, "model"), "n_params")->valuedouble) {
                found++;
                CHECK(cy(r) == law_fit(g, "decay_ratio"));
            }
            cJSON_Delete(g);
        }
        CHECK_INT(found, 1);
    }
    CHECK_INT(ng, 4);
    CHECK(strstr(s.text, "model size (parameters, log scale)") && strstr(s.text, "synth-pythia-410m (405M params)"));
    csv_free(&c);
    free(s.text);

    /* throughput: per-entry forward (+ capture) in ms, CPU and GPU timing */
    REQUIRE(open_fig("throughput", &c, &s) == 0);
    cJSON *tn = law("stories260K/norm-none"); /* the first stories260K run by path */
    cJSON *gp = law("synthetic/synth-pythia-410m/step143000");
    REQUIRE(tn && gp);
    int nf = 0, nt = 0, ngpu = 0;
    for (int i = 0; i < c.n; i++) {
        const row_t *r = &c.r[i];
        int e = (int)cx(r);
        if (starts(r->f[C_PTITLE], "stories260K-hf\n(")) {
            if (!strcmp(r->f[C_SERIES], "forward")) { nf++; CHECK_REL(cy(r), 1e3 * law_tp(tn, "per_entry_forward_s", e), 1e-15); }
            else { nt++; CHECK_REL(cy(r), 1e3 * (law_tp(tn, "per_entry_forward_s", e) + law_tp(tn, "per_entry_capture_s", e)), 1e-15); }
        } else if (starts(r->f[C_PTITLE], "synth-pythia-410m, made-up numbers\n(") && !strcmp(r->f[C_SERIES], "forward")) {
            ngpu++;
            const cJSON *pe = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(gp, "gpu_timing"), "per_entry"), e);
            CHECK(cy(r) == cJSON_GetObjectItem(pe, "layer_ms_per_batch")->valuedouble);
        }
    }
    CHECK_INT(nf, 6);
    CHECK_INT(nt, 6);
    CHECK_INT(ngpu, 25);
    CHECK(strstr(s.text, "wall time (ms)") && strstr(s.text, "GPU time per batch (ms)") && strstr(s.text, "tokens/s"));
    cJSON_Delete(tn); cJSON_Delete(gp);
    csv_free(&c);
    free(s.text);
    cJSON_Delete(j);
    cJSON_Delete(s70);
}

TEST(plot_skips_figures_without_data) {
    const char *T = ll_test_tmpdir();
    char cmd[2048], out[1024], p[1024];
    snprintf(out, sizeof out, "%s/o", T);
    snprintf(cmd, sizeof cmd, "%s plot %s/models/gpt2 --out %s --figures main,steps,flow 2>&1", ll_bin_path(), RES, out);
    char *o = NULL;
    int rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, o ? o : "");
    CHECK(o && strstr(o, "skipped steps:") && strstr(o, "skipped flow:"));
    free(o);
    CHECK(ll_path_exists(cat_path(p, sizeof p, out, "main.png")));
    CHECK(!ll_path_exists(cat_path(p, sizeof p, out, "steps.png")));
    CHECK(!ll_path_exists(cat_path(p, sizeof p, out, "flow.csv")));
    CHECK(!ll_path_exists(cat_path(p, sizeof p, out, "scaling.png"))); /* not asked for */
}

TEST(plot_bad_input_exit_2) {
    const char *T = ll_test_tmpdir();
    char cmd[2048];
    char *o = NULL;
    struct { const char *args; const char *msg; } cases[] = {
        {"/nonexistent/results", "no such file or folder"},
        {"tests/fixtures/tokenizers", "no law.json"},
        {RES " --figures main,pie", "--figures: 'pie' is not one of main, scaling, steps, flow, measures, throughput, all"},
        {RES " --figures mian", "'mian' is not one of main, scaling, steps, flow, measures, throughput, all (did you mean main?)"},
        {RES " --format png,gif", "--format: 'gif' is not one of png, svg, pdf, eps, all"},
        {"tests/fixtures/fit/well.json", "not a layerlaw law.json"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(cmd, sizeof cmd, "%s plot %s --out %s/o 2>&1", ll_bin_path(), cases[k].args, T);
        int rc = ll_run_cmd(cmd, &o);
        CHECK_MSG(rc == 2, "%s: rc %d", cases[k].args, rc);
        CHECK_MSG(o && starts(o, "layerlaw: ") && strstr(o, cases[k].msg) && strchr(o, '\n') == o + strlen(o) - 1,
                  "%s: '%s'", cases[k].args, o ? o : "");
        free(o);
    }
    /* no gnuplot: exit 2, one line */
    snprintf(cmd, sizeof cmd, "LAYERLAW_GNUPLOT=/nonexistent/gnuplot %s plot %s --out %s/o 2>&1", ll_bin_path(), RES, T);
    int rc = ll_run_cmd(cmd, &o);
    CHECK_INT(rc, 2);
    CHECK_MSG(o && strstr(o, "gnuplot") && strchr(o, '\n') == o + strlen(o) - 1, "'%s'", o ? o : "");
    free(o);
}

/* Text from results reaches gnuplot only as single-quoted strings: a model
 * folder named with quotes and backquotes is drawn literally, and the
 * backquoted command is not run. */
TEST(plot_quotes_names) {
    const char *T = ll_test_tmpdir();
    char dir[1024], p[1024], marker[1024];
    snprintf(marker, sizeof marker, "%s/PWNED", T);
    char name[1400];
    snprintf(name, sizeof name, "it's \"`touch %s`\" @x {y}_z", marker);
    snprintf(dir, sizeof dir, "%s/run", T);
    REQUIRE(ll_mkdirs(dir) == 0);
    cJSON *j = law("models/gpt2");
    REQUIRE(j);
    cJSON *m = cJSON_GetObjectItem(j, "model");
    cJSON_ReplaceItemInObject(m, "dir", cJSON_CreateString(name));
    char *s = cJSON_Print(j);
    REQUIRE(ll_write_file_atomic(cat_path(p, sizeof p, dir, "law.json"), s, strlen(s)) == 0);
    free(s);
    cJSON_Delete(j);
    REQUIRE_MSG(ll_plot_run_figure(dir) == 0, "%s", ll_last_error());
    CHECK(!ll_path_exists(marker));
    svg_t sv;
    REQUIRE(svg_read(cat_path(p, sizeof p, dir, "law.svg"), &sv) == 0);
    /* the base name of the folder is the label: after the last '/' */
    const char *label = strrchr(name, '/') + 1;
    CHECK_MSG(strstr(sv.text, label) != NULL, "label '%s' not drawn literally", label);
    free(sv.text);
}

TEST(report_html_and_md) {
    const char *T = ll_test_tmpdir();
    char cmd[2048], out[1024], p[1024];
    snprintf(out, sizeof out, "%s/rep", T);
    snprintf(cmd, sizeof cmd, "%s report %s --out %s 2>&1", ll_bin_path(), RES, out);
    char *o = NULL;
    int rc = ll_run_cmd(cmd, &o);
    REQUIRE_MSG(rc == 0, "report: rc %d: %s", rc, o ? o : "");
    free(o);
    char *h = ll_read_file(cat_path(p, sizeof p, out, "report.html"), NULL);
    REQUIRE(h);
    /* self-contained: six inline SVG figures, nothing fetched */
    int svgs = 0;
    for (const char *q = h; (q = strstr(q, "<svg")) != NULL; q += 4) svgs++;
    CHECK_INT(svgs, 6);
    CHECK(!strstr(h, "<img") && !strstr(h, "<link") && !strstr(h, "<script") && !strstr(h, "src=") && !strstr(h, "@import"));
    /* references stay inside the document (#...); the http:// strings are the
     * SVG namespace names, which are never fetched */
    for (const char *q = h; (q = strstr(q, "url(")) != NULL; q += 4) CHECK_MSG(q[4] == '#', "url( to outside: %.40s", q);
    for (const char *q = h; (q = strstr(q, "href=")) != NULL; q += 5) CHECK_MSG(q[6] == '#', "href to outside: %.40s", q);
    /* ids unique across the inline figures: gnuplot's markers get the figure's name */
    CHECK(strstr(h, " id='main-gpPt6'") && strstr(h, " id='flow-gpPt6'") && !strstr(h, " id='gpPt6'"));
    CHECK(strstr(h, "url(#throughput-gpPat1)") && strstr(h, " id='throughput-gpPat1'"));
    /* the table: one row per run (35 law.json files under tests/fixtures/results) */
    int rows = 0;
    for (const char *q = h; (q = strstr(q, "<td><a href=\"#run-")) != NULL; q += 10) rows++;
    CHECK_INT(rows, 35);
    cJSON *j = law("stories260K/position-next");
    char cell[64];
    snprintf(cell, sizeof cell, "<td>%.4f</td>", law_fit(j, "decay_ratio"));
    CHECK_MSG(strstr(h, cell) != NULL, "no %s", cell);
    snprintf(cell, sizeof cell, "<td>%.5g</td>", law_fit(j, "slope"));
    CHECK_MSG(strstr(h, cell) != NULL, "no %s", cell);
    /* provenance: every law.json path and its config */
    CHECK(strstr(h, RES "/stories260K/shuffle-1/law.json") && strstr(h, "&quot;shuffle_vocab_seed&quot;:\t1"));
    CHECK(strstr(h, "SYNTHETIC") != NULL);
    free(h);
    char *md = ll_read_file(cat_path(p, sizeof p, out, "report.md"), NULL);
    REQUIRE(md);
    const char *names[] = {"main", "scaling", "steps", "flow", "measures", "throughput"};
    for (int i = 0; i < 6; i++) {
        char ref[64];
        snprintf(ref, sizeof ref, "](%s.png)", names[i]);
        CHECK_MSG(strstr(md, ref) != NULL, "report.md: no %s", ref);
        snprintf(ref, sizeof ref, "%s.png", names[i]);
        CHECK(ll_path_exists(cat_path(p, sizeof p, out, ref)));
    }
    int mrows = 0;
    for (const char *q = md; (q = strstr(q, "\n| ")) != NULL; q += 3) mrows++;
    CHECK_INT(mrows, 35 + 1); /* header + one row per run */
    free(md);
    cJSON_Delete(j);
}

/* ==== mixed result sets (issue 22): grouped by what each run measured ==== */

/* rows of `series` in panels titled `panel`...: y == layers[x][key] of j
 * (and y_err == layers[x][err_key] when err_key); the number of rows */
static int check_layer_rows(const csv_t *c, const char *panel, const char *series, const cJSON *j, const char *key,
                            const char *err_key) {
    int n = 0;
    const cJSON *L = cJSON_GetObjectItem(j, "layers");
    for (int i = 0; i < c->n; i++) {
        const row_t *r = &c->r[i];
        if (!starts(r->f[C_PTITLE], panel) || !starts(r->f[C_SERIES], series)) continue;
        int e = (int)cx(r);
        const cJSON *l = cJSON_GetArrayItem(L, e);
        CHECK_MSG(l && cy(r) == jnum(l, key), "%s / %s: entry %d: plotted %.17g, law.json %.17g", panel, series, e, cy(r),
                  jnum(l, key));
        if (err_key) CHECK_MSG(r->nf == 9 && strtod(r->f[C_YERR], NULL) == jnum(l, err_key), "%s: entry %d: y_err", series, e);
        n++;
    }
    return n;
}

/* every legend entry of NAME.gp (a "title '...'" on a plot line) names a
 * series with data in NAME.csv; returns the number of entries */
static int check_legend(const char *dir, const char *name, const csv_t *c) {
    char p[1024], nm[128];
    snprintf(nm, sizeof nm, "%s.gp", name);
    char *gp = ll_read_file(cat_path(p, sizeof p, dir, nm), NULL);
    if (!gp) { CHECK_MSG(0, "%s: no script", nm); return -1; }
    int n = 0;
    for (char *line = strtok(gp, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, " with ")) continue;
        char *t = strstr(line, " title '");
        if (!t) continue;
        t += 8;
        char key[512];
        size_t k = 0;
        for (; *t && k + 1 < sizeof key; t++) {
            if (*t == '\'' && t[1] == '\'') { key[k++] = '\''; t++; continue; }
            if (*t == '\'') break;
            key[k++] = *t;
        }
        key[k] = 0;
        int rows = 0;
        for (int i = 0; i < c->n; i++) rows += !strcmp(c->r[i].f[C_SERIES], key);
        CHECK_MSG(rows > 0, "%s: legend entry '%s' has no data", name, key);
        n++;
    }
    free(gp);
    return n;
}

static void run_stories(const char *outdir, const char *extra) {
    char cmd[2048];
    char *o = NULL;
    snprintf(cmd, sizeof cmd, "%s run --model configs/stories260K-hf --tokens configs/stories260K-hf/alice-200x128.tok512.jsonl "
                              "--out %s --quiet --threads 2 --backend cpu %s 2>&1", ll_bin_path(), outdir, extra);
    int rc = ll_run_cmd(cmd, &o);
    REQUIRE_MSG(rc == 0, "%s: %s", cmd, o ? o : "");
    free(o);
}

/* Real runs of stories260K with every measure, a shuffled vocabulary, held-out
 * folds, two norms and two positions: each series of each figure equals the
 * law.json it came from; fuzziness D has its own panel; no legend entry lacks
 * data (the case of the issue: one-hot and fuzziness runs both say target
 * onehot, and the first one-hot run was taken for both). */
TEST(plot_mixed_measures_real_runs) {
    const char *T = ll_test_tmpdir();
    static const char *const runs[][2] = {{"base", ""},
                                          {"onehot", "--measure onehot --max-classes 32"},
                                          {"sepfuzz", "--measure fuzziness --max-classes 32"},
                                          {"shuffle", "--shuffle-vocab 1"},
                                          {"folds", "--folds 3"},
                                          {"none", "--norm none"},
                                          {"current", "--position current"}};
    cJSON *j[7];
    char d[1024], p[1024];
    for (int i = 0; i < 7; i++) {
        snprintf(d, sizeof d, "%s/r/%s", T, runs[i][0]);
        run_stories(d, runs[i][1]);
        j[i] = load_json(cat_path(p, sizeof p, d, "law.json"));
        REQUIRE(j[i]);
    }
    char out[1024];
    snprintf(out, sizeof out, "%s/f", T);
    REQUIRE(make_figs(out, "plot %s/r --out %s", T, out) == 0);
    csv_t c;
    svg_t s;
    REQUIRE(open_fig("measures", &c, &s) == 0);
    const char *P = "stories260K-hf: PR under each measure";
    CHECK_INT(check_layer_rows(&c, P, "PR (token id)", j[0], "pr", NULL), 6);
    CHECK_INT(check_layer_rows(&c, P, "one-hot PR", j[1], "pr", NULL), 6);
    CHECK_INT(check_layer_rows(&c, P, "shuffled vocabulary (seed 1)", j[3], "pr", NULL), 6);
    CHECK_INT(check_layer_rows(&c, P, "held-out PR, 3 folds", j[4], "pr_heldout", "pr_heldout_fold_sd"), 6);
    CHECK_INT(check_layer_rows(&c, "stories260K-hf: separation fuzziness", "separation fuzziness D", j[2],
                               "separation_fuzziness", NULL), 6);
    CHECK_INT(check_layer_rows(&c, "stories260K-hf: normalisation", "none", j[5], "pr", NULL), 6);
    CHECK_INT(check_layer_rows(&c, "stories260K-hf: normalisation", "initialized", j[0], "pr", NULL), 6);
    /* the one-hot run is not drawn as D, the fuzziness run not as one-hot PR */
    for (int i = 0; i < c.n; i++)
        if (starts(c.r[i].f[C_SERIES], "one-hot")) CHECK(strstr(c.r[i].f[C_PTITLE], "fuzziness") == NULL);
    /* per format (PNG, SVG): 4 PR-type series, D and its line, 2 norms */
    CHECK_INT(check_legend(out, "measures", &c), 2 * 8);
    csv_free(&c);
    free(s.text);
    /* main: one model, the baseline run (not the fold or norm runs) */
    REQUIRE(open_fig("main", &c, &s) == 0);
    CHECK_INT(check_pr_rows(&c, "stories260K-hf", "PR", j[0]), 6);
    check_legend(out, "main", &c);
    csv_free(&c);
    free(s.text);
    REQUIRE(open_fig("flow", &c, &s) == 0);
    CHECK_INT(check_layer_rows(&c, "stories260K-hf", "current", j[6], "pr", NULL), 6);
    CHECK_INT(check_layer_rows(&c, "stories260K-hf", "next", j[0], "pr", NULL), 6);
    check_legend(out, "flow", &c);
    csv_free(&c);
    free(s.text);

    /* the base run with the fuzziness run alone: PR and D, nothing empty */
    snprintf(out, sizeof out, "%s/f2", T);
    REQUIRE(make_figs(out, "plot %s/r/base %s/r/sepfuzz --out %s --figures measures", T, T, out) == 0);
    REQUIRE(open_fig("measures", &c, &s) == 0);
    CHECK_INT(check_layer_rows(&c, "stories260K-hf: separation fuzziness", "separation fuzziness D", j[2],
                               "separation_fuzziness", NULL), 6);
    CHECK_INT(check_legend(out, "measures", &c), 2 * 3); /* PR, D, D's fitted line; PNG and SVG */
    csv_free(&c);
    free(s.text);
    for (int i = 0; i < 7; i++) cJSON_Delete(j[i]);
}

/* Series and labels the user chose (run --series/--label/--weights): scaling
 * draws one ρ curve per series, never one through two; every figure and the
 * report list runs in one order (series, size, step, name). */
TEST(plot_series_labels_and_order) {
    const char *T = ll_test_tmpdir();
    static const char *const runs[][3] = {{"gpt2_sharded", "GPT-2 fixture", "g-big"},
                                          {"gpt2", "GPT-2 fixture", "g-small"},
                                          {"llama_gqa", "Llama fixture", "l-small"},
                                          {"llama_bf16", "Llama fixture", "l-big"}};
    cJSON *j[4];
    char cmd[2048], d[1024], p[1024];
    for (int i = 0; i < 4; i++) {
        snprintf(d, sizeof d, "%s/r/%d", T, i);
        snprintf(cmd, sizeof cmd, "%s run --model tests/fixtures/models/%s --tokens tests/fixtures/models/%s/tokens.jsonl "
                                  "--out %s --quiet --threads 1 --backend cpu --series '%s' --label %s --weights random 2>&1",
                 ll_bin_path(), runs[i][0], runs[i][0], d, runs[i][1], runs[i][2]);
        char *o = NULL;
        int rc = ll_run_cmd(cmd, &o);
        REQUIRE_MSG(rc == 0, "%s: %s", cmd, o ? o : "");
        free(o);
        j[i] = load_json(cat_path(p, sizeof p, d, "law.json"));
        REQUIRE(j[i]);
        const cJSON *cfg = cJSON_GetObjectItem(j[i], "config");
        CHECK(!strcmp(cJSON_GetObjectItem(cfg, "series")->valuestring, runs[i][1]));
        CHECK(!strcmp(cJSON_GetObjectItem(cfg, "label")->valuestring, runs[i][2]));
        CHECK(!strcmp(cJSON_GetObjectItem(cfg, "weights")->valuestring, "random"));
    }
    char out[1024];
    snprintf(out, sizeof out, "%s/f", T);
    REQUIRE(make_figs(out, "report %s/r --out %s", T, out) == 0);
    csv_t c;
    svg_t s;
    REQUIRE(open_fig("scaling", &c, &s) == 0);
    int seen[4] = {0};
    for (int i = 0; i < c.n; i++) {
        const row_t *r = &c.r[i];
        if (!starts(r->f[C_PTITLE], "decay ratio against size")) continue;
        int hit = -1;
        for (int k = 0; k < 4; k++)
            if (cx(r) == cJSON_GetObjectItem(cJSON_GetObjectItem(j[k], "model"), "n_params")->valuedouble &&
                cy(r) == law_fit(j[k], "decay_ratio"))
                hit = k;
        REQUIRE_MSG(hit >= 0, "a ρ point that is no run's: %s %s", r->f[C_X], r->f[C_Y]);
        char want[128];
        snprintf(want, sizeof want, "%s, random weights", runs[hit][1]);
        CHECK_MSG(!strcmp(r->f[C_SERIES], want), "ρ of %s on curve '%s'", runs[hit][2], r->f[C_SERIES]);
        seen[hit]++;
    }
    for (int k = 0; k < 4; k++) CHECK_INT(seen[k], 1);
    check_legend(out, "scaling", &c);
    csv_free(&c);
    free(s.text);
    /* main: panels in the one order: series, then size */
    REQUIRE(open_fig("main", &c, &s) == 0);
    int panel_of[4] = {-1, -1, -1, -1};
    for (int i = 0; i < c.n; i++)
        for (int k = 0; k < 4; k++)
            if (starts(c.r[i].f[C_PTITLE], runs[k][2])) panel_of[k] = atoi(c.r[i].f[C_PANEL]);
    double n0 = cJSON_GetObjectItem(cJSON_GetObjectItem(j[0], "model"), "n_params")->valuedouble;
    double n1 = cJSON_GetObjectItem(cJSON_GetObjectItem(j[1], "model"), "n_params")->valuedouble;
    CHECK(n1 < n0 ? panel_of[1] < panel_of[0] : panel_of[0] < panel_of[1]);
    CHECK(panel_of[0] < 2 && panel_of[1] < 2 && panel_of[2] >= 2 && panel_of[3] >= 2); /* GPT-2 before Llama */
    CHECK(strstr(s.text, "random weights") != NULL);
    csv_free(&c);
    free(s.text);
    /* the report's table in the same order, with the series and weights */
    char *md = ll_read_file(cat_path(p, sizeof p, out, "report.md"), NULL);
    REQUIRE(md);
    char *a = strstr(md, "| GPT-2 fixture | g-"), *b = strstr(md, "| Llama fixture | l-");
    CHECK(a && b && a < b);
    CHECK(strstr(md, "| random |") != NULL);
    free(md);
    for (int i = 0; i < 4; i++) cJSON_Delete(j[i]);
}

/* bench JSON: per-entry forward and capture time, mean ± sd over the
 * repetitions, read back from the figure equal to bench's numbers */
TEST(plot_throughput_from_bench) {
    const char *T = ll_test_tmpdir();
    char cmd[2048], p[1024], out[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/b && %s bench --model tests/fixtures/models/gpt2 --tokens tests/fixtures/models/gpt2/tokens.jsonl "
                              "-r 3 --warmup 0 --threads 1 -o json > %s/b/bench.json 2>/dev/null", T, ll_bin_path(), T);
    char *o = NULL;
    REQUIRE(ll_run_cmd(cmd, &o) == 0);
    free(o);
    cJSON *b = load_json(cat_path(p, sizeof p, T, "b/bench.json"));
    REQUIRE(b);
    snprintf(out, sizeof out, "%s/f", T);
    REQUIRE(make_figs(out, "plot %s/b --out %s --figures throughput", T, out) == 0);
    csv_t c;
    svg_t s;
    REQUIRE(open_fig("throughput", &c, &s) == 0);
    const cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "tests"), 0);
    const cJSON *pe = cJSON_GetObjectItem(t0, "per_entry");
    int nf = 0, nc = 0, ntok = 0;
    for (int i = 0; i < c.n; i++) {
        const row_t *r = &c.r[i];
        int e = (int)cx(r);
        const char *what = !strcmp(r->f[C_SERIES], "forward") ? "forward_s" : !strcmp(r->f[C_SERIES], "capture") ? "capture_s" : NULL;
        if (what) {
            const cJSON *m = cJSON_GetObjectItem(cJSON_GetArrayItem(pe, e), what);
            CHECK_REL(cy(r), 1e3 * jnum(m, "mean"), 1e-15);
            CHECK_REL(strtod(r->f[C_YERR], NULL), 1e3 * jnum(m, "sd"), 1e-15);
            nf += what[0] == 'f';
            nc += what[0] == 'c';
        } else if (strstr(r->f[C_SERIES], "bench, mean ± sd")) {
            const cJSON *m = cJSON_GetObjectItem(t0, "tokens_per_s");
            CHECK(cy(r) == jnum(m, "mean") && strtod(r->f[C_YERR], NULL) == jnum(m, "sd"));
            ntok++;
        }
    }
    CHECK_INT(nf, cJSON_GetArraySize(pe));
    CHECK_INT(nc, cJSON_GetArraySize(pe));
    CHECK_INT(ntok, 1);
    CHECK(strstr(s.text, "3 reps") && strstr(s.text, "mean ± sd"));
    check_legend(out, "throughput", &c);
    csv_free(&c);
    free(s.text);
    cJSON_Delete(b);
}

/* ==== hostile result trees (issue 24) ==== */

/* a fixture law.json to edit (aborts the process if the fixture is gone) */
static cJSON *fixture_copy(const char *rel) {
    cJSON *j = law(rel);
    if (!j) { fprintf(stderr, "fixture %s missing\n", rel); abort(); }
    return j;
}
static void save_json(cJSON *j, const char *dir) {
    char p[2048];
    REQUIRE_MSG(ll_mkdirs(dir) == 0, "%s", ll_last_error());
    char *t = cJSON_Print(j);
    CHECK(ll_write_file_atomic(cat_path(p, sizeof p, dir, "law.json"), t, strlen(t)) == 0);
    free(t);
}
static int plot_cmd(const char *args, char **o) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", ll_bin_path(), args);
    return ll_run_cmd(cmd, o);
}

/* `layerlaw ARGS` exits rc with needle in its output (CHECK_CMD) */
#define PLOT_SAYS(args, rc, needle)                                      \
    do {                                                                 \
        char cmd_[4096];                                                 \
        snprintf(cmd_, sizeof cmd_, "%s %s 2>&1", ll_bin_path(), args); \
        CHECK_CMD(cmd_, rc, needle);                                     \
    } while (0)

/* symbolic links in a result tree are not followed: a `latest -> run1` link
 * does not count run1 twice, `self -> .` does not loop */
TEST(plot_symlinks_not_followed) {
    const char *T = ll_test_tmpdir();
    char d[1024], args[2048];
    snprintf(d, sizeof d, "%s/r/run1", T);
    cJSON *j = fixture_copy("stories260K/position-next");
    save_json(j, d);
    cJSON_Delete(j);
    snprintf(args, sizeof args, "ln -s run1 %s/r/latest && ln -s . %s/r/self && ln -s %s/r %s/r/run1/up", T, T, T, T);
    REQUIRE(system(args) == 0);
    snprintf(args, sizeof args, "plot %s/r --out %s/f --figures main", T, T);
    PLOT_SAYS(args, 0, "1 result,");
    /* the same file named twice on the command line counts once too */
    snprintf(args, sizeof args, "plot %s/r/run1/law.json %s/r/latest/law.json --out %s/f2 --figures main", T, T, T);
    PLOT_SAYS(args, 0, "1 result,");
}

/* a device, FIFO or endless stream is refused before reading */
TEST(report_refuses_non_regular_files) {
    const char *T = ll_test_tmpdir();
    char args[2048];
    snprintf(args, sizeof args, "report /dev/zero --out %s/f", T);
    PLOT_SAYS(args, 2, "layerlaw: /dev/zero: not a regular file");
    char fifo[1024];
    snprintf(fifo, sizeof fifo, "%s/fifo", T);
    REQUIRE(mkfifo(fifo, 0600) == 0);
    snprintf(args, sizeof args, "plot %s --out %s/f", fifo, T);
    PLOT_SAYS(args, 2, "not a regular file");
}

/* values gnuplot cannot range (near DBL_MAX, near-denormal) are left out of
 * the figures, which are all drawn (before: gnuplot failed and left half the
 * figures; UBSan flagged the tick code) */
TEST(plot_extreme_values) {
    const char *T = ll_test_tmpdir();
    char d[1024], args[2048], p[1024];
    static const double bad[] = {1.7976931348623157e308, 4.9406564584124654e-324, 1e-310, 2.2e-308};
    for (int k = 0; k < 2; k++) {
        cJSON *j = fixture_copy(k ? "stories260K/position-current" : "stories260K/position-next");
        cJSON *L = cJSON_GetObjectItem(j, "layers");
        for (int e = 0; e < 4; e++) cJSON_ReplaceItemInObject(cJSON_GetArrayItem(L, e + (k ? 2 : 0)), "pr", cJSON_CreateNumber(bad[e]));
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "fit"), "decay_ratio", cJSON_CreateNumber(k ? 1.7e308 : 5e-324));
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "fit"), "slope", cJSON_CreateNumber(k ? 1e300 : -1e300));
        snprintf(d, sizeof d, "%s/r/%d", T, k);
        save_json(j, d);
        cJSON_Delete(j);
    }
    snprintf(args, sizeof args, "report %s/r --out %s/f", T, T);
    PLOT_SAYS(args, 0, NULL);
    snprintf(d, sizeof d, "%s/f", T);
    CHECK(ll_path_exists(cat_path(p, sizeof p, d, "main.png")) && ll_path_exists(cat_path(p, sizeof p, d, "flow.png")) &&
          ll_path_exists(cat_path(p, sizeof p, d, "report.html")));
    csv_t c;
    REQUIRE(csv_read(cat_path(p, sizeof p, d, "main.csv"), &c) == 0);
    for (int i = 0; i < c.n; i++) {
        double y = cy(&c.r[i]);
        CHECK_MSG(y == 0 || (fabs(y) >= 1e-300 && fabs(y) <= 1e300), "main.csv: %s drawn", c.r[i].f[C_Y]);
    }
    CHECK(c.n > 0);
    csv_free(&c);
}

/* a long non-ASCII label, cut by a fixed-size buffer, still ends on a whole
 * character: the SVG stays XML, report.html and the CSV valid UTF-8 */
TEST(plot_long_utf8_label) {
    const char *T = ll_test_tmpdir();
    char d[1024], args[2048], p[1024];
    cJSON *j = fixture_copy("stories260K/position-next");
    char label[2001];
    for (int i = 0; i < 1000; i++) memcpy(label + 2 * i, "é", 2);
    label[2000] = 0;
    cJSON *cfg = cJSON_GetObjectItem(j, "config");
    cJSON_AddStringToObject(cfg, "label", label + 1); /* starts with a stray continuation byte */
    cJSON_AddStringToObject(cfg, "series", label);
    snprintf(d, sizeof d, "%s/r/x", T);
    save_json(j, d);
    cJSON_Delete(j);
    snprintf(args, sizeof args, "report %s/r --out %s/f", T, T);
    PLOT_SAYS(args, 0, NULL);
    snprintf(d, sizeof d, "%s/f", T);
    svg_t s;
    CHECK_MSG(svg_read(cat_path(p, sizeof p, d, "main.svg"), &s) == 0, "main.svg is not XML");
    free(s.text);
    static const char *const files[] = {"main.svg", "main.csv", "main.gp", "report.html", "report.md"};
    for (int i = 0; i < 5; i++) {
        char *t = ll_read_file(cat_path(p, sizeof p, d, files[i]), NULL);
        REQUIRE(t);
        CHECK_MSG(xmlCheckUTF8((const unsigned char *)t), "%s: not UTF-8", files[i]);
        free(t);
    }
}

/* a backquote or HTML in a path or label gives no raw HTML in report.md */
TEST(report_md_escapes_paths) {
    const char *T = ll_test_tmpdir();
    char d[1024], args[2048], p[1024];
    cJSON *j = fixture_copy("stories260K/position-next");
    cJSON_AddStringToObject(cJSON_GetObjectItem(j, "config"), "label", "<b>bold</b> `x` | y");
    snprintf(d, sizeof d, "%s/r/a`<img src=x onerror=alert(1)>`b", T);
    save_json(j, d);
    cJSON_Delete(j);
    snprintf(args, sizeof args, "report '%s/r' --out %s/f", T, T);
    PLOT_SAYS(args, 0, NULL);
    snprintf(d, sizeof d, "%s/f", T);
    char *md = ll_read_file(cat_path(p, sizeof p, d, "report.md"), NULL);
    REQUIRE(md);
    /* outside code spans (CommonMark: a run of n backquotes up to the next
     * run of exactly n) there is no '<' at all: no raw HTML */
    int outside_lt = 0;
    for (const char *q = md; *q;) {
        if (*q == '`') {
            size_t n = strspn(q, "`");
            const char *e = q + n, *close = NULL;
            while ((e = strchr(e, '`')) != NULL) {
                size_t m = strspn(e, "`");
                if (m == n) { close = e; break; }
                e += m;
            }
            if (close && !memchr(q, '\n', (size_t)(close - q))) { q = close + n; continue; }
            q += n;
            continue;
        }
        outside_lt += *q == '<' && q[-1] != '\\';
        q++;
    }
    CHECK_INT(outside_lt, 0);
    /* the path is one code span: opened and closed by a longer fence */
    CHECK(strstr(md, "`` ") != NULL && strstr(md, "a`<img src=x onerror=alert(1)>`b/law.json ``") != NULL);
    CHECK(strstr(md, "&lt;b&gt;bold&lt;/b&gt; \\`x\\` \\| y") != NULL);
    free(md);
    char *html = ll_read_file(cat_path(p, sizeof p, d, "report.html"), NULL);
    REQUIRE(html);
    CHECK(strstr(html, "<img") == NULL && strstr(html, "<b>bold") == NULL);
    free(html);
}

/* a full disk (here: a file size limit) leaves the folder as it was: the
 * figures and the report appear together or not at all */
TEST(report_all_or_nothing_when_the_disk_fills) {
    const char *T = ll_test_tmpdir();
    char args[4096], p[1024], d[1024];
    /* the sizes of a complete report: the limit lets every figure through
     * but not report.html (the largest: every SVG inline) */
    snprintf(args, sizeof args, "report %s/stories260K --out %s/full", RES, T);
    char *o = NULL;
    REQUIRE(plot_cmd(args, &o) == 0);
    free(o);
    snprintf(d, sizeof d, "%s/full", T);
    long long biggest = 0, html = 0;
    static const char *const names[] = {"main.png", "main.svg", "flow.png", "flow.svg", "measures.png", "measures.svg",
                                        "throughput.png", "throughput.svg", "report.md"};
    struct stat st;
    for (int i = 0; i < 9; i++)
        if (stat(cat_path(p, sizeof p, d, names[i]), &st) == 0) biggest = LL_MAX(biggest, (long long)st.st_size);
    REQUIRE(stat(cat_path(p, sizeof p, d, "report.html"), &st) == 0);
    html = st.st_size;
    REQUIRE_MSG(html > biggest + 2048, "report.html %lld, largest figure %lld", html, biggest);
    long long kb = (biggest + html) / 2 / 1024;
    snprintf(args, sizeof args, "bash -c 'ulimit -f %lld; trap \"\" XFSZ; exec %s report %s/stories260K --out %s/lim' 2>&1",
             kb, ll_bin_path(), RES, T);
    o = NULL;
    int rc = ll_run_cmd(args, &o);
    CHECK_MSG(rc == 1 && o && strstr(o, "report.html: write error"), "rc %d: %s", rc, o ? o : "");
    free(o);
    /* nothing visible, nothing left under a temporary name */
    snprintf(d, sizeof d, "%s/lim", T);
    DIR *dir = opendir(d);
    int n = 0;
    for (struct dirent *de; dir && (de = readdir(dir)) != NULL;)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) { n++; fprintf(stderr, "    left: %s\n", de->d_name); }
    if (dir) closedir(dir);
    CHECK_INT(n, 0);
}

/* 200k layers are read in linear time (the reader walks each array once) */
TEST(plot_reads_200k_layers) {
    const char *T = ll_test_tmpdir();
    const int E = 200000;
    ll_sbuf b = {0};
    ll_sb_puts(&b, "{\"layers\":[");
    for (int e = 0; e < E; e++) ll_sb_printf(&b, "%s{\"index\":%d,\"pr\":%.17g}", e ? "," : "", e, 0.9 * pow(0.99999, e));
    ll_sb_puts(&b, "],\"fit\":{\"first_entry\":1,\"slope\":-4e-6,\"intercept\":-0.05,\"decay_ratio\":0.99999},"
                   "\"config\":{\"command\":\"run\",\"model\":\"/m/big\"}}");
    char d[1024], p[1024];
    snprintf(d, sizeof d, "%s/big", T);
    REQUIRE(ll_mkdirs(d) == 0);
    REQUIRE(ll_write_file_atomic(cat_path(p, sizeof p, d, "law.json"), b.s, b.n) == 0);
    free(b.s);
    ll_result_set rs;
    const char *paths[] = {d};
    REQUIRE_MSG(ll_runset_load(&rs, paths, 1) == 0, "%s", ll_last_error());
    CHECK_INT(rs.n, 1);
    CHECK_INT(rs.runs[0].E, E);
    CHECK(rs.runs[0].pr[E - 1] == 0.9 * pow(0.99999, E - 1));
    CHECK(rs.runs[0].pr[12345] == 0.9 * pow(0.99999, 12345));
    ll_runset_free(&rs);
}
