/* Transformer families (gpt2, gpt_neox, llama, mistral, qwen2): tensor
 * binding by HF names and one forward pass written against the op table.
 *
 * Dimension letters: B batch rows, T padded length, N = B·T rows, C hidden
 * size, H query heads, G kv heads, D head dim, F MLP inner size, L layers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "model/model.h"

/* ---------------------------------------------------------------- binding */
#define SHAPE1(a) 1, (int64_t[]){(a)}
#define SHAPE2(a, b) 2, (int64_t[]){(a), (b)}

static int want(ll_loader *ld, ll_weight *w, const char *pre, int layer, const char *name, int ndim, const int64_t *s,
                int flags) {
    char full[512];
    if (layer >= 0) snprintf(full, sizeof full, pre, layer, name);
    else snprintf(full, sizeof full, "%s%s", pre, name);
    return ll_loader_want(ld, w, full, ndim, s, flags);
}

static int bind_gpt2(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    const int64_t C = c->d_model, F = c->d_ff, V = c->vocab, P = c->max_pos;
    const char *pre = ll_loader_has(ld, "transformer.wte.weight") ? "transformer." : "";
    char lp[64];
    snprintf(lp, sizeof lp, "%sh.%%d.%%s", pre);
    if (want(ld, &m->embed, pre, -1, "wte.weight", SHAPE2(V, C), 0) ||
        want(ld, &m->pos_embed, pre, -1, "wpe.weight", SHAPE2(P, C), 0) ||
        want(ld, &m->norm_w, pre, -1, "ln_f.weight", SHAPE1(C), 0) ||
        want(ld, &m->norm_b, pre, -1, "ln_f.bias", SHAPE1(C), 0))
        return -1;
    m->layers = ll_xcalloc(c->n_layer, sizeof(ll_tf_layer));
    for (int l = 0; l < c->n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        if (want(ld, &y->ln1_w, lp, l, "ln_1.weight", SHAPE1(C), 0) ||
            want(ld, &y->ln1_b, lp, l, "ln_1.bias", SHAPE1(C), 0) ||
            want(ld, &y->qkv, lp, l, "attn.c_attn.weight", SHAPE2(C, 3 * C), LL_LOAD_TRANSPOSE) ||
            want(ld, &y->qkv_b, lp, l, "attn.c_attn.bias", SHAPE1(3 * C), 0) ||
            want(ld, &y->o, lp, l, "attn.c_proj.weight", SHAPE2(C, C), LL_LOAD_TRANSPOSE) ||
            want(ld, &y->o_b, lp, l, "attn.c_proj.bias", SHAPE1(C), 0) ||
            want(ld, &y->ln2_w, lp, l, "ln_2.weight", SHAPE1(C), 0) ||
            want(ld, &y->ln2_b, lp, l, "ln_2.bias", SHAPE1(C), 0) ||
            want(ld, &y->up, lp, l, "mlp.c_fc.weight", SHAPE2(C, F), LL_LOAD_TRANSPOSE) ||
            want(ld, &y->up_b, lp, l, "mlp.c_fc.bias", SHAPE1(F), 0) ||
            want(ld, &y->down, lp, l, "mlp.c_proj.weight", SHAPE2(F, C), LL_LOAD_TRANSPOSE) ||
            want(ld, &y->down_b, lp, l, "mlp.c_proj.bias", SHAPE1(C), 0))
            return -1;
    }
    return 0;
}

static int bind_neox(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    const int64_t C = c->d_model, F = c->d_ff, V = c->vocab;
    const char *pre = ll_loader_has(ld, "gpt_neox.embed_in.weight") ? "gpt_neox." : "";
    char lp[64];
    snprintf(lp, sizeof lp, "%slayers.%%d.%%s", pre);
    if (want(ld, &m->embed, pre, -1, "embed_in.weight", SHAPE2(V, C), 0) ||
        want(ld, &m->norm_w, pre, -1, "final_layer_norm.weight", SHAPE1(C), 0) ||
        want(ld, &m->norm_b, pre, -1, "final_layer_norm.bias", SHAPE1(C), 0))
        return -1;
    const int bias = c->qkv_bias ? 0 : LL_LOAD_OPTIONAL;
    m->layers = ll_xcalloc(c->n_layer, sizeof(ll_tf_layer));
    for (int l = 0; l < c->n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        if (want(ld, &y->ln1_w, lp, l, "input_layernorm.weight", SHAPE1(C), 0) ||
            want(ld, &y->ln1_b, lp, l, "input_layernorm.bias", SHAPE1(C), 0) ||
            want(ld, &y->ln2_w, lp, l, "post_attention_layernorm.weight", SHAPE1(C), 0) ||
            want(ld, &y->ln2_b, lp, l, "post_attention_layernorm.bias", SHAPE1(C), 0) ||
            want(ld, &y->qkv, lp, l, "attention.query_key_value.weight", SHAPE2(3 * C, C), 0) ||
            want(ld, &y->qkv_b, lp, l, "attention.query_key_value.bias", SHAPE1(3 * C), bias) ||
            want(ld, &y->o, lp, l, "attention.dense.weight", SHAPE2(C, C), 0) ||
            want(ld, &y->o_b, lp, l, "attention.dense.bias", SHAPE1(C), bias) ||
            want(ld, &y->up, lp, l, "mlp.dense_h_to_4h.weight", SHAPE2(F, C), 0) ||
            want(ld, &y->up_b, lp, l, "mlp.dense_h_to_4h.bias", SHAPE1(F), 0) ||
            want(ld, &y->down, lp, l, "mlp.dense_4h_to_h.weight", SHAPE2(C, F), 0) ||
            want(ld, &y->down_b, lp, l, "mlp.dense_4h_to_h.bias", SHAPE1(C), 0))
            return -1;
    }
    if (c->rotary_dims > 0) ll_loader_scratch(ld, &m->inv_freq, c->rotary_dims / 2);
    return 0;
}

static int bind_llama(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    const int64_t C = c->d_model, F = c->d_ff, V = c->vocab, Q = (int64_t)c->n_head * c->head_dim,
                  KV = (int64_t)c->n_kv_head * c->head_dim;
    const char *pre = ll_loader_has(ld, "model.embed_tokens.weight") ? "model." : "";
    char lp[64];
    snprintf(lp, sizeof lp, "%slayers.%%d.%%s", pre);
    if (want(ld, &m->embed, pre, -1, "embed_tokens.weight", SHAPE2(V, C), 0) ||
        want(ld, &m->norm_w, pre, -1, "norm.weight", SHAPE1(C), 0))
        return -1;
    const int qb = c->qkv_bias ? 0 : LL_LOAD_OPTIONAL, ob = c->o_bias ? 0 : LL_LOAD_OPTIONAL,
              mb = c->mlp_bias ? 0 : LL_LOAD_OPTIONAL;
    m->layers = ll_xcalloc(c->n_layer, sizeof(ll_tf_layer));
    for (int l = 0; l < c->n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        if (want(ld, &y->ln1_w, lp, l, "input_layernorm.weight", SHAPE1(C), 0) ||
            want(ld, &y->ln2_w, lp, l, "post_attention_layernorm.weight", SHAPE1(C), 0) ||
            want(ld, &y->q, lp, l, "self_attn.q_proj.weight", SHAPE2(Q, C), 0) ||
            want(ld, &y->k, lp, l, "self_attn.k_proj.weight", SHAPE2(KV, C), 0) ||
            want(ld, &y->v, lp, l, "self_attn.v_proj.weight", SHAPE2(KV, C), 0) ||
            want(ld, &y->q_b, lp, l, "self_attn.q_proj.bias", SHAPE1(Q), qb) ||
            want(ld, &y->k_b, lp, l, "self_attn.k_proj.bias", SHAPE1(KV), qb) ||
            want(ld, &y->v_b, lp, l, "self_attn.v_proj.bias", SHAPE1(KV), qb) ||
            want(ld, &y->o, lp, l, "self_attn.o_proj.weight", SHAPE2(C, Q), 0) ||
            want(ld, &y->o_b, lp, l, "self_attn.o_proj.bias", SHAPE1(C), ob) ||
            want(ld, &y->gate, lp, l, "mlp.gate_proj.weight", SHAPE2(F, C), 0) ||
            want(ld, &y->up, lp, l, "mlp.up_proj.weight", SHAPE2(F, C), 0) ||
            want(ld, &y->down, lp, l, "mlp.down_proj.weight", SHAPE2(C, F), 0) ||
            want(ld, &y->up_b, lp, l, "mlp.up_proj.bias", SHAPE1(F), mb) ||
            want(ld, &y->down_b, lp, l, "mlp.down_proj.bias", SHAPE1(C), mb))
            return -1;
        /* gate bias (mlp_bias): stored next to up's; rarely used */
    }
    if (c->mlp_bias) {
        ll_set_error("%s: mlp_bias = true is not supported", m->dir);
        return -1;
    }
    if (c->rotary_dims > 0) ll_loader_scratch(ld, &m->inv_freq, c->rotary_dims / 2);
    return 0;
}

/* inv_freq as HF computes it in float32 (modeling_rope_utils). */
static int prepare_rope(ll_model *m) {
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

/* Llama family: q, k, v (and their biases) were declared one after the
 * other, so they usually sit back to back in the arena: view them as one
 * fused [Q+2KV, C] projection (one sgemm, no copies). */
static int prepare_llama(ll_model *m) {
    prepare_rope(m);
    const ll_model_config *c = &m->cfg;
    const int64_t C = c->d_model, Q = (int64_t)c->n_head * c->head_dim, KV = (int64_t)c->n_kv_head * c->head_dim;
    for (int l = 0; l < c->n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
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
    return 0;
}

/* --------------------------------------------------------------- forward */
#define NEED(op)                                                                                        \
    do {                                                                                                \
        if (!ops->op) { ll_set_error("backend '%s' does not support the op '%s'", ops->name, #op); return -1; } \
    } while (0)

static void act_inplace(const ll_ops *ops, void *ctx, ll_act a, float *x, size_t n) {
    switch (a) {
    case LL_ACT_GELU_TANH: ops->gelu_tanh(ctx, x, x, n); break;
    case LL_ACT_GELU_ERF: ops->gelu_erf(ctx, x, x, n); break;
    case LL_ACT_SILU: ops->silu(ctx, x, x, n); break;
    case LL_ACT_RELU: ops->relu_sq(ctx, x, x, n); break; /* not reached: relu rejected below */
    }
}

static void norm_op(const ll_ops *ops, void *ctx, const ll_model_config *c, float *out, const float *in, const ll_weight *w,
                    const ll_weight *b, int N) {
    if (c->norm == LL_NORM_RMSNORM)
        ops->rmsnorm(ctx, out, in, w->data, N, c->d_model, (float)c->norm_eps);
    else
        ops->layernorm(ctx, out, in, w->data, b ? b->data : NULL, N, c->d_model, (float)c->norm_eps);
}

static int forward_transformer(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B,
                               int T, ll_capture *cap) {
    const ll_model_config *c = &m->cfg;
    NEED(linear); NEED(embedding); NEED(add); NEED(attention); NEED(alloc); NEED(upload);
    if (c->norm == LL_NORM_RMSNORM) NEED(rmsnorm); else NEED(layernorm);
    if (c->rotary_dims > 0) NEED(rope);
    if (c->act == LL_ACT_GELU_TANH) NEED(gelu_tanh);
    else if (c->act == LL_ACT_GELU_ERF) NEED(gelu_erf);
    else if (c->act == LL_ACT_SILU) NEED(silu);
    else { ll_set_error("%s: activation relu is not supported", m->dir); return -1; }
    const int gated = c->arch == LL_ARCH_LLAMA || c->arch == LL_ARCH_MISTRAL || c->arch == LL_ARCH_QWEN2;
    if (gated) NEED(mul);

    const int64_t N = (int64_t)B * T, C = c->d_model, F = c->d_ff, H = c->n_head, G = c->n_kv_head, D = c->head_dim;
    const int64_t Q = H * D, KV = G * D;
    const int64_t QKVW = gated ? Q + 2 * KV : 3 * C; /* width of the qkv buffer */
    const int64_t FW = gated ? 2 * F : F;
    /* workspace layout (floats, 64-byte aligned pieces) */
    size_t off = 0;
    size_t o_x, o_h, o_qkv, o_att, o_mlp, o_tmp, o_ids, o_pos, o_lens;
#define PIECE(var, bytes) do { var = off; off += (((size_t)(bytes)) + 63) & ~(size_t)63; } while (0)
    PIECE(o_x, N * C * 4);
    PIECE(o_h, N * C * 4);
    PIECE(o_qkv, N * QKVW * 4);
    PIECE(o_att, N * (Q > C ? Q : C) * 4);
    PIECE(o_mlp, N * FW * 4);
    PIECE(o_tmp, N * C * 4);
    PIECE(o_ids, N * 4);
    PIECE(o_pos, N * 4);
    PIECE(o_lens, B * 4);
#undef PIECE
    char *ws = ll_model_workspace(m, ops, ctx, off);
    if (!ws) return -1;
    float *x = (float *)(ws + o_x), *h = (float *)(ws + o_h), *qkv = (float *)(ws + o_qkv), *att = (float *)(ws + o_att),
          *mlp = (float *)(ws + o_mlp), *tmp = (float *)(ws + o_tmp);
    int32_t *d_ids = (int32_t *)(ws + o_ids), *d_pos = (int32_t *)(ws + o_pos);
    int *d_lens = (int *)(ws + o_lens);

    /* ids (padding → 0) and positions (arange per sequence), host then upload */
    int32_t *hid = ll_xmalloc(sizeof(int32_t) * N * 2), *hpos = hid + N;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            hid[(int64_t)b * T + t] = t < lens[b] ? tokens[(int64_t)b * T + t] : 0;
            hpos[(int64_t)b * T + t] = t;
        }
    ops->upload(ctx, d_ids, hid, sizeof(int32_t) * N);
    ops->upload(ctx, d_pos, hpos, sizeof(int32_t) * N);
    ops->upload(ctx, d_lens, lens, sizeof(int) * B);
    free(hid);

    /* entry 0: embeddings */
    ops->embedding(ctx, x, &m->embed, d_ids, (int)N, 0);
    if (c->arch == LL_ARCH_GPT2) ops->embedding(ctx, x, &m->pos_embed, d_pos, (int)N, 1);
    if (ll_model_emit(m, ops, ctx, cap, 0, x, tokens, lens, B, T)) return -1;

    ll_attn_params ap;
    memset(&ap, 0, sizeof ap);
    ap.out = att;
    ap.o_rs = Q;
    ap.B = B; ap.T = T; ap.H = (int)H; ap.KVH = (int)G; ap.hd = (int)D;
    ap.lens = d_lens;
    ll_rope_params rp;
    memset(&rp, 0, sizeof rp);
    rp.N = (int)N;
    rp.rot_dims = c->rotary_dims;
    rp.pos = d_pos;
    rp.inv_freq = m->inv_freq.data;
    if (c->arch == LL_ARCH_GPT_NEOX || c->arch == LL_ARCH_GPT2) {
        /* fused [N, 3C]: gpt2 blocks q|k|v, neox per head [q_h k_h v_h] */
        const int neox = c->arch == LL_ARCH_GPT_NEOX;
        ap.q = qkv;
        ap.k = qkv + (neox ? D : C);
        ap.v = qkv + (neox ? 2 * D : 2 * C);
        ap.q_rs = ap.k_rs = ap.v_rs = 3 * C;
        ap.q_hs = ap.k_hs = ap.v_hs = neox ? 3 * D : D;
    } else {
        ap.q = qkv;
        ap.k = qkv + Q;
        ap.v = qkv + Q + KV;
        ap.q_rs = ap.k_rs = ap.v_rs = QKVW;
        ap.q_hs = ap.k_hs = ap.v_hs = D;
    }

    for (int l = 0; l < c->n_layer; l++) {
        const ll_tf_layer *y = &m->layers[l];
        float scale = c->attn_scale_mult == 0 ? 1.0f : (float)(1.0 / sqrt((double)D));
        if (c->scale_attn_by_inverse_layer_idx) scale /= (float)(l + 1);
        ap.scale = scale;
        ap.window = (c->sliding_window > 0 && l >= c->window_from_layer) ? c->sliding_window : 0;

        /* attention */
        norm_op(ops, ctx, c, h, x, &y->ln1_w, &y->ln1_b, (int)N);
        if (y->qkv.data) {
            ops->linear(ctx, qkv, h, &y->qkv, y->qkv_b.data, (int)N);
        } else {
            /* separate projections into the [N, Q | KV | KV] buffer */
            NEED(copy2d);
            ops->linear(ctx, att, h, &y->q, y->q_b.data, (int)N);
            ops->copy2d(ctx, qkv, QKVW, att, Q, (int)N, (int)Q);
            ops->linear(ctx, att, h, &y->k, y->k_b.data, (int)N);
            ops->copy2d(ctx, qkv + Q, QKVW, att, KV, (int)N, (int)KV);
            ops->linear(ctx, att, h, &y->v, y->v_b.data, (int)N);
            ops->copy2d(ctx, qkv + Q + KV, QKVW, att, KV, (int)N, (int)KV);
        }
        if (c->rotary_dims > 0) {
            rp.x = (float *)ap.q; rp.rs = ap.q_rs; rp.hs = ap.q_hs; rp.n_heads = (int)H;
            ops->rope(ctx, &rp);
            rp.x = (float *)ap.k; rp.rs = ap.k_rs; rp.hs = ap.k_hs; rp.n_heads = (int)G;
            ops->rope(ctx, &rp);
        }
        ops->attention(ctx, &ap);
        ops->linear(ctx, tmp, att, &y->o, y->o_b.data, (int)N); /* tmp = attn_out */

        if (c->parallel_residual) {
            /* x = mlp(ln2(x)) + attn_out + x */
            norm_op(ops, ctx, c, h, x, &y->ln2_w, &y->ln2_b, (int)N);
        } else {
            ops->add(ctx, x, tmp, x, (size_t)(N * C)); /* x = attn_out + x */
            norm_op(ops, ctx, c, h, x, &y->ln2_w, &y->ln2_b, (int)N);
        }
        /* MLP of h into att (as [N, C] scratch) */
        if (gated) {
            float *g = mlp, *u = mlp + N * F;
            ops->linear(ctx, g, h, &y->gate, NULL, (int)N);
            ops->linear(ctx, u, h, &y->up, y->up_b.data, (int)N);
            if (c->act == LL_ACT_SILU && ops->swiglu) {
                ops->swiglu(ctx, g, g, u, (size_t)(N * F));
            } else {
                act_inplace(ops, ctx, c->act, g, (size_t)(N * F));
                ops->mul(ctx, g, g, u, (size_t)(N * F));
            }
            ops->linear(ctx, h, g, &y->down, y->down_b.data, (int)N);
        } else {
            ops->linear(ctx, mlp, h, &y->up, y->up_b.data, (int)N);
            act_inplace(ops, ctx, c->act, mlp, (size_t)(N * F));
            ops->linear(ctx, h, mlp, &y->down, y->down_b.data, (int)N);
        }
        if (c->parallel_residual) {
            ops->add(ctx, h, h, tmp, (size_t)(N * C)); /* mlp + attn */
            ops->add(ctx, x, h, x, (size_t)(N * C));
        } else {
            ops->add(ctx, x, h, x, (size_t)(N * C));
        }
        if (l + 1 < c->n_layer) {
            if (ll_model_emit(m, ops, ctx, cap, l + 1, x, tokens, lens, B, T)) return -1;
        }
    }
    /* last entry: final norm of block L's output */
    norm_op(ops, ctx, c, h, x, &m->norm_w, &m->norm_b, (int)N);
    if (ll_model_emit(m, ops, ctx, cap, c->n_layer, h, tokens, lens, B, T)) return -1;
    return ops->sync ? ops->sync(ctx) : 0;
}

const ll_family ll_family_gpt2 = {LL_ARCH_GPT2, "gpt2", bind_gpt2, NULL, forward_transformer};
const ll_family ll_family_gpt_neox = {LL_ARCH_GPT_NEOX, "gpt_neox", bind_neox, prepare_rope, forward_transformer};
const ll_family ll_family_llama = {LL_ARCH_LLAMA, "llama", bind_llama, prepare_llama, forward_transformer};
const ll_family ll_family_mistral = {LL_ARCH_MISTRAL, "mistral", bind_llama, prepare_llama, forward_transformer};
const ll_family ll_family_qwen2 = {LL_ARCH_QWEN2, "qwen2", bind_llama, prepare_llama, forward_transformer};
