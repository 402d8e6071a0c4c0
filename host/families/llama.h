/* Llama-style families (llama, mistral, qwen2 and their kin) share the
 * tensor names, the binding and most config keys; each registers its own
 * ll_family in its own file and says what differs (biases, sliding window)
 * in its parse_config. */
#ifndef LL_FAMILIES_LLAMA_H
#define LL_FAMILIES_LLAMA_H
#include "families/tf_blocks.h"

#define LL_LLAMA_N_ROLES 19
extern const ll_tensor_role ll_llama_roles[LL_LLAMA_N_ROLES];
extern const ll_tf_spec ll_llama_spec;
/* The keys every llama-style config has (sizes, rms eps, attention_bias,
 * mlp_bias, hidden_act); the caller then adjusts and calls ll_llama_finish. */
int ll_llama_parse_common(ll_model *m, ll_config *r);
/* heads, head_dim and RoPE (default partial 1, theta 10000). */
int ll_llama_finish(ll_model *m, ll_config *r);
int ll_llama_bind(ll_model *m, ll_loader *ld);
int ll_llama_prepare(ll_model *m);
int ll_llama_harmless(const char *name);
int ll_llama_forward(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                     ll_capture *cap, float *state, float *logits);
int ll_llama_cost(const ll_model *m, int T, ll_cost *pe);
/* GGUF: hidden_act silu; attention_bias / mlp_bias from the tensors present. */
int ll_llama_gguf_config(const ll_gguf *g, cJSON *cfg);
/* The ll_family fields every llama-style family shares (designated
 * initialisers): a family adds .model_type, .gguf_arch, .parse_config. */
#define LL_LLAMA_FAMILY_FIELDS                                                                                  \
    .roles = ll_llama_roles, .n_roles = LL_LLAMA_N_ROLES, .hf_prefix = "model.", .harmless = ll_llama_harmless, \
    .bind = ll_llama_bind, .prepare = ll_llama_prepare, .forward = ll_llama_forward, .describe = ll_tf_describe, \
    .cost = ll_llama_cost, .layer_split = 1
#endif
