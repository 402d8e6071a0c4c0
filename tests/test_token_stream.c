/* Background tokenisation stream: same ids as ll_tokenizer_encode, in order. */
#include <stdlib.h>
#include <string.h>

#include "io/corpus.h"
#include "harness.h"
#include "core/ll_util.h"
#include "io/token_stream.h"
#include "tokenizer/tokenizer.h"

TEST(token_stream_matches_encode) {
    const char *tok = ll_shared_path("data/tokenizers/mistral-7b-v0.1");
    char corpus[1024];
    snprintf(corpus, sizeof corpus, "%s", ll_shared_path("data/corpora/gutenberg-11-alices-adventures-in-wonderland.txt"));
    for (int mode = 0; mode < 2; mode++) {
        ll_token_stream_opts o = {.tokenizer = tok, .corpus = corpus, .split = LL_SPLIT_PARAGRAPH, .add_special = 1,
                                  .max_length = 64, .queue = 2, .docs = mode ? 50 : 0, .seed = 7};
        ll_token_stream *s = ll_token_stream_open(&o);
        REQUIRE_MSG(s, "%s", ll_last_error());
        CHECK_INT(ll_token_stream_vocab_size(s), 32000);
        ll_tokenizer *t = ll_tokenizer_load(tok);
        REQUIRE(t);
        ll_corpus *c = ll_corpus_open_sampled(corpus, LL_SPLIT_PARAGRAPH, NULL, mode ? 50 : 0, 7);
        REQUIRE(c);
        const char *txt;
        size_t len;
        int ndocs = 0, r;
        int32_t *ids, *exp;
        int n, ne;
        long long idx;
        while ((r = ll_corpus_next(c, &txt, &len)) == 1) {
            REQUIRE(ll_tokenizer_encode(t, txt, len, 1, 64, &exp, &ne) == 0);
            REQUIRE_MSG(ll_token_stream_next(s, &ids, &n, &idx) == 1, "stream ended early at %d", ndocs);
            CHECK_INT(idx, ll_corpus_doc_index(c));
            CHECK_MSG(n == ne && !memcmp(ids, exp, n * sizeof *ids), "document %d differs", ndocs);
            free(ids);
            free(exp);
            ndocs++;
        }
        CHECK_INT(r, 0);
        CHECK_INT(ll_token_stream_next(s, &ids, &n, &idx), 0);
        if (mode) CHECK_INT(ndocs, 50);
        else CHECK(ndocs > 500);
        ll_token_stream_close(s);
        ll_corpus_close(c);
        ll_tokenizer_free(t);
    }
}

TEST(token_stream_errors_and_early_close) {
    char p[700];
    ll_path_join(p, sizeof p, ll_test_tmpdir(), "x.jsonl");
    const char js[] = "{\"text\":\"one\"}\n{\"text\":\"two\"}\n{\"txt\":\"three\"}\n";
    REQUIRE(ll_write_file_atomic(p, js, sizeof js - 1) == 0);
    ll_token_stream_opts o = {.tokenizer = ll_shared_path("data/tokenizers/gpt2"), .corpus = p, .add_special = 1};
    ll_token_stream *s = ll_token_stream_open(&o);
    REQUIRE_MSG(s, "%s", ll_last_error());
    int32_t *ids;
    int n;
    long long idx;
    CHECK_INT(ll_token_stream_next(s, &ids, &n, &idx), 1);
    free(ids);
    CHECK_INT(ll_token_stream_next(s, &ids, &n, &idx), 1);
    free(ids);
    CHECK_INT(ll_token_stream_next(s, &ids, &n, &idx), -1);
    CHECK_MSG(strstr(ll_last_error(), "x.jsonl:3: no field 'text'"), "%s", ll_last_error());
    ll_token_stream_close(s);
    /* close before the end, with a full queue */
    o.corpus = ll_shared_path("data/corpora/tinyshakespeare.txt");
    o.queue = 4;
    s = ll_token_stream_open(&o);
    REQUIRE(s);
    CHECK_INT(ll_token_stream_next(s, &ids, &n, &idx), 1);
    free(ids);
    ll_token_stream_close(s);
    /* errors at open come back at once */
    o.tokenizer = "/nonexistent/tok";
    CHECK(ll_token_stream_open(&o) == NULL);
    CHECK(strstr(ll_last_error(), "/nonexistent/tok") != NULL);
}
