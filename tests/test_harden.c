/* Regressions for the outside tester's findings (issue 15): each test builds
 * the hostile input it describes, and each failed before its fix (a crash, a
 * hang, a huge allocation, an undefined cast, or a silently wrong result).
 * Oracles: the numbers are hand-derived from the file formats, HF's
 * safetensors 0.8.0 (its safe_open refuses the same headers), PyPI tokenizers
 * 0.23.3 (ids quoted below). */
#include "harness.h"
#include "core/ll_util.h"
#include "io/corpus.h"
#include "io/safetensors.h"
#include "io/torch_pickle.h"
#include "tokenizer/tokenizer.h"
#include "zip_pickle.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static const char *tmp(const char *name) {
    static char buf[4][700];
    static int k;
    k = (k + 1) % 4;
    return ll_path_join(buf[k], sizeof buf[k], ll_test_tmpdir(), name);
}

/* size (2^24+1,) with stride (2^40,): (size-1)*stride = 2^64 wrapped to 0,
 * the extent check passed and the copy read 2^24 elements 4 TiB apart. */
TEST(harden_torch_stride_overflow) {
    pk p = {0};
    one_tensor_pickle(&p, 16, ((int64_t)1 << 24) + 1, (int64_t)1 << 40);
    float st[16] = {0};
    zin e[2] = {{"archive/data.pkl", p.b, p.n, 0, 0, 0}, {"archive/data/0", st, sizeof st, 0, 0, 0}};
    const char *path = tmp("stride.bin");
    REQUIRE(write_zip(path, e, 2) == 0);
    ll_safetensors s;
    memset(&s, 0, sizeof s);
    CHECK_INT(ll_torch_add_to_safetensors(&s, path), -1);
    CHECK_MSG(strstr(ll_last_error(), path) != NULL, "%s", ll_last_error());
    /* a legitimate strided view on the same storage still loads: (4,) stride 4 over 16 floats */
    pk q = {0};
    one_tensor_pickle(&q, 16, 4, 4);
    for (int i = 0; i < 16; i++) st[i] = (float)i;
    zin e2[2] = {{"archive/data.pkl", q.b, q.n, 0, 0, 0}, {"archive/data/0", st, sizeof st, 0, 0, 0}};
    const char *path2 = tmp("stride-ok.bin");
    REQUIRE(write_zip(path2, e2, 2) == 0);
    memset(&s, 0, sizeof s);
    REQUIRE_MSG(ll_torch_add_to_safetensors(&s, path2) == 0, "%s", ll_last_error());
    const ll_st_tensor *t = ll_st_find(&s, "w");
    REQUIRE(t && t->numel == 4);
    const float *d = t->data;
    CHECK(d[0] == 0 && d[1] == 4 && d[2] == 8 && d[3] == 12); /* rows 0..3, column 0 of a 4x4 arange */
    ll_st_close(&s);
    free(p.b);
    free(q.b);
}

/* 2,000,000 MEMOIZE opcodes after an empty dict: the memo was scanned from 0
 * for a free slot at each one (2e12 steps).  Linear now: well under the 20 s
 * alarm even under ASan (the alarm turns a hang into a failure). */
TEST(harden_torch_memoize_linear) {
    alarm(20);
    pk p = {0};
    pc(&p, 0x80); pc(&p, 4);
    pc(&p, '}');
    for (int i = 0; i < 2000000; i++) pc(&p, 0x94);
    pc(&p, '.');
    zin e[1] = {{"archive/data.pkl", p.b, p.n, 0, 0, 0}};
    const char *path = tmp("memo.bin");
    REQUIRE(write_zip(path, e, 1) == 0);
    ll_torch_file *f = ll_torch_open(path);
    REQUIRE_MSG(f, "%s", ll_last_error());
    CHECK_INT((int)ll_torch_count(f), 0);
    ll_torch_close(f);
    /* a memo index beyond what the pickle can define is refused before the
     * memo grows to it: LONG_BINPUT 16,000,000 in a 10-byte pickle */
    pk q = {0};
    pc(&q, 0x80); pc(&q, 2); pc(&q, '}');
    pc(&q, 'r'); uint32_t big = 16000000; pb(&q, &big, 4);
    pc(&q, '.');
    zin e2[1] = {{"archive/data.pkl", q.b, q.n, 0, 0, 0}};
    REQUIRE(write_zip(path, e2, 1) == 0);
    CHECK(ll_torch_open(path) == NULL);
    CHECK_MSG(strstr(ll_last_error(), "memo index 16000000 out of range"), "%s", ll_last_error());
    free(p.b);
    free(q.b);
}

/* A storage entry declaring 1 TiB uncompressed from 16 deflated bytes was
 * allocated (and zeroed by the kernel on touch) before inflating. */
TEST(harden_zip_declared_size) {
    pk p = {0};
    one_tensor_pickle(&p, 4, 4, 1);
    unsigned char junk[16] = {0x03, 0x00}; /* an empty final deflate block, then padding */
    zin e[2] = {{"archive/data.pkl", p.b, p.n, 0, 0, 0}, {"archive/data/0", junk, sizeof junk, 8, (uint64_t)1 << 40, 0}};
    const char *path = tmp("tib.bin");
    REQUIRE(write_zip(path, e, 2) == 0);
    CHECK(ll_torch_open(path) == NULL);
    CHECK_MSG(strstr(ll_last_error(), "more than deflate can expand"), "%s", ll_last_error());
    CHECK(strstr(ll_last_error(), path) != NULL);
    free(p.b);
}

/* Two zip entries of one name: refused (which one is meant is ambiguous). */
TEST(harden_zip_duplicate_entry) {
    pk p = {0};
    pc(&p, 0x80); pc(&p, 2); pc(&p, '}'); pc(&p, '.');
    zin e[2] = {{"archive/data.pkl", p.b, p.n, 0, 0, 0}, {"archive/data.pkl", p.b, p.n, 0, 0, 0}};
    const char *path = tmp("dup.bin");
    REQUIRE(write_zip(path, e, 2) == 0);
    CHECK(ll_torch_open(path) == NULL);
    CHECK_MSG(strstr(ll_last_error(), "appears twice"), "%s", ll_last_error());
    free(p.b);
}

static void write_st(const char *path, const char *hdr, size_t data_bytes) {
    FILE *f = fopen(path, "wb");
    uint64_t n = strlen(hdr);
    fwrite(&n, 8, 1, f);
    fwrite(hdr, 1, n, f);
    for (size_t i = 0; i < data_bytes; i++) fputc(0, f);
    fclose(f);
}

/* safetensors headers HF's safe_open (safetensors 0.8.0) refuses: overlapping
 * or repeated data_offsets, a gap, bytes after the last tensor, a float
 * offset of 1e300 (cast to uint64 before its range check: undefined). */
TEST(harden_safetensors_offsets) {
    static const struct { const char *hdr; size_t data; const char *msg; } c[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "overlaps"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "gap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "4 bytes after the last tensor"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1e300,1e300]}}", 4, "invalid data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-1e300,4]}}", 4, "invalid data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4, "invalid shape"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const char *path = tmp("x.safetensors");
        write_st(path, c[i].hdr, c[i].data);
        ll_safetensors s;
        CHECK_INT(ll_st_open_file(&s, path), -1);
        CHECK_MSG(strstr(ll_last_error(), c[i].msg) && strstr(ll_last_error(), path), "case %zu: %s", i, ll_last_error());
    }
    /* accepted by both: an empty tensor at the end of a tiled section */
    const char *ok = tmp("ok.safetensors");
    write_st(ok, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 4);
    ll_safetensors s;
    REQUIRE_MSG(ll_st_open_file(&s, ok) == 0, "%s", ll_last_error());
    CHECK_INT(s.n_tensors, 2);
    ll_st_close(&s);
}

/* An added token with id 2e9 in a 100-byte tokenizer.json made a 16 GB id
 * table; a vocab id of 16,000,000 with one entry a 128 MB one. */
TEST(harden_tokenizer_huge_ids) {
    static const char *js[] = {
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"added_tokens\":[{\"id\":2000000000,\"content\":\"x\"}]}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":16000000},\"merges\":[]}}",
    };
    for (int i = 0; i < 2; i++) {
        ll_tokenizer *t = ll_tokenizer_load_json(js[i], strlen(js[i]), "huge.json");
        CHECK(t == NULL);
        CHECK_MSG(strstr(ll_last_error(), "huge.json: ") && strstr(ll_last_error(), "too large"), "%s", ll_last_error());
        ll_tokenizer_free(t);
    }
    /* ids a little past the entries (holes, as some real vocabularies have) still load */
    const char *ok = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":5},\"merges\":[]},\"added_tokens\":[{\"id\":40,\"content\":\"<x>\"}]}";
    ll_tokenizer *t = ll_tokenizer_load_json(ok, strlen(ok), "ok.json");
    REQUIRE_MSG(t, "%s", ll_last_error());
    CHECK_INT(ll_tokenizer_vocab_size(t), 41);
    ll_tokenizer_free(t);
}

/* An empty vocabulary, and encodings that produce no ids: memcpy(.., NULL, 0)
 * and NULL + 0 before (clang's UBSan build, make ubsan-clang, reports them). */
TEST(harden_tokenizer_empty_vocab) {
    const char *js = "{\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}";
    ll_tokenizer *t = ll_tokenizer_load_json(js, strlen(js), "empty.json");
    REQUIRE_MSG(t, "%s", ll_last_error());
    CHECK_INT(ll_tokenizer_vocab_size(t), 0);
    const char *texts[] = {"", "abc", "\xff"};
    for (int i = 0; i < 3; i++) {
        int32_t *ids = NULL;
        int n = -1;
        CHECK_INT(ll_tokenizer_encode(t, texts[i], strlen(texts[i]), 1, 0, &ids, &n), 0);
        CHECK_INT(n, 0); /* no vocab, no unk: every character is dropped, as HF's BPE does */
        CHECK(ids != NULL);
        free(ids);
    }
    CHECK(ll_tokenizer_id_to_token(t, 0) == NULL);
    ll_tokenizer_free(t);
}

/* "Alice\u0000 was here" in JSONL was cut at the NUL (cJSON's valuestring is
 * a C string) and tokenised as "Alice", exit 0.  PyPI tokenizers 0.23.3 on
 * json.loads(line)["text"] with GPT-2: [44484, 188, 373, 994]. */
TEST(harden_jsonl_escaped_nul) {
    const char *path = tmp("nul.jsonl");
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("{\"text\": \"Alice\\u0000 was here\"}\n", f);
    fputs("{\"meta\": {\"text\": [\"no\"]}, \"text\": \"x\\u0000\\u0000y\\ud83d\\ude00\"}\n", f);
    fclose(f);
    ll_corpus *c = ll_corpus_open(path, LL_SPLIT_AUTO, NULL);
    REQUIRE(c);
    const char *txt;
    size_t len;
    REQUIRE(ll_corpus_next(c, &txt, &len) == 1);
    CHECK(len == 15 && !memcmp(txt, "Alice\0 was here", 15));
    REQUIRE(ll_corpus_next(c, &txt, &len) == 1);
    CHECK(len == 8 && !memcmp(txt, "x\0\0y\xf0\x9f\x98\x80", 8)); /* U+1F600 from its surrogate pair; the nested 'text' is not the field */
    CHECK_INT(ll_corpus_next(c, &txt, &len), 0);
    ll_corpus_close(c);
    char cmd[2000];
    char *out = NULL;
    const char *first = tmp("first.jsonl");
    snprintf(cmd, sizeof cmd, "head -1 %s > %s && %s tokenize --tokenizer %s --text %s", path, first, ll_bin_path(),
             ll_shared_path("data/tokenizers/gpt2"), first);
    CHECK_INT(ll_run_cmd(cmd, &out), 0);
    CHECK_MSG(out && !strcmp(out, "[44484,188,373,994]\n"), "%s", out ? out : "(null)");
    free(out);
}

/* A catastrophically backtracking Split pattern reaches PCRE2's match limit;
 * that error was taken for "no match" and the text silently tokenised
 * without the split.  Now the encoding fails, naming the tokenizer. */
TEST(harden_tokenizer_regex_limit) {
    const char *js = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"!\": 1}, \"merges\": []},"
                     " \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a+)+$\"},"
                     " \"behavior\": \"Isolated\", \"invert\": false}}";
    ll_tokenizer *t = ll_tokenizer_load_json(js, strlen(js), "backtrack.json");
    REQUIRE_MSG(t, "%s", ll_last_error());
    char text[64];
    memset(text, 'a', 40);
    text[40] = '!';
    int32_t *ids = NULL;
    int n = 0;
    CHECK_INT(ll_tokenizer_encode(t, text, 41, 0, 0, &ids, &n), -1);
    CHECK_MSG(strstr(ll_last_error(), "backtrack.json: a regex") && strstr(ll_last_error(), "limit"), "%s", ll_last_error());
    free(ids);
    /* the same tokenizer on text it can match still works: "aa!" -> [0, 0, 1], as PyPI tokenizers 0.23.3 */
    CHECK_INT(ll_tokenizer_encode(t, "aa!", 3, 0, 0, &ids, &n), 0);
    CHECK_INT(n, 3);
    free(ids);
    ll_tokenizer_free(t);
}

/* Found by fuzz_tokenizer: a TemplateProcessing special token whose id (6)
 * is above every vocab and added id (5) was returned by encode at or above
 * ll_tokenizer_vocab_size (6).  The id range now covers the post-processor's
 * ids.  PyPI tokenizers 0.23.3 on this file and "ab a <s>ab":
 * [6, 2, 4, 3, 5, 2]. */
TEST(harden_tokenizer_post_ids_in_range) {
    const char *js =
        "{\"added_tokens\": [{\"id\": 5, \"content\": \"<s>\", \"special\": true, \"normalized\": false, \"lstrip\": false,"
        " \"rstrip\": false, \"single_word\": false}], \"normalizer\": {\"type\": \"NFC\"},"
        " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true, \"trim_offsets\": true},"
        " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}},"
        " {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"pair\": [], \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [6],"
        " \"tokens\": [\"<s>\"]}}}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2, \"\\u0120\": 3,"
        " \"\\u0120a\": 4}, \"merges\": [\"a b\", \"\\u0120 a\"]}}";
    ll_tokenizer *t = ll_tokenizer_load_json(js, strlen(js), "post.json");
    REQUIRE_MSG(t, "%s", ll_last_error());
    int32_t *ids = NULL;
    int n = 0;
    REQUIRE(ll_tokenizer_encode(t, "ab a <s>ab", 10, 1, 0, &ids, &n) == 0);
    static const int32_t want[] = {6, 2, 4, 3, 5, 2};
    CHECK_INT(n, 6);
    for (int i = 0; i < n && i < 6; i++) CHECK_INT(ids[i], want[i]);
    CHECK_INT(ll_tokenizer_vocab_size(t), 7);
    free(ids);
    ll_tokenizer_free(t);
    /* and a post-processor id of 2e9 is refused like an added one */
    const char *big = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"post_processor\": {\"type\": "
                      "\"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": "
                      "{\"id\": \"A\", \"type_id\": 0}}], \"pair\": [], \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": "
                      "[2000000000], \"tokens\": [\"<s>\"]}}}}";
    t = ll_tokenizer_load_json(big, strlen(big), "bigpost.json");
    CHECK(t == NULL);
    CHECK_MSG(strstr(ll_last_error(), "bigpost.json: post_processor: special token id 2000000000 is too large"), "%s", ll_last_error());
    ll_tokenizer_free(t);
}
