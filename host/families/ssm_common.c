/* Shared pieces of the RWKV-4 and Mamba forwards: entry convention switch,
 * recurrent state, id upload, logits.  See host/forward_ssm.h. */
#include <stdlib.h>
#include <string.h>
#include "families/ssm_common.h"
#include "core/ll_util.h"

static int is_ssm(const ll_model *m) { return m->cfg.arch == LL_ARCH_RWKV || m->cfg.arch == LL_ARCH_MAMBA; }

int ll_ssm_set_embed_entry(ll_model *m, int on) {
    if (!is_ssm(m) || !m->family_data) {
        ll_set_error("%s: the embedding-entry option applies to rwkv and mamba models only (this is %s)", m->dir,
                     m->cfg.model_type);
        return -1;
    }
    ((ll_ssm_common *)m->family_data)->embed_entry = on ? 1 : 0;
    return 0;
}

int ll_ssm_embed_entry(const ll_model *m) {
    return is_ssm(m) && m->family_data ? ((const ll_ssm_common *)m->family_data)->embed_entry : 0;
}

ll_ssm_state *ll_ssm_state_new(ll_model *m, const ll_ops *ops, void *ctx, int B) {
    if (!is_ssm(m)) { ll_set_error("%s: no recurrent state for model_type %s", m->dir, m->cfg.model_type); return NULL; }
    if (B <= 0) { ll_set_error("%s: recurrent state for %d sequences", m->dir, B); return NULL; }
    ll_ssm_state *s = ll_xcalloc(1, sizeof *s);
    s->arch = m->cfg.arch;
    s->B = B;
    s->ops = ops;
    s->ctx = ctx;
    s->n = m->cfg.arch == LL_ARCH_RWKV ? ll_rwkv_state_floats(m, B) : ll_mamba_state_floats(m, B);
    float *host = ll_xcalloc(s->n ? s->n : 1, sizeof(float));
    if (m->cfg.arch == LL_ARCH_RWKV) ll_rwkv_state_init(m, B, host);
    s->buf = ops->host_memory ? ll_xmalloc_aligned(s->n * sizeof(float) + 64) : ops->alloc(ctx, s->n * sizeof(float) + 64);
    if (!s->buf) { free(host); free(s); return NULL; }
    ops->upload(ctx, s->buf, host, s->n * sizeof(float));
    free(host);
    return s;
}

void ll_ssm_state_free(ll_ssm_state *s) {
    if (!s) return;
    if (s->ops->host_memory) free(s->buf);
    else s->ops->free(s->ctx, s->buf);
    free(s);
}

int ll_ssm_forward(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                   ll_capture *cap, ll_ssm_state *state, float *logits) {
    if (!is_ssm(m)) { ll_set_error("%s: ll_ssm_forward on model_type %s", m->dir, m->cfg.model_type); return -1; }
    if (ll_model_check_batch(m, tokens, lens, B, T) != 0) return -1;
    if (state && (state->B != B || state->arch != m->cfg.arch)) {
        ll_set_error("%s: recurrent state made for %d sequences, batch has %d", m->dir, state->B, B);
        return -1;
    }
    if (m->cfg.arch == LL_ARCH_RWKV) return ll_rwkv_run(m, ops, ctx, tokens, lens, B, T, cap, state, logits);
    return ll_mamba_run(m, ops, ctx, tokens, lens, B, T, cap, state, logits);
}

void ll_ssm_upload_ids(const ll_ops *ops, void *ctx, int32_t *d_ids, const int32_t *tokens, const int *lens, int B,
                       int T) {
    const size_t N = (size_t)B * T;
    int32_t *hid = ll_xmalloc(sizeof(int32_t) * N);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) hid[(size_t)b * T + t] = t < lens[b] ? tokens[(size_t)b * T + t] : 0;
    ops->upload(ctx, d_ids, hid, sizeof(int32_t) * N);
    free(hid);
}

int ll_ssm_logits(ll_model *m, const ll_ops *ops, void *ctx, const ll_weight *head, const float *hfinal, int N,
                  float *scratch, float *logits_host) {
    if (!head->data) { ll_set_error("%s: no output head (head.weight / lm_head.weight) for logits", m->dir); return -1; }
    ops->linear(ctx, scratch, hfinal, head, NULL, N);
    ops->download(ctx, logits_host, scratch, (size_t)N * (size_t)head->rows * sizeof(float));
    return ops->sync ? ops->sync(ctx) : 0;
}

int ll_ssm_want(ll_loader *ld, ll_weight *w, const char *pre, const char *group, int layer, const char *name, int ndim,
                const int64_t *s, int flags) {
    char full[512];
    if (layer >= 0) snprintf(full, sizeof full, "%s%s.%d.%s", pre, group, layer, name);
    else snprintf(full, sizeof full, "%s%s", pre, name);
    return ll_loader_want(ld, w, full, ndim, s, flags);
}
