/* GPT-2 (HF GPT2Model): learned positions, LayerNorm, fused c_attn (Conv1D,
 * stored [in, out]: loaded transposed), gelu MLP, sequential residual. */
#include <string.h>
#include "core/ll_util.h"
#include "families/tf_blocks.h"

enum { R_WTE, R_WPE, R_LNF_W, R_LNF_B, R_LN1_W, R_LN1_B, R_QKV, R_QKV_B, R_O, R_O_B, R_LN2_W, R_LN2_B, R_UP, R_UP_B,
       R_DOWN, R_DOWN_B, R_HEAD, N_ROLES };
static const ll_tensor_role roles[N_ROLES] = {
    [R_WTE] = {"token_embd", "wte.weight", "token_embd.weight"},
    [R_WPE] = {"position_embd", "wpe.weight", "position_embd.weight"},
    [R_LNF_W] = {"output_norm", "ln_f.weight", "output_norm.weight"},
    [R_LNF_B] = {"output_norm_b", "ln_f.bias", "output_norm.bias"},
    [R_LN1_W] = {"attn_norm", "h.%d.ln_1.weight", "blk.%d.attn_norm.weight"},
    [R_LN1_B] = {"attn_norm_b", "h.%d.ln_1.bias", "blk.%d.attn_norm.bias"},
    [R_QKV] = {"attn_qkv", "h.%d.attn.c_attn.weight", "blk.%d.attn_qkv.weight"},
    [R_QKV_B] = {"attn_qkv_b", "h.%d.attn.c_attn.bias", "blk.%d.attn_qkv.bias"},
    [R_O] = {"attn_output", "h.%d.attn.c_proj.weight", "blk.%d.attn_output.weight"},
    [R_O_B] = {"attn_output_b", "h.%d.attn.c_proj.bias", "blk.%d.attn_output.bias"},
    [R_LN2_W] = {"ffn_norm", "h.%d.ln_2.weight", "blk.%d.ffn_norm.weight"},
    [R_LN2_B] = {"ffn_norm_b", "h.%d.ln_2.bias", "blk.%d.ffn_norm.bias"},
    [R_UP] = {"ffn_up", "h.%d.mlp.c_fc.weight", "blk.%d.ffn_up.weight"},
    [R_UP_B] = {"ffn_up_b", "h.%d.mlp.c_fc.bias", "blk.%d.ffn_up.bias"},
    [R_DOWN] = {"ffn_down", "h.%d.mlp.c_proj.weight", "blk.%d.ffn_down.weight"},
    [R_DOWN_B] = {"ffn_down_b", "h.%d.mlp.c_proj.bias", "blk.%d.ffn_down.bias"},
    [R_HEAD] = {"output", "lm_head.weight", "output.weight", 1},
};

static const ll_tf_spec spec = {LL_TF_QKV_FUSED_BLOCKS, LL_TF_FFN_MLP, 1};

static int parse_gpt2(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    c->d_model = ll_cfg_size(r, "n_embd", "hidden_size", LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_layer = ll_cfg_size(r, "n_layer", "num_hidden_layers", LL_CFG_REQUIRED, 1, LL_CFG_MAX_LAYERS);
    c->n_head = ll_cfg_size(r, "n_head", "num_attention_heads", LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_kv_head = c->n_head;
    /* null n_inner: 4 C (C <= 2^24: no overflow) */
    c->d_ff = ll_cfg_size(r, "n_inner", NULL, 4 * c->d_model, 1, LL_CFG_MAX_DIM);
    c->vocab = ll_cfg_size(r, "vocab_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_VOCAB);
    c->max_pos = ll_cfg_size(r, "n_positions", "max_position_embeddings", LL_CFG_REQUIRED, 1, LL_CFG_MAX_VOCAB);
    c->norm = LL_NORM_LAYERNORM;
    c->norm_eps = ll_cfg_num(r, NULL, "layer_norm_epsilon", 1e-5);
    c->qkv_bias = c->o_bias = c->mlp_bias = 1;
    c->attn_scale_mult = ll_cfg_bool(r, "scale_attn_weights", 1) ? 1.0 : 0.0;
    c->scale_attn_by_inverse_layer_idx = ll_cfg_bool(r, "scale_attn_by_inverse_layer_idx", 0);
    c->tie_embeddings = ll_cfg_bool(r, "tie_word_embeddings", 1);
    if (ll_cfg_act(r, "activation_function", "gelu_new", &c->act)) return -1;
    return ll_tf_heads(m, r);
}

static int bind_gpt2(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    const int64_t C = c->d_model, F = c->d_ff, V = c->vocab, P = c->max_pos;
    if (ll_bind(ld, &m->embed, &roles[R_WTE], -1, SHAPE2(V, C), 0) ||
        ll_bind(ld, &m->pos_embed, &roles[R_WPE], -1, SHAPE2(P, C), 0) ||
        ll_bind(ld, &m->norm_w, &roles[R_LNF_W], -1, SHAPE1(C), 0) ||
        ll_bind(ld, &m->norm_b, &roles[R_LNF_B], -1, SHAPE1(C), 0))
        return -1;
    m->layers = ll_xcalloc(c->n_layer, sizeof(ll_tf_layer));
    for (int l = 0; l < c->n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        if (ll_bind(ld, &y->ln1_w, &roles[R_LN1_W], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln1_b, &roles[R_LN1_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->qkv, &roles[R_QKV], l, SHAPE2(C, 3 * C), LL_LOAD_TRANSPOSE) ||
            ll_bind(ld, &y->qkv_b, &roles[R_QKV_B], l, SHAPE1(3 * C), 0) ||
            ll_bind(ld, &y->o, &roles[R_O], l, SHAPE2(C, C), LL_LOAD_TRANSPOSE) ||
            ll_bind(ld, &y->o_b, &roles[R_O_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln2_w, &roles[R_LN2_W], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln2_b, &roles[R_LN2_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->up, &roles[R_UP], l, SHAPE2(C, F), LL_LOAD_TRANSPOSE) ||
            ll_bind(ld, &y->up_b, &roles[R_UP_B], l, SHAPE1(F), 0) ||
            ll_bind(ld, &y->down, &roles[R_DOWN], l, SHAPE2(F, C), LL_LOAD_TRANSPOSE) ||
            ll_bind(ld, &y->down_b, &roles[R_DOWN_B], l, SHAPE1(C), 0))
            return -1;
    }
    return 0;
}

/* Buffers HF keeps in old checkpoints (causal mask), and the LM head. */
static int harmless_gpt2(const char *name) {
    const char *dot = strrchr(name, '.');
    return (dot && (!strcmp(dot, ".bias") || !strcmp(dot, ".masked_bias")) &&
            (strstr(name, ".attn.bias") || strstr(name, ".attn.masked_bias"))) ||
           !strcmp(name, "lm_head.weight");
}

static int forward_gpt2(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                        ll_capture *cap, float *state, float *logits) {
    return ll_tf_forward(m, &spec, ops, ctx, tokens, lens, B, T, cap, state, logits);
}
static int cost_gpt2(const ll_model *m, int T, ll_cost *pe) { return ll_tf_cost(m, &spec, T, pe); }
static int max_positions_gpt2(const ll_model *m) { return m->cfg.max_pos; }

/* ---- GGUF (llama.cpp's GPT2Model) ---- */
static int gguf_config_gpt2(const ll_gguf *g, cJSON *cfg) {
    (void)g;
    const cJSON *ff = cJSON_GetObjectItemCaseSensitive(cfg, "intermediate_size");
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(cfg, "layer_norm_eps");
    if (ff) cJSON_AddNumberToObject(cfg, "n_inner", ff->valuedouble);
    if (eps) cJSON_AddNumberToObject(cfg, "layer_norm_epsilon", eps->valuedouble);
    cJSON_AddStringToObject(cfg, "activation_function", "gelu_new");
    return 0;
}

/* the converter stores the Conv1D weights ([in, out] in HF) transposed */
static int gguf_fixup_gpt2(const ll_gguf *g, ll_safetensors *st) {
    for (int i = 0; i < st->n_tensors; i++) {
        ll_st_tensor *t = &st->tensors[i];
        const char *s = ll_gguf_layer_suffix(t->name, NULL);
        if (s && (!strcmp(s, "attn_qkv.weight") || !strcmp(s, "attn_output.weight") || !strcmp(s, "ffn_up.weight") ||
                  !strcmp(s, "ffn_down.weight")) &&
            ll_gguf_transpose(st, t, g->path))
            return -1;
    }
    return 0;
}

const ll_family ll_family_gpt2 = {
    .gguf_config = gguf_config_gpt2,
    .gguf_fixup = gguf_fixup_gpt2,
    .model_type = "gpt2",
    .layer_split = 1,
    .gguf_arch = "gpt2",
    .roles = roles,
    .n_roles = N_ROLES,
    .hf_prefix = "transformer.",
    .harmless = harmless_gpt2,
    .parse_config = parse_gpt2,
    .bind = bind_gpt2,
    .forward = forward_gpt2,
    .describe = ll_tf_describe,
    .cost = cost_gpt2,
    .max_positions = max_positions_gpt2,
};
