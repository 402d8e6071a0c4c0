/* Shared pieces of the RWKV-4 and Mamba forwards (see ssm_common.h). */
#include <math.h>
#include "families/ssm_common.h"
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"

int ll_ssm_set_embed_entry(ll_model *m, int on) { return ll_model_set_embedding_entry(m, on); }

int ll_ssm_family_set_embed_entry(ll_model *m, int on) {
    ((ll_ssm_common *)m->family_data)->embed_entry = on ? 1 : 0;
    return 0;
}

int ll_ssm_embed_entry(const ll_model *m) {
    return m->family->set_embedding_entry == ll_ssm_family_set_embed_entry && m->family_data
               ? ((const ll_ssm_common *)m->family_data)->embed_entry
               : 0;
}

ll_ssm_state *ll_ssm_state_new(ll_model *m, const ll_ops *ops, void *ctx, int B) {
    return ll_model_state_new(m, ops, ctx, B);
}
void ll_ssm_state_free(ll_ssm_state *s) { ll_model_state_free(s); }
int ll_ssm_forward(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                   ll_capture *cap, ll_ssm_state *state, float *logits) {
    return ll_model_forward_ex(m, ops, ctx, tokens, lens, B, T, cap, state, logits);
}

int ll_ssm_emit_embeddings(ll_model *m, const ll_ops *ops, void *ctx, ll_capture *cap, const float *h,
                           const int32_t *tokens, const int *lens, int B, int T) {
    if (!((ll_ssm_common *)m->family_data)->embed_entry) return 0;
    return ll_model_emit(m, ops, ctx, cap, 0, h, tokens, lens, B, T);
}

int ll_ssm_emit_block(ll_model *m, const ll_ops *ops, void *ctx, ll_capture *cap, int l, const float *h,
                      const int32_t *tokens, const int *lens, int B, int T) {
    if (!((ll_ssm_common *)m->family_data)->embed_entry) return ll_model_emit(m, ops, ctx, cap, l, h, tokens, lens, B, T);
    if (l + 1 < m->cfg.n_layer) return ll_model_emit(m, ops, ctx, cap, l + 1, h, tokens, lens, B, T);
    return 0;
}

int ll_ssm_cost_entry(const ll_model *m, int l) {
    const int on = ((const ll_ssm_common *)m->family_data)->embed_entry;
    /* default: block l → entry l; embed_entry: block l → entry l+1, block L
     * folded into the last entry with the final norm */
    return on ? l + 1 : l;
}

int ll_ssm_logits(ll_model *m, const ll_ops *ops, void *ctx, const ll_weight *head, const float *hfinal, int N,
                  float *scratch, float *logits_host) {
    if (!head->data) { ll_set_error("%s: no output head (head.weight / lm_head.weight) for logits", m->dir); return -1; }
    ops->linear(ctx, scratch, hfinal, &*head, NULL, N);
    ops->download(ctx, logits_host, scratch, (size_t)N * (size_t)head->rows * sizeof(float));
    return ops->sync ? ops->sync(ctx) : 0;
}

/* the converter stores ssm_a = -exp(A_log) and conv1d as [E, K]: A_log =
 * log(-a) (one float32 rounding from HF's A_log) and the [E, 1, K] shape */
int ll_ssm_gguf_fixup(const ll_gguf *g, ll_safetensors *st) {
    for (int i = 0; i < st->n_tensors; i++) {
        ll_st_tensor *t = &st->tensors[i];
        const char *s = ll_gguf_layer_suffix(t->name, NULL);
        if (!s) continue;
        if (!strcmp(s, "ssm_a")) {
            if (t->dtype != LL_ST_F32) {
                ll_set_error("%s: tensor '%s' is not float32", g->path, t->name);
                return -1;
            }
            float *a = ll_gguf_store_own(st, t->nbytes);
            const float *src = t->data;
            for (int64_t k = 0; k < t->numel; k++) {
                if (!(src[k] < 0)) {
                    ll_set_error("%s: tensor '%s' holds %g (-exp(A_log) must be negative)", g->path, t->name, src[k]);
                    return -1;
                }
                a[k] = (float)log(-(double)src[k]);
            }
            t->data = a;
            t->file = -1;
        } else if (!strcmp(s, "ssm_conv1d.weight") && t->ndim == 2) {
            t->ndim = 3;
            t->shape[2] = t->shape[1];
            t->shape[1] = 1;
        }
    }
    return 0;
}

