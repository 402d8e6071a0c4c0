/* Safe reader for PyTorch checkpoints written by torch.save (the zip format:
 * <name>/data.pkl + <name>/data/<key> storages), e.g. HF pytorch_model.bin.
 *
 * Nothing in the file is ever executed.  data.pkl is interpreted by a tiny
 * pickle machine that knows only plain data opcodes (tuples, lists, dicts,
 * strings, ints, floats, bools, None, memo) and exactly these globals:
 *   collections.OrderedDict            (builds an empty dict; BUILD state ignored)
 *   torch._utils._rebuild_tensor_v2    (storage, offset, size, stride, ...)
 *   torch._utils._rebuild_parameter    (tensor, requires_grad, hooks) -> tensor
 *   torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage
 *     as the storage type of a persistent id ('storage', type, key, loc, numel).
 * Every other global or opcode (INST, OBJ, NEWOBJ, EXT, PERSID text, ...)
 * is rejected with one line naming the file and the offending item.
 * Storages must be stored (or deflated) zip entries; their CRC-32 is checked
 * and every tensor's extent is bounds-checked against its storage.
 *
 * The result is the top-level dict (plain or OrderedDict) of name -> tensor;
 * non-tensor values are ignored.  Legacy (pre-1.6, non-zip) files are
 * rejected with a hint. */
#ifndef LL_TORCH_PICKLE_H
#define LL_TORCH_PICKLE_H
#include <stddef.h>
#include <stdint.h>
#include "io/safetensors.h"

typedef enum {
    LL_TT_F32 = 0, LL_TT_F16, LL_TT_BF16, LL_TT_F64,
    LL_TT_I64, LL_TT_I32, LL_TT_I16, LL_TT_I8, LL_TT_U8, LL_TT_BOOL
} ll_torch_dtype;

#define LL_TORCH_MAX_DIMS 8

typedef struct {
    const char *name;
    ll_torch_dtype dtype;
    int ndim;
    int64_t shape[LL_TORCH_MAX_DIMS];
    int64_t stride[LL_TORCH_MAX_DIMS]; /* in elements */
    int64_t numel;
    int contiguous;    /* row-major dense: data holds numel elements in order */
    const void *data;  /* first element (storage + offset); valid until close */
} ll_torch_tensor;

typedef struct ll_torch_file ll_torch_file;

/* NULL + ll_set_error("<path>: ...") on any problem. */
ll_torch_file *ll_torch_open(const char *path);
void ll_torch_close(ll_torch_file *f);
size_t ll_torch_count(const ll_torch_file *f);
const ll_torch_tensor *ll_torch_at(const ll_torch_file *f, size_t i);
/* NULL (no error set) if absent. */
const ll_torch_tensor *ll_torch_find(const ll_torch_file *f, const char *name);
size_t ll_torch_dtype_size(ll_torch_dtype t);
const char *ll_torch_dtype_name(ll_torch_dtype t);
/* Copies the tensor into out[numel] as float32 (any dtype, any strides). */
void ll_torch_to_f32(const ll_torch_tensor *t, float *out);

/* ---- as a safetensors set (so the model loader reads .bin checkpoints) ----
 * Appends the tensors of the torch.save file `path` to *st (zero it first for
 * a fresh set): contiguous stored tensors point into the file's mapping,
 * the others are copied (row-major) into an anonymous mapping; both mappings
 * belong to *st (freed by ll_st_close).  Tensors are re-sorted by name; a
 * duplicate name is an error.  0, or -1 + error (then *st is closed). */
int ll_torch_add_to_safetensors(ll_safetensors *st, const char *path);
/* DIR/pytorch_model.bin, or the shards named by DIR/pytorch_model.bin.index.json
 * (weight_map), as one safetensors set.  Returns 1 if DIR has neither (nothing
 * done, no error), 0 on success, -1 + error. */
int ll_torch_open_dir_as_safetensors(ll_safetensors *st, const char *dir);
#endif
