/* The surfaces around the parsers, tried as an attacker and as a careless
 * user would (issue 24): the Slurm script (hostile names never executed),
 * output paths (never a FIFO, a device or a dangling link replaced; refused
 * before any work), ranks (one rank's refusal ends the job; different inputs
 * refused), the hash cache (a rewritten file re-hashed; a FIFO or /dev/zero
 * as the cache does not hang), stores and sweep files (NULL keys, point
 * counts that overflow, alias bombs, deep nesting, CSV quoting, one row per
 * key with its own files), hwloc XML bounds, a rank without documents. */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "core/ll_util.h"
#include "dist/agree.h"
#include "dist/topo.h"
#include "pipeline/batcher.h"
#include "report/provenance.h"
#include "sweep/slurm.h"
#include "sweep/store.h"
#include "sweep/sweep.h"
#include "test_util.h"

static const char *tpath(const char *name) {
    static char buf[8][1400];
    static int k;
    char *p = buf[k++ & 7];
    ll_path_join(p, 1400, ll_test_tmpdir(), name);
    return p;
}

/* s quoted for the shell (the test's own copy of the rule, not the code's) */
static const char *q(const char *s) {
    static char buf[8][4096];
    static int k;
    char *p = buf[k++ & 7];
    size_t n = 0;
    p[n++] = '\'';
    for (; *s && n < 4080; s++) {
        if (*s == '\'') { memcpy(p + n, "'\\''", 4); n += 4; }
        else p[n++] = *s;
    }
    p[n++] = '\'';
    p[n] = 0;
    return p;
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

/* The number of files named exactly PWNED under dir. */
static int count_pwned(const char *dir) {
    char cmd[4200], *o = NULL;
    snprintf(cmd, sizeof cmd, "find %s -name PWNED -type f | wc -l", q(dir));
    if (ll_run_cmd(cmd, &o) != 0 || !o) { free(o); return -1; }
    int n = atoi(o);
    free(o);
    return n;
}

static char *abs_bin(void) {
    static char b[4096];
    if (!realpath(ll_bin_path(), b)) snprintf(b, sizeof b, "%s", ll_bin_path());
    return b;
}

static char g_repo[4096];
static const char *repo(void) {
    if (!g_repo[0] && !getcwd(g_repo, sizeof g_repo)) g_repo[0] = 0;
    return g_repo;
}

/* ---- the Slurm script ---------------------------------------------------- */

/* Hostile text (a quote, $(), a backquote) in the working folder, the sweep
 * file's name, its name:, --out, --only and --sbatch: the script passes
 * bash -n, runs the point, and nothing injected runs. */
TEST(harden_slurm_hostile_names_never_execute) {
    const char *evil = "w'q$(touch PWNED)`touch PWNED`";
    char wd[1400], cmd[16384], *o = NULL;
    snprintf(wd, sizeof wd, "%s/%s", ll_test_tmpdir(), evil);
    REQUIRE(ll_mkdirs(wd) == 0);
    snprintf(cmd, sizeof cmd, "ln -s %s/tests %s/tests", q(repo()), q(wd));
    REQUIRE(ll_run_cmd(cmd, NULL) == 0);
    char cfg[1600];
    snprintf(cfg, sizeof cfg, "%s/c'$(touch PWNED)`touch PWNED`.yaml", wd);
    REQUIRE(write_text(cfg, "name: \"x'$(touch PWNED)`touch PWNED`\"\n"
                            "models: [{path: tests/fixtures/models/gpt2, tokens: tests/fixtures/models/gpt2/tokens.jsonl}]\n"
                            "options: {backend: cpu, threads: 1, batch_size: 4}\n") == 0);
    snprintf(cmd, sizeof cmd,
             "cd %s && LAYERLAW_QUIET=1 %s sweep %s --slurm --out %s --only %s --sbatch %s 2>&1", q(wd), abs_bin(),
             q("c'$(touch PWNED)`touch PWNED`.yaml"), q("o'$(touch PWNED)`touch PWNED`%x"),
             q("model=gpt2,z'$(touch PWNED)`touch PWNED`"), q("--comment=a'$(touch PWNED)`touch PWNED`"));
    int rc = ll_run_cmd(cmd, &o);
    REQUIRE_MSG(rc == 0, "sweep --slurm: %d: %s", rc, o ? o : "");
    free(o);
    char sp[1800];
    snprintf(sp, sizeof sp, "%s/o'$(touch PWNED)`touch PWNED`%%x/sweep.sbatch", wd);
    REQUIRE(ll_path_exists(sp));
    snprintf(cmd, sizeof cmd, "bash -n %s 2>&1", q(sp));
    rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 0, "bash -n: %s", o ? o : "");
    free(o);
    /* the task runs from elsewhere: the script finds its folder itself */
    snprintf(cmd, sizeof cmd, "cd %s && SLURM_ARRAY_TASK_ID=0 bash %s 2>&1", q(ll_test_tmpdir()), q(sp));
    rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 0, "the task: %d: %s", rc, o ? o : "");
    free(o);
    CHECK_INT(count_pwned(ll_test_tmpdir()), 0);
    char st[1800];
    snprintf(st, sizeof st, "%s/o'$(touch PWNED)`touch PWNED`%%x/results.sqlite", wd);
    ll_store *s = ll_store_open_readonly(st);
    CHECK_MSG(s && ll_store_count(s) == 1, "the point was not recorded: %s", s ? "" : ll_last_error());
    ll_store_close(s);
}

/* A newline cannot be quoted in an #SBATCH line or the job name: refused
 * (exit 2), no script written. */
TEST(harden_slurm_newline_refused) {
    const char *cfg = tpath("nl.yaml");
    REQUIRE(write_text(cfg, "name: \"x\\ntouch PWNED #\"\n"
                            "models: [{path: tests/fixtures/models/gpt2, tokens: tests/fixtures/models/gpt2/tokens.jsonl}]\n") == 0);
    char cmd[8192], *o = NULL;
    snprintf(cmd, sizeof cmd, "%s sweep %s --slurm --out %s 2>&1", ll_bin_path(), q(cfg), q(tpath("o1")));
    int rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 2 && o && strstr(o, "control character"), "%d: %s", rc, o ? o : "");
    free(o);
    char sp[1500];
    snprintf(sp, sizeof sp, "%s/sweep.sbatch", tpath("o1"));
    CHECK(!ll_path_exists(sp));
    const char *ok = tpath("ok.yaml");
    REQUIRE(write_text(ok, "models: [{path: tests/fixtures/models/gpt2, tokens: tests/fixtures/models/gpt2/tokens.jsonl}]\n") == 0);
    snprintf(cmd, sizeof cmd, "%s sweep %s --slurm --out %s --sbatch %s 2>&1", ll_bin_path(), q(ok), q(tpath("o2")),
             q("--time=1\ntouch PWNED"));
    rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 2 && o && strstr(o, "--sbatch"), "%d: %s", rc, o ? o : "");
    free(o);
    snprintf(cmd, sizeof cmd, "%s sweep %s --slurm --out %s 2>&1", ll_bin_path(), q(ok), q(tpath("o\n3")));
    rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 2 && o && strstr(o, "#SBATCH"), "%d: %s", rc, o ? o : "");
    free(o);
    CHECK_INT(count_pwned(ll_test_tmpdir()), 0);
}

/* --slurm-chunk INT_MAX: one array task, no overflow (UBSan build). */
TEST(harden_slurm_chunk_int_max) {
    const char *ok = tpath("ok.yaml");
    REQUIRE(write_text(ok, "models: [{path: tests/fixtures/models/gpt2, tokens: tests/fixtures/models/gpt2/tokens.jsonl}]\n"
                           "axes: {position: [next, current, previous]}\n") == 0);
    char cmd[4096], *o = NULL;
    snprintf(cmd, sizeof cmd, "%s sweep %s --slurm --slurm-chunk 2147483647 --out %s 2>&1", ll_bin_path(), q(ok), q(tpath("o")));
    int rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 0 && o && strstr(o, "3 points in 1 array tasks") && !strstr(o, "runtime error"), "%d: %s", rc, o ? o : "");
    free(o);
    CHECK_INT(ll_slurm_tasks(3, 2147483647), 1);
    CHECK_INT(ll_slurm_tasks(2147483647, 2147483647), 1);
    CHECK_INT(ll_slurm_tasks(2147483647, 2), 1073741824);
}

/* The quoting itself: bash gives back every byte string as it was. */
TEST(harden_shell_quote_round_trip) {
    const char *cases[] = {"", "plain", "a b", "'", "''", "a'b'c", "$(touch PWNED)", "`touch PWNED`", "x\ny", "\\'\\",
                           "\"$HOME\"", "!event", "*?[a]", "-n", "tab\there", "é∂"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ll_sbuf b = {0};
        ll_sb_shell_quote(&b, cases[i]);
        char cmd[1024], *o = NULL;
        snprintf(cmd, sizeof cmd, "cd %s && printf '%%s' %s", q(ll_test_tmpdir()), b.s);
        int rc = ll_run_cmd(cmd, &o);
        CHECK_MSG(rc == 0 && o && !strcmp(o, cases[i]), "case %zu: %s -> '%s'", i, b.s, o ? o : "(null)");
        free(o);
        free(b.s);
    }
    CHECK_INT(count_pwned(ll_test_tmpdir()), 0);
}

/* ---- output paths ---------------------------------------------------------- */

static int is_fifo(const char *p) { struct stat st; return lstat(p, &st) == 0 && S_ISFIFO(st.st_mode); }

/* A FIFO, a device, a dangling link or a folder as an output: refused before
 * any work (exit 2, no table), the thing left as it was. */
TEST(harden_outputs_never_replace_special_files) {
    const char *fifo = tpath("fifo");
    REQUIRE(mkfifo(fifo, 0644) == 0);
    const char *m = "tests/fixtures/models/gpt2", *t = "tests/fixtures/models/gpt2/tokens.jsonl";
    char cmd[8192], *o = NULL;
    /* bench --out a FIFO */
    snprintf(cmd, sizeof cmd, "%s bench --model %s --tokens %s --no-peaks -r 1 --warmup 0 --out %s 2>&1", ll_bin_path(), m, t, q(fifo));
    int rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 2 && o && strstr(o, "FIFO") && !strstr(o, "tokens/s"), "bench --out FIFO: %d: %s", rc, o ? o : "");
    free(o);
    CHECK(is_fifo(fifo));
    /* bench --out a folder */
    snprintf(cmd, sizeof cmd, "%s bench --model %s --tokens %s --no-peaks -r 1 --warmup 0 --out %s 2>&1", ll_bin_path(), m, t,
             q(ll_test_tmpdir()));
    rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 2 && o && strstr(o, "folder") && !strstr(o, "tokens/s"), "bench --out DIR: %d: %s", rc, o ? o : "");
    free(o);
    /* run --dump-hidden a FIFO, a device: a private copy of /dev/null made
     * here (never the real one: a binary with the bug, run as root, would
     * replace it for the whole machine) */
    const char *dev = tpath("null-device");
    int have_dev = mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0;
    const char *dumps[] = {fifo, dev};
    for (int i = 0; i < 1 + have_dev; i++) {
        char extra[1600];
        snprintf(extra, sizeof extra, "--dump-hidden %s", q(dumps[i]));
        rc = ll_test_run_job(NULL, 0, m, t, tpath("out2"), extra, &o);
        CHECK_MSG(rc == 2 && o && strstr(o, "not a regular file"), "--dump-hidden %s: %d: %s", dumps[i], rc, o ? o : "");
        free(o);
        char lj[1600];
        snprintf(lj, sizeof lj, "%s/law.json", tpath("out2"));
        CHECK(!ll_path_exists(lj));
    }
    CHECK(is_fifo(fifo));
    struct stat st;
    CHECK(!have_dev || (lstat(dev, &st) == 0 && S_ISCHR(st.st_mode)));
    /* run --out a dangling link */
    const char *dl = tpath("dangling");
    REQUIRE(symlink(tpath("nowhere/at/all"), dl) == 0);
    rc = ll_test_run_job(NULL, 0, m, t, q(dl), NULL, &o);
    CHECK_MSG(rc == 2 && o && strstr(o, "symbolic link to nothing") && !strstr(o, "entry"), "run --out dangling: %d: %s", rc, o ? o : "");
    free(o);
    /* the library: an atomic write onto a FIFO is refused, the FIFO stays */
    CHECK(ll_write_file_atomic(fifo, "x", 1) != 0 && strstr(ll_last_error(), "FIFO"));
    CHECK(is_fifo(fifo));
    CHECK(ll_output_replaceable(dl) != 0);
    CHECK(ll_output_replaceable(tpath("new-file")) == 0);
}

/* ---- stores ---------------------------------------------------------------------- */

/* A device, a FIFO, another program's SQLite file, a row without a key:
 * refused when the store is opened (before any point), nothing created. */
TEST(harden_store_refuses_devices_and_foreign_files) {
    /* a private device node (mknod needs root; a FIFO below otherwise) */
    char dj[1500], dw[1500];
    const char *dev = tpath("null-device");
    if (mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0) {
        CHECK(ll_store_open(dev, NULL) == NULL && strstr(ll_last_error(), "device"));
        snprintf(dj, sizeof dj, "%s-journal", dev);
        snprintf(dw, sizeof dw, "%s-wal", dev);
        CHECK(!ll_path_exists(dj) && !ll_path_exists(dw));
        struct stat st;
        CHECK(lstat(dev, &st) == 0 && S_ISCHR(st.st_mode));
    }
    const char *fifo = tpath("fifo.sqlite");
    REQUIRE(mkfifo(fifo, 0644) == 0);
    CHECK(ll_store_open(fifo, NULL) == NULL && strstr(ll_last_error(), "FIFO"));
    CHECK(ll_store_open_readonly(fifo) == NULL);
    /* another program's database */
    const char *foreign = tpath("foreign.sqlite");
    sqlite3 *db;
    REQUIRE(sqlite3_open(foreign, &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE accounts(id INTEGER, balance REAL); INSERT INTO accounts VALUES(1, 2.5);", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(ll_store_open(foreign, NULL) == NULL && strstr(ll_last_error(), "not a layerlaw results store"));
    REQUIRE(sqlite3_open(foreign, &db) == SQLITE_OK);
    sqlite3_stmt *st;
    int n = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    CHECK_INT(n, 1); /* no tables of ours added */
    /* a store with a NULL key */
    const char *nk = tpath("nullkey.sqlite");
    ll_store *s = ll_store_open(nk, NULL);
    REQUIRE(s);
    ll_store_close(s);
    REQUIRE(sqlite3_open(nk, &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "INSERT INTO points(key, config, result) VALUES(NULL, '{}', '{}')", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(ll_store_open(nk, NULL) == NULL && strstr(ll_last_error(), "without a text key"));
    CHECK(ll_store_open_readonly(nk) == NULL);
}

/* The same through `layerlaw sweep`: a NULL key once crashed it (SIGSEGV). */
TEST(harden_sweep_store_with_null_key) {
    const char *cfg = tpath("s.yaml");
    REQUIRE(write_text(cfg, "models: [{path: tests/fixtures/models/gpt2, tokens: tests/fixtures/models/gpt2/tokens.jsonl}]\n"
                            "options: {backend: cpu, threads: 1}\n") == 0);
    const char *store = tpath("nk.sqlite");
    ll_store *s = ll_store_open(store, NULL);
    REQUIRE(s);
    ll_store_close(s);
    sqlite3 *db;
    REQUIRE(sqlite3_open(store, &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "INSERT INTO points(key, config, result) VALUES(NULL, '{}', '{}')", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    const char *modes[] = {"", "--dry-run"};
    for (int i = 0; i < 2; i++) {
        char cmd[4096], *o = NULL;
        snprintf(cmd, sizeof cmd, "LAYERLAW_QUIET=1 %s sweep %s --out %s --store %s %s 2>&1", ll_bin_path(), q(cfg),
                 q(tpath("out")), q(store), modes[i]);
        int rc = ll_run_cmd(cmd, &o);
        CHECK_MSG(rc == 2 && o && strstr(o, "without a text key") && !strstr(o, "entry"), "%s: %d: %s", modes[i], rc, o ? o : "");
        free(o);
    }
    char lj[1600];
    snprintf(lj, sizeof lj, "%s/points", tpath("out"));
    CHECK(!ll_path_exists(lj)); /* nothing ran */
}

typedef struct { int calls; const char *result; } put_ctx;
static int fake_write(void *ctx, ll_store_record *r) {
    put_ctx *c = ctx;
    c->calls++;
    r->result = cJSON_Parse(c->result);
    return 0;
}

/* Two writers of one key: the second finds the row under the lock and writes
 * nothing (its files would otherwise replace the first's law.json while the
 * store keeps the first's row). */
TEST(harden_store_row_and_files_from_one_run) {
    const char *path = tpath("one.sqlite");
    ll_store *a = ll_store_open(path, "wal"), *b = ll_store_open(path, "wal");
    REQUIRE(a && b);
    cJSON *cfg = cJSON_Parse("{\"x\":1}");
    ll_store_record r = {.key = "k1", .config = cfg, .slope = NAN, .pearson_r = NAN, .decay_ratio = NAN,
                         .tokens_per_s = NAN, .n_params = NAN, .seconds = 1};
    put_ctx c1 = {0, "{\"who\":\"first\"}"}, c2 = {0, "{\"who\":\"second\"}"};
    CHECK_INT(ll_store_put_locked(a, &r, fake_write, &c1), 1);
    cJSON_Delete((cJSON *)r.result);
    r.result = NULL;
    CHECK_INT(ll_store_put_locked(b, &r, fake_write, &c2), 0);
    CHECK_INT(c1.calls, 1);
    CHECK_INT(c2.calls, 0);
    cJSON *row = ll_store_get(b, "k1");
    const cJSON *res = row ? cJSON_GetObjectItemCaseSensitive(row, "result") : NULL;
    const cJSON *who = res ? cJSON_GetObjectItemCaseSensitive(res, "who") : NULL;
    CHECK(cJSON_IsString(who) && !strcmp(who->valuestring, "first"));
    cJSON_Delete(row);
    CHECK(ll_store_get(b, "nope") == NULL);
    cJSON_Delete(cfg);
    ll_store_close(a);
    ll_store_close(b);
}

/* ---- sweep files ------------------------------------------------------------------- */

static ll_sweep *load_text(const char *name, const char *text) {
    const char *p = tpath(name);
    if (write_text(p, text) != 0) return NULL;
    return ll_sweep_load(p);
}

/* 8 axes of 256 values: 2^64 points once wrapped to 0 and "succeeded". */
TEST(harden_sweep_point_count_overflow) {
    ll_sbuf b = {0};
    ll_sb_puts(&b, "models: [{path: m, data: d.txt}]\naxes:\n");
    const char *names[] = {"seed", "max_length", "batch_size", "batch_tokens", "fit_from", "device", "threads", "ridge"};
    for (int a = 0; a < 8; a++) {
        ll_sb_printf(&b, "  %s: [", names[a]);
        for (int v = 1; v <= 256; v++) ll_sb_printf(&b, "%s%d", v > 1 ? "," : "", v);
        ll_sb_puts(&b, "]\n");
    }
    ll_sweep *s = load_text("over.yaml", b.s);
    free(b.s);
    CHECK_MSG(!s && strstr(ll_last_error(), "more than 1000000 points"), "%s", s ? "loaded" : ll_last_error());
    ll_sweep_free(s);
}

/* Aliases: a 600-byte "billion laughs" once grew to 1.4 GB; now refused at a
 * bound linear in the file's size.  Ordinary aliases still work. */
TEST(harden_yaml_alias_bomb_bounded) {
    ll_sbuf b = {0};
    ll_sb_puts(&b, "a: &a [x, x, x, x, x, x, x, x, x]\n");
    for (char c = 'b'; c <= 'i'; c++) {
        ll_sb_printf(&b, "%c: &%c [", c, c);
        for (int k = 0; k < 9; k++) ll_sb_printf(&b, "%s*%c", k ? ", " : "", c - 1);
        ll_sb_puts(&b, "]\n");
    }
    cJSON *j = ll_yaml_parse(b.s, b.n, "bomb.yaml");
    CHECK_MSG(!j && strstr(ll_last_error(), "alias"), "%s", j ? "parsed" : ll_last_error());
    cJSON_Delete(j);
    free(b.s);
    ll_sweep *s = load_text("alias.yaml", "comment: &p [next, current]\nmodels: [{path: m1, tokens: t.jsonl}]\naxes: {position: *p}\n");
    CHECK_MSG(s && s->n_points == 2, "%s", s ? "wrong count" : ll_last_error());
    ll_sweep_free(s);
    const char *ok = "a: &x [1, 2]\nb: *x\nc: *x\n";
    j = ll_yaml_parse(ok, strlen(ok), "ok.yaml");
    REQUIRE_MSG(j, "%s", ll_last_error());
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "c")), 2);
    cJSON_Delete(j);
}

/* Deep flow nesting: 200 KB of '[' once took 37 s in libyaml; refused at
 * depth 65 as soon as it is seen.  Depth 60 is fine. */
TEST(harden_yaml_deep_nesting_bounded) {
    size_t n = 100000;
    char *t = ll_xmalloc(2 * n + 8);
    memcpy(t, "x: ", 3);
    memset(t + 3, '[', n);
    memset(t + 3 + n, ']', n);
    t[3 + 2 * n] = '\n';
    cJSON *j = ll_yaml_parse(t, 3 + 2 * n + 1, "deep.yaml");
    CHECK_MSG(!j && strstr(ll_last_error(), "nesting deeper than 64"), "%s", j ? "parsed" : ll_last_error());
    cJSON_Delete(j);
    memset(t + 3, '[', 60);
    memset(t + 63, ']', 60);
    t[123] = '\n';
    j = ll_yaml_parse(t, 124, "ok.yaml");
    CHECK_MSG(j != NULL, "%s", ll_last_error());
    cJSON_Delete(j);
    free(t);
    /* a long flat mapping: duplicates found (sorted keys), the line named */
    ll_sbuf b = {0};
    for (int i = 0; i < 20000; i++) ll_sb_printf(&b, "k%d: %d\n", i, i);
    ll_sb_puts(&b, "k7: 1\n");
    j = ll_yaml_parse(b.s, b.n, "dup.yaml");
    CHECK_MSG(!j && strstr(ll_last_error(), "dup.yaml: line 20001: duplicate key 'k7'"), "%s", j ? "parsed" : ll_last_error());
    cJSON_Delete(j);
    free(b.s);
}

/* summary.csv quotes what needs it (RFC 4180): a model named x,"y". */
TEST(harden_sweep_summary_csv_quoted) {
    const char *cfg = tpath("csv.yaml");
    REQUIRE(write_text(cfg, "models: [{path: no/such/model, name: 'x,\"y\"', tokens: t.jsonl}]\n") == 0);
    char cmd[4096], *o = NULL;
    snprintf(cmd, sizeof cmd, "LAYERLAW_QUIET=1 %s sweep %s --out %s --quiet 2>&1", ll_bin_path(), q(cfg), q(tpath("out")));
    int rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 0, "%d: %s", rc, o ? o : "");
    free(o);
    char p[1600];
    snprintf(p, sizeof p, "%s/summary.csv", tpath("out"));
    size_t n;
    char *t = ll_read_file(p, &n);
    REQUIRE(t);
    CHECK_MSG(strstr(t, ",\"x,\"\"y\"\"\",") != NULL, "%s", t);
    /* every line has the header's number of fields outside quotes */
    int fields = 0, line_fields = 1, inq = 0, bad = 0, lines = 0;
    for (const char *c = t; *c; c++) {
        if (*c == '"') inq = !inq;
        else if (!inq && *c == ',') line_fields++;
        else if (!inq && *c == '\n') {
            if (!lines) fields = line_fields;
            else bad |= line_fields != fields;
            lines++;
            line_fields = 1;
        }
    }
    CHECK(lines == 2 && !bad);
    free(t);
}

/* ---- the hash cache ------------------------------------------------------------------- */

/* A file rewritten with its size and mtime put back: hashed again (the cache
 * is keyed on ctime and inode too). */
TEST(harden_hash_cache_rehashes_rewritten_file) {
    setenv("LAYERLAW_CACHE", tpath("cache"), 1);
    const char *f = tpath("model.bin");
    REQUIRE(write_text(f, "weights version one") == 0);
    struct stat st;
    REQUIRE(stat(f, &st) == 0);
    char h1[65], h2[65], want[65];
    int cached = -1;
    REQUIRE(ll_sha256_file_cached(f, h1, &cached) == 0);
    CHECK_INT(cached, 0);
    REQUIRE(ll_sha256_file_cached(f, h2, &cached) == 0);
    CHECK_INT(cached, 1);
    usleep(20000); /* a later ctime */
    REQUIRE(write_text(f, "weights version TWO") == 0);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    REQUIRE(utimensat(AT_FDCWD, f, ts, 0) == 0);
    struct stat st2;
    REQUIRE(stat(f, &st2) == 0 && st2.st_size == st.st_size && st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec &&
            st2.st_mtim.tv_sec == st.st_mtim.tv_sec);
    REQUIRE(ll_sha256_file(f, want) == 0);
    REQUIRE(ll_sha256_file_cached(f, h2, &cached) == 0);
    CHECK_MSG(!strcmp(h2, want) && cached == 0, "stale hash %s (want %s, from cache %d)", h2, want, cached);
    CHECK(strcmp(h1, h2) != 0);
}

/* Poisoned or malformed cache lines are not trusted; a cache that is a FIFO
 * or a link to /dev/zero does not hang the run (alarm: 20 s). */
TEST(harden_hash_cache_lines_and_special_files) {
    const char *dir = tpath("c2");
    REQUIRE(ll_mkdirs(dir) == 0);
    setenv("LAYERLAW_CACHE", dir, 1);
    const char *f = tpath("data.txt");
    REQUIRE(write_text(f, "some data") == 0);
    char want[65], h[65], abs[4096];
    REQUIRE(ll_sha256_file(f, want) == 0 && realpath(f, abs));
    struct stat st;
    REQUIRE(stat(f, &st) == 0);
    long long mt = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    long long ct = (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
    const char *bad_hex[] = {"AAAA", "aaaa", "zzzz"}; /* upper case, 63 digits, not hex */
    ll_sbuf b = {0};
    for (int i = 0; i < 3; i++) {
        char hx[70];
        memset(hx, bad_hex[i][0], 64);
        hx[i == 1 ? 63 : 64] = 0;
        ll_sb_printf(&b, "%s\t%lld\t%lld\t%lld\t%lld\t%lld\t%s\n", hx, (long long)st.st_dev, (long long)st.st_ino,
                     (long long)st.st_size, mt, ct, abs);
    }
    /* the old format (size, mtime only) is not trusted either */
    ll_sb_printf(&b, "%064d\t%lld\t%lld\t%s\n", 0, (long long)st.st_size, mt, abs);
    const char *cache = ll_hash_cache_path();
    REQUIRE(write_text(cache, b.s) == 0);
    free(b.s);
    int cached = -1;
    REQUIRE(ll_sha256_file_cached(f, h, &cached) == 0);
    CHECK_MSG(!strcmp(h, want) && cached == 0, "trusted a bad line: %s", h);
    /* special files as the cache */
    alarm(20);
    unlink(cache);
    REQUIRE(mkfifo(cache, 0644) == 0);
    CHECK(ll_sha256_file_cached(f, h, &cached) == 0 && !strcmp(h, want) && cached == 0);
    struct stat cs;
    CHECK(lstat(cache, &cs) == 0 && S_ISFIFO(cs.st_mode));
    unlink(cache);
    REQUIRE(symlink("/dev/zero", cache) == 0);
    CHECK(ll_sha256_file_cached(f, h, &cached) == 0 && !strcmp(h, want) && cached == 0);
    alarm(0);
}

/* ---- ranks ------------------------------------------------------------------------------- */

/* Under mpirun a bad --out was checked on rank 0 only: it stopped and the
 * other ranks waited forever.  Now every rank stops (exit 2, well inside the
 * 120 s limit); ranks given different token files are refused. */
TEST(harden_mpi_checks_end_every_rank) {
    REQUIRE_MSG(ll_test_have_mpi(), "%s was built without MPI", ll_bin_path());
    const char *afile = tpath("afile");
    REQUIRE(write_text(afile, "x") == 0);
    char cmd[8192], *o = NULL;
    snprintf(cmd, sizeof cmd,
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader ASAN_OPTIONS=detect_leaks=0 "
             "timeout -s KILL 120 mpirun --oversubscribe -np 2 %s run --backend cpu --threads 1 --model tests/fixtures/models/gpt2 "
             "--tokens tests/fixtures/models/gpt2/tokens.jsonl --out %s --quiet 2>&1", ll_bin_path(), q(afile));
    int rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 2 && o && strstr(o, "is not a folder"), "bad --out under 2 ranks: %d: %s", rc, o ? o : "");
    free(o);
    /* rank 1 reads a token file that lacks the last document */
    const char *t2 = tpath("t2.jsonl");
    snprintf(cmd, sizeof cmd, "head -n -1 tests/fixtures/models/gpt2/tokens.jsonl > %s", q(t2));
    REQUIRE(ll_run_cmd(cmd, NULL) == 0);
    snprintf(cmd, sizeof cmd,
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader ASAN_OPTIONS=detect_leaks=0 "
             "timeout -s KILL 120 mpirun --oversubscribe -np 2 sh -c 't=tests/fixtures/models/gpt2/tokens.jsonl; "
             "[ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && t=%s; exec %s run --backend cpu --threads 1 --model tests/fixtures/models/gpt2 "
             "--tokens $t --out %s --quiet' 2>&1", t2, ll_bin_path(), tpath("out"));
    rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 2 && o && strstr(o, "rank 1: its command line differs from rank 0's"), "different tokens per rank: %d: %s",
              rc, o ? o : "");
    free(o);
    /* the same path on every rank, another content on rank 1 (a node-local
     * file): a folder per rank, entered before the run */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/r0 %s/r1 && cp tests/fixtures/models/gpt2/tokens.jsonl %s/r0/t.jsonl && cp %s %s/r1/t.jsonl",
             ll_test_tmpdir(), ll_test_tmpdir(), ll_test_tmpdir(), t2, ll_test_tmpdir());
    REQUIRE(ll_run_cmd(cmd, NULL) == 0);
    snprintf(cmd, sizeof cmd,
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader ASAN_OPTIONS=detect_leaks=0 "
             "timeout -s KILL 120 mpirun --oversubscribe -np 2 sh -c 'b=$(realpath %s); m=$(realpath tests/fixtures/models/gpt2); "
             "cd %s/r$OMPI_COMM_WORLD_RANK && exec $b run --backend cpu --threads 1 --model $m --tokens t.jsonl --out %s --quiet' 2>&1",
             ll_bin_path(), ll_test_tmpdir(), tpath("out"));
    rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 2 && o && strstr(o, "rank 1: t.jsonl (input 2) differs from rank 0's"), "same path, other content: %d: %s",
              rc, o ? o : "");
    free(o);
    char lj[1600];
    snprintf(lj, sizeof lj, "%s/law.json", tpath("out"));
    CHECK(!ll_path_exists(lj));
}

/* The digest: same path, other content -> another digest; argv counts. */
TEST(harden_inputs_digest) {
    const char *f = tpath("tok.jsonl");
    char *argv[] = {"run", "--tokens", (char *)f};
    setenv("LAYERLAW_CACHE", tpath("cache"), 1);
    REQUIRE(write_text(f, "[1, 2, 3]\n") == 0);
    const char *files[] = {f, NULL, "tests/fixtures/models/gpt2"};
    char h1[65], h2[65], h3[65];
    REQUIRE(ll_dist_inputs_digest(3, argv, files, 3, h1) == 0);
    usleep(20000);
    REQUIRE(write_text(f, "[1, 2, 4]\n") == 0);
    REQUIRE(ll_dist_inputs_digest(3, argv, files, 3, h2) == 0);
    REQUIRE(ll_dist_inputs_digest(2, argv, files, 3, h3) == 0);
    CHECK(strcmp(h1, h2) != 0);
    CHECK(strcmp(h2, h3) != 0);
    CHECK_INT(ll_dist_check_job(NULL, 0, 3, argv, files, 3), 0); /* one process: nothing to agree */
    CHECK_INT(ll_dist_check_job(NULL, 2, 3, argv, files, 3), 2);
}

/* ---- small bounds ------------------------------------------------------------------------- */

/* An hwloc XML with os_index 2^32-1 made hwloc allocate 512 MB+. */
TEST(harden_topo_huge_os_index) {
    size_t n;
    char *x = ll_read_file("tests/fixtures/topo/2s8g.xml", &n);
    REQUIRE(x);
    char *pu = strstr(x, "type=\"PU\" os_index=\"0\"");
    REQUIRE(pu);
    ll_sbuf b = {0};
    ll_sb_add(&b, x, (size_t)(pu - x));
    ll_sb_puts(&b, "type=\"PU\" os_index=\"4294967295\"");
    ll_sb_puts(&b, pu + strlen("type=\"PU\" os_index=\"0\""));
    const char *p = tpath("big.xml");
    REQUIRE(ll_write_file_atomic(p, b.s, b.n) == 0);
    free(b.s);
    free(x);
    ll_topo *t = ll_topo_load(p);
    CHECK_MSG(!t && strstr(ll_last_error(), "os_index"), "%s", t ? "loaded" : ll_last_error());
    ll_topo_free(t);
    t = ll_topo_load("tests/fixtures/topo/2s8g.xml");
#ifdef LL_HAVE_HWLOC
    CHECK_MSG(t != NULL, "%s", ll_last_error());
#endif
    ll_topo_free(t);
}

/* A rank without documents: an empty window (no qsort or memcpy on NULL;
 * the UBSan builds report them). */
TEST(harden_batcher_rank_without_documents) {
    ll_batcher *b = ll_batcher_new(4, 64, 0, 0);
    REQUIRE(b);
    int64_t off0[1] = {0};
    ll_batch bt;
    ll_batcher_window(b, NULL, off0, 0, 0);
    CHECK_INT(ll_batcher_next(b, &bt), 0);
    int64_t off[4] = {0, 0, 0, 0}; /* three empty documents */
    ll_batcher_window(b, NULL, off, 3, 0);
    CHECK_INT(ll_batcher_next(b, &bt), 0);
    ll_batcher_free(b);
}
