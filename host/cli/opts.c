#include "cli/opts.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/ll_util.h"

static const ll_opt *find(const ll_opt *opts, const char *name, size_t len) {
    for (const ll_opt *o = opts; o->name || o->help; o++)
        if (o->kind != LL_OPT_GROUP && strlen(o->name) == len && !strncmp(o->name, name, len)) return o;
    return NULL;
}

static const ll_opt *find_short(const ll_opt *opts, char c) {
    for (const ll_opt *o = opts; o->name || o->help; o++)
        if (o->kind != LL_OPT_GROUP && o->short_name && o->short_name == c) return o;
    return NULL;
}

static const char *closest(const ll_opt *opts, const char *name, size_t len) {
    const char *names[256];
    char word[128];
    size_t n = 0;
    snprintf(word, sizeof word, "%.*s", (int)(len < 127 ? len : 127), name);
    for (const ll_opt *o = opts; (o->name || o->help) && n < 256; o++)
        if (o->kind != LL_OPT_GROUP) names[n++] = o->name;
    return ll_did_you_mean(word, names, n);
}

static int bad_value(const char *cmd, const ll_opt *o, const char *v) {
    if (o->min != 0 || o->max != 0) {
        if (o->kind == LL_OPT_DOUBLE)
            return cli_fail("%s: --%s: bad value '%s' (a number from %g to %g)", cmd, o->name, v, o->min, o->max);
        return cli_fail("%s: --%s: bad value '%s' (an integer from %.0f to %.0f)", cmd, o->name, v, o->min, o->max);
    }
    return cli_fail("%s: --%s: bad value '%s'", cmd, o->name, v);
}

static int bad_choice(const ll_opt *o, const char *v) {
    size_t n = 0;
    while (o->choices[n]) n++;
    char msg[1024];
    return cli_fail("--%s: %s", o->name, ll_not_one_of(msg, sizeof msg, v, o->choices, n));
}

static int is_choice(const ll_opt *o, const char *v) {
    const char *const *c = o->choices;
    for (int part = 0; part < 2; part++, c++)
        for (; *c; c++)
            if (!strcmp(*c, v)) return 1;
    return 0;
}

static int set_value(const char *cmd, const ll_opt *o, const char *v) {
    char *end;
    errno = 0;
    const int bounded = o->min != 0 || o->max != 0;
    switch (o->kind) {
    case LL_OPT_STR: *(const char **)o->dst = v; return 0;
    case LL_OPT_LIST: {
        ll_opt_list *l = o->dst;
        l->v = ll_xrealloc(l->v, sizeof(char *) * (size_t)(l->n + 2));
        l->v[l->n++] = (char *)v;
        l->v[l->n] = NULL;
        return 0;
    }
    case LL_OPT_CHOICE:
        if (!is_choice(o, v)) return bad_choice(o, v);
        *(const char **)o->dst = v;
        return 0;
    case LL_OPT_INT:
    case LL_OPT_LONG: {
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno == ERANGE) return bad_value(cmd, o, v);
        if (bounded && (x < (long long)o->min || x > (long long)o->max)) return bad_value(cmd, o, v);
        if (o->kind == LL_OPT_INT) {
            if (x < INT32_MIN || x > INT32_MAX) return bad_value(cmd, o, v);
            *(int *)o->dst = (int)x;
        } else {
            *(long long *)o->dst = x;
        }
        return 0;
    }
    case LL_OPT_U64: {
        if (*v == '-' || *v == '+') return bad_value(cmd, o, v);
        unsigned long long x = strtoull(v, &end, 10);
        if (!*v || *end || errno == ERANGE) return bad_value(cmd, o, v);
        *(uint64_t *)o->dst = (uint64_t)x;
        return 0;
    }
    case LL_OPT_DOUBLE: {
        double x = strtod(v, &end);
        if (!*v || *end || !isfinite(x)) return bad_value(cmd, o, v);
        if (bounded && (x < o->min || x > o->max)) return bad_value(cmd, o, v);
        *(double *)o->dst = x;
        return 0;
    }
    default: return 0;
    }
}

static int parse_one(const char *cmd, const ll_opt *opts, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const ll_opt *o = a[1] == '-' ? find(opts, name, len) : find_short(opts, a[1]);
    if (a[1] != '-') eq = NULL;
    if (!o) {
        const char *sug = closest(opts, name, len);
        if (sug) return cli_fail("%s: unknown option '--%.*s' (did you mean --%s?); see layerlaw %s --help", cmd, (int)len, name, sug, cmd);
        return cli_fail("%s: unknown option '--%.*s'; see layerlaw %s --help", cmd, (int)len, name, cmd);
    }
    if (o->seen) *o->seen = 1;
    if (o->kind == LL_OPT_FLAG) {
        if (eq) return cli_fail("%s: --%s takes no value", cmd, o->name);
        *(int *)o->dst = 1;
        return 0;
    }
    const char *v = eq ? eq + 1 : NULL;
    if (!v) {
        if (*i + 1 >= argc) return cli_fail("%s: --%s needs a value (%s)", cmd, o->name, o->arg ? o->arg : "a value");
        v = argv[++*i];
    }
    return set_value(cmd, o, v) != 0 ? 2 : 0;
}

int ll_opts_parse(const char *usage, const ll_opt *opts, int argc, char **argv, int *first_operand) {
    const char *cmd = argv[0];
    /* options keep their order; operands move after them, in their order */
    char **ops = ll_xcalloc((size_t)argc + 1, sizeof(char *)), **rest = ll_xcalloc((size_t)argc + 1, sizeof(char *));
    int nops = 0, nrest = 0, rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            ll_opts_usage(stdout, usage, opts);
            rc = 1;
            break;
        }
        if (!strcmp(a, "--")) {
            if (!first_operand && i + 1 < argc)
                rc = cli_fail("%s: unexpected argument '%s' (see layerlaw %s --help)", cmd, argv[i + 1], cmd);
            while (++i < argc) rest[nrest++] = argv[i];
            ops[nops++] = (char *)a; /* "--" stays between the options and the operands */
            break;
        }
        const int is_short = a[0] == '-' && a[1] && a[1] != '-' && !a[2] && find_short(opts, a[1]);
        if (!is_short && (strncmp(a, "--", 2) != 0 || !a[2])) {
            if (!first_operand) rc = cli_fail("%s: unexpected argument '%s' (see layerlaw %s --help)", cmd, a, cmd);
            rest[nrest++] = argv[i];
            continue;
        }
        int i0 = i;
        rc = parse_one(cmd, opts, argc, argv, &i);
        while (i0 <= i) ops[nops++] = argv[i0++];
    }
    if (rc == 0) { /* a permutation of argv[1..argc-1] */
        for (int k = 0; k < nops; k++) argv[1 + k] = ops[k];
        for (int k = 0; k < nrest; k++) argv[1 + nops + k] = rest[k];
        if (first_operand) *first_operand = nrest ? 1 + nops : -1;
    }
    free(ops);
    free(rest);
    return rc;
}

void ll_opts_usage(FILE *f, const char *usage, const ll_opt *opts) {
    fputs(usage, f);
    for (const ll_opt *o = opts; o->name || o->help; o++) {
        if (o->kind == LL_OPT_GROUP) { fprintf(f, "\n%s\n", o->help); continue; }
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        else
            snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-22s", left);
        if (strlen(left) > 22) fprintf(f, "\n  %-22s", "");
        for (const char *h = o->help; h && *h;) {
            const char *nl = strchr(h, '\n');
            size_t n = nl ? (size_t)(nl - h) : strlen(h);
            fprintf(f, " %.*s\n", (int)n, h);
            if (!nl) break;
            h = nl + 1;
            fprintf(f, "  %-22s", "");
        }
    }
}
