/* libFuzzer: a GGUF file (header, metadata of every type, tensor infos,
 * aligned data).  Every accepted file is also turned into a tensor store
 * (dequantisation, the llama q/k permutation), an HF config and, when it has
 * one, a tokenizer.  Seeds: tests/fuzz/corpus/fuzz_gguf (tools/make_gguf_fixtures.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "core/ll_util.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ll_gguf g;
    if (ll_gguf_open_mem(&g, data, size, "fuzz.gguf") != 0) {
        /* a refusal must be one line naming the input */
        const char *e = ll_last_error();
        if (strncmp(e, "fuzz.gguf: ", 11) || strchr(e, '\n')) abort();
        return 0;
    }
    cJSON *cfg = ll_gguf_hf_config(&g);
    cJSON_Delete(cfg);
    char *js = ll_gguf_tokenizer_json(&g);
    if (js) {
        ll_tokenizer *tk = ll_tokenizer_load_json(js, strlen(js), "fuzz.gguf");
        if (tk) {
            int32_t *ids;
            int n;
            if (ll_tokenizer_encode(tk, "Hello 123 world", 15, 1, 0, &ids, &n) == 0) free(ids);
            ll_tokenizer_free(tk);
        }
        free(js);
    }
    ll_safetensors st;
    if (ll_gguf_to_store(&g, &st) == 0) {
        for (int i = 0; i < st.n_tensors; i++) {
            const ll_st_tensor *t = &st.tensors[i];
            if (t->nbytes) { volatile unsigned char x = ((const unsigned char *)t->data)[t->nbytes - 1]; (void)x; }
        }
    }
    ll_st_close(&st);
    ll_gguf_close(&g);
    return 0;
}
