/* Common utilities: error reporting, checked allocation, timing, atomic file
 * writes, progress lines.
 *
 * Error convention (whole library): a function that can fail returns 0 on
 * success and -1 on failure (or NULL), after calling ll_set_error() with one
 * line naming the file and the problem, e.g.
 *     "model/config.json: missing key 'hidden_size'".
 * The CLI prints "layerlaw: <message>" and exits with status 2 (bad input). */
#ifndef LL_UTIL_H
#define LL_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

void ll_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *ll_last_error(void);

/* Warnings (the library never prints): ll_warn formats one line (no
 * "layerlaw: " prefix, no newline) and hands it to the handler the caller
 * installed; with none installed the line is dropped.  The CLI installs one
 * that prints "layerlaw: warning: LINE" on stderr; the Python binding one that
 * raises a Python warning.  Returns the previous handler. */
typedef void (*ll_warn_fn)(const char *line, void *ud);
ll_warn_fn ll_set_warn_handler(ll_warn_fn fn, void *ud);
void ll_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Notices (what a run chose, e.g. "using the CPU backend (...)", "60
 * classes: ... pooled"): the same, through their own handler; the CLI prints
 * "layerlaw: LINE".  Dropped when none is installed. */
ll_warn_fn ll_set_note_handler(ll_warn_fn fn, void *ud);
void ll_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Environment settings are all LAYERLAW_*.  ll_getenv_renamed(name, old):
 * getenv(name), or else getenv(old) (a name from before the one prefix, e.g.
 * LL_CUDA_ATTN_TC), read as a deprecated alias with one ll_warn per process
 * ("OLD is deprecated: use NAME"). */
const char *ll_getenv_renamed(const char *name, const char *old);

/* Allocation that never returns NULL: on failure prints and exits(1). */
void *ll_xmalloc(size_t n);
void *ll_xcalloc(size_t n, size_t sz);
void *ll_xrealloc(void *p, size_t n);
char *ll_xstrdup(const char *s);
/* 64-byte aligned allocation (free with free()). */
void *ll_xmalloc_aligned(size_t n);

/* a*b (and a*b*c) without overflow: returns 0 and sets *out, or -1. */
int ll_mul_size(size_t a, size_t b, size_t *out);
int ll_mul3_size(size_t a, size_t b, size_t c, size_t *out);

double ll_now(void); /* monotonic seconds */

/* Reads a whole (small) file; NUL-terminated; sets *len. NULL + error on fail. */
char *ll_read_file(const char *path, size_t *len);
/* A JSON file parsed (cJSON; free with cJSON_Delete), or NULL with the error
 * set ("PATH: not valid JSON", or the read error). */
struct cJSON;
struct cJSON *ll_json_load(const char *path);
/* o[a] (o[a][b] when b is not NULL) as a number; NaN when absent or not a number. */
double ll_json_num(const struct cJSON *o, const char *a, const char *b);
/* Writes data to path atomically (temp file in the same folder, fsync, rename). */
int ll_write_file_atomic(const char *path, const void *data, size_t n);
/* Opens a temp file next to `path` for writing; ll_commit_tmp renames it. */
FILE *ll_open_tmp(const char *path, char *tmp_path, size_t tmp_cap);
int ll_commit_tmp(FILE *f, const char *tmp_path, const char *path);
void ll_abort_tmp(FILE *f, const char *tmp_path);
/* mkdir -p */
int ll_mkdirs(const char *path);

/* ---- leftovers: nothing of an unfinished output stays on disk ----
 * Temporary names made by ll_open_tmp are remembered and removed on SIGINT,
 * SIGTERM, SIGHUP (then the signal's default action runs: the exit status
 * says which).  ll_tmp_forget drops a name once it is renamed or removed.
 * A kill -9 cannot be caught: for large outputs written over a long time,
 * use ll_private_open, whose file has no name until ll_private_publish. */
void ll_tmp_remember(const char *tmp_path);
void ll_tmp_forget(const char *tmp_path);

/* An output file written without a name (O_TMPFILE in the target's folder,
 * which is created if needed): killed at any moment, even by SIGKILL, it
 * leaves nothing.  Where O_TMPFILE is not supported, a remembered temporary
 * name (removed on SIGINT/SIGTERM) is used.  0 / -1 + error naming path. */
typedef struct { int fd; int anonymous; char path[4096]; char tmp[4200]; } ll_private_file;
int ll_private_open(ll_private_file *pf, const char *path);
/* fsync, then gives the file its name (atomically replacing an old one);
 * closes it.  0 / -1 + error (nothing left then). */
int ll_private_publish(ll_private_file *pf);
/* Closes and forgets an unpublished file (nothing left). */
void ll_private_discard(ll_private_file *pf);

/* An output file's path checked before any computation: not a folder, and
 * its folder (or the nearest existing ancestor, the rest is created later) is
 * a writable folder.  what names the option in the message ("--dump-hidden").
 * 0 / -1 + error. */
int ll_check_output_path(const char *path, const char *what);
/* 0 when an output may be put at path (nothing there, or a regular file);
 * -1 + error for a FIFO, device, socket, folder or dangling symbolic link.
 * ll_check_output_path, ll_open_tmp/ll_commit_tmp and ll_private_* call it. */
int ll_output_replaceable(const char *path);
/* What a file that is not a regular file is, for messages: "a folder", "a
 * FIFO", "a device", "a socket" or "a special file" (st_mode of stat()). */
const char *ll_file_kind_name(unsigned mode);
/* n files in dir (created if needed) that appear together or not at all
 * (temporary names, then renames; the old set is restored if a rename
 * fails).  0, or -1 + error naming the file. */
int ll_write_files_atomic(const char *dir, int n, const char *const *names, const void *const *data,
                          const size_t *lens);
int ll_path_exists(const char *path);
/* join dir/name into buf */
const char *ll_path_join(char *buf, size_t cap, const char *dir, const char *name);

/* Progress on stderr, only when stderr is a terminal (quiet when piped or
 * when LAYERLAW_QUIET is set).  ll_progress_update prints at most ~5 per s;
 * each print rewrites the line and erases what the previous one left:
 *   "[label  ]done/total what  rate rate_what/s  ETA 1m05s" */
typedef struct {
    const char *what;   /* e.g. "sequences" */
    const char *rate_what; /* the unit of the rate: "tokens" (default) */
    const char *label;  /* printed first (e.g. "point 3/12 gpt2 (sweep ETA 4m10s)"), may be NULL */
    long long total;    /* 0 if unknown */
    double t0, last;
    int enabled;
} ll_progress;
void ll_progress_init(ll_progress *p, const char *what, long long total);
void ll_progress_update(ll_progress *p, long long done, long long tokens);
/* The text of the line at time `now` (no \r, no erase); returns its length. */
int ll_progress_format(const ll_progress *p, long long done, long long tokens, double now, int final, char *buf,
                       size_t cap);
/* "42s", "3m07s", "2h05m"; "?" for a negative or absurd time. */
void ll_format_duration(double seconds, char *buf, size_t cap);
void ll_progress_end(ll_progress *p, long long done, long long tokens);

/* Half / bfloat16 conversions. */
float ll_f16_to_f32(uint16_t h);
float ll_bf16_to_f32(uint16_t h);
uint16_t ll_f32_to_bf16(float f);
uint16_t ll_f32_to_f16(float f);

/* "Did you mean": the choice closest to `word` (Levenshtein distance, a
 * prefix of at least 3 letters counts as distance <= 2), or NULL when none is
 * within 3 edits (nor within half the word's length, for short words).  For
 * every message about an unknown command, option, enumerated value, sweep
 * key or figure name. */
const char *ll_did_you_mean(const char *word, const char *const *choices, size_t n);
/* Levenshtein distance of two strings (99 when either is over 64 bytes). */
int ll_edit_distance(const char *a, size_t la, const char *b, size_t lb);
/* One message for a value outside an enumeration, into buf:
 *   "'nxt' is not one of next, current, previous (did you mean next?)"
 * Returns buf. */
const char *ll_not_one_of(char *buf, size_t cap, const char *word, const char *const *choices, size_t n);

#define LL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LL_MAX(a, b) ((a) > (b) ? (a) : (b))
/* The portable RNG of every seeded choice (document sampling, the shuffled
 * vocabulary): splitmix64 (Steele, Lea, Flood 2014), the same sequence on
 * every platform and in the Python fixtures. */
uint64_t ll_splitmix64(uint64_t *state);

/* A growing NUL-terminated string (zero-initialise; free(b.s) when done):
 * the gnuplot scripts, CSV files and reports are built in one. */
typedef struct {
    char *s;
    size_t n, cap;
} ll_sbuf;
void ll_sb_add(ll_sbuf *b, const char *s, size_t k);
void ll_sb_puts(ll_sbuf *b, const char *s);
void ll_sb_printf(ll_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
