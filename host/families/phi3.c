/* Phi-3 (HF Phi3Model): Llama-like (RMSNorm, GQA, SwiGLU) with ONE fused
 * qkv_proj [Q + 2·KV, C] (rows q | k | v) and ONE fused gate_up_proj [2F, C]
 * (rows gate | up), both without biases, and RoPE with optional "longrope"
 * scaling ("su" in older hub configs): inv_freq_i = 1 / (ext_i · θ^(2i/dim))
 * with ext = short_factor, or long_factor when THE SEQUENCE is longer than
 * original_max_position_embeddings (chosen per sequence, as HF does for a
 * sequence run alone — the authors' pipeline; HF's padded batch would decide
 * by the padded length, making a sequence's states depend on its batch), and
 * cos/sin multiplied by attention_factor (default
 * sqrt(1 + ln(max_pos/orig) / ln(orig)) when max_pos > orig).  With the whole
 * head rotating, that equals multiplying the attention scale by
 * attention_factor²; partial rotary with an attention factor != 1 is
 * rejected. */
#include <math.h>
#include <string.h>
#include "core/ll_util.h"
#include "families/tf_blocks.h"

enum { R_EMB, R_NORM, R_LN1, R_LN2, R_QKV, R_O, R_GATE_UP, R_DOWN, R_HEAD, N_ROLES };
static const ll_tensor_role roles[N_ROLES] = {
    [R_EMB] = {"token_embd", "embed_tokens.weight", "token_embd.weight"},
    [R_NORM] = {"output_norm", "norm.weight", "output_norm.weight"},
    [R_LN1] = {"attn_norm", "layers.%d.input_layernorm.weight", "blk.%d.attn_norm.weight"},
    [R_LN2] = {"ffn_norm", "layers.%d.post_attention_layernorm.weight", "blk.%d.ffn_norm.weight"},
    [R_QKV] = {"attn_qkv", "layers.%d.self_attn.qkv_proj.weight", "blk.%d.attn_qkv.weight"},
    [R_O] = {"attn_output", "layers.%d.self_attn.o_proj.weight", "blk.%d.attn_output.weight"},
    [R_GATE_UP] = {"ffn_up", "layers.%d.mlp.gate_up_proj.weight", "blk.%d.ffn_up.weight"},
    [R_DOWN] = {"ffn_down", "layers.%d.mlp.down_proj.weight", "blk.%d.ffn_down.weight"},
    [R_HEAD] = {"output", "lm_head.weight", "output.weight", 1},
};

static const ll_tf_spec spec = {LL_TF_QKV_SEPARATE, LL_TF_FFN_GATED, 0};

#define MAX_FACTORS 4096
typedef struct {
    int longrope;
    int orig_max;           /* original_max_position_embeddings */
    double attn_factor;
    int n_factors;          /* rotary_dims / 2 */
    double short_f[MAX_FACTORS], long_f[MAX_FACTORS];
    ll_weight inv_short, inv_long; /* [rotary_dims/2] F32 scratch */
    ll_weight gate_up;      /* fused, per layer views below point into it */
} phi3_data;

static int read_factors(ll_config *r, cJSON *sc, const char *key, double *out, int n) {
    cJSON *a = cJSON_GetObjectItemCaseSensitive(sc, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return ll_cfg_fail(r, "'rope_scaling.%s' must be an array of %d numbers (rotary dims / 2)", key, n);
    int i = 0;
    cJSON *x;
    cJSON_ArrayForEach(x, a) {
        if (!cJSON_IsNumber(x) || !(x->valuedouble > 0) || !isfinite(x->valuedouble))
            return ll_cfg_fail(r, "'rope_scaling.%s[%d]' must be a positive number", key, i);
        out[i++] = x->valuedouble;
    }
    return 0;
}

static int parse_phi3(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    c->d_model = ll_cfg_size(r, "hidden_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_layer = ll_cfg_size(r, "num_hidden_layers", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_LAYERS);
    c->n_head = ll_cfg_size(r, "num_attention_heads", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_kv_head = ll_cfg_size(r, "num_key_value_heads", NULL, c->n_head, 1, LL_CFG_MAX_DIM);
    c->d_ff = ll_cfg_size(r, "intermediate_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->vocab = ll_cfg_size(r, "vocab_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_VOCAB);
    c->max_pos = ll_cfg_size(r, "max_position_embeddings", NULL, 0, 0, INT32_MAX);
    c->norm = LL_NORM_RMSNORM;
    c->norm_eps = ll_cfg_num(r, NULL, "rms_norm_eps", 1e-5);
    c->tie_embeddings = ll_cfg_bool(r, "tie_word_embeddings", 0);
    c->sliding_window = 0; /* HF Phi3 applies sliding_window only with flash/sdpa masks of long inputs; not read */
    if (ll_cfg_act(r, "hidden_act", "silu", &c->act)) return -1;
    if (ll_tf_heads(m, r)) return -1;
    phi3_data *fd = ll_xcalloc(1, sizeof *fd);
    m->family_data = fd;
    fd->attn_factor = 1.0;
    /* the scaling object: v5 rope_parameters or v4/hub rope_scaling */
    cJSON *sc = ll_cfg_item(r, "rope_parameters");
    if (!sc) sc = ll_cfg_item(r, "rope_scaling");
    cJSON *ty = sc && cJSON_IsObject(sc) ? cJSON_GetObjectItemCaseSensitive(sc, "rope_type") : NULL;
    if (sc && cJSON_IsObject(sc) && (!ty || cJSON_IsNull(ty))) ty = cJSON_GetObjectItemCaseSensitive(sc, "type");
    const char *tys = cJSON_IsString(ty) ? ty->valuestring : "default";
    if (!strcmp(tys, "longrope") || !strcmp(tys, "su") || !strcmp(tys, "yarn")) {
        /* the shared RoPE reader does not know longrope: give it a copy without the type */
        cJSON *dup = cJSON_Duplicate(r->root, 1);
        cJSON *dsc = cJSON_GetObjectItemCaseSensitive(dup, sc == ll_cfg_item(r, "rope_parameters") ? "rope_parameters"
                                                                                                   : "rope_scaling");
        cJSON_DeleteItemFromObjectCaseSensitive(dsc, "rope_type");
        cJSON_DeleteItemFromObjectCaseSensitive(dsc, "type");
        ll_config r2 = {dup, r->path, 0};
        int rc = ll_tf_rope(m, &r2, 1.0, 10000.0);
        cJSON_Delete(dup);
        if (rc) { r->err = 1; return -1; }
        fd->longrope = 1;
        fd->n_factors = c->rotary_dims / 2;
        if (fd->n_factors > MAX_FACTORS) return ll_cfg_fail(r, "%d rotary dims are too many", c->rotary_dims);
        if (read_factors(r, sc, "short_factor", fd->short_f, fd->n_factors) ||
            read_factors(r, sc, "long_factor", fd->long_f, fd->n_factors))
            return -1;
        double orig = ll_cfg_num(r, sc, "original_max_position_embeddings",
                                 ll_cfg_num(r, NULL, "original_max_position_embeddings", 0));
        if (!(orig >= 1 && orig <= 2e9)) return ll_cfg_fail(r, "longrope needs original_max_position_embeddings >= 1");
        fd->orig_max = (int)orig;
        double factor = ll_cfg_num(r, sc, "factor", c->max_pos > 0 ? (double)c->max_pos / orig : 1.0);
        double af = ll_cfg_num(r, sc, "attention_factor", NAN);
        if (isnan(af)) af = factor <= 1.0 ? 1.0 : sqrt(1.0 + log(factor) / log(orig));
        if (!(af > 0) || !isfinite(af)) return ll_cfg_fail(r, "longrope attention_factor %g (must be positive)", af);
        fd->attn_factor = af;
        if (af != 1.0 && c->rotary_dims != c->head_dim)
            return ll_cfg_fail(r, "longrope with partial rotary (%d of %d dims) and attention_factor %g is not supported",
                               c->rotary_dims, c->head_dim, af);
        /* cos, sin scaled by af on q and k: the scores by af² */
        c->attn_scale_mult = af * af;
        return ll_cfg_ok(r);
    }
    return ll_tf_rope(m, r, 1.0, 10000.0);
}

static int bind_phi3(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    phi3_data *fd = m->family_data;
    const int64_t C = c->d_model, F = c->d_ff, V = c->vocab, Q = (int64_t)c->n_head * c->head_dim,
                  KV = (int64_t)c->n_kv_head * c->head_dim;
    if (ll_bind(ld, &m->embed, &roles[R_EMB], -1, SHAPE2(V, C), 0) ||
        ll_bind(ld, &m->norm_w, &roles[R_NORM], -1, SHAPE1(C), 0))
        return -1;
    m->layers = ll_xcalloc(c->n_layer, sizeof(ll_tf_layer));
    for (int l = 0; l < c->n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        /* gate_up is kept whole in `up` until prepare splits it into gate | up views */
        if (ll_bind(ld, &y->ln1_w, &roles[R_LN1], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln2_w, &roles[R_LN2], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->qkv, &roles[R_QKV], l, SHAPE2(Q + 2 * KV, C), 0) ||
            ll_bind(ld, &y->o, &roles[R_O], l, SHAPE2(C, Q), 0) ||
            ll_bind(ld, &y->up, &roles[R_GATE_UP], l, SHAPE2(2 * F, C), 0) ||
            ll_bind(ld, &y->down, &roles[R_DOWN], l, SHAPE2(C, F), 0))
            return -1;
    }
    if (c->rotary_dims > 0) {
        ll_loader_scratch(ld, &m->inv_freq, c->rotary_dims / 2);
        if (fd->longrope) {
            ll_loader_scratch(ld, &fd->inv_short, c->rotary_dims / 2);
            ll_loader_scratch(ld, &fd->inv_long, c->rotary_dims / 2);
        }
    }
    return 0;
}

static size_t dtype_size(ll_dtype t) { return t == LL_DT_F32 ? 4 : 2; }

static int prepare_phi3(ll_model *m) {
    const ll_model_config *c = &m->cfg;
    phi3_data *fd = m->family_data;
    const int64_t F = c->d_ff, C = c->d_model;
    for (int l = 0; l < c->n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        if (!ll_model_layer_loaded(m, l)) continue; /* another stage's layer */
        const ll_weight gu = y->up;
        y->gate = (ll_weight){gu.data, gu.dtype, F, C};
        y->up = (ll_weight){(const char *)gu.data + (size_t)(F * C) * dtype_size(gu.dtype), gu.dtype, F, C};
        ll_model_add_slot(m, &y->gate);
        /* y->up was bound by the loader (a slot already); it now points at the second half */
    }
    if (c->rotary_dims > 0 && fd->longrope) {
        const int dim = c->rotary_dims, half = dim / 2;
        float *s = (float *)fd->inv_short.data, *lg = (float *)fd->inv_long.data;
        for (int i = 0; i < half; i++) {
            /* HF: 1 / (ext * base ** (arange(0, dim, 2).float() / dim)) in float32 */
            float e = (float)(2 * i) / (float)dim;
            float p = (float)pow((double)(float)c->rope_theta, (double)e);
            s[i] = 1.0f / ((float)fd->short_f[i] * p);
            lg[i] = 1.0f / ((float)fd->long_f[i] * p);
        }
        memcpy((void *)m->inv_freq.data, s, sizeof(float) * half);
        return 0;
    }
    return ll_tf_prepare_rope(m);
}

static int harmless_phi3(const char *name) {
    /* rope_factors_*: a GGUF file's longrope factors, already read into the config */
    return strstr(name, ".rotary_emb.inv_freq") != NULL || !strcmp(name, "lm_head.weight") ||
           !strncmp(name, "rope_factors_", 13);
}

static int forward_phi3(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                        ll_capture *cap, float *state, float *logits) {
    phi3_data *fd = m->family_data;
    if (fd->longrope && m->cfg.rotary_dims > 0) {
        /* per sequence, by its own length (the authors run every sequence
         * alone; HF's padded batch would take the long factors for all when
         * its longest sequence is long): views of the backend copies (slots
         * are rebased on upload) */
        ll_tf_spec s = spec;
        m->inv_freq.data = fd->inv_short.data;
        s.rope_alt = fd->inv_long.data;
        s.rope_alt_after = fd->orig_max;
        return ll_tf_forward(m, &s, ops, ctx, tokens, lens, B, T, cap, state, logits);
    }
    return ll_tf_forward(m, &spec, ops, ctx, tokens, lens, B, T, cap, state, logits);
}
static int cost_phi3(const ll_model *m, int T, ll_cost *pe) { return ll_tf_cost(m, &spec, T, pe); }

static void describe_phi3(const ll_model *m, cJSON *j) {
    const phi3_data *fd = m->family_data;
    ll_tf_describe(m, j);
    if (fd && fd->longrope) {
        cJSON_ReplaceItemInObject(j, "rope_scaling", cJSON_CreateString("longrope"));
        cJSON_AddNumberToObject(j, "original_max_position_embeddings", fd->orig_max);
        cJSON_AddNumberToObject(j, "rope_attention_factor", fd->attn_factor);
    }
}

/* ---- GGUF (llama.cpp's Phi3MiniModel; the fused qkv and gate_up are kept
 * as HF has them).  Longrope: the converter writes the factors as tensors
 * (rope_factors_long / _short, float32) and rope.scaling.original_context_length
 * / attn_factor; they become the rope_scaling object parse_phi3 reads. ---- */
static const ll_tensor_role gguf_roles_phi3[] = {
    {"rope_factors_long", "rope_factors_long.weight", "rope_factors_long.weight", 1},
    {"rope_factors_short", "rope_factors_short.weight", "rope_factors_short.weight", 1},
};

static cJSON *factors(const ll_gguf *g, const char *name) {
    const ll_gguf_tensor *t = ll_gguf_find_tensor(g, name);
    if (!t) return NULL;
    if (t->type != LL_GGML_F32 || t->n_dims != 1 || t->numel > MAX_FACTORS) {
        ll_set_error("%s: tensor '%s' must be a float32 vector of at most %d factors", g->path, name, MAX_FACTORS);
        return NULL;
    }
    cJSON *a = cJSON_CreateArray();
    const float *f = t->data;
    for (int64_t i = 0; i < t->numel; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(f[i]));
    return a;
}

static int gguf_config_phi3(const ll_gguf *g, cJSON *cfg) {
    cJSON_AddStringToObject(cfg, "hidden_act", "silu");
    const int has_l = ll_gguf_has_tensor(g, "rope_factors_long.weight"),
              has_s = ll_gguf_has_tensor(g, "rope_factors_short.weight");
    if (!has_l && !has_s) return 0;
    if (!has_l || !has_s) {
        ll_set_error("%s: longrope needs both rope_factors_long and rope_factors_short", g->path);
        return -1;
    }
    int64_t orig;
    double af;
    if (ll_gguf_arch_int(g, "rope.scaling.original_context_length", 0, &orig, 1) ||
        ll_gguf_arch_float(g, "rope.scaling.attn_factor", NAN, &af))
        return -1;
    cJSON *lf = factors(g, "rope_factors_long.weight"), *sf = lf ? factors(g, "rope_factors_short.weight") : NULL;
    if (!lf || !sf) {
        cJSON_Delete(lf);
        return -1;
    }
    cJSON *rs = cJSON_AddObjectToObject(cfg, "rope_scaling");
    cJSON_AddStringToObject(rs, "type", "longrope");
    cJSON_AddItemToObject(rs, "long_factor", lf);
    cJSON_AddItemToObject(rs, "short_factor", sf);
    cJSON_AddNumberToObject(rs, "original_max_position_embeddings", (double)orig);
    if (!isnan(af)) cJSON_AddNumberToObject(rs, "attention_factor", af);
    return 0;
}

const ll_family ll_family_phi3 = {
    .gguf_config = gguf_config_phi3,
    .gguf_roles = gguf_roles_phi3,
    .n_gguf_roles = 2,
    .model_type = "phi3",
    .layer_split = 1,
    .gguf_arch = "phi3",
    .roles = roles,
    .n_roles = N_ROLES,
    .hf_prefix = "model.",
    .harmless = harmless_phi3,
    .parse_config = parse_phi3,
    .bind = bind_phi3,
    .prepare = prepare_phi3,
    .forward = forward_phi3,
    .describe = describe_phi3,
    .cost = cost_phi3,
};
