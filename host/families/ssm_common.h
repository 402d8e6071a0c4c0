/* Shared pieces of the recurrent families (RWKV-4, Mamba): the entry
 * convention switch, entry emission, logits.
 *
 * Hidden-state entries (E = L + 1 in both conventions):
 *   default (HF output_hidden_states, as the paper ran):
 *       e = 0..L-1: output of block e+1 (RWKV: after the eval-mode halving),
 *       e = L: final norm (ln_out / norm_f) of block L's output;
 *   embed_entry = 1 (transformer-style):
 *       e = 0: the token embeddings, e = 1..L-1: output of block e,
 *       e = L: final norm of block L's output
 *       (drops block L's raw output, which is the last entry up to a
 *       per-channel affine map, and adds the embeddings).
 *
 * The public names ll_ssm_* below are kept for existing callers; new code
 * uses ll_model_set_embedding_entry / ll_model_state_new /
 * ll_model_forward_ex (model.h). */
#ifndef LL_FAMILIES_SSM_COMMON_H
#define LL_FAMILIES_SSM_COMMON_H
#include <stdint.h>
#include "model/model.h"
#include "io/gguf.h"

/* = ll_model_set_embedding_entry; and the current setting (0 for other families). */
int ll_ssm_set_embed_entry(ll_model *m, int on);
int ll_ssm_embed_entry(const ll_model *m);

typedef ll_model_state ll_ssm_state;
ll_ssm_state *ll_ssm_state_new(ll_model *m, const ll_ops *ops, void *ctx, int B);
void ll_ssm_state_free(ll_ssm_state *s);
int ll_ssm_forward(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B,
                   int T, ll_capture *cap, ll_ssm_state *state, float *logits);

/* ---- for the family files (rwkv.c, mamba.c) ---- */
/* First member of both families' m->family_data. */
typedef struct {
    int embed_entry;
} ll_ssm_common;
/* family->set_embedding_entry of both. */
int ll_ssm_family_set_embed_entry(ll_model *m, int on);
/* Emits the embeddings h (entry 0) when embed_entry is on. */
int ll_ssm_emit_embeddings(ll_model *m, const ll_ops *ops, void *ctx, ll_capture *cap, const float *h,
                           const int32_t *tokens, const int *lens, int B, int T);
/* Emits the output h of block l (0-based) under the current convention. */
int ll_ssm_emit_block(ll_model *m, const ll_ops *ops, void *ctx, ll_capture *cap, int l, const float *h,
                      const int32_t *tokens, const int *lens, int B, int T);
/* Cost entry (per_entry index) that block l's compute goes to: entry 0 also
 * carries the embedding lookup in the default convention. */
int ll_ssm_cost_entry(const ll_model *m, int l);
/* logits_host[N, V] = head · hfinal (hfinal backend memory [N, C]); scratch
 * backend memory [N, V]. */
int ll_ssm_logits(ll_model *m, const ll_ops *ops, void *ctx, const ll_weight *head, const float *hfinal, int N,
                  float *scratch, float *logits_host);
/* GGUF (llama.cpp's Mamba/Mamba2 converters): ssm_a = -exp(A_log) back to
 * A_log = log(-a), ssm_conv1d [E, K] back to [E, 1, K]. */
int ll_ssm_gguf_fixup(const ll_gguf *g, ll_safetensors *st);
#endif
