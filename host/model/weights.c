/* host/model/weights.h: the format dispatch over a model folder. */
#include "model/weights.h"
#include <string.h>
#include "core/ll_util.h"
#include "io/torch_pickle.h"

int ll_model_open_weights(ll_safetensors *st, const char *dir) {
    char path[4096];
    if (ll_path_exists(ll_path_join(path, sizeof path, dir, "model.safetensors")) ||
        ll_path_exists(ll_path_join(path, sizeof path, dir, "model.safetensors.index.json")))
        return ll_st_open_dir(st, dir);
    /* PyTorch checkpoints (pytorch_model.bin[.index.json]): 1 when there is none */
    int rc = ll_torch_open_dir_as_safetensors(st, dir);
    if (rc <= 0) return rc;
    ll_set_error("%s: no model.safetensors, model.safetensors.index.json or pytorch_model.bin", dir);
    return -1;
}
