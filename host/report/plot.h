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

/* One result file read back from disk (a law.json: ll_result_file_load), with
 * what the figures and the report use.
 * Missing numbers are NaN, missing arrays NULL. */
typedef struct {
    char *path;       /* the law.json */
    char *label;      /* short model name for titles and legends */
    char *model_key;  /* model folder (run) or features file (fit) */
    char *lineage;    /* model_key without its training-step part (the steps of one model) */
    char *series;     /* the model's series (family): config.series (run --series), the sweep's
                         series:, else the label without its size token ("pythia-70m" -> "pythia") */
    char *measure;    /* config.measure: pr | fuzziness | onehot */
    char *weights;    /* "random" (a synthetic shape, run --weights random) or "checkpoint" */
    int made_up;      /* a top-level "synthetic" note: invented numbers (test fixtures) */
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
    double *sepfuzz;  /* E separation fuzziness (layers[].separation_fuzziness) or NULL */
    double *ho_pr, *ho_sd; /* E held-out PR and its spread over folds (pr_heldout, pr_heldout_fold_sd) or NULL */
    int folds;
    double per_feature; /* examples per feature N/d */
    int have_fit, first_entry, n_fit;
    double slope, intercept, r2, r, rho, overall;
    double n_examples, tokens_per_s;
    double *fwd_s, *cap_s; /* E, throughput.per_entry_{forward,capture}_s */
    double solve_s;
    double *gpu_layer_ms, *gpu_cap_ms; /* E, gpu_timing.per_entry[] ms/batch */
    cJSON *root;      /* the whole law.json (config, provenance for the report) */
} ll_result_file;

/* One test of a `layerlaw bench -o json` file: per-entry forward and capture
 * time (ms, mean and sample sd over the repetitions) and tokens/s. */
typedef struct {
    char *path, *label, *series, *weights, *backend;
    double n_params, threads;
    int E, reps;
    double *fwd_ms, *fwd_sd, *cap_ms, *cap_sd;
    double tok_s, tok_s_sd;
} ll_bench_entry;

typedef struct {
    ll_result_file *runs;     /* in ll_result_file_cmp order */
    int n;
    ll_bench_entry *bench;
    int nbench;
} ll_result_set;

/* bounds on what is read: a result file's size and its number of layers */
#define LL_PLOT_MAX_BYTES (1LL << 30)
#define LL_PLOT_MAX_ENTRIES (1 << 22)

/* Reads one law.json (a regular file of at most LL_PLOT_MAX_BYTES).  -1 +
 * ll_set_error when it is not one. */
int ll_result_file_load(const char *law_json, ll_result_file *r);
void ll_result_file_free(ll_result_file *r);
/* The one order of runs in every figure and table: series, weights, size,
 * step, label, path. */
int ll_result_file_cmp(const ll_result_file *a, const ll_result_file *b);
/* law.json files, bench JSON files (layerlaw bench -o json), or folders
 * searched recursively for law.json and bench.json (symbolic links inside a
 * folder are not followed; a file reached twice counts once).  -1 when a
 * path is missing or nothing was found. */
int ll_runset_load(ll_result_set *rs, const char *const *paths, int npaths);
void ll_runset_free(ll_result_set *rs);

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
    char title[400];
    char caption[1024];
} ll_fig;
typedef struct {
    ll_fig *figs;
    int n;
    char **notes; /* "steps: no model with results at 2 or more training steps" */
    int nnotes;
    struct plt_pending *pending; /* files written under temporary names, not yet in place */
} ll_figlist;
/* Frees the list; pending files (not committed) are removed. */
void ll_figlist_free(ll_figlist *fl);
/* Puts every pending file in place (renames in one folder: after every file
 * was written whole, so a full disk leaves the old set or none, never half). */
int ll_plot_commit(ll_figlist *fl);
/* Where outdir/name is now: its temporary name while pending. */
const char *ll_plot_file_path(const ll_figlist *fl, const char *outdir, const char *name, char *buf, size_t cap);

/* Draws the selected figure families into outdir (created), pending:
 * ll_plot_commit puts them in place (after the report, when one is made).
 * Families without data are skipped with a note.  0, or -1 + error (gnuplot
 * missing or failing included). */
int ll_plot_figures(const ll_result_set *rs, const char *outdir, unsigned formats, unsigned figures,
                    ll_figlist *out);

/* The per-run figure: reads outdir/law.json, writes law.png, law.svg,
 * law_points.csv (and law.gp).  0 done, 1 gnuplot absent (nothing written;
 * the caller warns once), -1 error. */
int ll_plot_run_figure(const char *outdir);

/* report.html (self-contained: inline SVG) and report.md (figures referenced
 * as NAME.png beside it) in outdir, over the figures of fl; pending with
 * them until ll_plot_commit (host/report/html.c). */
int ll_report_html(const ll_result_set *rs, ll_figlist *fl, const char *outdir);
int ll_report_md(const ll_result_set *rs, ll_figlist *fl, const char *outdir);
#endif
