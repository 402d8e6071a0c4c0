/* Gemma-style families (gemma, gemma2) share gemma's config keys (the
 * activation key, the embedding scale), its (1 + w) RMSNorm weights and its
 * law.json keys; each registers its own ll_family in its own file. */
#ifndef LL_FAMILIES_GEMMA_H
#define LL_FAMILIES_GEMMA_H
#include "families/llama.h"

/* llama's keys + hidden_activation + embed_scale = sqrt(hidden) (float32);
 * the caller finishes with ll_llama_finish. */
int ll_gemma_parse_common(ll_model *m, ll_config *r);
/* every norm weight w becomes 1 + w, then ll_llama_prepare */
int ll_gemma_prepare(ll_model *m);
/* ll_tf_describe + embed_scale, attn_logit_softcapping, window_layers */
void ll_gemma_describe(const ll_model *m, cJSON *j);
/* GGUF: the converter stores the norm weights as 1 + w; w back. */
int ll_gemma_gguf_fixup(const ll_gguf *g, ll_safetensors *st);
#endif
