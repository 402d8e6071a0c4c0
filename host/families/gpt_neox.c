/* GPT-NeoX (HF GPTNeoXModel, Pythia): LayerNorm, one query_key_value
 * projection laid out per head [q_h k_h v_h], partial RoPE (rotary_pct),
 * gelu MLP, parallel (default) or sequential residual. */
#include <string.h>
#include "core/ll_util.h"
#include "families/tf_blocks.h"

enum { R_EMB, R_LNF_W, R_LNF_B, R_LN1_W, R_LN1_B, R_LN2_W, R_LN2_B, R_QKV, R_QKV_B, R_O, R_O_B, R_UP, R_UP_B, R_DOWN,
       R_DOWN_B, R_HEAD, N_ROLES };
static const ll_tensor_role roles[N_ROLES] = {
    [R_EMB] = {"token_embd", "embed_in.weight", "token_embd.weight"},
    [R_LNF_W] = {"output_norm", "final_layer_norm.weight", "output_norm.weight"},
    [R_LNF_B] = {"output_norm_b", "final_layer_norm.bias", "output_norm.bias"},
    [R_LN1_W] = {"attn_norm", "layers.%d.input_layernorm.weight", "blk.%d.attn_norm.weight"},
    [R_LN1_B] = {"attn_norm_b", "layers.%d.input_layernorm.bias", "blk.%d.attn_norm.bias"},
    [R_LN2_W] = {"ffn_norm", "layers.%d.post_attention_layernorm.weight", "blk.%d.ffn_norm.weight"},
    [R_LN2_B] = {"ffn_norm_b", "layers.%d.post_attention_layernorm.bias", "blk.%d.ffn_norm.bias"},
    [R_QKV] = {"attn_qkv", "layers.%d.attention.query_key_value.weight", "blk.%d.attn_qkv.weight"},
    [R_QKV_B] = {"attn_qkv_b", "layers.%d.attention.query_key_value.bias", "blk.%d.attn_qkv.bias"},
    [R_O] = {"attn_output", "layers.%d.attention.dense.weight", "blk.%d.attn_output.weight"},
    [R_O_B] = {"attn_output_b", "layers.%d.attention.dense.bias", "blk.%d.attn_output.bias"},
    [R_UP] = {"ffn_up", "layers.%d.mlp.dense_h_to_4h.weight", "blk.%d.ffn_up.weight"},
    [R_UP_B] = {"ffn_up_b", "layers.%d.mlp.dense_h_to_4h.bias", "blk.%d.ffn_up.bias"},
    [R_DOWN] = {"ffn_down", "layers.%d.mlp.dense_4h_to_h.weight", "blk.%d.ffn_down.weight"},
    [R_DOWN_B] = {"ffn_down_b", "layers.%d.mlp.dense_4h_to_h.bias", "blk.%d.ffn_down.bias"},
    [R_HEAD] = {"output", "embed_out.weight", "output.weight", 1},
};

static const ll_tf_spec spec = {LL_TF_QKV_FUSED_HEADS, LL_TF_FFN_MLP, 0};

static int parse_neox(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    c->d_model = ll_cfg_size(r, "hidden_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_layer = ll_cfg_size(r, "num_hidden_layers", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_LAYERS);
    c->n_head = ll_cfg_size(r, "num_attention_heads", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_kv_head = c->n_head;
    c->d_ff = ll_cfg_size(r, "intermediate_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->vocab = ll_cfg_size(r, "vocab_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_VOCAB);
    c->max_pos = ll_cfg_size(r, "max_position_embeddings", NULL, 0, 0, INT32_MAX);
    c->norm = LL_NORM_LAYERNORM;
    c->norm_eps = ll_cfg_num(r, NULL, "layer_norm_eps", 1e-5);
    c->parallel_residual = ll_cfg_bool(r, "use_parallel_residual", 1);
    c->qkv_bias = c->o_bias = ll_cfg_bool(r, "attention_bias", 1);
    c->mlp_bias = 1;
    c->tie_embeddings = ll_cfg_bool(r, "tie_word_embeddings", 0);
    if (ll_cfg_act(r, "hidden_act", "gelu", &c->act)) return -1;
    if (ll_tf_heads(m, r)) return -1;
    return ll_tf_rope(m, r, 0.25, 10000.0);
}

static int bind_neox(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    const int64_t C = c->d_model, F = c->d_ff, V = c->vocab;
    if (ll_bind(ld, &m->embed, &roles[R_EMB], -1, SHAPE2(V, C), 0) ||
        ll_bind(ld, &m->norm_w, &roles[R_LNF_W], -1, SHAPE1(C), 0) ||
        ll_bind(ld, &m->norm_b, &roles[R_LNF_B], -1, SHAPE1(C), 0))
        return -1;
    const int bias = c->qkv_bias ? 0 : LL_LOAD_OPTIONAL;
    m->layers = ll_xcalloc(c->n_layer, sizeof(ll_tf_layer));
    for (int l = 0; l < c->n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        if (ll_bind(ld, &y->ln1_w, &roles[R_LN1_W], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln1_b, &roles[R_LN1_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln2_w, &roles[R_LN2_W], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln2_b, &roles[R_LN2_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->qkv, &roles[R_QKV], l, SHAPE2(3 * C, C), 0) ||
            ll_bind(ld, &y->qkv_b, &roles[R_QKV_B], l, SHAPE1(3 * C), bias) ||
            ll_bind(ld, &y->o, &roles[R_O], l, SHAPE2(C, C), 0) ||
            ll_bind(ld, &y->o_b, &roles[R_O_B], l, SHAPE1(C), bias) ||
            ll_bind(ld, &y->up, &roles[R_UP], l, SHAPE2(F, C), 0) ||
            ll_bind(ld, &y->up_b, &roles[R_UP_B], l, SHAPE1(F), 0) ||
            ll_bind(ld, &y->down, &roles[R_DOWN], l, SHAPE2(C, F), 0) ||
            ll_bind(ld, &y->down_b, &roles[R_DOWN_B], l, SHAPE1(C), 0))
            return -1;
    }
    if (c->rotary_dims > 0) ll_loader_scratch(ld, &m->inv_freq, c->rotary_dims / 2);
    return 0;
}

/* Rotary caches and causal-mask buffers of older checkpoints, the LM head. */
static int harmless_neox(const char *name) {
    return strstr(name, ".rotary_emb.inv_freq") || strstr(name, ".attention.bias") ||
           strstr(name, ".attention.masked_bias") || !strcmp(name, "embed_out.weight");
}

static int forward_neox(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                        ll_capture *cap, float *state, float *logits) {
    return ll_tf_forward(m, &spec, ops, ctx, tokens, lens, B, T, cap, state, logits);
}
static int cost_neox(const ll_model *m, int T, ll_cost *pe) { return ll_tf_cost(m, &spec, T, pe); }

/* ---- GGUF (llama.cpp's GPTNeoXModel) ---- */
static int gguf_config_neox(const ll_gguf *g, cJSON *cfg) {
    int64_t par = 1, rdim = 0, hd = 0, H = 0, d = 0;
    if (ll_gguf_arch_int(g, "use_parallel_residual", 1, &par, 0) < 0 ||
        ll_gguf_arch_int(g, "rope.dimension_count", 0, &rdim, 0) < 0 ||
        ll_gguf_arch_int(g, "embedding_length", 0, &d, 1) || ll_gguf_arch_int(g, "attention.head_count", 0, &H, 1))
        return -1;
    hd = H > 0 ? d / H : 0;
    cJSON_AddBoolToObject(cfg, "use_parallel_residual", par != 0);
    cJSON_AddStringToObject(cfg, "hidden_act", "gelu");
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "partial_rotary_factor");
    cJSON_AddNumberToObject(cfg, "partial_rotary_factor", rdim > 0 && hd > 0 ? (double)rdim / (double)hd : 1.0);
    return 0;
}

/* the converter regroups query_key_value from per head [q_h k_h v_h] into
 * q | k | v blocks; HF's per-head order back */
static int gguf_fixup_neox(const ll_gguf *g, ll_safetensors *st) {
    int64_t H;
    if (ll_gguf_arch_int(g, "attention.head_count", 0, &H, 1)) return -1;
    if (H <= 0 || H > 1 << 20) {
        ll_set_error("%s: attention.head_count %lld is out of range", g->path, (long long)H);
        return -1;
    }
    for (int i = 0; i < st->n_tensors; i++) {
        ll_st_tensor *t = &st->tensors[i];
        const char *s = ll_gguf_layer_suffix(t->name, NULL);
        if (s && (!strcmp(s, "attn_qkv.weight") || !strcmp(s, "attn_qkv.bias")) &&
            ll_gguf_blocks_to_heads(st, t, 3, (int)H, g->path))
            return -1;
    }
    return 0;
}

const ll_family ll_family_gpt_neox = {
    .gguf_config = gguf_config_neox,
    .gguf_fixup = gguf_fixup_neox,
    .model_type = "gpt_neox",
    .layer_split = 1,
    .gguf_arch = "gptneox",
    .roles = roles,
    .n_roles = N_ROLES,
    .hf_prefix = "gpt_neox.",
    .harmless = harmless_neox,
    .parse_config = parse_neox,
    .bind = bind_neox,
    .prepare = ll_tf_prepare_rope,
    .forward = forward_neox,
    .describe = ll_tf_describe,
    .cost = cost_neox,
};
