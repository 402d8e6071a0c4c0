/* Tokenised documents from a background thread, so that tokenisation
 * overlaps the forward pass (`layerlaw run`).  One producer thread opens the
 * corpus (sampled or not, see corpus.h), encodes each document with its own
 * ll_tokenizer and queues the ids; ll_token_stream_next() hands them out in
 * file order.  The ids equal ll_tokenizer_encode()'s. */
#ifndef LL_TOKEN_STREAM_H
#define LL_TOKEN_STREAM_H
#include <stddef.h>
#include <stdint.h>

typedef struct ll_token_stream ll_token_stream;

typedef struct {
    const char *tokenizer;  /* tokenizer.json or its folder */
    const char *corpus;     /* file, or "-" for stdin */
    int split;              /* LL_SPLIT_* (corpus.h) */
    const char *text_field; /* JSONL field, NULL = "text" */
    long long docs;         /* > 0: sample this many documents ... */
    uint64_t seed;          /* ... with this seed */
    int add_special;        /* 1: BOS/EOS as add_special_tokens=True */
    int max_length;         /* > 0: right truncation, special tokens included */
    int queue;              /* documents buffered ahead (0 = 64) */
} ll_token_stream_opts;

/* Loads the tokenizer and opens the corpus in the caller's thread (so that
 * errors in either come back here: NULL + ll_set_error), then starts the
 * producer. */
ll_token_stream *ll_token_stream_open(const ll_token_stream_opts *o);
/* 1: *ids (malloc'd, caller frees), *n, *doc_index (0-based index of the
 * document in the file); 0: no more documents; -1: error (ll_set_error with
 * the producer's message, e.g. a bad JSONL line). */
int ll_token_stream_next(ll_token_stream *s, int32_t **ids, int *n, long long *doc_index);
/* Vocabulary size of the stream's tokenizer. */
int ll_token_stream_vocab_size(const ll_token_stream *s);
/* Stops the producer (also before the end) and frees everything. */
void ll_token_stream_close(ll_token_stream *s);
#endif
