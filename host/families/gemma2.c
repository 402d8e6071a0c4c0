/* Gemma-2 (HF Gemma2Model): gemma's blocks (families/gemma.h) + sandwich
 * norms (post_attention_layernorm on the attention output,
 * pre_feedforward_layernorm before and post_feedforward_layernorm after the
 * FFN), scores scaled by query_pre_attn_scalar^-1/2 and soft-capped
 * (attn_logit_softcapping · tanh(s / cap)), the sliding window on the
 * "sliding_attention" layers (even layers). */
#include <math.h>
#include <string.h>
#include "core/ll_util.h"
#include "families/gemma.h"

enum { X_POST_ATTN, X_PRE_FFN, X_POST_FFN, N_X };
static const ll_tensor_role extra[N_X] = {
    [X_POST_ATTN] = {"post_attention_norm", "layers.%d.post_attention_layernorm.weight", "blk.%d.post_attention_norm.weight"},
    [X_PRE_FFN] = {"ffn_norm", "layers.%d.pre_feedforward_layernorm.weight", "blk.%d.ffn_norm.weight"},
    [X_POST_FFN] = {"post_ffw_norm", "layers.%d.post_feedforward_layernorm.weight", "blk.%d.post_ffw_norm.weight"},
};

static int parse_gemma2(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    if (ll_gemma_parse_common(m, r)) return -1;
    c->attn_softcap = ll_cfg_num(r, NULL, "attn_logit_softcapping", 0);
    if (!(c->attn_softcap >= 0) || !isfinite(c->attn_softcap))
        return ll_cfg_fail(r, "'attn_logit_softcapping' is %g (must not be negative)", c->attn_softcap);
    c->sliding_window = ll_cfg_size(r, "sliding_window", NULL, 4096, 0, INT32_MAX);
    c->window_alternate = 1;
    /* layer_types, when given, must be the alternation HF builds by default */
    cJSON *lt = ll_cfg_item(r, "layer_types");
    if (lt) {
        int i = 0;
        cJSON *x;
        cJSON_ArrayForEach(x, lt) {
            const char *want = i % 2 ? "full_attention" : "sliding_attention";
            if (!cJSON_IsString(x) || strcmp(x->valuestring, want) != 0)
                return ll_cfg_fail(r, "'layer_types'[%d] is not '%s' (only the alternating pattern is supported)", i,
                                   want);
            i++;
        }
    }
    if (ll_llama_finish(m, r)) return -1;
    double qpas = ll_cfg_num(r, NULL, "query_pre_attn_scalar", c->head_dim);
    if (!(qpas > 0) || !isfinite(qpas)) return ll_cfg_fail(r, "'query_pre_attn_scalar' is %g (must be positive)", qpas);
    c->attn_scale_mult = sqrt((double)c->head_dim) / sqrt(qpas); /* scale = qpas^-1/2 */
    return ll_cfg_ok(r);
}

static int bind_gemma2(ll_model *m, ll_loader *ld) {
    if (ll_llama_bind(m, ld)) return -1;
    const int64_t C = m->cfg.d_model;
    for (int l = 0; l < m->cfg.n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        /* llama's ln2 role is post_attention_layernorm: in gemma2 that is the sandwich norm of the
         * attention output, and the FFN's input norm is pre_feedforward_layernorm.  Bound into
         * post_attn_norm here; prepare swaps the two views. */
        if (ll_bind(ld, &y->post_attn_norm, &extra[X_PRE_FFN], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->post_ffn_norm, &extra[X_POST_FFN], l, SHAPE1(C), 0))
            return -1;
    }
    return 0;
}

static int prepare_gemma2(ll_model *m) {
    /* ln2 <-> post_attn_norm (see bind_gemma2); both are loader slots, so rebasing follows */
    for (int l = 0; l < m->cfg.n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        const ll_weight t = y->ln2_w;
        y->ln2_w = y->post_attn_norm;
        y->post_attn_norm = t;
    }
    return ll_gemma_prepare(m);
}

/* ---- GGUF (llama.cpp's Gemma2Model) ---- */
static int gguf_config_gemma2(const ll_gguf *g, cJSON *cfg) {
    double cap;
    int64_t win, L, d, H, hd;
    if (ll_gguf_arch_float(g, "attn_logit_softcapping", 0, &cap) || ll_gguf_arch_int(g, "attention.sliding_window", 4096, &win, 0) < 0 ||
        ll_gguf_arch_int(g, "block_count", 0, &L, 1) || ll_gguf_arch_int(g, "embedding_length", 0, &d, 1) ||
        ll_gguf_arch_int(g, "attention.head_count", 0, &H, 1) || ll_gguf_arch_int(g, "attention.key_length", 0, &hd, 0) < 0)
        return -1;
    if (H <= 0) {
        ll_set_error("%s: attention.head_count must be positive", g->path);
        return -1;
    }
    cJSON_AddStringToObject(cfg, "hidden_activation", "gelu_pytorch_tanh");
    cJSON_AddNumberToObject(cfg, "attn_logit_softcapping", cap);
    cJSON_AddNumberToObject(cfg, "sliding_window", (double)win);
    /* not in the file: llama.cpp takes head_dim, and d/H for the 46-layer
     * (27B) model, as Gemma-2's own configs have it */
    cJSON_AddNumberToObject(cfg, "query_pre_attn_scalar", (double)(L == 46 || hd <= 0 ? d / H : hd));
    return 0;
}
const ll_family ll_family_gemma2 = {
    .model_type = "gemma2",
    .gguf_arch = "gemma2",
    .gguf_config = gguf_config_gemma2,
    .gguf_fixup = ll_gemma_gguf_fixup,
    .gguf_roles = extra, /* post_attention_norm, ffn_norm (= the pre-FFN norm here), post_ffw_norm */
    .n_gguf_roles = N_X,
    .layer_split = 1,
    .roles = ll_llama_roles,
    .n_roles = LL_LLAMA_N_ROLES,
    .hf_prefix = "model.",
    .harmless = ll_llama_harmless,
    .parse_config = parse_gemma2,
    .bind = bind_gemma2,
    .prepare = prepare_gemma2,
    .forward = ll_llama_forward,
    .describe = ll_gemma_describe,
    .cost = ll_llama_cost,
};

