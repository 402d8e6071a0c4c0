/* Figures from results: law.json files -> PNG/SVG (PDF/EPS on request) drawn
 * by gnuplot from generated scripts, with the data of every figure in a CSV
 * beside it.  See docs/figures.md.
 *
 * Every figure NAME is written as NAME.csv (the plotted numbers, tidy
 * format), NAME.gp (the gnuplot script, re-runnable by hand: gnuplot NAME.gp
 * in that folder) and NAME.<fmt> per format, all atomically (temporary names,
 * renamed once gnuplot succeeded).  gnuplot runs with posix_spawnp, its
 * working directory the output folder; no shell and no user path in the
 * script (titles are quoted as gnuplot strings). */
#ifndef LL_PLOT_H
#define LL_PLOT_H
#include <cJSON.h>

/* One result (a law.json), with what the figures and the report use.
 * Missing numbers are NaN, missing arrays NULL. */
typedef struct {
    char *path;       /* the law.json */
    char *label;      /* short model name for titles and legends */
    char *model_key;  /* model folder (run) or features file (fit) */
    char *series;     /* model_key without its training-step part */
    char *model_type; /* "" when unknown */
    char *data;       /* data / tokens / labels file, base name */
    char *command;    /* "run" or "fit" */
    char *position;   /* previous|current|next|next-next ("next" if absent) */
    char *norm;       /* config.norm ("" if absent) */
    char *target;     /* "id" if absent */
    long long shuffle;/* shuffle_vocab_seed, -1 when none */
    double n_params;
    long long step;   /* training step, -1 when unknown */
    int E;
    double *pr;       /* E */
    double *fuzz;     /* E separation fuzziness (layers[].separation_fuzziness) or NULL */
    int have_fit, first_entry;
    double slope, intercept, r2, r, rho, overall;
    double n_examples, tokens_per_s;
    double *fwd_s, *cap_s; /* E, throughput.per_entry_{forward,capture}_s */
    double solve_s;
    double *gpu_layer_ms, *gpu_cap_ms; /* E, gpu_timing.per_entry[] ms/batch */
    cJSON *root;      /* the whole law.json (config, provenance for the report) */
} ll_run;

typedef struct {
    ll_run *runs;
    int n;
} ll_runset;

/* Reads one law.json.  -1 + ll_set_error when it is not one. */
int ll_run_load(const char *law_json, ll_run *r);
void ll_run_free(ll_run *r);
/* law.json files, or folders searched recursively for files named law.json
 * (sorted by path).  -1 when a path is missing or nothing was found. */
int ll_runset_load(ll_runset *rs, const char *const *paths, int npaths);
void ll_runset_free(ll_runset *rs);

enum { LL_FMT_PNG = 1, LL_FMT_SVG = 2, LL_FMT_PDF = 4, LL_FMT_EPS = 8 };
enum {
    LL_FIG_MAIN = 1, LL_FIG_SCALING = 2, LL_FIG_STEPS = 4, LL_FIG_FLOW = 8,
    LL_FIG_MEASURES = 16, LL_FIG_THROUGHPUT = 32, LL_FIG_ALL = 63
};
/* "png,svg,pdf,eps" / "main,scaling,steps,flow,measures,throughput" (or
 * "all"); -1 + error on an unknown word. */
int ll_plot_parse_formats(const char *s, unsigned *out);
int ll_plot_parse_figures(const char *s, unsigned *out);

/* 1 when a gnuplot with the cairo terminals (pngcairo) can be run: the
 * program named by $LAYERLAW_GNUPLOT, else "gnuplot" on the PATH. */
int ll_gnuplot_available(void);

/* What ll_plot_figures made (for the reports) and skipped (notes). */
typedef struct {
    char name[64];     /* file stem: NAME.png, NAME.svg, NAME.csv */
    char title[256];
    char caption[1024];
} ll_fig;
typedef struct {
    ll_fig *figs;
    int n;
    char **notes; /* "steps: no model with results at 2 or more training steps" */
    int nnotes;
} ll_figlist;
void ll_figlist_free(ll_figlist *fl);

/* Draws the selected figure families into outdir (created).  Families
 * without data are skipped with a note.  0, or -1 + error (gnuplot missing
 * or failing included). */
int ll_plot_figures(const ll_runset *rs, const char *outdir, unsigned formats, unsigned figures,
                    ll_figlist *out);

/* The per-run figure: reads outdir/law.json, writes law.png, law.svg,
 * law_points.csv (and law.gp).  0 done, 1 gnuplot absent (nothing written;
 * the caller warns once), -1 error. */
int ll_plot_run_figure(const char *outdir);

/* report.html (self-contained: inline SVG) and report.md (figures referenced
 * as NAME.png beside it) in outdir, over the figures already drawn there
 * (host/report/html.c). */
int ll_report_html(const ll_runset *rs, const ll_figlist *fl, const char *outdir);
int ll_report_md(const ll_runset *rs, const ll_figlist *fl, const char *outdir);
#endif
