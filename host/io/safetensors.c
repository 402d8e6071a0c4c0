/* safetensors reader: mmap + checked header (see safetensors.h). */
#include "io/safetensors.h"
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/ll_util.h"

static const struct { const char *name; ll_st_dtype t; size_t size; } st_types[] = {
    {"F32", LL_ST_F32, 4},  {"F16", LL_ST_F16, 2},   {"BF16", LL_ST_BF16, 2}, {"F64", LL_ST_F64, 8},
    {"I64", LL_ST_I64, 8},  {"I32", LL_ST_I32, 4},   {"I16", LL_ST_I16, 2},   {"I8", LL_ST_I8, 1},
    {"U8", LL_ST_U8, 1},    {"BOOL", LL_ST_BOOL, 1}, {"U16", LL_ST_U16, 2},   {"U32", LL_ST_U32, 4},
    {"U64", LL_ST_U64, 8},  {"F8_E4M3", LL_ST_F8_E4M3, 1}, {"F8_E5M2", LL_ST_F8_E5M2, 1},
};
#define N_ST_TYPES (int)(sizeof st_types / sizeof st_types[0])

const char *ll_st_dtype_name(ll_st_dtype t) {
    for (int i = 0; i < N_ST_TYPES; i++)
        if (st_types[i].t == t) return st_types[i].name;
    return "?";
}
size_t ll_st_dtype_size(ll_st_dtype t) {
    for (int i = 0; i < N_ST_TYPES; i++)
        if (st_types[i].t == t) return st_types[i].size;
    return 0;
}

static int cmp_tensor(const void *a, const void *b) {
    return strcmp(((const ll_st_tensor *)a)->name, ((const ll_st_tensor *)b)->name);
}

static int cmp_offset(const void *a, const void *b) {
    const ll_st_tensor *x = *(ll_st_tensor *const *)a, *y = *(ll_st_tensor *const *)b;
    const char *px = x->data, *py = y->data;
    if (px != py) return px < py ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes; /* empty tensors first at one offset */
}

/* Maps one file, parses and checks its header, appends its tensors. */
static int st_add_file(ll_safetensors *st, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { ll_set_error("%s: cannot open (%s)", path, strerror(errno)); return -1; }
    struct stat sb;
    if (fstat(fd, &sb) != 0) { ll_set_error("%s: cannot stat (%s)", path, strerror(errno)); close(fd); return -1; }
    size_t fsize = (size_t)sb.st_size;
    if (fsize < 8) { ll_set_error("%s: truncated safetensors file (%zu bytes, no header)", path, fsize); close(fd); return -1; }
    void *map = mmap(NULL, fsize, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) { ll_set_error("%s: mmap failed (%s)", path, strerror(errno)); return -1; }
    const unsigned char *p = map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    if (hlen > fsize - 8) {
        ll_set_error("%s: truncated safetensors file (header of %llu bytes, file has %zu)", path,
                     (unsigned long long)hlen, fsize);
        munmap(map, fsize);
        return -1;
    }
    if (hlen > 100u * 1024 * 1024) { ll_set_error("%s: safetensors header too large", path); munmap(map, fsize); return -1; }
    char *hdr = ll_xmalloc(hlen + 1);
    memcpy(hdr, p + 8, hlen);
    hdr[hlen] = 0;
    cJSON *root = cJSON_Parse(hdr);
    free(hdr);
    if (!root || !cJSON_IsObject(root)) {
        ll_set_error("%s: safetensors header is not a JSON object", path);
        cJSON_Delete(root);
        munmap(map, fsize);
        return -1;
    }
    size_t data_start = 8 + hlen, data_size = fsize - data_start;
    int fi = st->n_files;
    st->paths = ll_xrealloc(st->paths, sizeof(char *) * (fi + 1));
    st->maps = ll_xrealloc(st->maps, sizeof(void *) * (fi + 1));
    st->sizes = ll_xrealloc(st->sizes, sizeof(size_t) * (fi + 1));
    st->paths[fi] = ll_xstrdup(path);
    st->maps[fi] = map;
    st->sizes[fi] = fsize;
    st->n_files++;
    int count = cJSON_GetArraySize(root), first = st->n_tensors;
    st->tensors = ll_xrealloc(st->tensors, sizeof(ll_st_tensor) * (st->n_tensors + count + 1));
    int rc = 0;
    for (cJSON *e = root->child; e; e = e->next) {
        const char *name = e->string;
        if (!name) continue;
        if (!strcmp(name, "__metadata__")) continue;
        if (!cJSON_IsObject(e)) { ll_set_error("%s: tensor '%s': entry is not an object", path, name); rc = -1; break; }
        cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
        cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(jd) || !cJSON_IsArray(js) || !cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2) {
            ll_set_error("%s: tensor '%s': needs dtype, shape and data_offsets [begin, end]", path, name);
            rc = -1; break;
        }
        ll_st_tensor t;
        memset(&t, 0, sizeof t);
        int found = 0;
        for (int i = 0; i < N_ST_TYPES; i++)
            if (!strcmp(jd->valuestring, st_types[i].name)) { t.dtype = st_types[i].t; found = 1; }
        if (!found) { ll_set_error("%s: tensor '%s': unknown dtype '%s'", path, name, jd->valuestring); rc = -1; break; }
        t.ndim = cJSON_GetArraySize(js);
        if (t.ndim > LL_ST_MAXDIM) { ll_set_error("%s: tensor '%s': %d dimensions (max %d)", path, name, t.ndim, LL_ST_MAXDIM); rc = -1; break; }
        t.numel = 1;
        int bad = 0, k = 0;
        for (cJSON *d = js->child; d; d = d->next, k++) {
            if (!cJSON_IsNumber(d) || !(d->valuedouble >= 0 && d->valuedouble <= 1e15) || d->valuedouble != floor(d->valuedouble)) { bad = 1; break; }
            t.shape[k] = (int64_t)d->valuedouble;
            if (t.shape[k] && t.numel > INT64_MAX / t.shape[k]) { bad = 1; break; }
            t.numel *= t.shape[k];
        }
        if (bad) { ll_set_error("%s: tensor '%s': invalid shape", path, name); rc = -1; break; }
        double b0 = cJSON_GetArrayItem(jo, 0)->valuedouble, b1 = cJSON_GetArrayItem(jo, 1)->valuedouble;
        /* range first, in double (2^53: every integer below is exact), and
         * only then the cast: a cast of 1e300 to uint64 is undefined */
        if (!cJSON_IsNumber(cJSON_GetArrayItem(jo, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(jo, 1)) ||
            !(b0 >= 0 && b0 <= 9007199254740992.0) || !(b1 >= b0 && b1 <= 9007199254740992.0) || b0 != floor(b0) ||
            b1 != floor(b1)) {
            ll_set_error("%s: tensor '%s': invalid data_offsets", path, name);
            rc = -1; break;
        }
        uint64_t o0 = (uint64_t)b0, o1 = (uint64_t)b1;
        if (o1 > data_size) {
            ll_set_error("%s: tensor '%s': data_offsets end %llu is past the end of the file (data section has %zu bytes)",
                         path, name, (unsigned long long)o1, data_size);
            rc = -1; break;
        }
        size_t es = ll_st_dtype_size(t.dtype);
        if ((uint64_t)t.numel > UINT64_MAX / es || o1 - o0 != (uint64_t)t.numel * es) {
            ll_set_error("%s: tensor '%s': %llu bytes for shape of %lld %s elements", path, name,
                         (unsigned long long)(o1 - o0), (long long)t.numel, jd->valuestring);
            rc = -1; break;
        }
        t.data = p + data_start + o0;
        t.nbytes = o1 - o0;
        t.file = fi;
        t.name = ll_xstrdup(name);
        st->tensors[st->n_tensors++] = t;
    }
    cJSON_Delete(root);
    if (rc) return -1;
    /* as HF's reader (safetensors' Metadata::validate): sorted by offset, the
     * tensors tile the data section exactly: no overlap, no gap, no tail */
    {
        int n0 = st->n_tensors - first;
        ll_st_tensor **by = ll_xmalloc((size_t)(n0 > 0 ? n0 : 1) * sizeof *by);
        for (int i = 0; i < n0; i++) by[i] = &st->tensors[first + i];
        qsort(by, (size_t)n0, sizeof *by, cmp_offset);
        const unsigned char *at = p + data_start;
        for (int i = 0; i < n0 && rc == 0; i++) {
            const unsigned char *b = by[i]->data;
            if (b != at) {
                ll_set_error("%s: tensor '%s': data_offsets begin %llu %s the previous tensor's end %llu (tensors must tile the data section)",
                             path, by[i]->name, (unsigned long long)(b - p - data_start), b < at ? "overlaps" : "leaves a gap after",
                             (unsigned long long)(at - p - data_start));
                rc = -1;
            }
            at = b + by[i]->nbytes;
        }
        if (rc == 0 && at != p + fsize) {
            ll_set_error("%s: %llu bytes after the last tensor's data (the data section has %zu bytes)", path,
                         (unsigned long long)(p + fsize - at), data_size);
            rc = -1;
        }
        free(by);
        if (rc) return -1;
    }
    qsort(st->tensors, st->n_tensors, sizeof(ll_st_tensor), cmp_tensor);
    for (int i = 1; i < st->n_tensors; i++)
        if (!strcmp(st->tensors[i].name, st->tensors[i - 1].name)) {
            ll_set_error("%s: tensor '%s' appears twice", path, st->tensors[i].name);
            return -1;
        }
    return 0;
}

int ll_st_open_file(ll_safetensors *st, const char *path) {
    memset(st, 0, sizeof *st);
    if (st_add_file(st, path) != 0) { ll_st_close(st); return -1; }
    return 0;
}

typedef struct { const char *name; int pos; } idx_name;
static int cmp_idx_name(const void *a, const void *b) {
    const idx_name *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}
static int cmp_idx_pos(const void *a, const void *b) {
    const idx_name *x = a, *y = b;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

int ll_st_read_index(const char *ipath, cJSON **root_out, const cJSON **wm_out, const char ***files_out, int *nf_out) {
    size_t len;
    char *txt = ll_read_file(ipath, &len);
    if (!txt) return -1;
    cJSON *root = cJSON_Parse(txt);
    free(txt);
    cJSON *wm = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(wm)) {
        ll_set_error("%s: not valid JSON with a 'weight_map' object", ipath);
        cJSON_Delete(root);
        return -1;
    }
    /* distinct shard names in order of first appearance, in O(n log n): sort
     * (name, position), keep each name's first, sort those by position */
    int ne = cJSON_GetArraySize(wm), k = 0;
    idx_name *all = ll_xmalloc((size_t)(ne > 0 ? ne : 1) * sizeof *all);
    for (cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || !strcmp(e->valuestring, "..")) {
            ll_set_error("%s: weight_map entry '%s' is not a file name", ipath, e->string ? e->string : "?");
            free(all);
            cJSON_Delete(root);
            return -1;
        }
        all[k].name = e->valuestring;
        all[k].pos = k;
        k++;
    }
    qsort(all, (size_t)k, sizeof *all, cmp_idx_name);
    int nf = 0;
    for (int i = 0; i < k; i++)
        if (i == 0 || strcmp(all[i].name, all[i - 1].name)) all[nf++] = all[i];
    qsort(all, (size_t)nf, sizeof *all, cmp_idx_pos);
    const char **files = ll_xmalloc((size_t)(nf > 0 ? nf : 1) * sizeof *files);
    for (int i = 0; i < nf; i++) files[i] = all[i].name;
    free(all);
    *root_out = root;
    *wm_out = wm;
    *files_out = files;
    *nf_out = nf;
    return 0;
}

int ll_st_open_dir(ll_safetensors *st, const char *dir) {
    memset(st, 0, sizeof *st);
    char path[4096];
    ll_path_join(path, sizeof path, dir, "model.safetensors");
    if (ll_path_exists(path)) return ll_st_open_file(st, path);
    char ipath[4096];
    ll_path_join(ipath, sizeof ipath, dir, "model.safetensors.index.json");
    if (!ll_path_exists(ipath)) {
        /* other formats (pytorch_model.bin, ...): the model loader's dispatch, host/model/weights.c */
        ll_set_error("%s: no model.safetensors or model.safetensors.index.json", dir);
        return -1;
    }
    cJSON *root;
    const cJSON *wm;
    const char **files;
    int nf;
    if (ll_st_read_index(ipath, &root, &wm, &files, &nf) != 0) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < nf; i++) {
        ll_path_join(path, sizeof path, dir, files[i]);
        if (st_add_file(st, path) != 0) rc = -1;
    }
    for (cJSON *e = wm->child; rc == 0 && e; e = e->next) {
        const ll_st_tensor *t = ll_st_find(st, e->string);
        if (!t || strcmp(strrchr(st->paths[t->file], '/') ? strrchr(st->paths[t->file], '/') + 1 : st->paths[t->file],
                         e->valuestring)) {
            ll_set_error("%s: tensor '%s' not found in shard %s", ipath, e->string, e->valuestring);
            rc = -1;
        }
    }
    free((void *)files);
    cJSON_Delete(root);
    if (rc) ll_st_close(st);
    return rc;
}

const ll_st_tensor *ll_st_find(const ll_safetensors *st, const char *name) {
    int lo = 0, hi = st->n_tensors - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(st->tensors[mid].name, name);
        if (c == 0) return &st->tensors[mid];
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return NULL;
}

void ll_st_close(ll_safetensors *st) {
    for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    free(st->tensors);
    for (int i = 0; i < st->n_files; i++) {
        if (st->maps[i]) munmap(st->maps[i], st->sizes[i]);
        free(st->paths[i]);
    }
    free(st->paths);
    free(st->maps);
    free(st->sizes);
    for (int i = 0; i < st->n_owned; i++) free(st->owned[i]);
    free(st->owned);
    memset(st, 0, sizeof *st);
}

int ll_st_to_f32(const ll_st_tensor *t, int64_t i0, int64_t n, float *out) {
    const unsigned char *b = t->data;
    switch (t->dtype) {
    case LL_ST_F32: memcpy(out, b + 4 * i0, 4 * n); return 0;
    case LL_ST_F16:
        for (int64_t i = 0; i < n; i++) { uint16_t v; memcpy(&v, b + 2 * (i0 + i), 2); out[i] = ll_f16_to_f32(v); }
        return 0;
    case LL_ST_BF16:
        for (int64_t i = 0; i < n; i++) { uint16_t v; memcpy(&v, b + 2 * (i0 + i), 2); out[i] = ll_bf16_to_f32(v); }
        return 0;
    case LL_ST_F64:
        for (int64_t i = 0; i < n; i++) { double v; memcpy(&v, b + 8 * (i0 + i), 8); out[i] = (float)v; }
        return 0;
    default: return -1;
    }
}
