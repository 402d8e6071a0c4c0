/* libFuzzer: config.json through the model loader (ll_model_load on a
 * folder holding the fuzzed config.json and the real stories260K weights,
 * tests/data/checkpoints/stories260K-hf/model.safetensors, linked). */
#include "fuzz_util.h"
#include "model/model.h"
#include <limits.h>

static char dir[1024];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *root = getenv("LAYERLAW_FUZZ_DATA");
    char rel[1024], abs[PATH_MAX], link[1100];
    snprintf(rel, sizeof rel, "%s/checkpoints/stories260K-hf/model.safetensors", root && *root ? root : "tests/data");
    if (!realpath(rel, abs)) { fprintf(stderr, "fuzz_config: %s not found (run from the repository root)\n", rel); exit(1); }
    snprintf(dir, sizeof dir, "%s", fz_folder());
    snprintf(link, sizeof link, "%s/model.safetensors", dir);
    if (symlink(abs, link) != 0) { perror("symlink"); exit(1); }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_write("config.json", data, size);
    fz_reset_error();
    ll_model *m = ll_model_load(dir);
    if (!m) { fz_check_error(); return 0; }
    if (ll_model_n_entries(m) < 1 || ll_model_dim(m) < 1) abort();
    ll_model_free(m);
    return 0;
}
