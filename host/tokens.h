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
#endif
