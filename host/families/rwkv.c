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
#include "core/ll_util.h"
#include "families/ssm_common.h"
#include "model/model.h"

typedef struct {
    ll_weight ln1_w, ln1_b, ln2_w, ln2_b;
    ll_weight time_decay, time_first, amix_k, amix_v, amix_r; /* attention */
    ll_weight att_k, att_v, att_r, att_o;
    ll_weight fmix_k, fmix_r, ffn_k, ffn_r, ffn_v;            /* feed_forward */
} rwkv_layer;

typedef struct {
    ll_ssm_common common;
    int A;             /* attention_hidden_size (null → C) */
    int rescale_every; /* 6 by default; 0 = never */
    ll_weight pre_w, pre_b, head;
    rwkv_layer layers[];
} rwkv_data;

enum { R_EMB, R_PRE_W, R_PRE_B, R_OUT_W, R_OUT_B, R_HEAD, R_LN1_W, R_LN1_B, R_LN2_W, R_LN2_B, R_DECAY, R_FIRST,
       R_AMIX_K, R_AMIX_V, R_AMIX_R, R_ATT_K, R_ATT_V, R_ATT_R, R_ATT_O, R_FMIX_K, R_FMIX_R, R_FFN_K, R_FFN_R, R_FFN_V,
       N_ROLES };
/* No GGUF names: llama.cpp has no RWKV-4 architecture (only rwkv6/rwkv7). */
static const ll_tensor_role roles[N_ROLES] = {
    [R_EMB] = {"token_embd", "embeddings.weight"},
    [R_PRE_W] = {"token_embd_norm", "blocks.0.pre_ln.weight"},
    [R_PRE_B] = {"token_embd_norm_b", "blocks.0.pre_ln.bias"},
    [R_OUT_W] = {"output_norm", "ln_out.weight"},
    [R_OUT_B] = {"output_norm_b", "ln_out.bias"},
    [R_HEAD] = {"output", "head.weight", NULL, 1},
    [R_LN1_W] = {"attn_norm", "blocks.%d.ln1.weight"},
    [R_LN1_B] = {"attn_norm_b", "blocks.%d.ln1.bias"},
    [R_LN2_W] = {"ffn_norm", "blocks.%d.ln2.weight"},
    [R_LN2_B] = {"ffn_norm_b", "blocks.%d.ln2.bias"},
    [R_DECAY] = {"time_mix_decay", "blocks.%d.attention.time_decay"},
    [R_FIRST] = {"time_mix_first", "blocks.%d.attention.time_first"},
    [R_AMIX_K] = {"time_mix_lerp_k", "blocks.%d.attention.time_mix_key"},
    [R_AMIX_V] = {"time_mix_lerp_v", "blocks.%d.attention.time_mix_value"},
    [R_AMIX_R] = {"time_mix_lerp_r", "blocks.%d.attention.time_mix_receptance"},
    [R_ATT_K] = {"time_mix_key", "blocks.%d.attention.key.weight"},
    [R_ATT_V] = {"time_mix_value", "blocks.%d.attention.value.weight"},
    [R_ATT_R] = {"time_mix_receptance", "blocks.%d.attention.receptance.weight"},
    [R_ATT_O] = {"time_mix_output", "blocks.%d.attention.output.weight"},
    [R_FMIX_K] = {"channel_mix_lerp_k", "blocks.%d.feed_forward.time_mix_key"},
    [R_FMIX_R] = {"channel_mix_lerp_r", "blocks.%d.feed_forward.time_mix_receptance"},
    [R_FFN_K] = {"channel_mix_key", "blocks.%d.feed_forward.key.weight"},
    [R_FFN_R] = {"channel_mix_receptance", "blocks.%d.feed_forward.receptance.weight"},
    [R_FFN_V] = {"channel_mix_value", "blocks.%d.feed_forward.value.weight"},
};

static int parse_rwkv(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    c->d_model = ll_cfg_size(r, "hidden_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_layer = ll_cfg_size(r, "num_hidden_layers", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_LAYERS);
    const int A = ll_cfg_size(r, "attention_hidden_size", NULL, c->d_model, 1, LL_CFG_MAX_DIM);
    c->d_ff = ll_cfg_size(r, "intermediate_size", NULL, 4 * c->d_model, 1, LL_CFG_MAX_DIM); /* C <= 2^24 */
    c->vocab = ll_cfg_size(r, "vocab_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_VOCAB);
    c->max_pos = ll_cfg_size(r, "context_length", NULL, 0, 0, INT32_MAX);
    c->norm = LL_NORM_LAYERNORM;
    c->norm_eps = ll_cfg_num(r, NULL, "layer_norm_epsilon", 1e-5);
    const int R = ll_cfg_size(r, "rescale_every", NULL, 6, 0, INT32_MAX);
    c->tie_embeddings = ll_cfg_bool(r, "tie_word_embeddings", 0);
    if (ll_cfg_ok(r)) return -1;
    rwkv_data *d = ll_xcalloc(1, sizeof *d + (size_t)c->n_layer * sizeof(rwkv_layer));
    d->A = A;
    d->rescale_every = R;
    m->family_data = d;
    return 0;
}

static int bind_rwkv(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    rwkv_data *d = m->family_data;
    const int64_t C = c->d_model, A = d->A, F = c->d_ff, V = c->vocab;
    if (ll_bind(ld, &m->embed, &roles[R_EMB], -1, SHAPE2(V, C), 0) ||
        ll_bind(ld, &d->pre_w, &roles[R_PRE_W], -1, SHAPE1(C), 0) ||
        ll_bind(ld, &d->pre_b, &roles[R_PRE_B], -1, SHAPE1(C), 0) ||
        ll_bind(ld, &m->norm_w, &roles[R_OUT_W], -1, SHAPE1(C), 0) ||
        ll_bind(ld, &m->norm_b, &roles[R_OUT_B], -1, SHAPE1(C), 0) ||
        ll_bind(ld, &d->head, &roles[R_HEAD], -1, SHAPE2(V, C), LL_LOAD_OPTIONAL))
        return -1;
    for (int l = 0; l < c->n_layer; l++) {
        rwkv_layer *y = &d->layers[l];
#define W(dst, role, ...) ll_bind(ld, &y->dst, &roles[role], l, __VA_ARGS__)
        if (W(ln1_w, R_LN1_W, SHAPE1(C), 0) || W(ln1_b, R_LN1_B, SHAPE1(C), 0) ||
            W(ln2_w, R_LN2_W, SHAPE1(C), 0) || W(ln2_b, R_LN2_B, SHAPE1(C), 0) ||
            W(time_decay, R_DECAY, SHAPE1(A), 0) || W(time_first, R_FIRST, SHAPE1(A), 0) ||
            W(amix_k, R_AMIX_K, SHAPE3(1, 1, C), LL_LOAD_F32) || W(amix_v, R_AMIX_V, SHAPE3(1, 1, C), LL_LOAD_F32) ||
            W(amix_r, R_AMIX_R, SHAPE3(1, 1, C), LL_LOAD_F32) || W(att_k, R_ATT_K, SHAPE2(A, C), 0) ||
            W(att_v, R_ATT_V, SHAPE2(A, C), 0) || W(att_r, R_ATT_R, SHAPE2(A, C), 0) ||
            W(att_o, R_ATT_O, SHAPE2(C, A), 0) || W(fmix_k, R_FMIX_K, SHAPE3(1, 1, C), LL_LOAD_F32) ||
            W(fmix_r, R_FMIX_R, SHAPE3(1, 1, C), LL_LOAD_F32) || W(ffn_k, R_FFN_K, SHAPE2(F, C), 0) ||
            W(ffn_r, R_FFN_R, SHAPE2(C, C), 0) || W(ffn_v, R_FFN_V, SHAPE2(C, F), 0))
            return -1;
#undef W
    }
    return 0;
}

/* State layout per layer l (floats): att_x [B, C], ffn_x [B, C], wkv [3, B, A]. */
static size_t layer_state(const ll_model *m, int B) {
    const rwkv_data *d = m->family_data;
    return (size_t)B * (2 * (size_t)m->cfg.d_model + 3 * (size_t)d->A);
}
static size_t state_floats(const ll_model *m, int B) { return (size_t)m->cfg.n_layer * layer_state(m, B); }
static void state_init(const ll_model *m, int B, float *host) {
    const rwkv_data *d = m->family_data;
    const size_t C = m->cfg.d_model, A = d->A, per = layer_state(m, B);
    for (int l = 0; l < m->cfg.n_layer; l++) {
        float *s = host + l * per;
        memset(s, 0, per * sizeof(float));
        float *pp = s + 2 * B * C + 2 * B * A;
        for (size_t i = 0; i < (size_t)B * A; i++) pp[i] = -1e38f;
    }
}

#define NEED LL_NEED

static int forward_rwkv(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B,
                        int T, ll_capture *cap, float *st, float *logits) {
    NEED(rwkv_shift_mix); NEED(wkv4); NEED(sigmoid); NEED(relu_sq); NEED(layernorm); NEED(linear);
    NEED(embedding); NEED(mul); NEED(add); NEED(scale); NEED(copy2d);
    const ll_model_config *c = &m->cfg;
    rwkv_data *d = m->family_data;
    const int L = c->n_layer, R = d->rescale_every;
    const int64_t C = c->d_model, A = d->A, F = c->d_ff, V = c->vocab, N = (int64_t)B * T;
    const float eps = (float)c->norm_eps;
    const float eps_out = 1e-5f; /* HF builds ln_out as nn.LayerNorm(hidden_size): default eps, not the config's */
    const ll_weight *head = d->head.data ? &d->head : (c->tie_embeddings ? &m->embed : NULL);
    if (logits && !head) { ll_set_error("%s: no head.weight for logits", m->dir); return -1; }
    const int64_t KW = F > A ? F : A, RW = C > A ? C : A;
    /* workspace (floats): h, x, mk, mv, mr [N,C]; k [N,KW]; v, w [N,A]; r [N,RW]; o [N,C]; logits [N,V]; ids */
    size_t off = 0;
    LL_CARVE(off, h, N * C); LL_CARVE(off, x, N * C); LL_CARVE(off, mk, N * C); LL_CARVE(off, mv, N * C);
    LL_CARVE(off, mr, N * C); LL_CARVE(off, k, N * KW); LL_CARVE(off, v, N * A); LL_CARVE(off, w, N * A);
    LL_CARVE(off, r, N * RW); LL_CARVE(off, o, N * C); LL_CARVE(off, lg, logits ? N * V : 0); LL_CARVE(off, ids, N);
    char *ws = ll_model_workspace(m, ops, ctx, off);
    if (!ws) return -1;
    float *h = (float *)(ws + o_h), *x = (float *)(ws + o_x), *mk = (float *)(ws + o_mk), *mv = (float *)(ws + o_mv),
          *mr = (float *)(ws + o_mr), *k = (float *)(ws + o_k), *v = (float *)(ws + o_v), *w = (float *)(ws + o_w),
          *r = (float *)(ws + o_r), *o = (float *)(ws + o_o), *lg = (float *)(ws + o_lg);
    int32_t *d_ids = (int32_t *)(ws + o_ids);
    const size_t NC = (size_t)N * C, NA = (size_t)N * A, NF = (size_t)N * F;

    ll_model_upload_ids(ops, ctx, d_ids, tokens, lens, B, T);
    const int from_prev = ll_model_stage_begin(m, ops, ctx, h, (size_t)N * (size_t)C);
    if (from_prev < 0) return -1;
    if (!from_prev) {
        ops->embedding(ctx, h, &m->embed, d_ids, (int)N, 0);
        if (ll_ssm_emit_embeddings(m, ops, ctx, cap, h, tokens, lens, B, T)) return -1;
    }

    for (int l = m->stage_first; l < m->stage_end; l++) {
        const rwkv_layer *y = &d->layers[l];
        float *s_att = st ? st + (size_t)l * layer_state(m, B) : NULL;
        float *s_ffn = st ? s_att + (size_t)B * C : NULL;
        float *s_wkv = st ? s_att + 2 * (size_t)B * C : NULL;
        const float out_scale = R > 0 ? ldexpf(1.0f, -(l / R)) : 1.0f;
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

        if (R > 0 && (l + 1) % R == 0) ops->scale(ctx, h, h, 0.5f, NC);
        if (ll_ssm_emit_block(m, ops, ctx, cap, l, h, tokens, lens, B, T)) return -1;
        LL_STAGE_AFTER(l, h, (size_t)N * (size_t)C);
    }
    ops->layernorm(ctx, x, h, m->norm_w.data, m->norm_b.data, (int)N, (int)C, eps_out);
    if (ll_model_emit(m, ops, ctx, cap, L, x, tokens, lens, B, T)) return -1;
    if (logits && ll_ssm_logits(m, ops, ctx, head, x, (int)N, lg, logits)) return -1;
    return ops->sync ? ops->sync(ctx) : 0;
}

/* Cost (family.h): per block the r/k/v/o and feed-forward k/v/r products
 * (2 flops per multiply-add) and the WKV recurrence as 4 A (two state
 * multiply-adds per channel: numerator and denominator); entry mapping of
 * ssm_common.h, ln_out folded into the last entry. */
static int cost_rwkv(const ll_model *m, int T, ll_cost *pe) {
    const ll_model_config *c = &m->cfg;
    const rwkv_data *d = m->family_data;
    const double C = c->d_model, A = d->A, F = c->d_ff;
    const int L = c->n_layer;
    pe[0].weight_bytes += ll_weight_bytes(&m->embed) + ll_weight_bytes(&d->pre_w) + ll_weight_bytes(&d->pre_b);
    pe[0].act_bytes += 4 * C;
    for (int l = 0; l < L; l++) {
        const rwkv_layer *y = &d->layers[l];
        ll_cost *e = &pe[ll_ssm_cost_entry(m, l)];
        e->flops += 2 * (3 * C * A + A * C + C * F + F * C + C * C) + 4 * A;
        const ll_weight *ws[] = {&y->ln1_w, &y->ln1_b, &y->ln2_w, &y->ln2_b, &y->time_decay, &y->time_first,
                                 &y->amix_k, &y->amix_v, &y->amix_r, &y->att_k, &y->att_v, &y->att_r, &y->att_o,
                                 &y->fmix_k, &y->fmix_r, &y->ffn_k, &y->ffn_r, &y->ffn_v};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) e->weight_bytes += ll_weight_bytes(ws[i]);
        e->act_bytes += 4 * (4 * A + F + 3 * C); /* k, v, r, wkv; ffn k; o, ffn v, ffn r */
    }
    pe[L].weight_bytes += ll_weight_bytes(&m->norm_w) + ll_weight_bytes(&m->norm_b);
    pe[L].act_bytes += 4 * C;
    return 0;
}

static void describe_rwkv(const ll_model *m, cJSON *j) {
    const rwkv_data *d = m->family_data;
    cJSON_AddNumberToObject(j, "attention_hidden_size", d->A);
    cJSON_AddNumberToObject(j, "intermediate_size", m->cfg.d_ff);
    cJSON_AddNumberToObject(j, "rescale_every", d->rescale_every);
}

static const ll_family_state rwkv_state = {state_floats, state_init};

const ll_family ll_family_rwkv = {
    .model_type = "rwkv",
    .layer_split = 1,
    .entry_of_layer = ll_ssm_cost_entry,
    .roles = roles,
    .n_roles = N_ROLES,
    .hf_prefix = "rwkv.",
    .parse_config = parse_rwkv,
    .bind = bind_rwkv,
    .forward = forward_rwkv,
    .state = &rwkv_state,
    .describe = describe_rwkv,
    .cost = cost_rwkv,
    .set_embedding_entry = ll_ssm_family_set_embed_entry,
};
