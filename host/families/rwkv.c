/* RWKV-4 (HF RwkvModel, eval mode) against the op table.
 *
 * Dimension letters: B batch rows, T padded length, N = B·T rows, C hidden
 * size, A attention_hidden_size, F intermediate_size, V vocab, L layers.
 *
 * Block l (HF RwkvBlock): [l == 0: h = pre_ln(h)];
 *   x = ln1(h); k, v, r from token-shift mixes of x; h += W_o(σ(r) ⊙ wkv(k, v)) / 2^(l/R);
 *   x = ln2(h); h += σ(W_r(..)) ⊙ (W_v relu(W_k(..))²) / 2^(l/R);
 *   if R > 0 and (l+1) % R == 0: h /= 2                 (R = rescale_every)
 * Dividing W_o and W_v by 2^(l/R) (HF _rescale_layers) is applied as an exact
 * power-of-two scale of their outputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "families/ssm_common.h"
#include "core/ll_util.h"
#include "model/model.h"

typedef struct {
    ll_weight ln1_w, ln1_b, ln2_w, ln2_b;
    ll_weight time_decay, time_first, amix_k, amix_v, amix_r; /* attention */
    ll_weight att_k, att_v, att_r, att_o;
    ll_weight fmix_k, fmix_r, ffn_k, ffn_r, ffn_v;            /* feed_forward */
} rwkv_layer;

typedef struct {
    ll_ssm_common common;
    ll_weight pre_w, pre_b, head;
    rwkv_layer layers[];
} rwkv_data;

static int want(ll_loader *ld, ll_weight *w, const char *pre, int layer, const char *name, int ndim,
                const int64_t *s, int flags) {
    return ll_ssm_want(ld, w, pre, "blocks", layer, name, ndim, s, flags);
}

static int bind_rwkv(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    const int64_t C = c->d_model, A = c->attention_hidden_size, F = c->d_ff, V = c->vocab;
    const int L = c->n_layer;
    const char *pre = ll_loader_has(ld, "rwkv.embeddings.weight") ? "rwkv." : "";
    rwkv_data *d = ll_xcalloc(1, sizeof *d + (size_t)L * sizeof(rwkv_layer));
    m->family_data = d;
    if (want(ld, &m->embed, pre, -1, "embeddings.weight", SHAPE2(V, C), 0) ||
        want(ld, &d->pre_w, pre, 0, "pre_ln.weight", SHAPE1(C), 0) ||
        want(ld, &d->pre_b, pre, 0, "pre_ln.bias", SHAPE1(C), 0) ||
        want(ld, &m->norm_w, pre, -1, "ln_out.weight", SHAPE1(C), 0) ||
        want(ld, &m->norm_b, pre, -1, "ln_out.bias", SHAPE1(C), 0) ||
        ll_loader_want(ld, &d->head, "head.weight", SHAPE2(V, C), LL_LOAD_OPTIONAL))
        return -1;
    for (int l = 0; l < L; l++) {
        rwkv_layer *y = &d->layers[l];
        if (want(ld, &y->ln1_w, pre, l, "ln1.weight", SHAPE1(C), 0) ||
            want(ld, &y->ln1_b, pre, l, "ln1.bias", SHAPE1(C), 0) ||
            want(ld, &y->ln2_w, pre, l, "ln2.weight", SHAPE1(C), 0) ||
            want(ld, &y->ln2_b, pre, l, "ln2.bias", SHAPE1(C), 0) ||
            want(ld, &y->time_decay, pre, l, "attention.time_decay", SHAPE1(A), 0) ||
            want(ld, &y->time_first, pre, l, "attention.time_first", SHAPE1(A), 0) ||
            want(ld, &y->amix_k, pre, l, "attention.time_mix_key", SHAPE3(1, 1, C), LL_LOAD_F32) ||
            want(ld, &y->amix_v, pre, l, "attention.time_mix_value", SHAPE3(1, 1, C), LL_LOAD_F32) ||
            want(ld, &y->amix_r, pre, l, "attention.time_mix_receptance", SHAPE3(1, 1, C), LL_LOAD_F32) ||
            want(ld, &y->att_k, pre, l, "attention.key.weight", SHAPE2(A, C), 0) ||
            want(ld, &y->att_v, pre, l, "attention.value.weight", SHAPE2(A, C), 0) ||
            want(ld, &y->att_r, pre, l, "attention.receptance.weight", SHAPE2(A, C), 0) ||
            want(ld, &y->att_o, pre, l, "attention.output.weight", SHAPE2(C, A), 0) ||
            want(ld, &y->fmix_k, pre, l, "feed_forward.time_mix_key", SHAPE3(1, 1, C), LL_LOAD_F32) ||
            want(ld, &y->fmix_r, pre, l, "feed_forward.time_mix_receptance", SHAPE3(1, 1, C), LL_LOAD_F32) ||
            want(ld, &y->ffn_k, pre, l, "feed_forward.key.weight", SHAPE2(F, C), 0) ||
            want(ld, &y->ffn_r, pre, l, "feed_forward.receptance.weight", SHAPE2(C, C), 0) ||
            want(ld, &y->ffn_v, pre, l, "feed_forward.value.weight", SHAPE2(C, F), 0))
            return -1;
    }
    return 0;
}

/* State layout per layer l (floats): att_x [B, C], ffn_x [B, C], wkv [3, B, A]. */
static size_t layer_state(const ll_model *m, int B) {
    return (size_t)B * (2 * (size_t)m->cfg.d_model + 3 * (size_t)m->cfg.attention_hidden_size);
}
size_t ll_rwkv_state_floats(const ll_model *m, int B) { return (size_t)m->cfg.n_layer * layer_state(m, B); }
void ll_rwkv_state_init(const ll_model *m, int B, float *host) {
    const size_t C = m->cfg.d_model, A = m->cfg.attention_hidden_size, per = layer_state(m, B);
    for (int l = 0; l < m->cfg.n_layer; l++) {
        float *s = host + l * per;
        memset(s, 0, per * sizeof(float));
        float *pp = s + 2 * B * C + 2 * B * A;
        for (size_t i = 0; i < (size_t)B * A; i++) pp[i] = -1e38f;
    }
}

#define NEED(op)                                                                                      \
    do {                                                                                              \
        if (!ops->op) {                                                                               \
            ll_set_error("%s: backend '%s' has no '%s' op (needed by rwkv)", m->dir, ops->name, #op); \
            return -1;                                                                                \
        }                                                                                             \
    } while (0)

int ll_rwkv_run(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                ll_capture *cap, ll_ssm_state *st, float *logits) {
    NEED(rwkv_shift_mix); NEED(wkv4); NEED(sigmoid); NEED(relu_sq); NEED(layernorm); NEED(linear);
    NEED(embedding); NEED(mul); NEED(add); NEED(scale); NEED(copy2d);
    const ll_model_config *c = &m->cfg;
    rwkv_data *d = m->family_data;
    const int L = c->n_layer, emb_entry = d->common.embed_entry;
    const int64_t C = c->d_model, A = c->attention_hidden_size, F = c->d_ff, V = c->vocab, N = (int64_t)B * T;
    const float eps = (float)c->norm_eps;
    const ll_weight *head = d->head.data ? &d->head : (c->tie_embeddings ? &m->embed : NULL);
    if (logits && !head) { ll_set_error("%s: no head.weight for logits", m->dir); return -1; }
    const int64_t KW = F > A ? F : A, RW = C > A ? C : A;
    /* workspace (floats): h, x, mk, mv, mr [N,C]; k [N,KW]; v, w [N,A]; r [N,RW]; o [N,C]; logits [N,V]; ids */
    size_t off = 0;
#define CARVE(name, cnt) size_t o_##name = off; off += (((size_t)(cnt) * sizeof(float)) + 255) & ~(size_t)255
    CARVE(h, N * C); CARVE(x, N * C); CARVE(mk, N * C); CARVE(mv, N * C); CARVE(mr, N * C);
    CARVE(k, N * KW); CARVE(v, N * A); CARVE(w, N * A); CARVE(r, N * RW); CARVE(o, N * C);
    CARVE(lg, logits ? N * V : 0); CARVE(ids, N);
#undef CARVE
    char *ws = ll_model_workspace(m, ops, ctx, off);
    if (!ws) return -1;
    float *h = (float *)(ws + o_h), *x = (float *)(ws + o_x), *mk = (float *)(ws + o_mk), *mv = (float *)(ws + o_mv),
          *mr = (float *)(ws + o_mr), *k = (float *)(ws + o_k), *v = (float *)(ws + o_v), *w = (float *)(ws + o_w),
          *r = (float *)(ws + o_r), *o = (float *)(ws + o_o), *lg = (float *)(ws + o_lg);
    int32_t *d_ids = (int32_t *)(ws + o_ids);
    const size_t NC = (size_t)N * C, NA = (size_t)N * A, NF = (size_t)N * F;

    ll_ssm_upload_ids(ops, ctx, d_ids, tokens, lens, B, T);
    ops->embedding(ctx, h, &m->embed, d_ids, (int)N, 0);
    if (emb_entry && ll_model_emit(m, ops, ctx, cap, 0, h, tokens, lens, B, T)) return -1;

    for (int l = 0; l < L; l++) {
        const rwkv_layer *y = &d->layers[l];
        float *s_att = st ? st->buf + (size_t)l * layer_state(m, B) : NULL;
        float *s_ffn = st ? s_att + (size_t)B * C : NULL;
        float *s_wkv = st ? s_att + 2 * (size_t)B * C : NULL;
        const float out_scale = c->rescale_every > 0 ? ldexpf(1.0f, -(l / c->rescale_every)) : 1.0f;
        if (l == 0) ops->layernorm(ctx, h, h, d->pre_w.data, d->pre_b.data, (int)N, (int)C, eps);

        /* time mix */
        ops->layernorm(ctx, x, h, y->ln1_w.data, y->ln1_b.data, (int)N, (int)C, eps);
        ops->rwkv_shift_mix(ctx, mk, mv, mr, x, s_att, y->amix_k.data, y->amix_v.data, y->amix_r.data, B, T, (int)C);
        if (st) ops->copy2d(ctx, s_att, C, x + (size_t)(T - 1) * C, (int64_t)T * C, B, (int)C);
        ops->linear(ctx, k, mk, &y->att_k, NULL, (int)N);
        ops->linear(ctx, v, mv, &y->att_v, NULL, (int)N);
        ops->linear(ctx, r, mr, &y->att_r, NULL, (int)N);
        ops->sigmoid(ctx, r, r, NA);
        ops->wkv4(ctx, w, k, v, y->time_decay.data, y->time_first.data, s_wkv, B, T, (int)A);
        ops->mul(ctx, w, r, w, NA);
        ops->linear(ctx, o, w, &y->att_o, NULL, (int)N);
        if (out_scale != 1.0f) ops->scale(ctx, o, o, out_scale, NC);
        ops->add(ctx, h, h, o, NC);

        /* channel mix */
        ops->layernorm(ctx, x, h, y->ln2_w.data, y->ln2_b.data, (int)N, (int)C, eps);
        ops->rwkv_shift_mix(ctx, mk, NULL, mr, x, s_ffn, y->fmix_k.data, NULL, y->fmix_r.data, B, T, (int)C);
        if (st) ops->copy2d(ctx, s_ffn, C, x + (size_t)(T - 1) * C, (int64_t)T * C, B, (int)C);
        ops->linear(ctx, k, mk, &y->ffn_k, NULL, (int)N);
        ops->relu_sq(ctx, k, k, NF);
        ops->linear(ctx, o, k, &y->ffn_v, NULL, (int)N);
        if (out_scale != 1.0f) ops->scale(ctx, o, o, out_scale, NC);
        ops->linear(ctx, r, mr, &y->ffn_r, NULL, (int)N);
        ops->sigmoid(ctx, r, r, NC);
        ops->mul(ctx, o, r, o, NC);
        ops->add(ctx, h, h, o, NC);

        if (c->rescale_every > 0 && (l + 1) % c->rescale_every == 0) ops->scale(ctx, h, h, 0.5f, NC);
        if (!emb_entry) {
            if (ll_model_emit(m, ops, ctx, cap, l, h, tokens, lens, B, T)) return -1;
        } else if (l + 1 < L) {
            if (ll_model_emit(m, ops, ctx, cap, l + 1, h, tokens, lens, B, T)) return -1;
        }
    }
    ops->layernorm(ctx, x, h, m->norm_w.data, m->norm_b.data, (int)N, (int)C, eps);
    if (ll_model_emit(m, ops, ctx, cap, L, x, tokens, lens, B, T)) return -1;
    if (logits && ll_ssm_logits(m, ops, ctx, head, x, (int)N, lg, logits)) return -1;
    return ops->sync ? ops->sync(ctx) : 0;
}

static int forward_rwkv(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B,
                        int T, ll_capture *cap) {
    return ll_rwkv_run(m, ops, ctx, tokens, lens, B, T, cap, NULL, NULL);
}

const ll_family ll_family_rwkv = {LL_ARCH_RWKV, "rwkv", bind_rwkv, NULL, forward_rwkv};
