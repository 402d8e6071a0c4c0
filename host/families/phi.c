/* Phi-1 / phi-1.5 / phi-2 (HF PhiModel): ONE input_layernorm feeds both the
 * attention and the MLP, summed with the residual (x + attn(ln x) + mlp(ln x));
 * separate q/k/v with biases, output "dense" with bias, partial RoPE
 * (partial_rotary_factor of the head dim, rotate_half), fc1/fc2 gelu_new MLP,
 * final_layernorm.  qk_layernorm (per-head LayerNorm of q and k) is not
 * supported (no released phi checkpoint uses it). */
#include <string.h>
#include "core/ll_util.h"
#include "families/tf_blocks.h"

enum { R_EMB, R_LNF_W, R_LNF_B, R_LN_W, R_LN_B, R_Q, R_Q_B, R_K, R_K_B, R_V, R_V_B, R_O, R_O_B, R_UP, R_UP_B, R_DOWN,
       R_DOWN_B, R_HEAD, R_QN_W, R_QN_B, R_KN_W, R_KN_B, N_ROLES };
static const ll_tensor_role roles[N_ROLES] = {
    [R_EMB] = {"token_embd", "embed_tokens.weight", "token_embd.weight"},
    [R_LNF_W] = {"output_norm", "final_layernorm.weight", "output_norm.weight"},
    [R_LNF_B] = {"output_norm_b", "final_layernorm.bias", "output_norm.bias"},
    [R_LN_W] = {"attn_norm", "layers.%d.input_layernorm.weight", "blk.%d.attn_norm.weight"},
    [R_LN_B] = {"attn_norm_b", "layers.%d.input_layernorm.bias", "blk.%d.attn_norm.bias"},
    [R_Q] = {"attn_q", "layers.%d.self_attn.q_proj.weight", "blk.%d.attn_q.weight"},
    [R_Q_B] = {"attn_q_b", "layers.%d.self_attn.q_proj.bias", "blk.%d.attn_q.bias"},
    [R_K] = {"attn_k", "layers.%d.self_attn.k_proj.weight", "blk.%d.attn_k.weight"},
    [R_K_B] = {"attn_k_b", "layers.%d.self_attn.k_proj.bias", "blk.%d.attn_k.bias"},
    [R_V] = {"attn_v", "layers.%d.self_attn.v_proj.weight", "blk.%d.attn_v.weight"},
    [R_V_B] = {"attn_v_b", "layers.%d.self_attn.v_proj.bias", "blk.%d.attn_v.bias"},
    [R_O] = {"attn_output", "layers.%d.self_attn.dense.weight", "blk.%d.attn_output.weight"},
    [R_O_B] = {"attn_output_b", "layers.%d.self_attn.dense.bias", "blk.%d.attn_output.bias"},
    [R_UP] = {"ffn_up", "layers.%d.mlp.fc1.weight", "blk.%d.ffn_up.weight"},
    [R_UP_B] = {"ffn_up_b", "layers.%d.mlp.fc1.bias", "blk.%d.ffn_up.bias"},
    [R_DOWN] = {"ffn_down", "layers.%d.mlp.fc2.weight", "blk.%d.ffn_down.weight"},
    [R_DOWN_B] = {"ffn_down_b", "layers.%d.mlp.fc2.bias", "blk.%d.ffn_down.bias"},
    [R_HEAD] = {"output", "lm_head.weight", "output.weight", 1},
    /* qk_layernorm: LayerNorm(head_dim) of q and k per head before RoPE (no GGUF name: llama.cpp's phi2 has none) */
    [R_QN_W] = {"attn_q_norm", "layers.%d.self_attn.q_layernorm.weight", NULL},
    [R_QN_B] = {"attn_q_norm_b", "layers.%d.self_attn.q_layernorm.bias", NULL},
    [R_KN_W] = {"attn_k_norm", "layers.%d.self_attn.k_layernorm.weight", NULL},
    [R_KN_B] = {"attn_k_norm_b", "layers.%d.self_attn.k_layernorm.bias", NULL},
};

static const ll_tf_spec spec = {LL_TF_QKV_SEPARATE, LL_TF_FFN_MLP, 0};

static int parse_phi(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    c->d_model = ll_cfg_size(r, "hidden_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_layer = ll_cfg_size(r, "num_hidden_layers", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_LAYERS);
    c->n_head = ll_cfg_size(r, "num_attention_heads", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_kv_head = ll_cfg_size(r, "num_key_value_heads", NULL, c->n_head, 1, LL_CFG_MAX_DIM);
    c->d_ff = ll_cfg_size(r, "intermediate_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->vocab = ll_cfg_size(r, "vocab_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_VOCAB);
    c->max_pos = ll_cfg_size(r, "max_position_embeddings", NULL, 0, 0, INT32_MAX);
    c->norm = LL_NORM_LAYERNORM;
    c->norm_eps = ll_cfg_num(r, NULL, "layer_norm_eps", 1e-5);
    c->parallel_residual = 1; /* with ln2 = ln1 (prepare) */
    c->qkv_bias = c->o_bias = c->mlp_bias = 1;
    c->tie_embeddings = ll_cfg_bool(r, "tie_word_embeddings", 0);
    /* qk_layernorm: a flag of its own on family_data (bind reads it) */
    int *qk = ll_xcalloc(1, sizeof *qk);
    m->family_data = qk;
    *qk = ll_cfg_bool(r, "qk_layernorm", 0);
    if (ll_cfg_act(r, "hidden_act", "gelu_new", &c->act)) return -1;
    if (ll_tf_heads(m, r)) return -1;
    return ll_tf_rope(m, r, 0.5, 10000.0);
}

static int bind_phi(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    const int64_t C = c->d_model, F = c->d_ff, V = c->vocab, Q = (int64_t)c->n_head * c->head_dim,
                  KV = (int64_t)c->n_kv_head * c->head_dim;
    if (ll_bind(ld, &m->embed, &roles[R_EMB], -1, SHAPE2(V, C), 0) ||
        ll_bind(ld, &m->norm_w, &roles[R_LNF_W], -1, SHAPE1(C), 0) ||
        ll_bind(ld, &m->norm_b, &roles[R_LNF_B], -1, SHAPE1(C), 0))
        return -1;
    m->layers = ll_xcalloc(c->n_layer, sizeof(ll_tf_layer));
    for (int l = 0; l < c->n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        if (ll_bind(ld, &y->ln1_w, &roles[R_LN_W], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln1_b, &roles[R_LN_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->q, &roles[R_Q], l, SHAPE2(Q, C), 0) ||
            ll_bind(ld, &y->q_b, &roles[R_Q_B], l, SHAPE1(Q), 0) ||
            ll_bind(ld, &y->k, &roles[R_K], l, SHAPE2(KV, C), 0) ||
            ll_bind(ld, &y->k_b, &roles[R_K_B], l, SHAPE1(KV), 0) ||
            ll_bind(ld, &y->v, &roles[R_V], l, SHAPE2(KV, C), 0) ||
            ll_bind(ld, &y->v_b, &roles[R_V_B], l, SHAPE1(KV), 0) ||
            ll_bind(ld, &y->o, &roles[R_O], l, SHAPE2(C, Q), 0) ||
            ll_bind(ld, &y->o_b, &roles[R_O_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->up, &roles[R_UP], l, SHAPE2(F, C), 0) ||
            ll_bind(ld, &y->up_b, &roles[R_UP_B], l, SHAPE1(F), 0) ||
            ll_bind(ld, &y->down, &roles[R_DOWN], l, SHAPE2(C, F), 0) ||
            ll_bind(ld, &y->down_b, &roles[R_DOWN_B], l, SHAPE1(C), 0))
            return -1;
        const int64_t D = c->head_dim;
        if (m->family_data && *(const int *)m->family_data &&
            (ll_bind(ld, &y->q_norm, &roles[R_QN_W], l, SHAPE1(D), 0) ||
             ll_bind(ld, &y->q_norm_b, &roles[R_QN_B], l, SHAPE1(D), 0) ||
             ll_bind(ld, &y->k_norm, &roles[R_KN_W], l, SHAPE1(D), 0) ||
             ll_bind(ld, &y->k_norm_b, &roles[R_KN_B], l, SHAPE1(D), 0)))
            return -1;
    }
    if (c->rotary_dims > 0) ll_loader_scratch(ld, &m->inv_freq, c->rotary_dims / 2);
    return 0;
}

static int prepare_phi(ll_model *m) {
    ll_tf_prepare_rope(m);
    ll_tf_fuse_qkv(m);
    /* the MLP branch reads the same norm as the attention branch */
    for (int l = 0; l < m->cfg.n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        y->ln2_w = y->ln1_w;
        y->ln2_b = y->ln1_b;
        ll_model_add_slot(m, &y->ln2_w);
        ll_model_add_slot(m, &y->ln2_b);
    }
    return 0;
}

static int harmless_phi(const char *name) {
    return strstr(name, ".rotary_emb.inv_freq") != NULL || !strcmp(name, "lm_head.weight") ||
           !strcmp(name, "lm_head.bias");
}

static int forward_phi(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                       ll_capture *cap, float *state, float *logits) {
    return ll_tf_forward(m, &spec, ops, ctx, tokens, lens, B, T, cap, state, logits);
}
static int cost_phi(const ll_model *m, int T, ll_cost *pe) {
    if (ll_tf_cost(m, &spec, T, pe)) return -1;
    /* ln2 is ln1: counted twice by the shared cost */
    for (int l = 0; l < m->cfg.n_layer; l++)
        pe[l + 1].weight_bytes -= ll_weight_bytes(&m->layers[l].ln2_w) + ll_weight_bytes(&m->layers[l].ln2_b);
    return 0;
}

/* ---- GGUF (llama.cpp's Phi2Model) ---- */
static const ll_tensor_role gguf_roles_phi[] = {
    {"output_b", "lm_head.bias", "output.bias", 1}, /* the LM head's bias (unused, harmless) */
};

static int gguf_config_phi(const ll_gguf *g, cJSON *cfg) {
    /* the converter writes feed_forward_length = 4·n_embd whatever the model
     * has: the MLP's width is the fc1 tensor's */
    const ll_gguf_tensor *up = ll_gguf_find_tensor(g, "blk.0.ffn_up.weight");
    int64_t rdim = 0, d = 0, H = 0;
    if (ll_gguf_arch_int(g, "rope.dimension_count", 0, &rdim, 0) < 0 ||
        ll_gguf_arch_int(g, "embedding_length", 0, &d, 1) || ll_gguf_arch_int(g, "attention.head_count", 0, &H, 1))
        return -1;
    if (up && up->n_dims == 2) {
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, "intermediate_size");
        cJSON_AddNumberToObject(cfg, "intermediate_size", (double)up->ne[1]);
    }
    const int64_t hd = H > 0 ? d / H : 0;
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "partial_rotary_factor");
    cJSON_AddNumberToObject(cfg, "partial_rotary_factor", rdim > 0 && hd > 0 ? (double)rdim / (double)hd : 1.0);
    cJSON_AddStringToObject(cfg, "hidden_act", "gelu_new");
    return 0;
}

const ll_family ll_family_phi = {
    .gguf_config = gguf_config_phi,
    .gguf_roles = gguf_roles_phi,
    .n_gguf_roles = 1,
    .model_type = "phi",
    .layer_split = 1,
    .gguf_arch = "phi2",
    .roles = roles,
    .n_roles = N_ROLES,
    .hf_prefix = "model.",
    .harmless = harmless_phi,
    .parse_config = parse_phi,
    .bind = bind_phi,
    .prepare = prepare_phi,
    .forward = forward_phi,
    .describe = ll_tf_describe,
    .cost = cost_phi,
};
