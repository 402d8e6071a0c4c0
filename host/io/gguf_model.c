/* GGUF model files: the path test.  Loading a model (config, tensors, the
 * family's fix-ups) is ll_family_load_gguf (host/families/registry.c). */
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
