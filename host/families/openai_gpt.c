/* GPT-1 (HF OpenAIGPTModel, model_type "openai-gpt"): learned positions,
 * POST-LN blocks (x = ln_1(x + attn(x)); x = ln_2(x + mlp(x))), Conv1D
 * weights stored [in, out] (loaded transposed), c_attn output q | k | v, no
 * final norm: the last entry is block L's output.  afn "gelu" is HF's
 * gelu_new (tanh form) in this model (modeling_openai ACT_FNS).  Fresh norm
 * for the authors' 'initialized-LN': none (openai-gpt matches no branch). */
#include <string.h>
#include "core/ll_util.h"
#include "families/postln.h"

enum { R_WTE, R_WPE, R_QKV, R_QKV_B, R_O, R_O_B, R_LN1_W, R_LN1_B, R_UP, R_UP_B, R_DOWN, R_DOWN_B, R_LN2_W, R_LN2_B,
       R_HEAD, N_ROLES };
static const ll_tensor_role roles[N_ROLES] = {
    [R_WTE] = {"token_embd", "tokens_embed.weight", NULL},
    [R_WPE] = {"position_embd", "positions_embed.weight", NULL},
    [R_QKV] = {"attn_qkv", "h.%d.attn.c_attn.weight", NULL},
    [R_QKV_B] = {"attn_qkv_b", "h.%d.attn.c_attn.bias", NULL},
    [R_O] = {"attn_output", "h.%d.attn.c_proj.weight", NULL},
    [R_O_B] = {"attn_output_b", "h.%d.attn.c_proj.bias", NULL},
    [R_LN1_W] = {"attn_out_norm", "h.%d.ln_1.weight", NULL},
    [R_LN1_B] = {"attn_out_norm_b", "h.%d.ln_1.bias", NULL},
    [R_UP] = {"ffn_up", "h.%d.mlp.c_fc.weight", NULL},
    [R_UP_B] = {"ffn_up_b", "h.%d.mlp.c_fc.bias", NULL},
    [R_DOWN] = {"ffn_down", "h.%d.mlp.c_proj.weight", NULL},
    [R_DOWN_B] = {"ffn_down_b", "h.%d.mlp.c_proj.bias", NULL},
    [R_LN2_W] = {"layer_out_norm", "h.%d.ln_2.weight", NULL},
    [R_LN2_B] = {"layer_out_norm_b", "h.%d.ln_2.bias", NULL},
    [R_HEAD] = {"output", "lm_head.weight", NULL, 1},
};

static const ll_postln_spec spec = {0, 0, 0, LL_TF_QKV_FUSED_BLOCKS};

static int parse_openai(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    c->d_model = ll_cfg_size(r, "n_embd", "hidden_size", LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_layer = ll_cfg_size(r, "n_layer", "num_hidden_layers", LL_CFG_REQUIRED, 1, LL_CFG_MAX_LAYERS);
    c->n_head = ll_cfg_size(r, "n_head", "num_attention_heads", LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_kv_head = c->n_head;
    c->d_ff = 4 * c->d_model;
    c->vocab = ll_cfg_size(r, "vocab_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_VOCAB);
    c->max_pos = ll_cfg_size(r, "n_positions", "max_position_embeddings", LL_CFG_REQUIRED, 1, LL_CFG_MAX_VOCAB);
    c->norm = LL_NORM_LAYERNORM;
    c->norm_eps = ll_cfg_num(r, NULL, "layer_norm_epsilon", 1e-5);
    c->qkv_bias = c->o_bias = c->mlp_bias = 1;
    c->tie_embeddings = 1;
    const char *afn = ll_cfg_str(r, "afn", "gelu");
    if (!strcmp(afn, "gelu")) c->act = LL_ACT_GELU_TANH; /* OpenAI's ACT_FNS: gelu = gelu_new */
    else if (!strcmp(afn, "silu") || !strcmp(afn, "swish")) c->act = LL_ACT_SILU;
    else return ll_cfg_fail(r, "unsupported afn '%s' (gelu, silu, swish)", afn);
    return ll_tf_heads(m, r);
}

static int bind_openai(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    const int64_t C = c->d_model, F = c->d_ff, V = c->vocab, P = c->max_pos;
    if (ll_bind(ld, &m->embed, &roles[R_WTE], -1, SHAPE2(V, C), 0) ||
        ll_bind(ld, &m->pos_embed, &roles[R_WPE], -1, SHAPE2(P, C), 0))
        return -1;
    m->layers = ll_xcalloc(c->n_layer, sizeof(ll_tf_layer));
    for (int l = 0; l < c->n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        if (ll_bind(ld, &y->qkv, &roles[R_QKV], l, SHAPE2(C, 3 * C), LL_LOAD_TRANSPOSE) ||
            ll_bind(ld, &y->qkv_b, &roles[R_QKV_B], l, SHAPE1(3 * C), 0) ||
            ll_bind(ld, &y->o, &roles[R_O], l, SHAPE2(C, C), LL_LOAD_TRANSPOSE) ||
            ll_bind(ld, &y->o_b, &roles[R_O_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln1_w, &roles[R_LN1_W], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln1_b, &roles[R_LN1_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->up, &roles[R_UP], l, SHAPE2(C, F), LL_LOAD_TRANSPOSE) ||
            ll_bind(ld, &y->up_b, &roles[R_UP_B], l, SHAPE1(F), 0) ||
            ll_bind(ld, &y->down, &roles[R_DOWN], l, SHAPE2(F, C), LL_LOAD_TRANSPOSE) ||
            ll_bind(ld, &y->down_b, &roles[R_DOWN_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln2_w, &roles[R_LN2_W], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln2_b, &roles[R_LN2_B], l, SHAPE1(C), 0))
            return -1;
    }
    return 0;
}

/* the causal-mask buffer of old checkpoints (h.N.attn.bias, 4-D) and the LM head */
static int harmless_openai(const char *name) {
    const char *p = strstr(name, ".attn.bias");
    return (p && p[10] == 0) || !strcmp(name, "lm_head.weight");
}

static int forward_openai(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B,
                          int T, ll_capture *cap, float *state, float *logits) {
    return ll_postln_forward(m, &spec, NULL, ops, ctx, tokens, lens, B, T, cap, state, logits);
}
static int cost_openai(const ll_model *m, int T, ll_cost *pe) { return ll_postln_cost(m, &spec, T, pe); }
static int max_positions_openai(const ll_model *m) { return m->cfg.max_pos; }
static ll_norm fresh_none(const ll_model *m, double *eps) {
    *eps = m->cfg.norm_eps;
    return LL_NORM_NONE;
}

const ll_family ll_family_openai_gpt = {
    .model_type = "openai-gpt",
    .layer_split = 1,
    .roles = roles,
    .n_roles = N_ROLES,
    .hf_prefix = "transformer.",
    .harmless = harmless_openai,
    .parse_config = parse_openai,
    .bind = bind_openai,
    .forward = forward_openai,
    .describe = ll_tf_describe,
    .cost = cost_openai,
    .fresh_norm = fresh_none,
    .max_positions = max_positions_openai,
};
