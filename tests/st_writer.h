/* Writes a safetensors file from a list of tensors (for tests that build
 * broken or altered checkpoints from a fixture).  Header-only. */
#ifndef LL_TEST_ST_WRITER_H
#define LL_TEST_ST_WRITER_H
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/safetensors.h"

typedef struct {
    const char *name;
    const char *dtype; /* "F32", "BF16", ... */
    int ndim;
    int64_t shape[LL_ST_MAXDIM];
    const void *data;
    size_t nbytes;
} st_entry;

/* 0, or -1 when the file cannot be written. */
static inline int st_write(const char *path, const st_entry *e, int n) {
    cJSON *h = cJSON_CreateObject();
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *t = cJSON_AddObjectToObject(h, e[i].name);
        cJSON_AddStringToObject(t, "dtype", e[i].dtype);
        cJSON *sh = cJSON_AddArrayToObject(t, "shape");
        for (int k = 0; k < e[i].ndim; k++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)e[i].shape[k]));
        cJSON *o = cJSON_AddArrayToObject(t, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + e[i].nbytes)));
        off += e[i].nbytes;
    }
    char *hs = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    FILE *f = fopen(path, "wb");
    if (!f) { free(hs); return -1; }
    uint64_t hl = strlen(hs);
    for (int i = 0; i < 8; i++) fputc((int)((hl >> (8 * i)) & 0xff), f);
    fwrite(hs, 1, hl, f);
    free(hs);
    for (int i = 0; i < n; i++) fwrite(e[i].data, 1, e[i].nbytes, f);
    return fclose(f) == 0 ? 0 : -1;
}

/* The entry of a tensor of an open file, as stored. */
static inline st_entry st_entry_of(const ll_st_tensor *t) {
    st_entry e;
    memset(&e, 0, sizeof e);
    e.name = t->name;
    e.dtype = ll_st_dtype_name(t->dtype);
    e.ndim = t->ndim;
    for (int k = 0; k < t->ndim; k++) e.shape[k] = t->shape[k];
    e.data = t->data;
    e.nbytes = t->nbytes;
    return e;
}
#endif
