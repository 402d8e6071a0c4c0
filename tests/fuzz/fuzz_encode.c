/* libFuzzer: text through real tokenizers (GPT-2 byte-level BPE, Mistral
 * Metaspace + byte fallback, GPT-NeoX NFC + added tokens), loaded once from
 * tests/data (run from the repository root, or set LAYERLAW_FUZZ_DATA). */
#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"

static ll_tokenizer *tk[3];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *root = getenv("LAYERLAW_FUZZ_DATA");
    static const char *names[3] = {"gpt2", "mistral-7b-v0.1", "gpt-neox-20b"};
    for (int i = 0; i < 3; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/tokenizers/%s", root && *root ? root : "tests/data", names[i]);
        tk[i] = ll_tokenizer_load(p);
        if (!tk[i]) { fprintf(stderr, "fuzz_encode: %s\n", ll_last_error()); exit(1); }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    ll_tokenizer *t = tk[data[0] % 3];
    int sp = (data[0] >> 2) & 1, ml = (data[0] >> 3) & 7;
    int32_t *ids = NULL;
    int k = -1;
    fz_reset_error();
    if (ll_tokenizer_encode(t, (const char *)data + 1, size - 1, sp, ml, &ids, &k) != 0) { fz_check_error(); return 0; }
    if (!ids || k < 0 || (ml > 0 && k > ml)) abort();
    for (int i = 0; i < k; i++)
        if (ids[i] < 0 || ids[i] >= ll_tokenizer_vocab_size(t)) abort();
    free(ids);
    return 0;
}
