/* Mamba (HF MambaModel, slow/sequential path) against the op table.
 *
 * Dimension letters: B batch rows, T padded length, N = B·T rows, C hidden
 * size, E inner size (expand·C), S state size, R dt rank, K conv kernel,
 * V vocab, L layers.
 *
 * Block (MambaBlock, residual_in_fp32 — everything is fp32 here):
 *   x = RMSNorm(h);  [xi | z] = in_proj(x)            [N, 2E]
 *   u = silu(causal depthwise conv1d(xi))             [N, E]
 *   [dt_in | Bm | Cm] = x_proj(u)                     [N, R + 2S]
 *   dt_raw = dt_proj(dt_in) (with bias)               [N, E]
 *   y = selective_scan(u, softplus(dt_raw), A = −exp(A_log), Bm, Cm, D) ⊙ silu(z)
 *   h = h + out_proj(y) */
#include <stdlib.h>
#include <string.h>
#include "families/ssm_common.h"
#include "core/ll_util.h"
#include "model/model.h"

typedef struct {
    ll_weight norm_w, in_proj, in_proj_b, conv_w, conv_b, x_proj, dt_proj, dt_proj_b, A_log, D, out_proj,
        out_proj_b;
} mamba_layer;

typedef struct {
    ll_ssm_common common;
    ll_weight head;
    mamba_layer layers[];
} mamba_data;

static int want(ll_loader *ld, ll_weight *w, const char *pre, int layer, const char *name, int ndim,
                const int64_t *s, int flags) {
    return ll_ssm_want(ld, w, pre, "layers", layer, name, ndim, s, flags);
}

static int bind_mamba(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    const int64_t C = c->d_model, E = c->d_inner, S = c->d_state, R = c->dt_rank, K = c->d_conv, V = c->vocab;
    const int L = c->n_layer;
    if (E <= 0 || S <= 0 || R <= 0 || K <= 0) {
        ll_set_error("%s: mamba config needs positive intermediate_size, state_size, time_step_rank, conv_kernel",
                     m->dir);
        return -1;
    }
    const char *pre = ll_loader_has(ld, "backbone.embeddings.weight") ? "backbone." : "";
    mamba_data *d = ll_xcalloc(1, sizeof *d + (size_t)L * sizeof(mamba_layer));
    m->family_data = d;
    if (want(ld, &m->embed, pre, -1, "embeddings.weight", SHAPE2(V, C), 0) ||
        want(ld, &m->norm_w, pre, -1, "norm_f.weight", SHAPE1(C), 0) ||
        ll_loader_want(ld, &d->head, "lm_head.weight", SHAPE2(V, C), LL_LOAD_OPTIONAL))
        return -1;
    for (int l = 0; l < L; l++) {
        mamba_layer *y = &d->layers[l];
        if (want(ld, &y->norm_w, pre, l, "norm.weight", SHAPE1(C), 0) ||
            want(ld, &y->in_proj, pre, l, "mixer.in_proj.weight", SHAPE2(2 * E, C), 0) ||
            (c->use_bias && want(ld, &y->in_proj_b, pre, l, "mixer.in_proj.bias", SHAPE1(2 * E), 0)) ||
            want(ld, &y->conv_w, pre, l, "mixer.conv1d.weight", SHAPE3(E, 1, K), LL_LOAD_F32) ||
            (c->use_conv_bias && want(ld, &y->conv_b, pre, l, "mixer.conv1d.bias", SHAPE1(E), 0)) ||
            want(ld, &y->x_proj, pre, l, "mixer.x_proj.weight", SHAPE2(R + 2 * S, E), 0) ||
            want(ld, &y->dt_proj, pre, l, "mixer.dt_proj.weight", SHAPE2(E, R), 0) ||
            want(ld, &y->dt_proj_b, pre, l, "mixer.dt_proj.bias", SHAPE1(E), 0) ||
            want(ld, &y->A_log, pre, l, "mixer.A_log", SHAPE2(E, S), LL_LOAD_F32) ||
            want(ld, &y->D, pre, l, "mixer.D", SHAPE1(E), 0) ||
            want(ld, &y->out_proj, pre, l, "mixer.out_proj.weight", SHAPE2(C, E), 0) ||
            (c->use_bias && want(ld, &y->out_proj_b, pre, l, "mixer.out_proj.bias", SHAPE1(C), 0)))
            return -1;
    }
    return 0;
}

/* (use_bias / use_conv_bias false: the biases are not read even if present,
 * as HF builds those layers without them.) */

/* State per layer (floats): conv window [B, E, K-1], ssm [B, E, S]. */
static size_t layer_state(const ll_model *m, int B) {
    const ll_model_config *c = &m->cfg;
    return (size_t)B * c->d_inner * ((size_t)(c->d_conv - 1) + c->d_state);
}
size_t ll_mamba_state_floats(const ll_model *m, int B) { return (size_t)m->cfg.n_layer * layer_state(m, B); }

#define NEED(op)                                                                                       \
    do {                                                                                               \
        if (!ops->op) {                                                                                \
            ll_set_error("%s: backend '%s' has no '%s' op (needed by mamba)", m->dir, ops->name, #op); \
            return -1;                                                                                 \
        }                                                                                              \
    } while (0)

int ll_mamba_run(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                 ll_capture *cap, ll_ssm_state *st, float *logits) {
    NEED(conv1d_silu); NEED(selective_scan); NEED(rmsnorm); NEED(linear); NEED(embedding); NEED(add); NEED(copy2d);
    const ll_model_config *c = &m->cfg;
    mamba_data *d = m->family_data;
    const int L = c->n_layer, emb_entry = d->common.embed_entry;
    const int64_t C = c->d_model, E = c->d_inner, S = c->d_state, R = c->dt_rank, K = c->d_conv, V = c->vocab;
    const int64_t N = (int64_t)B * T, W = R + 2 * S;
    const float eps = (float)c->norm_eps;
    const ll_weight *head = d->head.data ? &d->head : &m->embed; /* HF Mamba ties by default */
    size_t off = 0;
#define CARVE(name, cnt) size_t o_##name = off; off += (((size_t)(cnt) * sizeof(float)) + 255) & ~(size_t)255
    CARVE(h, N * C); CARVE(x, N * C); CARVE(xz, N * 2 * E); CARVE(u, N * E); CARVE(dbc, N * W);
    CARVE(dtin, N * R); CARVE(dt, N * E); CARVE(y, N * E); CARVE(o, N * C); CARVE(lg, logits ? N * V : 0);
    CARVE(ids, N);
#undef CARVE
    char *ws = ll_model_workspace(m, ops, ctx, off);
    if (!ws) return -1;
    float *h = (float *)(ws + o_h), *x = (float *)(ws + o_x), *xz = (float *)(ws + o_xz), *u = (float *)(ws + o_u),
          *dbc = (float *)(ws + o_dbc), *dtin = (float *)(ws + o_dtin), *dt = (float *)(ws + o_dt),
          *y = (float *)(ws + o_y), *o = (float *)(ws + o_o), *lg = (float *)(ws + o_lg);
    int32_t *d_ids = (int32_t *)(ws + o_ids);
    const size_t NC = (size_t)N * C;

    ll_ssm_upload_ids(ops, ctx, d_ids, tokens, lens, B, T);
    ops->embedding(ctx, h, &m->embed, d_ids, (int)N, 0);
    if (emb_entry && ll_model_emit(m, ops, ctx, cap, 0, h, tokens, lens, B, T)) return -1;

    ll_sscan_params sp;
    memset(&sp, 0, sizeof sp);
    sp.y = y; sp.u = u; sp.dt_raw = dt; sp.Bm = dbc + R; sp.Cm = dbc + R + S; sp.bc_rs = W;
    sp.z = xz + E; sp.z_rs = 2 * E;
    sp.B = B; sp.T = T; sp.E = (int)E; sp.S = (int)S;
    for (int l = 0; l < L; l++) {
        const mamba_layer *ly = &d->layers[l];
        float *s_conv = st ? st->buf + (size_t)l * layer_state(m, B) : NULL;
        float *s_ssm = st ? s_conv + (size_t)B * E * (K - 1) : NULL;
        ops->rmsnorm(ctx, x, h, ly->norm_w.data, (int)N, (int)C, eps);
        ops->linear(ctx, xz, x, &ly->in_proj, ly->in_proj_b.data, (int)N);
        ops->conv1d_silu(ctx, u, xz, 2 * E, ly->conv_w.data, ly->conv_b.data, s_conv, B, T, (int)E, (int)K);
        ops->linear(ctx, dbc, u, &ly->x_proj, NULL, (int)N);
        ops->copy2d(ctx, dtin, R, dbc, W, (int)N, (int)R);
        ops->linear(ctx, dt, dtin, &ly->dt_proj, ly->dt_proj_b.data, (int)N);
        sp.A_log = ly->A_log.data;
        sp.D = ly->D.data;
        sp.state = s_ssm;
        ops->selective_scan(ctx, &sp);
        ops->linear(ctx, o, y, &ly->out_proj, ly->out_proj_b.data, (int)N);
        ops->add(ctx, h, h, o, NC);
        if (!emb_entry) {
            if (ll_model_emit(m, ops, ctx, cap, l, h, tokens, lens, B, T)) return -1;
        } else if (l + 1 < L) {
            if (ll_model_emit(m, ops, ctx, cap, l + 1, h, tokens, lens, B, T)) return -1;
        }
    }
    ops->rmsnorm(ctx, x, h, m->norm_w.data, (int)N, (int)C, eps);
    if (ll_model_emit(m, ops, ctx, cap, L, x, tokens, lens, B, T)) return -1;
    if (logits && ll_ssm_logits(m, ops, ctx, head, x, (int)N, lg, logits)) return -1;
    return ops->sync ? ops->sync(ctx) : 0;
}

static int forward_mamba(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B,
                         int T, ll_capture *cap) {
    return ll_mamba_run(m, ops, ctx, tokens, lens, B, T, cap, NULL, NULL);
}

const ll_family ll_family_mamba = {LL_ARCH_MAMBA, "mamba", bind_mamba, NULL, forward_mamba};
