/* Mamba-2 (HF Mamba2Model) against the op table.
 *
 * Dimension letters: N = B·T rows, C hidden size, E inner size (= NH·P),
 * NH heads of P channels, S state size, G groups, K conv kernel, L layers.
 *
 * Block (Mamba2Block, residual_in_fp32 — all fp32 here):
 *   x = RMSNorm(h);  [z | xBC | dt] = in_proj(x)          [N, E + (E + 2GS) + NH]
 *   xBC = silu(causal depthwise conv1d(xBC))              [N, E + 2GS]
 *   y = SSD scan(x = xBC[:E], B, C, dt, A = −exp(A_log), D)  (ll_ssd_params)
 *   y = group-RMSNorm(y ⊙ silu(z)) · norm.weight          (MambaRMSNormGated, G groups)
 *   h = h + out_proj(y)
 * Entries as HF gives them (ssm_common.h): block outputs, then norm_f of the
 * last (set_embedding_entry: the transformer-style convention).  No
 * recurrent state or LM head here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "families/ssm_common.h"
#include "model/model.h"

typedef struct {
    ll_weight norm_w, in_proj, in_proj_b, conv_w, conv_b, dt_bias, A_log, D, gnorm_w, out_proj, out_proj_b;
} mamba2_layer;

typedef struct {
    ll_ssm_common common;
    int S, K, E, NH, P, G;
    int use_bias, use_conv_bias;
    float dt_min, dt_max;
    mamba2_layer layers[];
} mamba2_data;

enum { R_EMB, R_NORM_F, R_HEAD, R_NORM, R_IN, R_IN_B, R_CONV, R_CONV_B, R_DT_B, R_A, R_D, R_GNORM, R_OUT, R_OUT_B,
       N_ROLES };
static const ll_tensor_role roles[N_ROLES] = {
    [R_EMB] = {"token_embd", "embeddings.weight", "token_embd.weight"},
    [R_NORM_F] = {"output_norm", "norm_f.weight", "output_norm.weight"},
    [R_HEAD] = {"output", "lm_head.weight", "output.weight", 1},
    [R_NORM] = {"attn_norm", "layers.%d.norm.weight", "blk.%d.attn_norm.weight"},
    [R_IN] = {"ssm_in", "layers.%d.mixer.in_proj.weight", "blk.%d.ssm_in.weight"},
    [R_IN_B] = {"ssm_in_b", "layers.%d.mixer.in_proj.bias", "blk.%d.ssm_in.bias"},
    [R_CONV] = {"ssm_conv1d", "layers.%d.mixer.conv1d.weight", "blk.%d.ssm_conv1d.weight"},
    [R_CONV_B] = {"ssm_conv1d_b", "layers.%d.mixer.conv1d.bias", "blk.%d.ssm_conv1d.bias"},
    [R_DT_B] = {"ssm_dt_b", "layers.%d.mixer.dt_bias", "blk.%d.ssm_dt.bias"},
    [R_A] = {"ssm_a", "layers.%d.mixer.A_log", "blk.%d.ssm_a"},
    [R_D] = {"ssm_d", "layers.%d.mixer.D", "blk.%d.ssm_d"},
    [R_GNORM] = {"ssm_norm", "layers.%d.mixer.norm.weight", "blk.%d.ssm_norm.weight"},
    [R_OUT] = {"ssm_out", "layers.%d.mixer.out_proj.weight", "blk.%d.ssm_out.weight"},
    [R_OUT_B] = {"ssm_out_b", "layers.%d.mixer.out_proj.bias", "blk.%d.ssm_out.bias"},
};

static int parse_mamba2(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    c->d_model = ll_cfg_size(r, "hidden_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_layer = ll_cfg_size(r, "num_hidden_layers", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_LAYERS);
    c->vocab = ll_cfg_size(r, "vocab_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_VOCAB);
    const int S = ll_cfg_size(r, "state_size", NULL, 128, 1, 1 << 16);
    const int K = ll_cfg_size(r, "conv_kernel", NULL, 4, 1, 1 << 16);
    const int expand = ll_cfg_size(r, "expand", NULL, 2, 1, 1 << 16);
    const int NH = ll_cfg_size(r, "num_heads", NULL, 128, 1, LL_CFG_MAX_DIM);
    const int P = ll_cfg_size(r, "head_dim", NULL, 64, 1, LL_CFG_MAX_DIM);
    const int G = ll_cfg_size(r, "n_groups", NULL, 8, 1, LL_CFG_MAX_DIM);
    if (ll_cfg_ok(r)) return -1;
    const int64_t E = (int64_t)expand * c->d_model;
    if (E != (int64_t)NH * P)
        return ll_cfg_fail(r, "expand %d x hidden_size %d != num_heads %d x head_dim %d", expand, c->d_model, NH, P);
    if (NH % G || E % G) return ll_cfg_fail(r, "num_heads %d not a multiple of n_groups %d", NH, G);
    if (!ll_cfg_bool(r, "rms_norm", 1)) return ll_cfg_fail(r, "'rms_norm' false is not supported");
    if (ll_cfg_bool(r, "norm_before_gate", 0)) return ll_cfg_fail(r, "'norm_before_gate' true is not supported");
    c->d_ff = (int)E;
    c->norm = LL_NORM_RMSNORM;
    c->norm_eps = ll_cfg_num(r, NULL, "layer_norm_epsilon", 1e-5);
    c->tie_embeddings = ll_cfg_bool(r, "tie_word_embeddings", 0);
    float dmin = 0.0f, dmax = INFINITY;
    cJSON *lim = ll_cfg_item(r, "time_step_limit");
    if (cJSON_IsArray(lim) && cJSON_GetArraySize(lim) == 2) {
        cJSON *a = cJSON_GetArrayItem(lim, 0), *b = cJSON_GetArrayItem(lim, 1);
        if (cJSON_IsNumber(a)) dmin = (float)a->valuedouble;
        if (cJSON_IsNumber(b)) dmax = (float)b->valuedouble; /* {"__float__": "Infinity"} or null: no upper limit */
    }
    mamba2_data *d = ll_xcalloc(1, sizeof *d + (size_t)c->n_layer * sizeof(mamba2_layer));
    d->S = S; d->K = K; d->E = (int)E; d->NH = NH; d->P = P; d->G = G;
    d->use_bias = ll_cfg_bool(r, "use_bias", 0);
    d->use_conv_bias = ll_cfg_bool(r, "use_conv_bias", 1);
    d->dt_min = dmin; d->dt_max = dmax;
    m->family_data = d;
    return ll_cfg_ok(r);
}

static int bind_mamba2(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    mamba2_data *d = m->family_data;
    const int64_t C = c->d_model, E = d->E, S = d->S, K = d->K, V = c->vocab, NH = d->NH, G = d->G;
    const int64_t CD = E + 2 * G * S, PW = E + CD + NH;
    if (ll_bind(ld, &m->embed, &roles[R_EMB], -1, SHAPE2(V, C), 0) ||
        ll_bind(ld, &m->norm_w, &roles[R_NORM_F], -1, SHAPE1(C), 0))
        return -1;
    for (int l = 0; l < c->n_layer; l++) {
        mamba2_layer *y = &d->layers[l];
#define W(dst, role, ...) ll_bind(ld, &y->dst, &roles[role], l, __VA_ARGS__)
        if (W(norm_w, R_NORM, SHAPE1(C), 0) || W(in_proj, R_IN, SHAPE2(PW, C), 0) ||
            (d->use_bias && W(in_proj_b, R_IN_B, SHAPE1(PW), 0)) || W(conv_w, R_CONV, SHAPE3(CD, 1, K), LL_LOAD_F32) ||
            (d->use_conv_bias && W(conv_b, R_CONV_B, SHAPE1(CD), 0)) || W(dt_bias, R_DT_B, SHAPE1(NH), 0) ||
            W(A_log, R_A, SHAPE1(NH), 0) || W(D, R_D, SHAPE1(NH), 0) || W(gnorm_w, R_GNORM, SHAPE1(E), 0) ||
            W(out_proj, R_OUT, SHAPE2(C, E), 0) || (d->use_bias && W(out_proj_b, R_OUT_B, SHAPE1(C), 0)))
            return -1;
#undef W
    }
    return 0;
}

static int harmless_mamba2(const char *name) { return !strcmp(name, "lm_head.weight"); }

#define NEED LL_NEED

static int forward_mamba2(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B,
                          int T, ll_capture *cap, float *st, float *logits) {
    const ll_model_config *c = &m->cfg;
    if (st || logits) {
        ll_set_error("%s: mamba2 models have no recurrent state or LM head here", m->dir);
        return -1;
    }
    NEED(conv1d_silu); NEED(ssd_scan); NEED(rmsnorm); NEED(linear); NEED(embedding); NEED(add);
    mamba2_data *d = m->family_data;
    const int L = c->n_layer;
    const int64_t C = c->d_model, E = d->E, S = d->S, K = d->K, NH = d->NH, G = d->G;
    const int64_t CD = E + 2 * G * S, PW = E + CD + NH, N = (int64_t)B * T;
    const float eps = (float)c->norm_eps;
    size_t off = 0;
    LL_CARVE(off, h, N * C); LL_CARVE(off, x, N * C); LL_CARVE(off, zxd, N * PW); LL_CARVE(off, u, N * CD);
    LL_CARVE(off, y, N * E); LL_CARVE(off, o, N * C); LL_CARVE(off, ids, N);
    char *ws = ll_model_workspace(m, ops, ctx, off);
    if (!ws) return -1;
    float *h = (float *)(ws + o_h), *x = (float *)(ws + o_x), *zxd = (float *)(ws + o_zxd), *u = (float *)(ws + o_u),
          *y = (float *)(ws + o_y), *o = (float *)(ws + o_o);
    int32_t *d_ids = (int32_t *)(ws + o_ids);
    ll_model_upload_ids(ops, ctx, d_ids, tokens, lens, B, T);
    const int from_prev = ll_model_stage_begin(m, ops, ctx, h, (size_t)N * (size_t)C);
    if (from_prev < 0) return -1;
    if (!from_prev) {
        ops->embedding(ctx, h, &m->embed, d_ids, (int)N, 0);
        if (ll_ssm_emit_embeddings(m, ops, ctx, cap, h, tokens, lens, B, T)) return -1;
    }
    ll_ssd_params sp;
    memset(&sp, 0, sizeof sp);
    sp.y = y;
    sp.x = u; sp.x_rs = CD;
    sp.Bm = u + E; sp.Cm = u + E + G * S; sp.bc_rs = CD;
    sp.dt = zxd + E + CD; sp.dt_rs = PW;
    sp.z = zxd; sp.z_rs = PW;
    sp.dt_min = d->dt_min; sp.dt_max = d->dt_max;
    sp.norm_eps = eps; sp.norm_groups = (int)G;
    sp.B = B; sp.T = T; sp.NH = (int)NH; sp.P = d->P; sp.N = (int)S; sp.G = (int)G;
    for (int l = m->stage_first; l < m->stage_end; l++) {
        const mamba2_layer *ly = &d->layers[l];
        ops->rmsnorm(ctx, x, h, ly->norm_w.data, (int)N, (int)C, eps);
        ops->linear(ctx, zxd, x, &ly->in_proj, ly->in_proj_b.data, (int)N);
        ops->conv1d_silu(ctx, u, zxd + E, PW, ly->conv_w.data, ly->conv_b.data, NULL, B, T, (int)CD, (int)K);
        sp.dt_bias = ly->dt_bias.data; sp.A_log = ly->A_log.data; sp.D = ly->D.data; sp.norm_w = ly->gnorm_w.data;
        ops->ssd_scan(ctx, &sp);
        ops->linear(ctx, o, y, &ly->out_proj, ly->out_proj_b.data, (int)N);
        ops->add(ctx, h, h, o, (size_t)(N * C));
        if (ll_ssm_emit_block(m, ops, ctx, cap, l, h, tokens, lens, B, T)) return -1;
        LL_STAGE_AFTER(l, h, (size_t)N * (size_t)C);
    }
    ops->rmsnorm(ctx, x, h, m->norm_w.data, (int)N, (int)C, eps);
    if (ll_model_emit(m, ops, ctx, cap, L, x, tokens, lens, B, T)) return -1;
    return ops->sync ? ops->sync(ctx) : 0;
}

/* Cost: in_proj and out_proj products, the depthwise conv, the scan as
 * 2 multiply-adds per state element (update and readout): 4 E S, the gated
 * norm folded in; entry mapping of ssm_common.h. */
static int cost_mamba2(const ll_model *m, int T, ll_cost *pe) {
    (void)T;
    const ll_model_config *c = &m->cfg;
    const mamba2_data *d = m->family_data;
    const double C = c->d_model, E = d->E, S = d->S, K = d->K, NH = d->NH, G = d->G;
    const double CD = E + 2 * G * S, PW = E + CD + NH;
    const int L = c->n_layer;
    pe[0].weight_bytes += ll_weight_bytes(&m->embed);
    pe[0].act_bytes += 4 * C;
    for (int l = 0; l < L; l++) {
        const mamba2_layer *y = &d->layers[l];
        ll_cost *e = &pe[ll_ssm_cost_entry(m, l)];
        e->flops += 2 * (C * PW + E * C) + 2 * CD * K + 4 * E * S;
        const ll_weight *ws[] = {&y->norm_w, &y->in_proj, &y->in_proj_b, &y->conv_w, &y->conv_b, &y->dt_bias,
                                 &y->A_log, &y->D, &y->gnorm_w, &y->out_proj, &y->out_proj_b};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) e->weight_bytes += ll_weight_bytes(ws[i]);
        e->act_bytes += 4 * (PW + CD + E + C);
    }
    pe[L].weight_bytes += ll_weight_bytes(&m->norm_w);
    pe[L].act_bytes += 4 * C;
    return 0;
}

static void describe_mamba2(const ll_model *m, cJSON *j) {
    const mamba2_data *d = m->family_data;
    cJSON_AddNumberToObject(j, "state_size", d->S);
    cJSON_AddNumberToObject(j, "num_heads", d->NH);
    cJSON_AddNumberToObject(j, "head_dim", d->P);
    cJSON_AddNumberToObject(j, "n_groups", d->G);
    cJSON_AddNumberToObject(j, "conv_kernel", d->K);
    cJSON_AddBoolToObject(j, "embedding_entry", ll_ssm_embed_entry(m));
}

/* ---- GGUF (llama.cpp's Mamba2Model) ---- */
static int gguf_config_mamba2(const ll_gguf *g, cJSON *cfg) {
    int64_t S, K, E, NH, G, C;
    if (ll_gguf_arch_int(g, "ssm.state_size", 0, &S, 1) || ll_gguf_arch_int(g, "ssm.conv_kernel", 0, &K, 1) ||
        ll_gguf_arch_int(g, "ssm.inner_size", 0, &E, 1) || ll_gguf_arch_int(g, "ssm.time_step_rank", 0, &NH, 1) ||
        ll_gguf_arch_int(g, "ssm.group_count", 1, &G, 0) < 0 || ll_gguf_arch_int(g, "embedding_length", 0, &C, 1))
        return -1;
    if (NH <= 0 || C <= 0 || E % NH || E % C) {
        ll_set_error("%s: ssm.inner_size %lld does not split into %lld heads / embedding_length %lld", g->path,
                     (long long)E, (long long)NH, (long long)C);
        return -1;
    }
    cJSON_AddNumberToObject(cfg, "state_size", (double)S);
    cJSON_AddNumberToObject(cfg, "conv_kernel", (double)K);
    cJSON_AddNumberToObject(cfg, "num_heads", (double)NH);
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "head_dim");
    cJSON_AddNumberToObject(cfg, "head_dim", (double)(E / NH));
    cJSON_AddNumberToObject(cfg, "expand", (double)(E / C));
    cJSON_AddNumberToObject(cfg, "n_groups", (double)G);
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(cfg, "rms_norm_eps");
    if (eps) cJSON_AddNumberToObject(cfg, "layer_norm_epsilon", eps->valuedouble);
    cJSON_AddBoolToObject(cfg, "use_bias", ll_gguf_has_tensor(g, "blk.0.ssm_in.bias"));
    cJSON_AddBoolToObject(cfg, "use_conv_bias", ll_gguf_has_tensor(g, "blk.0.ssm_conv1d.bias"));
    return 0;
}

/* as mamba, and A [NH, 1], D [NH, 1], the group norm [G, E/G] flat again */
static int gguf_fixup_mamba2(const ll_gguf *g, ll_safetensors *st) {
    if (ll_ssm_gguf_fixup(g, st)) return -1;
    for (int i = 0; i < st->n_tensors; i++) {
        ll_st_tensor *t = &st->tensors[i];
        const char *s = ll_gguf_layer_suffix(t->name, NULL);
        if (s && (!strcmp(s, "ssm_a") || !strcmp(s, "ssm_d") || !strcmp(s, "ssm_norm.weight")) && t->ndim == 2) {
            t->ndim = 1;
            t->shape[0] = t->numel;
            t->shape[1] = 0;
        }
    }
    return 0;
}

const ll_family ll_family_mamba2 = {
    .gguf_config = gguf_config_mamba2,
    .gguf_fixup = gguf_fixup_mamba2,
    .model_type = "mamba2",
    .layer_split = 1,
    .entry_of_layer = ll_ssm_cost_entry,
    .gguf_arch = "mamba2",
    .roles = roles,
    .n_roles = N_ROLES,
    .hf_prefix = "backbone.",
    .harmless = harmless_mamba2,
    .parse_config = parse_mamba2,
    .bind = bind_mamba2,
    .forward = forward_mamba2,
    .describe = describe_mamba2,
    .cost = cost_mamba2,
    .set_embedding_entry = ll_ssm_family_set_embed_entry,
};
