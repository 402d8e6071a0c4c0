/* libFuzzer: GGUF tokenizer metadata (issue 24).  The input is not a GGUF
 * container (fuzz_gguf does that) but the tokenizer's fields, wrapped here
 * into a valid container so that every run reaches the tokenizer code:
 *   byte 0: bit 0 model (0 llama = SentencePiece BPE, 1 gpt2 = byte-level
 *           BPE), bit 1 add_bos, bit 2 add_eos, bit 3 add_space_prefix false,
 *           bits 4-6 tokenizer.ggml.pre (one of 8, the last unknown);
 *   the rest: lines ('\n'); a line starting with '#' is a merge (gpt2), with
 *           '!' a CONTROL piece, else a normal piece (score -index).
 * Accepted metadata becomes tokenizer.json, is loaded and encodes a text;
 * a refusal must be one line naming the input.  Seeds:
 * tests/fuzz/corpus/fuzz_gguf_tok/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    unsigned char *b;
    size_t n, cap;
} wb;
static void put(wb *o, const void *p, size_t n) {
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 64;
        o->b = ll_xrealloc(o->b, o->cap);
    }
    if (n) memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void u32(wb *o, uint32_t v) { unsigned char b[4]; for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i)); put(o, b, 4); }
static void u64(wb *o, uint64_t v) { unsigned char b[8]; for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i)); put(o, b, 8); }
static void strn(wb *o, const void *s, size_t n) { u64(o, n); put(o, s, n); }
static void str(wb *o, const char *s) { strn(o, s, strlen(s)); }
static void kv_str(wb *o, const char *k, const char *v) { str(o, k); u32(o, LL_GGUF_STRING); str(o, v); }
static void kv_u32(wb *o, const char *k, uint32_t v) { str(o, k); u32(o, LL_GGUF_UINT32); u32(o, v); }
static void kv_bool(wb *o, const char *k, int v) { str(o, k); u32(o, LL_GGUF_BOOL); unsigned char b = (unsigned char)v; put(o, &b, 1); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const char *const pres[8] = {"default", "gpt-2", "smollm", "llama-bpe", "qwen2", "starcoder", "llama3",
                                        "no-such-pre"};
    const int gpt2 = data[0] & 1, add_bos = (data[0] >> 1) & 1, add_eos = (data[0] >> 2) & 1,
              no_space = (data[0] >> 3) & 1;
    const char *pre = pres[(data[0] >> 4) & 7];
    /* lines */
    const uint8_t *p = data + 1, *end = data + size;
    size_t n_pieces = 0, n_merges = 0;
    for (const uint8_t *q = p; q <= end;) {
        const uint8_t *nl = memchr(q, '\n', (size_t)(end - q));
        const uint8_t *e = nl ? nl : end;
        if (e > q && *q == '#') n_merges++;
        else n_pieces++;
        if (!nl) break;
        q = nl + 1;
    }
    wb o = {0};
    put(&o, "GGUF", 4);
    u32(&o, 3);
    u64(&o, 0);
    u64(&o, 10 + (gpt2 ? 2 : 1));
    kv_str(&o, "general.architecture", "llama");
    kv_str(&o, "tokenizer.ggml.model", gpt2 ? "gpt2" : "llama");
    kv_str(&o, "tokenizer.ggml.pre", pre);
    kv_u32(&o, "tokenizer.ggml.bos_token_id", 0);
    kv_u32(&o, "tokenizer.ggml.eos_token_id", n_pieces > 1 ? 1 : 0);
    kv_u32(&o, "tokenizer.ggml.unknown_token_id", 0);
    kv_bool(&o, "tokenizer.ggml.add_bos_token", add_bos);
    kv_bool(&o, "tokenizer.ggml.add_eos_token", add_eos);
    kv_bool(&o, "tokenizer.ggml.add_space_prefix", !no_space);
    /* tokens, types (and scores or merges) */
    wb tok = {0}, types = {0}, scores = {0}, merges = {0};
    uint64_t i = 0;
    for (const uint8_t *q = p; q <= end;) {
        const uint8_t *nl = memchr(q, '\n', (size_t)(end - q));
        const uint8_t *e = nl ? nl : end;
        if (e > q && *q == '#') {
            strn(&merges, q + 1, (size_t)(e - q - 1));
        } else {
            const int control = e > q && *q == '!';
            strn(&tok, q + control, (size_t)(e - q - control));
            u32(&types, control ? 3 : 1);
            float f = -(float)i++;
            uint32_t u;
            memcpy(&u, &f, 4);
            u32(&scores, u);
        }
        if (!nl) break;
        q = nl + 1;
    }
    str(&o, "tokenizer.ggml.tokens"); u32(&o, LL_GGUF_ARRAY); u32(&o, LL_GGUF_STRING); u64(&o, n_pieces); put(&o, tok.b, tok.n);
    str(&o, "tokenizer.ggml.token_type"); u32(&o, LL_GGUF_ARRAY); u32(&o, LL_GGUF_INT32); u64(&o, n_pieces); put(&o, types.b, types.n);
    if (gpt2) {
        str(&o, "tokenizer.ggml.merges"); u32(&o, LL_GGUF_ARRAY); u32(&o, LL_GGUF_STRING); u64(&o, n_merges); put(&o, merges.b, merges.n);
    }
    str(&o, "tokenizer.ggml.scores"); u32(&o, LL_GGUF_ARRAY); u32(&o, LL_GGUF_FLOAT32); u64(&o, n_pieces); put(&o, scores.b, scores.n);
    free(tok.b); free(types.b); free(scores.b); free(merges.b);

    ll_gguf g;
    if (ll_gguf_open_mem(&g, o.b, o.n, "fuzz_tok.gguf") != 0) abort(); /* a valid container, always */
    char *js = ll_gguf_tokenizer_json(&g);
    if (!js) {
        const char *err = ll_last_error();
        if (strncmp(err, "fuzz_tok.gguf: ", 15) || strchr(err, '\n')) abort();
    } else {
        ll_tokenizer *tk = ll_tokenizer_load_json(js, strlen(js), "fuzz_tok.gguf");
        if (tk) {
            static const char text[] = "Hello  world 123, \xc3\xa9t\xc3\xa9 \xf0\x9f\x99\x82 <s>x</s>";
            int32_t *ids;
            int n;
            if (ll_tokenizer_encode(tk, text, sizeof text - 1, 1, 0, &ids, &n) == 0) free(ids);
            if (ll_tokenizer_encode(tk, (const char *)data + 1, size - 1, 1, 0, &ids, &n) == 0) free(ids);
            ll_tokenizer_free(tk);
        }
        free(js);
    }
    ll_gguf_close(&g);
    free(o.b);
    return 0;
}
