#include "core/ll_util.h"
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char g_err[1024];

void ll_set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    /* one line: fold any newline */
    for (char *c = g_err; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
}

const char *ll_last_error(void) { return g_err[0] ? g_err : "unknown error"; }

static ll_warn_fn g_warn_fn, g_note_fn;
static void *g_warn_ud, *g_note_ud;

ll_warn_fn ll_set_warn_handler(ll_warn_fn fn, void *ud) {
    ll_warn_fn old = g_warn_fn;
    g_warn_fn = fn;
    g_warn_ud = ud;
    return old;
}

ll_warn_fn ll_set_note_handler(ll_warn_fn fn, void *ud) {
    ll_warn_fn old = g_note_fn;
    g_note_fn = fn;
    g_note_ud = ud;
    return old;
}

/* one line (newlines folded) to fn */
static void say(ll_warn_fn fn, void *ud, const char *fmt, va_list ap) {
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    for (char *c = line; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    fn(line, ud);
}

void ll_warn(const char *fmt, ...) {
    if (!g_warn_fn) return;
    va_list ap;
    va_start(ap, fmt);
    say(g_warn_fn, g_warn_ud, fmt, ap);
    va_end(ap);
}

void ll_note(const char *fmt, ...) {
    if (!g_note_fn) return;
    va_list ap;
    va_start(ap, fmt);
    say(g_note_fn, g_note_ud, fmt, ap);
    va_end(ap);
}

static void oom(size_t n) {
    fprintf(stderr, "layerlaw: out of memory (asked for %zu bytes)\n", n);
    exit(1);
}
void *ll_xmalloc(size_t n) { void *p = malloc(n ? n : 1); if (!p) oom(n); return p; }
void *ll_xcalloc(size_t n, size_t sz) { void *p = calloc(n ? n : 1, sz ? sz : 1); if (!p) oom(n * sz); return p; }
void *ll_xrealloc(void *q, size_t n) { void *p = realloc(q, n ? n : 1); if (!p) oom(n); return p; }
char *ll_xstrdup(const char *s) { size_t n = strlen(s) + 1; char *p = ll_xmalloc(n); memcpy(p, s, n); return p; }
void *ll_xmalloc_aligned(size_t n) {
    void *p = NULL;
    size_t r = (n + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, r ? r : 64) != 0) oom(n);
    return p;
}

int ll_mul_size(size_t a, size_t b, size_t *out) {
    if (a && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}
int ll_mul3_size(size_t a, size_t b, size_t c, size_t *out) {
    size_t t;
    if (ll_mul_size(a, b, &t)) return -1;
    return ll_mul_size(t, c, out);
}

double ll_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *ll_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { ll_set_error("%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) { ll_set_error("%s: cannot stat: %s", path, strerror(errno)); fclose(f); return NULL; }
    if (S_ISDIR(st.st_mode)) { ll_set_error("%s: is a directory, not a file", path); fclose(f); return NULL; }
    /* a regular file's size is known; anything else (a pipe) is read to its
     * end in growing pieces: never an allocation of a size nobody read */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536, n = 0;
    char *buf = ll_xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) { cap *= 2; buf = ll_xrealloc(buf, cap); }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) { ll_set_error("%s: read error: %s", path, strerror(errno)); free(buf); fclose(f); return NULL; }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* An output is only ever put in place of a regular file (or nothing): a
 * FIFO, a device, a socket, a folder or a symbolic link to nothing is left
 * alone and refused.  0 / -1 + error naming path. */
int ll_output_replaceable(const char *path) {
    struct stat st, lst;
    if (stat(path, &st) != 0) {
        if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
            ll_set_error("%s: a symbolic link to nothing: not replaced", path);
            return -1;
        }
        return 0;
    }
    if (S_ISREG(st.st_mode)) return 0;
    ll_set_error("%s: exists and is not a regular file (%s): not replaced", path, ll_file_kind_name(st.st_mode));
    return -1;
}

const char *ll_file_kind_name(unsigned mode) {
    return S_ISDIR(mode) ? "a folder" : S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) || S_ISBLK(mode) ? "a device"
           : S_ISSOCK(mode) ? "a socket" : "a special file";
}

FILE *ll_open_tmp(const char *path, char *tmp, size_t cap) {
    if (ll_output_replaceable(path) != 0) return NULL;
    snprintf(tmp, cap, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) { ll_set_error("%s: cannot create: %s", path, strerror(errno)); return NULL; }
    fchmod(fd, 0644);
    FILE *f = fdopen(fd, "wb");
    if (!f) { close(fd); unlink(tmp); ll_set_error("%s: cannot open", path); return NULL; }
    ll_tmp_remember(tmp);
    return f;
}

int ll_commit_tmp(FILE *f, const char *tmp, const char *path) {
    ll_tmp_forget(tmp);
    int bad = ferror(f) != 0;
    if (fflush(f) != 0) bad = 1;
    if (!bad && fsync(fileno(f)) != 0 && errno != EINVAL) bad = 1;
    if (fclose(f) != 0) bad = 1;
    if (bad) { unlink(tmp); ll_set_error("%s: write error", path); return -1; }
    if (ll_output_replaceable(path) != 0) { unlink(tmp); return -1; } /* replaced by a FIFO meanwhile? */
    if (rename(tmp, path) != 0) {
        ll_set_error("%s: cannot rename: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

void ll_abort_tmp(FILE *f, const char *tmp) {
    if (f) fclose(f);
    unlink(tmp);
    ll_tmp_forget(tmp);
}

/* ---- leftovers ---- */
#define LL_TMP_SLOTS 32
static char g_tmp_names[LL_TMP_SLOTS][4200];
static volatile sig_atomic_t g_tmp_used[LL_TMP_SLOTS];
static int g_tmp_handlers;

static void tmp_on_signal(int sig) {
    for (int i = 0; i < LL_TMP_SLOTS; i++)
        if (g_tmp_used[i]) unlink(g_tmp_names[i]); /* async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

void ll_tmp_remember(const char *tmp) {
    if (!g_tmp_handlers) {
        g_tmp_handlers = 1;
        static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
        for (int k = 0; k < 3; k++) {
            struct sigaction sa, old;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = tmp_on_signal;
            sigemptyset(&sa.sa_mask);
            /* leave a signal the process ignores (nohup) ignored */
            if (sigaction(sigs[k], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
            sigaction(sigs[k], &sa, NULL);
        }
    }
    for (int i = 0; i < LL_TMP_SLOTS; i++)
        if (!g_tmp_used[i]) {
            snprintf(g_tmp_names[i], sizeof g_tmp_names[i], "%s", tmp);
            g_tmp_used[i] = 1;
            return;
        }
}

void ll_tmp_forget(const char *tmp) {
    for (int i = 0; i < LL_TMP_SLOTS; i++)
        if (g_tmp_used[i] && !strcmp(g_tmp_names[i], tmp)) { g_tmp_used[i] = 0; return; }
}

static void dir_of(const char *path, char *dir, size_t cap) {
    snprintf(dir, cap, "%s", path);
    char *sl = strrchr(dir, '/');
    if (!sl) snprintf(dir, cap, ".");
    else if (sl == dir) dir[1] = 0;
    else *sl = 0;
}

int ll_private_open(ll_private_file *pf, const char *path) {
    memset(pf, 0, sizeof *pf);
    pf->fd = -1;
    snprintf(pf->path, sizeof pf->path, "%s", path);
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    if (ll_mkdirs(dir) != 0) return -1;
    if (ll_output_replaceable(path) != 0) return -1;
#ifdef O_TMPFILE
    pf->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
    if (pf->fd >= 0) { pf->anonymous = 1; return 0; }
#endif
    snprintf(pf->tmp, sizeof pf->tmp, "%s.tmp.XXXXXX", path);
    pf->fd = mkstemp(pf->tmp);
    if (pf->fd < 0) { ll_set_error("%s: cannot create: %s", path, strerror(errno)); return -1; }
    fchmod(pf->fd, 0644);
    ll_tmp_remember(pf->tmp);
    return 0;
}

int ll_private_publish(ll_private_file *pf) {
    if (pf->fd < 0) { ll_set_error("%s: not open", pf->path); return -1; }
    if (fsync(pf->fd) != 0 && errno != EINVAL) {
        ll_set_error("%s: write error (fsync): %s", pf->path, strerror(errno));
        ll_private_discard(pf);
        return -1;
    }
    if (pf->anonymous) {
        /* a name for the nameless file, then rename over the target */
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", pf->fd);
        for (int attempt = 0;; attempt++) {
            snprintf(pf->tmp, sizeof pf->tmp, "%s.tmp.%ld.%d", pf->path, (long)getpid(), attempt);
            if (linkat(AT_FDCWD, proc, AT_FDCWD, pf->tmp, AT_SYMLINK_FOLLOW) == 0) break;
            if (errno != EEXIST || attempt > 100) {
                ll_set_error("%s: cannot link the finished file: %s", pf->path, strerror(errno));
                ll_private_discard(pf);
                return -1;
            }
        }
    }
    close(pf->fd);
    pf->fd = -1;
    if (ll_output_replaceable(pf->path) != 0) { unlink(pf->tmp); ll_tmp_forget(pf->tmp); return -1; }
    if (rename(pf->tmp, pf->path) != 0) {
        ll_set_error("%s: cannot rename: %s", pf->path, strerror(errno));
        unlink(pf->tmp);
        ll_tmp_forget(pf->tmp);
        return -1;
    }
    ll_tmp_forget(pf->tmp);
    return 0;
}

void ll_private_discard(ll_private_file *pf) {
    if (pf->fd >= 0) close(pf->fd);
    pf->fd = -1;
    if (!pf->anonymous && pf->tmp[0]) { unlink(pf->tmp); ll_tmp_forget(pf->tmp); }
    pf->tmp[0] = 0;
}

int ll_check_output_path(const char *path, const char *what) {
    struct stat st;
    if (!path || !*path) { ll_set_error("%s: an empty path", what); return -1; }
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) { ll_set_error("%s: is a folder, not a file (%s)", path, what); return -1; }
    }
    if (ll_output_replaceable(path) != 0) {
        char m[1024];
        snprintf(m, sizeof m, "%s", ll_last_error());
        ll_set_error("%s (%s)", m, what);
        return -1;
    }
    char buf[4096];
    dir_of(path, buf, sizeof buf);
    for (;;) {
        if (stat(buf, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) { ll_set_error("%s: cannot create it: %s is not a folder (%s)", path, buf, what); return -1; }
            if (access(buf, W_OK | X_OK) != 0) { ll_set_error("%s: cannot create it: %s is not writable (%s)", path, buf, what); return -1; }
            return 0;
        }
        if (!strcmp(buf, ".") || !strcmp(buf, "/")) { ll_set_error("%s: cannot create it (%s)", path, what); return -1; }
        char up[4096];
        dir_of(buf, up, sizeof up);
        snprintf(buf, sizeof buf, "%s", up);
    }
}

int ll_write_file_atomic(const char *path, const void *data, size_t n) {
    char tmp[4096];
    FILE *f = ll_open_tmp(path, tmp, sizeof tmp);
    if (!f) return -1;
    if (n && fwrite(data, 1, n, f) != n) { ll_abort_tmp(f, tmp); ll_set_error("%s: write error", path); return -1; }
    return ll_commit_tmp(f, tmp, path);
}

int ll_mkdirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) { ll_set_error("%s: bad path", path); return -1; }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                ll_set_error("%s: cannot create directory: %s", buf, strerror(errno));
                return -1;
            }
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) { ll_set_error("%s: not a directory", path); return -1; }
    return 0;
}

int ll_path_exists(const char *path) { struct stat st; return stat(path, &st) == 0; }

const char *ll_path_join(char *buf, size_t cap, const char *dir, const char *name) {
    size_t n = strlen(dir);
    if (n && dir[n - 1] == '/') snprintf(buf, cap, "%s%s", dir, name);
    else snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

void ll_progress_init(ll_progress *p, const char *what, long long total) {
    const char *q = getenv("LAYERLAW_QUIET");
    p->what = what;
    p->rate_what = "tokens";
    p->label = NULL;
    p->total = total;
    p->t0 = p->last = ll_now();
    p->enabled = isatty(2) && !(q && *q && strcmp(q, "0") != 0);
}

void ll_format_duration(double s, char *buf, size_t cap) {
    if (!(s >= 0) || s > 1e8) snprintf(buf, cap, "?");
    else if (s >= 3600) snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else if (s >= 60) snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, cap, "%.0fs", s);
}

int ll_progress_format(const ll_progress *p, long long done, long long tokens, double now, int final, char *buf,
                       size_t cap) {
    double el = now - p->t0;
    double tps = el > 0 ? (double)tokens / el : 0;
    char eta[64] = "";
    if (!final && p->total > 0 && done > 0) {
        char d[32];
        ll_format_duration(el * (double)(p->total - done) / (double)done, d, sizeof d);
        snprintf(eta, sizeof eta, "  ETA %s", d);
    } else if (final) {
        char d[32];
        ll_format_duration(el, d, sizeof d);
        snprintf(eta, sizeof eta, "  in %s", d);
    }
    const char *lab = p->label ? p->label : "";
    const char *sep = p->label && *p->label ? "  " : "";
    int n;
    if (p->total > 0)
        n = snprintf(buf, cap, "%s%s%lld/%lld %s  %.0f %s/s%s", lab, sep, done, p->total, p->what, tps, p->rate_what, eta);
    else
        n = snprintf(buf, cap, "%s%s%lld %s  %.0f %s/s%s", lab, sep, done, p->what, tps, p->rate_what, eta);
    return n;
}

static void progress_print(ll_progress *p, long long done, long long tokens, int final) {
    char line[512];
    ll_progress_format(p, done, tokens, ll_now(), final, line, sizeof line);
    /* \r: back to the start; ESC[K: erase what a longer previous line left */
    fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
    fflush(stderr);
}

void ll_progress_update(ll_progress *p, long long done, long long tokens) {
    if (!p->enabled) return;
    double now = ll_now();
    if (now - p->last < 0.2) return;
    p->last = now;
    progress_print(p, done, tokens, 0);
}

void ll_progress_end(ll_progress *p, long long done, long long tokens) {
    if (p->enabled) progress_print(p, done, tokens, 1);
}

float ll_f16_to_f32(uint16_t h) {
    uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (e == 0) {
        if (m == 0) u = s;
        else { /* subnormal */
            e = 127 - 15 + 1;
            while (!(m & 0x400)) { m <<= 1; e--; }
            m &= 0x3ff;
            u = s | (e << 23) | (m << 13);
        }
    } else if (e == 31) u = s | 0x7f800000u | (m << 13);
    else u = s | ((e + 127 - 15) << 23) | (m << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float ll_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t ll_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* NaN */
    u += 0x7fff + ((u >> 16) & 1); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

uint16_t ll_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t s = (u >> 16) & 0x8000;
    int32_t e = (int32_t)((u >> 23) & 0xff) - 127 + 15;
    uint32_t m = u & 0x7fffff;
    if (((u >> 23) & 0xff) == 0xff) return (uint16_t)(s | 0x7c00 | (m ? 0x200 : 0));
    if (e >= 31) return (uint16_t)(s | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)s;
        m |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = m >> shift, rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(s | half);
    }
    uint32_t half = s | ((uint32_t)e << 10) | (m >> 13);
    uint32_t rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
    return (uint16_t)half;
}

/* A set of files that appear together or not at all: every file is written
 * to a temporary name first (a failure there leaves nothing); a folder in the
 * way of a target is refused before anything is written; the old versions
 * are kept as hard links until every rename has succeeded, and put back if
 * one fails. */
int ll_write_files_atomic(const char *dir, int n, const char *const *names, const void *const *data,
                          const size_t *lens) {
    if (n <= 0) return 0;
    if (ll_mkdirs(dir) != 0) return -1;
    char (*path)[4096] = ll_xcalloc((size_t)n, sizeof *path);
    char (*tmp)[4200] = ll_xcalloc((size_t)n, sizeof *tmp);
    char (*bak)[4200] = ll_xcalloc((size_t)n, sizeof *bak);
    int rc = -1, written = 0, renamed = 0;
    for (int i = 0; i < n; i++) {
        ll_path_join(path[i], sizeof path[i], dir, names[i]);
        struct stat st;
        if (lstat(path[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            ll_set_error("%s: a folder is in the way of the result file", path[i]);
            goto out;
        }
    }
    for (; written < n; written++) {
        int i = written;
        FILE *f = ll_open_tmp(path[i], tmp[i], sizeof tmp[i]);
        if (!f) goto out;
        if (lens[i] && fwrite(data[i], 1, lens[i], f) != lens[i]) {
            ll_abort_tmp(f, tmp[i]);
            ll_set_error("%s: write error: %s", path[i], strerror(errno));
            goto out;
        }
        int bad = ferror(f) != 0 || fflush(f) != 0 || (fsync(fileno(f)) != 0 && errno != EINVAL);
        if (fclose(f) != 0) bad = 1;
        if (bad) { unlink(tmp[i]); ll_tmp_forget(tmp[i]); ll_set_error("%s: write error (disk full?)", path[i]); goto out; }
    }
    for (int i = 0; i < n; i++) {
        snprintf(bak[i], sizeof bak[i], "%s.old.%ld", path[i], (long)getpid());
        if (link(path[i], bak[i]) != 0) bak[i][0] = 0; /* no old version */
    }
    for (; renamed < n; renamed++) {
        int i = renamed;
        if (rename(tmp[i], path[i]) != 0) {
            ll_set_error("%s: cannot rename: %s", path[i], strerror(errno));
            for (int k = 0; k < renamed; k++) { /* put the old set back */
                if (bak[k][0]) rename(bak[k], path[k]);
                else unlink(path[k]);
            }
            goto out;
        }
    }
    rc = 0;
out:
    for (int i = renamed; i < written; i++) unlink(tmp[i]);
    for (int i = 0; i < written; i++) ll_tmp_forget(tmp[i]);
    for (int i = 0; i < n; i++)
        if (bak[i][0]) unlink(bak[i]);
    free(path);
    free(tmp);
    free(bak);
    return rc;
}

uint64_t ll_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- a growing string ------------------------------------------------ */

static void sb_reserve(ll_sbuf *b, size_t more) {
    if (b->n + more + 1 <= b->cap) return;
    size_t c = b->cap ? b->cap : 1024;
    while (c < b->n + more + 1) c *= 2;
    b->s = ll_xrealloc(b->s, c);
    b->cap = c;
}

void ll_sb_add(ll_sbuf *b, const char *s, size_t k) {
    sb_reserve(b, k);
    memcpy(b->s + b->n, s, k);
    b->n += k;
    b->s[b->n] = 0;
}

void ll_sb_puts(ll_sbuf *b, const char *s) { ll_sb_add(b, s, strlen(s)); }

void ll_sb_printf(ll_sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    sb_reserve(b, (size_t)k);
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

struct cJSON *ll_json_load(const char *path) {
    char *txt = ll_read_file(path, NULL);
    if (!txt) return NULL;
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    if (!j) ll_set_error("%s: not valid JSON", path);
    return j;
}

double ll_json_num(const struct cJSON *o, const char *a, const char *b) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

int ll_edit_distance(const char *a, size_t la, const char *b, size_t lb) {
    if (la > 64 || lb > 64) return 99;
    /* optimal string alignment: insertions, deletions, substitutions and
     * transpositions of neighbours ("cdua" is 1 from "cuda") */
    int pp[65], prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int c = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < c) c = prev[j] + 1;
            if (cur[j - 1] + 1 < c) c = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < c) c = pp[j - 2] + 1;
            cur[j] = c;
        }
        memcpy(pp, prev, sizeof(int) * (lb + 1));
        memcpy(prev, cur, sizeof(int) * (lb + 1));
    }
    return prev[lb];
}

const char *ll_did_you_mean(const char *word, const char *const *choices, size_t n) {
    if (!word) return NULL;
    size_t lw = strlen(word);
    const char *best = NULL;
    int bd = 99;
    for (size_t i = 0; i < n; i++) {
        if (!choices[i]) continue;
        size_t lc = strlen(choices[i]);
        int d = ll_edit_distance(word, lw, choices[i], lc);
        if (lw >= 3 && lw < lc && !strncmp(choices[i], word, lw) && d > 2) d = 2;
        if (d < bd) { bd = d; best = choices[i]; }
    }
    /* "x" is 1 edit from every one-letter choice: near means at most 3
     * edits and fewer edits than the word has letters */
    if (bd > 3 || (size_t)bd >= lw) return NULL;
    return best;
}

const char *ll_not_one_of(char *buf, size_t cap, const char *word, const char *const *choices, size_t n) {
    ll_sbuf b = {0};
    ll_sb_printf(&b, "'%s' is not one of ", word);
    for (size_t i = 0; i < n; i++) ll_sb_printf(&b, "%s%s", i ? ", " : "", choices[i]);
    const char *near = ll_did_you_mean(word, choices, n);
    if (near) ll_sb_printf(&b, " (did you mean %s?)", near);
    snprintf(buf, cap, "%s", b.s ? b.s : "");
    free(b.s);
    return buf;
}

const char *ll_getenv_renamed(const char *name, const char *old) {
    const char *v = getenv(name);
    if (v || !old) return v;
    v = getenv(old);
    static char warned[8][64]; /* the old names warned about */
    if (v) {
        int k = 0;
        while (k < 8 && warned[k][0] && strcmp(warned[k], old)) k++;
        if (k < 8 && !warned[k][0]) {
            snprintf(warned[k], sizeof warned[k], "%s", old);
            ll_warn("%s is deprecated: use %s", old, name);
        }
    }
    return v;
}
