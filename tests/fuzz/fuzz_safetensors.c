/* libFuzzer: a safetensors file (8-byte length, JSON header, data). */
#include "fuzz_util.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write("model.safetensors", data, size);
    ll_safetensors st;
    fz_reset_error();
    if (ll_st_open_file(&st, path) != 0) { fz_check_error(); return 0; }
    float buf[256];
    for (int i = 0; i < st.n_tensors; i++) {
        const ll_st_tensor *t = &st.tensors[i];
        if (ll_st_find(&st, t->name) != t) abort();
        /* read every element of the float tensors: ASan sees any byte outside the mapping */
        for (int64_t j = 0; j < t->numel; j += 256) {
            int64_t n = t->numel - j < 256 ? t->numel - j : 256;
            if (ll_st_to_f32(t, j, n, buf) != 0) break;
        }
        if (t->nbytes) { volatile unsigned char x = ((const unsigned char *)t->data)[t->nbytes - 1]; (void)x; }
    }
    ll_st_close(&st);
    return 0;
}
