/* GGUF reader (see gguf.h): a bounds-checked cursor over the mapped file. */
#include "io/gguf.h"
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/ll_util.h"

#define GGUF_MAX_NAME 256        /* ggml uses 64; a little slack for other writers */
#define GGUF_MAX_KEY (1u << 16)
#define GGUF_MAX_DEPTH 8         /* nested arrays */

typedef struct {
    const uint8_t *p;
    size_t size, pos;
    const char *path;
    int err;
} cur;

__attribute__((format(printf, 2, 3))) static int fail(cur *c, const char *fmt, ...) {
    if (!c->err) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        ll_set_error("%s: %s", c->path, msg);
    }
    c->err = 1;
    return -1;
}
static int need(cur *c, uint64_t n, const char *what) {
    if (c->err) return -1;
    if (n > c->size - c->pos)
        return fail(c, "truncated GGUF file: %s needs %llu bytes at offset %llu", what, (unsigned long long)n,
                    (unsigned long long)c->pos);
    return 0;
}
static uint64_t rd_le(cur *c, int nb, const char *what) {
    if (need(c, (uint64_t)nb, what)) return 0;
    uint64_t v = 0;
    for (int i = nb - 1; i >= 0; i--) v = (v << 8) | c->p[c->pos + i];
    c->pos += nb;
    return v;
}
static uint32_t rd_u32(cur *c, const char *what) { return (uint32_t)rd_le(c, 4, what); }
static uint64_t rd_u64(cur *c, const char *what) { return rd_le(c, 8, what); }
static int rd_str(cur *c, const char **p, uint64_t *len, const char *what) {
    uint64_t n = rd_u64(c, what);
    if (c->err || need(c, n, what)) return -1;
    *p = (const char *)c->p + c->pos;
    *len = n;
    c->pos += n;
    return 0;
}

/* fixed size of a scalar value type, 0 for string/array, -1 unknown */
static int vt_size(uint32_t t) {
    switch (t) {
    case LL_GGUF_UINT8: case LL_GGUF_INT8: case LL_GGUF_BOOL: return 1;
    case LL_GGUF_UINT16: case LL_GGUF_INT16: return 2;
    case LL_GGUF_UINT32: case LL_GGUF_INT32: case LL_GGUF_FLOAT32: return 4;
    case LL_GGUF_UINT64: case LL_GGUF_INT64: case LL_GGUF_FLOAT64: return 8;
    case LL_GGUF_STRING: case LL_GGUF_ARRAY: return 0;
    default: return -1;
    }
}

static void free_value(ll_gguf_value *v) {
    if (v->type != LL_GGUF_ARRAY || !v->v.a.items) return;
    for (uint64_t i = 0; i < v->v.a.n; i++) free_value(&v->v.a.items[i]);
    free(v->v.a.items);
    v->v.a.items = NULL;
}

ll_gguf_value ll_gguf_array_at(const ll_gguf_value *a, uint64_t i) {
    ll_gguf_value v;
    memset(&v, 0, sizeof v);
    if (a->type != LL_GGUF_ARRAY || i >= a->v.a.n) return v;
    if (a->v.a.items) return a->v.a.items[i];
    v.type = a->v.a.type;
    const uint8_t b = a->v.a.raw[i];
    if (v.type == LL_GGUF_UINT8) v.v.u = b;
    else if (v.type == LL_GGUF_INT8) v.v.i = (int8_t)b;
    else v.v.i = b; /* bool */
    return v;
}

static int rd_value(cur *c, uint32_t type, ll_gguf_value *v, const char *key, int depth) {
    memset(v, 0, sizeof *v);
    v->type = type;
    int sz = vt_size(type);
    if (sz < 0) return fail(c, "metadata '%s': unknown value type %u", key, type);
    if (sz > 0) {
        uint64_t raw = rd_le(c, sz, key);
        if (c->err) return -1;
        switch (type) {
        case LL_GGUF_INT8: v->v.i = (int8_t)raw; break;
        case LL_GGUF_INT16: v->v.i = (int16_t)raw; break;
        case LL_GGUF_INT32: v->v.i = (int32_t)raw; break;
        case LL_GGUF_INT64: v->v.i = (int64_t)raw; break;
        case LL_GGUF_BOOL:
            if (raw > 1) return fail(c, "metadata '%s': bool value %llu", key, (unsigned long long)raw);
            v->v.i = (int64_t)raw;
            break;
        case LL_GGUF_FLOAT32: { uint32_t u = (uint32_t)raw; float f; memcpy(&f, &u, 4); v->v.f = f; break; }
        case LL_GGUF_FLOAT64: { double f; memcpy(&f, &raw, 8); v->v.f = f; break; }
        default: v->v.u = raw; break;
        }
        return 0;
    }
    if (type == LL_GGUF_STRING) return rd_str(c, &v->v.s.p, &v->v.s.len, key);
    /* array */
    if (depth >= GGUF_MAX_DEPTH) return fail(c, "metadata '%s': arrays nested deeper than %d", key, GGUF_MAX_DEPTH);
    uint32_t et = rd_u32(c, key);
    uint64_t n = rd_u64(c, key);
    if (c->err) return -1;
    int es = vt_size(et);
    if (es < 0) return fail(c, "metadata '%s': unknown array element type %u", key, et);
    /* every element takes at least this many bytes: bounds n before allocating */
    uint64_t min_es = es > 0 ? (uint64_t)es : et == LL_GGUF_STRING ? 8 : 12;
    if (n > (c->size - c->pos) / min_es)
        return fail(c, "metadata '%s': array of %llu elements runs past the end of the file (offset %llu)", key,
                    (unsigned long long)n, (unsigned long long)c->pos);
    v->v.a.type = et;
    v->v.a.n = n;
    if (es == 1) {
        /* bytes (uint8, int8, bool: e.g. a precompiled charsmap) stay in the
         * mapping, not one 32-byte value each */
        const uint8_t *b = c->p + c->pos;
        if (et == LL_GGUF_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (b[i] > 1) return fail(c, "metadata '%s': bool value %u", key, b[i]);
        v->v.a.raw = b;
        c->pos += n;
        return 0;
    }
    v->v.a.items = ll_xcalloc(n ? n : 1, sizeof(ll_gguf_value));
    for (uint64_t i = 0; i < n; i++)
        if (rd_value(c, et, &v->v.a.items[i], key, depth + 1)) {
            v->v.a.n = i + 1;
            return -1;
        }
    return 0;
}

void ll_gguf_close(ll_gguf *g) {
    if (!g) return;
    for (int i = 0; i < g->n_kv; i++) {
        free(g->kvs[i].key);
        free_value(&g->kvs[i].val);
    }
    free(g->kvs);
    for (int i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->tensors);
    if (g->owns_map && g->map) munmap(g->map, g->size);
    free(g->path);
    memset(g, 0, sizeof *g);
}

static int cmp_off(const void *a, const void *b) {
    const ll_gguf_tensor *x = *(ll_gguf_tensor *const *)a, *y = *(ll_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}
static int cmp_name(const void *a, const void *b) {
    return strcmp((*(ll_gguf_tensor *const *)a)->name, (*(ll_gguf_tensor *const *)b)->name);
}

static int parse(ll_gguf *g) {
    cur c = {.p = g->map, .size = g->size, .path = g->path};
    if (g->size < 4 || memcmp(g->map, "GGUF", 4) != 0) {
        ll_set_error("%s: not a GGUF file (bad magic)", g->path);
        return -1;
    }
    c.pos = 4;
    g->version = rd_u32(&c, "version");
    if (c.err) return -1;
    if (g->version == 1) { ll_set_error("%s: GGUF version 1 is not supported (only 2 and 3)", g->path); return -1; }
    if (g->version != 2 && g->version != 3) {
        ll_set_error("%s: unknown GGUF version %u (only 2 and 3; a big-endian file?)", g->path, g->version);
        return -1;
    }
    uint64_t n_tensors = rd_u64(&c, "tensor count");
    uint64_t n_kv = rd_u64(&c, "metadata count");
    if (c.err) return -1;
    /* a key-value pair takes >= 12 bytes, a tensor info >= 24 */
    if (n_kv > (c.size - c.pos) / 12 || n_tensors > (c.size - c.pos) / 24) {
        ll_set_error("%s: %llu metadata entries and %llu tensors cannot fit in a %zu-byte file", g->path,
                     (unsigned long long)n_kv, (unsigned long long)n_tensors, g->size);
        return -1;
    }
    g->kvs = ll_xcalloc(n_kv ? n_kv : 1, sizeof(ll_gguf_kv));
    g->alignment = 32;
    for (uint64_t i = 0; i < n_kv; i++) {
        const char *kp;
        uint64_t kl;
        if (rd_str(&c, &kp, &kl, "metadata key")) return -1;
        if (kl == 0 || kl > GGUF_MAX_KEY) return fail(&c, "metadata key of %llu bytes at entry %llu", (unsigned long long)kl, (unsigned long long)i);
        ll_gguf_kv *kv = &g->kvs[g->n_kv];
        kv->key = ll_xmalloc(kl + 1);
        memcpy(kv->key, kp, kl);
        kv->key[kl] = 0;
        g->n_kv++;
        if (strlen(kv->key) != kl) return fail(&c, "metadata key '%s' contains a NUL byte", kv->key);
        for (int j = 0; j + 1 < g->n_kv; j++)
            if (!strcmp(g->kvs[j].key, kv->key)) return fail(&c, "metadata key '%s' appears twice", kv->key);
        uint32_t t = rd_u32(&c, kv->key);
        if (c.err || rd_value(&c, t, &kv->val, kv->key, 0)) return -1; /* a partial value is freed by close */
        if (!strcmp(kv->key, "general.alignment")) {
            if (t != LL_GGUF_UINT32 || kv->val.v.u == 0 || (kv->val.v.u & (kv->val.v.u - 1)))
                return fail(&c, "general.alignment must be a power-of-two uint32 (type %u, value %llu)", t,
                            (unsigned long long)kv->val.v.u);
            g->alignment = kv->val.v.u;
        }
    }
    g->tensors = ll_xcalloc(n_tensors ? n_tensors : 1, sizeof(ll_gguf_tensor));
    for (uint64_t i = 0; i < n_tensors; i++) {
        ll_gguf_tensor *t = &g->tensors[g->n_tensors];
        const char *np;
        uint64_t nl;
        if (rd_str(&c, &np, &nl, "tensor name")) return -1;
        if (nl == 0 || nl > GGUF_MAX_NAME) return fail(&c, "tensor %llu: name of %llu bytes", (unsigned long long)i, (unsigned long long)nl);
        t->name = ll_xmalloc(nl + 1);
        memcpy(t->name, np, nl);
        t->name[nl] = 0;
        g->n_tensors++;
        if (strlen(t->name) != nl) return fail(&c, "tensor name '%s' contains a NUL byte", t->name);
        uint32_t nd = rd_u32(&c, t->name);
        if (c.err) return -1;
        if (nd < 1 || nd > 4) return fail(&c, "tensor '%s': %u dimensions (1 to 4 allowed)", t->name, nd);
        t->n_dims = (int)nd;
        t->numel = 1;
        for (int d = 0; d < 4; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t ne = rd_u64(&c, t->name);
            if (c.err) return -1;
            if (ne == 0 || ne > (uint64_t)INT64_MAX || (uint64_t)t->numel > (uint64_t)INT64_MAX / ne)
                return fail(&c, "tensor '%s': dimension %u of size %llu (zero or overflowing)", t->name, d, (unsigned long long)ne);
            t->ne[d] = (int64_t)ne;
            t->numel *= (int64_t)ne;
        }
        t->type = rd_u32(&c, t->name);
        t->offset = rd_u64(&c, t->name);
        if (c.err) return -1;
        int be, bb;
        if (ll_gguf_type_block(t->type, &be, &bb))
            return fail(&c, "tensor '%s': unknown or unsupported ggml type %u (%s)", t->name, t->type,
                        ll_gguf_type_name(t->type));
        if (t->ne[0] % be)
            return fail(&c, "tensor '%s': first dimension %lld is not a multiple of the %s block size %d", t->name,
                        (long long)t->ne[0], ll_gguf_type_name(t->type), be);
        uint64_t nblk = (uint64_t)t->numel / (uint64_t)be;
        if (nblk > UINT64_MAX / (uint64_t)bb) return fail(&c, "tensor '%s': size overflows", t->name);
        t->nbytes = nblk * (uint64_t)bb;
        if (t->offset % g->alignment)
            return fail(&c, "tensor '%s': data offset %llu is not a multiple of the alignment %llu", t->name,
                        (unsigned long long)t->offset, (unsigned long long)g->alignment);
    }
    /* data section: after the tensor infos, padded to the alignment */
    uint64_t ds = c.pos;
    g->info_end = c.pos;
    if (ds % g->alignment) ds += g->alignment - ds % g->alignment;
    if (n_tensors && ds > g->size) {
        ll_set_error("%s: truncated GGUF file: data section would start at %llu, file has %zu bytes", g->path,
                     (unsigned long long)ds, g->size);
        return -1;
    }
    g->data_start = ds > g->size ? g->size : (size_t)ds;
    const uint64_t dsize = g->size - g->data_start;
    ll_gguf_tensor **ord = ll_xmalloc(sizeof(*ord) * (g->n_tensors ? g->n_tensors : 1));
    int rc = 0;
    for (int i = 0; i < g->n_tensors; i++) {
        ll_gguf_tensor *t = &g->tensors[i];
        ord[i] = t;
        if (t->offset > dsize || t->nbytes > dsize - t->offset) {
            ll_set_error("%s: tensor '%s': data [%llu, +%llu) runs past the end of the file (data section has %llu bytes)",
                         g->path, t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes,
                         (unsigned long long)dsize);
            rc = -1;
            goto out;
        }
        t->data = (const uint8_t *)g->map + g->data_start + t->offset;
    }
    qsort(ord, g->n_tensors, sizeof *ord, cmp_off);
    for (int i = 1; i < g->n_tensors; i++)
        if (ord[i - 1]->offset + ord[i - 1]->nbytes > ord[i]->offset) {
            ll_set_error("%s: tensors '%s' and '%s' overlap", g->path, ord[i - 1]->name, ord[i]->name);
            rc = -1;
            goto out;
        }
    qsort(ord, g->n_tensors, sizeof *ord, cmp_name);
    for (int i = 1; i < g->n_tensors; i++)
        if (!strcmp(ord[i - 1]->name, ord[i]->name)) {
            ll_set_error("%s: tensor '%s' appears twice", g->path, ord[i]->name);
            rc = -1;
            goto out;
        }
out:
    free(ord);
    return rc;
}

int ll_gguf_open_mem(ll_gguf *g, const void *buf, size_t size, const char *name) {
    memset(g, 0, sizeof *g);
    g->path = ll_xstrdup(name);
    g->map = (void *)buf;
    g->size = size;
    if (parse(g)) { ll_gguf_close(g); return -1; }
    return 0;
}

int ll_gguf_open(ll_gguf *g, const char *path) {
    memset(g, 0, sizeof *g);
    int fd = open(path, O_RDONLY);
    if (fd < 0) { ll_set_error("%s: cannot open (%s)", path, strerror(errno)); return -1; }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        ll_set_error("%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (sb.st_size < 4) { close(fd); ll_set_error("%s: not a GGUF file (bad magic)", path); return -1; }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) { ll_set_error("%s: mmap failed (%s)", path, strerror(errno)); return -1; }
    g->path = ll_xstrdup(path);
    g->map = map;
    g->size = (size_t)sb.st_size;
    g->owns_map = 1;
    if (parse(g)) { ll_gguf_close(g); return -1; }
    return 0;
}

const ll_gguf_value *ll_gguf_get(const ll_gguf *g, const char *key) {
    for (int i = 0; i < g->n_kv; i++)
        if (!strcmp(g->kvs[i].key, key)) return &g->kvs[i].val;
    return NULL;
}

static int is_int_type(uint32_t t) {
    return t == LL_GGUF_UINT8 || t == LL_GGUF_INT8 || t == LL_GGUF_UINT16 || t == LL_GGUF_INT16 || t == LL_GGUF_UINT32 ||
           t == LL_GGUF_INT32 || t == LL_GGUF_UINT64 || t == LL_GGUF_INT64 || t == LL_GGUF_BOOL;
}
static int is_signed(uint32_t t) {
    return t == LL_GGUF_INT8 || t == LL_GGUF_INT16 || t == LL_GGUF_INT32 || t == LL_GGUF_INT64 || t == LL_GGUF_BOOL;
}

int ll_gguf_get_int(const ll_gguf *g, const char *key, int64_t *out) {
    const ll_gguf_value *v = ll_gguf_get(g, key);
    if (!v) return 1;
    if (!is_int_type(v->type) || (!is_signed(v->type) && v->v.u > (uint64_t)INT64_MAX)) {
        ll_set_error("%s: metadata '%s' is not an integer", g->path, key);
        return -1;
    }
    *out = v->v.i;
    return 0;
}
int ll_gguf_get_float(const ll_gguf *g, const char *key, double *out) {
    const ll_gguf_value *v = ll_gguf_get(g, key);
    if (!v) return 1;
    if (v->type == LL_GGUF_FLOAT32 || v->type == LL_GGUF_FLOAT64) *out = v->v.f;
    else if (is_int_type(v->type)) *out = is_signed(v->type) ? (double)v->v.i : (double)v->v.u;
    else {
        ll_set_error("%s: metadata '%s' is not a number", g->path, key);
        return -1;
    }
    return 0;
}
int ll_gguf_get_str(const ll_gguf *g, const char *key, char **out) {
    const ll_gguf_value *v = ll_gguf_get(g, key);
    if (!v) return 1;
    if (v->type != LL_GGUF_STRING) {
        ll_set_error("%s: metadata '%s' is not a string", g->path, key);
        return -1;
    }
    *out = ll_xmalloc(v->v.s.len + 1);
    memcpy(*out, v->v.s.p, v->v.s.len);
    (*out)[v->v.s.len] = 0;
    return 0;
}

const char *ll_gguf_arch(const ll_gguf *g) {
    static __thread char buf[64];
    const ll_gguf_value *v = ll_gguf_get(g, "general.architecture");
    if (!v || v->type != LL_GGUF_STRING || v->v.s.len == 0 || v->v.s.len >= sizeof buf) return NULL;
    memcpy(buf, v->v.s.p, v->v.s.len);
    buf[v->v.s.len] = 0;
    if (strlen(buf) != v->v.s.len) return NULL;
    return buf;
}

/* ---- the tensor store ---- */

void *ll_gguf_store_own(ll_safetensors *st, size_t bytes);
void *ll_gguf_store_own(ll_safetensors *st, size_t bytes) {
    void *p = ll_xmalloc(bytes ? bytes : 1);
    st->owned = ll_xrealloc(st->owned, sizeof(void *) * (st->n_owned + 1));
    st->owned[st->n_owned++] = p;
    return p;
}

/* llama.cpp's converter reorders the rows of each head of q/k from HF's
 * [half 0 | half 1] rotary layout to interleaved pairs:
 *   gguf row h·hd + 2b + a  =  HF row h·hd + a·hd/2 + b   (a ∈ {0,1}, b < hd/2)
 * This writes HF order back.  rows = n_head·hd, each row_bytes wide. */
static void unpermute_rows(const uint8_t *src, uint8_t *dst, int64_t rows, int n_head, size_t row_bytes) {
    const int64_t hd = rows / n_head, half = hd / 2;
    for (int64_t h = 0; h < n_head; h++)
        for (int64_t a = 0; a < 2; a++)
            for (int64_t b = 0; b < half; b++)
                memcpy(dst + (size_t)(h * hd + a * half + b) * row_bytes, src + (size_t)(h * hd + 2 * b + a) * row_bytes,
                       row_bytes);
}

const char *ll_gguf_layer_suffix(const char *name, int *layer) {
    if (strncmp(name, "blk.", 4)) return NULL;
    const char *p = name + 4;
    long l = 0;
    while (*p >= '0' && *p <= '9' && l < 1000000) l = l * 10 + (*p++ - '0');
    if (p == name + 4 || *p != '.') return NULL;
    if (layer) *layer = (int)l;
    return p + 1;
}

int ll_gguf_unpermute_heads(ll_safetensors *st, ll_st_tensor *t, int n_head, const char *where) {
    const int64_t rows = t->shape[0];
    if (t->ndim > 2) {
        ll_set_error("%s: tensor '%s' has %d dimensions (1 or 2 expected)", where, t->name, t->ndim);
        return -1;
    }
    if (n_head <= 0 || rows % (2 * (int64_t)n_head)) {
        ll_set_error("%s: tensor '%s': %lld rows do not split into %d heads of even size", where, t->name,
                     (long long)rows, n_head);
        return -1;
    }
    const size_t row_bytes = t->nbytes / (size_t)rows;
    void *buf = ll_gguf_store_own(st, t->nbytes);
    unpermute_rows(t->data, buf, rows, n_head, row_bytes);
    t->data = buf;
    t->file = -1;
    return 0;
}

int ll_gguf_blocks_to_heads(ll_safetensors *st, ll_st_tensor *t, int n_parts, int n_head, const char *where) {
    const int64_t rows = t->shape[0];
    if (n_parts <= 0 || n_head <= 0 || t->ndim > 2 || rows % ((int64_t)n_parts * n_head)) {
        ll_set_error("%s: tensor '%s': %lld rows do not split into %d parts of %d heads", where, t->name,
                     (long long)rows, n_parts, n_head);
        return -1;
    }
    const int64_t hd = rows / ((int64_t)n_parts * n_head);
    const size_t rb = t->nbytes / (size_t)rows;
    uint8_t *buf = ll_gguf_store_own(st, t->nbytes);
    const uint8_t *src = t->data;
    for (int64_t j = 0; j < n_parts; j++)
        for (int64_t h = 0; h < n_head; h++)
            memcpy(buf + (size_t)((h * n_parts + j) * hd) * rb, src + (size_t)((j * n_head + h) * hd) * rb,
                   (size_t)hd * rb);
    t->data = buf;
    t->file = -1;
    return 0;
}

int ll_gguf_transpose(ll_safetensors *st, ll_st_tensor *t, const char *where) {
    if (t->ndim != 2) {
        ll_set_error("%s: tensor '%s' has %d dimensions (2 expected)", where, t->name, t->ndim);
        return -1;
    }
    const int64_t rows = t->shape[0], cols = t->shape[1];
    const size_t es = t->nbytes / (size_t)t->numel;
    uint8_t *buf = ll_gguf_store_own(st, t->nbytes);
    const uint8_t *src = t->data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) memcpy(buf + ((size_t)c * rows + r) * es, src + ((size_t)r * cols + c) * es, es);
    t->data = buf;
    t->file = -1;
    t->shape[0] = cols;
    t->shape[1] = rows;
    return 0;
}

static int cmp_st(const void *a, const void *b) {
    return strcmp(((const ll_st_tensor *)a)->name, ((const ll_st_tensor *)b)->name);
}

/* Bytes the store must hold in memory: dequantised tensors as float32 (owned
 * buffers), the others as mapped (the loader copies them).  Checked against
 * the machine's memory before anything is allocated, so that a sparse file
 * declaring 100 GB of weights is an input error, not an out-of-memory. */
static int check_memory(const ll_gguf *g) {
    double need = 0;
    for (int i = 0; i < g->n_tensors; i++) {
        const ll_gguf_tensor *t = &g->tensors[i];
        const int mapped = t->type == LL_GGML_F32 || t->type == LL_GGML_F16 || t->type == LL_GGML_BF16 ||
                           t->type == LL_GGML_F64 || t->type == LL_GGML_I8 || t->type == LL_GGML_I16 ||
                           t->type == LL_GGML_I32 || t->type == LL_GGML_I64;
        need += mapped ? (double)t->nbytes : 4.0 * (double)t->numel;
    }
    const long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    const double have = pages > 0 && psz > 0 ? (double)pages * (double)psz : 0;
    if (have > 0 && need > have) {
        ll_set_error("%s: its %d tensors take %.1f GB in memory (quantised ones as float32), more than this "
                     "machine's %.1f GB",
                     g->path, g->n_tensors, need / 1e9, have / 1e9);
        return -1;
    }
    return 0;
}

int ll_gguf_to_store(ll_gguf *g, ll_safetensors *st) {
    memset(st, 0, sizeof *st);
    if (check_memory(g)) return -1;
    st->n_files = 1;
    st->paths = ll_xmalloc(sizeof(char *));
    st->maps = ll_xmalloc(sizeof(void *));
    st->sizes = ll_xmalloc(sizeof(size_t));
    st->paths[0] = ll_xstrdup(g->path);
    st->maps[0] = g->owns_map ? g->map : NULL;
    st->sizes[0] = g->size;
    g->owns_map = 0;
    st->tensors = ll_xcalloc(g->n_tensors ? g->n_tensors : 1, sizeof(ll_st_tensor));
    for (int i = 0; i < g->n_tensors; i++) {
        const ll_gguf_tensor *t = &g->tensors[i];
        ll_st_tensor *o = &st->tensors[st->n_tensors];
        o->name = ll_xstrdup(t->name);
        st->n_tensors++;
        o->ndim = t->n_dims;
        for (int d = 0; d < t->n_dims; d++) o->shape[d] = t->ne[t->n_dims - 1 - d];
        o->numel = t->numel;
        o->file = 0;
        switch (t->type) {
        case LL_GGML_F32: o->dtype = LL_ST_F32; break;
        case LL_GGML_F16: o->dtype = LL_ST_F16; break;
        case LL_GGML_BF16: o->dtype = LL_ST_BF16; break;
        case LL_GGML_F64: o->dtype = LL_ST_F64; break;
        case LL_GGML_I8: o->dtype = LL_ST_I8; break;
        case LL_GGML_I16: o->dtype = LL_ST_I16; break;
        case LL_GGML_I32: o->dtype = LL_ST_I32; break;
        case LL_GGML_I64: o->dtype = LL_ST_I64; break;
        default: {
            if ((uint64_t)t->numel > SIZE_MAX / sizeof(float)) {
                ll_set_error("%s: tensor '%s' too large to dequantise", g->path, t->name);
                return -1;
            }
            float *buf = ll_gguf_store_own(st, sizeof(float) * (size_t)t->numel);
            if (ll_gguf_dequantize(t->type, t->data, t->numel, buf)) {
                ll_set_error("%s: tensor '%s': ggml type %s is not supported", g->path, t->name,
                             ll_gguf_type_name(t->type));
                return -1;
            }
            o->dtype = LL_ST_F32;
            o->file = -1;
            o->data = buf;
            o->nbytes = sizeof(float) * (size_t)t->numel;
            break;
        }
        }
        if (!o->data) {
            o->data = t->data;
            o->nbytes = t->nbytes;
        }
    }
    qsort(st->tensors, st->n_tensors, sizeof(ll_st_tensor), cmp_st);
    return 0;
}
