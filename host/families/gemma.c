/* Gemma (HF GemmaModel): llama blocks (tensor names, GQA, RoPE, gated FFN)
 * with entry 0 = embeddings · sqrt(hidden) (a float32 constant, as HF),
 * RMSNorm x·rsqrt(mean x² + eps)·(1 + w) (w + 1 is formed once in float32 at
 * load: the same products), gelu (tanh) gated FFN.  Gemma-2 (gemma2.c) builds
 * on these (families/gemma.h).  The authors' pipeline has none of these; the
 * fresh norm is RMSNorm (their choice for RMSNorm models). */
#include <math.h>
#include <string.h>
#include "core/ll_util.h"
#include "families/gemma.h"

int ll_gemma_parse_common(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    if (ll_llama_parse_common(m, r)) return -1;
    /* gemma's key is hidden_activation (hidden_act is a legacy duplicate) */
    if (ll_cfg_act(r, ll_cfg_has(r, "hidden_activation") ? "hidden_activation" : "hidden_act", "gelu_pytorch_tanh",
                   &c->act))
        return -1;
    c->embed_scale = (double)(float)sqrt((double)c->d_model);
    return 0;
}

static int parse_gemma(ll_model *m, ll_config *r) {
    if (ll_gemma_parse_common(m, r)) return -1;
    return ll_llama_finish(m, r);
}

static void plus_one(const ll_weight *w) {
    if (!w->data) return;
    float *p = (float *)w->data; /* norm vectors are F32 in the host arena at prepare time */
    for (int64_t i = 0; i < w->rows * w->cols; i++) p[i] = 1.0f + p[i];
}

int ll_gemma_prepare(ll_model *m) {
    plus_one(&m->norm_w);
    for (int l = 0; l < m->cfg.n_layer; l++) {
        ll_tf_layer *y = &m->layers[l];
        plus_one(&y->ln1_w);
        plus_one(&y->ln2_w);
        plus_one(&y->post_attn_norm);
        plus_one(&y->post_ffn_norm);
    }
    return ll_llama_prepare(m);
}

void ll_gemma_describe(const ll_model *m, cJSON *j) {
    const ll_model_config *c = &m->cfg;
    ll_tf_describe(m, j);
    if (c->embed_scale) cJSON_AddNumberToObject(j, "embed_scale", c->embed_scale);
    if (c->attn_softcap) cJSON_AddNumberToObject(j, "attn_logit_softcapping", c->attn_softcap);
    if (c->window_alternate) cJSON_AddStringToObject(j, "window_layers", "even");
}

/* ---- GGUF (llama.cpp's GemmaModel / Qwen3Model) ---- */
static int gguf_config_gemma(const ll_gguf *g, cJSON *cfg) {
    (void)g;
    cJSON_AddStringToObject(cfg, "hidden_activation", "gelu_pytorch_tanh");
    return 0;
}
/* the converter stores gemma's norm weights as 1 + w (ggml multiplies by
 * the weight): w back (exact: 1 + w lies in [1/2, 2] for these weights,
 * and prepare forms the same 1 + w again) */
int ll_gemma_gguf_fixup(const ll_gguf *g, ll_safetensors *st) {
    for (int i = 0; i < st->n_tensors; i++) {
        ll_st_tensor *t = &st->tensors[i];
        const size_t n = strlen(t->name);
        if (n < 11 || strcmp(t->name + n - 11, "norm.weight")) continue;
        if (t->dtype != LL_ST_F32) {
            ll_set_error("%s: tensor '%s' is not float32", g->path, t->name);
            return -1;
        }
        float *w = ll_gguf_store_own(st, t->nbytes);
        memcpy(w, t->data, t->nbytes);
        for (int64_t k = 0; k < t->numel; k++) w[k] -= 1.0f;
        t->data = w;
        t->file = -1;
    }
    return 0;
}
const ll_family ll_family_gemma = {
    .gguf_config = gguf_config_gemma,
    .gguf_fixup = ll_gemma_gguf_fixup,
    .model_type = "gemma",
    .layer_split = 1,
    .gguf_arch = "gemma",
    .roles = ll_llama_roles,
    .n_roles = LL_LLAMA_N_ROLES,
    .hf_prefix = "model.",
    .harmless = ll_llama_harmless,
    .parse_config = parse_gemma,
    .bind = ll_llama_bind,
    .prepare = ll_gemma_prepare,
    .forward = ll_llama_forward,
    .describe = ll_gemma_describe,
    .cost = ll_llama_cost,
};

