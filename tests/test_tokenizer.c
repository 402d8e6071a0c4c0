/* Tokenizer tests: exact ids against PyPI `tokenizers` (fixtures made by
 * tools/make_tokenizer_fixtures.py), the llama.cpp test vectors, bad input. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/corpus.h"
#include "harness.h"
#include "test_util.h"
#include "core/ll_util.h"
#include "tokenizer/tokenizer.h"

#define FIX "tests/fixtures/tokenizers"
#define SEP "\n__ggml_vocab_test__\n"

/* ---------------------------------------------------------------- helpers */

static const char *resolve(const char *spec, char *buf, size_t cap) {
    if (!strncmp(spec, "shared:", 7)) snprintf(buf, cap, "%s", ll_shared_path(spec + 7));
    else if (!strncmp(spec, "fixture:", 8)) snprintf(buf, cap, FIX "/%s", spec + 8);
    else snprintf(buf, cap, "%s", spec);
    return buf;
}

typedef struct { char **s; size_t *n; int count; } strlist;
static void sl_free(strlist *l) {
    for (int i = 0; i < l->count; i++) free(l->s[i]);
    free(l->s); free(l->n);
}
static void sl_add(strlist *l, const char *s, size_t n) {
    l->s = realloc(l->s, (l->count + 1) * sizeof *l->s);
    l->n = realloc(l->n, (l->count + 1) * sizeof *l->n);
    l->s[l->count] = malloc(n + 1);
    memcpy(l->s[l->count], s, n);
    l->s[l->count][n] = 0;
    l->n[l->count] = n;
    l->count++;
}
/* llama.cpp format: strings each followed by SEP */
static int read_strings(const char *path, strlist *l) {
    size_t len;
    char *d = ll_read_file(path, &len);
    if (!d) return -1;
    size_t sl = strlen(SEP), a = 0;
    for (size_t i = 0; i + sl <= len;) {
        if (!memcmp(d + i, SEP, sl)) { sl_add(l, d + a, i - a); i += sl; a = i; }
        else i++;
    }
    free(d);
    return 0;
}
static int read_docs(const char *path, const char *split, int max, strlist *l) {
    if (!strcmp(split, "strings")) return read_strings(path, l);
    ll_corpus *c = ll_corpus_open(path, ll_corpus_split_from_name(split), NULL);
    if (!c) return -1;
    const char *t;
    size_t n;
    int r;
    while (l->count < max && (r = ll_corpus_next(c, &t, &n)) == 1) sl_add(l, t, n);
    ll_corpus_close(c);
    return 0;
}
/* one JSON array of ints per line */
static int parse_ids(const char *line, int32_t **ids, int *n) {
    const char *p = strchr(line, '[');
    if (!p) return -1;
    p++;
    int cap = 64, k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    for (;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ']') break;
        char *e;
        long x = strtol(p, &e, 10);
        if (e == p) { free(v); return -1; }
        if (k == cap) { cap *= 2; v = realloc(v, cap * sizeof *v); }
        v[k++] = (int32_t)x;
        p = e;
    }
    *ids = v;
    *n = k;
    return 0;
}

static void show_ids(char *buf, size_t cap, const int32_t *ids, int n, int from) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = from; i < n && i < from + 12 && k + 16 < cap; i++) k += snprintf(buf + k, cap - k, "%d ", ids[i]);
}

/* Runs every row of tokenizer `name` in a fixture manifest (the BPE one here,
 * the encoders' in tests/test_tokenizer_encoders.c: same columns). */
void ll_test_tokenizer_manifest(const char *manifest, const char *name) {
    FILE *m = fopen(manifest, "r");
    REQUIRE_MSG(m, "cannot open %s", manifest);
    char line[4096];
    ll_tokenizer *tk = NULL;
    long total = 0;
    int rows = 0;
    while (fgets(line, sizeof line, m)) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\n")] = 0;
        char *f[9];
        int nf = 0;
        for (char *s = strtok(line, "\t"); s && nf < 9; s = strtok(NULL, "\t")) f[nf++] = s;
        if (nf != 9 || strcmp(f[0], name) != 0) continue;
        rows++;
        char tp[1024], sp[1024], ep[1024];
        if (!tk) {
            tk = ll_tokenizer_load(resolve(f[1], tp, sizeof tp));
            REQUIRE_MSG(tk, "load %s: %s", f[1], ll_last_error());
        }
        int max_length = atoi(f[5]), add_special = atoi(f[6]), ndocs = atoi(f[8]);
        strlist docs = {0};
        REQUIRE_MSG(read_docs(resolve(f[3], sp, sizeof sp), f[4], ndocs, &docs) == 0, "%s", ll_last_error());
        CHECK_MSG(docs.count == ndocs, "%s: %d documents read, manifest says %d", f[7], docs.count, ndocs);
        snprintf(ep, sizeof ep, FIX "/%s", f[7]);
        gzFile gz = gzopen(ep, "rb");
        REQUIRE_MSG(gz, "cannot open %s", ep);
        static char el[1 << 20];
        int mismatches = 0;
        for (int i = 0; i < docs.count; i++) {
            REQUIRE_MSG(gzgets(gz, el, sizeof el), "%s: only %d lines", ep, i);
            int32_t *exp, *got;
            int ne, ng;
            REQUIRE_MSG(parse_ids(el, &exp, &ne) == 0, "%s:%d: bad line", ep, i + 1);
            int rc = ll_tokenizer_encode(tk, docs.s[i], docs.n[i], add_special, max_length, &got, &ng);
            REQUIRE_MSG(rc == 0, "%s doc %d: encode failed: %s", f[7], i, ll_last_error());
            int j = 0;
            while (j < ne && j < ng && exp[j] == got[j]) j++;
            if ((j < ne || j < ng) && mismatches++ == 0) {
                char a[256], b[256];
                show_ids(a, sizeof a, got, ng, j);
                show_ids(b, sizeof b, exp, ne, j);
                ll_test_fail(__FILE__, __LINE__,
                             "%s: first mismatch in document %d (%d vs %d ids, first difference at id %d):\n"
                             "    text: %.120s\n    got [%d..]: %s\n    exp [%d..]: %s",
                             f[7], i, ng, ne, j, docs.s[i], j, a, j, b);
            }
            free(exp);
            free(got);
        }
        CHECK_MSG(mismatches == 0, "%s: %d of %d documents differ", f[7], mismatches, docs.count);
        gzclose(gz);
        total += docs.count;
        sl_free(&docs);
    }
    fclose(m);
    ll_tokenizer_free(tk);
    CHECK_MSG(rows > 0, "no manifest rows for %s", name);
    printf("    %s: %ld documents/strings compared in %d fixtures\n", name, total, rows);
}

static void run_manifest(const char *name) { ll_test_tokenizer_manifest(FIX "/manifest.tsv", name); }

TEST(tokenizer_exact_gpt2) { run_manifest("gpt2"); }
TEST(tokenizer_exact_gpt_neox_20b) { run_manifest("gpt-neox-20b"); }
TEST(tokenizer_exact_mistral) { run_manifest("mistral-7b-v0.1"); }
TEST(tokenizer_exact_llama3_style) { run_manifest("llama3-style"); }
TEST(tokenizer_exact_llama2_style) { run_manifest("llama2-style"); }
TEST(tokenizer_exact_metaspace_split) { run_manifest("metaspace-split"); }
TEST(tokenizer_exact_bytelevel_flags) { run_manifest("bytelevel-flags"); }

/* The .out files of llama.cpp (ids from HF for the 46 strings), directly. */
static void check_llamacpp(const char *tok, const char *out) {
    char p[1024];
    snprintf(p, sizeof p, "data/tokenizers/testvectors-llama.cpp/%s", out);
    size_t len;
    char *o = ll_read_file(ll_shared_path(p), &len);
    REQUIRE_MSG(o, "%s", ll_last_error());
    strlist s = {0};
    REQUIRE(read_strings(ll_shared_path("data/tokenizers/testvectors-llama.cpp/ggml-vocab-gpt-2.gguf.inp"), &s) == 0);
    CHECK_INT(s.count, 46);
    ll_tokenizer *tk = ll_tokenizer_load(ll_shared_path(tok));
    REQUIRE_MSG(tk, "%s", ll_last_error());
    char *line = o;
    for (int i = 0; i < s.count; i++) {
        char *nl = strchr(line, '\n');
        REQUIRE(nl);
        *nl = 0;
        int32_t *ids;
        int n;
        REQUIRE(ll_tokenizer_encode(tk, s.s[i], s.n[i], 0, 0, &ids, &n) == 0);
        char buf[4096];
        size_t k = 0;
        buf[0] = 0;
        for (int j = 0; j < n && k + 16 < sizeof buf; j++) k += snprintf(buf + k, sizeof buf - k, " %d", ids[j]);
        CHECK_MSG(strcmp(buf, line) == 0, "%s string %d: got '%s' expected '%s'", out, i, buf, line);
        free(ids);
        line = nl + 1;
    }
    ll_tokenizer_free(tk);
    sl_free(&s);
    free(o);
}
TEST(tokenizer_llamacpp_gpt2_out) { check_llamacpp("data/tokenizers/gpt2/tokenizer.json", "ggml-vocab-gpt-2.gguf.out"); }
TEST(tokenizer_llamacpp_mpt_out) { check_llamacpp("data/tokenizers/gpt-neox-20b", "ggml-vocab-mpt.gguf.out"); }

/* ------------------------------------------------------------ API, basics */

TEST(tokenizer_api_sizes) {
    ll_tokenizer *t = ll_tokenizer_load(ll_shared_path("data/tokenizers/gpt-neox-20b"));
    REQUIRE_MSG(t, "%s", ll_last_error());
    CHECK_INT(ll_tokenizer_vocab_size(t), 50277);
    CHECK_INT(ll_tokenizer_num_special(t), 0);
    CHECK_INT(ll_tokenizer_token_to_id(t, "<|padding|>"), 1);
    CHECK_INT(ll_tokenizer_token_to_id(t, "  "), 50276);
    CHECK(ll_tokenizer_id_to_token(t, 50254) && strlen(ll_tokenizer_id_to_token(t, 50254)) == 24);
    ll_tokenizer_free(t);
    t = ll_tokenizer_load(ll_shared_path("data/tokenizers/gpt2/tokenizer.json"));
    REQUIRE(t);
    CHECK_INT(ll_tokenizer_vocab_size(t), 50257);
    CHECK_INT(ll_tokenizer_token_to_id(t, "Hello"), 15496);
    CHECK(ll_tokenizer_id_to_token(t, 995) && !strcmp(ll_tokenizer_id_to_token(t, 995), "\xc4\xa0world"));
    CHECK(ll_tokenizer_id_to_token(t, 50257) == NULL);
    ll_tokenizer_free(t);
    t = ll_tokenizer_load(ll_shared_path("data/tokenizers/mistral-7b-v0.1"));
    REQUIRE(t);
    CHECK_INT(ll_tokenizer_vocab_size(t), 32000);
    CHECK_INT(ll_tokenizer_num_special(t), 1);
    int32_t *ids;
    int n;
    /* truncation counts BOS; too small a max_length is an error */
    REQUIRE(ll_tokenizer_encode(t, "Hello world, again and again", 28, 1, 3, &ids, &n) == 0);
    CHECK_INT(n, 3);
    CHECK_INT(ids[0], 1);
    free(ids);
    REQUIRE(ll_tokenizer_encode(t, "", 0, 1, 0, &ids, &n) == 0);
    CHECK_INT(n, 1);
    free(ids);
    REQUIRE(ll_tokenizer_encode(t, "", 0, 0, 0, &ids, &n) == 0);
    CHECK_INT(n, 0);
    CHECK(ids != NULL);
    free(ids);
    ll_tokenizer_free(t);
}

TEST(tokenizer_truncation_too_short) {
    ll_tokenizer *t = ll_tokenizer_load(FIX "/bytelevel-flags.json"); /* RobertaProcessing: 2 specials */
    REQUIRE_MSG(t, "%s", ll_last_error());
    CHECK_INT(ll_tokenizer_num_special(t), 2);
    int32_t *ids;
    int n;
    CHECK(ll_tokenizer_encode(t, "hi", 2, 1, 1, &ids, &n) == -1);
    CHECK(strstr(ll_last_error(), "max_length") != NULL);
    REQUIRE(ll_tokenizer_encode(t, "hi there", 8, 1, 2, &ids, &n) == 0);
    CHECK_INT(n, 2);
    free(ids);
    ll_tokenizer_free(t);
}

/* Python: bytes.decode('utf-8', 'replace').encode() (values from CPython) */
TEST(tokenizer_utf8_replacement) {
    struct { const char *in; size_t n; const char *out; } c[] = {
        {"a\xff" "b", 3, "a\xef\xbf\xbd" "b"},
        {"\xe2\x82(", 3, "\xef\xbf\xbd("},                   /* truncated sequence: one U+FFFD */
        {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate: three */
        {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf0\x9f\x98", 3, "\xef\xbf\xbd"},
        {"ok \xc3\xa9", 5, NULL},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        size_t n;
        char *o = ll_utf8_sanitize(c[i].in, c[i].n, &n, 0);
        if (!c[i].out) { CHECK(o == NULL); CHECK_INT(n, c[i].n); continue; }
        REQUIRE(o);
        CHECK_MSG(n == strlen(c[i].out) && !memcmp(o, c[i].out, n), "case %zu", i);
        free(o);
    }
}

/* ------------------------------------------------------------- bad input */

static const char *MINI =
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]},"
    "\"pre_tokenizer\":null,\"added_tokens\":[]}";

static void expect_load_error(const char *json, const char *needle) {
    ll_tokenizer *t = ll_tokenizer_load_json(json, strlen(json), "bad/tokenizer.json");
    CHECK_MSG(t == NULL, "loaded, expected an error containing '%s'", needle);
    if (t) { ll_tokenizer_free(t); return; }
    const char *e = ll_last_error();
    CHECK_MSG(strstr(e, "bad/tokenizer.json") && strstr(e, needle) && !strchr(e, '\n'),
              "error '%s' lacks '%s' or the file name, or is not one line", e, needle);
}

TEST(tokenizer_bad_json) {
    ll_tokenizer *t = ll_tokenizer_load_json(MINI, strlen(MINI), "mini");
    REQUIRE_MSG(t, "%s", ll_last_error());
    int32_t *ids;
    int n;
    REQUIRE(ll_tokenizer_encode(t, "abab", 4, 1, 0, &ids, &n) == 0);
    CHECK_INT(n, 2);
    CHECK(n == 2 && ids[0] == 2 && ids[1] == 2);
    free(ids);
    ll_tokenizer_free(t);
    expect_load_error("{\"normalizer\":null}", "missing \"model\"");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a c\"]}}", "'c' is not in the vocab");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[[\"a\",\"b\"]]}}", "merged token 'ab'");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":[\"a\"],\"merges\":[]}}", "model.vocab must be an object");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"0\"},\"merges\":[]}}", "must be a non-negative integer");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":\"a b\"}}", "model.merges must be an array");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[7]}}", "model.merges[0]");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b c\"]}}", "model.merges[0]");
    expect_load_error("{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"a\":0}}}", "unsupported model type");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"normalizer\":{\"type\":\"Nmt\"}}",
                      "unsupported normalizer");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\"}}",
                      "cannot compile regex");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"added_tokens\":[{\"content\":1,\"id\":2}]}",
                      "added_tokens[0]");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{}}}",
                      "'<s>' is not in \"special_tokens\"");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\n\"merges\":[}", ":2: not valid JSON");
}

static int run_cli(const char *args, char **out) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s tokenize %s", ll_bin_path(), args);
    return ll_run_cmd(cmd, out);
}

TEST(tokenizer_cli_errors) {
    char path[600], cmd[1400];
    char *out = NULL;
    ll_path_join(path, sizeof path, ll_test_tmpdir(), "tokenizer.json");
    const char *js = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a zz\"]}}";
    REQUIRE(ll_write_file_atomic(path, js, strlen(js)) == 0);
    snprintf(cmd, sizeof cmd, "--tokenizer %s --text /dev/null 2>&1", ll_test_tmpdir());
    CHECK_INT(run_cli(cmd, &out), 2);
    CHECK_MSG(out && strstr(out, "layerlaw: ") && strstr(out, "tokenizer.json") && strstr(out, "'zz' is not in the vocab"),
              "output: %s", out ? out : "(none)");
    free(out);
    out = NULL;
    CHECK_INT(run_cli("--tokenizer /nonexistent/dir 2>&1 </dev/null", &out), 2);
    CHECK(out && strstr(out, "/nonexistent/dir"));
    free(out);
    out = NULL;
    CHECK_INT(run_cli("--bogus 2>/dev/null", NULL), 2);
    CHECK_INT(run_cli("--help >/dev/null", NULL), 0);
    snprintf(cmd, sizeof cmd, "--tokenizer %s --text %s --max-length 0 2>/dev/null",
             ll_shared_path("data/tokenizers/gpt2"), ll_shared_path("data/corpora/tinyshakespeare.txt"));
    CHECK_INT(run_cli(cmd, NULL), 2);
}

TEST(tokenizer_cli_output) {
    char cmd[2000];
    char *out = NULL;
    /* stdin, BOS, truncation */
    snprintf(cmd, sizeof cmd, "--tokenizer %s --max-length 4 <<'EOF'\nHello world\n\nThe quick brown fox jumps\nEOF",
             ll_shared_path("data/tokenizers/mistral-7b-v0.1"));
    CHECK_INT(run_cli(cmd, &out), 0);
    REQUIRE(out);
    /* ids from PyPI tokenizers 0.23.3 (Mistral): Hello world -> [1, 22557, 1526] */
    CHECK_MSG(!strncmp(out, "[1,22557,1526]\n[1,", 18), "got %s", out);
    char *second = strchr(out, '\n') + 1;
    int commas = 0;
    for (char *p = second; *p && *p != '\n'; p++) commas += *p == ',';
    CHECK_INT(commas, 3);
    free(out);
    out = NULL;
    snprintf(cmd, sizeof cmd, "--tokenizer %s --no-special <<'EOF'\nHello world\nEOF",
             ll_shared_path("data/tokenizers/mistral-7b-v0.1"));
    CHECK_INT(run_cli(cmd, &out), 0);
    CHECK_MSG(out && !strcmp(out, "[22557,1526]\n"), "got %s", out ? out : "");
    free(out);
}
TEST(tokenizer_exact_split_variants) { run_manifest("split-variants"); }

/* The vocabulary and word-cache tables hash text with SipHash under a key
 * drawn at random in each process (hash flooding: a corpus of colliding
 * words cannot be aimed at a known hash).  Nothing may depend on the key:
 * two processes (two keys) give the same ids, byte for byte, over a corpus
 * large enough to fill and clear the word cache's probe chains many times. */
TEST(tokenizer_ids_do_not_depend_on_the_hash_key) {
    char a[600], b[600], cmd[2048];
    snprintf(a, sizeof a, "%s/a.jsonl", ll_test_tmpdir());
    snprintf(b, sizeof b, "%s/b.jsonl", ll_test_tmpdir());
    const char *in = "tests/data/corpora/*.txt"; /* the five shipped texts: 780 KB of ids */
    snprintf(cmd, sizeof cmd,
             "cat %s | %s tokenize --tokenizer tests/data/tokenizers/gpt2 --split line > %s && "
             "cat %s | %s tokenize --tokenizer tests/data/tokenizers/gpt2 --split line > %s",
             in, ll_bin_path(), a, in, ll_bin_path(), b);
    REQUIRE(ll_run_cmd(cmd, NULL) == 0);
    size_t na = 0, nb = 0;
    char *ta = ll_read_file(a, &na), *tb = ll_read_file(b, &nb);
    REQUIRE(ta && tb);
    CHECK_MSG(na > 500000, "only %zu bytes of ids", na);
    CHECK_MSG(na == nb && memcmp(ta, tb, na) == 0, "two processes gave different ids (%zu vs %zu bytes)", na, nb);
    free(ta);
    free(tb);
}
