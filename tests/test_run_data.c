/* `layerlaw run --data TEXT` end to end on the embedded default model
 * configs/stories260K-hf: its tokenizer.json (made from llama2.c's tok512.bin by
 * tools/make_stories_tokenizer.py) on the raw text of the 200 Alice paragraphs
 * (configs/stories260K-hf/alice-200.jsonl) must give exactly the published token
 * file alice-200x128.tok512.jsonl (made by llama2.c's encoder, not by us), and
 * the measurement on it the independent float64 table of PROVENANCE.md.  Then
 * sampling (--docs/--seed) and bad input. */
#include <cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "core/ll_util.h"
#include "test_util.h"

#define MODEL "configs/stories260K-hf"
#define TEXT MODEL "/alice-200.jsonl"
#define PUBLISHED MODEL "/alice-200x128.tok512.jsonl"

/* PROVENANCE.md / shared/data/README.md (numpy float64), 6 decimals */
static const double REF_PR[6] = {0.910152, 0.896124, 0.879437, 0.865318, 0.842318, 0.831666};

/* Lines of a file of JSON id arrays, parsed; returns the count (-1 on error). */
static int load_id_lines(const char *text, cJSON ***out) {
    int n = 0, cap = 0;
    cJSON **v = NULL;
    const char *p = text;
    while (p && *p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len) {
            char *line = ll_xmalloc(len + 1);
            memcpy(line, p, len);
            line[len] = 0;
            cJSON *j = cJSON_Parse(line);
            free(line);
            if (!j || !cJSON_IsArray(j)) {
                cJSON_Delete(j);
                for (int i = 0; i < n; i++) cJSON_Delete(v[i]);
                free(v);
                return -1;
            }
            if (n == cap) v = ll_xrealloc(v, (size_t)(cap = cap ? 2 * cap : 256) * sizeof *v);
            v[n++] = j;
        }
        p = e ? e + 1 : NULL;
    }
    *out = v;
    return n;
}

static void free_id_lines(cJSON **v, int n) {
    for (int i = 0; i < n; i++) cJSON_Delete(v[i]);
    free(v);
}

static int same_ids(const cJSON *a, const cJSON *b) {
    int n = cJSON_GetArraySize(a);
    if (n != cJSON_GetArraySize(b)) return 0;
    for (int i = 0; i < n; i++)
        if (cJSON_GetArrayItem(a, i)->valuedouble != cJSON_GetArrayItem(b, i)->valuedouble) return 0;
    return 1;
}

/* Entries of a directory (not . and ..); -1 if it does not exist. */
static int dir_entries(const char *path) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* A private TMPDIR for one run (where --data puts its temporary token file). */
static const char *tmpdir_for(const char *sub, char *buf, size_t cap) {
    char name[256];
    snprintf(name, sizeof name, "tmp_%s", sub);
    ll_path_join(buf, cap, ll_test_tmpdir(), name);
    ll_mkdirs(buf);
    return buf;
}

/* layerlaw run --data ... into <tmp>/<sub>; returns the exit status, output in *o. */
static int run_data_cmd(const char *sub, const char *args, char **o) {
    char out[1100], td[1100], cmd[4096];
    ll_path_join(out, sizeof out, ll_test_tmpdir(), sub);
    tmpdir_for(sub, td, sizeof td);
    /* --backend cpu: the CPU backend's test, also on a machine with a GPU */
    snprintf(cmd, sizeof cmd, "TMPDIR='%s' %s run --backend cpu --model %s --out '%s' --quiet %s 2>&1", td, ll_bin_path(),
             MODEL, out, args);
    return ll_run_cmd(cmd, o);
}

/* Runs and parses law.json; checks that the temporary token file is gone. */
static cJSON *run_data_law(const char *sub, const char *args) {
    char *o = NULL, lp[1200], out[1100], td[1100];
    int rc = run_data_cmd(sub, args, &o);
    if (rc != 0) {
        ll_test_fail(__FILE__, __LINE__, "run %s: exit %d\n%s", args, rc, o ? o : "");
        free(o);
        return NULL;
    }
    free(o);
    CHECK_MSG(dir_entries(tmpdir_for(sub, td, sizeof td)) == 0, "run %s: the temporary token file was left in TMPDIR",
              args);
    ll_path_join(out, sizeof out, ll_test_tmpdir(), sub);
    ll_path_join(lp, sizeof lp, out, "law.json");
    cJSON *law = load_json(lp);
    CHECK_MSG(law != NULL, "%s unreadable", lp);
    return law;
}

/* `layerlaw tokenize` of the raw text with the model's tokenizer.json gives the
 * published ids (llama2.c's encoder, BOS first, cut to 128) line for line. */
TEST(run_data_tokenize_matches_published) {
    char cmd[2048], *o = NULL;
    snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer %s --text %s --max-length 128", ll_bin_path(), MODEL, TEXT);
    int rc = ll_run_cmd(cmd, &o);
    REQUIRE_MSG(rc == 0, "exit %d: %s\n%s", rc, cmd, o ? o : "");
    size_t n;
    char *pub = ll_read_file(PUBLISHED, &n);
    REQUIRE_MSG(pub, "%s unreadable", PUBLISHED);
    cJSON **a = NULL, **b = NULL;
    int na = load_id_lines(o, &a), nb = load_id_lines(pub, &b);
    free(o);
    free(pub);
    REQUIRE(na >= 0 && nb >= 0);
    CHECK_INT(nb, 200);
    CHECK_INT(na, nb);
    int same = 0, first_bad = -1;
    for (int i = 0; i < na && i < nb; i++) {
        if (same_ids(a[i], b[i])) same++;
        else if (first_bad < 0) first_bad = i;
    }
    CHECK_MSG(same == nb, "%d/%d lines equal the published ids; first difference on line %d", same, nb, first_bad + 1);
    free_id_lines(a, na);
    free_id_lines(b, nb);
}

/* run --data reproduces the float64 table, equals run --tokens on the published
 * ids, and law.json's config records the corpus. */
TEST(run_data_reproduces_table) {
    cJSON *law = run_data_law("full", "--data " TEXT " --max-length 128");
    REQUIRE(law);
    CHECK_INT((long long)num_at(law, NULL, "n_examples"), 19422);
    CHECK_INT((long long)num_at(law, NULL, "n_entries"), 6);
    for (int e = 0; e < 6; e++) CHECK_REL(pr_of(law, e), REF_PR[e], 1e-6);
    /* the fit, to the digits printed in PROVENANCE.md */
    CHECK_NEAR(num_at(law, "fit", "slope"), -0.0083567, 0.5e-7);
    CHECK_NEAR(num_at(law, "fit", "intercept"), -0.0474518, 0.5e-7);
    CHECK_NEAR(num_at(law, "fit", "pearson_r"), -0.99536, 0.5e-5);
    CHECK_NEAR(num_at(law, "fit", "decay_ratio"), 0.98094, 0.5e-5);
    const cJSON *cfg = cJSON_GetObjectItem(law, "config");
    REQUIRE(cfg);
    CHECK(!strcmp(str_at(law, "config", "data"), TEXT));
    CHECK(!strcmp(str_at(law, "config", "tokenizer"), MODEL));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cfg, "docs")));
    CHECK(num_at(law, "config", "seed") == 0);
    CHECK(num_at(law, "config", "max_length") == 128);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cfg, "add_special_tokens")));
    CHECK(num_at(law, "throughput", "documents") == 200);
    CHECK(num_at(law, "throughput", "tokens") == 19622);

    /* the same tokens through --tokens: the same numbers */
    char out[1100], cmd[4096], lp[1200], *o = NULL;
    ll_path_join(out, sizeof out, ll_test_tmpdir(), "tokens");
    snprintf(cmd, sizeof cmd, "%s run --backend cpu --model %s --tokens %s --out '%s' --quiet --max-length 128 2>&1",
             ll_bin_path(), MODEL, PUBLISHED, out);
    int rc = ll_run_cmd(cmd, &o);
    CHECK_MSG(rc == 0, "exit %d: %s\n%s", rc, cmd, o ? o : "");
    free(o);
    ll_path_join(lp, sizeof lp, out, "law.json");
    cJSON *lt = load_json(lp);
    if (lt) {
        CHECK(num_at(lt, NULL, "n_examples") == num_at(law, NULL, "n_examples"));
        for (int e = 0; e < 6; e++) CHECK_REL(pr_of(law, e), pr_of(lt, e), 1e-12);
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(lt, "config"), "data")) ||
              !cJSON_GetObjectItem(cJSON_GetObjectItem(lt, "config"), "data"));
    } else {
        CHECK_MSG(0, "%s unreadable", lp);
    }
    cJSON_Delete(lt);
    cJSON_Delete(law);
}

/* Which published lines `tokenize --docs 50 --seed S` picks: idx[] (file order
 * checked), and the number of next-token examples they hold. */
static int sampled_lines(unsigned seed, int *idx, long long *examples) {
    char cmd[2048], *o = NULL;
    snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer %s --text %s --max-length 128 --docs 50 --seed %u", ll_bin_path(),
             MODEL, TEXT, seed);
    int rc = ll_run_cmd(cmd, &o);
    if (rc != 0) {
        ll_test_fail(__FILE__, __LINE__, "exit %d: %s\n%s", rc, cmd, o ? o : "");
        free(o);
        return -1;
    }
    size_t n;
    char *pub = ll_read_file(PUBLISHED, &n);
    cJSON **a = NULL, **b = NULL;
    int na = load_id_lines(o, &a), nb = pub ? load_id_lines(pub, &b) : -1;
    free(o);
    free(pub);
    if (na < 0 || nb < 0) {
        ll_test_fail(__FILE__, __LINE__, "unreadable ids");
        if (na >= 0) free_id_lines(a, na);
        if (nb >= 0) free_id_lines(b, nb);
        return -1;
    }
    /* each sampled document is a published line, in file order */
    int j = 0, ok = 1;
    *examples = 0;
    for (int i = 0; i < na && ok; i++) {
        while (j < nb && !same_ids(a[i], b[j])) j++;
        if (j == nb) ok = 0;
        else {
            idx[i] = j++;
            *examples += cJSON_GetArraySize(a[i]) - 1;
        }
    }
    CHECK_MSG(ok, "seed %u: a sampled document is not a published line in file order", seed);
    free_id_lines(a, na);
    free_id_lines(b, nb);
    return ok ? na : -1;
}

/* --docs 50 --seed S: deterministic, seed-dependent, 50 documents. */
TEST(run_data_sampling_seed) {
    cJSON *l3a = run_data_law("s3a", "--data " TEXT " --max-length 128 --docs 50 --seed 3");
    cJSON *l3b = run_data_law("s3b", "--data " TEXT " --max-length 128 --docs 50 --seed 3");
    cJSON *l4 = run_data_law("s4", "--data " TEXT " --max-length 128 --docs 50 --seed 4");
    if (!l3a || !l3b || !l4) {
        cJSON_Delete(l3a), cJSON_Delete(l3b), cJSON_Delete(l4);
        REQUIRE(0);
    }
    int differ = 0;
    for (int e = 0; e < 6; e++) {
        CHECK_MSG(pr_of(l3a, e) == pr_of(l3b, e), "seed 3 twice: entry %d PR %.17g vs %.17g", e, pr_of(l3a, e),
                  pr_of(l3b, e));
        if (fabs(pr_of(l3a, e) - pr_of(l4, e)) > 1e-9 * fabs(pr_of(l4, e))) differ++;
    }
    CHECK_MSG(differ == 6, "seed 3 and seed 4 give the same PR on %d of 6 entries", 6 - differ);
    CHECK(num_at(l3a, NULL, "n_examples") == num_at(l3b, NULL, "n_examples"));
    CHECK(num_at(l3a, "config", "docs") == 50 && num_at(l3a, "config", "seed") == 3);
    CHECK(num_at(l4, "config", "docs") == 50 && num_at(l4, "config", "seed") == 4);
    CHECK(num_at(l3a, "throughput", "documents") == 50 && num_at(l3a, "throughput", "sequences") == 50);

    /* n_examples = the next-token examples of exactly those 50 documents */
    int i3[50], i4[50];
    long long ex3 = 0, ex4 = 0;
    int n3 = sampled_lines(3, i3, &ex3), n4 = sampled_lines(4, i4, &ex4);
    CHECK_INT(n3, 50);
    CHECK_INT(n4, 50);
    if (n3 == 50 && n4 == 50) {
        CHECK_INT((long long)num_at(l3a, NULL, "n_examples"), ex3);
        CHECK_INT((long long)num_at(l4, NULL, "n_examples"), ex4);
        CHECK_INT((long long)num_at(l3a, "throughput", "tokens"), ex3 + 50);
        CHECK(memcmp(i3, i4, sizeof i3) != 0);
        CHECK(ex3 >= 50 && ex3 <= 50 * 127); /* 1..127 examples per document */
    }
    cJSON_Delete(l3a);
    cJSON_Delete(l3b);
    cJSON_Delete(l4);
}

/* Exit 2 with one line `layerlaw: <file>...`, no output files, no temporary
 * token file left behind. */
static void check_bad(const char *sub, const char *args, const char *name_in_msg) {
    char *o = NULL, out[1100], td[1100];
    int rc = run_data_cmd(sub, args, &o);
    CHECK_MSG(rc == 2, "%s: exit %d, expected 2\n%s", args, rc, o ? o : "");
    int lines = 0, named = 0;
    for (char *p = o; p && *p;) {
        char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line - 1 ? len : sizeof line - 1), p);
        if (len && !strstr(line, "backend")) { /* a CPU/GPU notice is not the error */
            lines++;
            if (!strncmp(line, "layerlaw: ", 10) && strstr(line, name_in_msg)) named++;
        }
        p = e ? e + 1 : NULL;
    }
    CHECK_MSG(lines == 1 && named == 1, "%s: expected one line 'layerlaw: ...%s...', got:\n%s", args, name_in_msg,
              o ? o : "");
    free(o);
    ll_path_join(out, sizeof out, ll_test_tmpdir(), sub);
    CHECK_MSG(dir_entries(out) <= 0, "%s: %d files written in --out", args, dir_entries(out));
    CHECK_MSG(dir_entries(tmpdir_for(sub, td, sizeof td)) == 0, "%s: a temporary file was left in TMPDIR", args);
}

TEST(run_data_bad_input) {
    char miss[1100], bad[1100], nofield[1100], empty[1100], a[4096];
    ll_path_join(miss, sizeof miss, ll_test_tmpdir(), "missing.jsonl");
    ll_path_join(bad, sizeof bad, ll_test_tmpdir(), "bad.jsonl");
    ll_path_join(nofield, sizeof nofield, ll_test_tmpdir(), "nofield.jsonl");
    ll_path_join(empty, sizeof empty, ll_test_tmpdir(), "empty.txt");
    const char *good = "{\"text\": \"Alice was beginning to get very tired of sitting by her sister on the bank.\"}\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s{\"text\": \"unterminated\n%s", good, good);
    REQUIRE(ll_write_file_atomic(bad, buf, strlen(buf)) == 0);
    snprintf(buf, sizeof buf, "%s{\"body\": \"no text field\"}\n", good);
    REQUIRE(ll_write_file_atomic(nofield, buf, strlen(buf)) == 0);
    REQUIRE(ll_write_file_atomic(empty, "", 0) == 0);

    snprintf(a, sizeof a, "--data '%s'", miss);
    check_bad("bad_missing", a, "missing.jsonl");
    snprintf(a, sizeof a, "--data '%s' --max-length 128", bad);
    check_bad("bad_json", a, "bad.jsonl:2");
    snprintf(a, sizeof a, "--data '%s' --docs 1 --seed 1", bad); /* the counting pass sees it too */
    check_bad("bad_json_docs", a, "bad.jsonl:2");
    snprintf(a, sizeof a, "--data '%s'", nofield);
    check_bad("bad_field", a, "nofield.jsonl:2");
    snprintf(a, sizeof a, "--data '%s'", empty);
    check_bad("bad_empty", a, "empty.txt");
    snprintf(a, sizeof a, "--data %s --tokens %s", TEXT, PUBLISHED);
    check_bad("bad_both", a, "--tokens");
}
