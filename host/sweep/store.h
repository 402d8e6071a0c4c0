/* The results store of a sweep: one SQLite database (WAL journal, busy
 * timeout), one row per finished point, written in one transaction, so a
 * kill -9 at any moment leaves either the whole record or none, and several
 * processes (sweeps, Slurm array tasks) may write the same store.
 * docs/sweeps.md says why SQLite and not JSON Lines.
 *
 *   points(key PRIMARY KEY, sweep, model, axes, config, result, status,
 *          slope, pearson_r, decay_ratio, tokens_per_s, n_params,
 *          utc, host, pid, seconds)
 *   failures(key, utc, host, status, message)     -- kept for reading, never "done"
 *
 * A point is done when its key has a row in `points`; inserting a key that
 * is already there keeps the first row (INSERT OR IGNORE). */
#ifndef LL_SWEEP_STORE_H
#define LL_SWEEP_STORE_H
#include <cJSON.h>

typedef struct ll_store ll_store;

typedef struct {
    const char *key, *sweep, *model;
    const cJSON *axes;    /* the point's axis values */
    const cJSON *config;  /* the full configuration */
    const cJSON *result;  /* law.json's object (fit, layers, provenance, ...) */
    double slope, pearson_r, decay_ratio, tokens_per_s, n_params, seconds; /* NaN: unknown */
} ll_store_record;

/* journal: "wal" (default; one host) or "delete" (the rollback journal: for a
 * store on a network file system shared by several hosts, where WAL cannot
 * work).  The mode is set when the database is created and kept after. */
ll_store *ll_store_open(const char *path, const char *journal);
/* The journal values, NULL-terminated, then an empty alias list (cli/opts.h's
 * LL_OPT_CHOICE form). */
extern const char *const ll_store_journal_names[];
void ll_store_close(ll_store *s);
/* 1 done, 0 not, -1 error. */
int ll_store_has(ll_store *s, const char *key);
/* 1 inserted, 0 the key was already there (nothing changed), -1 error. */
int ll_store_put(ll_store *s, const ll_store_record *r);
/* A point's row and its files from the same run, under the store's write
 * lock: if the key has no row, write(ctx, r) writes the files and fills
 * r->result (what law.json says), then the row is inserted and committed;
 * if another writer recorded the key first, nothing is written.  1 inserted,
 * 0 already there, -1 error (rolled back). */
int ll_store_put_locked(ll_store *s, ll_store_record *r, int (*write)(void *ctx, ll_store_record *r), void *ctx);
/* The row of key as {result, slope, pearson_r, decay_ratio, tokens_per_s},
 * or NULL when there is none. */
cJSON *ll_store_get(ll_store *s, const char *key);
/* An existing store opened for reading only (--dry-run): nothing created. */
ll_store *ll_store_open_readonly(const char *path);
int ll_store_put_failure(ll_store *s, const char *key, int status, const char *message);
/* 1 when the key has a failure logged (and no record), 0 not, -1 error. */
int ll_store_failed(ll_store *s, const char *key);
/* The journal mode in use: "wal", "delete", ... (static string), NULL on error. */
const char *ll_store_journal(ll_store *s);
/* Number of points. */
long ll_store_count(ll_store *s);
/* Every record as a JSON array of objects (key, model, axes, slope, ...,
 * result parsed); NULL on error. */
cJSON *ll_store_dump(ll_store *s);
/* Runs `PRAGMA integrity_check`: 0 ok, -1 (with the message) otherwise. */
int ll_store_check(ll_store *s);
#endif
