/* safetensors files (single or sharded via model.safetensors.index.json),
 * read through mmap.  Every header entry is checked against the file: dtype
 * known, shape non-negative, data_offsets ordered, inside the data section and
 * of exactly prod(shape)·sizeof(dtype) bytes. */
#ifndef LL_SAFETENSORS_H
#define LL_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

#define LL_ST_MAXDIM 8

typedef enum {
    LL_ST_F32 = 0, LL_ST_F16, LL_ST_BF16, LL_ST_F64,
    LL_ST_I64, LL_ST_I32, LL_ST_I16, LL_ST_I8, LL_ST_U8, LL_ST_BOOL,
    LL_ST_U16, LL_ST_U32, LL_ST_U64, LL_ST_F8_E4M3, LL_ST_F8_E5M2
} ll_st_dtype;
const char *ll_st_dtype_name(ll_st_dtype t);
size_t ll_st_dtype_size(ll_st_dtype t);

typedef struct {
    char *name;
    ll_st_dtype dtype;
    int ndim;
    int64_t shape[LL_ST_MAXDIM];
    int64_t numel;
    const void *data; /* inside the mapping */
    size_t nbytes;
    int file;         /* index into files[]; -1: data is a buffer in owned[] (not file-backed) */
} ll_st_tensor;

typedef struct {
    int n_files;
    char **paths;
    void **maps;
    size_t *sizes;
    ll_st_tensor *tensors; /* sorted by name */
    int n_tensors;
    void **owned;          /* buffers owned by the store (e.g. dequantised GGUF tensors), freed by ll_st_close */
    int n_owned;
} ll_safetensors;

/* One file.  0, or -1 with ll_set_error("PATH: problem"). */
int ll_st_open_file(ll_safetensors *st, const char *path);
/* A model folder: DIR/model.safetensors, or the shards named by
 * DIR/model.safetensors.index.json (every weight_map entry must be found in
 * its shard). */
int ll_st_open_dir(ll_safetensors *st, const char *dir);
/* Reads an HF shard index (model.safetensors.index.json or
 * pytorch_model.bin.index.json): *root is the parsed file (cJSON_Delete it),
 * *wm its "weight_map" object, *files the distinct shard file names in order
 * of first appearance (pointers into *root; free() the array).  A name with
 * '/' or equal to ".." is refused.  0, or -1 with an error naming ipath. */
struct cJSON;
int ll_st_read_index(const char *ipath, struct cJSON **root, const struct cJSON **wm, const char ***files, int *nf);
/* Reads the index ipath (ll_st_read_index) and adds each shard it lists, a
 * file in dir, with add(st, path), stopping at the first failure; *root and
 * *wm are the index for the caller's weight_map check (cJSON_Delete *root;
 * NULL when the index could not be read).  0, or -1 with the error set. */
int ll_st_add_shards(ll_safetensors *st, const char *dir, const char *ipath,
                     int (*add)(ll_safetensors *st, const char *path), struct cJSON **root, const struct cJSON **wm);
const ll_st_tensor *ll_st_find(const ll_safetensors *st, const char *name);

void ll_st_close(ll_safetensors *st);
/* Converts n elements of an F32/F16/BF16/F64 tensor, starting at element i0,
 * to float32.  -1 for other dtypes. */
int ll_st_to_f32(const ll_st_tensor *t, int64_t i0, int64_t n, float *out);
#endif
