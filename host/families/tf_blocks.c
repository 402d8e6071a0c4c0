/* Shared transformer blocks (see tf_blocks.h). */
#include "families/tf_blocks.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"

/* ------------------------------------------------------------------ config */
int ll_tf_heads(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    if (ll_cfg_ok(r)) return -1;
    if (c->n_head <= 0 || c->n_kv_head <= 0 || c->n_head % c->n_kv_head)
        return ll_cfg_fail(r, "num_attention_heads %d not a multiple of num_key_value_heads %d", c->n_head,
                           c->n_kv_head);
    if (ll_cfg_has(r, "head_dim")) {
        c->head_dim = ll_cfg_size(r, "head_dim", NULL, 0, 1, LL_CFG_MAX_DIM);
        if (ll_cfg_ok(r)) return -1;
    } else {
        if (c->d_model % c->n_head)
            return ll_cfg_fail(r, "hidden_size %d not divisible by num_attention_heads %d", c->d_model, c->n_head);
        c->head_dim = c->d_model / c->n_head;
    }
    if ((int64_t)c->n_head * c->head_dim > LL_CFG_MAX_DIM)
        return ll_cfg_fail(r, "%d heads of %d dims exceed %d", c->n_head, c->head_dim, LL_CFG_MAX_DIM);
    return 0;
}

int ll_tf_rope(ll_model *m, ll_config *r, double def_partial, double def_theta) {
    ll_model_config *c = &m->cfg;
    ll_rope_cfg rc;
    if (ll_cfg_rope(r, c->head_dim, def_partial, def_theta, &rc)) return -1;
    c->rotary_dims = rc.rotary_dims;
    c->rope_theta = rc.theta;
    c->rope_scaling.type = rc.type;
    c->rope_scaling.factor = rc.factor;
    c->rope_scaling.low_freq_factor = rc.low_freq_factor;
    c->rope_scaling.high_freq_factor = rc.high_freq_factor;
    c->rope_scaling.original_max_pos = rc.original_max_pos;
    return 0;
}

/* ----------------------------------------------------------------- prepare */
int ll_tf_prepare_rope(ll_model *m) {
    const ll_model_config *c = &m->cfg;
    if (c->rotary_dims <= 0) return 0;
    const int dim = c->rotary_dims, half = dim / 2;
    float *f = (float *)m->inv_freq.data;
    const float base = (float)c->rope_theta;
    for (int i = 0; i < half; i++) {
        float e = (float)(2 * i) / (float)dim;
        float p = (float)pow((double)base, (double)e);
        f[i] = 1.0f / p;
    }
    if (c->rope_scaling.type == LL_ROPE_SCALING_LINEAR) {
        for (int i = 0; i < half; i++) f[i] = f[i] / (float)c->rope_scaling.factor;
    } else if (c->rope_scaling.type == LL_ROPE_SCALING_LLAMA3) {
        const float factor = (float)c->rope_scaling.factor, lo = (float)c->rope_scaling.low_freq_factor,
                    hi = (float)c->rope_scaling.high_freq_factor;
        const double old = c->rope_scaling.original_max_pos;
        const float low_wl = (float)(old / c->rope_scaling.low_freq_factor);
        const float high_wl = (float)(old / c->rope_scaling.high_freq_factor);
        for (int i = 0; i < half; i++) {
            float inv = f[i];
            float wl = (float)(2 * M_PI) / inv;
            float il = wl > low_wl ? inv / factor : inv;
            float smooth = ((float)old / wl - lo) / (hi - lo);
            float smoothed = (1.0f - smooth) * il / factor + smooth * il;
            int medium = !(wl < high_wl) && !(wl > low_wl);
            f[i] = medium ? smoothed : il;
        }
    }
    return 0;
}

void ll_tf_fuse_qkv(ll_model *m) {
    const ll_model_config *c = &m->cfg;
    const int64_t C = c->d_model, Q = (int64_t)c->n_head * c->head_dim, KV = (int64_t)c->n_kv_head * c->head_dim;
    for (int l = 0; l < c->n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        if (!ll_model_layer_loaded(m, l)) continue; /* another stage's layer */
        if (y->q.dtype != LL_DT_F32 || y->k.dtype != LL_DT_F32 || y->v.dtype != LL_DT_F32) continue;
        const float *q = y->q.data, *k = y->k.data, *v = y->v.data;
        if (k != q + Q * C || v != k + KV * C) continue;
        int have_b = y->q_b.data != NULL;
        if (have_b != (y->k_b.data != NULL) || have_b != (y->v_b.data != NULL)) continue;
        if (have_b) {
            const float *qb = y->q_b.data, *kb = y->k_b.data, *vb = y->v_b.data;
            if (kb != qb + Q || vb != kb + KV) continue;
            y->qkv_b = (ll_weight){qb, LL_DT_F32, Q + 2 * KV, 1};
            ll_model_add_slot(m, &y->qkv_b);
        }
        y->qkv = (ll_weight){q, LL_DT_F32, Q + 2 * KV, C};
        ll_model_add_slot(m, &y->qkv);
    }
}

/* ----------------------------------------------------------------- blocks */
#define NEED LL_NEED

static void act_inplace(const ll_ops *ops, void *ctx, ll_act a, float *x, size_t n) {
    switch (a) {
    case LL_ACT_GELU_TANH: ops->gelu_tanh(ctx, x, x, n); break;
    case LL_ACT_GELU_ERF: ops->gelu_erf(ctx, x, x, n); break;
    case LL_ACT_SILU: ops->silu(ctx, x, x, n); break;
    case LL_ACT_RELU: ops->relu(ctx, x, x, n); break; /* max(x, 0), not the squared ReLU */
    }
}

/* norm by kind (m->cfg.norm): out = norm(in) · w (+ b) */
static void tf_norm(const ll_ops *ops, void *ctx, const ll_model_config *c, float *out, const float *in,
                    const ll_weight *w, const ll_weight *b, int N) {
    if (c->norm == LL_NORM_RMSNORM)
        ops->rmsnorm(ctx, out, in, w->data, N, c->d_model, (float)c->norm_eps);
    else
        ops->layernorm(ctx, out, in, w->data, b ? b->data : NULL, N, c->d_model, (float)c->norm_eps);
}

/* The q/k/v views into the projection buffer, by layout. */
static void tf_qkv_views(const ll_tf_spec *spec, const ll_model_config *c, float *qkv, int64_t qkvw, ll_attn_params *ap) {
    const int64_t C = c->d_model, D = c->head_dim, Q = (int64_t)c->n_head * D, KV = (int64_t)c->n_kv_head * D;
    switch (spec->qkv) {
    case LL_TF_QKV_FUSED_BLOCKS:
    case LL_TF_QKV_FUSED_HEADS: {
        const int heads = spec->qkv == LL_TF_QKV_FUSED_HEADS;
        ap->q = qkv;
        ap->k = qkv + (heads ? D : C);
        ap->v = qkv + (heads ? 2 * D : 2 * C);
        ap->q_rs = ap->k_rs = ap->v_rs = 3 * C;
        ap->q_hs = ap->k_hs = ap->v_hs = heads ? 3 * D : D;
        break;
    }
    case LL_TF_QKV_SEPARATE:
        ap->q = qkv;
        ap->k = qkv + Q;
        ap->v = qkv + Q + KV;
        ap->q_rs = ap->k_rs = ap->v_rs = qkvw;
        ap->q_hs = ap->k_hs = ap->v_hs = D;
        break;
    }
}

/* Attention block: out = o(attn(rope(qkv(h)))) (h already normed); att is
 * scratch [N, max(Q, C)], qkv [N, qkvw]. */
/* RoPE on q or k (rp->x, rs, hs, n_heads set): one call over all rows, or
 * with an alternative table, one call per run of sequences that take the
 * same table (rows of sequence b are b·T .. b·T + T - 1). */
static void tf_rope(const ll_ops *ops, void *ctx, const ll_tf_spec *spec, ll_rope_params *rp, const int *lens, int B,
                    int T) {
    if (!spec->rope_alt) {
        ops->rope(ctx, rp);
        return;
    }
    const ll_rope_params all = *rp;
    for (int b = 0; b < B;) {
        const int alt = lens[b] > spec->rope_alt_after;
        int e = b + 1;
        while (e < B && (lens[e] > spec->rope_alt_after) == alt) e++;
        ll_rope_params p = all;
        p.x = all.x + (int64_t)b * T * all.rs;
        p.pos = all.pos + (int64_t)b * T;
        p.N = (e - b) * T;
        p.inv_freq = alt ? spec->rope_alt : all.inv_freq;
        ops->rope(ctx, &p);
        b = e;
    }
}

static void tf_attention(const ll_ops *ops, void *ctx, const ll_model_config *c, const ll_tf_spec *spec,
                         const ll_tf_layer *y, float *out, const float *h, float *qkv, int64_t qkvw, float *att,
                         ll_attn_params *ap, ll_rope_params *rp, int N, const int *lens) {
    const int64_t Q = (int64_t)c->n_head * c->head_dim, KV = (int64_t)c->n_kv_head * c->head_dim;
    if (y->qkv.data) {
        ops->linear(ctx, qkv, h, &y->qkv, y->qkv_b.data, N);
    } else {
        /* separate projections into the [N, Q | KV | KV] buffer */
        ops->linear(ctx, att, h, &y->q, y->q_b.data, N);
        ops->copy2d(ctx, qkv, qkvw, att, Q, N, (int)Q);
        ops->linear(ctx, att, h, &y->k, y->k_b.data, N);
        ops->copy2d(ctx, qkv + Q, qkvw, att, KV, N, (int)KV);
        ops->linear(ctx, att, h, &y->v, y->v_b.data, N);
        ops->copy2d(ctx, qkv + Q + KV, qkvw, att, KV, N, (int)KV);
    }
    if (y->q_norm.data) {
        /* per-head RMSNorm of q and k (qwen3): heads as rows of hd, through the contiguous att buffer */
        const int D = c->head_dim;
        /* RMSNorm (qwen3), or LayerNorm with bias for LayerNorm models (phi qk_layernorm) */
        const int ln = c->norm == LL_NORM_LAYERNORM;
        ops->copy2d(ctx, att, Q, ap->q, ap->q_rs, N, (int)Q);
        if (ln) ops->layernorm(ctx, att, att, y->q_norm.data, y->q_norm_b.data, N * c->n_head, D, (float)c->norm_eps);
        else ops->rmsnorm(ctx, att, att, y->q_norm.data, N * c->n_head, D, (float)c->norm_eps);
        ops->copy2d(ctx, (float *)ap->q, ap->q_rs, att, Q, N, (int)Q);
        ops->copy2d(ctx, att, KV, ap->k, ap->k_rs, N, (int)KV);
        if (ln) ops->layernorm(ctx, att, att, y->k_norm.data, y->k_norm_b.data, N * c->n_kv_head, D, (float)c->norm_eps);
        else ops->rmsnorm(ctx, att, att, y->k_norm.data, N * c->n_kv_head, D, (float)c->norm_eps);
        ops->copy2d(ctx, (float *)ap->k, ap->k_rs, att, KV, N, (int)KV);
    }
    if (c->rotary_dims > 0) {
        rp->x = (float *)ap->q; rp->rs = ap->q_rs; rp->hs = ap->q_hs; rp->n_heads = c->n_head;
        tf_rope(ops, ctx, spec, rp, lens, ap->B, ap->T);
        rp->x = (float *)ap->k; rp->rs = ap->k_rs; rp->hs = ap->k_hs; rp->n_heads = c->n_kv_head;
        tf_rope(ops, ctx, spec, rp, lens, ap->B, ap->T);
    }
    ops->attention(ctx, ap);
    ops->linear(ctx, out, att, &y->o, y->o_b.data, N);
}

/* FFN block by kind: out = ffn(h); mlp is scratch [N, F] (MLP) or [N, 2F] (gated). */
static void tf_ffn(const ll_ops *ops, void *ctx, const ll_model_config *c, const ll_tf_spec *spec, const ll_tf_layer *y,
                   float *out, const float *h, float *mlp, int N) {
    const size_t NF = (size_t)N * c->d_ff;
    if (spec->ffn == LL_TF_FFN_GATED) {
        float *g = mlp, *u = mlp + NF;
        ops->linear(ctx, g, h, &y->gate, y->gate_b.data, N);
        ops->linear(ctx, u, h, &y->up, y->up_b.data, N);
        if (c->act == LL_ACT_SILU && ops->swiglu) {
            ops->swiglu(ctx, g, g, u, NF);
        } else {
            act_inplace(ops, ctx, c->act, g, NF);
            ops->mul(ctx, g, g, u, NF);
        }
        ops->linear(ctx, out, g, &y->down, y->down_b.data, N);
    } else {
        ops->linear(ctx, mlp, h, &y->up, y->up_b.data, N);
        act_inplace(ops, ctx, c->act, mlp, NF);
        ops->linear(ctx, out, mlp, &y->down, y->down_b.data, N);
    }
}

int ll_tf_forward(ll_model *m, const ll_tf_spec *spec, const ll_ops *ops, void *ctx, const int32_t *tokens,
                  const int *lens, int B, int T, ll_capture *cap, float *state, float *logits) {
    const ll_model_config *c = &m->cfg;
    if (state || logits) {
        ll_set_error("%s: %s models have no recurrent state or LM head here", m->dir, c->model_type);
        return -1;
    }
    NEED(linear); NEED(embedding); NEED(add); NEED(attention); NEED(alloc); NEED(upload);
    if (c->norm == LL_NORM_RMSNORM) NEED(rmsnorm); else NEED(layernorm);
    if (c->rotary_dims > 0) NEED(rope);
    if (c->embed_scale != 0) NEED(scale);
    if (c->act == LL_ACT_GELU_TANH) NEED(gelu_tanh);
    else if (c->act == LL_ACT_GELU_ERF) NEED(gelu_erf);
    else if (c->act == LL_ACT_SILU) NEED(silu);
    else { ll_set_error("%s: activation relu is not supported", m->dir); return -1; }
    const int gated = spec->ffn == LL_TF_FFN_GATED;
    if (gated) NEED(mul);
    if (spec->qkv == LL_TF_QKV_SEPARATE) NEED(copy2d);

    const int64_t N = (int64_t)B * T, C = c->d_model, F = c->d_ff, H = c->n_head, G = c->n_kv_head, D = c->head_dim;
    const int64_t Q = H * D, KV = G * D;
    const int64_t QKVW = spec->qkv == LL_TF_QKV_SEPARATE ? Q + 2 * KV : 3 * C; /* width of the qkv buffer */
    const int64_t FW = gated ? 2 * F : F;
    size_t off = 0;
    LL_CARVE(off, x, N * C);
    LL_CARVE(off, h, N * C);
    LL_CARVE(off, qkv, N * QKVW);
    LL_CARVE(off, att, N * (Q > C ? Q : C));
    LL_CARVE(off, mlp, N * FW);
    LL_CARVE(off, tmp, N * C);
    LL_CARVE(off, ids, N);
    LL_CARVE(off, pos, N);
    LL_CARVE(off, lens, B);
    char *ws = ll_model_workspace(m, ops, ctx, off);
    if (!ws) return -1;
    float *x = (float *)(ws + o_x), *h = (float *)(ws + o_h), *qkv = (float *)(ws + o_qkv), *att = (float *)(ws + o_att),
          *mlp = (float *)(ws + o_mlp), *tmp = (float *)(ws + o_tmp);
    int32_t *d_ids = (int32_t *)(ws + o_ids), *d_pos = (int32_t *)(ws + o_pos);
    int *d_lens = (int *)(ws + o_lens);

    /* ids (padding → 0) and positions (arange per sequence) */
    ll_model_upload_ids(ops, ctx, d_ids, tokens, lens, B, T);
    int32_t *hpos = ll_xmalloc(sizeof(int32_t) * N);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) hpos[(int64_t)b * T + t] = t;
    ops->upload(ctx, d_pos, hpos, sizeof(int32_t) * N);
    ops->upload(ctx, d_lens, lens, sizeof(int) * B);
    free(hpos);

    /* entry 0: embeddings (a later layer stage receives the stream instead) */
    const int from_prev = ll_model_stage_begin(m, ops, ctx, x, (size_t)(N * C));
    if (from_prev < 0) return -1;
    if (!from_prev) {
        ops->embedding(ctx, x, &m->embed, d_ids, (int)N, 0);
        if (spec->learned_positions) ops->embedding(ctx, x, &m->pos_embed, d_pos, (int)N, 1);
        if (c->embed_scale != 0) ops->scale(ctx, x, x, (float)c->embed_scale, (size_t)(N * C));
        if (ll_model_emit(m, ops, ctx, cap, 0, x, tokens, lens, B, T)) return -1;
    }

    ll_attn_params ap;
    memset(&ap, 0, sizeof ap);
    ap.out = att;
    ap.o_rs = Q;
    ap.B = B; ap.T = T; ap.H = (int)H; ap.KVH = (int)G; ap.hd = (int)D;
    ap.lens = d_lens;
    tf_qkv_views(spec, c, qkv, QKVW, &ap);
    ll_rope_params rp;
    memset(&rp, 0, sizeof rp);
    rp.N = (int)N;
    rp.rot_dims = c->rotary_dims;
    rp.pos = d_pos;
    rp.inv_freq = m->inv_freq.data;

    for (int l = m->stage_first; l < m->stage_end; l++) {
        const ll_tf_layer *y = &m->layers[l];
        /* attn_scale_mult 0: no scaling (gpt2 scale_attn_weights false); else mult / sqrt(hd) */
        float scale = c->attn_scale_mult == 0 ? 1.0f : (float)(c->attn_scale_mult / sqrt((double)D));
        if (c->scale_attn_by_inverse_layer_idx) scale /= (float)(l + 1);
        ap.scale = scale;
        ap.window = (c->sliding_window > 0 && l >= c->window_from_layer && !(c->window_alternate && l % 2))
                        ? c->sliding_window
                        : 0;
        ap.softcap = (float)c->attn_softcap;

        tf_norm(ops, ctx, c, h, x, &y->ln1_w, &y->ln1_b, (int)N);
        tf_attention(ops, ctx, c, spec, y, tmp, h, qkv, QKVW, att, &ap, &rp, (int)N, lens); /* tmp = attn_out */
        if (c->parallel_residual) {
            /* x = ffn(ln2(x)) + attn_out + x */
            tf_norm(ops, ctx, c, h, x, &y->ln2_w, &y->ln2_b, (int)N);
            tf_ffn(ops, ctx, c, spec, y, h, h, mlp, (int)N);
            ops->add(ctx, h, h, tmp, (size_t)(N * C));
            ops->add(ctx, x, h, x, (size_t)(N * C));
        } else {
            if (y->post_attn_norm.data) tf_norm(ops, ctx, c, tmp, tmp, &y->post_attn_norm, NULL, (int)N);
            ops->add(ctx, x, tmp, x, (size_t)(N * C)); /* x = attn_out + x */
            tf_norm(ops, ctx, c, h, x, &y->ln2_w, &y->ln2_b, (int)N);
            tf_ffn(ops, ctx, c, spec, y, h, h, mlp, (int)N);
            if (y->post_ffn_norm.data) tf_norm(ops, ctx, c, h, h, &y->post_ffn_norm, NULL, (int)N);
            ops->add(ctx, x, h, x, (size_t)(N * C));
        }
        if (l + 1 < c->n_layer) {
            if (ll_model_emit(m, ops, ctx, cap, l + 1, x, tokens, lens, B, T)) return -1;
        }
        LL_STAGE_AFTER(l, x, (size_t)(N * C));
    }
    /* last entry: final norm of block L's output */
    tf_norm(ops, ctx, c, h, x, &m->norm_w, &m->norm_b, (int)N);
    if (ll_model_emit(m, ops, ctx, cap, c->n_layer, h, tokens, lens, B, T)) return -1;
    return ops->sync ? ops->sync(ctx) : 0;
}

/* --------------------------------------------------------------- reporting */
void ll_tf_describe(const ll_model *m, cJSON *j) {
    const ll_model_config *c = &m->cfg;
    cJSON_AddNumberToObject(j, "n_heads", c->n_head);
    cJSON_AddNumberToObject(j, "n_kv_heads", c->n_kv_head);
    cJSON_AddNumberToObject(j, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(j, "intermediate_size", c->d_ff);
    cJSON_AddNumberToObject(j, "rotary_dims", c->rotary_dims);
    if (c->rotary_dims) cJSON_AddNumberToObject(j, "rope_theta", c->rope_theta);
    cJSON_AddStringToObject(j, "rope_scaling",
                            c->rope_scaling.type == LL_ROPE_SCALING_LLAMA3   ? "llama3"
                            : c->rope_scaling.type == LL_ROPE_SCALING_LINEAR ? "linear"
                                                                             : "none");
    cJSON_AddBoolToObject(j, "parallel_residual", c->parallel_residual);
    if (c->sliding_window) cJSON_AddNumberToObject(j, "sliding_window", c->sliding_window);
}

double ll_tf_mean_keys(int T, int window) {
    if (T <= 0) return 0;
    double s = 0;
    if (window <= 0 || window >= T) return (T + 1) / 2.0;
    /* positions t < window see t+1 keys, the others see window */
    s = (double)window * (window + 1) / 2.0 + (double)(T - window) * window;
    return s / T;
}

int ll_tf_cost(const ll_model *m, const ll_tf_spec *spec, int T, ll_cost *pe) {
    const ll_model_config *c = &m->cfg;
    const double C = c->d_model, F = c->d_ff, D = c->head_dim, Q = (double)c->n_head * D,
                 KV = (double)c->n_kv_head * D;
    const int L = c->n_layer;
    /* entry 0: the embedding lookup (and learned positions) */
    pe[0].flops = 0;
    pe[0].weight_bytes = ll_weight_bytes(&m->embed) + ll_weight_bytes(&m->pos_embed);
    pe[0].act_bytes = 4 * C;
    const double nmat = spec->ffn == LL_TF_FFN_GATED ? 3 : 2;
    for (int l = 0; l < L; l++) {
        const ll_tf_layer *y = &m->layers[l];
        /* window_alternate (gemma2): only the even ("sliding_attention") layers are windowed */
        const int window = (c->sliding_window > 0 && l >= c->window_from_layer && !(c->window_alternate && (l & 1)))
                               ? c->sliding_window
                               : 0;
        ll_cost *e = &pe[l + 1];
        e->flops = 2 * C * (Q + 2 * KV)                     /* q, k, v */
                   + 4 * Q * ll_tf_mean_keys(T, window)     /* scores q·k and mixing p·v */
                   + 2 * Q * C                              /* o */
                   + 2 * nmat * C * F;                      /* up (, gate), down */
        const ll_weight *ws[] = {&y->ln1_w, &y->ln1_b, &y->ln2_w, &y->ln2_b, &y->o, &y->o_b, &y->up,
                                 &y->up_b, &y->gate, &y->gate_b, &y->down, &y->down_b, &y->q_norm, &y->k_norm,
                                 &y->post_attn_norm, &y->post_ffn_norm};
        double wb = 0;
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) wb += ll_weight_bytes(ws[i]);
        if (y->q.data) /* separate projections (the fused qkv is then a view of them) */
            wb += ll_weight_bytes(&y->q) + ll_weight_bytes(&y->k) + ll_weight_bytes(&y->v) + ll_weight_bytes(&y->q_b) +
                  ll_weight_bytes(&y->k_b) + ll_weight_bytes(&y->v_b);
        else
            wb += ll_weight_bytes(&y->qkv) + ll_weight_bytes(&y->qkv_b);
        e->weight_bytes = wb;
        e->act_bytes = 4 * ((Q + 2 * KV) + Q + C + (nmat - 1) * F + C);
    }
    pe[L].weight_bytes += ll_weight_bytes(&m->norm_w) + ll_weight_bytes(&m->norm_b);
    pe[L].act_bytes += 4 * C;
    return 0;
}
