/* libFuzzer: a token-id file (one JSON array of ids per line), read whole
 * and streamed, with and without a length cut (first byte picks it). */
#include "fuzz_util.h"
#include "io/tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int max_len = size ? data[0] % 8 : 0; /* 0 = no cut */
    const char *path = fz_write("ids.jsonl", data, size);
    ll_tokens t;
    fz_reset_error();
    if (ll_tokens_read(path, max_len, &t) == 0) {
        if (t.off[t.n_seq] != t.n_ids) abort();
        for (int64_t s = 0; s < t.n_seq; s++)
            if (t.off[s] > t.off[s + 1] || (max_len > 0 && t.off[s + 1] - t.off[s] > max_len)) abort();
        ll_tokens_check_vocab(&t, path, 1000);
        ll_tokens_free(&t);
    } else fz_check_error();
    ll_token_reader *r = ll_token_reader_open(path, max_len);
    if (!r) abort();
    const int32_t *ids;
    int n, cut, rc;
    while ((rc = ll_token_reader_next(r, &ids, &n, &cut)) == 1)
        for (int i = 0; i < n; i++) if (ids[i] < 0) abort();
    if (rc < 0) fz_check_error();
    ll_token_reader_close(r);
    return 0;
}
