/* Llama (HF LlamaModel): RMSNorm, separate q/k/v/o (GQA), RoPE with
 * linear / llama3 scaling, SwiGLU FFN; optional attention_bias and mlp_bias
 * (biases on q/k/v/o and on gate/up/down, as HF builds them).  The shared
 * pieces serve mistral.c and qwen2.c too (families/llama.h). */
#include "families/llama.h"
#include <string.h>
#include "core/ll_util.h"

enum { R_EMB, R_NORM, R_LN1, R_LN2, R_Q, R_K, R_V, R_Q_B, R_K_B, R_V_B, R_O, R_O_B, R_GATE, R_UP, R_DOWN, R_GATE_B,
       R_UP_B, R_DOWN_B, R_HEAD, N_ROLES };
const ll_tensor_role ll_llama_roles[N_ROLES] = {
    [R_EMB] = {"token_embd", "embed_tokens.weight", "token_embd.weight"},
    [R_NORM] = {"output_norm", "norm.weight", "output_norm.weight"},
    [R_LN1] = {"attn_norm", "layers.%d.input_layernorm.weight", "blk.%d.attn_norm.weight"},
    [R_LN2] = {"ffn_norm", "layers.%d.post_attention_layernorm.weight", "blk.%d.ffn_norm.weight"},
    [R_Q] = {"attn_q", "layers.%d.self_attn.q_proj.weight", "blk.%d.attn_q.weight"},
    [R_K] = {"attn_k", "layers.%d.self_attn.k_proj.weight", "blk.%d.attn_k.weight"},
    [R_V] = {"attn_v", "layers.%d.self_attn.v_proj.weight", "blk.%d.attn_v.weight"},
    [R_Q_B] = {"attn_q_b", "layers.%d.self_attn.q_proj.bias", "blk.%d.attn_q.bias"},
    [R_K_B] = {"attn_k_b", "layers.%d.self_attn.k_proj.bias", "blk.%d.attn_k.bias"},
    [R_V_B] = {"attn_v_b", "layers.%d.self_attn.v_proj.bias", "blk.%d.attn_v.bias"},
    [R_O] = {"attn_output", "layers.%d.self_attn.o_proj.weight", "blk.%d.attn_output.weight"},
    [R_O_B] = {"attn_output_b", "layers.%d.self_attn.o_proj.bias", "blk.%d.attn_output.bias"},
    [R_GATE] = {"ffn_gate", "layers.%d.mlp.gate_proj.weight", "blk.%d.ffn_gate.weight"},
    [R_UP] = {"ffn_up", "layers.%d.mlp.up_proj.weight", "blk.%d.ffn_up.weight"},
    [R_DOWN] = {"ffn_down", "layers.%d.mlp.down_proj.weight", "blk.%d.ffn_down.weight"},
    [R_GATE_B] = {"ffn_gate_b", "layers.%d.mlp.gate_proj.bias", "blk.%d.ffn_gate.bias"},
    [R_UP_B] = {"ffn_up_b", "layers.%d.mlp.up_proj.bias", "blk.%d.ffn_up.bias"},
    [R_DOWN_B] = {"ffn_down_b", "layers.%d.mlp.down_proj.bias", "blk.%d.ffn_down.bias"},
    [R_HEAD] = {"output", "lm_head.weight", "output.weight", 1},
};
_Static_assert(N_ROLES == LL_LLAMA_N_ROLES, "LL_LLAMA_N_ROLES");
const ll_tf_spec ll_llama_spec = {LL_TF_QKV_SEPARATE, LL_TF_FFN_GATED, 0};


int ll_llama_parse_common(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    c->d_model = ll_cfg_size(r, "hidden_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_layer = ll_cfg_size(r, "num_hidden_layers", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_LAYERS);
    c->n_head = ll_cfg_size(r, "num_attention_heads", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->n_kv_head = ll_cfg_size(r, "num_key_value_heads", NULL, c->n_head, 1, LL_CFG_MAX_DIM);
    c->d_ff = ll_cfg_size(r, "intermediate_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->vocab = ll_cfg_size(r, "vocab_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_VOCAB);
    c->max_pos = ll_cfg_size(r, "max_position_embeddings", NULL, 0, 0, INT32_MAX);
    c->norm = LL_NORM_RMSNORM;
    c->norm_eps = ll_cfg_num(r, NULL, "rms_norm_eps", 1e-6);
    c->qkv_bias = c->o_bias = ll_cfg_bool(r, "attention_bias", 0);
    c->mlp_bias = ll_cfg_bool(r, "mlp_bias", 0);
    c->tie_embeddings = ll_cfg_bool(r, "tie_word_embeddings", 1);
    return ll_cfg_act(r, "hidden_act", "silu", &c->act);
}

int ll_llama_finish(ll_model *m, ll_config *r) {
    if (ll_tf_heads(m, r)) return -1;
    return ll_tf_rope(m, r, 1.0, 10000.0);
}

static int parse_llama(ll_model *m, ll_config *r) {
    if (ll_llama_parse_common(m, r)) return -1;
    return ll_llama_finish(m, r);
}

int ll_llama_bind(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    const int64_t C = c->d_model, F = c->d_ff, V = c->vocab, Q = (int64_t)c->n_head * c->head_dim,
                  KV = (int64_t)c->n_kv_head * c->head_dim;
    if (ll_bind(ld, &m->embed, &ll_llama_roles[R_EMB], -1, SHAPE2(V, C), 0) ||
        ll_bind(ld, &m->norm_w, &ll_llama_roles[R_NORM], -1, SHAPE1(C), 0))
        return -1;
    /* biases: required when the config asks for them, never read otherwise
     * (HF builds those layers without them) */
    const int qb = c->qkv_bias, ob = c->o_bias, mb = c->mlp_bias;
    m->layers = ll_xcalloc(c->n_layer, sizeof(ll_tf_layer));
    for (int l = 0; l < c->n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        if (ll_bind(ld, &y->ln1_w, &ll_llama_roles[R_LN1], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->ln2_w, &ll_llama_roles[R_LN2], l, SHAPE1(C), 0) ||
            ll_bind(ld, &y->q, &ll_llama_roles[R_Q], l, SHAPE2(Q, C), 0) ||
            ll_bind(ld, &y->k, &ll_llama_roles[R_K], l, SHAPE2(KV, C), 0) ||
            ll_bind(ld, &y->v, &ll_llama_roles[R_V], l, SHAPE2(KV, C), 0) ||
            (qb && ll_bind(ld, &y->q_b, &ll_llama_roles[R_Q_B], l, SHAPE1(Q), 0)) ||
            (qb && ll_bind(ld, &y->k_b, &ll_llama_roles[R_K_B], l, SHAPE1(KV), 0)) ||
            (qb && ll_bind(ld, &y->v_b, &ll_llama_roles[R_V_B], l, SHAPE1(KV), 0)) ||
            ll_bind(ld, &y->o, &ll_llama_roles[R_O], l, SHAPE2(C, Q), 0) ||
            (ob && ll_bind(ld, &y->o_b, &ll_llama_roles[R_O_B], l, SHAPE1(C), 0)) ||
            ll_bind(ld, &y->gate, &ll_llama_roles[R_GATE], l, SHAPE2(F, C), 0) ||
            ll_bind(ld, &y->up, &ll_llama_roles[R_UP], l, SHAPE2(F, C), 0) ||
            ll_bind(ld, &y->down, &ll_llama_roles[R_DOWN], l, SHAPE2(C, F), 0) ||
            (mb && ll_bind(ld, &y->gate_b, &ll_llama_roles[R_GATE_B], l, SHAPE1(F), 0)) ||
            (mb && ll_bind(ld, &y->up_b, &ll_llama_roles[R_UP_B], l, SHAPE1(F), 0)) ||
            (mb && ll_bind(ld, &y->down_b, &ll_llama_roles[R_DOWN_B], l, SHAPE1(C), 0)))
            return -1;
    }
    if (c->rotary_dims > 0) ll_loader_scratch(ld, &m->inv_freq, c->rotary_dims / 2);
    return 0;
}

int ll_llama_prepare(ll_model *m) {
    ll_tf_prepare_rope(m);
    ll_tf_fuse_qkv(m);
    return 0;
}

/* Rotary caches of older checkpoints and the LM head. */
int ll_llama_harmless(const char *name) {
    return strstr(name, ".rotary_emb.inv_freq") != NULL || !strcmp(name, "lm_head.weight");
}

int ll_llama_forward(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                     ll_capture *cap, float *state, float *logits) {
    return ll_tf_forward(m, &ll_llama_spec, ops, ctx, tokens, lens, B, T, cap, state, logits);
}
int ll_llama_cost(const ll_model *m, int T, ll_cost *pe) { return ll_tf_cost(m, &ll_llama_spec, T, pe); }

/* ---- GGUF (llama.cpp's LlamaModel) ---- */
int ll_llama_gguf_config(const ll_gguf *g, cJSON *cfg) {
    cJSON_AddStringToObject(cfg, "hidden_act", "silu");
    /* no bias flag in the metadata: the tensors the file carries are the
     * flag, as llama.cpp's loader treats them (optional tensors) */
    cJSON_AddBoolToObject(cfg, "attention_bias", ll_gguf_has_tensor(g, "blk.0.attn_q.bias"));
    cJSON_AddBoolToObject(cfg, "mlp_bias", ll_gguf_has_tensor(g, "blk.0.ffn_up.bias"));
    return 0;
}

/* the converter permutes q and k rows (LlamaModel.permute) for ggml's rope */
static int gguf_fixup_llama(const ll_gguf *g, ll_safetensors *st) {
    int64_t H, KV;
    if (ll_gguf_arch_int(g, "attention.head_count", 0, &H, 1) ||
        ll_gguf_arch_int(g, "attention.head_count_kv", H, &KV, 0))
        return -1;
    if (H <= 0 || H > 1 << 20) {
        ll_set_error("%s: attention.head_count %lld is out of range", g->path, (long long)H);
        return -1;
    }
    if (KV <= 0 || KV > H) KV = H;
    for (int i = 0; i < st->n_tensors; i++) {
        ll_st_tensor *t = &st->tensors[i];
        const char *s = ll_gguf_layer_suffix(t->name, NULL);
        int nh = !s ? 0
                 : (!strcmp(s, "attn_q.weight") || !strcmp(s, "attn_q.bias")) ? (int)H
                 : (!strcmp(s, "attn_k.weight") || !strcmp(s, "attn_k.bias")) ? (int)KV
                                                                                 : 0;
        if (nh && ll_gguf_unpermute_heads(st, t, nh, g->path)) return -1;
    }
    return 0;
}

/* Llama-3.1 rope scaling in GGUF: llama.cpp's converter writes the per
 * frequency factors (rope_freqs.weight, [rot/2]) instead of the
 * rope_scaling keys; ggml divides each frequency by its factor.  The tensor
 * is read when present (an HF checkpoint never has it). */
static const ll_tensor_role rope_freqs_role[] = {{"rope_freqs", "rope_freqs.weight", "rope_freqs.weight", 1}};
typedef struct {
    ll_weight rope_freqs;
} llama_data;

static int bind_llama(ll_model *m, ll_loader *ld) {
    if (ll_llama_bind(m, ld)) return -1;
    llama_data *d = ll_xcalloc(1, sizeof *d);
    m->family_data = d;
    if (m->cfg.rotary_dims > 0)
        return ll_bind(ld, &d->rope_freqs, &rope_freqs_role[0], -1, SHAPE1(m->cfg.rotary_dims / 2),
                       LL_LOAD_OPTIONAL | LL_LOAD_F32);
    return 0;
}

static int prepare_llama(ll_model *m) {
    const llama_data *d = m->family_data;
    if (ll_llama_prepare(m)) return -1;
    if (d && d->rope_freqs.data && m->inv_freq.data) {
        float *f = (float *)m->inv_freq.data;
        const float *k = d->rope_freqs.data;
        for (int i = 0; i < m->cfg.rotary_dims / 2; i++) {
            if (!(k[i] > 0)) {
                ll_set_error("%s: rope_freqs[%d] is %g (must be positive)", m->dir, i, k[i]);
                return -1;
            }
            f[i] = f[i] / k[i];
        }
    }
    return 0;
}

const ll_family ll_family_llama = {
    .model_type = "llama",
    .gguf_arch = "llama",
    .gguf_config = ll_llama_gguf_config,
    .gguf_fixup = gguf_fixup_llama,
    .gguf_roles = rope_freqs_role,
    .n_gguf_roles = 1,
    .parse_config = parse_llama,
    /* LL_LLAMA_FAMILY_FIELDS with its own bind / prepare (rope_freqs) */
    .roles = ll_llama_roles, .n_roles = LL_LLAMA_N_ROLES, .hf_prefix = "model.", .harmless = ll_llama_harmless,
    .bind = bind_llama, .prepare = prepare_llama, .forward = ll_llama_forward, .describe = ll_tf_describe,
    .cost = ll_llama_cost, .layer_split = 1,
};
