#include "sweep/store.h"
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/ll_util.h"

struct ll_store {
    sqlite3 *db;
    char *path;
};

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS points("
    " key TEXT PRIMARY KEY, sweep TEXT, model TEXT, axes TEXT, config TEXT NOT NULL, result TEXT NOT NULL,"
    " slope REAL, pearson_r REAL, decay_ratio REAL, tokens_per_s REAL, n_params REAL,"
    " utc TEXT, host TEXT, pid INTEGER, seconds REAL);"
    "CREATE TABLE IF NOT EXISTS failures("
    " key TEXT, utc TEXT, host TEXT, status INTEGER, message TEXT);";

static void add_col_num(cJSON *o, const char *name, sqlite3_stmt *st, int i);
static void add_col_json(cJSON *o, const char *name, sqlite3_stmt *st, int i);
static void add_law_cols(cJSON *o, sqlite3_stmt *st, int i);

static int fail(ll_store *s, const char *what) {
    ll_set_error("%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
    return -1;
}

/* The file itself, before SQLite touches it: absent (created), or a regular
 * file (through a symbolic link is fine).  A FIFO, a device or a folder is
 * refused, so that nothing (a -journal beside /dev/null) is created. */
static int check_store_file(const char *path, int must_exist) {
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT && !must_exist) {
            struct stat lst;
            if (lstat(path, &lst) == 0) { ll_set_error("%s: a symbolic link to nothing (results store)", path); return -1; }
            return 0;
        }
        ll_set_error("%s: results store: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        ll_set_error("%s: not a regular file (%s): a results store is an SQLite file", path,
                     ll_file_kind_name(st.st_mode));
        return -1;
    }
    return 0;
}

/* An existing store must be ours: the points and failures tables with their
 * columns, every key text.  Anything else (another program's database, rows
 * without a key) is refused before any point runs. */
static int check_schema(ll_store *s) {
    static const char *const want[] = {"key", "sweep", "model", "axes", "config", "result", "slope", "pearson_r",
                                       "decay_ratio", "tokens_per_s", "n_params", "utc", "host", "pid", "seconds", NULL};
    sqlite3_stmt *st = NULL;
    int n = 0, ok = 1;
    if (sqlite3_prepare_v2(s->db, "SELECT name FROM pragma_table_info('points') ORDER BY cid", -1, &st, NULL) != SQLITE_OK)
        return fail(s, "not a results store");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        if (!want[n] || !c || strcmp(c, want[n])) ok = 0;
        else n++;
    }
    sqlite3_finalize(st);
    if (!ok || want[n]) {
        ll_set_error("%s: not a layerlaw results store (no points table with the columns key, sweep, model, ...)", s->path);
        return -1;
    }
    long bad = -1;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM points WHERE typeof(key) != 'text' OR length(key) = 0", -1, &st,
                           NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        bad = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (bad != 0) {
        if (bad < 0) return fail(s, "read");
        ll_set_error("%s: %ld row(s) of the points table without a text key (a damaged or foreign store)", s->path, bad);
        return -1;
    }
    return 0;
}

/* SQLite's defences for a file that may come from someone else. */
static void defensive(sqlite3 *db) {
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
}

ll_store *ll_store_open_readonly(const char *path) {
    if (check_store_file(path, 1) != 0) return NULL;
    ll_store *s = ll_xcalloc(1, sizeof *s);
    s->path = ll_xstrdup(path);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        ll_set_error("%s: cannot open the results store: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        ll_store_close(s);
        return NULL;
    }
    defensive(s->db);
    sqlite3_busy_timeout(s->db, 600000);
    if (check_schema(s) != 0) { ll_store_close(s); return NULL; }
    return s;
}

const char *const ll_store_journal_names[] = {"wal", "delete", NULL, NULL};

ll_store *ll_store_open(const char *path, const char *journal) {
    if (journal && strcmp(journal, "wal") && strcmp(journal, "delete")) {
        ll_set_error("%s: unknown journal mode '%s' (wal|delete)", path, journal);
        return NULL;
    }
    if (check_store_file(path, 0) != 0) return NULL;
    ll_store *s = ll_xcalloc(1, sizeof *s);
    s->path = ll_xstrdup(path);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        ll_set_error("%s: cannot open the results store: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        ll_store_close(s);
        return NULL;
    }
    defensive(s->db);
    /* SQLite falls back to read-only without a word: refused here, before
     * any point runs (not at the first insert, after its files are written) */
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        ll_set_error("%s: the results store is read-only (or its folder is): cannot record points", path);
        ll_store_close(s);
        return NULL;
    }
    /* concurrent writers wait for the lock (up to 10 min: a point's insert
     * holds it for milliseconds) */
    sqlite3_busy_timeout(s->db, 600000);
    char *err = NULL;
    /* the journal mode is persistent: set it once, when the file is new
     * (changing it needs exclusive access, which another writer may hold) */
    sqlite3_stmt *st = NULL;
    int fresh = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        fresh = sqlite3_column_int(st, 0) == 0;
    else {
        sqlite3_finalize(st);
        fail(s, "not a results store (SQLite)");
        ll_store_close(s);
        return NULL;
    }
    sqlite3_finalize(st);
    if (!fresh && check_schema(s) != 0) { ll_store_close(s); return NULL; }
    if (fresh) {
        char q[64];
        snprintf(q, sizeof q, "PRAGMA journal_mode=%s", journal ? journal : "wal");
        if (sqlite3_exec(s->db, q, NULL, NULL, &err) != SQLITE_OK) {
            ll_set_error("%s: %s: %s", path, q, err ? err : "?");
            sqlite3_free(err);
            ll_store_close(s);
            return NULL;
        }
    }
    /* A kill -9 never loses a committed row in either mode.  WAL with
     * synchronous=NORMAL does not fsync at each commit (only at checkpoints):
     * a power cut may lose the last points (rerun: they are measured again)
     * but cannot corrupt the store.  The rollback journal needs FULL for that. */
    sqlite3_stmt *jm = NULL;
    int wal = 0;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &jm, NULL) == SQLITE_OK && sqlite3_step(jm) == SQLITE_ROW)
        wal = !strcmp((const char *)sqlite3_column_text(jm, 0), "wal");
    sqlite3_finalize(jm);
    if (sqlite3_exec(s->db, wal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", NULL, NULL, &err) != SQLITE_OK ||
        sqlite3_exec(s->db, SCHEMA, NULL, NULL, &err) != SQLITE_OK) {
        ll_set_error("%s: cannot create the tables: %s", path, err ? err : "?");
        sqlite3_free(err);
        ll_store_close(s);
        return NULL;
    }
    return s;
}

void ll_store_close(ll_store *s) {
    if (!s) return;
    if (s->db) sqlite3_close(s->db);
    free(s->path);
    free(s);
}

/* 1 when the query (one parameter ?1 = key) returns a row, 0 when none, -1 on error */
static int key_has_row(ll_store *s, const char *sql, const char *key) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return fail(s, "query");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r == SQLITE_ROW) return 1;
    if (r == SQLITE_DONE) return 0;
    return fail(s, "query");
}

int ll_store_has(ll_store *s, const char *key) { return key_has_row(s, "SELECT 1 FROM points WHERE key=?1", key); }

static void utc_now(char *buf, size_t cap) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void bind_num(sqlite3_stmt *st, int i, double v) {
    if (isfinite(v)) sqlite3_bind_double(st, i, v);
    else sqlite3_bind_null(st, i);
}

int ll_store_put(ll_store *s, const ll_store_record *r) {
    char *axes = r->axes ? cJSON_PrintUnformatted(r->axes) : NULL;
    char *cfg = cJSON_PrintUnformatted(r->config);
    char *res = cJSON_PrintUnformatted(r->result);
    char utc[32], host[256] = "unknown";
    utc_now(utc, sizeof utc);
    gethostname(host, sizeof host);
    host[sizeof host - 1] = 0;
    int rc = -1;
    sqlite3_stmt *st = NULL;
    /* one statement = one transaction: the row is there whole or not at all */
    if (sqlite3_prepare_v2(s->db,
                           "INSERT OR IGNORE INTO points(key,sweep,model,axes,config,result,slope,pearson_r,"
                           "decay_ratio,tokens_per_s,n_params,utc,host,pid,seconds)"
                           " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
                           -1, &st, NULL) != SQLITE_OK) {
        fail(s, "insert");
        goto out;
    }
    sqlite3_bind_text(st, 1, r->key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->sweep ? r->sweep : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, r->model ? r->model : "", -1, SQLITE_TRANSIENT);
    if (axes) sqlite3_bind_text(st, 4, axes, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, cfg ? cfg : "{}", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, res ? res : "{}", -1, SQLITE_TRANSIENT);
    bind_num(st, 7, r->slope);
    bind_num(st, 8, r->pearson_r);
    bind_num(st, 9, r->decay_ratio);
    bind_num(st, 10, r->tokens_per_s);
    bind_num(st, 11, r->n_params);
    sqlite3_bind_text(st, 12, utc, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 13, host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 14, (sqlite3_int64)getpid());
    bind_num(st, 15, r->seconds);
    if (sqlite3_step(st) != SQLITE_DONE) { fail(s, "insert"); goto out; }
    rc = sqlite3_changes(s->db) > 0 ? 1 : 0;
out:
    sqlite3_finalize(st);
    free(axes);
    free(cfg);
    free(res);
    return rc;
}

int ll_store_put_locked(ll_store *s, ll_store_record *r, int (*write)(void *ctx, ll_store_record *r), void *ctx) {
    char *err = NULL;
    /* the write lock first: of two writers of one key, the second waits here
     * and then finds the row, so files and row come from the same run */
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK) {
        ll_set_error("%s: cannot lock the results store: %s", s->path, err ? err : "?");
        sqlite3_free(err);
        return -1;
    }
    int rc = ll_store_has(s, r->key);
    if (rc == 0) {
        rc = write(ctx, r) != 0 ? -1 : ll_store_put(s, r);
        if (rc == 0) rc = -1, ll_set_error("%s: the row of %s appeared inside a transaction", s->path, r->key);
    } else if (rc == 1) {
        rc = 0;
    }
    if (rc == 1 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, &err) != SQLITE_OK) {
        ll_set_error("%s: commit: %s", s->path, err ? err : "?");
        sqlite3_free(err);
        rc = -1;
    }
    if (rc != 1) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

cJSON *ll_store_get(ll_store *s, const char *key) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT result,slope,pearson_r,decay_ratio,tokens_per_s FROM points WHERE key=?1", -1,
                           &st, NULL) != SQLITE_OK) {
        fail(s, "read");
        return NULL;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    cJSON *o = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        o = cJSON_CreateObject();
        add_col_json(o, "result", st, 0);
        add_law_cols(o, st, 1);
    }
    sqlite3_finalize(st);
    return o;
}

int ll_store_put_failure(ll_store *s, const char *key, int status, const char *message) {
    char utc[32], host[256] = "unknown";
    utc_now(utc, sizeof utc);
    gethostname(host, sizeof host);
    host[sizeof host - 1] = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO failures(key,utc,host,status,message) VALUES(?1,?2,?3,?4,?5)", -1, &st,
                           NULL) != SQLITE_OK)
        return fail(s, "insert");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, utc, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, status);
    sqlite3_bind_text(st, 5, message ? message : "", -1, SQLITE_TRANSIENT);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : fail(s, "insert");
}

int ll_store_failed(ll_store *s, const char *key) {
    return key_has_row(s, "SELECT 1 FROM failures WHERE key=?1 AND NOT EXISTS (SELECT 1 FROM points WHERE key=?1)", key);
}

const char *ll_store_journal(ll_store *s) {
    sqlite3_stmt *st;
    const char *r = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *m = (const char *)sqlite3_column_text(st, 0);
        r = !strcmp(m, "wal") ? "wal" : !strcmp(m, "delete") ? "delete" : "other";
    }
    sqlite3_finalize(st);
    return r;
}

long ll_store_count(ll_store *s) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM points", -1, &st, NULL) != SQLITE_OK) return fail(s, "count");
    long n = -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = (long)sqlite3_column_int64(st, 0);
    else fail(s, "count");
    sqlite3_finalize(st);
    return n;
}

static void add_col_num(cJSON *o, const char *name, sqlite3_stmt *st, int i) {
    if (sqlite3_column_type(st, i) == SQLITE_NULL) cJSON_AddNullToObject(o, name);
    else cJSON_AddNumberToObject(o, name, sqlite3_column_double(st, i));
}

/* a JSON text column parsed, NULL (or text that does not parse) as null */
static void add_col_json(cJSON *o, const char *name, sqlite3_stmt *st, int i) {
    const char *t = (const char *)sqlite3_column_text(st, i);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    cJSON_AddItemToObject(o, name, j ? j : cJSON_CreateNull());
}

/* the law's columns slope, pearson_r, decay_ratio, tokens_per_s, from column i on */
static void add_law_cols(cJSON *o, sqlite3_stmt *st, int i) {
    add_col_num(o, "slope", st, i);
    add_col_num(o, "pearson_r", st, i + 1);
    add_col_num(o, "decay_ratio", st, i + 2);
    add_col_num(o, "tokens_per_s", st, i + 3);
}

/* a text column as a string, NULL as null (never a missing member) */
static void add_col_text(cJSON *o, const char *name, sqlite3_stmt *st, int i) {
    const char *t = (const char *)sqlite3_column_text(st, i);
    cJSON_AddItemToObject(o, name, t ? cJSON_CreateString(t) : cJSON_CreateNull());
}

cJSON *ll_store_dump(ll_store *s) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT key,sweep,model,axes,config,result,slope,pearson_r,decay_ratio,tokens_per_s,"
                           "n_params,utc,host,pid,seconds FROM points ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK) {
        fail(s, "read");
        return NULL;
    }
    cJSON *arr = cJSON_CreateArray();
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        add_col_text(o, "key", st, 0);
        add_col_text(o, "sweep", st, 1);
        add_col_text(o, "model", st, 2);
        add_col_json(o, "axes", st, 3);
        add_col_json(o, "config", st, 4);
        add_col_json(o, "result", st, 5);
        add_law_cols(o, st, 6);
        add_col_num(o, "n_params", st, 10);
        add_col_text(o, "utc", st, 11);
        add_col_text(o, "host", st, 12);
        cJSON_AddNumberToObject(o, "pid", (double)sqlite3_column_int64(st, 13));
        add_col_num(o, "seconds", st, 14);
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        fail(s, "read");
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

int ll_store_check(ll_store *s) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) return fail(s, "integrity_check");
    int ok = sqlite3_step(st) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
    if (!ok) ll_set_error("%s: integrity_check failed", s->path);
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}
