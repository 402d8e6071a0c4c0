/* Subcommands of build/layerlaw.  Each returns the process exit status:
 * 0 success, 1 internal/runtime failure, 2 bad input or usage. */
#ifndef LL_CLI_H
#define LL_CLI_H
int cmd_fit(int argc, char **argv);      /* host/cli/cmd_fit.c */
int cmd_run(int argc, char **argv);      /* host/cli/cmd_run.c */
int cmd_tokenize(int argc, char **argv); /* host/cli/cmd_tokenize.c */
int cmd_info(int argc, char **argv);     /* host/cli/main.c */
int cmd_topo(int argc, char **argv);     /* host/cli/cmd_topo.c */
/* The MPI / NCCL / hwloc / kernel-image lines of `layerlaw info`. */
void cli_info_dist(void);
int cmd_plot(int argc, char **argv);     /* host/cli/cmd_plot.c */
int cmd_report(int argc, char **argv);   /* host/cli/cmd_plot.c */
/* The per-run figure (law.png, law.svg) beside law.json: a missing gnuplot
 * or a drawing error is a warning on stderr, never a failed run. */
void cli_run_figure(const char *outdir);
int cmd_sweep(int argc, char **argv);    /* host/cli/cmd_sweep.c */
int cmd_bench(int argc, char **argv);    /* host/cli/cmd_bench.c */
/* Prints "layerlaw: <msg>" on stderr (one line) and returns 2. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ranks: while on, cli_fail only records its message (ll_set_error) so that
 * the job's failure check (ll_dist_any_failed) can print it once, naming
 * the rank (cli_dist_finish). */
void cli_defer_errors(int on);
/* Prints ll_last_error() as "layerlaw: <msg>" (no rank prefix added). */
void cli_fail_print(void);
/* Prints the last library error (ll_last_error) and returns 2. */
int cli_fail_lib(void);
#endif
