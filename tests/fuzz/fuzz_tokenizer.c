/* libFuzzer: a tokenizer.json, then encoding.  The input is the JSON, then
 * optionally "\n#TEXT#\n" and a text to encode (else a few fixed strings). */
#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"

static void encode(ll_tokenizer *t, const char *s, size_t n) {
    for (int sp = 0; sp < 2; sp++)
        for (int ml = 0; ml < 8; ml += 3) {
            int32_t *ids = NULL;
            int k = -1;
            fz_reset_error();
            if (ll_tokenizer_encode(t, s, n, sp, ml, &ids, &k) != 0) { fz_check_error(); continue; }
            if (!ids || k < 0 || (ml > 0 && k > ml)) abort();
            for (int i = 0; i < k; i++)
                if (ids[i] < 0 || ids[i] >= ll_tokenizer_vocab_size(t)) abort();
            free(ids);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char sep[] = "\n#TEXT#\n";
    const uint8_t *text = NULL;
    size_t jn = size;
    for (size_t i = 0; i + sizeof sep - 1 <= size; i++)
        if (!memcmp(data + i, sep, sizeof sep - 1)) { jn = i; text = data + i + sizeof sep - 1; break; }
    fz_reset_error();
    ll_tokenizer *t = ll_tokenizer_load_json((const char *)data, jn, "fuzz.json");
    if (!t) { fz_check_error(); return 0; }
    if (text) encode(t, (const char *)text, size - (size_t)(text - data));
    else {
        static const char *fixed[] = {"", "Hello world", " a  b\n\tc", "caf\xc3\xa9 \xff\xfe x", "<s></s><|endoftext|>"};
        for (int i = 0; i < 5; i++) encode(t, fixed[i], strlen(fixed[i]));
    }
    int vs = ll_tokenizer_vocab_size(t);
    for (int i = 0; i < vs && i < 64; i++) {
        const char *tok = ll_tokenizer_id_to_token(t, i);
        if (tok && ll_tokenizer_token_to_id(t, tok) < 0) abort();
    }
    ll_tokenizer_free(t);
    return 0;
}
