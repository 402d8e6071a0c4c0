/* BERT-style encoders (bert, roberta) share the tensor names, the binding,
 * the forward (post-LN blocks, families/postln.h), the cost and the law.json
 * keys; each registers its own ll_family in its own file and says what
 * differs (positions after padding_idx, the checkpoint prefix). */
#ifndef LL_FAMILIES_BERT_H
#define LL_FAMILIES_BERT_H
#include "families/postln.h"

#define LL_BERT_N_ROLES 21
extern const ll_tensor_role ll_bert_roles[LL_BERT_N_ROLES];
/* Every key; roberta = 1: positions start at pad_token_id + 1. */
int ll_bert_parse_common(ll_model *m, ll_config *r, int roberta);
int ll_bert_bind(ll_model *m, ll_loader *ld);
int ll_bert_prepare(ll_model *m);
int ll_bert_harmless(const char *name);
int ll_bert_forward(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                    ll_capture *cap, float *state, float *logits);
int ll_bert_cost(const ll_model *m, int T, ll_cost *pe);
int ll_bert_max_positions(const ll_model *m);
/* the authors' 'initialized-LN' matches no branch for these: none */
ll_norm ll_bert_fresh_none(const ll_model *m, double *eps);
void ll_bert_describe(const ll_model *m, cJSON *j);
/* The ll_family fields both share (designated initialisers): a family adds
 * .model_type, .gguf_arch, .hf_prefix, .parse_config. */
#define LL_BERT_FAMILY_FIELDS                                                                                     \
    .layer_split = 1, .roles = ll_bert_roles, .n_roles = LL_BERT_N_ROLES, .harmless = ll_bert_harmless,          \
    .bind = ll_bert_bind, .prepare = ll_bert_prepare, .forward = ll_bert_forward, .describe = ll_bert_describe, \
    .cost = ll_bert_cost, .fresh_norm = ll_bert_fresh_none, .max_positions = ll_bert_max_positions
#endif
