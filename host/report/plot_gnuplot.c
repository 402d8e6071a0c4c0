/* Figures, part 2: the gnuplot driver.  A small figure description (panels
 * of series, plot_internal.h) rendered to NAME.csv + NAME.gp and run through
 * gnuplot, its outputs renamed into place once it succeeded. */
#include "report/plot.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core/ll_util.h"
#include "report/plot_internal.h"

extern char **environ;

/* ---- gnuplot and CSV text (into an ll_sbuf, core/ll_util.h) ---------- */

/* the length of the valid UTF-8 sequence at p, or 0 (a stray or cut byte,
 * an overlong form, a surrogate) */
size_t plt_utf8_len(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    if (u[0] < 0x80) return 1;
    int n = u[0] >= 0xF0 && u[0] <= 0xF4 ? 4 : u[0] >= 0xE0 ? 3 : u[0] >= 0xC2 && u[0] < 0xE0 ? 2 : 0;
    if (!n) return 0;
    for (int i = 1; i < n; i++)
        if ((u[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((u[0] == 0xE0 && u[1] < 0xA0) || (u[0] == 0xED && u[1] >= 0xA0))) return 0;
    if (n == 4 && ((u[0] == 0xF0 && u[1] < 0x90) || (u[0] == 0xF4 && u[1] >= 0x90))) return 0;
    return (size_t)n;
}
/* cuts s (in place) after its last whole UTF-8 character: a name cut by a
 * fixed-size buffer never ends inside a character */
void plt_utf8_trim(char *s) {
    size_t n = strlen(s), i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3) i--;
    if (i > 0 && (unsigned char)s[i - 1] >= 0xC0) {
        if (n - (i - 1) != plt_utf8_len(s + i - 1) || !plt_utf8_len(s + i - 1)) s[i - 1] = 0;
    }
}
/* the text with every invalid byte replaced by U+FFFD: SVG (XML), HTML and
 * CSV stay valid UTF-8 whatever a law.json holds */
void plt_sb_utf8(ll_sbuf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t k = plt_utf8_len(s + i);
        if (k == 0 || i + k > n) { ll_sb_add(b, "\xEF\xBF\xBD", 3); i++; continue; }
        ll_sb_add(b, s + i, k);
        i += k;
    }
}

/* a gnuplot string: single-quoted (no backquote command substitution, no
 * escapes; ' doubled); a newline becomes 'a'."\n".'b' (a line break in a
 * title); other control characters become spaces.  Double-quoted strings are
 * never used for text from results: gnuplot runs `...` inside them. */
static void sb_gpstr(ll_sbuf *b, const char *s) {
    ll_sb_puts(b, "'");
    for (const char *p = s; *p;) {
        size_t k = plt_utf8_len(p);
        if (*p == '\'') ll_sb_puts(b, "''");
        else if (*p == '\n') ll_sb_puts(b, "'.\"\\n\".'");
        else if ((unsigned char)*p < 0x20) ll_sb_puts(b, " ");
        else if (k == 0) { ll_sb_add(b, "\xEF\xBF\xBD", 3); p++; continue; }
        else { ll_sb_add(b, p, k); p += k; continue; }
        p++;
    }
    ll_sb_puts(b, "'");
}
/* a CSV field (RFC 4180 quoting when needed) */
static void sb_csv(ll_sbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) { plt_sb_utf8(b, s, strlen(s)); return; }
    ll_sb_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"') ll_sb_puts(b, "\"\"");
        else {
            const char *q = p;
            while (q[1] && q[1] != '"') q++;
            plt_sb_utf8(b, p, (size_t)(q - p + 1));
            p = q;
        }
    }
    ll_sb_puts(b, "\"");
}

/* ---- options ------------------------------------------------------------ */

static int parse_words(const char *s, const char *const *words, int nw, unsigned *out, const char *what) {
    unsigned m = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int found = 0;
        if (!strcmp(t, "all")) { m = (1u << nw) - 1; found = 1; }
        for (int i = 0; i < nw && !found; i++)
            if (!strcmp(t, words[i])) { m |= 1u << i; found = 1; }
        if (!found) {
            char list[256], dym[96] = "";
            size_t k = 0;
            for (int i = 0; i < nw; i++) k += (size_t)snprintf(list + k, sizeof list - k, "%s, ", words[i]);
            snprintf(list + k, sizeof list - k, "all");
            const char *m = ll_did_you_mean(t, words, (size_t)nw);
            if (m) snprintf(dym, sizeof dym, " (did you mean %s?)", m);
            ll_set_error("--%s: '%s' is not one of %s%s", what, t, list, dym);
            return -1;
        }
    }
    if (!m) { ll_set_error("--%s: empty list", what); return -1; }
    *out = m;
    return 0;
}
static const char *const FMT_WORDS[] = {"png", "svg", "pdf", "eps"};
static const char *const FMT_TERM[] = {"pngcairo", "svg", "pdfcairo", "epscairo"};
static const char *const FIG_WORDS[] = {"main", "scaling", "steps", "flow", "measures", "throughput"};
int ll_plot_parse_formats(const char *s, unsigned *out) { return parse_words(s, FMT_WORDS, 4, out, "format"); }
int ll_plot_parse_figures(const char *s, unsigned *out) { return parse_words(s, FIG_WORDS, 6, out, "figures"); }

/* ---- running gnuplot -------------------------------------------------- */

static const char *gnuplot_prog(void) {
    const char *g = getenv("LAYERLAW_GNUPLOT");
    return g && *g ? g : "gnuplot";
}

/* Runs `gnuplot script` in dir (no shell), its output to errbuf. */
static int spawn_gnuplot(const char *dir, const char *script, char *err, size_t errcap) {
    char logp[4200];
    snprintf(logp, sizeof logp, "%s/.gnuplot.log.XXXXXX", dir);
    int lfd = mkstemp(logp);
    if (lfd < 0) { snprintf(err, errcap, "cannot create a log file in %s", dir); return -1; }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, lfd, 1);
    posix_spawn_file_actions_adddup2(&fa, lfd, 2);
    posix_spawn_file_actions_addclose(&fa, lfd);
    if (dir) posix_spawn_file_actions_addchdir_np(&fa, dir);
    char *argv[] = {(char *)gnuplot_prog(), (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    if (rc == 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    }
    /* the first lines gnuplot printed */
    err[0] = 0;
    lseek(lfd, 0, SEEK_SET);
    ssize_t k = read(lfd, err, errcap - 1);
    err[k > 0 ? k : 0] = 0;
    for (char *p = err; *p; p++) if (*p == '\n' && p[1]) *p = ' ';
    close(lfd);
    unlink(logp);
    if (rc != 0) { snprintf(err, errcap, "cannot run %s: %s", argv[0], strerror(rc)); return -1; }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    return 0;
}

int ll_gnuplot_available(void) {
    static int cached = -1;
    if (cached >= 0) return cached;
    char tmpd[] = "/tmp/layerlaw-gp.XXXXXX";
    if (!mkdtemp(tmpd)) return cached = 0;
    char sp[256], err[512];
    snprintf(sp, sizeof sp, "%s/probe.gp", tmpd);
    FILE *f = fopen(sp, "w");
    int ok = 0;
    if (f) {
        /* the cairo terminal must exist: 'set terminal' of an unknown one fails */
        fputs("set terminal pngcairo\nset terminal svg\n", f);
        fclose(f);
        ok = spawn_gnuplot(tmpd, "probe.gp", err, sizeof err) == 0;
        unlink(sp);
    }
    rmdir(tmpd);
    return cached = ok;
}

static const char *const PAL[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"};
static const int PT[] = {7, 5, 9, 11, 13, 4, 6, 8};
static const int DT[] = {1, 2, 4, 5, 3, 1, 2, 4};
#define NPAL 8

fpanel *plt_fig_panel(figure *f) {
    f->p = ll_xrealloc(f->p, (size_t)(f->np + 1) * sizeof(fpanel *));
    fpanel *p = ll_xcalloc(1, sizeof *p);
    f->p[f->np++] = p;
    return p;
}
fseries *plt_panel_series(fpanel *p, int kind, int style, const char *key) {
    p->s = ll_xrealloc(p->s, (size_t)(p->ns + 1) * sizeof(fseries *));
    fseries *s = ll_xcalloc(1, sizeof *s);
    p->s[p->ns++] = s;
    s->kind = kind;
    s->style = style;
    snprintf(s->key, sizeof s->key, "%s", key ? key : "");
    return s;
}
/* only values gnuplot can draw and range: finite, magnitude within
 * [1e-300, 1e300] (or 0); anything else (a PR near DBL_MAX or a near-denormal
 * one) is left out of the figure and its CSV */
static int drawable(double v) { return isfinite(v) && (v == 0 || (fabs(v) >= 1e-300 && fabs(v) <= 1e300)); }
void plt_series_add_err(fseries *s, double x, double y, double dy) {
    if (!drawable(x) || !drawable(y)) return;
    if (!drawable(dy)) dy = NAN;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->x = ll_xrealloc(s->x, (size_t)s->cap * sizeof(double));
        s->y = ll_xrealloc(s->y, (size_t)s->cap * sizeof(double));
        s->dy = ll_xrealloc(s->dy, (size_t)s->cap * sizeof(double));
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->dy[s->n] = dy;
    s->n++;
}
void plt_series_add(fseries *s, double x, double y) { plt_series_add_err(s, x, y, NAN); }
void plt_fig_free(figure *f) {
    for (int i = 0; i < f->np; i++) {
        for (int j = 0; j < f->p[i]->ns; j++) {
            free(f->p[i]->s[j]->x); free(f->p[i]->s[j]->y); free(f->p[i]->s[j]->dy); free(f->p[i]->s[j]);
        }
        free(f->p[i]->s);
        free(f->p[i]);
    }
    free(f->p);
    memset(f, 0, sizeof *f);
}
/* 1 when the panel draws something */
static int panel_has_data(const fpanel *p) {
    if (p->empty) return 0;
    for (int i = 0; i < p->ns; i++)
        if (p->s[i]->n) return 1;
    return 0;
}

/* nice step for about n ticks over span (> 0) */
static double nice_step(double span, int n) {
    double raw = span / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
}

/* the decimals v needs (0..6) to be printed exactly to 3 significant digits */
static int decimals_needed(double v) {
    if (v == 0) return 0;
    double r = v;
    for (int d = 0; d < 6; d++) {
        char b[64];
        snprintf(b, sizeof b, "%.*f", d, r);
        if (fabs(strtod(b, NULL) - r) <= 5e-4 * fabs(r)) return d;
    }
    return 6;
}
/* a UTF-8 superscript of an integer: 10⁻³ */
static void superscript(char *buf, size_t cap, int e) {
    static const char *const sup[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
    char digits[16];
    snprintf(digits, sizeof digits, "%d", e < 0 ? -e : e);
    size_t k = (size_t)snprintf(buf, cap, "10%s", e < 0 ? "⁻" : "");
    for (const char *d = digits; *d && k < cap; d++) k += (size_t)snprintf(buf + k, cap - k, "%s", sup[*d - '0']);
}
/* the tick labels of one axis, in one format: SI prefixes (35K, 1.5M) for
 * sizes and steps, powers of ten (10⁻³) across many decades, else fixed
 * decimals shared by every tick (0.80 0.85 0.90, never 0.8 0.85 0.9) */
static void tick_cmds(ll_sbuf *b, char ax, const double *t, int n, int si) {
    static const char *pre[] = {"", "K", "M", "B", "T"};
    int pow10 = 0, dec = 0;
    double mn = INFINITY, mx = 0;
    for (int i = 0; i < n; i++) if (t[i] > 0) { mn = LL_MIN(mn, t[i]); mx = LL_MAX(mx, t[i]); }
    if (!si && n > 1 && mn > 0 && mx / mn >= 1e4) {
        pow10 = 1;
        for (int i = 0; i < n; i++) pow10 &= fabs(log10(t[i]) - round(log10(t[i]))) < 1e-9;
    }
    for (int i = 0; i < n && !pow10; i++) {
        double v = t[i];
        int k = 0;
        while (si && fabs(v) >= 1000 && k < 4) { v /= 1000; k++; }
        dec = LL_MAX(dec, decimals_needed(v));
    }
    ll_sb_printf(b, "set %ctics (", ax);
    for (int i = 0; i < n; i++) {
        char lab[64];
        if (pow10) superscript(lab, sizeof lab, (int)lround(log10(t[i])));
        else {
            double v = t[i];
            int k = 0;
            while (si && fabs(v) >= 1000 && k < 4) { v /= 1000; k++; }
            snprintf(lab, sizeof lab, "%.*f%s", dec, v, pre[k]);
        }
        ll_sb_printf(b, "%s'%s' %.10g", i ? ", " : "", lab, t[i]);
    }
    ll_sb_puts(b, ")\n");
}

/* range and ticks.  gnuplot labels a log axis only at powers of ten, which
 * leaves a range inside one decade (PR 0.83..0.91) without labels, so the
 * ticks of a log axis are written out: 1-2-5 steps when they give 3 or
 * more, else linear nice steps.  Every value here is drawable (plt_series_add),
 * so logarithms and spans stay finite. */
static void axis_cmds(ll_sbuf *b, const fpanel *p, char ax) {
    double lo = INFINITY, hi = -INFINITY;
    int logs = ax == 'x' ? p->logx : p->logy, si = ax == 'x' ? p->si_x : p->si_y;
    for (int i = 0; i < p->ns; i++)
        for (int j = 0; j < p->s[i]->n; j++) {
            double v = ax == 'x' ? p->s[i]->x[j] : p->s[i]->y[j];
            if (!isfinite(v) || (logs && !(v > 0))) continue;
            lo = LL_MIN(lo, v);
            hi = LL_MAX(hi, v);
            /* error bars inside the range too (the low end where a log axis can show it) */
            double dy = ax == 'y' && p->s[i]->kind == K_ERR ? p->s[i]->dy[j] : NAN;
            if (isfinite(dy) && dy > 0) {
                hi = LL_MAX(hi, v + dy);
                if (!logs || v - dy > 0) lo = LL_MIN(lo, v - dy);
            }
        }
    if (!(lo <= hi)) return;
    double t[128];
    int nt = 0;
    if (logs) {
        ll_sb_printf(b, "set logscale %c 10\n", ax);
        double l0 = log10(lo), l1 = log10(hi), pad = LL_MAX((l1 - l0) * 0.06, 0.01);
        double a = pow(10, l0 - pad), z = pow(10, l1 + pad);
        ll_sb_printf(b, "set %crange [%.10g:%.10g]\n", ax, a, z);
        double t125[128];
        int n125 = 0;
        int e0 = (int)floor(l0 - pad), e1 = (int)ceil(l1 + pad);
        for (int e = e0; e <= e1 && n125 < 120; e++)
            for (int m = 0; m < 3; m++) {
                double v = (m == 0 ? 1 : m == 1 ? 2 : 5) * pow(10, e);
                if (v >= a * (1 - 1e-12) && v <= z * (1 + 1e-12)) t125[n125++] = v;
            }
        int ndec = (int)floor(l1 + pad) - (int)ceil(l0 - pad) + 1;
        if (ndec >= 4) { /* many decades: powers of ten, at most ~10 of them */
            int every = (ndec + 9) / 10;
            for (int i = 0; i < n125 && nt < 120; i++) {
                double le = log10(t125[i]);
                if (fabs(le - round(le)) < 1e-9 && ((long)round(le) % every) == 0) t[nt++] = t125[i];
            }
        } else if (n125 >= 3) {
            for (int i = 0; i < n125; i++) t[nt++] = t125[i];
        } else {
            double st = nice_step(z - a, 6);
            for (double v = ceil(a / st) * st; v <= z * (1 + 1e-12) && nt < 120; v += st)
                if (v > 0) t[nt++] = v;
        }
        if (nt) tick_cmds(b, ax, t, nt, si);
        ll_sb_printf(b, "set m%ctics default\n", ax);
    } else if (ax == 'x' && (p->int_x || p->boxes)) {
        ll_sb_printf(b, "set xrange [%.10g:%.10g]\n", lo - 0.5, hi + 0.5);
        double st = hi - lo <= 16 ? 1 : nice_step(hi - lo, 8);
        ll_sb_printf(b, "set xtics %.10g\nset format x '%%.0f'\n", LL_MAX(st, 1));
    } else {
        double pad = (hi - lo) * 0.06;
        if (pad == 0) pad = fabs(hi) * 0.05 + 0.05;
        double a = lo - pad, z = hi + pad;
        if (p->boxes && ax == 'y') { a = 0; z = hi * 1.08; }
        ll_sb_printf(b, "set %crange [%.10g:%.10g]\n", ax, a, z);
        /* ticks at a nice step, labelled with as many decimals as the step needs */
        double st = nice_step(z - a, 5);
        if (si) {
            for (double v = ceil(a / st) * st; v <= z * (1 + 1e-12) && nt < 120; v += st) t[nt++] = fabs(v) < st * 1e-9 ? 0 : v;
            tick_cmds(b, ax, t, nt, si);
        } else {
            int dec = LL_MAX(0, (int)-floor(log10(st) + 1e-9));
            ll_sb_printf(b, "set %ctics %.10g\nset format %c '%%.%df'\n", ax, st, ax, dec);
        }
    }
}

static void panel_body(ll_sbuf *b, const figure *f, int pi) {
    const fpanel *p = f->p[pi];
    if (!panel_has_data(p)) { ll_sb_puts(b, "set multiplot next\n"); return; }
    ll_sb_puts(b, "reset\nset encoding utf8\nset border 3 lw 1\nset tics nomirror out\nset grid lc rgb '#e0e0e0' lw 1\n");
    /* with a key, the panel title heads the key (both above the plot) */
    ll_sb_puts(b, p->key ? "unset title\n" : "set title ");
    if (!p->key) sb_gpstr(b, p->title);
    ll_sb_puts(b, "\nset xlabel ");
    if (p->note[0]) {
        char xl[600];
        snprintf(xl, sizeof xl, "%s\n%s", p->xlabel, p->note);
        sb_gpstr(b, xl);
        ll_sb_puts(b, " textcolor rgb '#A00000'");
    } else {
        sb_gpstr(b, p->xlabel);
    }
    ll_sb_puts(b, "\nset ylabel ");
    sb_gpstr(b, p->ylabel);
    ll_sb_puts(b, "\n");
    axis_cmds(b, p, 'x');
    axis_cmds(b, p, 'y');
    /* the key above the plot, under its title: it never covers data and,
     * unlike a key below, never collides with the x label in a multiplot */
    if (p->key) {
        ll_sb_puts(b, "set key tmargin center horizontal Left reverse samplen 2.5 width 1 font ',9' title ");
        sb_gpstr(b, p->title);
        ll_sb_puts(b, " font ',10'\n");
    }
    else ll_sb_puts(b, "set key off\n");
    if (p->boxes) ll_sb_puts(b, "set boxwidth 0.7\n");
    ll_sb_puts(b, "plot ");
    int first = 1;
    for (int i = 0; i < p->ns; i++) {
        const fseries *s = p->s[i];
        if (!s->n) continue; /* no data, no legend entry */
        int st = s->style % NPAL;
        const char *rgb = s->rgb[0] ? s->rgb : PAL[st];
        int pt = s->pt ? s->pt : PT[st];
        ll_sb_printf(b, "%s$d%d_%d using 1:2%s ", first ? "" : ", \\\n     ", pi, i, s->kind == K_ERR ? ":3" : "");
        first = 0;
        switch (s->kind) {
        case K_LP: ll_sb_printf(b, "with linespoints lw 1.5 dt %d pt %d ps 0.9 lc rgb '%s'", DT[st], pt, rgb); break;
        case K_ERR: ll_sb_printf(b, "with yerrorlines lw 1.5 dt %d pt %d ps 0.9 lc rgb '%s'", DT[st], pt, rgb); break;
        case K_PTS: ll_sb_printf(b, "with points pt %d ps 1.1 lc rgb '%s'", pt, rgb); break;
        case K_LINE: ll_sb_printf(b, "with lines lw 2 dt %d lc rgb '%s'", DT[st], rgb); break;
        case K_BOX:
            if (s->fill) ll_sb_printf(b, "with boxes fs pattern 4 border lc rgb '#000000' lc rgb '%s'", rgb);
            else ll_sb_printf(b, "with boxes fs solid 0.85 border lc rgb '#000000' lc rgb '%s'", rgb);
            break;
        }
        if (s->key[0] && p->key) { ll_sb_puts(b, " title "); sb_gpstr(b, s->key); }
        else ll_sb_puts(b, " notitle");
    }
    ll_sb_puts(b, "\n");
}

/* the script; out_prefix goes before every output file name */
static void fig_script(ll_sbuf *b, const figure *f, unsigned formats, const char *out_prefix) {
    ll_sb_printf(b, "# layerlaw figure '%s' (the same numbers are in %s%s.csv); run: gnuplot %s.gp\n", f->name, f->name,
              f->no_csv ? "_points" : "", f->name);
    ll_sb_puts(b, "set encoding utf8\n");
    for (int pi = 0; pi < f->np; pi++)
        for (int i = 0; i < f->p[pi]->ns; i++) {
            const fseries *s = f->p[pi]->s[i];
            if (!s->n) continue;
            ll_sb_printf(b, "$d%d_%d << EOD\n", pi, i);
            for (int j = 0; j < s->n; j++) {
                if (s->kind == K_ERR) ll_sb_printf(b, "%.17g %.17g %.17g\n", s->x[j], s->y[j], isfinite(s->dy[j]) ? s->dy[j] : 0.0);
                else ll_sb_printf(b, "%.17g %.17g\n", s->x[j], s->y[j]);
            }
            ll_sb_puts(b, "EOD\n");
        }
    int rows = (f->np + f->ncols - 1) / f->ncols;
    int W = LL_MAX(f->pw * f->ncols, 800), H = f->ph * rows + 40;
    /* a key above the first row's panels needs a line under the figure title */
    int keyed = 0;
    for (int pi = 0; pi < f->np && pi < f->ncols; pi++) keyed |= f->p[pi]->key && panel_has_data(f->p[pi]);
    char title[512];
    snprintf(title, sizeof title, "%s%s", f->title, keyed ? "\n" : "");
    for (int k = 0; k < 4; k++) {
        if (!(formats & (1u << k))) continue;
        if (k < 2) ll_sb_printf(b, "set terminal %s size %d,%d font 'DejaVu Sans,10' noenhanced background rgb 'white'\n",
                                FMT_TERM[k], W, H);
        else ll_sb_printf(b, "set terminal %s size %.2fin,%.2fin font 'DejaVu Sans,7' noenhanced\n", FMT_TERM[k], W / 100.0, H / 100.0);
        ll_sb_printf(b, "set output '%s%s.%s'\n", out_prefix, f->name, FMT_WORDS[k]);
        ll_sb_printf(b, "set multiplot layout %d,%d title ", rows, f->ncols);
        sb_gpstr(b, title);
        ll_sb_puts(b, " font ',12'\n");
        for (int pi = 0; pi < f->np; pi++) panel_body(b, f, pi);
        ll_sb_puts(b, "unset multiplot\nunset output\n");
    }
}

static void fig_csv(ll_sbuf *b, const figure *f) {
    ll_sb_puts(b, "figure,panel,panel_title,series,x_label,y_label,x,y,y_err\n");
    for (int pi = 0; pi < f->np; pi++) {
        const fpanel *p = f->p[pi];
        for (int i = 0; i < p->ns; i++) {
            const fseries *s = p->s[i];
            for (int j = 0; j < s->n; j++) {
                ll_sb_printf(b, "%s,%d,", f->name, pi);
                sb_csv(b, p->title);
                ll_sb_puts(b, ",");
                sb_csv(b, s->key);
                ll_sb_puts(b, ",");
                sb_csv(b, p->xlabel);
                ll_sb_puts(b, ",");
                sb_csv(b, p->ylabel);
                ll_sb_printf(b, ",%.17g,%.17g,", s->x[j], s->y[j]);
                if (isfinite(s->dy[j])) ll_sb_printf(b, "%.17g", s->dy[j]);
                ll_sb_puts(b, "\n");
            }
        }
    }
}

/* ---- the pending set: every output under a temporary name until all exist */

static void pending_add(plt_pending *pd, const char *tmp, const char *dst) {
    pd->tmp = ll_xrealloc(pd->tmp, (size_t)(pd->n + 1) * sizeof(char *));
    pd->dst = ll_xrealloc(pd->dst, (size_t)(pd->n + 1) * sizeof(char *));
    pd->tmp[pd->n] = ll_xstrdup(tmp);
    pd->dst[pd->n++] = ll_xstrdup(dst);
}
static void tmp_name(char *buf, size_t cap, const char *outdir, const char *name) {
    char nm[512];
    snprintf(nm, sizeof nm, ".tmp%ld.%s", (long)getpid(), name);
    ll_path_join(buf, cap, outdir, nm);
}
int plt_pending_write(plt_pending *pd, const char *outdir, const char *name, const void *data, size_t n) {
    char tmp[4600], dst[4600];
    tmp_name(tmp, sizeof tmp, outdir, name);
    ll_path_join(dst, sizeof dst, outdir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) { ll_set_error("%s: cannot create: %s", tmp, strerror(errno)); return -1; }
    pending_add(pd, tmp, dst);
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { int e = errno; close(fd); ll_set_error("%s: write error: %s", dst, strerror(w < 0 ? e : ENOSPC)); return -1; }
        p += w;
        n -= (size_t)w;
    }
    if (close(fd) != 0) { ll_set_error("%s: write error: %s", dst, strerror(errno)); return -1; }
    return 0;
}
int plt_pending_commit(plt_pending *pd) {
    int rc = 0;
    for (int i = 0; i < pd->n; i++) {
        if (rc == 0 && rename(pd->tmp[i], pd->dst[i]) != 0) {
            ll_set_error("%s: cannot rename: %s", pd->dst[i], strerror(errno));
            rc = -1;
        }
        if (rc != 0) unlink(pd->tmp[i]);
        free(pd->tmp[i]);
        free(pd->dst[i]);
    }
    free(pd->tmp);
    free(pd->dst);
    memset(pd, 0, sizeof *pd);
    return rc;
}
void plt_pending_abort(plt_pending *pd) {
    for (int i = 0; i < pd->n; i++) {
        unlink(pd->tmp[i]);
        free(pd->tmp[i]);
        free(pd->dst[i]);
    }
    free(pd->tmp);
    free(pd->dst);
    memset(pd, 0, sizeof *pd);
}

/* Writes NAME.csv, NAME.gp and the formats, pending. */
int plt_fig_render(const figure *f, const char *outdir, unsigned formats, plt_pending *pend) {
    char path[4600], tmp_prefix[128], err[2048];
    ll_sbuf csv = {0}, gp = {0}, run = {0};
    int rc = -1;
    fig_csv(&csv, f);
    fig_script(&gp, f, formats, "");
    snprintf(tmp_prefix, sizeof tmp_prefix, ".tmp%ld.", (long)getpid());
    fig_script(&run, f, formats, tmp_prefix);
    char run_name[256];
    snprintf(run_name, sizeof run_name, ".tmp%ld.%s.run.gp", (long)getpid(), f->name);
    ll_path_join(path, sizeof path, outdir, run_name);
    if (ll_write_file_atomic(path, run.s, run.n) != 0) goto out;
    int grc = spawn_gnuplot(outdir, run_name, err, sizeof err);
    unlink(path);
    for (int k = 0; k < 4; k++) {
        if (!(formats & (1u << k))) continue;
        char nm[256], t[4600], d[4600];
        snprintf(nm, sizeof nm, "%s.%s", f->name, FMT_WORDS[k]);
        tmp_name(t, sizeof t, outdir, nm);
        if (grc != 0) { unlink(t); continue; }
        pending_add(pend, t, ll_path_join(d, sizeof d, outdir, nm));
    }
    if (grc != 0) {
        ll_set_error("%s/%s: gnuplot failed: %.300s", outdir, f->name, err[0] ? err : "(no message)");
        goto out;
    }
    snprintf(run_name, sizeof run_name, "%s.csv", f->name);
    if (!f->no_csv && plt_pending_write(pend, outdir, run_name, csv.s, csv.n) != 0) goto out;
    snprintf(run_name, sizeof run_name, "%s.gp", f->name);
    if (plt_pending_write(pend, outdir, run_name, gp.s, gp.n) != 0) goto out;
    rc = 0;
out:
    free(csv.s);
    free(gp.s);
    free(run.s);
    return rc;
}
