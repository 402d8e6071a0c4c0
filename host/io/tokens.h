/* Pre-tokenised input: one JSON array of token ids per line
 * ("[1, 403, 407]").  Blank lines are skipped; empty arrays give empty
 * sequences (kept, they make no examples). */
#ifndef LL_TOKENS_H
#define LL_TOKENS_H
#include <stdint.h>

typedef struct {
    int64_t n_seq;
    int64_t *off;  /* [n_seq + 1]: sequence s is ids[off[s] .. off[s+1]) */
    int32_t *ids;
    int64_t n_ids;
    int64_t n_cut; /* sequences shortened by max_len */
} ll_tokens;

/* Reads path; sequences longer than max_len (> 0) are cut to max_len.
 * Errors (0 / -1 + "PATH: line K: problem"): unreadable file, a line that is
 * not an array of non-negative integers, no sequence at all. */
int ll_tokens_read(const char *path, int max_len, ll_tokens *out);
/* -1 + "PATH: line K: token id X is outside the vocabulary (V)" if any id >= vocab. */
int ll_tokens_check_vocab(const ll_tokens *t, const char *path, int vocab);
void ll_tokens_free(ll_tokens *t);

/* Streaming: one sequence at a time in O(longest line) memory. */
typedef struct ll_token_reader ll_token_reader;
ll_token_reader *ll_token_reader_open(const char *path, int max_len); /* NULL + error */
/* 1: the next sequence (*ids valid until the next call; *n may be 0 for "[]";
 * *cut = 1 if max_len shortened it), 0: end of file, -1: error
 * ("PATH: line K: problem").  Blank lines are skipped. */
int ll_token_reader_next(ll_token_reader *r, const int32_t **ids, int *n, int *cut);
/* Line number of the sequence last returned (1-based). */
long ll_token_reader_line(const ll_token_reader *r);
void ll_token_reader_close(ll_token_reader *r);
#endif
