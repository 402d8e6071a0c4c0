/* Gemma, Gemma-2 (HF GemmaModel, Gemma2Model) and Qwen3 (HF Qwen3Model):
 * llama blocks (tensor names, GQA, RoPE, gated FFN) with
 *   gemma   entry 0 = embeddings · sqrt(hidden) (a float32 constant, as HF),
 *           RMSNorm x·rsqrt(mean x² + eps)·(1 + w) (w + 1 is formed once in
 *           float32 at load: the same products), gelu (tanh) gated FFN;
 *   gemma2  + sandwich norms (post_attention_layernorm on the attention output,
 *           pre_feedforward_layernorm before and post_feedforward_layernorm
 *           after the FFN), scores scaled by query_pre_attn_scalar^-1/2 and
 *           soft-capped (attn_logit_softcapping · tanh(s / cap)), the sliding
 *           window on the "sliding_attention" layers (even layers);
 *   qwen3   per-head RMSNorm of q and k (q_norm, k_norm over head_dim) before
 *           RoPE, explicit head_dim.
 * The authors' pipeline has none of these; the fresh norm is RMSNorm (their
 * choice for RMSNorm models). */
#include <math.h>
#include <string.h>
#include "core/ll_util.h"
#include "families/llama.h"

enum { X_QN, X_KN, X_POST_ATTN, X_PRE_FFN, X_POST_FFN, N_X };
static const ll_tensor_role extra[N_X] = {
    [X_QN] = {"attn_q_norm", "layers.%d.self_attn.q_norm.weight", "blk.%d.attn_q_norm.weight"},
    [X_KN] = {"attn_k_norm", "layers.%d.self_attn.k_norm.weight", "blk.%d.attn_k_norm.weight"},
    [X_POST_ATTN] = {"post_attention_norm", "layers.%d.post_attention_layernorm.weight", "blk.%d.post_attention_norm.weight"},
    [X_PRE_FFN] = {"ffn_norm", "layers.%d.pre_feedforward_layernorm.weight", "blk.%d.ffn_norm.weight"},
    [X_POST_FFN] = {"post_ffw_norm", "layers.%d.post_feedforward_layernorm.weight", "blk.%d.post_ffw_norm.weight"},
};

static int parse_gemma_common(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    if (ll_llama_parse_common(m, r)) return -1;
    /* gemma's key is hidden_activation (hidden_act is a legacy duplicate) */
    if (ll_cfg_act(r, ll_cfg_has(r, "hidden_activation") ? "hidden_activation" : "hidden_act", "gelu_pytorch_tanh",
                   &c->act))
        return -1;
    c->embed_scale = (double)(float)sqrt((double)c->d_model);
    return 0;
}

static int parse_gemma(ll_model *m, ll_config *r) {
    if (parse_gemma_common(m, r)) return -1;
    return ll_llama_finish(m, r);
}

static int parse_gemma2(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    if (parse_gemma_common(m, r)) return -1;
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

static int parse_qwen3(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    if (ll_llama_parse_common(m, r)) return -1;
    if (ll_cfg_bool(r, "use_sliding_window", 0)) return ll_cfg_fail(r, "'use_sliding_window' true is not supported");
    (void)c;
    return ll_llama_finish(m, r);
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

static int bind_qwen3(ll_model *m, ll_loader *ld) {
    if (ll_llama_bind(m, ld)) return -1;
    const int64_t D = m->cfg.head_dim;
    for (int l = 0; l < m->cfg.n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        if (ll_bind(ld, &y->q_norm, &extra[X_QN], l, SHAPE1(D), 0) ||
            ll_bind(ld, &y->k_norm, &extra[X_KN], l, SHAPE1(D), 0))
            return -1;
    }
    return 0;
}

static void plus_one(const ll_weight *w) {
    if (!w->data) return;
    float *p = (float *)w->data; /* norm vectors are F32 in the host arena at prepare time */
    for (int64_t i = 0; i < w->rows * w->cols; i++) p[i] = 1.0f + p[i];
}

static int prepare_gemma(ll_model *m) {
    plus_one(&m->norm_w);
    for (int l = 0; l < m->cfg.n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        plus_one(&y->ln1_w);
        plus_one(&y->ln2_w);
        plus_one(&y->post_attn_norm);
        plus_one(&y->post_ffn_norm);
    }
    return ll_llama_prepare(m);
}

static int prepare_gemma2(ll_model *m) {
    /* ln2 <-> post_attn_norm (see bind_gemma2); both are loader slots, so rebasing follows */
    for (int l = 0; l < m->cfg.n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        const ll_weight t = y->ln2_w;
        y->ln2_w = y->post_attn_norm;
        y->post_attn_norm = t;
    }
    return prepare_gemma(m);
}

static void describe_gemma(const ll_model *m, cJSON *j) {
    const ll_model_config *c = &m->cfg;
    ll_tf_describe(m, j);
    if (c->embed_scale) cJSON_AddNumberToObject(j, "embed_scale", c->embed_scale);
    if (c->attn_softcap) cJSON_AddNumberToObject(j, "attn_logit_softcapping", c->attn_softcap);
    if (c->window_alternate) cJSON_AddStringToObject(j, "window_layers", "even");
    if (m->layers && m->layers[0].q_norm.data) cJSON_AddBoolToObject(j, "qk_norm", 1);
}

/* ---- GGUF (llama.cpp's GemmaModel / Qwen3Model) ---- */
static int gguf_config_gemma(const ll_gguf *g, cJSON *cfg) {
    (void)g;
    cJSON_AddStringToObject(cfg, "hidden_activation", "gelu_pytorch_tanh");
    return 0;
}
/* the converter stores gemma's norm weights as 1 + w (ggml multiplies by
 * the weight): w back (exact: 1 + w lies in [1/2, 2] for these weights,
 * and prepare forms the same 1 + w again) */
static int gguf_fixup_gemma(const ll_gguf *g, ll_safetensors *st) {
    for (int i = 0; i < st->n_tensors; i++) {
        ll_st_tensor *t = &st->tensors[i];
        const size_t n = strlen(t->name);
        if (n < 11 || strcmp(t->name + n - 11, "norm.weight")) continue;
        if (t->dtype != LL_ST_F32) {
            ll_set_error("%s: tensor '%s' is not float32", g->path, t->name);
            return -1;
        }
        float *w = ll_gguf_store_own(st, t->nbytes);
        memcpy(w, t->data, t->nbytes);
        for (int64_t k = 0; k < t->numel; k++) w[k] -= 1.0f;
        t->data = w;
        t->file = -1;
    }
    return 0;
}
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
static int gguf_config_qwen3(const ll_gguf *g, cJSON *cfg) {
    (void)g;
    cJSON_AddStringToObject(cfg, "hidden_act", "silu");
    return 0;
}

const ll_family ll_family_gemma = {
    .gguf_config = gguf_config_gemma,
    .gguf_fixup = gguf_fixup_gemma,
    .model_type = "gemma",
    .layer_split = 1,
    .gguf_arch = "gemma",
    .roles = ll_llama_roles,
    .n_roles = LL_LLAMA_N_ROLES,
    .hf_prefix = "model.",
    .harmless = ll_llama_harmless,
    .parse_config = parse_gemma,
    .bind = ll_llama_bind,
    .prepare = prepare_gemma,
    .forward = ll_llama_forward,
    .describe = describe_gemma,
    .cost = ll_llama_cost,
};

const ll_family ll_family_gemma2 = {
    .model_type = "gemma2",
    .gguf_arch = "gemma2",
    .gguf_config = gguf_config_gemma2,
    .gguf_fixup = gguf_fixup_gemma,
    .gguf_roles = extra + X_POST_ATTN, /* post_attention_norm, ffn_norm (= pre-FFN), post_ffw_norm */
    .n_gguf_roles = 3,
    .layer_split = 1,
    .roles = ll_llama_roles,
    .n_roles = LL_LLAMA_N_ROLES,
    .hf_prefix = "model.",
    .harmless = ll_llama_harmless,
    .parse_config = parse_gemma2,
    .bind = bind_gemma2,
    .prepare = prepare_gemma2,
    .forward = ll_llama_forward,
    .describe = describe_gemma,
    .cost = ll_llama_cost,
};

const ll_family ll_family_qwen3 = {
    .model_type = "qwen3",
    .gguf_arch = "qwen3",
    .gguf_config = gguf_config_qwen3,
    .gguf_roles = extra, /* q_norm, k_norm */
    .n_gguf_roles = 2,
    .layer_split = 1,
    .roles = ll_llama_roles,
    .n_roles = LL_LLAMA_N_ROLES,
    .hf_prefix = "model.",
    .harmless = ll_llama_harmless,
    .parse_config = parse_qwen3,
    .bind = bind_qwen3,
    .prepare = ll_llama_prepare,
    .forward = ll_llama_forward,
    .describe = describe_gemma,
    .cost = ll_llama_cost,
};
