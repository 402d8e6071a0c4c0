/* GGUF metadata → the HF files layerlaw already reads: config.json (as a
 * cJSON object) and tokenizer.json (as text).  See docs/gguf.md. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "io/gguf.h"

/* ---- config ---- */

static const ll_gguf_tensor *find_tensor(const ll_gguf *g, const char *name) {
    for (int i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

/* <arch>.<key> as an integer: 0 found, 1 absent (def used), -1 error */
static int arch_int(const ll_gguf *g, const char *arch, const char *key, int64_t def, int64_t *out, int required) {
    char k[256];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    int rc = ll_gguf_get_int(g, k, out);
    if (rc < 0) return -1;
    if (rc == 1) {
        if (required) { ll_set_error("%s: metadata '%s' is missing", g->path, k); return -1; }
        *out = def;
    } else if (*out < 0 || *out > (int64_t)1 << 31) {
        ll_set_error("%s: metadata '%s' = %lld is out of range", g->path, k, (long long)*out);
        return -1;
    }
    return 0;
}
static int arch_float(const ll_gguf *g, const char *arch, const char *key, double def, double *out) {
    char k[256];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    int rc = ll_gguf_get_float(g, k, out);
    if (rc < 0) return -1;
    if (rc == 1) *out = def;
    return 0;
}

int ll_gguf_arch_int(const ll_gguf *g, const char *key, int64_t def, int64_t *out, int required) {
    const char *arch = ll_gguf_arch(g);
    if (!arch) { ll_set_error("%s: metadata 'general.architecture' is missing", g->path); return -1; }
    return arch_int(g, arch, key, def, out, required);
}
int ll_gguf_arch_float(const ll_gguf *g, const char *key, double def, double *out) {
    const char *arch = ll_gguf_arch(g);
    if (!arch) { ll_set_error("%s: metadata 'general.architecture' is missing", g->path); return -1; }
    return arch_float(g, arch, key, def, out);
}
int ll_gguf_has_tensor(const ll_gguf *g, const char *name) { return find_tensor(g, name) != NULL; }

cJSON *ll_gguf_hf_config(const ll_gguf *g) {
    const char *arch = ll_gguf_arch(g);
    if (!arch) { ll_set_error("%s: metadata 'general.architecture' is missing", g->path); return NULL; }
    int64_t d, L, H, Hkv, ff, ctx, hd = 0, rdim = 0;
    if (arch_int(g, arch, "embedding_length", 0, &d, 1) || arch_int(g, arch, "block_count", 0, &L, 1) ||
        arch_int(g, arch, "attention.head_count", 0, &H, 1) || arch_int(g, arch, "attention.head_count_kv", H, &Hkv, 0) ||
        arch_int(g, arch, "feed_forward_length", 4 * d, &ff, 0) || arch_int(g, arch, "context_length", 0, &ctx, 0) ||
        arch_int(g, arch, "attention.key_length", 0, &hd, 0) || arch_int(g, arch, "rope.dimension_count", 0, &rdim, 0))
        return NULL;
    if (d <= 0 || L <= 0 || H <= 0) {
        ll_set_error("%s: embedding_length, block_count and head_count must be positive", g->path);
        return NULL;
    }
    /* vocabulary: the embedding matrix decides (it is what the forward indexes) */
    int64_t vocab = 0;
    const ll_gguf_tensor *emb = find_tensor(g, "token_embd.weight");
    if (emb && emb->n_dims == 2) vocab = emb->ne[1];
    else if (arch_int(g, arch, "vocab_size", 0, &vocab, 0)) return NULL;
    if (vocab <= 0) {
        const ll_gguf_value *tk = ll_gguf_get(g, "tokenizer.ggml.tokens");
        if (tk && tk->type == LL_GGUF_ARRAY) vocab = (int64_t)tk->v.a.n;
    }
    double eps_rms, eps_ln, theta, sfactor = 0;
    if (arch_float(g, arch, "attention.layer_norm_rms_epsilon", 1e-6, &eps_rms) ||
        arch_float(g, arch, "attention.layer_norm_epsilon", 1e-5, &eps_ln) ||
        arch_float(g, arch, "rope.freq_base", 10000.0, &theta) || arch_float(g, arch, "rope.scaling.factor", 0, &sfactor))
        return NULL;
    char k[256], *stype = NULL;
    snprintf(k, sizeof k, "%s.rope.scaling.type", arch);
    if (ll_gguf_get_str(g, k, &stype) < 0) return NULL;
    if (stype && strcmp(stype, "none") && (strcmp(stype, "linear") || !(sfactor > 0))) {
        if (!strcmp(stype, "linear"))
            ll_set_error("%s: metadata '%s.rope.scaling.factor' is %g (must be positive)", g->path, arch, sfactor);
        else
            ll_set_error("%s: rope scaling '%s' is not supported in GGUF files", g->path, stype);
        free(stype);
        return NULL;
    }
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "gguf_architecture", arch);
    /* tied: no output.weight, or one that is a byte-for-byte copy of token_embd
     * (llama.cpp's converter writes some tied heads out as such a copy) */
    const ll_gguf_tensor *out_w = find_tensor(g, "output.weight");
    int tied = !out_w || (emb && out_w->type == emb->type && out_w->nbytes == emb->nbytes &&
                          !memcmp(out_w->data, emb->data, emb->nbytes));
    /* the generic keys under HF's common names; a family's gguf_config adds
     * or renames what it reads differently (host/families/<name>.c) */
    cJSON_AddNumberToObject(c, "hidden_size", (double)d);
    cJSON_AddNumberToObject(c, "num_hidden_layers", (double)L);
    cJSON_AddNumberToObject(c, "num_attention_heads", (double)H);
    cJSON_AddNumberToObject(c, "num_key_value_heads", (double)Hkv);
    cJSON_AddNumberToObject(c, "intermediate_size", (double)ff);
    cJSON_AddNumberToObject(c, "max_position_embeddings", (double)ctx);
    if (hd > 0) cJSON_AddNumberToObject(c, "head_dim", (double)hd);
    const int64_t head_dim = hd > 0 ? hd : d / H;
    cJSON_AddNumberToObject(c, "rms_norm_eps", eps_rms);
    cJSON_AddNumberToObject(c, "layer_norm_eps", eps_ln);
    cJSON_AddNumberToObject(c, "rope_theta", theta);
    if (rdim > 0 && head_dim > 0 && rdim != head_dim)
        cJSON_AddNumberToObject(c, "partial_rotary_factor", (double)rdim / (double)head_dim);
    if (stype && !strcmp(stype, "linear")) {
        cJSON *rs = cJSON_AddObjectToObject(c, "rope_scaling");
        cJSON_AddStringToObject(rs, "rope_type", "linear");
        cJSON_AddNumberToObject(rs, "factor", sfactor);
    }
    free(stype);
    cJSON_AddNumberToObject(c, "vocab_size", (double)vocab);
    cJSON_AddBoolToObject(c, "tie_word_embeddings", tied);
    return c;
}

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
typedef struct { char **keys; int32_t *ids; size_t cap; } str_map; /* open addressing */
static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}
static void sm_init(str_map *m, size_t n) {
    m->cap = 16;
    while (m->cap < 2 * n + 2) m->cap *= 2;
    m->keys = ll_xcalloc(m->cap, sizeof(char *));
    m->ids = ll_xcalloc(m->cap, sizeof(int32_t));
}
static void sm_put(str_map *m, char *k, int32_t id) {
    size_t n = strlen(k);
    for (size_t i = fnv(k, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i]) { m->keys[i] = k; m->ids[i] = id; return; }
        if (!strcmp(m->keys[i], k)) return; /* first id wins */
    }
}
static int32_t sm_find(const str_map *m, const char *k, size_t n) {
    for (size_t i = fnv(k, n) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (strlen(m->keys[i]) == n && !memcmp(m->keys[i], k, n)) return m->ids[i];
    return -1;
}

/* merges "l r" into arr; -1 + error when a piece holds a space (not expressible) */
static int spm_merges(const ll_gguf *g, char **tok, uint64_t n, const ll_gguf_value *scores, cJSON *arr) {
    str_map m;
    sm_init(&m, n);
    for (uint64_t i = 0; i < n; i++) sm_put(&m, tok[i], (int32_t)i);
    spm_merge *v = NULL;
    size_t nv = 0, cap = 0;
    for (uint64_t i = 0; i < n; i++) {
        const char *t = tok[i];
        size_t len = strlen(t);
        for (size_t k = 1; k < len; k++) {
            if (((unsigned char)t[k] & 0xC0) == 0x80) continue; /* not a code-point boundary */
            int32_t l = sm_find(&m, t, k), r = l >= 0 ? sm_find(&m, t + k, len - k) : -1;
            if (l < 0 || r < 0) continue;
            if (nv == cap) { cap = cap ? 2 * cap : 1024; v = ll_xrealloc(v, cap * sizeof *v); }
            v[nv++] = (spm_merge){(float)scores->v.a.items[i].v.f, (int32_t)i, l, r};
        }
    }
    if (nv) qsort(v, nv, sizeof *v, cmp_spm);
    int rc = 0;
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
    free(m.keys);
    free(m.ids);
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
