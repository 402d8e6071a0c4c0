/* Mistral (HF MistralModel): llama blocks with a sliding attention window
 * (sliding_window, every layer). */
#include "families/llama.h"

static int parse_mistral(ll_model *m, ll_config *r) {
    if (ll_llama_parse_common(m, r)) return -1;
    m->cfg.sliding_window = ll_cfg_size(r, "sliding_window", NULL, 0, 0, INT32_MAX);
    return ll_llama_finish(m, r);
}

/* (GGUF files of mistral models say general.architecture = llama) */
const ll_family ll_family_mistral = {
    .model_type = "mistral",
    .parse_config = parse_mistral,
    LL_LLAMA_FAMILY_FIELDS,
};
