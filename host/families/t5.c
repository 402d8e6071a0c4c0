/* T5 (HF T5Model): an encoder stack and a decoder stack, exposed as ONE
 * sequence of hidden-state entries (docs/families.md):
 *   entries 0 .. Le           encoder_hidden_states: embeddings, blocks 1..Le-1,
 *                             final_layer_norm(block Le)
 *   entries Le+1 .. Le+Ld+1   decoder_hidden_states, the decoder fed the SAME
 *                             ids as the encoder (decoder_input_ids = input_ids)
 * so E = Le + Ld + 2 (cfg.n_layer = Le + Ld + 1).  Norm: T5LayerNorm
 * w·x·rsqrt(mean(x²) + eps) (no mean, no bias) = the rmsnorm op.  Attention
 * without the 1/sqrt(d) scale, plus a relative position bias from block 0 of
 * each stack (buckets: bidirectional in the encoder, causal in the decoder,
 * computed in float32 as HF's _relative_position_bucket does), shared by all
 * blocks of the stack; the decoder's cross-attention reads the encoder's final
 * output with no bias.  FFN: wo(relu(wi x)) or, for feed_forward_proj
 * "gated-ACT", wo(act(wi_0 x) ⊙ wi_1 x) ("gated-gelu" = gelu_new).
 * Fresh norm for 'initialized-LN': none (t5 matches no branch of the authors). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "families/tf_blocks.h"

enum { R_EMB, R_E_REL, R_D_REL, R_E_NORM, R_D_NORM,
       R_E_LN1, R_E_Q, R_E_K, R_E_V, R_E_O, R_E_LN2, R_E_WI, R_E_WI0, R_E_WI1, R_E_WO,
       R_D_LN1, R_D_Q, R_D_K, R_D_V, R_D_O, R_D_LNX, R_D_XQ, R_D_XK, R_D_XV, R_D_XO, R_D_LN2, R_D_WI, R_D_WI0,
       R_D_WI1, R_D_WO, N_ROLES };
#define EB "encoder.block.%d.layer."
#define DB "decoder.block.%d.layer."
static const ll_tensor_role roles[N_ROLES] = {
    [R_EMB] = {"token_embd", "shared.weight", NULL},
    [R_E_REL] = {"enc_rel_bias", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", NULL},
    [R_D_REL] = {"dec_rel_bias", "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", NULL},
    [R_E_NORM] = {"enc_output_norm", "encoder.final_layer_norm.weight", NULL},
    [R_D_NORM] = {"dec_output_norm", "decoder.final_layer_norm.weight", NULL},
    [R_E_LN1] = {"enc_attn_norm", EB "0.layer_norm.weight", NULL},
    [R_E_Q] = {"enc_attn_q", EB "0.SelfAttention.q.weight", NULL},
    [R_E_K] = {"enc_attn_k", EB "0.SelfAttention.k.weight", NULL},
    [R_E_V] = {"enc_attn_v", EB "0.SelfAttention.v.weight", NULL},
    [R_E_O] = {"enc_attn_o", EB "0.SelfAttention.o.weight", NULL},
    [R_E_LN2] = {"enc_ffn_norm", EB "1.layer_norm.weight", NULL},
    [R_E_WI] = {"enc_ffn_up", EB "1.DenseReluDense.wi.weight", NULL},
    [R_E_WI0] = {"enc_ffn_gate", EB "1.DenseReluDense.wi_0.weight", NULL},
    [R_E_WI1] = {"enc_ffn_up_gated", EB "1.DenseReluDense.wi_1.weight", NULL},
    [R_E_WO] = {"enc_ffn_down", EB "1.DenseReluDense.wo.weight", NULL},
    [R_D_LN1] = {"dec_attn_norm", DB "0.layer_norm.weight", NULL},
    [R_D_Q] = {"dec_attn_q", DB "0.SelfAttention.q.weight", NULL},
    [R_D_K] = {"dec_attn_k", DB "0.SelfAttention.k.weight", NULL},
    [R_D_V] = {"dec_attn_v", DB "0.SelfAttention.v.weight", NULL},
    [R_D_O] = {"dec_attn_o", DB "0.SelfAttention.o.weight", NULL},
    [R_D_LNX] = {"dec_cross_norm", DB "1.layer_norm.weight", NULL},
    [R_D_XQ] = {"dec_cross_q", DB "1.EncDecAttention.q.weight", NULL},
    [R_D_XK] = {"dec_cross_k", DB "1.EncDecAttention.k.weight", NULL},
    [R_D_XV] = {"dec_cross_v", DB "1.EncDecAttention.v.weight", NULL},
    [R_D_XO] = {"dec_cross_o", DB "1.EncDecAttention.o.weight", NULL},
    [R_D_LN2] = {"dec_ffn_norm", DB "2.layer_norm.weight", NULL},
    [R_D_WI] = {"dec_ffn_up", DB "2.DenseReluDense.wi.weight", NULL},
    [R_D_WI0] = {"dec_ffn_gate", DB "2.DenseReluDense.wi_0.weight", NULL},
    [R_D_WI1] = {"dec_ffn_up_gated", DB "2.DenseReluDense.wi_1.weight", NULL},
    [R_D_WO] = {"dec_ffn_down", DB "2.DenseReluDense.wo.weight", NULL},
};

typedef struct {
    int Le, Ld, buckets, max_dist, gated;
    ll_weight enc_rel, dec_rel, dec_norm; /* m->norm_w = the encoder's final norm */
    float *rel_host;                      /* [2][buckets * H]: host copies (prepare), inside this block */
    float data[];
} t5_data;

static int parse_t5(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    c->d_model = ll_cfg_size(r, "d_model", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    int Le = ll_cfg_size(r, "num_layers", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_LAYERS / 2);
    int Ld = ll_cfg_size(r, "num_decoder_layers", NULL, Le, 1, LL_CFG_MAX_LAYERS / 2);
    c->n_head = ll_cfg_size(r, "num_heads", NULL, LL_CFG_REQUIRED, 1, 4096);
    c->n_kv_head = c->n_head;
    c->head_dim = ll_cfg_size(r, "d_kv", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->d_ff = ll_cfg_size(r, "d_ff", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_DIM);
    c->vocab = ll_cfg_size(r, "vocab_size", NULL, LL_CFG_REQUIRED, 1, LL_CFG_MAX_VOCAB);
    int buckets = ll_cfg_size(r, "relative_attention_num_buckets", NULL, 32, 2, 1 << 16);
    int maxd = ll_cfg_size(r, "relative_attention_max_distance", NULL, 128, 1, INT32_MAX / 2);
    c->norm = LL_NORM_RMSNORM;
    c->norm_eps = ll_cfg_num(r, NULL, "layer_norm_epsilon", 1e-6);
    c->n_layer = Le + Ld + 1; /* E = Le + Ld + 2 entries */
    c->tie_embeddings = ll_cfg_bool(r, "tie_word_embeddings", 1);
    const char *ffp = ll_cfg_str(r, "feed_forward_proj", "relu");
    int gated = !strncmp(ffp, "gated-", 6);
    const char *an = gated ? ffp + 6 : ffp;
    if (!strcmp(an, "relu")) c->act = LL_ACT_RELU;
    else if (!strcmp(an, "gelu") || !strcmp(an, "gelu_new")) c->act = LL_ACT_GELU_TANH; /* T5Config: gelu -> gelu_new */
    else if (!strcmp(an, "silu") || !strcmp(an, "swish")) c->act = LL_ACT_SILU;
    else return ll_cfg_fail(r, "unsupported feed_forward_proj '%s' (relu, gated-gelu, gated-silu, ...)", ffp);
    if ((int64_t)c->n_head * c->head_dim > LL_CFG_MAX_DIM) return ll_cfg_fail(r, "num_heads x d_kv too large");
    if (ll_cfg_ok(r)) return -1;
    t5_data *fd = ll_xcalloc(1, sizeof *fd + sizeof(float) * 2 * (size_t)buckets * c->n_head);
    m->family_data = fd;
    fd->Le = Le; fd->Ld = Ld; fd->buckets = buckets; fd->max_dist = maxd; fd->gated = gated;
    fd->rel_host = fd->data;
    return 0;
}

static int bind_t5(ll_model *m, ll_loader *ld) {
    const ll_model_config *c = &m->cfg;
    t5_data *fd = m->family_data;
    const int64_t C = c->d_model, F = c->d_ff, V = c->vocab, Q = (int64_t)c->n_head * c->head_dim, H = c->n_head,
                  NB = fd->buckets;
    if (ll_bind(ld, &m->embed, &roles[R_EMB], -1, SHAPE2(V, C), 0) ||
        ll_bind(ld, &fd->enc_rel, &roles[R_E_REL], -1, SHAPE2(NB, H), LL_LOAD_F32) ||
        ll_bind(ld, &fd->dec_rel, &roles[R_D_REL], -1, SHAPE2(NB, H), LL_LOAD_F32) ||
        ll_bind(ld, &m->norm_w, &roles[R_E_NORM], -1, SHAPE1(C), 0) ||
        ll_bind(ld, &fd->dec_norm, &roles[R_D_NORM], -1, SHAPE1(C), 0))
        return -1;
    /* layers: encoder [0, Le), decoder l at Le + 2l (self-attention, FFN) and Le + 2l + 1 (cross-attention) */
    m->layers = ll_xcalloc((size_t)fd->Le + 2 * (size_t)fd->Ld, sizeof(ll_tf_layer));
    for (int s = 0; s < 2; s++) {
        const int n = s ? fd->Ld : fd->Le;
        const int ln1 = s ? R_D_LN1 : R_E_LN1, q = s ? R_D_Q : R_E_Q, ln2 = s ? R_D_LN2 : R_E_LN2,
                  wi = s ? R_D_WI : R_E_WI, wi0 = s ? R_D_WI0 : R_E_WI0, wi1 = s ? R_D_WI1 : R_E_WI1,
                  wo = s ? R_D_WO : R_E_WO;
        for (int l = 0; l < n; l++) {
            ll_tf_layer *y = &m->layers[s ? fd->Le + 2 * l : l];
            if (ll_bind(ld, &y->ln1_w, &roles[ln1], l, SHAPE1(C), 0) ||
                ll_bind(ld, &y->q, &roles[q], l, SHAPE2(Q, C), 0) ||
                ll_bind(ld, &y->k, &roles[q + 1], l, SHAPE2(Q, C), 0) ||
                ll_bind(ld, &y->v, &roles[q + 2], l, SHAPE2(Q, C), 0) ||
                ll_bind(ld, &y->o, &roles[q + 3], l, SHAPE2(C, Q), 0) ||
                ll_bind(ld, &y->ln2_w, &roles[ln2], l, SHAPE1(C), 0) ||
                (!fd->gated && ll_bind(ld, &y->up, &roles[wi], l, SHAPE2(F, C), 0)) ||
                (fd->gated && ll_bind(ld, &y->gate, &roles[wi0], l, SHAPE2(F, C), 0)) ||
                (fd->gated && ll_bind(ld, &y->up, &roles[wi1], l, SHAPE2(F, C), 0)) ||
                ll_bind(ld, &y->down, &roles[wo], l, SHAPE2(C, F), 0))
                return -1;
            if (s) {
                ll_tf_layer *x = &m->layers[fd->Le + 2 * l + 1];
                if (ll_bind(ld, &x->ln1_w, &roles[R_D_LNX], l, SHAPE1(C), 0) ||
                    ll_bind(ld, &x->q, &roles[R_D_XQ], l, SHAPE2(Q, C), 0) ||
                    ll_bind(ld, &x->k, &roles[R_D_XK], l, SHAPE2(Q, C), 0) ||
                    ll_bind(ld, &x->v, &roles[R_D_XV], l, SHAPE2(Q, C), 0) ||
                    ll_bind(ld, &x->o, &roles[R_D_XO], l, SHAPE2(C, Q), 0))
                    return -1;
            }
        }
    }
    return 0;
}

static int prepare_t5(ll_model *m) {
    t5_data *fd = m->family_data;
    const size_t n = (size_t)fd->buckets * m->cfg.n_head;
    memcpy(fd->rel_host, fd->enc_rel.data, sizeof(float) * n);
    memcpy(fd->rel_host + n, fd->dec_rel.data, sizeof(float) * n);
    return 0;
}

/* HF T5Attention._relative_position_bucket, float32 like torch */
static int bucket(int rel, int bidirectional, int nb, int maxd) {
    int ret = 0, n;
    if (bidirectional) {
        nb /= 2;
        if (rel > 0) ret += nb;
        n = rel < 0 ? -rel : rel;
    } else {
        n = rel < 0 ? -rel : 0;
    }
    const int max_exact = nb / 2;
    if (n < max_exact) return ret + n;
    float a = logf((float)n / (float)max_exact);
    float b = a / (float)log((double)maxd / (double)max_exact);
    float d = b * (float)(nb - max_exact);
    long large = max_exact + (long)d;
    if (large > nb - 1) large = nb - 1;
    return ret + (int)large;
}

static void fill_bias(float *out, const float *rel, int H, int T, int bidirectional, int nb, int maxd) {
    for (int t = 0; t < T; t++)
        for (int s = 0; s < T; s++) {
            const int k = bucket(s - t, bidirectional, nb, maxd);
            for (int h = 0; h < H; h++) out[((size_t)h * T + t) * T + s] = rel[(size_t)k * H + h];
        }
}

static int harmless_t5(const char *name) {
    return !strcmp(name, "encoder.embed_tokens.weight") || !strcmp(name, "decoder.embed_tokens.weight") ||
           !strcmp(name, "lm_head.weight");
}

#define NEED LL_NEED

static int forward_t5(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
               ll_capture *cap, float *state, float *logits) {
    const ll_model_config *c = &m->cfg;
    t5_data *fd = m->family_data;
    if (state || logits) {
        ll_set_error("%s: t5 models have no recurrent state or LM head here", m->dir);
        return -1;
    }
    NEED(linear); NEED(embedding); NEED(add); NEED(attention); NEED(alloc); NEED(upload); NEED(rmsnorm); NEED(copy2d);
    if (c->act == LL_ACT_RELU) NEED(relu);
    else if (c->act == LL_ACT_GELU_TANH) NEED(gelu_tanh);
    else NEED(silu);
    if (fd->gated) NEED(mul);
    const int64_t N = (int64_t)B * T, C = c->d_model, F = c->d_ff, H = c->n_head, D = c->head_dim, Q = H * D;
    const int Le = fd->Le, Ld = fd->Ld;
    size_t off = 0;
    LL_CARVE(off, x, N * C);
    LL_CARVE(off, h, N * C);
    LL_CARVE(off, enc, N * C);
    LL_CARVE(off, qkv, N * 3 * Q);
    LL_CARVE(off, att, N * (Q > C ? Q : C));
    LL_CARVE(off, mlp, N * 2 * F);
    LL_CARVE(off, tmp, N * C);
    LL_CARVE(off, bias_e, H * T * T);
    LL_CARVE(off, bias_d, H * T * T);
    LL_CARVE(off, ids, N);
    LL_CARVE(off, lens, B);
    char *ws = ll_model_workspace(m, ops, ctx, off);
    if (!ws) return -1;
    float *x = (float *)(ws + o_x), *h = (float *)(ws + o_h), *enc = (float *)(ws + o_enc), *qkv = (float *)(ws + o_qkv),
          *att = (float *)(ws + o_att), *mlp = (float *)(ws + o_mlp), *tmp = (float *)(ws + o_tmp),
          *bias_e = (float *)(ws + o_bias_e), *bias_d = (float *)(ws + o_bias_d);
    int32_t *d_ids = (int32_t *)(ws + o_ids);
    int *d_lens = (int *)(ws + o_lens);
    ll_model_upload_ids(ops, ctx, d_ids, tokens, lens, B, T);
    ops->upload(ctx, d_lens, lens, sizeof(int) * B);
    {
        const size_t nb = (size_t)fd->buckets * H;
        float *hb = ll_xmalloc(sizeof(float) * (size_t)H * T * T);
        fill_bias(hb, fd->rel_host, (int)H, T, 1, fd->buckets, fd->max_dist);
        ops->upload(ctx, bias_e, hb, sizeof(float) * (size_t)H * T * T);
        fill_bias(hb, fd->rel_host + nb, (int)H, T, 0, fd->buckets, fd->max_dist);
        ops->upload(ctx, bias_d, hb, sizeof(float) * (size_t)H * T * T);
        free(hb);
    }
    ll_attn_params ap;
    memset(&ap, 0, sizeof ap);
    ap.out = att; ap.o_rs = Q;
    ap.B = B; ap.T = T; ap.H = (int)H; ap.KVH = (int)H; ap.hd = (int)D;
    ap.lens = d_lens;
    ap.scale = 1.0f;
    ap.q = qkv; ap.k = qkv + Q; ap.v = qkv + 2 * Q;
    ap.q_rs = ap.k_rs = ap.v_rs = 3 * Q;
    ap.q_hs = ap.k_hs = ap.v_hs = D;
    const float eps = (float)c->norm_eps;
    const size_t NC = (size_t)(N * C), NF = (size_t)(N * F);
#define PROJ(W, IN, SLOT)                                                   \
    do {                                                                    \
        ops->linear(ctx, att, IN, W, NULL, (int)N);                         \
        ops->copy2d(ctx, qkv + (SLOT) * Q, 3 * Q, att, Q, (int)N, (int)Q); \
    } while (0)
    int e = 0;
    for (int s = 0; s < 2; s++) { /* 0: encoder, 1: decoder */
        const int n = s ? Ld : Le;
        ops->embedding(ctx, x, &m->embed, d_ids, (int)N, 0);
        if (ll_model_emit(m, ops, ctx, cap, e++, x, tokens, lens, B, T)) return -1;
        for (int l = 0; l < n; l++) {
            const ll_tf_layer *y = &m->layers[s ? Le + 2 * l : l];
            /* self-attention */
            ops->rmsnorm(ctx, h, x, y->ln1_w.data, (int)N, (int)C, eps);
            PROJ(&y->q, h, 0); PROJ(&y->k, h, 1); PROJ(&y->v, h, 2);
            ap.bidirectional = !s;
            ap.bias = s ? bias_d : bias_e;
            ops->attention(ctx, &ap);
            ops->linear(ctx, tmp, att, &y->o, NULL, (int)N);
            ops->add(ctx, x, x, tmp, NC);
            if (s) { /* cross-attention over the encoder's output */
                const ll_tf_layer *z = &m->layers[Le + 2 * l + 1];
                ops->rmsnorm(ctx, h, x, z->ln1_w.data, (int)N, (int)C, eps);
                PROJ(&z->q, h, 0); PROJ(&z->k, enc, 1); PROJ(&z->v, enc, 2);
                ap.bidirectional = 1;
                ap.bias = NULL;
                ops->attention(ctx, &ap);
                ops->linear(ctx, tmp, att, &z->o, NULL, (int)N);
                ops->add(ctx, x, x, tmp, NC);
            }
            /* feed-forward */
            ops->rmsnorm(ctx, h, x, y->ln2_w.data, (int)N, (int)C, eps);
            ops->linear(ctx, mlp, h, fd->gated ? &y->gate : &y->up, NULL, (int)N);
            if (c->act == LL_ACT_RELU) ops->relu(ctx, mlp, mlp, NF);
            else if (c->act == LL_ACT_GELU_TANH) ops->gelu_tanh(ctx, mlp, mlp, NF);
            else ops->silu(ctx, mlp, mlp, NF);
            if (fd->gated) {
                ops->linear(ctx, mlp + NF, h, &y->up, NULL, (int)N);
                ops->mul(ctx, mlp, mlp, mlp + NF, NF);
            }
            ops->linear(ctx, tmp, mlp, &y->down, NULL, (int)N);
            ops->add(ctx, x, x, tmp, NC);
            if (l + 1 < n && ll_model_emit(m, ops, ctx, cap, e++, x, tokens, lens, B, T)) return -1;
        }
        /* the stack's final norm: the last entry of the stack (and the decoder's memory) */
        float *out = s ? h : enc;
        ops->rmsnorm(ctx, out, x, s ? fd->dec_norm.data : m->norm_w.data, (int)N, (int)C, eps);
        if (ll_model_emit(m, ops, ctx, cap, e++, out, tokens, lens, B, T)) return -1;
    }
#undef PROJ
    return ops->sync ? ops->sync(ctx) : 0;
}

static int cost_t5(const ll_model *m, int T, ll_cost *pe) {
    const ll_model_config *c = &m->cfg;
    const t5_data *fd = m->family_data;
    const double C = c->d_model, F = c->d_ff, Q = (double)c->n_head * c->head_dim;
    const double nmat = fd->gated ? 3 : 2;
    int e = 0;
    for (int s = 0; s < 2; s++) {
        const int n = s ? fd->Ld : fd->Le;
        pe[e].weight_bytes = ll_weight_bytes(&m->embed);
        pe[e++].act_bytes = 4 * C;
        for (int l = 0; l < n; l++, e++) {
            const double keys = s ? ll_tf_mean_keys(T, 0) : T;
            pe[e].flops = 2 * C * 3 * Q + 4 * Q * keys + 2 * Q * C + 2 * nmat * C * F;
            if (s) pe[e].flops += 2 * C * 3 * Q + 4 * Q * T + 2 * Q * C;
            const ll_tf_layer *ys[2] = {&m->layers[s ? fd->Le + 2 * l : l], s ? &m->layers[fd->Le + 2 * l + 1] : NULL};
            for (int k = 0; k < 2; k++) {
                const ll_tf_layer *y = ys[k];
                if (!y) continue;
                const ll_weight *w[] = {&y->ln1_w, &y->ln2_w, &y->q, &y->k, &y->v, &y->o, &y->up, &y->gate, &y->down};
                for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) pe[e].weight_bytes += ll_weight_bytes(w[i]);
            }
            /* self-attention + FFN; the decoder adds cross-attention (q k v, mix, o) only: one FFN per block */
            pe[e].act_bytes = 4 * (3 * Q + Q + 2 * C + (nmat - 1) * F) + (s ? 4 * (3 * Q + Q + C) : 0);
            /* the stack's relative-bias table is stored in (and counted with) its block 0 */
            if (l == 0) pe[e].weight_bytes += ll_weight_bytes(s ? &fd->dec_rel : &fd->enc_rel);
        }
        pe[e - 1].weight_bytes += ll_weight_bytes(s ? &fd->dec_norm : &m->norm_w);
        pe[e - 1].act_bytes += 4 * C; /* the stack's final norm output */
    }
    return 0;
}

static ll_norm fresh_none(const ll_model *m, double *eps) {
    *eps = m->cfg.norm_eps;
    return LL_NORM_NONE;
}

static void describe_t5(const ll_model *m, cJSON *j) {
    const t5_data *fd = m->family_data;
    const ll_model_config *c = &m->cfg;
    cJSON_AddNumberToObject(j, "encoder_layers", fd->Le);
    cJSON_AddNumberToObject(j, "decoder_layers", fd->Ld);
    cJSON_AddNumberToObject(j, "encoder_entries", fd->Le + 1);
    cJSON_AddNumberToObject(j, "decoder_entries", fd->Ld + 1);
    cJSON_AddNumberToObject(j, "n_heads", c->n_head);
    cJSON_AddNumberToObject(j, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(j, "d_ff", c->d_ff);
    cJSON_AddNumberToObject(j, "relative_attention_num_buckets", fd->buckets);
    cJSON_AddNumberToObject(j, "relative_attention_max_distance", fd->max_dist);
    cJSON_AddStringToObject(j, "feed_forward", fd->gated ? "gated" : "dense");
    cJSON_AddStringToObject(j, "decoder_input", "input_ids (same ids as the encoder)");
}

/* ---- GGUF (llama.cpp's T5Model; "t5" architecture) ---- */
#define EG "enc.blk.%d."
#define DG "dec.blk.%d."
static const ll_tensor_role gguf_roles_t5[] = {
    {"token_embd", "shared.weight", "token_embd.weight"},
    {"output", "lm_head.weight", "output.weight", 1},
    {"enc_rel_bias", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", "enc.blk.0.attn_rel_b.weight"},
    {"dec_rel_bias", "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", "dec.blk.0.attn_rel_b.weight"},
    {"enc_output_norm", "encoder.final_layer_norm.weight", "enc.output_norm.weight"},
    {"dec_output_norm", "decoder.final_layer_norm.weight", "dec.output_norm.weight"},
    {"enc_attn_norm", EB "0.layer_norm.weight", EG "attn_norm.weight"},
    {"enc_attn_q", EB "0.SelfAttention.q.weight", EG "attn_q.weight"},
    {"enc_attn_k", EB "0.SelfAttention.k.weight", EG "attn_k.weight"},
    {"enc_attn_v", EB "0.SelfAttention.v.weight", EG "attn_v.weight"},
    {"enc_attn_o", EB "0.SelfAttention.o.weight", EG "attn_o.weight"},
    {"enc_ffn_norm", EB "1.layer_norm.weight", EG "ffn_norm.weight"},
    {"enc_ffn_up", EB "1.DenseReluDense.wi.weight", EG "ffn_up.weight"},
    {"enc_ffn_gate", EB "1.DenseReluDense.wi_0.weight", EG "ffn_gate.weight"},
    {"enc_ffn_up_gated", EB "1.DenseReluDense.wi_1.weight", EG "ffn_up_gated.weight"}, /* renamed by the fix-up */
    {"enc_ffn_down", EB "1.DenseReluDense.wo.weight", EG "ffn_down.weight"},
    {"dec_attn_norm", DB "0.layer_norm.weight", DG "attn_norm.weight"},
    {"dec_attn_q", DB "0.SelfAttention.q.weight", DG "attn_q.weight"},
    {"dec_attn_k", DB "0.SelfAttention.k.weight", DG "attn_k.weight"},
    {"dec_attn_v", DB "0.SelfAttention.v.weight", DG "attn_v.weight"},
    {"dec_attn_o", DB "0.SelfAttention.o.weight", DG "attn_o.weight"},
    {"dec_cross_norm", DB "1.layer_norm.weight", DG "cross_attn_norm.weight"},
    {"dec_cross_q", DB "1.EncDecAttention.q.weight", DG "cross_attn_q.weight"},
    {"dec_cross_k", DB "1.EncDecAttention.k.weight", DG "cross_attn_k.weight"},
    {"dec_cross_v", DB "1.EncDecAttention.v.weight", DG "cross_attn_v.weight"},
    {"dec_cross_o", DB "1.EncDecAttention.o.weight", DG "cross_attn_o.weight"},
    {"dec_ffn_norm", DB "2.layer_norm.weight", DG "ffn_norm.weight"},
    {"dec_ffn_up", DB "2.DenseReluDense.wi.weight", DG "ffn_up.weight"},
    {"dec_ffn_gate", DB "2.DenseReluDense.wi_0.weight", DG "ffn_gate.weight"},
    {"dec_ffn_up_gated", DB "2.DenseReluDense.wi_1.weight", DG "ffn_up_gated.weight"},
    {"dec_ffn_down", DB "2.DenseReluDense.wo.weight", DG "ffn_down.weight"},
};

static int gguf_config_t5(const ll_gguf *g, cJSON *cfg) {
    static const char *const keys[][2] = {
        {"embedding_length", "d_model"},        {"block_count", "num_layers"},
        {"decoder_block_count", "num_decoder_layers"}, {"attention.head_count", "num_heads"},
        {"attention.key_length", "d_kv"},       {"feed_forward_length", "d_ff"},
        {"attention.relative_buckets_count", "relative_attention_num_buckets"}};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        int64_t v;
        if (ll_gguf_arch_int(g, keys[k][0], 0, &v, 1)) return -1;
        cJSON_AddNumberToObject(cfg, keys[k][1], (double)v);
    }
    /* not in the file: llama.cpp hard-wires T5's default */
    cJSON_AddNumberToObject(cfg, "relative_attention_max_distance", 128);
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(cfg, "rms_norm_eps");
    if (eps) cJSON_AddNumberToObject(cfg, "layer_norm_epsilon", eps->valuedouble);
    /* llama.cpp: a gate tensor means the gated-gelu FFN (T5 v1.1, Flan-T5), else relu */
    cJSON_AddStringToObject(cfg, "feed_forward_proj", ll_gguf_has_tensor(g, "enc.blk.0.ffn_gate.weight") ? "gated-gelu" : "relu");
    return 0;
}

/* gated files: ffn_up is wi_1 (relu files: wi); a name of its own for the table */
static int gguf_fixup_t5(const ll_gguf *g, ll_safetensors *st) {
    if (!ll_gguf_has_tensor(g, "enc.blk.0.ffn_gate.weight")) return 0;
    for (int i = 0; i < st->n_tensors; i++) {
        char *n = st->tensors[i].name;
        const size_t len = strlen(n);
        if ((strncmp(n, "enc.", 4) && strncmp(n, "dec.", 4)) || len < 14 || strcmp(n + len - 14, ".ffn_up.weight"))
            continue;
        char *r = ll_xmalloc(len + 8);
        snprintf(r, len + 8, "%.*s.ffn_up_gated.weight", (int)(len - 14), n);
        free(n);
        st->tensors[i].name = r;
    }
    return 0;
}

const ll_family ll_family_t5 = {
    .gguf_arch = "t5",
    .gguf_config = gguf_config_t5,
    .gguf_fixup = gguf_fixup_t5,
    .gguf_roles = gguf_roles_t5,
    .n_gguf_roles = (int)(sizeof gguf_roles_t5 / sizeof gguf_roles_t5[0]),
    .model_type = "t5",
    .roles = roles,
    .n_roles = N_ROLES,
    .hf_prefix = "",
    .harmless = harmless_t5,
    .parse_config = parse_t5,
    .bind = bind_t5,
    .prepare = prepare_t5,
    .forward = forward_t5,
    .describe = describe_t5,
    .cost = cost_t5,
    .fresh_norm = fresh_none,
};
