/* What host/io/torch_pickle.c (the reader) and host/io/torch_store.c (the
 * checkpoint as a tensor store) share: the open file.  Internal to host/io. */
#ifndef LL_TORCH_INTERNAL_H
#define LL_TORCH_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "io/torch_pickle.h"

struct ll_torch_file {
    void *map;
    size_t size;
    ll_torch_tensor *t;
    char **names;
    size_t n;
    uint8_t **owned;
    size_t nowned;
    uint64_t storage_bytes;
};
#endif
