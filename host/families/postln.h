/* Post-LN transformer blocks (original Transformer / GPT-1 / BERT order):
 *   n = LN1(x + O·attn(qkv(x)));  x' = LN2(n + down(act(up(n))))
 * shared by openai_gpt.c (causal), bert.c and roberta.c (bidirectional).
 * Entry 0 = token embeddings (+ token type row 0) + positions, then the
 * embedding LayerNorm when the family has one (m->norm_w / m->norm_b hold
 * it); entries 1..L = the block outputs (no final norm).  Layer weights are
 * the ll_tf_layer views: ln1 = the norm after attention, ln2 = after the FFN. */
#ifndef LL_FAMILIES_POSTLN_H
#define LL_FAMILIES_POSTLN_H
#include "families/tf_blocks.h"

typedef struct {
    int bidirectional;         /* 1: every real key (encoders) */
    int pos_offset;            /* position id of token t = pos_offset + t (RoBERTa: padding_idx + 1) */
    int embed_ln;              /* 1: LayerNorm (m->norm_w, m->norm_b) on the embedding sum */
    ll_tf_qkv_layout qkv;      /* LL_TF_QKV_FUSED_BLOCKS (GPT-1 c_attn) or LL_TF_QKV_SEPARATE (BERT) */
} ll_postln_spec;

/* type_emb: NULL, or the token-type table whose row 0 is added to every token
 * (BERT/RoBERTa with token_type_ids all zero, as the authors call them). */
int ll_postln_forward(ll_model *m, const ll_postln_spec *spec, const ll_weight *type_emb, const ll_ops *ops, void *ctx,
                      const int32_t *tokens, const int *lens, int B, int T, ll_capture *cap, float *state,
                      float *logits);
int ll_postln_cost(const ll_model *m, const ll_postln_spec *spec, int T, ll_cost *per_entry);
#endif
