#include "sweep/store.h"
#include <math.h>
#include <sqlite3.h>
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

static int fail(ll_store *s, const char *what) {
    ll_set_error("%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
    return -1;
}

ll_store *ll_store_open(const char *path, const char *journal) {
    if (journal && strcmp(journal, "wal") && strcmp(journal, "delete")) {
        ll_set_error("%s: unknown journal mode '%s' (wal|delete)", path, journal);
        return NULL;
    }
    ll_store *s = ll_xcalloc(1, sizeof *s);
    s->path = ll_xstrdup(path);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        ll_set_error("%s: cannot open the results store: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
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

int ll_store_has(ll_store *s, const char *key) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM points WHERE key=?1", -1, &st, NULL) != SQLITE_OK)
        return fail(s, "query");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r == SQLITE_ROW) return 1;
    if (r == SQLITE_DONE) return 0;
    return fail(s, "query");
}

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
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT 1 FROM failures WHERE key=?1 AND NOT EXISTS (SELECT 1 FROM points WHERE key=?1)", -1,
                           &st, NULL) != SQLITE_OK)
        return fail(s, "query");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r == SQLITE_ROW) return 1;
    if (r == SQLITE_DONE) return 0;
    return fail(s, "query");
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
        cJSON_AddStringToObject(o, "key", (const char *)sqlite3_column_text(st, 0));
        cJSON_AddStringToObject(o, "sweep", (const char *)sqlite3_column_text(st, 1));
        cJSON_AddStringToObject(o, "model", (const char *)sqlite3_column_text(st, 2));
        const char *ax = (const char *)sqlite3_column_text(st, 3);
        cJSON *axj = ax ? cJSON_Parse(ax) : NULL;
        cJSON_AddItemToObject(o, "axes", axj ? axj : cJSON_CreateNull());
        cJSON *cfg = cJSON_Parse((const char *)sqlite3_column_text(st, 4));
        cJSON_AddItemToObject(o, "config", cfg ? cfg : cJSON_CreateNull());
        cJSON *res = cJSON_Parse((const char *)sqlite3_column_text(st, 5));
        cJSON_AddItemToObject(o, "result", res ? res : cJSON_CreateNull());
        add_col_num(o, "slope", st, 6);
        add_col_num(o, "pearson_r", st, 7);
        add_col_num(o, "decay_ratio", st, 8);
        add_col_num(o, "tokens_per_s", st, 9);
        add_col_num(o, "n_params", st, 10);
        cJSON_AddStringToObject(o, "utc", (const char *)sqlite3_column_text(st, 11));
        cJSON_AddStringToObject(o, "host", (const char *)sqlite3_column_text(st, 12));
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
