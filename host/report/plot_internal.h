/* Internal to host/report/plot_*.c: the figure description the families
 * build and the gnuplot driver renders, and small helpers shared by the
 * three parts (reader, driver, families). */
#ifndef LL_PLOT_INTERNAL_H
#define LL_PLOT_INTERNAL_H
#include <cJSON.h>
#include <stddef.h>
#include "core/ll_util.h"
#include "report/plot.h"

/* a growing list of strings */
typedef struct {
    char **v;
    int n, cap;
} strlist;
void plt_sl_add(strlist *l, const char *s);
int plt_sl_add_new(strlist *l, const char *s); /* 1 when added, 0 when it was there */
void plt_sl_free(strlist *l);

const char *plt_jstr(const cJSON *o, const char *k);
double plt_jnum(const cJSON *o, const char *k);
size_t plt_utf8_len(const char *p);
void plt_utf8_trim(char *s);
void plt_sb_utf8(ll_sbuf *b, const char *s, size_t n);
/* base name of a path, trailing slashes ignored, into buf */
const char *plt_base_name(char *buf, size_t cap, const char *path);

/* ---- figure description ------------------------------------------------- */

enum { K_LP, K_PTS, K_LINE, K_BOX, K_ERR /* points with y error bars, joined */ };
typedef struct {
    char key[256];
    int kind, style;
    char rgb[8];     /* colour override "#rrggbb" ("" = the style's) */
    int pt;          /* point type override (0: the style's) */
    int fill;        /* boxes: 0 solid, 1 pattern */
    double *x, *y, *dy; /* dy: error bar half-length (K_ERR), NaN where none */
    int n, cap;
} fseries;
typedef struct {
    char title[400], xlabel[200], ylabel[200];
    char note[300];   /* a warning drawn under the x label (N/d, a fit of few points) */
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

fpanel *plt_fig_panel(figure *f);
fseries *plt_panel_series(fpanel *p, int kind, int style, const char *key);
/* a point; values gnuplot cannot draw (non-finite, magnitude outside
 * [1e-300, 1e300]) are left out */
void plt_series_add(fseries *s, double x, double y);
void plt_series_add_err(fseries *s, double x, double y, double dy);
void plt_fig_free(figure *f);
/* Writes NAME.csv, NAME.gp and the formats in outdir under temporary names,
 * added to the pending set (made visible together by ll_plot_commit). */
typedef struct plt_pending {
    char **tmp, **dst;
    int n;
} plt_pending;
int plt_fig_render(const figure *f, const char *outdir, unsigned formats, plt_pending *pend);
/* data to a temporary name in outdir, added to the pending set as name */
int plt_pending_write(plt_pending *pend, const char *outdir, const char *name, const void *data, size_t n);
int plt_pending_commit(plt_pending *pend);
void plt_pending_abort(plt_pending *pend);
#endif
