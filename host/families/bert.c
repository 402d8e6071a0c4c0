/* BERT (HF BertModel): a post-LN encoder with bidirectional attention over
 * the real tokens of each sequence (RoBERTa, roberta.c, shares all of it
 * through families/bert.h).
 *   entry 0 = LayerNorm(word + token_type[0] + position)  (HF's embeddings output)
 *   entries 1..L = the layers' outputs (no final norm)
 * Block: n = LN(x + O·attn(q, k, v)); x' = LN(n + down(gelu(up(n)))), all
 * linears with biases.  Positions: BERT t; RoBERTa padding_idx + 1 + t (HF's
 * create_position_ids_from_input_ids for text that contains no pad id; the
 * padding positions themselves are never read).  token_type_ids are all 0, as
 * the authors call the models.  The pooler is not used.  Fresh norm for the
 * authors' 'initialized-LN': none (bert and roberta match no branch). */
#include <string.h>
#include "core/ll_util.h"
#include "families/bert.h"

enum { R_WTE, R_WPE, R_TYPE, R_ELN_W, R_ELN_B, R_Q, R_Q_B, R_K, R_K_B, R_V, R_V_B, R_O, R_O_B, R_LN1_W, R_LN1_B, R_UP,
       R_UP_B, R_DOWN, R_DOWN_B, R_LN2_W, R_LN2_B, N_ROLES };
_Static_assert(N_ROLES == LL_BERT_N_ROLES, "LL_BERT_N_ROLES");
const ll_tensor_role ll_bert_roles[LL_BERT_N_ROLES] = {
    [R_WTE] = {"token_embd", "embeddings.word_embeddings.weight", "token_embd.weight"},
    [R_WPE] = {"position_embd", "embeddings.position_embeddings.weight", "position_embd.weight"},
    [R_TYPE] = {"token_types", "embeddings.token_type_embeddings.weight", "token_types.weight"},
    [R_ELN_W] = {"token_embd_norm", "embeddings.LayerNorm.weight", "token_embd_norm.weight"},
    [R_ELN_B] = {"token_embd_norm_b", "embeddings.LayerNorm.bias", "token_embd_norm.bias"},
    [R_Q] = {"attn_q", "encoder.layer.%d.attention.self.query.weight", "blk.%d.attn_q.weight"},
    [R_Q_B] = {"attn_q_b", "encoder.layer.%d.attention.self.query.bias", "blk.%d.attn_q.bias"},
    [R_K] = {"attn_k", "encoder.layer.%d.attention.self.key.weight", "blk.%d.attn_k.weight"},
    [R_K_B] = {"attn_k_b", "encoder.layer.%d.attention.self.key.bias", "blk.%d.attn_k.bias"},
    [R_V] = {"attn_v", "encoder.layer.%d.attention.self.value.weight", "blk.%d.attn_v.weight"},
    [R_V_B] = {"attn_v_b", "encoder.layer.%d.attention.self.value.bias", "blk.%d.attn_v.bias"},
    [R_O] = {"attn_output", "encoder.layer.%d.attention.output.dense.weight", "blk.%d.attn_output.weight"},
    [R_O_B] = {"attn_output_b", "encoder.layer.%d.attention.output.dense.bias", "blk.%d.attn_output.bias"},
    [R_LN1_W] = {"attn_output_norm", "encoder.layer.%d.attention.output.LayerNorm.weight",
                 "blk.%d.attn_output_norm.weight"},
    [R_LN1_B] = {"attn_output_norm_b", "encoder.layer.%d.attention.output.LayerNorm.bias",
                 "blk.%d.attn_output_norm.bias"},
    [R_UP] = {"ffn_up", "encoder.layer.%d.intermediate.dense.weight", "blk.%d.ffn_up.weight"},
    [R_UP_B] = {"ffn_up_b", "encoder.layer.%d.intermediate.dense.bias", "blk.%d.ffn_up.bias"},
    [R_DOWN] = {"ffn_down", "encoder.layer.%d.output.dense.weight", "blk.%d.ffn_down.weight"},
    [R_DOWN_B] = {"ffn_down_b", "encoder.layer.%d.output.dense.bias", "blk.%d.ffn_down.bias"},
    [R_LN2_W] = {"layer_output_norm", "encoder.layer.%d.output.LayerNorm.weight", "blk.%d.layer_output_norm.weight"},
    [R_LN2_B] = {"layer_output_norm_b", "encoder.layer.%d.output.LayerNorm.bias", "blk.%d.layer_output_norm.bias"},
};

typedef struct {
    ll_weight type_emb;
    ll_postln_spec spec;
} bert_data;

int ll_bert_parse_common(ll_model *m, ll_config *r, int roberta) {
    ll_model_config *c = &m->cfg;
    c->d_model = ll_cfg_size(r, "hidden_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_layer = ll_cfg_size(r, "num_hidden_layers", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_LAYERS);
    c->n_head = ll_cfg_size(r, "num_attention_heads", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_kv_head = c->n_head;
    c->d_ff = ll_cfg_size(r, "intermediate_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->vocab = ll_cfg_size(r, "vocab_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_VOCAB);
    c->max_pos = ll_cfg_size(r, "max_position_embeddings", NULL, 512, 1, LL_CFG_MAX_VOCAB);
    c->norm = LL_NORM_LAYERNORM;
    c->norm_eps = ll_cfg_num(r, NULL, "layer_norm_eps", 1e-12);
    c->qkv_bias = c->o_bias = c->mlp_bias = 1;
    c->tie_embeddings = 1;
    const char *pe = ll_cfg_str(r, "position_embedding_type", "absolute");
    if (strcmp(pe, "absolute") != 0) return ll_cfg_fail(r, "position_embedding_type '%s' is not supported (absolute)", pe);
    if (ll_cfg_bool(r, "is_decoder", 0)) return ll_cfg_fail(r, "'is_decoder' true is not supported (encoders only)");
    int type_vocab = ll_cfg_size(r, "type_vocab_size", NULL, 2, 0, LL_CFG_MAX_VOCAB);
    int pad = ll_cfg_int(r, "pad_token_id", NULL, roberta ? 1 : 0);
    if (ll_cfg_act(r, "hidden_act", "gelu", &c->act)) return -1;
    if (ll_tf_heads(m, r)) return -1;
    bert_data *fd = ll_xcalloc(1, sizeof *fd);
    m->family_data = fd;
    fd->spec = (ll_postln_spec){1, roberta ? pad + 1 : 0, 1, LL_TF_QKV_SEPARATE};
    fd->type_emb.rows = type_vocab; /* 0: no token-type table */
    if (roberta && (pad < 0 || pad + 2 > c->max_pos))
        return ll_cfg_fail(r, "pad_token_id %d leaves no positions in max_position_embeddings %d", pad, c->max_pos);
    return 0;
}
static int parse_bert(ll_model *m, ll_config *r) { return ll_bert_parse_common(m, r, 0); }

int ll_bert_bind(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    bert_data *fd = m->family_data;
    const int64_t C = c->d_model, F = c->d_ff, V = c->vocab, P = c->max_pos, TV = fd->type_emb.rows;
    fd->type_emb.rows = 0;
    if (ll_bind(ld, &m->embed, &ll_bert_roles[R_WTE], -1, SHAPE2(V, C), 0) ||
        ll_bind(ld, &m->pos_embed, &ll_bert_roles[R_WPE], -1, SHAPE2(P, C), 0) ||
        (TV > 0 && ll_bind(ld, &fd->type_emb, &ll_bert_roles[R_TYPE], -1, SHAPE2(TV, C), 0)) ||
        ll_bind(ld, &m->norm_w, &ll_bert_roles[R_ELN_W], -1, SHAPE1(C), 0) ||
        ll_bind(ld, &m->norm_b, &ll_bert_roles[R_ELN_B], -1, SHAPE1(C), 0))
        return -1;
    m->layers = ll_xcalloc(c->n_layer, sizeof(ll_tf_layer));
    for (int l = 0; l < c->n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        if (ll_bind(ld, &y->q, &ll_bert_roles[R_Q], l, SHAPE2(C, C), 0) ||
            ll_bind(ld, &y->q_b, &ll_bert_roles[R_Q_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->k, &ll_bert_roles[R_K], l, SHAPE2(C, C), 0) ||
            ll_bind(ld, &y->k_b, &ll_bert_roles[R_K_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->v, &ll_bert_roles[R_V], l, SHAPE2(C, C), 0) ||
            ll_bind(ld, &y->v_b, &ll_bert_roles[R_V_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->o, &ll_bert_roles[R_O], l, SHAPE2(C, C), 0) ||
            ll_bind(ld, &y->o_b, &ll_bert_roles[R_O_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln1_w, &ll_bert_roles[R_LN1_W], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln1_b, &ll_bert_roles[R_LN1_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->up, &ll_bert_roles[R_UP], l, SHAPE2(F, C), 0) ||
            ll_bind(ld, &y->up_b, &ll_bert_roles[R_UP_B], l, SHAPE1(F), 0) ||
            ll_bind(ld, &y->down, &ll_bert_roles[R_DOWN], l, SHAPE2(C, F), 0) ||
            ll_bind(ld, &y->down_b, &ll_bert_roles[R_DOWN_B], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln2_w, &ll_bert_roles[R_LN2_W], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln2_b, &ll_bert_roles[R_LN2_B], l, SHAPE1(C), 0))
            return -1;
    }
    return 0;
}

int ll_bert_prepare(ll_model *m) {
    ll_tf_fuse_qkv(m);
    return 0;
}

/* the pooler, the MLM / classification heads and position_ids buffers */
int ll_bert_harmless(const char *name) {
    return strstr(name, "pooler.") != NULL || !strncmp(name, "cls.", 4) || !strncmp(name, "lm_head.", 8) ||
           !strncmp(name, "classifier.", 11) || strstr(name, "embeddings.position_ids") != NULL ||
           strstr(name, "embeddings.token_type_ids") != NULL;
}

int ll_bert_forward(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                        ll_capture *cap, float *state, float *logits) {
    bert_data *fd = m->family_data;
    return ll_postln_forward(m, &fd->spec, &fd->type_emb, ops, ctx, tokens, lens, B, T, cap, state, logits);
}
int ll_bert_cost(const ll_model *m, int T, ll_cost *pe) {
    const bert_data *fd = m->family_data;
    if (ll_postln_cost(m, &fd->spec, T, pe)) return -1;
    pe[0].weight_bytes += ll_weight_bytes(&fd->type_emb); /* the token-type table (row 0 read) */
    return 0;
}
int ll_bert_max_positions(const ll_model *m) {
    const bert_data *fd = m->family_data;
    return m->cfg.max_pos - fd->spec.pos_offset;
}
ll_norm ll_bert_fresh_none(const ll_model *m, double *eps) {
    *eps = m->cfg.norm_eps;
    return LL_NORM_NONE;
}
void ll_bert_describe(const ll_model *m, cJSON *j) {
    const bert_data *fd = m->family_data;
    ll_tf_describe(m, j);
    cJSON_AddBoolToObject(j, "bidirectional", 1);
    cJSON_AddNumberToObject(j, "position_offset", fd->spec.pos_offset);
}

/* ---- GGUF (llama.cpp's BertModel) ---- */
static int gguf_config_bert(const ll_gguf *g, cJSON *cfg) {
    const ll_gguf_tensor *tt = ll_gguf_find_tensor(g, "token_types.weight");
    if (tt && tt->n_dims == 2) cJSON_AddNumberToObject(cfg, "type_vocab_size", (double)tt->ne[1]);
    cJSON_AddStringToObject(cfg, "hidden_act", "gelu");
    return 0;
}

const ll_family ll_family_bert = {
    .gguf_config = gguf_config_bert,
    .model_type = "bert",
    .gguf_arch = "bert",
    .hf_prefix = "bert.",
    .parse_config = parse_bert,
    LL_BERT_FAMILY_FIELDS,
};
