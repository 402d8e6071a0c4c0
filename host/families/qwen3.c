/* Qwen3 (HF Qwen3Model): llama blocks with a per-head RMSNorm of q and k
 * (q_norm, k_norm over head_dim) before RoPE, explicit head_dim.  The
 * authors' pipeline has no Qwen3; the fresh norm is RMSNorm (their choice for
 * RMSNorm models). */
#include "core/ll_util.h"
#include "families/llama.h"

enum { X_QN, X_KN, N_X };
static const ll_tensor_role extra[N_X] = {
    [X_QN] = {"attn_q_norm", "layers.%d.self_attn.q_norm.weight", "blk.%d.attn_q_norm.weight"},
    [X_KN] = {"attn_k_norm", "layers.%d.self_attn.k_norm.weight", "blk.%d.attn_k_norm.weight"},
};

static int parse_qwen3(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    if (ll_llama_parse_common(m, r)) return -1;
    if (ll_cfg_bool(r, "use_sliding_window", 0)) return ll_cfg_fail(r, "'use_sliding_window' true is not supported");
    (void)c;
    return ll_llama_finish(m, r);
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

static void describe_qwen3(const ll_model *m, cJSON *j) {
    ll_tf_describe(m, j);
    if (m->layers && m->layers[0].q_norm.data) cJSON_AddBoolToObject(j, "qk_norm", 1);
}

/* ---- GGUF (llama.cpp's Qwen3Model) ---- */
static int gguf_config_qwen3(const ll_gguf *g, cJSON *cfg) {
    (void)g;
    cJSON_AddStringToObject(cfg, "hidden_act", "silu");
    return 0;
}

const ll_family ll_family_qwen3 = {
    .model_type = "qwen3",
    .gguf_arch = "qwen3",
    .gguf_config = gguf_config_qwen3,
    .gguf_roles = extra, /* q_norm, k_norm */
    .n_gguf_roles = N_X,
    .layer_split = 1,
    .roles = ll_llama_roles,
    .n_roles = LL_LLAMA_N_ROLES,
    .hf_prefix = "model.",
    .harmless = ll_llama_harmless,
    .parse_config = parse_qwen3,
    .bind = bind_qwen3,
    .prepare = ll_llama_prepare,
    .forward = ll_llama_forward,
    .describe = describe_qwen3,
    .cost = ll_llama_cost,
};
