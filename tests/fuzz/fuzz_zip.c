/* libFuzzer: a whole torch.save file (zip directory, zip64 records, local
 * headers, stored and deflated entries, CRC-32, then the pickle). */
#include "fuzz_torch_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_torch_file(fz_write("pytorch_model.bin", data, size));
    return 0;
}
