/* libFuzzer: the restricted pickle machine.  The input is data.pkl; it is
 * wrapped in a valid torch.save zip with two storages, archive/data/0 (64
 * bytes) and archive/data/1 (16 bytes), so mutations reach the pickle. */
#include "fuzz_torch_common.h"
#include "fuzz_zipwrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static zbuf z;
    static const float s0[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static const double s1[2] = {1.5, -2.5};
    zentry e[3] = {{"archive/data.pkl", data, size}, {"archive/data/0", s0, sizeof s0}, {"archive/data/1", s1, sizeof s1}};
    zip_build(&z, e, 3);
    fz_torch_file(fz_write("pytorch_model.bin", z.b, z.n));
    return 0;
}
