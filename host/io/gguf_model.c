/* A GGUF model as the HF checkpoint the loader binds: tensors renamed from
 * llama.cpp's names to HF's, config from the metadata. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/ll_util.h"
#include "io/gguf.h"

int ll_is_gguf_path(const char *path) {
    size_t n = path ? strlen(path) : 0;
    return n > 5 && !strcasecmp(path + n - 5, ".gguf");
}

/* llama.cpp tensor names of the llama / qwen2 architectures (gguf-py's
 * tensor_mapping) → HF LlamaForCausalLM / Qwen2ForCausalLM names. */
static const char *const per_layer[][2] = {
    {"attn_norm", "input_layernorm"},   {"attn_q", "self_attn.q_proj"},       {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},     {"attn_output", "self_attn.o_proj"},  {"ffn_norm", "post_attention_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},      {"ffn_up", "mlp.up_proj"},            {"ffn_down", "mlp.down_proj"},
};
static int hf_name(const char *g, char *hf, size_t cap) {
    if (!strcmp(g, "token_embd.weight")) return snprintf(hf, cap, "model.embed_tokens.weight") >= (int)cap ? -1 : 0;
    if (!strcmp(g, "output_norm.weight")) return snprintf(hf, cap, "model.norm.weight") >= (int)cap ? -1 : 0;
    if (!strcmp(g, "output.weight")) return snprintf(hf, cap, "lm_head.weight") >= (int)cap ? -1 : 0;
    if (strncmp(g, "blk.", 4)) return -1;
    char *end;
    long layer = strtol(g + 4, &end, 10);
    if (end == g + 4 || *end != '.' || layer < 0 || layer > 1000000) return -1;
    const char *rest = end + 1;
    for (size_t k = 0; k < sizeof per_layer / sizeof per_layer[0]; k++) {
        size_t n = strlen(per_layer[k][0]);
        if (!strncmp(rest, per_layer[k][0], n) && (!strcmp(rest + n, ".weight") || !strcmp(rest + n, ".bias")))
            return snprintf(hf, cap, "model.layers.%ld.%s%s", layer, per_layer[k][1], rest + n) >= (int)cap ? -1 : 0;
    }
    return -1;
}

static int cmp_st(const void *a, const void *b) {
    return strcmp(((const ll_st_tensor *)a)->name, ((const ll_st_tensor *)b)->name);
}

int ll_gguf_load_model(const char *path, ll_safetensors *st, cJSON **config) {
    ll_gguf g;
    memset(st, 0, sizeof *st);
    *config = NULL;
    if (ll_gguf_open(&g, path)) return -1;
    const char *arch = ll_gguf_arch(&g);
    if (!arch || (strcmp(arch, "llama") && strcmp(arch, "qwen2"))) {
        ll_set_error("%s: GGUF architecture '%s' is not supported yet (llama, qwen2)", path, arch ? arch : "(none)");
        ll_gguf_close(&g);
        return -1;
    }
    cJSON *cfg = ll_gguf_hf_config(&g);
    if (!cfg || ll_gguf_to_store(&g, st)) goto fail;
    for (int i = 0; i < st->n_tensors; i++) {
        char hf[512];
        if (hf_name(st->tensors[i].name, hf, sizeof hf)) {
            ll_set_error("%s: tensor '%s' has no HF name for architecture %s", path, st->tensors[i].name, arch);
            goto fail;
        }
        free(st->tensors[i].name);
        st->tensors[i].name = ll_xstrdup(hf);
    }
    qsort(st->tensors, st->n_tensors, sizeof(ll_st_tensor), cmp_st);
    ll_gguf_close(&g);
    *config = cfg;
    return 0;
fail:
    cJSON_Delete(cfg);
    ll_st_close(st);
    ll_gguf_close(&g);
    return -1;
}
