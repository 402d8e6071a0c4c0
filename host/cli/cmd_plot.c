/* layerlaw plot / layerlaw report: the paper's figure families (and the
 * HTML/Markdown report) over one or many results.  Option parsing is kept
 * here, self-contained. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/ll_util.h"
#include "report/plot.h"

static void plot_usage(FILE *f, int report) {
    if (report)
        fprintf(f, "usage: layerlaw report PATH... --out DIR [--format png,svg,pdf,eps]\n\n"
                   "  PATH   law.json files, or folders searched recursively for law.json\n"
                   "  Writes DIR/report.html (self-contained: figures inline as SVG), DIR/report.md\n"
                   "  (figures as PNG beside it) and every figure with its CSV and gnuplot script.\n");
    else
        fprintf(f, "usage: layerlaw plot PATH... --out DIR [--format png,svg,pdf,eps]\n"
                   "                     [--figures main,scaling,steps,flow,measures,throughput] [--each]\n\n"
                   "  PATH   law.json files, or folders searched recursively for law.json\n"
                   "  --format   PNG and SVG always; add pdf and/or eps (default png,svg)\n"
                   "  --figures  which figure families (default all; those without data are skipped\n"
                   "             with a note)\n"
                   "  --each     also (or, without --out, only) the per-run figure beside every\n"
                   "             law.json: law.png, law.svg, law_points.csv\n"
                   "  Each figure NAME is written as NAME.png, NAME.svg, NAME.csv (its data) and\n"
                   "  NAME.gp (the gnuplot script). Needs gnuplot (Debian: gnuplot-nox).\n");
}

static int plot_main(int argc, char **argv, int report) {
    const char *outdir = NULL, *fmt_s = "png,svg", *fig_s = "all";
    int each = 0;
    enum { O_OUT = 1, O_FMT, O_FIG, O_EACH, O_HELP };
    static const struct option opts[] = {{"out", 1, 0, O_OUT}, {"format", 1, 0, O_FMT}, {"figures", 1, 0, O_FIG},
                                         {"each", 0, 0, O_EACH}, {"help", 0, 0, O_HELP}, {0, 0, 0, 0}};
    const char *cmd = report ? "report" : "plot";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_OUT: outdir = optarg; break;
        case O_FMT: fmt_s = optarg; break;
        case O_FIG:
            if (report) { plot_usage(stderr, 1); return cli_fail("report: --figures is for plot (report draws all)"); }
            fig_s = optarg;
            break;
        case O_EACH:
            if (report) { plot_usage(stderr, 1); return cli_fail("report: --each is for plot"); }
            each = 1;
            break;
        case O_HELP: plot_usage(stdout, report); return 0;
        default: plot_usage(stderr, report); return cli_fail("%s: unknown or incomplete option '%s'", cmd, argv[optind - 1]);
        }
    }
    if (!outdir && !each) { plot_usage(stderr, report); return cli_fail("%s: --out is required", cmd); }
    if (optind >= argc) { plot_usage(stderr, report); return cli_fail("%s: no results given (law.json files or folders)", cmd); }
    unsigned formats, figures;
    if (ll_plot_parse_formats(fmt_s, &formats) != 0) return cli_fail_lib();
    if (ll_plot_parse_figures(fig_s, &figures) != 0) return cli_fail_lib();
    formats |= LL_FMT_PNG | LL_FMT_SVG;
    if (!ll_gnuplot_available())
        return cli_fail("%s: gnuplot with the cairo terminals is not installed (Debian: apt-get install gnuplot-nox; "
                        "or set LAYERLAW_GNUPLOT)", cmd);
    ll_runset rs;
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
