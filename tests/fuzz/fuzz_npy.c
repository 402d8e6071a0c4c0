/* libFuzzer: a .npy file (header dict + data). */
#include "fuzz_util.h"
#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write("x.npy", data, size);
    ll_npy n;
    fz_reset_error();
    if (ll_npy_open(path, &n) != 0) { fz_check_error(); return 0; }
    double buf[256];
    for (size_t i = 0; i < n.count; i += 256) {
        size_t k = n.count - i < 256 ? n.count - i : 256;
        ll_npy_read_f64(&n, i, k, buf);
    }
    ll_npy_close(&n);
    return 0;
}
