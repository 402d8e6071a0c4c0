/* Encoder tokenizers (WordPiece + BertNormalizer/BertPreTokenizer, Unigram
 * with WhitespaceSplit/Metaspace/Strip/Lowercase and byte_fallback, RoBERTa's
 * byte-level BPE + RobertaProcessing): every document's ids must equal PyPI
 * `tokenizers` 0.23.3's, id for id.  Fixtures: tools/make_tokenizer_fixtures_encoders.py
 * -> tests/fixtures/tokenizers/encoders/manifest.tsv (same columns as the
 * BPE manifest). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/corpus.h"
#include "harness.h"
#include "core/ll_util.h"
#include "tokenizer/tokenizer.h"

#define FIX "tests/fixtures/tokenizers"
#define SEP "\n__ggml_vocab_test__\n"

static const char *resolve(const char *spec, char *buf, size_t cap) {
    if (!strncmp(spec, "shared:", 7)) snprintf(buf, cap, "%s", ll_shared_path(spec + 7));
    else if (!strncmp(spec, "fixture:", 8)) snprintf(buf, cap, FIX "/%s", spec + 8);
    else snprintf(buf, cap, "%s", spec);
    return buf;
}

typedef struct { char **s; size_t *n; int count; } docs_t;
static void docs_add(docs_t *l, const char *s, size_t n) {
    l->s = ll_xrealloc(l->s, (l->count + 1) * sizeof *l->s);
    l->n = ll_xrealloc(l->n, (l->count + 1) * sizeof *l->n);
    l->s[l->count] = ll_xmalloc(n + 1);
    memcpy(l->s[l->count], s, n);
    l->s[l->count][n] = 0;
    l->n[l->count++] = n;
}
static void docs_free(docs_t *l) {
    for (int i = 0; i < l->count; i++) free(l->s[i]);
    free(l->s);
    free(l->n);
}
static int docs_read(const char *path, const char *split, int max, docs_t *l) {
    if (!strcmp(split, "strings")) { /* llama.cpp format: each string followed by SEP */
        size_t len, sl = strlen(SEP), a = 0;
        char *d = ll_read_file(path, &len);
        if (!d) return -1;
        for (size_t i = 0; i + sl <= len;) {
            if (!memcmp(d + i, SEP, sl)) { docs_add(l, d + a, i - a); i += sl; a = i; }
            else i++;
        }
        free(d);
        return 0;
    }
    ll_corpus *c = ll_corpus_open(path, ll_corpus_split_from_name(split), NULL);
    if (!c) return -1;
    const char *t;
    size_t n;
    while (l->count < max && ll_corpus_next(c, &t, &n) == 1) docs_add(l, t, n);
    ll_corpus_close(c);
    return 0;
}
static int parse_ids(const char *p, int32_t **ids, int *n) {
    p = strchr(p, '[');
    if (!p) return -1;
    p++;
    int cap = 64, k = 0;
    int32_t *v = ll_xmalloc(cap * sizeof *v);
    for (;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ']') break;
        char *e;
        long x = strtol(p, &e, 10);
        if (e == p) { free(v); return -1; }
        if (k == cap) v = ll_xrealloc(v, (cap *= 2) * sizeof *v);
        v[k++] = (int32_t)x;
        p = e;
    }
    *ids = v;
    *n = k;
    return 0;
}

static void run_encoders_manifest(const char *name) {
    FILE *m = fopen(FIX "/encoders/manifest.tsv", "r");
    REQUIRE_MSG(m, "cannot open " FIX "/encoders/manifest.tsv");
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
        docs_t docs = {0};
        REQUIRE_MSG(docs_read(resolve(f[3], sp, sizeof sp), f[4], ndocs, &docs) == 0, "%s", ll_last_error());
        CHECK_MSG(docs.count == ndocs, "%s: %d documents read, manifest says %d", f[7], docs.count, ndocs);
        snprintf(ep, sizeof ep, FIX "/%s", f[7]);
        gzFile gz = gzopen(ep, "rb");
        REQUIRE_MSG(gz, "cannot open %s", ep);
        static char el[1 << 20];
        int bad = 0;
        for (int i = 0; i < docs.count; i++) {
            REQUIRE_MSG(gzgets(gz, el, sizeof el), "%s: only %d lines", ep, i);
            int32_t *exp, *got;
            int ne, ng;
            REQUIRE_MSG(parse_ids(el, &exp, &ne) == 0, "%s:%d: bad line", ep, i + 1);
            REQUIRE_MSG(ll_tokenizer_encode(tk, docs.s[i], docs.n[i], add_special, max_length, &got, &ng) == 0,
                        "%s doc %d: %s", f[7], i, ll_last_error());
            int j = 0;
            while (j < ne && j < ng && exp[j] == got[j]) j++;
            if ((j < ne || j < ng) && bad++ < 3)
                ll_test_fail(__FILE__, __LINE__, "%s doc %d: %d vs %d ids, first difference at %d (got %d, want %d)\n    text: %.160s",
                             f[7], i, ng, ne, j, j < ng ? got[j] : -1, j < ne ? exp[j] : -1, docs.s[i]);
            free(exp);
            free(got);
        }
        CHECK_MSG(bad == 0, "%s: %d of %d documents differ", f[7], bad, docs.count);
        gzclose(gz);
        total += docs.count;
        docs_free(&docs);
    }
    fclose(m);
    ll_tokenizer_free(tk);
    CHECK_MSG(rows > 0, "no manifest rows for %s", name);
    printf("    %s: %ld documents/strings compared in %d fixtures\n", name, total, rows);
}

TEST(tokenizer_exact_bert_uncased) { run_encoders_manifest("bert-uncased"); }
TEST(tokenizer_exact_bert_cased) { run_encoders_manifest("bert-cased"); }
TEST(tokenizer_exact_t5_style) { run_encoders_manifest("t5-style"); }
TEST(tokenizer_exact_unigram_bytes) { run_encoders_manifest("unigram-bytes"); }
TEST(tokenizer_exact_roberta_style) { run_encoders_manifest("roberta-style"); }

static void expect_error(const char *json, const char *want) {
    ll_tokenizer *t = ll_tokenizer_load_json(json, strlen(json), "mini");
    CHECK_MSG(!t, "loaded, expected an error containing '%s'", want);
    if (t) { ll_tokenizer_free(t); return; }
    CHECK_MSG(strstr(ll_last_error(), want) && !strncmp(ll_last_error(), "mini: ", 6), "error '%s' lacks '%s'",
              ll_last_error(), want);
}

/* hand-derived: Viterbi picks the best total score, unk runs fuse, WordPiece
 * backs off character by character and gives one [UNK] for a word it cannot cover */
TEST(tokenizer_encoders_small_cases) {
    const char *uni = "{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"a\",-1],[\"b\",-1],"
                      "[\"ab\",-1.5],[\"abc\",-4],[\"c\",-2]]}}";
    ll_tokenizer *t = ll_tokenizer_load_json(uni, strlen(uni), "uni");
    REQUIRE_MSG(t, "%s", ll_last_error());
    int32_t *ids;
    int n;
    /* "abc": ab+c = -3.5 beats abc = -4 and a+b+c = -4; "xyab": x,y unknown (fused) + ab */
    REQUIRE(ll_tokenizer_encode(t, "abc", 3, 0, 0, &ids, &n) == 0);
    CHECK(n == 2 && ids[0] == 3 && ids[1] == 5);
    free(ids);
    REQUIRE(ll_tokenizer_encode(t, "xyab", 4, 0, 0, &ids, &n) == 0);
    CHECK(n == 2 && ids[0] == 0 && ids[1] == 3);
    free(ids);
    ll_tokenizer_free(t);
    const char *wp = "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"un\":1,"
                     "\"##aff\":2,\"##able\":3,\"u\":4}},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"}}";
    t = ll_tokenizer_load_json(wp, strlen(wp), "wp");
    REQUIRE_MSG(t, "%s", ll_last_error());
    REQUIRE(ll_tokenizer_encode(t, "unaffable unx", 13, 0, 0, &ids, &n) == 0);
    CHECK(n == 4 && ids[0] == 1 && ids[1] == 2 && ids[2] == 3 && ids[3] == 0);
    free(ids);
    ll_tokenizer_free(t);
    expect_error("{\"model\":{\"type\":\"Unigram\",\"vocab\":{\"a\":0}}}", "must be an array of [piece, score]");
    expect_error("{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",\"x\"]]}}", "model.vocab[0] must be [piece, score]");
    expect_error("{\"model\":{\"type\":\"Unigram\",\"unk_id\":5,\"vocab\":[[\"a\",-1]]}}", "unk_id");
    expect_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":[]}}", "model.vocab must be an object");
    expect_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{},\"max_input_chars_per_word\":-3}}", "max_input_chars_per_word");
    expect_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}},\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":3}}",
                 "BertNormalizer");
}
TEST(tokenizer_exact_t5_precompiled) { run_encoders_manifest("t5-precompiled"); }
