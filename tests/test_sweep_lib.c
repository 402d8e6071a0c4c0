/* Sweeps, library level: the YAML reader, point expansion and keys, --only
 * filters, the SQLite results store (concurrent writers, kill -9 while
 * writing), SHA-256 provenance and its cache.
 * Oracles: FIPS 180-2's SHA-256 test vector, coreutils sha256sum, SQLite's
 * own integrity_check, and hand-counted expansions. */
#include <cJSON.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "core/ll_util.h"
#include "report/provenance.h"
#include "sweep/store.h"
#include "sweep/sweep.h"

static const char *write_tmp(const char *name, const char *text) {
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ & 3];
    ll_path_join(p, 1024, ll_test_tmpdir(), name);
    FILE *f = fopen(p, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return p;
}

TEST(sweep_sha256_fips_vector) {
    char hex[65];
    ll_sha256_buf("abc", 3, hex); /* FIPS 180-2, appendix B.1 */
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const char *p = write_tmp("abc.txt", "abc");
    REQUIRE(p);
    REQUIRE(ll_sha256_file(p, hex) == 0);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK(ll_sha256_file("/nonexistent/x", hex) == -1);
    CHECK(strstr(ll_last_error(), "/nonexistent/x") != NULL);
}

TEST(sweep_yaml_scalars_and_errors) {
    const char *y = "a: 1\nb: 2.5e-3\nc: ~\nd: true\ne: 'true'\nf: next-next\ng: [1, x, null]\nh: {k: v}\ni: \"007\"\nj: -4\n";
    cJSON *j = ll_yaml_parse(y, strlen(y), "t.yaml");
    REQUIRE(j);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "a")) && cJSON_GetObjectItem(j, "a")->valuedouble == 1);
    CHECK_NEAR(cJSON_GetObjectItem(j, "b")->valuedouble, 2.5e-3, 0);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "c")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "d")));
    CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "e"))); /* quoted: a string */
    CHECK(!strcmp(cJSON_GetObjectItem(j, "f")->valuestring, "next-next"));
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "g")), 3);
    CHECK(cJSON_IsString(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "g"), 1)));
    CHECK(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "g"), 2)));
    CHECK(!strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "h"), "k")->valuestring, "v"));
    CHECK(!strcmp(cJSON_GetObjectItem(j, "i")->valuestring, "007"));
    CHECK(cJSON_GetObjectItem(j, "j")->valuedouble == -4);
    cJSON_Delete(j);
    const char *dup = "a: 1\nb: 2\na: 3\n";
    CHECK(ll_yaml_parse(dup, strlen(dup), "dup.yaml") == NULL);
    CHECK(strstr(ll_last_error(), "dup.yaml: line 3: duplicate key 'a'") != NULL);
    const char *bad = "a: [1, 2\nb: 3\n";
    CHECK(ll_yaml_parse(bad, strlen(bad), "bad.yaml") == NULL);
    CHECK(strstr(ll_last_error(), "bad.yaml: line") != NULL);
    const char *js = "{\"a\": [1, 2], \"b\": \"x\"}";
    j = ll_yaml_parse(js, strlen(js), "t.json");
    REQUIRE(j);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "a")), 2);
    cJSON_Delete(j);
}

static const char *SWEEP_YAML =
    "name: t\n"
    "out: /tmp/never\n"
    "models:\n"
    "  - m1\n"
    "  - {path: m2, name: second, tokens: own.jsonl}\n"
    "  - {path: 'runs/{rev}/ckpt', revisions: [step1, 2]}\n"
    "data:\n"
    "  - {tokens: a.jsonl}\n"
    "  - {data: b.txt, tokenizer: tok.json, split: paragraph}\n"
    "axes:\n"
    "  position: [next, current, previous]\n"
    "  norm: [initialized, none]\n"
    "options: {batch_size: 8}\n";

TEST(sweep_expand_points_and_keys) {
    const char *p = write_tmp("s.yaml", SWEEP_YAML);
    ll_sweep *s = ll_sweep_load(p);
    REQUIRE_MSG(s, "%s", ll_last_error());
    /* hand count: m1 and the 2 revisions cross 2 data; m2 has its own data;
     * each crossed with 3 positions x 2 norms */
    CHECK_INT(s->n_points, (1 * 2 + 1 * 1 + 2 * 2) * 3 * 2);
    CHECK_INT(s->n_axes, 3);
    CHECK(!strcmp(s->axis_names[0], "data") && !strcmp(s->axis_names[1], "position") && !strcmp(s->axis_names[2], "norm"));
    /* order: models, data, then axes with the first outermost */
    const ll_sweep_point *p0 = &s->points[0], *p1 = &s->points[1], *p2 = &s->points[2];
    CHECK(!strcmp(p0->model_name, "m1") && !strcmp(p0->data_name, "a"));
    CHECK(!strcmp(cJSON_GetObjectItem(p0->axes, "norm")->valuestring, "initialized"));
    CHECK(!strcmp(cJSON_GetObjectItem(p1->axes, "norm")->valuestring, "none"));
    CHECK(!strcmp(cJSON_GetObjectItem(p2->axes, "position")->valuestring, "current"));
    CHECK(!strcmp(s->points[6].data_name, "b"));
    CHECK(!strcmp(s->points[12].model_name, "second") && !strcmp(s->points[12].data_name, "own"));
    CHECK(!strcmp(s->points[18].model_name, "runs@step1") || !strcmp(s->points[18].model_name, "ckpt@step1"));
    CHECK(!strcmp(s->points[18].model_path, "runs/step1/ckpt"));
    CHECK(!strcmp(s->points[30].model_path, "runs/2/ckpt"));
    /* resolved configuration: defaults filled in, options applied */
    const cJSON *c = s->points[6].config;
    CHECK(cJSON_GetObjectItem(c, "batch_size")->valuedouble == 8);
    CHECK(cJSON_GetObjectItem(c, "max_length")->valuedouble == 512);
    CHECK(!strcmp(cJSON_GetObjectItem(c, "split")->valuestring, "paragraph"));
    CHECK(!strcmp(cJSON_GetObjectItem(c, "tokenizer")->valuestring, "tok.json"));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(c, "shuffle_vocab")));
    /* keys: unique, and the first 16 hex digits of SHA-256 of the canonical config */
    for (int i = 0; i < s->n_points; i++)
        for (int j = 0; j < i; j++) CHECK(strcmp(s->points[i].key, s->points[j].key));
    char *canon = cJSON_PrintUnformatted(p0->config), hex[65];
    ll_sha256_buf(canon, strlen(canon), hex);
    CHECK(!strncmp(hex, p0->key, 16));
    /* the canonical text written by hand (field order, defaults) */
    const char *hand = "{\"model\":\"m1\",\"model_kind\":\"dir\",\"tokens\":\"a.jsonl\",\"data\":null,\"tokenizer\":null,"
                       "\"split\":\"auto\",\"text_field\":\"text\",\"docs\":null,\"seed\":0,\"max_length\":512,"
                       "\"batch_size\":8,\"batch_tokens\":4096,\"keep_order\":false,\"position\":\"next\","
                       "\"norm\":\"initialized\",\"norm_last\":false,\"fit_from\":1,\"ridge\":0,\"shuffle_vocab\":null,"
                       "\"embedding_entry\":false,\"measure\":\"pr\",\"backend\":\"auto\",\"device\":0,"
                       "\"compute\":\"auto\",\"threads\":0}";
    CHECK_MSG(!strcmp(canon, hand), "canonical config:\n%s\nexpected\n%s", canon, hand);
    free(canon);
    /* the same configuration spelt differently (JSON, explicit defaults) has the same key */
    const char *js = "{\"models\": [\"m1\"], \"data\": {\"tokens\": \"a.jsonl\"},"
                     " \"options\": {\"max_length\": 512, \"batch_size\": 8, \"docs\": 0, \"norm\": \"initialized-LN\"}}";
    ll_sweep *s2 = ll_sweep_load(write_tmp("s.json", js));
    REQUIRE_MSG(s2, "%s", ll_last_error());
    CHECK_INT(s2->n_points, 1);
    CHECK(!strcmp(s2->points[0].key, p0->key));
    ll_sweep_free(s2);
    /* filters */
    char *f1[] = {"position=next,previous", "model=m1"};
    int n = 0;
    for (int i = 0; i < s->n_points; i++) n += ll_sweep_point_matches(s, &s->points[i], f1, 2) == 1;
    CHECK_INT(n, 2 * 2 * 2); /* m1: 2 data x 2 positions x 2 norms */
    char *f2[] = {"nosuch=1"};
    CHECK(ll_sweep_point_matches(s, &s->points[0], f2, 1) == -1);
    char kf[32];
    snprintf(kf, sizeof kf, "key=%.6s", s->points[5].key);
    char *f3[] = {kf};
    CHECK(ll_sweep_point_matches(s, &s->points[5], f3, 1) == 1);
    ll_sweep_free(s);
}

TEST(sweep_file_errors_name_the_problem) {
    struct { const char *yaml, *msg; } cases[] = {
        {"models: [m]\ndata: {tokens: t}\naxes: {positoin: [next]}\n", "unknown axis 'positoin'"},
        {"models: [m]\ndata: {tokens: t}\naxes: {position: [sideways]}\n", "position: 'sideways' is not one of next, current"},
        {"models: [m]\ndata: {tokens: t}\naxes: {max_length: [-1]}\n", "max_length: expected a whole number"},
        {"models: [m]\ndata: {tokens: t}\naxes: {position: [next]}\noptions: {position: next}\n", "both an option and an axis"},
        {"models: [m]\n", "has no data"},
        {"models: [m, m]\ndata: {tokens: t}\n", "same configuration"},
        {"models: [m]\ndata: {tokens: t, data: u}\n", "exactly one of tokens"},
        {"models: [m]\ndata: {tokens: t}\naxes: {measure: [fuzzyness]}\n", "measure: 'fuzzyness' is not one of pr, fuzziness, onehot (did you mean fuzziness?)"},
        {"models: [m]\ndata: {tokens: t}\noptions: {fold: 3}\n", "unknown option 'fold' (did you mean 'folds'?"},
        {"models: [m]\ndata: {tokens: t}\noptions: {folds: 1}\n", "folds: 1 is out of range (2..32)"},
        {"models: [{path: m, weights: trained}]\ndata: {tokens: t}\n", "weights: 'trained' is not one of checkpoint, random"},
        {"modles: [m]\n", "unknown key 'modles'"},
        {"models: [m]\ndata: {tokens: t}\naxes: {seed: [0, 1]}\n", "docs and seed sample documents"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = write_tmp("e.yaml", cases[i].yaml);
        ll_sweep *s = ll_sweep_load(p);
        CHECK_MSG(!s, "case %zu accepted", i);
        ll_sweep_free(s);
        CHECK_MSG(strstr(ll_last_error(), cases[i].msg) && strstr(ll_last_error(), "e.yaml"), "case %zu: '%s'", i,
                  ll_last_error());
    }
}

static cJSON *payload(int writer, int i, int big) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "writer", writer);
    cJSON_AddNumberToObject(o, "i", i);
    cJSON *a = cJSON_AddArrayToObject(o, "values");
    for (int k = 0; k < big; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber(writer * 1e6 + i * 1e3 + k));
    return o;
}

static int put_one(ll_store *st, int writer, int i, int big) {
    char key[64];
    snprintf(key, sizeof key, "w%d-%06d", writer, i);
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "key", key);
    cJSON *res = payload(writer, i, big);
    /* the record carries the SHA-256 of its own result: a torn record cannot match */
    char *txt = cJSON_PrintUnformatted(res), hex[65];
    ll_sha256_buf(txt, strlen(txt), hex);
    free(txt);
    cJSON_AddStringToObject(cfg, "result_sha256", hex);
    ll_store_record r = {.key = key, .sweep = "t", .model = "m", .config = cfg, .result = res,
                         .slope = -0.1, .pearson_r = -0.99, .decay_ratio = 0.8, .tokens_per_s = i, .n_params = 1, .seconds = 0};
    int rc = ll_store_put(st, &r);
    cJSON_Delete(cfg);
    cJSON_Delete(res);
    return rc;
}

/* every record whole: its result hashes to the value stored beside it */
static int check_records(ll_store *st, long *n_out) {
    cJSON *all = ll_store_dump(st);
    if (!all) return -1;
    int bad = 0;
    long n = 0;
    for (cJSON *x = all->child; x; x = x->next, n++) {
        cJSON *res = cJSON_GetObjectItem(x, "result"), *cfg = cJSON_GetObjectItem(x, "config");
        if (!cJSON_IsObject(res) || !cJSON_IsObject(cfg)) { bad++; continue; }
        char *txt = cJSON_PrintUnformatted(res), hex[65];
        ll_sha256_buf(txt, strlen(txt), hex);
        free(txt);
        const cJSON *h = cJSON_GetObjectItem(cfg, "result_sha256");
        if (!cJSON_IsString(h) || strcmp(h->valuestring, hex)) bad++;
    }
    cJSON_Delete(all);
    *n_out = n;
    return bad ? -1 : 0;
}

TEST(sweep_store_put_has_dump) {
    char path[1100];
    ll_path_join(path, sizeof path, ll_test_tmpdir(), "r.sqlite");
    ll_store *st = ll_store_open(path, NULL);
    REQUIRE_MSG(st, "%s", ll_last_error());
    CHECK_INT(ll_store_has(st, "w0-000001"), 0);
    CHECK_INT(put_one(st, 0, 1, 3), 1);
    CHECK_INT(ll_store_has(st, "w0-000001"), 1);
    CHECK_INT(put_one(st, 0, 1, 3), 0); /* a second insert of the key keeps the first */
    CHECK_INT(put_one(st, 0, 2, 3), 1);
    CHECK_INT(ll_store_count(st), 2);
    long n;
    CHECK(check_records(st, &n) == 0);
    CHECK_INT(n, 2);
    CHECK(ll_store_put_failure(st, "w0-000003", 2, "x: missing") == 0);
    CHECK_INT(ll_store_has(st, "w0-000003"), 0); /* a failure is not done */
    CHECK_INT(ll_store_failed(st, "w0-000003"), 1);
    CHECK_INT(ll_store_failed(st, "w0-000001"), 0);
    CHECK(ll_store_check(st) == 0);
    CHECK(!strcmp(ll_store_journal(st), "wal"));
    ll_store_close(st);
    st = ll_store_open(path, "delete"); /* the mode is kept from creation */
    REQUIRE(st);
    CHECK(!strcmp(ll_store_journal(st), "wal"));
    ll_store_close(st);
    /* not a database */
    const char *junk = write_tmp("junk.sqlite", "this is not sqlite, it is a text file of some length..............\n");
    ll_store *bad = ll_store_open(junk, NULL);
    CHECK(!bad);
    CHECK(strstr(ll_last_error(), "junk.sqlite") != NULL);
    ll_store_close(bad);
}

/* Several processes write the same store at once: nothing lost. */
static void concurrent_writers(const char *journal) {
    char path[1100];
    ll_path_join(path, sizeof path, ll_test_tmpdir(), "c.sqlite");
    ll_store *st = ll_store_open(path, journal);
    REQUIRE_MSG(st, "%s", ll_last_error());
    CHECK(!strcmp(ll_store_journal(st), journal));
    ll_store_close(st);
    enum { W = 4, PER = 40 };
    pid_t pids[W];
    for (int w = 0; w < W; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            ll_store *s = ll_store_open(path, journal);
            int ok = s != NULL;
            for (int i = 0; i < PER && ok; i++) ok = put_one(s, w, i, 50) == 1;
            ll_store_close(s);
            _exit(ok ? 0 : 1);
        }
    }
    for (int w = 0; w < W; w++) {
        int stt;
        waitpid(pids[w], &stt, 0);
        CHECK_MSG(WIFEXITED(stt) && WEXITSTATUS(stt) == 0, "writer %d failed", w);
    }
    st = ll_store_open(path, journal);
    REQUIRE(st);
    long n;
    CHECK(check_records(st, &n) == 0);
    CHECK_INT(n, W * PER);
    CHECK(ll_store_check(st) == 0);
    ll_store_close(st);
}
TEST(sweep_store_concurrent_writers_wal) { concurrent_writers("wal"); }
TEST(sweep_store_concurrent_writers_delete) { concurrent_writers("delete"); }

/* kill -9 a writer at random moments: the store stays consistent, every
 * record is whole, and what was committed before stays. */
TEST(sweep_store_survives_sigkill) {
    char path[1100];
    ll_path_join(path, sizeof path, ll_test_tmpdir(), "k.sqlite");
    ll_store *st = ll_store_open(path, NULL);
    REQUIRE(st);
    ll_store_close(st);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    long before = 0;
    for (int round = 0; round < 8; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            ll_store *s = ll_store_open(path, NULL);
            for (int i = 0; s; i++) put_one(s, round, i, 2000); /* ~30 KB records until killed */
            _exit(1);
        }
        usleep(20000 + (useconds_t)(rand() % 150000));
        kill(pid, SIGKILL);
        int stt;
        waitpid(pid, &stt, 0);
        CHECK(WIFSIGNALED(stt));
        st = ll_store_open(path, NULL);
        REQUIRE_MSG(st, "%s", ll_last_error());
        long n;
        CHECK_MSG(check_records(st, &n) == 0, "round %d: a torn record", round);
        CHECK(ll_store_check(st) == 0);
        CHECK_MSG(n >= before, "round %d: %ld records, %ld before", round, n, before);
        before = n;
        /* the records of this round are 0..k-1 without a gap */
        char key[64];
        int k = 0;
        for (;; k++) {
            snprintf(key, sizeof key, "w%d-%06d", round, k);
            if (ll_store_has(st, key) != 1) break;
        }
        snprintf(key, sizeof key, "w%d-%06d", round, k + 1);
        CHECK_INT(ll_store_has(st, key), 0);
        ll_store_close(st);
    }
    CHECK(before > 0);
}

TEST(sweep_hash_cache_and_folder_digest) {
    char dir[1100], cache[1100], f1[1200], f2[1200];
    ll_path_join(dir, sizeof dir, ll_test_tmpdir(), "model");
    ll_path_join(cache, sizeof cache, ll_test_tmpdir(), "cache");
    setenv("LAYERLAW_CACHE", cache, 1);
    REQUIRE(ll_mkdirs(dir) == 0);
    ll_path_join(f1, sizeof f1, dir, "config.json");
    ll_path_join(f2, sizeof f2, dir, "model.safetensors");
    REQUIRE(ll_write_file_atomic(f1, "{\"a\": 1}\n", 9) == 0);
    char *big = ll_xmalloc(3 << 20);
    for (int i = 0; i < 3 << 20; i++) big[i] = (char)(i * 7 + (i >> 11));
    REQUIRE(ll_write_file_atomic(f2, big, 3 << 20) == 0);
    free(big);
    char hex[65], hex2[65];
    int cached = -1;
    REQUIRE(ll_sha256_file_cached(f2, hex, &cached) == 0);
    CHECK_INT(cached, 0);
    REQUIRE(ll_sha256_file_cached(f2, hex2, &cached) == 0);
    CHECK_INT(cached, 1);
    CHECK(!strcmp(hex, hex2));
    /* against coreutils */
    char cmd[4096], *o = NULL;
    snprintf(cmd, sizeof cmd, "sha256sum '%s' | cut -c1-64", f2);
    REQUIRE(ll_run_cmd(cmd, &o) == 0 && o);
    CHECK_MSG(!strncmp(o, hex, 64), "sha256sum %s, ours %s", o, hex);
    free(o);
    /* a changed file (size and mtime differ) is hashed again */
    REQUIRE(ll_write_file_atomic(f2, "changed", 7) == 0);
    REQUIRE(ll_sha256_file_cached(f2, hex2, &cached) == 0);
    CHECK_INT(cached, 0);
    CHECK(strcmp(hex, hex2));
    /* folder digest = SHA-256 of the sha256sum listing, names sorted */
    cJSON *h = ll_hash_input(dir);
    REQUIRE(h);
    CHECK(!strcmp(cJSON_GetObjectItem(h, "kind")->valuestring, "dir"));
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(h, "files")), 2);
    snprintf(cmd, sizeof cmd, "cd '%s' && LC_ALL=C sha256sum $(LC_ALL=C ls) | sha256sum | cut -c1-64", dir);
    REQUIRE(ll_run_cmd(cmd, &o) == 0 && o);
    const cJSON *dh = cJSON_GetObjectItem(h, "sha256");
    CHECK_MSG(cJSON_IsString(dh) && !strncmp(o, dh->valuestring, 64), "listing digest %s", o);
    free(o);
    cJSON_Delete(h);
    /* files above LAYERLAW_HASH_MAX_BYTES are listed, not hashed; no folder digest then */
    setenv("LAYERLAW_HASH_MAX_BYTES", "8", 1);
    h = ll_hash_input(dir);
    const cJSON *fl = cJSON_GetObjectItem(h, "files");
    /* config.json has 9 bytes, model.safetensors now 7 ("changed") */
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(fl, 0), "sha256")));
    CHECK(cJSON_IsString(cJSON_GetObjectItem(cJSON_GetArrayItem(fl, 0), "not_hashed")));
    CHECK(cJSON_IsString(cJSON_GetObjectItem(cJSON_GetArrayItem(fl, 1), "sha256")));
    CHECK(cJSON_GetObjectItem(h, "sha256") == NULL);
    cJSON_Delete(h);
    unsetenv("LAYERLAW_HASH_MAX_BYTES");
    h = ll_hash_input("/nonexistent/model");
    CHECK(!strcmp(cJSON_GetObjectItem(h, "kind")->valuestring, "missing"));
    cJSON_Delete(h);
    /* a torn line at the end of the cache is ignored */
    char cf[1200];
    snprintf(cf, sizeof cf, "%s/sha256.tsv", cache);
    FILE *f = fopen(cf, "a");
    REQUIRE(f);
    fputs("0123\t12", f);
    fclose(f);
    REQUIRE(ll_sha256_file_cached(f1, hex, &cached) == 0);
}

TEST(sweep_provenance_fields) {
    char *argv[] = {"layerlaw", "sweep", "x.yaml"};
    setenv("LAYERLAW_CACHE", ll_test_tmpdir(), 1);
    const char *in[] = {"tests/fixtures/models/gpt2", NULL, "tests/fixtures/models/gpt2/tokens.jsonl"};
    cJSON *p = ll_provenance(3, argv, in, 3);
    REQUIRE(p);
    CHECK(cJSON_IsString(cJSON_GetObjectItem(p, "utc")) && strlen(cJSON_GetObjectItem(p, "utc")->valuestring) == 20);
    CHECK(cJSON_IsString(cJSON_GetObjectItem(p, "git_commit")) && *cJSON_GetObjectItem(p, "git_commit")->valuestring);
    CHECK(strstr(cJSON_GetObjectItem(p, "build_flags")->valuestring, "CUDA=") != NULL);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(p, "argv")), 3);
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "cpu"), "threads")->valuedouble == (double)sysconf(_SC_NPROCESSORS_ONLN));
    CHECK(cJSON_GetObjectItem(p, "gpu") != NULL);
    const cJSON *ins = cJSON_GetObjectItem(p, "inputs");
    CHECK_INT(cJSON_GetArraySize(ins), 2); /* the NULL is skipped */
    char hex[65];
    REQUIRE(ll_sha256_file("tests/fixtures/models/gpt2/tokens.jsonl", hex) == 0);
    CHECK(!strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(ins, 1), "sha256")->valuestring, hex));
    cJSON_Delete(p);
}

/* every shipped sweep file parses and expands (the counts by hand) */
TEST(sweep_shipped_configs_parse) {
    struct { const char *file; int points; } cs[] = {
        {"configs/sweeps/cpu-small.yaml", 8 * 4},        {"configs/sweeps/model-scaling.yaml", 13},
        {"configs/sweeps/paper-steps.yaml", 3 * 18},     {"configs/sweeps/paper-positions.yaml", 3 * 4},
        {"configs/sweeps/paper-measures.yaml", 2 * 4 * 2}, {"configs/sweeps/normalisation.yaml", 3 * 5 * 2},
        {"configs/sweeps/paper-main.yaml", 11},          {"configs/sweeps/paper-scaling.yaml", 8},
        {"configs/sweeps/paper-pretraining.yaml", 5},
        {"configs/sweeps/measures.yaml", 2 * 3 * 4 * 2},
        {"configs/sweeps/throughput-gpt2.yaml", 4 * 2},  {"configs/sweeps/throughput-pythia.yaml", 8 * 2},
        {"configs/sweeps/throughput-llama.yaml", 5 * 2}, {"configs/sweeps/throughput-mistral.yaml", 1 * 2},
        {"configs/sweeps/throughput-qwen2.yaml", 3 * 2}, {"configs/sweeps/throughput-rwkv.yaml", 6 * 2},
        {"configs/sweeps/throughput-mamba.yaml", 5 * 2}, {"configs/sweeps/throughput-more-families.yaml", 9 * 2},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        ll_sweep *s = ll_sweep_load(cs[i].file);
        CHECK_MSG(s, "%s", ll_last_error());
        if (s) CHECK_MSG(s->n_points == cs[i].points, "%s: %d points, expected %d", cs[i].file, s->n_points, cs[i].points);
        ll_sweep_free(s);
    }
}

/* the live line's text, values by hand: 25 of 100 in 10 s -> 30 s left */
TEST(sweep_progress_line_text) {
    ll_progress p;
    ll_progress_init(&p, "sequences", 100);
    p.t0 = 1000.0;
    p.label = "point 3/12 gpt2 (sweep ETA 4m10s)";
    char buf[256];
    ll_progress_format(&p, 25, 1000, 1010.0, 0, buf, sizeof buf);
    CHECK_MSG(!strcmp(buf, "point 3/12 gpt2 (sweep ETA 4m10s)  25/100 sequences  100 tokens/s  ETA 30s"), "'%s'", buf);
    ll_progress_format(&p, 100, 4000, 1010.0 + 3600 + 125, 1, buf, sizeof buf);
    CHECK_MSG(!strcmp(buf, "point 3/12 gpt2 (sweep ETA 4m10s)  100/100 sequences  1 tokens/s  in 1h02m"), "'%s'", buf);
    p.label = NULL;
    p.total = 0;
    ll_progress_format(&p, 7, 70, 1001.0, 0, buf, sizeof buf);
    CHECK_MSG(!strcmp(buf, "7 sequences  70 tokens/s"), "'%s'", buf);
    char d[32];
    ll_format_duration(65, d, sizeof d);
    CHECK(!strcmp(d, "1m05s"));
    ll_format_duration(-1, d, sizeof d);
    CHECK(!strcmp(d, "?"));
}
