#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/opts.h"
#include "report/plot.h"
#include "core/ll_util.h"
#include "backend/backend_info.h"
#include "dist/dist.h"

static int g_defer;
void cli_defer_errors(int on) { g_defer = on; }

int cli_fail(const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_defer) { /* kept for the job's failure check, printed once by rank 0 */
        ll_set_error("%s", msg);
        return 2;
    }
    ll_set_error("%s", msg); /* the line, for ll_api_cli (python/layerlaw) */
    char line[2200];
    ll_dist_error_line(msg, line, sizeof line); /* "rank R: " with several ranks */
    fprintf(stderr, "layerlaw: %s\n", line);
    fflush(stderr);
    return 2;
}

void cli_fail_print(void) { fprintf(stderr, "layerlaw: %s\n", ll_last_error()); }

void cli_run_figure(const char *outdir) {
    if (getenv("LAYERLAW_NO_FIGURE")) return;
    int rc = ll_plot_run_figure(outdir);
    if (rc == 1) fprintf(stderr, "layerlaw: no figure drawn (gnuplot is not installed: apt-get install gnuplot-nox)\n");
    else if (rc < 0) fprintf(stderr, "layerlaw: warning: no figure drawn: %s\n", ll_last_error());
}

int cli_fail_lib(void) { return cli_fail("%s", ll_last_error()); }

static const char INFO_USAGE[] =
    "usage: layerlaw info\n\n"
    "  The version, whether the CUDA backend is compiled in and a device present, the\n"
    "  MPI / NCCL / hwloc builds and (CUDA) each device's kernel image.\n";

int cmd_info(int argc, char **argv) {
    const ll_opt opts[] = {{NULL, 0, NULL, 0, 0, NULL, NULL}};
    int prc = ll_opts_parse(INFO_USAGE, opts, argc, argv, NULL);
    if (prc) return prc == 1 ? 0 : 2;
    char why[256];
    int have = ll_cuda_available(why, sizeof why);
    printf("layerlaw %s\n", LL_VERSION);
    printf("cuda backend compiled in: %s\n", ll_cuda_compiled() ? "yes" : "no");
    printf("cuda device: %s (%s)\n", have ? "yes" : "no", why);
    cli_info_dist();
    return 0;
}

/* libgomp's default wait policy spins ~300k iterations at every barrier; when
 * the cores are shared with other processes a descheduled worker then costs
 * milliseconds per parallel region (measured here: stories260K 12 s instead
 * of 0.9 s at load 8 on 2 cores).  libgomp reads its settings when it is
 * loaded, before main, so the only way to change them is the environment:
 * unless the user chose (OMP_WAIT_POLICY / GOMP_SPINCOUNT), run again with a
 * short spin.  LAYERLAW_NO_REEXEC=1 disables this. */
static void reexec_with_short_spin(int argc, char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || getenv("LAYERLAW_NO_REEXEC")) return;
    setenv("GOMP_SPINCOUNT", "1000", 1);
    char **full = ll_xcalloc((size_t)argc + 1, sizeof(char *));
    for (int i = 0; i < argc; i++) full[i] = argv[i];
    fflush(NULL);
    execv("/proc/self/exe", full);
    free(full); /* exec failed: carry on with the default spin */
    unsetenv("GOMP_SPINCOUNT");
}

/* The one command table: usage, "unknown command" and the re-exec decision
 * all read it.  spin: the command runs OpenMP work (re-exec with a short
 * spin, above). */
static const struct {
    const char *name;
    int (*fn)(int, char **);
    int spin;
    const char *help;
} cmds[] = {
    {"fit", cmd_fit, 1, "probes and the law from features you already have (.npy)"},
    {"run", cmd_run, 1, "forward a model over tokens, capture every layer, fit the law"},
    {"tokenize", cmd_tokenize, 0, "text -> token ids with an HF tokenizer.json"},
    {"plot", cmd_plot, 0, "figures of the paper from results (law.json files or folders)"},
    {"report", cmd_report, 0, "report.html + report.md: tables, figures, provenance of every run"},
    {"bench", cmd_bench, 1, "per-layer throughput of the pipeline, repetitions with mean ± sd, peaks measured"},
    {"sweep", cmd_sweep, 1, "every point of a sweep file (models x data x axes), resumable, one results store"},
    {"info", cmd_info, 0, "version, backends, devices"},
    {"topo", cmd_topo, 0, "the machine as layerlaw sees it: cores, NUMA, GPUs, NICs, rank bindings"},
};
#define N_CMDS (sizeof cmds / sizeof cmds[0])

static void usage(FILE *f) {
    fprintf(f,
            "layerlaw %s — the law of equi-learning, layer by layer, fast\n\n"
            "usage: layerlaw <command> [options]   (layerlaw <command> --help)\n\n"
            "commands:\n",
            LL_VERSION);
    for (size_t i = 0; i < N_CMDS; i++) fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].help);
}

/* ll_dist_abort's last line (the job ends after it) */
static void cli_print_abort(const char *line, void *ud) {
    (void)ud;
    fprintf(stderr, "layerlaw: %s\n", line);
    fflush(stderr);
}

/* the library's warnings, printed (only host/cli prints) */
static void cli_print_warning(const char *line, void *ud) {
    (void)ud;
    fprintf(stderr, "layerlaw: warning: %s\n", line);
}
static void cli_print_note(const char *line, void *ud) {
    (void)ud;
    fprintf(stderr, "layerlaw: %s\n", line);
}

int main(int argc, char **argv) {
    ll_set_warn_handler(cli_print_warning, NULL);
    ll_dist_set_abort_handler(cli_print_abort, NULL);
    ll_set_note_handler(cli_print_note, NULL);
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
    if (!strcmp(argv[1], "--version")) { printf("layerlaw %s\n", LL_VERSION); return 0; }
    const char *names[N_CMDS];
    for (size_t i = 0; i < N_CMDS; i++) {
        names[i] = cmds[i].name;
        if (strcmp(argv[1], cmds[i].name)) continue;
        if (cmds[i].spin) reexec_with_short_spin(argc, argv);
        return cmds[i].fn(argc - 1, argv + 1);
    }
    /* the error first, then one line of help (not the whole usage) */
    ll_sbuf list = {0};
    for (size_t i = 0; i < N_CMDS; i++) ll_sb_printf(&list, "%s%s", i ? ", " : "", cmds[i].name);
    const char *near = ll_did_you_mean(argv[1], names, N_CMDS);
    int rc = near ? cli_fail("unknown command '%s' (did you mean %s?); commands: %s", argv[1], near, list.s)
                  : cli_fail("unknown command '%s'; commands: %s (layerlaw --help)", argv[1], list.s);
    free(list.s);
    return rc;
}
