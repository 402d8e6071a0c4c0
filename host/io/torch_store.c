/* A torch.save checkpoint as a tensor store (ll_safetensors), so that the
 * model loader binds .bin checkpoints exactly as safetensors: one file
 * (ll_torch_add_to_safetensors) or a folder's pytorch_model.bin[.index.json]
 * (ll_torch_open_dir_as_safetensors).  Which format a folder holds is the
 * model loader's choice (host/model/weights.c), not this file's. */
#include "io/torch_pickle.h"
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "core/ll_util.h"
#include "io/torch_internal.h"

/* ------------------------------------------------ as a safetensors set -- */

static int st_cmp(const void *a, const void *b) {
    return strcmp(((const ll_st_tensor *)a)->name, ((const ll_st_tensor *)b)->name);
}

static ll_st_dtype st_dtype(ll_torch_dtype t) {
    switch (t) {
    case LL_TT_F32: return LL_ST_F32;
    case LL_TT_F16: return LL_ST_F16;
    case LL_TT_BF16: return LL_ST_BF16;
    case LL_TT_F64: return LL_ST_F64;
    case LL_TT_I64: return LL_ST_I64;
    case LL_TT_I32: return LL_ST_I32;
    case LL_TT_I16: return LL_ST_I16;
    case LL_TT_I8: return LL_ST_I8;
    case LL_TT_U8: return LL_ST_U8;
    default: return LL_ST_BOOL;
    }
}

static void st_push_file(ll_safetensors *st, const char *path, void *map, size_t size) {
    st->paths = ll_xrealloc(st->paths, sizeof(char *) * (st->n_files + 1));
    st->maps = ll_xrealloc(st->maps, sizeof(void *) * (st->n_files + 1));
    st->sizes = ll_xrealloc(st->sizes, sizeof(size_t) * (st->n_files + 1));
    st->paths[st->n_files] = ll_xstrdup(path);
    st->maps[st->n_files] = map;
    st->sizes[st->n_files] = size;
    st->n_files++;
}

/* Row-major copy of a strided tensor, element by element (any dtype). */
static void gather_bytes(const ll_torch_tensor *t, uint8_t *dst) {
    size_t es = ll_torch_dtype_size(t->dtype);
    int64_t idx[LL_TORCH_MAX_DIMS] = {0};
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t off = 0;
        for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
        memcpy(dst + (size_t)i * es, (const uint8_t *)t->data + (size_t)off * es, es);
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
}

int ll_torch_add_to_safetensors(ll_safetensors *st, const char *path) {
    ll_torch_file *f = ll_torch_open(path);
    if (!f) { ll_st_close(st); return -1; }
    const uint8_t *lo = f->map, *hi = lo + f->size;
    size_t copy_bytes = 0;
    for (size_t i = 0; i < f->n; i++) {
        const ll_torch_tensor *t = &f->t[i];
        size_t nb = (size_t)t->numel * ll_torch_dtype_size(t->dtype); /* <= its storage's bytes (checked) */
        int inside = (const uint8_t *)t->data >= lo && (const uint8_t *)t->data <= hi && nb <= (size_t)(hi - (const uint8_t *)t->data);
        if (!t->contiguous || !inside) copy_bytes += (nb + 63) & ~(size_t)63;
        /* many views of one storage could multiply it: copies are bounded by
         * twice the storages (a tensor and its transpose) plus alignment */
        if (copy_bytes > 2 * f->storage_bytes + 64 * (i + 1)) {
            ll_torch_close(f);
            ll_st_close(st);
            ll_set_error("%s: its strided views would copy more than twice the bytes of their storages (not supported)", path);
            return -1;
        }
    }
    uint8_t *anon = NULL;
    if (copy_bytes) {
        anon = mmap(NULL, copy_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (anon == MAP_FAILED) { ll_torch_close(f); ll_st_close(st); ll_set_error("%s: out of memory", path); return -1; }
    }
    /* the file mapping moves to st */
    const int file_idx = st->n_files;
    st_push_file(st, path, f->map, f->size);
    if (anon) st_push_file(st, path, anon, copy_bytes);
    f->map = NULL;
    st->tensors = ll_xrealloc(st->tensors, sizeof(ll_st_tensor) * (st->n_tensors + f->n + 1));
    size_t co = 0;
    for (size_t i = 0; i < f->n; i++) {
        const ll_torch_tensor *t = &f->t[i];
        ll_st_tensor *o = &st->tensors[st->n_tensors++];
        memset(o, 0, sizeof *o);
        o->name = ll_xstrdup(t->name);
        o->dtype = st_dtype(t->dtype);
        o->ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) o->shape[d] = t->shape[d];
        o->numel = t->numel;
        o->nbytes = (size_t)t->numel * ll_torch_dtype_size(t->dtype);
        int inside = (const uint8_t *)t->data >= lo && (const uint8_t *)t->data <= hi && o->nbytes <= (size_t)(hi - (const uint8_t *)t->data);
        if (t->contiguous && inside) {
            o->data = t->data;
            o->file = file_idx;
        } else {
            gather_bytes(t, anon + co);
            o->data = anon + co;
            o->file = file_idx + 1;
            co += (o->nbytes + 63) & ~(size_t)63;
        }
    }
    ll_torch_close(f);
    if (anon) mprotect(anon, copy_bytes, PROT_READ);
    qsort(st->tensors, st->n_tensors, sizeof(ll_st_tensor), st_cmp);
    for (int i = 1; i < st->n_tensors; i++)
        if (!strcmp(st->tensors[i].name, st->tensors[i - 1].name)) {
            ll_set_error("%s: tensor '%s' appears twice", path, st->tensors[i].name);
            ll_st_close(st);
            return -1;
        }
    return 0;
}

int ll_torch_open_dir_as_safetensors(ll_safetensors *st, const char *dir) {
    char path[4096], ipath[4096];
    memset(st, 0, sizeof *st);
    ll_path_join(path, sizeof path, dir, "pytorch_model.bin");
    if (ll_path_exists(path)) return ll_torch_add_to_safetensors(st, path);
    ll_path_join(ipath, sizeof ipath, dir, "pytorch_model.bin.index.json");
    if (!ll_path_exists(ipath)) return 1;
    cJSON *root;
    const cJSON *wm;
    const char **files;
    int nf;
    if (ll_st_read_index(ipath, &root, &wm, &files, &nf) != 0) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < nf; i++) {
        ll_path_join(path, sizeof path, dir, files[i]);
        rc = ll_torch_add_to_safetensors(st, path); /* closes st on failure */
    }
    /* every weight_map entry must be present */
    for (cJSON *e = wm->child; e && rc == 0; e = e->next)
        if (!ll_st_find(st, e->string)) {
            ll_set_error("%s: tensor '%s' listed in the weight_map is missing from %s", ipath, e->string, e->valuestring);
            ll_st_close(st);
            rc = -1;
        }
    free((void *)files);
    cJSON_Delete(root);
    return rc;
}
