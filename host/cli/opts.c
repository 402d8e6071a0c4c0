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

static int set_value(const char *cmd, const ll_opt *o, const char *v) {
    char *end;
    errno = 0;
    const int bounded = o->min != 0 || o->max != 0;
    switch (o->kind) {
    case LL_OPT_STR: *(const char **)o->dst = v; return 0;
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

int ll_opts_parse(const char *usage, const ll_opt *opts, int argc, char **argv, int *first_operand) {
    const char *cmd = argv[0];
    int operand = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            ll_opts_usage(stdout, usage, opts);
            return 1;
        }
        if (!strcmp(a, "--")) { if (i + 1 < argc && operand < 0) operand = i + 1; break; }
        if (strncmp(a, "--", 2) != 0) {
            if (!first_operand) return cli_fail("%s: unexpected argument '%s' (see layerlaw %s --help)", cmd, a, cmd);
            if (operand < 0) operand = i;
            continue;
        }
        if (operand >= 0) return cli_fail("%s: option '%s' after the operands (put options first)", cmd, a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const ll_opt *o = find(opts, name, len);
        if (!o) {
            const char *sug = closest(opts, name, len);
            if (sug) return cli_fail("%s: unknown option '--%.*s' (did you mean --%s?); see layerlaw %s --help", cmd, (int)len, name, sug, cmd);
            return cli_fail("%s: unknown option '--%.*s'; see layerlaw %s --help", cmd, (int)len, name, cmd);
        }
        if (o->seen) *o->seen = 1;
        if (o->kind == LL_OPT_FLAG) {
            if (eq) return cli_fail("%s: --%s takes no value", cmd, o->name);
            *(int *)o->dst = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) return cli_fail("%s: --%s needs a value (%s)", cmd, o->name, o->arg ? o->arg : "a value");
            v = argv[++i];
        }
        if (set_value(cmd, o, v) != 0) return 2;
    }
    if (first_operand) *first_operand = operand;
    return 0;
}

void ll_opts_usage(FILE *f, const char *usage, const ll_opt *opts) {
    fputs(usage, f);
    for (const ll_opt *o = opts; o->name || o->help; o++) {
        if (o->kind == LL_OPT_GROUP) { fprintf(f, "\n%s\n", o->help); continue; }
        char left[64];
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
