/* Post-LN transformer blocks (see postln.h). */
#include "families/postln.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"

#define NEED LL_NEED

static void act_inplace(const ll_ops *ops, void *ctx, ll_act a, float *x, size_t n) {
    if (a == LL_ACT_GELU_TANH) ops->gelu_tanh(ctx, x, x, n);
    else if (a == LL_ACT_GELU_ERF) ops->gelu_erf(ctx, x, x, n);
    else ops->silu(ctx, x, x, n);
}

int ll_postln_forward(ll_model *m, const ll_postln_spec *spec, const ll_weight *type_emb, const ll_ops *ops, void *ctx,
                      const int32_t *tokens, const int *lens, int B, int T, ll_capture *cap, float *state,
                      float *logits) {
    const ll_model_config *c = &m->cfg;
    if (state || logits) {
        ll_set_error("%s: %s models have no recurrent state or LM head here", m->dir, c->model_type);
        return -1;
    }
    NEED(linear); NEED(embedding); NEED(add); NEED(attention); NEED(alloc); NEED(upload); NEED(layernorm);
    if (c->act == LL_ACT_GELU_TANH) NEED(gelu_tanh);
    else if (c->act == LL_ACT_GELU_ERF) NEED(gelu_erf);
    else if (c->act == LL_ACT_SILU) NEED(silu);
    else { ll_set_error("%s: activation relu is not supported", m->dir); return -1; }
    if (spec->qkv == LL_TF_QKV_SEPARATE) NEED(copy2d);
    if (c->max_pos > 0) {
        for (int b = 0; b < B; b++)
            if (spec->pos_offset + lens[b] > c->max_pos) {
                ll_set_error("%s: a sequence of %d tokens exceeds the %d positions of %s (offset %d)", m->dir, lens[b],
                             c->max_pos, c->model_type, spec->pos_offset);
                return -1;
            }
    }
    const int64_t N = (int64_t)B * T, C = c->d_model, F = c->d_ff, H = c->n_head, D = c->head_dim;
    const int64_t Q = H * D;
    const int64_t QKVW = spec->qkv == LL_TF_QKV_SEPARATE ? 3 * Q : 3 * C;
    size_t off = 0;
    LL_CARVE(off, x, N * C);
    LL_CARVE(off, qkv, N * QKVW);
    LL_CARVE(off, att, N * (Q > C ? Q : C));
    LL_CARVE(off, mlp, N * F);
    LL_CARVE(off, tmp, N * C);
    LL_CARVE(off, ids, N);
    LL_CARVE(off, pos, N);
    LL_CARVE(off, zid, N);
    LL_CARVE(off, lens, B);
    char *ws = ll_model_workspace(m, ops, ctx, off);
    if (!ws) return -1;
    float *x = (float *)(ws + o_x), *qkv = (float *)(ws + o_qkv), *att = (float *)(ws + o_att),
          *mlp = (float *)(ws + o_mlp), *tmp = (float *)(ws + o_tmp);
    int32_t *d_ids = (int32_t *)(ws + o_ids), *d_pos = (int32_t *)(ws + o_pos), *d_zid = (int32_t *)(ws + o_zid);
    int *d_lens = (int *)(ws + o_lens);

    ll_model_upload_ids(ops, ctx, d_ids, tokens, lens, B, T);
    int32_t *hpos = ll_xcalloc((size_t)N, sizeof(int32_t));
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) hpos[(int64_t)b * T + t] = t < lens[b] ? spec->pos_offset + t : spec->pos_offset;
    ops->upload(ctx, d_pos, hpos, sizeof(int32_t) * N);
    memset(hpos, 0, sizeof(int32_t) * N);
    ops->upload(ctx, d_zid, hpos, sizeof(int32_t) * N);
    ops->upload(ctx, d_lens, lens, sizeof(int) * B);
    free(hpos);

    /* entry 0: (tokens + type row 0) + positions [, LayerNorm] — HF's order of the sums */
    const int from_prev = ll_model_stage_begin(m, ops, ctx, x, (size_t)(N * C));
    if (from_prev < 0) return -1;
    if (!from_prev) {
        ops->embedding(ctx, x, &m->embed, d_ids, (int)N, 0);
        if (type_emb && type_emb->data) ops->embedding(ctx, x, type_emb, d_zid, (int)N, 1);
        ops->embedding(ctx, x, &m->pos_embed, d_pos, (int)N, 1);
        if (spec->embed_ln)
            ops->layernorm(ctx, x, x, m->norm_w.data, m->norm_b.data, (int)N, (int)C, (float)c->norm_eps);
        if (ll_model_emit(m, ops, ctx, cap, 0, x, tokens, lens, B, T)) return -1;
    }

    ll_attn_params ap;
    memset(&ap, 0, sizeof ap);
    ap.out = att;
    ap.o_rs = Q;
    ap.B = B; ap.T = T; ap.H = (int)H; ap.KVH = (int)H; ap.hd = (int)D;
    ap.lens = d_lens;
    ap.bidirectional = spec->bidirectional;
    ap.scale = (float)(1.0 / sqrt((double)D));
    if (spec->qkv == LL_TF_QKV_SEPARATE) {
        ap.q = qkv; ap.k = qkv + Q; ap.v = qkv + 2 * Q;
        ap.q_rs = ap.k_rs = ap.v_rs = QKVW;
        ap.q_hs = ap.k_hs = ap.v_hs = D;
    } else {
        ap.q = qkv; ap.k = qkv + C; ap.v = qkv + 2 * C;
        ap.q_rs = ap.k_rs = ap.v_rs = 3 * C;
        ap.q_hs = ap.k_hs = ap.v_hs = D;
    }
    const float eps = (float)c->norm_eps;
    for (int l = m->stage_first; l < m->stage_end; l++) {
        const ll_tf_layer *y = &m->layers[l];
        if (y->qkv.data) {
            ops->linear(ctx, qkv, x, &y->qkv, y->qkv_b.data, (int)N);
        } else {
            ops->linear(ctx, att, x, &y->q, y->q_b.data, (int)N);
            ops->copy2d(ctx, qkv, QKVW, att, Q, (int)N, (int)Q);
            ops->linear(ctx, att, x, &y->k, y->k_b.data, (int)N);
            ops->copy2d(ctx, qkv + Q, QKVW, att, Q, (int)N, (int)Q);
            ops->linear(ctx, att, x, &y->v, y->v_b.data, (int)N);
            ops->copy2d(ctx, qkv + 2 * Q, QKVW, att, Q, (int)N, (int)Q);
        }
        ops->attention(ctx, &ap);
        ops->linear(ctx, tmp, att, &y->o, y->o_b.data, (int)N);
        ops->add(ctx, tmp, x, tmp, (size_t)(N * C));
        ops->layernorm(ctx, x, tmp, y->ln1_w.data, y->ln1_b.data, (int)N, (int)C, eps);
        ops->linear(ctx, mlp, x, &y->up, y->up_b.data, (int)N);
        act_inplace(ops, ctx, c->act, mlp, (size_t)(N * F));
        ops->linear(ctx, tmp, mlp, &y->down, y->down_b.data, (int)N);
        ops->add(ctx, tmp, x, tmp, (size_t)(N * C));
        ops->layernorm(ctx, x, tmp, y->ln2_w.data, y->ln2_b.data, (int)N, (int)C, eps);
        if (ll_model_emit(m, ops, ctx, cap, l + 1, x, tokens, lens, B, T)) return -1;
        LL_STAGE_AFTER(l, x, (size_t)(N * C));
    }
    return ops->sync ? ops->sync(ctx) : 0;
}

int ll_postln_cost(const ll_model *m, const ll_postln_spec *spec, int T, ll_cost *pe) {
    const ll_model_config *c = &m->cfg;
    const double C = c->d_model, F = c->d_ff, Q = (double)c->n_head * c->head_dim;
    const double keys = spec->bidirectional ? T : ll_tf_mean_keys(T, 0);
    pe[0].flops = 0;
    pe[0].weight_bytes = ll_weight_bytes(&m->embed) + ll_weight_bytes(&m->pos_embed) + ll_weight_bytes(&m->norm_w) +
                         ll_weight_bytes(&m->norm_b);
    pe[0].act_bytes = 4 * C;
    for (int l = 0; l < c->n_layer; l++) {
        const ll_tf_layer *y = &m->layers[l];
        ll_cost *e = &pe[l + 1];
        e->flops = 2 * C * 3 * Q + 4 * Q * keys + 2 * Q * C + 4 * C * F;
        const ll_weight *ws[] = {&y->ln1_w, &y->ln1_b, &y->ln2_w, &y->ln2_b, &y->o, &y->o_b, &y->up, &y->up_b,
                                 &y->down, &y->down_b};
        double wb = 0;
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) wb += ll_weight_bytes(ws[i]);
        if (y->q.data)
            wb += ll_weight_bytes(&y->q) + ll_weight_bytes(&y->k) + ll_weight_bytes(&y->v) + ll_weight_bytes(&y->q_b) +
                  ll_weight_bytes(&y->k_b) + ll_weight_bytes(&y->v_b);
        else
            wb += ll_weight_bytes(&y->qkv) + ll_weight_bytes(&y->qkv_b);
        e->weight_bytes = wb;
        e->act_bytes = 4 * (3 * Q + Q + 2 * C + F);
    }
    return 0;
}
