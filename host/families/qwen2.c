/* Qwen2 (HF Qwen2Model): llama blocks with q/k/v biases (no o, no MLP
 * biases) and an optional sliding window on layers >= max_window_layers. */
#include "families/llama.h"

static int parse_qwen2(ll_model *m, ll_config *r) {
    ll_model_config *c = &m->cfg;
    if (ll_llama_parse_common(m, r)) return -1;
    c->qkv_bias = 1;
    c->o_bias = 0;
    c->mlp_bias = 0;
    if (ll_cfg_bool(r, "use_sliding_window", 0)) {
        c->sliding_window = ll_cfg_size(r, "sliding_window", NULL, 0, 0, INT32_MAX);
        c->window_from_layer = ll_cfg_size(r, "max_window_layers", NULL, c->n_layer, 0, INT32_MAX);
    }
    return ll_llama_finish(m, r);
}

const ll_family ll_family_qwen2 = {
    .model_type = "qwen2",
    .gguf_arch = "qwen2",
    .gguf_config = ll_llama_gguf_config, /* the converter does not permute qwen2's q/k: no fix-up */
    .parse_config = parse_qwen2,
    LL_LLAMA_FAMILY_FIELDS,
};
