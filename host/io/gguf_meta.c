/* GGUF metadata → an HF-style config.json (as a cJSON object) from the
 * generic <arch>.* keys; the families add their own (ll_family.gguf_config).
 * The tokenizer metadata: host/tokenizer/tok_gguf.c.  See docs/gguf.md. */
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
const ll_gguf_tensor *ll_gguf_find_tensor(const ll_gguf *g, const char *name) { return find_tensor(g, name); }

cJSON *ll_gguf_hf_config(const ll_gguf *g) {
    const char *arch = ll_gguf_arch(g);
    if (!arch) { ll_set_error("%s: metadata 'general.architecture' is missing", g->path); return NULL; }
    int64_t d, L, H, Hkv, ff, ctx, hd = 0, rdim = 0;
    if (arch_int(g, arch, "embedding_length", 0, &d, 1) || arch_int(g, arch, "block_count", 0, &L, 1) ||
        arch_int(g, arch, "attention.head_count", 0, &H, 0) || arch_int(g, arch, "attention.head_count_kv", H, &Hkv, 0) ||
        arch_int(g, arch, "feed_forward_length", 4 * d, &ff, 0) || arch_int(g, arch, "context_length", 0, &ctx, 0) ||
        arch_int(g, arch, "attention.key_length", 0, &hd, 0) || arch_int(g, arch, "rope.dimension_count", 0, &rdim, 0))
        return NULL;
    if (d <= 0 || L <= 0) {
        ll_set_error("%s: embedding_length and block_count must be positive", g->path);
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
    if (H > 0) { /* attention-free models (mamba) have none */
        cJSON_AddNumberToObject(c, "num_attention_heads", (double)H);
        cJSON_AddNumberToObject(c, "num_key_value_heads", (double)Hkv);
    }
    cJSON_AddNumberToObject(c, "intermediate_size", (double)ff);
    cJSON_AddNumberToObject(c, "max_position_embeddings", (double)ctx);
    if (hd > 0) cJSON_AddNumberToObject(c, "head_dim", (double)hd);
    const int64_t head_dim = hd > 0 ? hd : H > 0 ? d / H : 0;
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
