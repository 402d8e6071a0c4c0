/* GGUF (llama.cpp / ggml model files), versions 2 and 3, read through mmap.
 *
 * Every count, length, offset, dimension and size in the file is checked
 * against the file before it is used (overflow-safe): a bad file gives -1 and
 * ONE ll_set_error line naming the file, never a crash.  Metadata values of
 * every type are kept (arrays and nested arrays included); strings point into
 * the mapping (not NUL-terminated: use len).  Tensor data is never copied
 * except where it has to change: quantised tensors are dequantised to F32, and
 * llama.cpp's rotary row permutation of Llama q/k is undone (docs/gguf.md).
 *
 * Layout reminders: GGUF dims are ggml's ne[] (ne[0] varies fastest), i.e. the
 * reverse of the row-major shape HF and numpy use; quantisation blocks run
 * along ne[0]. */
#ifndef LL_GGUF_H
#define LL_GGUF_H
#include <stddef.h>
#include <stdint.h>
#include "io/safetensors.h"

/* metadata value types (GGUF spec) */
enum {
    LL_GGUF_UINT8 = 0, LL_GGUF_INT8 = 1, LL_GGUF_UINT16 = 2, LL_GGUF_INT16 = 3, LL_GGUF_UINT32 = 4,
    LL_GGUF_INT32 = 5, LL_GGUF_FLOAT32 = 6, LL_GGUF_BOOL = 7, LL_GGUF_STRING = 8, LL_GGUF_ARRAY = 9,
    LL_GGUF_UINT64 = 10, LL_GGUF_INT64 = 11, LL_GGUF_FLOAT64 = 12
};

/* ggml tensor types (the ones layerlaw reads; others are refused by name) */
enum {
    LL_GGML_F32 = 0, LL_GGML_F16 = 1, LL_GGML_Q4_0 = 2, LL_GGML_Q4_1 = 3, LL_GGML_Q5_0 = 6, LL_GGML_Q5_1 = 7,
    LL_GGML_Q8_0 = 8, LL_GGML_Q8_1 = 9, LL_GGML_Q2_K = 10, LL_GGML_Q3_K = 11, LL_GGML_Q4_K = 12, LL_GGML_Q5_K = 13,
    LL_GGML_Q6_K = 14, LL_GGML_Q8_K = 15, LL_GGML_I8 = 24, LL_GGML_I16 = 25, LL_GGML_I32 = 26, LL_GGML_I64 = 27,
    LL_GGML_F64 = 28, LL_GGML_BF16 = 30
};

typedef struct ll_gguf_value {
    uint32_t type;
    union {
        uint64_t u; /* unsigned integer types */
        int64_t i;  /* signed integer types, bool (0/1) */
        double f;   /* FLOAT32 / FLOAT64 */
        struct { const char *p; uint64_t len; } s;                          /* STRING (into the mapping) */
        /* ARRAY: items, or for 1-byte element types (uint8, int8, bool) items
         * NULL and raw pointing at the n bytes in the mapping (ll_gguf_array_at) */
        struct { uint32_t type; uint64_t n; struct ll_gguf_value *items; const uint8_t *raw; } a;
    } v;
} ll_gguf_value;

typedef struct {
    char *key; /* NUL-terminated copy */
    ll_gguf_value val;
} ll_gguf_kv;

typedef struct {
    char *name;
    uint32_t type;   /* ggml type */
    int n_dims;      /* 1..4 */
    int64_t ne[4];   /* ggml order: ne[0] fastest */
    int64_t numel;
    uint64_t offset; /* from the start of the data section */
    uint64_t nbytes;
    const void *data;
} ll_gguf_tensor;

typedef struct {
    char *path;
    void *map;
    size_t size;
    int owns_map;    /* 0 after ll_gguf_to_store moved the mapping into a store */
    uint32_t version;
    uint64_t alignment;
    size_t info_end;   /* end of the tensor infos (the data section starts at the next multiple of alignment) */
    size_t data_start;
    ll_gguf_kv *kvs;
    int n_kv;
    ll_gguf_tensor *tensors; /* file order */
    int n_tensors;
} ll_gguf;

/* Element i (< a->v.a.n) of an array value, whichever way it is stored. */
ll_gguf_value ll_gguf_array_at(const ll_gguf_value *a, uint64_t i);

/* Opens and checks the whole file.  0, or -1 with "PATH: problem". */
int ll_gguf_open(ll_gguf *g, const char *path);
/* The same on bytes in memory (the fuzz harness); name is used in errors.
 * buf must outlive g; nothing is unmapped on close. */
int ll_gguf_open_mem(ll_gguf *g, const void *buf, size_t size, const char *name);
void ll_gguf_close(ll_gguf *g);

const ll_gguf_value *ll_gguf_get(const ll_gguf *g, const char *key);
/* Typed getters: 0 found (converted), 1 absent, -1 present with another type
 * (error set).  get_int accepts every integer type and bool; get_float the
 * float and integer types; get_str returns a malloc'd NUL-terminated copy. */
int ll_gguf_get_int(const ll_gguf *g, const char *key, int64_t *out);
int ll_gguf_get_float(const ll_gguf *g, const char *key, double *out);
int ll_gguf_get_str(const ll_gguf *g, const char *key, char **out);
/* general.architecture (pointer into g, NUL-terminated copy kept in g), or NULL */
const char *ll_gguf_arch(const ll_gguf *g);

/* ggml type name ("Q4_K"), "?" if unknown; block geometry (elements per
 * block, bytes per block) of the types layerlaw reads: 0, or -1 unknown. */
const char *ll_gguf_type_name(uint32_t type);
int ll_gguf_type_block(uint32_t type, int *block_elems, int *block_bytes);
/* Dequantises n elements (a multiple of the block size) of src (exactly the
 * bytes the blocks need) to float32 out, as ggml's reference dequantisation
 * defines it.  Types: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K
 * Q5_K Q6_K.  0, or -1 for another type. */
int ll_gguf_dequantize(uint32_t type, const void *src, int64_t n, float *out);

/* Adds every tensor to an (empty) tensor store under its GGUF name, with the
 * row-major shape (ne reversed).  F32/F16/BF16/F64/I* point into the mapping
 * (which moves into the store: g's metadata stays valid until BOTH g and st
 * are closed); quantised types are dequantised to F32 buffers owned by the
 * store.  Values as in the file: undoing llama.cpp's per-architecture
 * conversions is the family's gguf_fixup (host/model/family.h), with the
 * reorders below.  0, or -1 with an error naming the file. */
int ll_gguf_to_store(ll_gguf *g, ll_safetensors *st);

/* ---- generic pieces for the families' GGUF hooks (no architecture here) ---- */
/* "blk.N.rest" → "rest" (and N into *layer when not NULL); NULL otherwise. */
const char *ll_gguf_layer_suffix(const char *name, int *layer);
/* A buffer of `bytes` owned by the store (freed by ll_st_close). */
void *ll_gguf_store_own(ll_safetensors *st, size_t bytes);
/* llama.cpp's LlamaModel.permute undone: the rows of each of n_head heads
 * from interleaved rotary pairs back to HF's [half 0 | half 1] order,
 *   file row h·hd + 2b + a  →  HF row h·hd + a·hd/2 + b   (a ∈ {0,1}, b < hd/2)
 * into an owned buffer (weights [rows, cols] or biases [rows]).  0 / -1 +
 * "WHERE: tensor 'x': R rows do not split into H heads of even size". */
int ll_gguf_unpermute_heads(ll_safetensors *st, ll_st_tensor *t, int n_head, const char *where);
/* [rows, cols] → [cols, rows] into an owned buffer.  0 / -1 (not 2-D). */
int ll_gguf_transpose(ll_safetensors *st, ll_st_tensor *t, const char *where);
/* "<general.architecture>.key" (as arch_int / arch_float of the config):
 * 0 found, 1 absent (def stored; -1 + error when required), -1 bad value. */
int ll_gguf_arch_int(const ll_gguf *g, const char *key, int64_t def, int64_t *out, int required);
int ll_gguf_arch_float(const ll_gguf *g, const char *key, double def, double *out);
/* 1 if the file has a tensor of that name; its info (NULL if none). */
int ll_gguf_has_tensor(const ll_gguf *g, const char *name);
const ll_gguf_tensor *ll_gguf_find_tensor(const ll_gguf *g, const char *name);
/* Rows stored as n_parts blocks of n_head heads ([part][head][hd]) back to
 * per-head groups ([head][part][hd]) into an owned buffer (weights or
 * biases).  0 / -1 + error (rows not a multiple of n_parts·n_head). */
int ll_gguf_blocks_to_heads(ll_safetensors *st, ll_st_tensor *t, int n_parts, int n_head, const char *where);

/* An HF-style config.json object from the generic <arch>.* keys
 * (gguf_architecture, hidden_size, num_hidden_layers, num_attention_heads,
 * num_key_value_heads, intermediate_size, max_position_embeddings, head_dim,
 * rms_norm_eps, layer_norm_eps, rope_theta, partial_rotary_factor, linear
 * rope_scaling, vocab_size, tie_word_embeddings); the family's gguf_config
 * adds its own (model_type included).  NULL + error.  cJSON_Delete it. */
struct cJSON;
struct cJSON *ll_gguf_hf_config(const ll_gguf *g);

/* An HF tokenizer.json (as text, malloc'd) equivalent to the GGUF
 * tokenizer.ggml.* metadata: model gpt2 (byte-level BPE; pre-tokenizer from
 * tokenizer.ggml.pre as llama.cpp maps it) or llama (SentencePiece BPE with
 * byte fallback).  NULL + error if absent or unsupported. */
char *ll_gguf_tokenizer_json(const ll_gguf *g); /* host/tokenizer/tok_gguf.c */

/* 1 if path names a file ending in ".gguf" (case-insensitive). */
int ll_is_gguf_path(const char *path);

#endif
