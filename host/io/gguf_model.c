/* A GGUF model file as the loader (host/model/model.c) takes it: the tensor
 * store under the GGUF names and the HF-style config; the loader renames the
 * tensors with the family's table (ll_family_gguf_to_hf). */
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

int ll_gguf_load_model(const char *path, ll_safetensors *st, cJSON **config) {
    ll_gguf g;
    memset(st, 0, sizeof *st);
    *config = NULL;
    if (ll_gguf_open(&g, path)) return -1;
    const char *arch = ll_gguf_arch(&g);
    /* checked end to end (tests/test_gguf.c, test_smollm2.c); gptneox's
     * converter reorders the fused q/k/v: not wired yet */
    if (!arch || (strcmp(arch, "llama") && strcmp(arch, "qwen2") && strcmp(arch, "gpt2"))) {
        ll_set_error("%s: GGUF architecture '%s' is not supported yet (llama, qwen2, gpt2)", path, arch ? arch : "(none)");
        ll_gguf_close(&g);
        return -1;
    }
    cJSON *cfg = ll_gguf_hf_config(&g);
    if (!cfg || ll_gguf_to_store(&g, st)) {
        cJSON_Delete(cfg);
        ll_st_close(st);
        ll_gguf_close(&g);
        return -1;
    }
    ll_gguf_close(&g);
    *config = cfg;
    return 0;
}
