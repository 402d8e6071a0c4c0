/* tokenizer.json from GGUF tokenizer metadata (tokenizer.ggml.*): the
 * vocabulary types and pre-tokenizer names of llama.cpp's table.  In
 * tokenizer/ (not io/): these are tokenizer formats; docs/gguf.md. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "core/ll_util.h"
#include "io/gguf.h"

/* ---- tokenizer ---- */

/* NUL-terminated copy of a string value (NULL if it holds a NUL byte) */
static char *dup_str(const ll_gguf_value *v) {
    char *s = ll_xmalloc(v->v.s.len + 1);
    memcpy(s, v->v.s.p, v->v.s.len);
    s[v->v.s.len] = 0;
    if (strlen(s) != v->v.s.len) { free(s); return NULL; }
    return s;
}

static const ll_gguf_value *get_array(const ll_gguf *g, const char *key, uint32_t et, int required) {
    const ll_gguf_value *v = ll_gguf_get(g, key);
    if (!v) {
        if (required) ll_set_error("%s: metadata '%s' is missing", g->path, key);
        return NULL;
    }
    if (v->type != LL_GGUF_ARRAY || v->v.a.type != et) {
        ll_set_error("%s: metadata '%s' is not an array of the expected type", g->path, key);
        return NULL;
    }
    return v;
}

/* The regular expressions llama.cpp's pre-tokenizer table uses (its
 * llm_tokenizer_bpe), written as the HF pre-tokenizers that give the same
 * pieces: the GPT-2 expression is ByteLevel's own (use_regex); others are a
 * Split(Isolated) before a ByteLevel without regex. */
#define RX_LLAMA3 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_QWEN2 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static void add_split(cJSON *arr, const char *rx) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "Split");
    cJSON *p = cJSON_AddObjectToObject(s, "pattern");
    cJSON_AddStringToObject(p, "Regex", rx);
    cJSON_AddStringToObject(s, "behavior", "Isolated");
    cJSON_AddBoolToObject(s, "invert", 0);
    cJSON_AddItemToArray(arr, s);
}
static void add_bytelevel(cJSON *arr, int use_regex) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "ByteLevel");
    cJSON_AddBoolToObject(b, "add_prefix_space", 0);
    cJSON_AddBoolToObject(b, "trim_offsets", 1);
    cJSON_AddBoolToObject(b, "use_regex", use_regex);
    cJSON_AddItemToArray(arr, b);
}

/* tokenizer.ggml.pre → HF pre_tokenizer (Sequence); NULL + error if unknown */
static cJSON *pre_tokenizer_for(const ll_gguf *g, const char *pre) {
    static const char *const gpt2_like[] = {"default", "gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "jina-v1-en",
                                            "jina-v2-es", "jina-v2-de", "jina-v2-code", "roberta-bpe", NULL};
    static const char *const digits[] = {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone",
                                         "minerva-7b", NULL};
    static const char *const llama3[] = {"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral", NULL};
    static const char *const qwen2[] = {"qwen2", "deepseek-r1-qwen", NULL};
    cJSON *seq = cJSON_CreateObject();
    cJSON_AddStringToObject(seq, "type", "Sequence");
    cJSON *arr = cJSON_AddArrayToObject(seq, "pretokenizers");
    for (int i = 0; gpt2_like[i]; i++)
        if (!strcmp(pre, gpt2_like[i])) { add_bytelevel(arr, 1); return seq; }
    for (int i = 0; digits[i]; i++)
        if (!strcmp(pre, digits[i])) {
            /* HF: Digits(individual_digits) = Split on each \p{N} char, isolated */
            add_split(arr, "\\p{N}");
            add_bytelevel(arr, 1);
            return seq;
        }
    for (int i = 0; llama3[i]; i++)
        if (!strcmp(pre, llama3[i])) { add_split(arr, RX_LLAMA3); add_bytelevel(arr, 0); return seq; }
    for (int i = 0; qwen2[i]; i++)
        if (!strcmp(pre, qwen2[i])) { add_split(arr, RX_QWEN2); add_bytelevel(arr, 0); return seq; }
    cJSON_Delete(seq);
    ll_set_error("%s: tokenizer.ggml.pre '%s' is not supported (gpt-2, smollm/starcoder, llama-bpe, qwen2 and their "
                 "aliases are; pass --tokenizer)", g->path, pre);
    return NULL;
}

/* post_processor adding BOS / EOS as tokenizer.ggml.add_{bos,eos}_token say */
static cJSON *post_processor(const char *bos, int32_t bos_id, int add_bos, const char *eos, int32_t eos_id, int add_eos) {
    if (!(add_bos && bos) && !(add_eos && eos)) return NULL;
    cJSON *pp = cJSON_CreateObject();
    cJSON_AddStringToObject(pp, "type", "TemplateProcessing");
    cJSON *single = cJSON_AddArrayToObject(pp, "single");
    cJSON *pair = cJSON_AddArrayToObject(pp, "pair");
    cJSON *sp = cJSON_AddObjectToObject(pp, "special_tokens");
    const char *names[2] = {add_bos ? bos : NULL, add_eos ? eos : NULL};
    const int32_t ids[2] = {bos_id, eos_id};
    for (int pass = 0; pass < 2; pass++) {
        cJSON *tgt = pass ? pair : single;
        for (int seg = 0; seg < (pass ? 2 : 1); seg++) {
            const char *sid = seg ? "B" : "A";
            if (names[0]) {
                cJSON *e = cJSON_CreateObject(), *s = cJSON_AddObjectToObject(e, "SpecialToken");
                cJSON_AddStringToObject(s, "id", names[0]);
                cJSON_AddNumberToObject(s, "type_id", seg);
                cJSON_AddItemToArray(tgt, e);
            }
            cJSON *e = cJSON_CreateObject(), *s = cJSON_AddObjectToObject(e, "Sequence");
            cJSON_AddStringToObject(s, "id", sid);
            cJSON_AddNumberToObject(s, "type_id", seg);
            cJSON_AddItemToArray(tgt, e);
            if (names[1]) {
                cJSON *e2 = cJSON_CreateObject(), *s2 = cJSON_AddObjectToObject(e2, "SpecialToken");
                cJSON_AddStringToObject(s2, "id", names[1]);
                cJSON_AddNumberToObject(s2, "type_id", seg);
                cJSON_AddItemToArray(tgt, e2);
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (!names[i] || (i == 1 && names[0] && !strcmp(names[0], names[1]))) continue;
        cJSON *o = cJSON_AddObjectToObject(sp, names[i]);
        cJSON_AddStringToObject(o, "id", names[i]);
        cJSON *ida = cJSON_AddArrayToObject(o, "ids");
        cJSON_AddItemToArray(ida, cJSON_CreateNumber(ids[i]));
        cJSON *ta = cJSON_AddArrayToObject(o, "tokens");
        cJSON_AddItemToArray(ta, cJSON_CreateString(names[i]));
    }
    return pp;
}

/* ---- SentencePiece BPE (tokenizer.ggml.model = llama): merges from scores ----
 * The GGUF holds pieces and scores, not merges.  HF's converter
 * (SentencePieceExtractor with the piece scores) lists, for every piece in id
 * order, each split into two pieces of the vocabulary (at code-point
 * boundaries; sorted by the ids of the left then right piece), then sorts all
 * of them by the merged piece's score, highest first, keeping that order among
 * equal scores.  The same here. */
typedef struct { float score; int32_t tok, l, r; } spm_merge;
static int cmp_spm(const void *a, const void *b) {
    const spm_merge *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->tok != y->tok) return x->tok < y->tok ? -1 : 1;
    if (x->l != y->l) return x->l < y->l ? -1 : 1;
    return (x->r > y->r) - (x->r < y->r);
}
/* Pieces by content: a polynomial hash mod 2^61 - 1 with a random base per
 * process (no crafted vocabulary collides on purpose), so that every split
 * of a piece is looked up in O(1) from its prefix hashes — linear in the
 * piece, not quadratic — and confirmed with memcmp. */
#define SPM_P ((UINT64_C(1) << 61) - 1)
static uint64_t mulmod(uint64_t a, uint64_t b) {
    const unsigned __int128 r = (unsigned __int128)a * b;
    uint64_t x = (uint64_t)(r & SPM_P) + (uint64_t)(r >> 61);
    return x >= SPM_P ? x - SPM_P : x;
}
static uint64_t addmod(uint64_t a, uint64_t b) { uint64_t x = a + b; return x >= SPM_P ? x - SPM_P : x; }
static uint64_t submod(uint64_t a, uint64_t b) { return a >= b ? a - b : a + SPM_P - b; }
static uint64_t spm_base(void) {
    uint64_t b = 0;
    if (getrandom(&b, sizeof b, 0) != (ssize_t)sizeof b) b = (uint64_t)time(NULL) * UINT64_C(0x9E3779B97F4A7C15);
    return 256 + b % (SPM_P - 512);
}
typedef struct { uint64_t h; const char *key; uint32_t len; int32_t id; } sm_entry;
typedef struct { sm_entry *e; size_t cap; } str_map; /* open addressing on (hash, length) */
static void sm_init(str_map *m, size_t n) {
    m->cap = 16;
    while (m->cap < 2 * n + 2) m->cap *= 2;
    m->e = ll_xcalloc(m->cap, sizeof(sm_entry));
}
static void sm_put(str_map *m, uint64_t h, const char *k, uint32_t len, int32_t id) {
    for (size_t i = (h * UINT64_C(0x9E3779B97F4A7C15)) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        sm_entry *x = &m->e[i];
        if (!x->key) { *x = (sm_entry){h, k, len, id}; return; }
        if (x->h == h && x->len == len && !memcmp(x->key, k, len)) return; /* first id wins */
    }
}
static int32_t sm_find(const str_map *m, uint64_t h, const char *k, uint32_t len) {
    for (size_t i = (h * UINT64_C(0x9E3779B97F4A7C15)) & (m->cap - 1); m->e[i].key; i = (i + 1) & (m->cap - 1)) {
        const sm_entry *x = &m->e[i];
        if (x->h == h && x->len == len && !memcmp(x->key, k, len)) return x->id;
    }
    return -1;
}

/* The merges' size is bounded before they are built: real vocabularies give
 * a few bytes of merges per byte of pieces (Mistral's 32,000 pieces: 58,980
 * merges); a crafted one (a, aa, aaa, ...) gives merges quadratic in its
 * size.  Each merge costs its two pieces plus ~80 bytes of JSON here. */
#define SPM_MERGE_OVERHEAD 80
#define SPM_BUDGET(vocab_bytes) (((uint64_t)64 << 20) + 32 * (uint64_t)(vocab_bytes))

/* merges "l r" into arr; -1 + error when a piece holds a space (not
 * expressible) or the merges would exceed the budget above */
static int spm_merges(const ll_gguf *g, char **tok, uint64_t n, const ll_gguf_value *scores, cJSON *arr) {
    const uint64_t B = spm_base();
    size_t maxlen = 0;
    uint64_t vocab_bytes = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t len = strlen(tok[i]);
        if (len > maxlen) maxlen = len;
        vocab_bytes += len;
    }
    if (maxlen >= UINT32_MAX) {
        ll_set_error("%s: a tokenizer piece of %zu bytes", g->path, maxlen);
        return -1;
    }
    uint64_t *pw = ll_xmalloc(sizeof(uint64_t) * (maxlen + 1)), *H = ll_xmalloc(sizeof(uint64_t) * (maxlen + 1));
    pw[0] = 1;
    for (size_t k = 1; k <= maxlen; k++) pw[k] = mulmod(pw[k - 1], B);
    str_map m;
    sm_init(&m, n);
    uint64_t *full = ll_xmalloc(sizeof(uint64_t) * (n ? n : 1));
    for (uint64_t i = 0; i < n; i++) {
        const unsigned char *t = (const unsigned char *)tok[i];
        uint64_t h = 0;
        size_t len = 0;
        for (; t[len]; len++) h = addmod(mulmod(h, B), (uint64_t)t[len] + 1);
        full[i] = h;
        sm_put(&m, h, tok[i], (uint32_t)len, (int32_t)i);
    }
    const uint64_t budget = SPM_BUDGET(vocab_bytes);
    uint64_t cost = 0;
    spm_merge *v = NULL;
    size_t nv = 0, cap = 0;
    int rc = 0;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        const char *t = tok[i];
        const size_t len = strlen(t);
        H[0] = 0;
        for (size_t k = 0; k < len; k++) H[k + 1] = addmod(mulmod(H[k], B), (uint64_t)(unsigned char)t[k] + 1);
        for (size_t k = 1; k < len; k++) {
            if (((unsigned char)t[k] & 0xC0) == 0x80) continue; /* not a code-point boundary */
            int32_t l = sm_find(&m, H[k], t, (uint32_t)k);
            if (l < 0) continue;
            const uint64_t hr = submod(full[i], mulmod(H[k], pw[len - k]));
            int32_t r = sm_find(&m, hr, t + k, (uint32_t)(len - k));
            if (r < 0) continue;
            cost += len + SPM_MERGE_OVERHEAD;
            if (cost > budget) {
                ll_set_error("%s: the SentencePiece merges rebuilt from %llu pieces (%llu bytes) would take more than "
                             "%llu MB; refused (no real vocabulary needs this)",
                             g->path, (unsigned long long)n, (unsigned long long)vocab_bytes,
                             (unsigned long long)(budget >> 20));
                rc = -1;
                break;
            }
            if (nv == cap) { cap = cap ? 2 * cap : 1024; v = ll_xrealloc(v, cap * sizeof *v); }
            v[nv++] = (spm_merge){(float)scores->v.a.items[i].v.f, (int32_t)i, l, r};
        }
    }
    free(pw);
    free(H);
    free(full);
    free(m.e);
    if (rc) { free(v); return -1; }
    if (nv) qsort(v, nv, sizeof *v, cmp_spm);
    for (size_t i = 0; i < nv; i++) {
        if (strchr(tok[v[i].l], ' ') || strchr(tok[v[i].r], ' ')) {
            ll_set_error("%s: tokenizer piece with a space cannot be a merge", g->path);
            rc = -1;
            break;
        }
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(tok[v[i].l]));
        cJSON_AddItemToArray(pair, cJSON_CreateString(tok[v[i].r]));
        cJSON_AddItemToArray(arr, pair);
    }
    free(v);
    return rc;
}

char *ll_gguf_tokenizer_json(const ll_gguf *g) {
    char *model = NULL, *pre = NULL, *out = NULL;
    cJSON *root = NULL;
    char **tok = NULL;
    uint64_t n = 0;
    int rc = ll_gguf_get_str(g, "tokenizer.ggml.model", &model);
    if (rc != 0) {
        if (rc == 1) ll_set_error("%s: no tokenizer in the GGUF metadata (tokenizer.ggml.model); pass --tokenizer", g->path);
        return NULL;
    }
    const int spm = !strcmp(model, "llama");
    if (strcmp(model, "gpt2") && !spm) {
        ll_set_error("%s: tokenizer.ggml.model '%s' is not supported (gpt2 byte-level BPE, llama SentencePiece BPE); "
                     "pass --tokenizer", g->path, model);
        goto done;
    }
    const ll_gguf_value *tokens = get_array(g, "tokenizer.ggml.tokens", LL_GGUF_STRING, 1);
    if (!tokens) goto done;
    const ll_gguf_value *merges = NULL, *scores = NULL;
    if (spm) {
        scores = get_array(g, "tokenizer.ggml.scores", LL_GGUF_FLOAT32, 1);
        if (!scores) goto done;
        if (scores->v.a.n != tokens->v.a.n) {
            ll_set_error("%s: tokenizer.ggml.scores has %llu entries for %llu tokens", g->path,
                         (unsigned long long)scores->v.a.n, (unsigned long long)tokens->v.a.n);
            goto done;
        }
    } else {
        merges = get_array(g, "tokenizer.ggml.merges", LL_GGUF_STRING, 1);
        if (!merges) goto done;
    }
    const ll_gguf_value *types = ll_gguf_get(g, "tokenizer.ggml.token_type");
    if (types && (types->type != LL_GGUF_ARRAY || (types->v.a.type != LL_GGUF_INT32 && types->v.a.type != LL_GGUF_UINT32) ||
                  types->v.a.n != tokens->v.a.n)) {
        ll_set_error("%s: tokenizer.ggml.token_type is not an int32 array of one entry per token", g->path);
        goto done;
    }
    n = tokens->v.a.n;
    if (n == 0 || n > (1u << 30)) { ll_set_error("%s: tokenizer.ggml.tokens has %llu entries", g->path, (unsigned long long)n); goto done; }
    cJSON *pt;
    if (spm) {
        /* as HF's Llama/Mistral tokenizer.json: Metaspace, '▁' prepended to the first piece
         * unless tokenizer.ggml.add_space_prefix is false */
        int64_t asp = 1;
        if (ll_gguf_get_int(g, "tokenizer.ggml.add_space_prefix", &asp) < 0) goto done;
        pt = cJSON_CreateObject();
        cJSON_AddStringToObject(pt, "type", "Metaspace");
        cJSON_AddStringToObject(pt, "replacement", "\xe2\x96\x81");
        cJSON_AddStringToObject(pt, "prepend_scheme", asp ? "first" : "never");
        cJSON_AddBoolToObject(pt, "split", 0);
    } else {
        rc = ll_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
        if (rc < 0) goto done;
        pt = pre_tokenizer_for(g, pre ? pre : "default");
        if (!pt) goto done;
    }
    root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON_AddNullToObject(root, "normalizer");
    cJSON_AddItemToObject(root, "pre_tokenizer", pt);
    cJSON *bpe = cJSON_AddObjectToObject(root, "model"); /* owned by root from here on */
    cJSON_AddStringToObject(bpe, "type", "BPE");
    cJSON_AddNullToObject(bpe, "dropout");
    int64_t unk = -1;
    if (ll_gguf_get_int(g, "tokenizer.ggml.unknown_token_id", &unk) < 0) goto done;
    if (spm && (unk < 0 || (uint64_t)unk >= n)) unk = 0; /* SentencePiece's <unk> is id 0 */
    cJSON_AddBoolToObject(bpe, "fuse_unk", spm);
    cJSON_AddBoolToObject(bpe, "byte_fallback", spm);
    cJSON_AddBoolToObject(bpe, "ignore_merges", 0);
    cJSON *vocab = cJSON_AddObjectToObject(bpe, "vocab");
    tok = ll_xcalloc(n, sizeof(char *));
    for (uint64_t i = 0; i < n; i++) {
        tok[i] = dup_str(&tokens->v.a.items[i]);
        if (!tok[i] || !tok[i][0]) {
            ll_set_error("%s: tokenizer.ggml.tokens[%llu] is empty or holds a NUL byte", g->path, (unsigned long long)i);
            goto done;
        }
        cJSON_AddNumberToObject(vocab, tok[i], (double)i);
        int32_t ty = types ? (int32_t)types->v.a.items[i].v.i : 1;
        if (types && types->v.a.type == LL_GGUF_UINT32) ty = (int32_t)types->v.a.items[i].v.u;
        /* 3 = CONTROL, 4 = USER_DEFINED (and SentencePiece's UNKNOWN, 2): added tokens,
         * matched before the model */
        if (ty == 3 || ty == 4 || (spm && ty == 2)) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", (double)i);
            cJSON_AddStringToObject(a, "content", tok[i]);
            cJSON_AddBoolToObject(a, "single_word", 0);
            cJSON_AddBoolToObject(a, "lstrip", 0);
            cJSON_AddBoolToObject(a, "rstrip", 0);
            cJSON_AddBoolToObject(a, "normalized", ty == 4);
            cJSON_AddBoolToObject(a, "special", ty != 4);
            cJSON_AddItemToArray(added, a);
        }
    }
    if (spm) cJSON_AddStringToObject(bpe, "unk_token", tok[unk]);
    else cJSON_AddNullToObject(bpe, "unk_token");
    cJSON *ma = cJSON_AddArrayToObject(bpe, "merges");
    if (spm && spm_merges(g, tok, n, scores, ma)) goto done;
    for (uint64_t i = 0; !spm && i < merges->v.a.n; i++) {
        char *m = dup_str(&merges->v.a.items[i]);
        if (!m || !strchr(m, ' ')) {
            ll_set_error("%s: tokenizer.ggml.merges[%llu] is not 'a b'", g->path, (unsigned long long)i);
            free(m);
            goto done;
        }
        cJSON_AddItemToArray(ma, cJSON_CreateString(m));
        free(m);
    }
    /* BOS/EOS: added by the post-processor when add_bos/add_eos say so */
    int64_t bos = -1, eos = -1, add_bos = spm, add_eos = 0; /* llama.cpp: SentencePiece models add BOS by default */
    if (ll_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &bos) < 0 || ll_gguf_get_int(g, "tokenizer.ggml.eos_token_id", &eos) < 0 ||
        ll_gguf_get_int(g, "tokenizer.ggml.add_bos_token", &add_bos) < 0 ||
        ll_gguf_get_int(g, "tokenizer.ggml.add_eos_token", &add_eos) < 0)
        goto done;
    if ((add_bos && (bos < 0 || (uint64_t)bos >= n)) || (add_eos && (eos < 0 || (uint64_t)eos >= n))) {
        ll_set_error("%s: tokenizer.ggml.add_bos/eos_token set but the token id is missing or out of range", g->path);
        goto done;
    }
    cJSON *pp = post_processor(add_bos ? tok[bos] : NULL, (int32_t)bos, (int)add_bos, add_eos ? tok[eos] : NULL,
                               (int32_t)eos, (int)add_eos);
    if (pp) cJSON_AddItemToObject(root, "post_processor", pp);
    else cJSON_AddNullToObject(root, "post_processor");
    cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
    cJSON_AddStringToObject(dec, "type", "ByteLevel");
    out = cJSON_PrintUnformatted(root);
done:
    if (tok)
        for (uint64_t i = 0; i < n; i++) free(tok[i]);
    free(tok);
    cJSON_Delete(root);
    free(model);
    free(pre);
    return out;
}
