/* Encoder tokenizers (WordPiece + BertNormalizer/BertPreTokenizer, Unigram
 * with WhitespaceSplit/Metaspace/Strip/Lowercase and byte_fallback, RoBERTa's
 * byte-level BPE + RobertaProcessing): every document's ids must equal PyPI
 * `tokenizers` 0.23.3's, id for id.  Fixtures: tools/make_tokenizer_fixtures_encoders.py
 * -> tests/fixtures/tokenizers/encoders/manifest.tsv (same columns as the
 * BPE manifest). */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "test_util.h"
#include "core/ll_util.h"
#include "tokenizer/tokenizer.h"

/* The fixture runner of the BPE tests (tests/test_tokenizer.c), on the
 * encoders' manifest. */
static void run_encoders_manifest(const char *name) {
    ll_test_tokenizer_manifest("tests/fixtures/tokenizers/encoders/manifest.tsv", name);
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
