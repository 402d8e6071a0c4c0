#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
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
    ll_dist_print_error(msg);
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

const char *cli_backend_notice(const char *requested) {
    char why[256];
    int have = ll_cuda_available(why, sizeof why);
    if (requested && strcmp(requested, "cpu") == 0 && have) {
        fprintf(stderr, "layerlaw: using the CPU backend (as requested; CUDA available: %s)\n", why);
        return "cpu";
    }
    if (have) {
        fprintf(stderr, "layerlaw: using the CUDA backend (%s)\n", why);
        return "cuda";
    }
    fprintf(stderr, "layerlaw: using the CPU backend (%s)\n", why);
    return "cpu";
}

int cmd_info(int argc, char **argv) {
    (void)argc; (void)argv;
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

static void usage(FILE *f) {
    fprintf(f,
            "layerlaw %s — the law of equi-learning, layer by layer, fast\n\n"
            "usage: layerlaw <command> [options]   (layerlaw <command> --help)\n\n"
            "commands:\n"
            "  fit       probes and the law from features you already have (.npy)\n"
            "  run       forward a model over tokens, capture every layer, fit the law\n"
            "  tokenize  text -> token ids with an HF tokenizer.json\n"
            "  plot      figures of the paper from results (law.json files or folders)\n"
            "  report    report.html + report.md: tables, figures, provenance of every run\n"
            "  bench     per-layer throughput of the pipeline, repetitions with mean ± sd, peaks measured\n"
            "  sweep     every point of a sweep file (models x data x axes), resumable, one results store\n"
            "  info      version, backends, devices\n"
            "  topo      the machine as layerlaw sees it: cores, NUMA, GPUs, NICs, rank bindings\n",
            LL_VERSION);
}

/* Levenshtein distance of two short words (a longer one counts as far) */
static int cmd_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 30 || lb > 30) return 99;
    int d[32][32];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

/* the library's warnings, printed (only host/cli prints) */
static void cli_print_warning(const char *line, void *ud) {
    (void)ud;
    fprintf(stderr, "layerlaw: warning: %s\n", line);
}

int main(int argc, char **argv) {
    ll_set_warn_handler(cli_print_warning, NULL);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) { printf("layerlaw %s\n", LL_VERSION); return 0; }
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        {"fit", cmd_fit}, {"run", cmd_run}, {"tokenize", cmd_tokenize}, {"info", cmd_info},
        {"plot", cmd_plot}, {"report", cmd_report},
        {"sweep", cmd_sweep}, {"bench", cmd_bench}, {"topo", cmd_topo},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) {
            if (!strcmp(argv[1], "run") || !strcmp(argv[1], "fit") || !strcmp(argv[1], "sweep") ||
                !strcmp(argv[1], "bench")) reexec_with_short_spin(argc, argv);
            return cmds[i].fn(argc - 1, argv + 1);
        }
    /* the error first, then one line of help (not the whole usage) */
    const char *near = NULL;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (cmd_distance(argv[1], cmds[i].name) <= 2) near = cmds[i].name;
    if (near) return cli_fail("unknown command '%s' (did you mean %s?); commands: run, fit, tokenize, info", argv[1], near);
    return cli_fail("unknown command '%s'; commands: run, fit, tokenize, info (layerlaw --help)", argv[1]);
}
