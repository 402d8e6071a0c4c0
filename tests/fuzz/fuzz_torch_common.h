/* What the two PyTorch harnesses do with a file: open it, convert every
 * tensor, and load it as a safetensors set (the model loader's path). */
#ifndef LL_FUZZ_TORCH_COMMON_H
#define LL_FUZZ_TORCH_COMMON_H
#include "fuzz_util.h"
#include "io/safetensors.h"
#include "io/torch_pickle.h"

static void fz_torch_file(const char *path) {
    fz_reset_error();
    ll_torch_file *f = ll_torch_open(path);
    if (!f) { fz_check_error(); return; }
    for (size_t i = 0; i < ll_torch_count(f); i++) {
        const ll_torch_tensor *t = ll_torch_at(f, i);
        if (ll_torch_find(f, t->name) != t) abort();
        float *out = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *out);
        if (!out) abort();
        ll_torch_to_f32(t, out);
        free(out);
    }
    ll_torch_close(f);
    ll_safetensors st;
    memset(&st, 0, sizeof st);
    fz_reset_error();
    if (ll_torch_add_to_safetensors(&st, path) != 0) { fz_check_error(); return; }
    for (int i = 0; i < st.n_tensors; i++)
        if (st.tensors[i].nbytes) { volatile unsigned char x = ((const unsigned char *)st.tensors[i].data)[st.tensors[i].nbytes - 1]; (void)x; }
    ll_st_close(&st);
}
#endif
