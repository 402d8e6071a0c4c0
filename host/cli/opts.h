/* One option parser for every subcommand: a table of options, each with its
 * kind, destination, bounds and help line.  Values are checked strictly
 * (whole string, no wrap-around, inclusive bounds); an unknown option gets
 * one error line with "did you mean --x?" and a pointer to --help, not the
 * whole usage. */
#ifndef LL_CLI_OPTS_H
#define LL_CLI_OPTS_H
#include <stdint.h>
#include <stdio.h>

typedef enum {
    LL_OPT_GROUP = 0, /* not an option: a heading in the help (help = the heading) */
    LL_OPT_FLAG,      /* int *dst = 1 */
    LL_OPT_STR,       /* const char **dst */
    LL_OPT_INT,       /* int *dst, bounds min..max */
    LL_OPT_LONG,      /* long long *dst */
    LL_OPT_U64,       /* uint64_t *dst (decimal) */
    LL_OPT_DOUBLE,    /* double *dst, finite, bounds */
    LL_OPT_CHOICE,    /* const char **dst, one of `choices` */
    LL_OPT_LIST,      /* ll_opt_list *dst: every value of a repeated option, in order */
} ll_opt_kind;

/* LL_OPT_LIST's destination (zero-initialise; free(v) when done). */
typedef struct {
    char **v;
    int n;
} ll_opt_list;

typedef struct {
    const char *name; /* without the leading "--" */
    ll_opt_kind kind;
    void *dst;
    double min, max;  /* numeric kinds; min == max == 0: no bounds */
    const char *arg;  /* metavariable in the help ("N"), NULL for flags */
    const char *help; /* may hold '\n' for continuation lines */
    int *seen;        /* optional: set to 1 when the option is given */
    char short_name;  /* optional: '-r' alike (e.g. bench's llama-bench forms) */
    /* LL_OPT_CHOICE: the values, NULL-terminated, then more values accepted
     * but not shown (aliases), NULL-terminated: {"a", "b", NULL, "b2", NULL}.
     * Take it from the library's table (ll_position_names, ...), never a
     * copy.  A value outside it: "--opt: 'v' is not one of a, b (did you
     * mean a?)". */
    const char *const *choices;
} ll_opt;

/* argv[0] is the subcommand's name.  Options and operands may be mixed:
 * argv is reordered (options first, operands after them, each in their order;
 * "--" ends the options).  Returns 0 (parsed; *first_operand, if not NULL, is
 * the index of the first operand, -1 when there is none; with first_operand
 * NULL an operand is an error), 1 (--help printed on stdout: exit 0), or 2 (one error line
 * printed on stderr: exit 2). */
int ll_opts_parse(const char *usage, const ll_opt *opts, int argc, char **argv, int *first_operand);
void ll_opts_usage(FILE *f, const char *usage, const ll_opt *opts);
#endif
