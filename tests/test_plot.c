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
    char cmd[2048], out[1024];
    snprintf(out, sizeof out, "%s/figs", T);
    g_out = out;
    snprintf(cmd, sizeof cmd, "%s plot %s --out %s --format pdf,eps 2>&1", ll_bin_path(), RES, out);
    char *o = NULL;
    int rc = ll_run_cmd(cmd, &o);
    REQUIRE_MSG(rc == 0, "plot: rc %d: %s", rc, o ? o : "");
    free(o);
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
        if (starts(r->f[C_PTITLE], "stories260K-hf (")) {
            if (!strcmp(r->f[C_SERIES], "forward")) { nf++; CHECK_REL(cy(r), 1e3 * law_tp(tn, "per_entry_forward_s", e), 1e-15); }
            else { nt++; CHECK_REL(cy(r), 1e3 * (law_tp(tn, "per_entry_forward_s", e) + law_tp(tn, "per_entry_capture_s", e)), 1e-15); }
        } else if (starts(r->f[C_PTITLE], "synth-pythia-410m, made-up numbers (") && !strcmp(r->f[C_SERIES], "forward")) {
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
        {RES " --figures main,pie", "unknown word 'pie'"},
        {RES " --format png,gif", "unknown word 'gif'"},
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
