/* layerlaw plot / layerlaw report: the paper's figure families (and the
 * HTML/Markdown report) over one or many results.  Option parsing is kept
 * on the shared parser (cli/opts.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/opts.h"
#include "core/ll_util.h"
#include "report/plot.h"

static const char REPORT_USAGE[] =
    "usage: layerlaw report PATH... --out DIR [--format png,svg,pdf,eps]\n\n"
    "  PATH   law.json files, or folders searched recursively for law.json\n"
    "  Writes DIR/report.html (self-contained: figures inline as SVG), DIR/report.md\n"
    "  (figures as PNG beside it) and every figure with its CSV and gnuplot script.\n\n";
static const char PLOT_USAGE[] =
    "usage: layerlaw plot PATH... --out DIR [--format png,svg,pdf,eps]\n"
    "                     [--figures main,scaling,steps,flow,measures,throughput] [--each]\n\n"
    "  PATH   law.json files, or folders searched recursively for law.json\n"
    "  Each figure NAME is written as NAME.png, NAME.svg, NAME.csv (its data) and\n"
    "  NAME.gp (the gnuplot script). Needs gnuplot (Debian: gnuplot-nox).\n\n";

static int plot_main(int argc, char **argv, int report) {
    const char *outdir = NULL, *fmt_s = "png,svg", *fig_s = "all";
    int each = 0;
    const char *cmd = report ? "report" : "plot";
    /* report draws every figure: --figures and --each are plot's only */
    ll_opt opts[] = {
        {"out", LL_OPT_STR, &outdir, 0, 0, "DIR", "the output folder"},
        {"format", LL_OPT_STR, &fmt_s, 0, 0, "F,...", "PNG and SVG always; add pdf and/or eps (default png,svg)"},
        {"figures", LL_OPT_STR, &fig_s, 0, 0, "F,...", "which figure families (default all; those without data are skipped\nwith a note)"},
        {"each", LL_OPT_FLAG, &each, 0, 0, NULL, "also (or, without --out, only) the per-run figure beside every\nlaw.json: law.png, law.svg, law_points.csv"},
        {NULL, 0, NULL, 0, 0, NULL, NULL}};
    if (report) opts[2] = (ll_opt){0};
    int first = -1;
    int prc = ll_opts_parse(report ? REPORT_USAGE : PLOT_USAGE, opts, argc, argv, &first);
    if (prc) return prc == 1 ? 0 : 2;
    if (!outdir && !each) return cli_fail("%s: --out is required; see layerlaw %s --help", cmd, cmd);
    if (first < 0) return cli_fail("%s: no results given (law.json files or folders); see layerlaw %s --help", cmd, cmd);
    const int optind = first;
    unsigned formats, figures;
    if (ll_plot_parse_formats(fmt_s, &formats) != 0) return cli_fail_lib();
    if (ll_plot_parse_figures(fig_s, &figures) != 0) return cli_fail_lib();
    formats |= LL_FMT_PNG | LL_FMT_SVG;
    if (!ll_gnuplot_available())
        return cli_fail("%s: gnuplot with the cairo terminals is not installed (Debian: apt-get install gnuplot-nox; "
                        "or set LAYERLAW_GNUPLOT)", cmd);
    ll_result_set rs;
    if (ll_runset_load(&rs, (const char *const *)argv + optind, argc - optind) != 0) return cli_fail_lib();
    ll_figlist fl = {0};
    int rc = 0;
    for (int i = 0; each && i < rs.n; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", rs.runs[i].path);
        char *sl = strrchr(dir, '/');
        if (sl) *sl = 0; else snprintf(dir, sizeof dir, ".");
        if (ll_plot_run_figure(dir) != 0) { rc = 1; fprintf(stderr, "layerlaw: %s\n", ll_last_error()); goto out; }
        printf("  %s/law.png\n", dir);
    }
    if (!outdir) goto out;
    if (ll_plot_figures(&rs, outdir, formats, figures, &fl) != 0) {
        rc = 1;
        fprintf(stderr, "layerlaw: %s\n", ll_last_error());
        goto out;
    }
    if (report && (ll_report_html(&rs, &fl, outdir) != 0 || ll_report_md(&rs, &fl, outdir) != 0)) {
        rc = 1;
        fprintf(stderr, "layerlaw: %s\n", ll_last_error());
        goto out;
    }
    /* figures and report appear together, after every file was written whole */
    if (ll_plot_commit(&fl) != 0) {
        rc = 1;
        fprintf(stderr, "layerlaw: %s\n", ll_last_error());
        goto out;
    }
    if (rs.nbench) printf("%d result%s and %d bench test%s, %d figure%s in %s\n", rs.n, rs.n == 1 ? "" : "s", rs.nbench,
                          rs.nbench == 1 ? "" : "s", fl.n, fl.n == 1 ? "" : "s", outdir);
    else printf("%d result%s, %d figure%s in %s\n", rs.n, rs.n == 1 ? "" : "s", fl.n, fl.n == 1 ? "" : "s", outdir);
    for (int i = 0; i < fl.n; i++) printf("  %s.png  %s\n", fl.figs[i].name, fl.figs[i].title);
    for (int i = 0; i < fl.nnotes; i++) fprintf(stderr, "layerlaw: skipped %s\n", fl.notes[i]);
    if (report) printf("  report.html, report.md\n");
out:
    ll_figlist_free(&fl);
    ll_runset_free(&rs);
    return rc;
}

int cmd_plot(int argc, char **argv) { return plot_main(argc, argv, 0); }
int cmd_report(int argc, char **argv) { return plot_main(argc, argv, 1); }
