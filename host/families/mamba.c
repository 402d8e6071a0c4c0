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
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "families/ssm_common.h"
#include "model/model.h"

typedef struct {
    ll_weight norm_w, in_proj, in_proj_b, conv_w, conv_b, x_proj, dt_proj, dt_proj_b, A_log, D, out_proj,
        out_proj_b;
} mamba_layer;

typedef struct {
    ll_ssm_common common;
    int S, K, E, R;              /* state_size, conv_kernel, intermediate_size (expand·C), time_step_rank */
    int use_bias, use_conv_bias; /* in/out_proj and conv1d biases */
    ll_weight head;
    mamba_layer layers[];
} mamba_data;

enum { R_EMB, R_NORM_F, R_HEAD, R_NORM, R_IN, R_IN_B, R_CONV, R_CONV_B, R_X, R_DT, R_DT_B, R_A, R_D, R_OUT, R_OUT_B,
       N_ROLES };
/* GGUF names from gguf.constants (MODEL_ARCH.MAMBA).  Note: llama.cpp's
 * converter stores ssm_a = -exp(A_log) and ssm_conv1d as [E, K]; a GGUF
 * reader must undo that before binding here. */
static const ll_tensor_role roles[N_ROLES] = {
    [R_EMB] = {"token_embd", "embeddings.weight", "token_embd.weight"},
    [R_NORM_F] = {"output_norm", "norm_f.weight", "output_norm.weight"},
    [R_HEAD] = {"output", "lm_head.weight", "output.weight", 1},
    [R_NORM] = {"attn_norm", "layers.%d.norm.weight", "blk.%d.attn_norm.weight"},
    [R_IN] = {"ssm_in", "layers.%d.mixer.in_proj.weight", "blk.%d.ssm_in.weight"},
    [R_IN_B] = {"ssm_in_b", "layers.%d.mixer.in_proj.bias", "blk.%d.ssm_in.bias"},
    [R_CONV] = {"ssm_conv1d", "layers.%d.mixer.conv1d.weight", "blk.%d.ssm_conv1d.weight"},
    [R_CONV_B] = {"ssm_conv1d_b", "layers.%d.mixer.conv1d.bias", "blk.%d.ssm_conv1d.bias"},
    [R_X] = {"ssm_x", "layers.%d.mixer.x_proj.weight", "blk.%d.ssm_x.weight"},
    [R_DT] = {"ssm_dt", "layers.%d.mixer.dt_proj.weight", "blk.%d.ssm_dt.weight"},
    [R_DT_B] = {"ssm_dt_b", "layers.%d.mixer.dt_proj.bias", "blk.%d.ssm_dt.bias"},
    [R_A] = {"ssm_a", "layers.%d.mixer.A_log", "blk.%d.ssm_a"},
    [R_D] = {"ssm_d", "layers.%d.mixer.D", "blk.%d.ssm_d"},
    [R_OUT] = {"ssm_out", "layers.%d.mixer.out_proj.weight", "blk.%d.ssm_out.weight"},
    [R_OUT_B] = {"ssm_out_b", "layers.%d.mixer.out_proj.bias", "blk.%d.ssm_out.bias"},
};

static int parse_mamba(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    c->d_model = ll_cfg_size(r, "hidden_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_layer = ll_cfg_size(r, "num_hidden_layers", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_LAYERS);
    c->vocab = ll_cfg_size(r, "vocab_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_VOCAB);
    const int S = ll_cfg_size(r, "state_size", NULL, 16, 1, 1 << 16);
    const int K = ll_cfg_size(r, "conv_kernel", NULL, 4, 1, 1 << 16);
    const int expand = ll_cfg_size(r, "expand", NULL, 2, 1, 1 << 16);
    if (ll_cfg_ok(r)) return -1;
    if ((int64_t)expand * c->d_model > LL_CFG_MAX_DIM && !ll_cfg_has(r, "intermediate_size"))
        return ll_cfg_fail(r, "'expand' %d times hidden_size %d exceeds %d", expand, c->d_model, LL_CFG_MAX_DIM);
    const int E = ll_cfg_size(r, "intermediate_size", NULL, expand * c->d_model, 1, LL_CFG_MAX_DIM);
    c->d_ff = E;
    c->norm = LL_NORM_RMSNORM;
    c->norm_eps = ll_cfg_num(r, NULL, "layer_norm_epsilon", 1e-5);
    const int use_bias = ll_cfg_bool(r, "use_bias", 0), use_conv_bias = ll_cfg_bool(r, "use_conv_bias", 1);
    c->tie_embeddings = ll_cfg_bool(r, "tie_word_embeddings", 1);
    cJSON *tr = ll_cfg_item(r, "time_step_rank");
    int R;
    if (!tr || (cJSON_IsString(tr) && !strcmp(tr->valuestring, "auto"))) R = (c->d_model + 15) / 16;
    else R = ll_cfg_size(r, "time_step_rank", NULL, 0, 1, LL_CFG_MAX_DIM);
    if (ll_cfg_ok(r)) return -1;
    mamba_data *d = ll_xcalloc(1, sizeof *d + (size_t)c->n_layer * sizeof(mamba_layer));
    d->S = S; d->K = K; d->E = E; d->R = R;
    d->use_bias = use_bias;
    d->use_conv_bias = use_conv_bias;
    m->family_data = d;
    return 0;
}

/* (use_bias / use_conv_bias false: the biases are not read, as HF builds
 * those layers without them; a checkpoint that has them is refused as
 * carrying unused tensors.) */
static int bind_mamba(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    mamba_data *d = m->family_data;
    const int64_t C = c->d_model, E = d->E, S = d->S, R = d->R, K = d->K, V = c->vocab;
    if (ll_bind(ld, &m->embed, &roles[R_EMB], -1, SHAPE2(V, C), 0) ||
        ll_bind(ld, &m->norm_w, &roles[R_NORM_F], -1, SHAPE1(C), 0) ||
        ll_bind(ld, &d->head, &roles[R_HEAD], -1, SHAPE2(V, C), LL_LOAD_OPTIONAL))
        return -1;
    for (int l = 0; l < c->n_layer; l++) {
        mamba_layer *y = &d->layers[l];
#define W(dst, role, ...) ll_bind(ld, &y->dst, &roles[role], l, __VA_ARGS__)
        if (W(norm_w, R_NORM, SHAPE1(C), 0) || W(in_proj, R_IN, SHAPE2(2 * E, C), 0) ||
            (d->use_bias && W(in_proj_b, R_IN_B, SHAPE1(2 * E), 0)) ||
            W(conv_w, R_CONV, SHAPE3(E, 1, K), LL_LOAD_F32) ||
            (d->use_conv_bias && W(conv_b, R_CONV_B, SHAPE1(E), 0)) || W(x_proj, R_X, SHAPE2(R + 2 * S, E), 0) ||
            W(dt_proj, R_DT, SHAPE2(E, R), 0) || W(dt_proj_b, R_DT_B, SHAPE1(E), 0) ||
            W(A_log, R_A, SHAPE2(E, S), LL_LOAD_F32) || W(D, R_D, SHAPE1(E), 0) ||
            W(out_proj, R_OUT, SHAPE2(C, E), 0) || (d->use_bias && W(out_proj_b, R_OUT_B, SHAPE1(C), 0)))
            return -1;
#undef W
    }
    return 0;
}

/* State per layer (floats): conv window [B, E, K-1], ssm [B, E, S]. */
static size_t layer_state(const ll_model *m, int B) {
    const mamba_data *d = m->family_data;
    return (size_t)B * d->E * ((size_t)(d->K - 1) + d->S);
}
static size_t state_floats(const ll_model *m, int B) { return (size_t)m->cfg.n_layer * layer_state(m, B); }

#define NEED LL_NEED

static int forward_mamba(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B,
                         int T, ll_capture *cap, float *st, float *logits) {
    NEED(conv1d_silu); NEED(selective_scan); NEED(rmsnorm); NEED(linear); NEED(embedding); NEED(add); NEED(copy2d);
    const ll_model_config *c = &m->cfg;
    mamba_data *d = m->family_data;
    const int L = c->n_layer;
    const int64_t C = c->d_model, E = d->E, S = d->S, R = d->R, K = d->K, V = c->vocab;
    const int64_t N = (int64_t)B * T, W = R + 2 * S;
    const float eps = (float)c->norm_eps;
    const ll_weight *head = d->head.data ? &d->head : &m->embed; /* HF Mamba ties by default */
    size_t off = 0;
    LL_CARVE(off, h, N * C); LL_CARVE(off, x, N * C); LL_CARVE(off, xz, N * 2 * E); LL_CARVE(off, u, N * E);
    LL_CARVE(off, dbc, N * W); LL_CARVE(off, dtin, N * R); LL_CARVE(off, dt, N * E); LL_CARVE(off, y, N * E);
    LL_CARVE(off, o, N * C); LL_CARVE(off, lg, logits ? N * V : 0); LL_CARVE(off, ids, N);
    char *ws = ll_model_workspace(m, ops, ctx, off);
    if (!ws) return -1;
    float *h = (float *)(ws + o_h), *x = (float *)(ws + o_x), *xz = (float *)(ws + o_xz), *u = (float *)(ws + o_u),
          *dbc = (float *)(ws + o_dbc), *dtin = (float *)(ws + o_dtin), *dt = (float *)(ws + o_dt),
          *y = (float *)(ws + o_y), *o = (float *)(ws + o_o), *lg = (float *)(ws + o_lg);
    int32_t *d_ids = (int32_t *)(ws + o_ids);
    const size_t NC = (size_t)N * C;

    ll_model_upload_ids(ops, ctx, d_ids, tokens, lens, B, T);
    const int from_prev = ll_model_stage_begin(m, ops, ctx, h, (size_t)N * (size_t)C);
    if (from_prev < 0) return -1;
    if (!from_prev) {
        ops->embedding(ctx, h, &m->embed, d_ids, (int)N, 0);
        if (ll_ssm_emit_embeddings(m, ops, ctx, cap, h, tokens, lens, B, T)) return -1;
    }

    ll_sscan_params sp;
    memset(&sp, 0, sizeof sp);
    sp.y = y; sp.u = u; sp.dt_raw = dt; sp.Bm = dbc + R; sp.Cm = dbc + R + S; sp.bc_rs = W;
    sp.z = xz + E; sp.z_rs = 2 * E;
    sp.B = B; sp.T = T; sp.E = (int)E; sp.S = (int)S;
    for (int l = m->stage_first; l < m->stage_end; l++) {
        const mamba_layer *ly = &d->layers[l];
        float *s_conv = st ? st + (size_t)l * layer_state(m, B) : NULL;
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
        if (ll_ssm_emit_block(m, ops, ctx, cap, l, h, tokens, lens, B, T)) return -1;
        LL_STAGE_AFTER(l, h, (size_t)N * (size_t)C);
    }
    ops->rmsnorm(ctx, x, h, m->norm_w.data, (int)N, (int)C, eps);
    if (ll_model_emit(m, ops, ctx, cap, L, x, tokens, lens, B, T)) return -1;
    if (logits && ll_ssm_logits(m, ops, ctx, head, x, (int)N, lg, logits)) return -1;
    return ops->sync ? ops->sync(ctx) : 0;
}

/* Cost (family.h): per block in_proj, x_proj, dt_proj, out_proj products,
 * the depthwise conv (K multiply-adds per channel) and the selective scan as
 * 2 multiply-adds per state element (state update and readout): 4 E S;
 * entry mapping of ssm_common.h, norm_f folded into the last entry. */
static int cost_mamba(const ll_model *m, int T, ll_cost *pe) {
    const ll_model_config *c = &m->cfg;
    const mamba_data *d = m->family_data;
    const double C = c->d_model, E = d->E, S = d->S, R = d->R, K = d->K;
    const int L = c->n_layer;
    pe[0].weight_bytes += ll_weight_bytes(&m->embed);
    pe[0].act_bytes += 4 * C;
    for (int l = 0; l < L; l++) {
        const mamba_layer *y = &d->layers[l];
        ll_cost *e = &pe[ll_ssm_cost_entry(m, l)];
        e->flops += 2 * (C * 2 * E + E * (R + 2 * S) + R * E + E * C) + 2 * E * K + 4 * E * S;
        const ll_weight *ws[] = {&y->norm_w, &y->in_proj, &y->in_proj_b, &y->conv_w, &y->conv_b, &y->x_proj,
                                 &y->dt_proj, &y->dt_proj_b, &y->A_log, &y->D, &y->out_proj, &y->out_proj_b};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) e->weight_bytes += ll_weight_bytes(ws[i]);
        e->act_bytes += 4 * (2 * E + E + (R + 2 * S) + E + E + C); /* in_proj, conv, x_proj, dt_proj, scan, out_proj */
    }
    pe[L].weight_bytes += ll_weight_bytes(&m->norm_w);
    pe[L].act_bytes += 4 * C;
    return 0;
}

static void describe_mamba(const ll_model *m, cJSON *j) {
    const mamba_data *d = m->family_data;
    cJSON_AddNumberToObject(j, "state_size", d->S);
    cJSON_AddNumberToObject(j, "conv_kernel", d->K);
    cJSON_AddNumberToObject(j, "intermediate_size", d->E);
    cJSON_AddNumberToObject(j, "time_step_rank", d->R);
}

static const ll_family_state mamba_state = {state_floats, NULL};

/* ---- GGUF (llama.cpp's MambaModel) ---- */
static int gguf_config_mamba(const ll_gguf *g, cJSON *cfg) {
    static const char *const keys[][2] = {{"ssm.state_size", "state_size"}, {"ssm.conv_kernel", "conv_kernel"},
                                          {"ssm.inner_size", "intermediate_size"},
                                          {"ssm.time_step_rank", "time_step_rank"}};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        int64_t v;
        int rc = ll_gguf_arch_int(g, keys[k][0], 0, &v, 1);
        if (rc) return -1;
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, keys[k][1]);
        cJSON_AddNumberToObject(cfg, keys[k][1], (double)v);
    }
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(cfg, "rms_norm_eps");
    if (eps) cJSON_AddNumberToObject(cfg, "layer_norm_epsilon", eps->valuedouble);
    cJSON_AddBoolToObject(cfg, "use_bias", ll_gguf_has_tensor(g, "blk.0.ssm_in.bias"));
    cJSON_AddBoolToObject(cfg, "use_conv_bias", ll_gguf_has_tensor(g, "blk.0.ssm_conv1d.bias"));
    return 0;
}

const ll_family ll_family_mamba = {
    .gguf_config = gguf_config_mamba,
    .gguf_fixup = ll_ssm_gguf_fixup,
    .model_type = "mamba",
    .layer_split = 1,
    .entry_of_layer = ll_ssm_cost_entry,
    .gguf_arch = "mamba",
    .roles = roles,
    .n_roles = N_ROLES,
    .hf_prefix = "backbone.",
    .parse_config = parse_mamba,
    .bind = bind_mamba,
    .forward = forward_mamba,
    .state = &mamba_state,
    .describe = describe_mamba,
    .cost = cost_mamba,
    .set_embedding_entry = ll_ssm_family_set_embed_entry,
};
