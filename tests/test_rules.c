/* The house rules of docs/architecture.md, kept by a test (issue 19, item 3):
 * a scanner over host/ prints one line per violation, "FILE:LINE: problem",
 * and the test fails on any line the allow-list below does not cover.
 *
 *   cuda      no CUDA API call or header, no LL_HAVE_CUDA, in host/ outside
 *             host/backend/ (code asks the ll_backend it was given)
 *   backend   no comparison with a backend's name ("cpu", "cuda") outside
 *             host/backend/
 *   family    no family or GGUF architecture name (a string "llama",
 *             "llama.context_length", or ll_family_llama) in host/io/ or
 *             host/pipeline/: such knowledge is an ll_family hook
 *   print     no printing in the library: host/ outside host/cli/ has no
 *             printf, puts, perror, putchar, and no fprintf/fputs/fputc/
 *             fwrite/vfprintf to stderr or stdout (warnings: ll_warn,
 *             errors: ll_set_error; a function handed a FILE * may print to it)
 *   onefamily one family per file in host/families/, or host/families/list.h
 *             names the file and says why two share it
 *   long      no function in host/ over 150 lines (a parser's opcode switch
 *             is allowed, by name, below)
 *   getopt    no getopt/getopt_long in host/: every command parses with the
 *             one option parser (host/cli/opts.h)
 *
 * Each rule is shown to fire on a planted violation (rules_fire_on_planted):
 * the scanner runs over a temporary tree with one violation of each.  Names
 * of families and architectures are read from host/families/ itself. */
#include "harness.h"
#include "core/ll_util.h"
#include <dirent.h>
#include <stdarg.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FUNC_LINES 150

/* ---- the allow-list ----
 * PERMANENT lines are decisions (with the reason).  TEMPORARY lines are
 * violations other engineers are fixing on their branches right now, each
 * naming its owner: the lead deletes the line when that branch merges.  A
 * line that matches nothing fails the test too (so that a fixed violation
 * cannot come back unseen): delete it.
 * {rule, path, what (a substring of the problem; NULL: any), owner/reason} */
typedef struct {
    const char *rule, *path, *what, *why;
} allow_line;

static const allow_line ALLOW[] = {
    /* PERMANENT */
    {"print", "host/core/ll_util.c", "fprintf(stderr", "permanent: the out-of-memory exit of ll_xmalloc (no caller to return to) and the progress line on a terminal (LAYERLAW_QUIET)"},
    {"print", "host/dist/dist.c", "fprintf(stderr", "permanent: ll_dist_abort with no abort handler installed: the job's last line before MPI_Abort (no caller to return to; the CLI installs a handler)"},
    {"long", "host/io/torch_pickle.c", "run_pickle", "permanent: a parser's opcode switch (one case per pickle opcode)"},
    /* TEMPORARY: fixed on other branches now (owner: branch) */
    {NULL, NULL, NULL, NULL}};

/* ---- the scanner ---- */
typedef struct {
    char **names; /* family model_types, aliases and GGUF architectures */
    int n;
} name_set;

typedef struct {
    ll_sbuf out; /* the violation lines */
    int n;
} findings;

static void finding(findings *f, const char *rule, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void finding(findings *f, const char *rule, const char *path, int line, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ll_sb_printf(&f->out, "%s:%d: [%s] %s\n", path, line, rule, msg);
    f->n++;
}

/* The text with comments blanked (newlines kept); strings too when
 * strings == 0 (their quotes kept: "" stays). */
static char *strip(const char *s, int keep_strings) {
    size_t n = strlen(s);
    char *o = ll_xmalloc(n + 1);
    size_t i = 0;
    while (i < n) {
        if (s[i] == '/' && s[i + 1] == '*') {
            o[i] = o[i + 1] = ' ';
            i += 2;
            while (i < n && !(s[i] == '*' && s[i + 1] == '/')) { o[i] = s[i] == '\n' ? '\n' : ' '; i++; }
            if (i < n) { o[i] = o[i + 1] = ' '; i += 2; }
        } else if (s[i] == '/' && s[i + 1] == '/') {
            while (i < n && s[i] != '\n') o[i++] = ' ';
        } else if (s[i] == '"' || s[i] == '\'') {
            char q = s[i];
            o[i] = s[i];
            i++;
            while (i < n && s[i] != q && s[i] != '\n') {
                int esc = s[i] == '\\' && i + 1 < n;
                o[i] = keep_strings ? s[i] : ' ';
                if (esc) { i++; o[i] = keep_strings ? s[i] : ' '; }
                i++;
            }
            if (i < n) { o[i] = s[i]; i++; }
        } else {
            o[i] = s[i];
            i++;
        }
    }
    o[n] = 0;
    return o;
}

static int starts(const char *path, const char *prefix) { return !strncmp(path, prefix, strlen(prefix)); }

/* line number of offset k */
static int line_of(const char *s, size_t k) {
    int l = 1;
    for (size_t i = 0; i < k; i++) l += s[i] == '\n';
    return l;
}

/* every match of re in text: the rule's line */
static void each_match(findings *f, const char *rule, const char *path, const char *text, const char *re_s,
                       const char *problem) {
    regex_t re;
    if (regcomp(&re, re_s, REG_EXTENDED | REG_NEWLINE) != 0) { finding(f, rule, path, 0, "bad regex %s", re_s); return; }
    regmatch_t m[4];
    size_t off = 0;
    while (regexec(&re, text + off, 4, m, off ? REG_NOTBOL : 0) == 0) {
        int k = m[2].rm_so >= 0 ? 2 : 0;
        int len = (int)(m[k].rm_eo - m[k].rm_so);
        finding(f, rule, path, line_of(text, off + (size_t)m[k].rm_so), "%s (%.*s)", problem, len,
                text + off + m[k].rm_so);
        off += (size_t)(m[0].rm_eo > 0 ? m[0].rm_eo : 1);
        if (!text[off - 1] || !text[off]) break;
    }
    regfree(&re);
}

static void rule_cuda(findings *f, const char *path, const char *code) {
    if (!starts(path, "host/") || starts(path, "host/backend/")) return;
    each_match(f, "cuda", path, code,
               "(^[ \t]*#[ \t]*include[ \t]*[<\"])((cuda|cublas|cusolver|curand|nvml|nvrtc)[A-Za-z0-9_]*\\.h)",
               "CUDA header outside host/backend/");
    each_match(f, "cuda", path, code, "(^|[^A-Za-z0-9_])((cuda|cublas|cusolver|curand)[A-Z][A-Za-z0-9_]*)[ \t]*\\(",
               "CUDA API call outside host/backend/");
    each_match(f, "cuda", path, code, "(^|[^A-Za-z0-9_])(LL_HAVE_CUDA)", "LL_HAVE_CUDA outside host/backend/");
}

static void rule_backend(findings *f, const char *path, const char *code_str) {
    if (!starts(path, "host/") || starts(path, "host/backend/")) return;
    each_match(f, "backend", path, code_str,
               "(^|[^A-Za-z0-9_])(str(n|case)?cmp[ \t]*\\([^;]*\"(cpu|cuda)\")",
               "comparison with a backend's name outside host/backend/");
}

static void rule_print(findings *f, const char *path, const char *code) {
    if (!starts(path, "host/") || starts(path, "host/cli/")) return;
    each_match(f, "print", path, code, "(^|[^A-Za-z0-9_.>])((printf|puts|perror|putchar|vprintf)[ \t]*\\()",
               "printing in the library");
    each_match(f, "print", path, code,
               "(^|[^A-Za-z0-9_])((fprintf|vfprintf|fputs|fputc|fwrite|putc)[ \t]*\\([^;]*(stderr|stdout))",
               "printing in the library");
}

static void rule_family(findings *f, const char *path, const char *code_str, const name_set *ns) {
    if (!starts(path, "host/io/") && !starts(path, "host/pipeline/")) return;
    for (int i = 0; i < ns->n; i++) {
        char re[256];
        /* "name", "name.key" (a GGUF key) or ll_family_name */
        snprintf(re, sizeof re, "(\")(%s(\\.[A-Za-z0-9_.]*)?\")", ns->names[i]);
        each_match(f, "family", path, code_str, re, "family or architecture name in io/ or pipeline/");
        snprintf(re, sizeof re, "(^|[^A-Za-z0-9_])(ll_family_%s)([^A-Za-z0-9_]|$)", ns->names[i]);
        each_match(f, "family", path, code_str, re, "family or architecture name in io/ or pipeline/");
    }
}

static void rule_onefamily(findings *f, const char *path, const char *code, const char *list_h) {
    if (!starts(path, "host/families/")) return;
    regex_t re;
    regcomp(&re, "^const ll_family ll_family_([a-z0-9_]+)[ \t]*=", REG_EXTENDED | REG_NEWLINE);
    regmatch_t m[2];
    char names[512] = "";
    int n = 0, first_line = 0;
    for (size_t off = 0; regexec(&re, code + off, 2, m, off ? REG_NOTBOL : 0) == 0; off += (size_t)m[0].rm_eo) {
        if (!n) first_line = line_of(code, off + (size_t)m[0].rm_so);
        size_t k = strlen(names);
        snprintf(names + k, sizeof names - k, "%s%.*s", n ? ", " : "", (int)(m[1].rm_eo - m[1].rm_so), code + off + m[1].rm_so);
        n++;
    }
    regfree(&re);
    if (n < 2) return;
    const char *base = strrchr(path, '/') + 1;
    /* list.h must name the file in a comment: the reason is next to it */
    char *lc = list_h ? strip(list_h, 1) : NULL;
    int said = 0;
    for (const char *p = list_h; p && (p = strstr(p, base)); p++)
        if (lc[p - list_h] == ' ') said = 1; /* inside a comment (blanked by strip) */
    free(lc);
    if (!said)
        finding(f, "onefamily", path, first_line, "%d families in one file (%s) and host/families/list.h does not say why", n,
                names);
}

static void rule_long(findings *f, const char *path, const char *code) {
    if (!starts(path, "host/")) return;
    /* top-level braces: a '{' at depth 0 after a ')' with no '=' since the
     * previous declaration opens a function body */
    int depth = 0, decl_line = 1, body = 0, seen_paren = 0, seen_eq = 0;
    int line = 1, blank_so_far = 1;
    char name[128] = "", last_ident[128] = "", pending[128] = "";
    const char *p = code;
    while (*p) {
        char c = *p;
        if (c == '\n') { line++; p++; continue; }
        if (depth == 0 && blank_so_far && c != ' ' && c != '\t') { decl_line = line; blank_so_far = 0; }
        if (c == '#' && depth == 0) { /* preprocessor line at top level */
            while (*p && *p != '\n') { if (*p == '\\' && p[1] == '\n') { p++; line++; } p++; }
            blank_so_far = 1;
            continue;
        }
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_') {
            size_t k = 0;
            while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_') {
                if (k + 1 < sizeof last_ident) last_ident[k++] = *p;
                p++;
            }
            last_ident[k] = 0;
            continue;
        }
        if (depth == 0) {
            if (c == '(' && !seen_paren) { snprintf(pending, sizeof pending, "%s", last_ident); seen_paren = 1; }
            if (c == '=') seen_eq = 1;
        }
        if (c == '{') {
            if (depth == 0) {
                body = seen_paren && !seen_eq;
                snprintf(name, sizeof name, "%s", pending);
            }
            depth++;
        } else if (c == '}') {
            depth--;
            if (depth == 0) {
                int n = line - decl_line + 1;
                if (body && n > MAX_FUNC_LINES)
                    finding(f, "long", path, decl_line, "%s is %d lines (max %d)", name, n, MAX_FUNC_LINES);
                body = seen_paren = seen_eq = 0;
                blank_so_far = 1;
            }
            if (depth < 0) depth = 0;
        } else if (c == ';' && depth == 0) {
            seen_paren = seen_eq = 0;
            blank_so_far = 1;
        }
        p++;
    }
}

static void rule_getopt(findings *f, const char *path, const char *code) {
    if (!starts(path, "host/")) return;
    each_match(f, "getopt", path, code, "(^|[^A-Za-z0-9_])((getopt_long|getopt)[ \t]*\\(|getopt\\.h)",
               "getopt beside the shared option parser (host/cli/opts.h)");
}

static void scan_file(findings *f, const char *root, const char *rel, const name_set *ns, const char *list_h) {
    char full[4096];
    snprintf(full, sizeof full, "%s/%s", root, rel);
    char *src = ll_read_file(full, NULL);
    if (!src) { finding(f, "read", rel, 0, "cannot read: %s", ll_last_error()); return; }
    char *code = strip(src, 0), *code_str = strip(src, 1);
    rule_cuda(f, rel, code);
    rule_backend(f, rel, code_str);
    rule_print(f, rel, code);
    rule_family(f, rel, code_str, ns);
    rule_onefamily(f, rel, code, list_h);
    rule_long(f, rel, code);
    rule_getopt(f, rel, code);
    free(code);
    free(code_str);
    free(src);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void add_name(name_set *ns, char *s) {
    for (int i = 0; i < ns->n; i++)
        if (!strcmp(ns->names[i], s)) { free(s); return; }
    ns->names = ll_xrealloc(ns->names, sizeof(char *) * (size_t)(ns->n + 1));
    ns->names[ns->n++] = s;
}

/* every .c/.h/.cpp under root/rel, sorted */
static void list_sources(const char *root, const char *rel, char ***v, int *n) {
    char full[4096];
    snprintf(full, sizeof full, "%s/%s", root, rel);
    DIR *d = opendir(full);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char sub[4096], subfull[8200];
        snprintf(sub, sizeof sub, "%s/%s", rel, e->d_name);
        snprintf(subfull, sizeof subfull, "%s/%s", root, sub);
        struct stat st;
        if (stat(subfull, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) { list_sources(root, sub, v, n); continue; }
        const char *dot = strrchr(e->d_name, '.');
        if (!dot || (strcmp(dot, ".c") && strcmp(dot, ".h"))) continue;
        *v = ll_xrealloc(*v, sizeof(char *) * (size_t)(*n + 1));
        (*v)[(*n)++] = ll_xstrdup(sub);
    }
    closedir(d);
}

/* model_type, aliases and gguf_arch strings of every family file */
static void family_names(const char *root, char **files, int nf, name_set *ns) {
    regex_t re;
    regcomp(&re, "\\.(model_type|gguf_arch)[ \t]*=[ \t]*\"([^\"]+)\"|\\.aliases[ \t]*=[^;]*", REG_EXTENDED);
    for (int i = 0; i < nf; i++) {
        if (!starts(files[i], "host/families/")) continue;
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", root, files[i]);
        char *src = ll_read_file(full, NULL);
        if (!src) continue;
        regmatch_t m[3];
        for (size_t off = 0; regexec(&re, src + off, 3, m, 0) == 0; off += (size_t)m[0].rm_eo) {
            if (m[2].rm_so >= 0) {
                char *s = ll_xmalloc((size_t)(m[2].rm_eo - m[2].rm_so) + 1);
                memcpy(s, src + off + m[2].rm_so, (size_t)(m[2].rm_eo - m[2].rm_so));
                s[m[2].rm_eo - m[2].rm_so] = 0;
                add_name(ns, s);
            } else { /* an alias list: every string up to the end of the initializer */
                for (const char *q = src + off + m[0].rm_so; q < src + off + m[0].rm_eo; q++) {
                    if (*q != '"') continue;
                    const char *e = strchr(q + 1, '"');
                    if (!e || e > src + off + m[0].rm_eo) break;
                    char *s = ll_xmalloc((size_t)(e - q));
                    memcpy(s, q + 1, (size_t)(e - q - 1));
                    s[e - q - 1] = 0;
                    add_name(ns, s);
                    q = e;
                }
            }
        }
        free(src);
    }
    regfree(&re);
}

/* Scans root/host; returns the violations the allow-list does not cover (and
 * the allow-list lines that matched nothing) as lines in *out. */
static int scan_tree(const char *root, const allow_line *allow, ll_sbuf *out) {
    char **files = NULL;
    int nf = 0;
    list_sources(root, "host", &files, &nf);
    qsort(files, (size_t)nf, sizeof *files, cmp_str);
    name_set ns = {0};
    family_names(root, files, nf, &ns);
    char lh[4096];
    snprintf(lh, sizeof lh, "%s/host/families/list.h", root);
    char *list_h = ll_read_file(lh, NULL);
    findings f = {0};
    for (int i = 0; i < nf; i++) scan_file(&f, root, files[i], &ns, list_h);
    /* filter through the allow-list */
    int nallow = 0;
    while (allow[nallow].rule) nallow++;
    int *used = calloc((size_t)nallow + 1, sizeof(int)), bad = 0;
    for (char *line = f.out.s; line && *line;) {
        char *nl = strchr(line, '\n');
        *nl = 0;
        int ok = 0;
        for (int a = 0; a < nallow && !ok; a++) {
            char tag[64];
            snprintf(tag, sizeof tag, "[%s]", allow[a].rule);
            size_t pl = strlen(allow[a].path);
            if (!strncmp(line, allow[a].path, pl) && line[pl] == ':' && strstr(line, tag) &&
                (!allow[a].what || strstr(line, allow[a].what))) {
                ok = 1;
                used[a] = 1;
            }
        }
        if (!ok) { ll_sb_printf(out, "%s\n", line); bad++; }
        line = nl + 1;
    }
    for (int a = 0; a < nallow; a++)
        if (!used[a]) {
            ll_sb_printf(out, "tests/test_rules.c: allow-list line [%s] %s '%s' matches nothing: delete it\n", allow[a].rule,
                         allow[a].path, allow[a].what ? allow[a].what : "");
            bad++;
        }
    free(used);
    free(f.out.s);
    free(list_h);
    for (int i = 0; i < nf; i++) free(files[i]);
    free(files);
    for (int i = 0; i < ns.n; i++) free(ns.names[i]);
    free(ns.names);
    return bad;
}

TEST(rules_hold) {
    ll_sbuf out = {0};
    int bad = scan_tree(".", ALLOW, &out);
    CHECK_MSG(bad == 0, "%d violation(s) of the house rules (docs/architecture.md):\n%s", bad, out.s ? out.s : "");
    free(out.s);
}

/* writes root/rel (folders created) */
static void put(const char *root, const char *rel, const char *text) {
    char full[4096];
    snprintf(full, sizeof full, "%s/%s", root, rel);
    char *sl = strrchr(full, '/');
    *sl = 0;
    ll_mkdirs(full);
    *sl = '/';
    ll_write_file_atomic(full, text, strlen(text));
}

static int count_rule(const char *out, const char *tag) {
    int n = 0;
    for (const char *p = out; p && (p = strstr(p, tag)); p++) n++;
    return n;
}

/* One planted violation of each rule, beside code that must pass (comments
 * and strings that only mention the names, a FILE * argument, a backend's own
 * folder, the CLI): each rule fires exactly once, on the planted line. */
TEST(rules_fire_on_planted) {
    char root[4096];
    snprintf(root, sizeof root, "%s/tree", ll_test_tmpdir());
    static const allow_line none[] = {{NULL, NULL, NULL, NULL}};
    /* the family registry of the planted tree */
    put(root, "host/families/list.h", "/* one family each */\nLL_FAMILY(alpha)\nLL_FAMILY(beta)\n");
    put(root, "host/families/alpha.c", "const ll_family ll_family_alpha = {\n    .model_type = \"alpha\",\n"
                                       "    .gguf_arch = \"alphagguf\",\n};\n");
    put(root, "host/families/beta.c", "const ll_family ll_family_beta = {.model_type = \"beta\"};\n"
                                      "const ll_family ll_family_beta2 = {.model_type = \"beta2\", .aliases = (const char *[]){\"b2\", NULL}};\n");
    /* allowed: */
    put(root, "host/backend/b.c", "#include <cuda_runtime.h>\n#ifdef LL_HAVE_CUDA\nint f(const char *s) { cudaFree(0); return strcmp(s, \"cuda\"); }\n#endif\n");
    put(root, "host/cli/c.c", "void g(void) { printf(\"x\"); fprintf(stderr, \"y\"); }\n");
    put(root, "host/report/r.c", "/* printf(\"no\"); LL_HAVE_CUDA cudaFree() strcmp(b, \"cuda\") */\n"
                                 "void r(FILE *f) { fprintf(f, \"printf(stderr) %s\", \"llama\"); ll_sb_printf(b, \"z\"); snprintf(s, 1, \"\"); }\n"
                                 "static const char *cuda_name = \"cuda\";\n");
    put(root, "host/io/ok.c", "/* the \"alpha\" family */\nconst char *k = \"alphabet\"; int ll_family_alphas;\n");
    /* planted: */
    put(root, "host/dist/d.c", "int a;\nvoid d(void) {\n    cudaMemcpy(x, y, 1, k);\n}\n");
    put(root, "host/dist/e.c", "#ifdef LL_HAVE_CUDA\n#endif\n");
    put(root, "host/dist/h.c", "#include <cublas_v2.h>\n");
    put(root, "host/pipeline/p.c", "int p(const char *b) {\n    return !strcmp(b, \"cpu\");\n}\n");
    put(root, "host/io/g.c", "int x;\nconst char *key = \"alphagguf.context_length\";\n");
    put(root, "host/io/i.c", "extern const ll_family ll_family_b2;\n");
    put(root, "host/probe/q.c", "void q(void) {\n    fprintf(stderr, \"oops\\n\");\n}\n");
    put(root, "host/probe/q2.c", "void q2(void) { puts(\"x\"); }\n");
    put(root, "host/cli/t.c", "#include <getopt.h>\n/* getopt_long( in a comment */\n");
    ll_sbuf body = {0};
    ll_sb_puts(&body, "static int\nlong_one(int x)\n{\n");
    for (int i = 0; i < MAX_FUNC_LINES - 3; i++) ll_sb_puts(&body, "    x++;\n");
    ll_sb_puts(&body, "}\n"); /* 151 lines from the declaration */
    ll_sb_puts(&body, "static const int table[] = {\n");
    for (int i = 0; i < 200; i++) ll_sb_puts(&body, "    1,\n");
    ll_sb_puts(&body, "};\nint short_one(void) {\n    return 0;\n}\n");
    put(root, "host/model/m.c", body.s);
    free(body.s);

    ll_sbuf out = {0};
    int bad = scan_tree(root, none, &out);
    const char *o = out.s ? out.s : "";
    CHECK_MSG(bad == 11, "%d findings, expected 11:\n%s", bad, o);
    CHECK_MSG(strstr(o, "host/cli/t.c:1: [getopt] getopt beside the shared option parser"), "%s", o);
    CHECK_MSG(strstr(o, "host/dist/d.c:3: [cuda] CUDA API call outside host/backend/ (cudaMemcpy)"), "%s", o);
    CHECK_MSG(strstr(o, "host/dist/e.c:1: [cuda] LL_HAVE_CUDA outside host/backend/"), "%s", o);
    CHECK_MSG(strstr(o, "host/dist/h.c:1: [cuda] CUDA header outside host/backend/ (cublas_v2.h)"), "%s", o);
    CHECK_MSG(strstr(o, "host/pipeline/p.c:2: [backend] comparison with a backend's name"), "%s", o);
    CHECK_MSG(strstr(o, "host/io/g.c:2: [family] family or architecture name in io/ or pipeline/ (alphagguf.context_length\")"), "%s", o);
    CHECK_MSG(strstr(o, "host/io/i.c:1: [family] family or architecture name in io/ or pipeline/ (ll_family_b2)"), "%s", o);
    CHECK_MSG(strstr(o, "host/probe/q.c:2: [print] printing in the library"), "%s", o);
    CHECK_MSG(strstr(o, "host/probe/q2.c:1: [print] printing in the library (puts"), "%s", o);
    CHECK_MSG(strstr(o, "host/families/beta.c:1: [onefamily] 2 families in one file (beta, beta2)"), "%s", o);
    CHECK_MSG(strstr(o, "host/model/m.c:1: [long] long_one is 151 lines (max 150)"), "%s", o);
    CHECK_INT(count_rule(o, "[long]"), 1); /* the 200-line table is not a function */
    free(out.s);

    /* list.h saying why (naming the file in a comment) clears onefamily; an
     * allow-list line clears its finding; a line that matches nothing fails */
    put(root, "host/families/list.h", "LL_FAMILY(alpha)\nLL_FAMILY(beta) /* beta.c also holds beta2: they share X */\nLL_FAMILY(beta2)\n");
    static const allow_line some[] = {{"long", "host/model/m.c", "long_one", "test"},
                                      {"print", "host/probe/nothing.c", NULL, "test"},
                                      {NULL, NULL, NULL, NULL}};
    out = (ll_sbuf){0};
    bad = scan_tree(root, some, &out);
    o = out.s ? out.s : "";
    CHECK_MSG(bad == 10, "%d findings, expected 10:\n%s", bad, o);
    CHECK_INT(count_rule(o, "[onefamily]"), 0);
    CHECK_INT(count_rule(o, "[long]"), 0);
    CHECK_MSG(strstr(o, "allow-list line [print] host/probe/nothing.c '' matches nothing"), "%s", o);
    free(out.s);
}
