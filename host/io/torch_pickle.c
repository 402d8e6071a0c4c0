/* Safe PyTorch zip-checkpoint reader: see torch_pickle.h.
 *
 * Layout: the restricted pickle machine, then tensor construction and the
 * public reader (the zip directory is host/io/zip.c; the checkpoint as a
 * tensor store, host/io/torch_store.c).  The pickle machine allocates every
 * object from one list that is freed at the end; it never calls out of this
 * file except to the zip reader for storages, and a global it does not know
 * is an error. */
#include "io/torch_pickle.h"
#include "core/ll_util.h"
#include "io/torch_internal.h"
#include "io/zip.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* --------------------------------------------------------------- pickle -- */

typedef enum {
    PO_NONE, PO_BOOL, PO_INT, PO_FLOAT, PO_STR, PO_BYTES, PO_TUPLE, PO_LIST, PO_DICT,
    PO_GLOBAL, PO_STORAGE, PO_TENSOR
} pkind;

typedef enum { G_ODICT, G_REBUILD_V2, G_REBUILD_PARAM, G_STORAGE_TYPE } gkind;

typedef struct pobj pobj;
struct pobj {
    pkind k;
    int64_t i;      /* INT, BOOL; GLOBAL: gkind; TENSOR: index */
    double f;
    char *s;        /* STR/BYTES data (NUL-terminated copy) */
    size_t slen;
    pobj **items;   /* TUPLE/LIST items; DICT: keys and values interleaved */
    size_t n, cap;  /* TUPLE/LIST: n items; DICT: n pairs */
    int dtype;      /* GLOBAL storage type / STORAGE dtype */
    pobj *next_alloc;
    /* STORAGE */
    const uint8_t *sdata;
    uint64_t snbytes;
};

typedef struct {
    const char *path;
    const uint8_t *p, *end, *start;
    pobj *all;              /* every allocated object */
    pobj **stack; size_t sn, scap;
    size_t *marks; size_t mn, mcap;
    pobj **memo; size_t memocap, memon; /* memon: defined entries (Python's len(memo)) */
    uint64_t storage_bytes; /* sum of the distinct storages' sizes */
    /* storages */
    const ll_zip *z;
    const char *prefix;     /* "archive/" */
    uint8_t **owned; size_t nowned;
    /* tensors built */
    ll_torch_tensor *tensors; size_t nt, tcap;
} pm;

static pobj *pnew(pm *m, pkind k) {
    pobj *o = ll_xcalloc(1, sizeof *o);
    o->k = k;
    o->next_alloc = m->all;
    m->all = o;
    return o;
}

static void pfree_all(pm *m) {
    for (pobj *o = m->all, *nx; o; o = nx) {
        nx = o->next_alloc;
        free(o->s);
        free(o->items);
        free(o);
    }
    m->all = NULL;
    free(m->stack);
    free(m->marks);
    free(m->memo);
}

static void push_item(pobj *c, pobj *x) {
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 8;
        c->items = ll_xrealloc(c->items, c->cap * sizeof *c->items);
    }
    c->items[c->n++] = x;
}

static void dict_set(pobj *d, pobj *k, pobj *v) {
    /* dict items are stored as a flat key,value list; n counts pairs */
    size_t need = 2 * (d->n + 1);
    if (need > d->cap) {
        d->cap = d->cap ? 2 * d->cap : 16;
        if (d->cap < need) d->cap = need;
        d->items = ll_xrealloc(d->items, d->cap * sizeof *d->items);
    }
    d->items[2 * d->n] = k;
    d->items[2 * d->n + 1] = v;
    d->n++;
}

#define PERR(...) do { ll_set_error(__VA_ARGS__); return -1; } while (0)

static int spush(pm *m, pobj *o) {
    if (m->sn >= (1u << 24)) PERR("%s: pickle stack too deep", m->path);
    if (m->sn == m->scap) {
        m->scap = m->scap ? 2 * m->scap : 64;
        m->stack = ll_xrealloc(m->stack, m->scap * sizeof *m->stack);
    }
    m->stack[m->sn++] = o;
    return 0;
}

static int spop(pm *m, pobj **o) {
    size_t floor = m->mn ? m->marks[m->mn - 1] : 0;
    if (m->sn <= floor) PERR("%s: pickle stack underflow at offset %zu", m->path, (size_t)(m->p - m->start));
    *o = m->stack[--m->sn];
    return 0;
}

/* Pops to the last mark: items in [*from, m->sn) */
static int pop_mark(pm *m, size_t *from) {
    if (!m->mn) PERR("%s: pickle MARK missing at offset %zu", m->path, (size_t)(m->p - m->start));
    *from = m->marks[--m->mn];
    return 0;
}

static int need(pm *m, size_t n) {
    if ((size_t)(m->end - m->p) < n) PERR("%s: data.pkl truncated", m->path);
    return 0;
}

static int memo_put(pm *m, uint64_t idx, pobj *o) {
    /* the pickler numbers memo entries 0, 1, 2, ... one per PUT opcode, so an
     * index can never reach the pickle's length: refuse it before the memo
     * table grows to it */
    if (idx >= (1u << 24) || idx >= (uint64_t)(m->end - m->start))
        PERR("%s: pickle memo index %llu out of range (data.pkl has %zu bytes)", m->path, (unsigned long long)idx,
             (size_t)(m->end - m->start));
    if (idx >= m->memocap) {
        size_t nc = m->memocap ? m->memocap : 64;
        while (nc <= idx) nc *= 2;
        m->memo = ll_xrealloc(m->memo, nc * sizeof *m->memo);
        memset(m->memo + m->memocap, 0, (nc - m->memocap) * sizeof *m->memo);
        m->memocap = nc;
    }
    if (!m->memo[idx]) m->memon++;
    m->memo[idx] = o;
    return 0;
}

static int memo_get(pm *m, uint64_t idx, pobj **o) {
    if (idx >= m->memocap || !m->memo[idx]) PERR("%s: pickle memo index %llu undefined", m->path, (unsigned long long)idx);
    *o = m->memo[idx];
    return 0;
}

static const struct { const char *name; int dtype; } storage_types[] = {
    {"FloatStorage", LL_TT_F32}, {"HalfStorage", LL_TT_F16}, {"BFloat16Storage", LL_TT_BF16},
    {"DoubleStorage", LL_TT_F64}, {"LongStorage", LL_TT_I64}, {"IntStorage", LL_TT_I32},
    {"ShortStorage", LL_TT_I16}, {"CharStorage", LL_TT_I8}, {"ByteStorage", LL_TT_U8},
    {"BoolStorage", LL_TT_BOOL},
};

static int make_global(pm *m, const char *mod, size_t modlen, const char *name, size_t namelen) {
    char full[256];
    pobj *g = pnew(m, PO_GLOBAL);
    #define IS(a, b) (modlen == strlen(a) && memcmp(mod, a, modlen) == 0 && namelen == strlen(b) && memcmp(name, b, namelen) == 0)
    if (IS("collections", "OrderedDict")) g->i = G_ODICT;
    else if (IS("torch._utils", "_rebuild_tensor_v2")) g->i = G_REBUILD_V2;
    else if (IS("torch._utils", "_rebuild_parameter")) g->i = G_REBUILD_PARAM;
    else {
        g->i = -1;
        if (modlen == 5 && memcmp(mod, "torch", 5) == 0)
            for (size_t i = 0; i < sizeof storage_types / sizeof storage_types[0]; i++)
                if (namelen == strlen(storage_types[i].name) && memcmp(name, storage_types[i].name, namelen) == 0) {
                    g->i = G_STORAGE_TYPE;
                    g->dtype = storage_types[i].dtype;
                }
        if (g->i < 0) {
            snprintf(full, sizeof full, "%.*s.%.*s", (int)(modlen > 100 ? 100 : modlen), mod,
                     (int)(namelen > 100 ? 100 : namelen), name);
            for (char *c = full; *c; c++)
                if ((unsigned char)*c < 32 || (unsigned char)*c > 126) *c = '?';
            PERR("%s: refusing pickle global '%s' (only tensors, storages and OrderedDict are allowed; nothing was executed)", m->path, full);
        }
    }
    #undef IS
    return spush(m, g);
}

static int as_int(pm *m, pobj *o, int64_t *v, const char *what) {
    if (!o || (o->k != PO_INT && o->k != PO_BOOL)) PERR("%s: _rebuild_tensor_v2: %s is not an integer", m->path, what);
    *v = o->i;
    return 0;
}

static int rebuild_tensor(pm *m, pobj *args, pobj **out) {
    if (args->k != PO_TUPLE || args->n < 4 || args->n > 7) PERR("%s: _rebuild_tensor_v2: bad arguments", m->path);
    pobj *st = args->items[0], *size = args->items[2], *stride = args->items[3];
    int64_t off;
    if (st->k != PO_STORAGE) PERR("%s: _rebuild_tensor_v2: first argument is not a storage", m->path);
    if (as_int(m, args->items[1], &off, "storage offset")) return -1;
    if (size->k != PO_TUPLE || stride->k != PO_TUPLE || size->n != stride->n)
        PERR("%s: _rebuild_tensor_v2: size/stride are not tuples of equal length", m->path);
    if (size->n > LL_TORCH_MAX_DIMS) PERR("%s: tensor with %zu dimensions (max %d)", m->path, size->n, LL_TORCH_MAX_DIMS);
    ll_torch_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = (ll_torch_dtype)st->dtype;
    t.ndim = (int)size->n;
    size_t es = ll_torch_dtype_size(t.dtype);
    uint64_t nel_storage = st->snbytes / es;
    /* every product and sum below is overflow-checked: a size of 2^24+1 with a
     * stride of 2^40 must not wrap into a small extent */
    int64_t numel = 1, maxoff = 0, expect = 1;
    int contiguous = 1;
    for (int d = t.ndim - 1; d >= 0; d--) {
        if (as_int(m, size->items[d], &t.shape[d], "size")) return -1;
        if (as_int(m, stride->items[d], &t.stride[d], "stride")) return -1;
        if (t.shape[d] < 0 || t.stride[d] < 0 || t.shape[d] > ((int64_t)1 << 40) || t.stride[d] > ((int64_t)1 << 40))
            PERR("%s: tensor with invalid size/stride", m->path);
        if (t.shape[d] != 1 && t.stride[d] != expect) contiguous = 0;
        int64_t span;
        if (__builtin_mul_overflow(expect, t.shape[d], &expect) || __builtin_mul_overflow(numel, t.shape[d], &numel) ||
            numel > ((int64_t)1 << 42))
            PERR("%s: tensor too large", m->path);
        if (t.shape[d] > 0 &&
            (__builtin_mul_overflow(t.shape[d] - 1, t.stride[d], &span) || __builtin_add_overflow(maxoff, span, &maxoff)))
            PERR("%s: tensor extent overflows (size %lld, stride %lld)", m->path, (long long)t.shape[d], (long long)t.stride[d]);
    }
    if (off < 0) PERR("%s: negative storage offset", m->path);
    /* a view copies numel elements: no more than its storage holds (no
     * broadcast views), so the copies stay within what the file holds */
    if (numel > 0 && (uint64_t)numel > nel_storage)
        PERR("%s: tensor of %lld elements on a storage of %llu (broadcast views are not supported)", m->path,
             (long long)numel, (unsigned long long)nel_storage);
    int64_t last;
    if (numel > 0 && (__builtin_add_overflow(off, maxoff, &last) || (uint64_t)last >= nel_storage))
        PERR("%s: tensor extends past its storage (offset %lld, extent %lld, storage %llu elements)", m->path,
             (long long)off, (long long)maxoff + 1, (unsigned long long)nel_storage);
    t.numel = numel;
    t.contiguous = contiguous;
    t.data = st->sdata + (size_t)off * es;
    if (m->nt == m->tcap) {
        m->tcap = m->tcap ? 2 * m->tcap : 64;
        m->tensors = ll_xrealloc(m->tensors, m->tcap * sizeof *m->tensors);
    }
    m->tensors[m->nt] = t;
    pobj *o = pnew(m, PO_TENSOR);
    o->i = (int64_t)m->nt++;
    *out = o;
    return 0;
}

static int load_storage(pm *m, pobj *pid, pobj **out) {
    /* ('storage', storage_type, key, location, numel) */
    if (pid->k != PO_TUPLE || pid->n != 5 || pid->items[0]->k != PO_STR || strcmp(pid->items[0]->s, "storage") != 0)
        PERR("%s: unsupported persistent id (expected ('storage', type, key, location, numel))", m->path);
    pobj *ty = pid->items[1], *key = pid->items[2], *nel = pid->items[4];
    if (ty->k != PO_GLOBAL || ty->i != G_STORAGE_TYPE) PERR("%s: persistent id: storage type is not a torch.*Storage", m->path);
    if (key->k != PO_STR || key->slen == 0 || key->slen > 64) PERR("%s: persistent id: bad storage key", m->path);
    for (size_t i = 0; i < key->slen; i++)
        if (key->s[i] == '/' || key->s[i] == '.' || key->s[i] == 0) PERR("%s: persistent id: bad storage key", m->path);
    if (nel->k != PO_INT || nel->i < 0) PERR("%s: persistent id: bad storage size", m->path);
    char name[512];
    snprintf(name, sizeof name, "%sdata/%s", m->prefix, key->s);
    ll_zip_entry *e = ll_zip_find(m->z, name);
    if (!e) PERR("%s: storage '%s' missing from the archive", m->path, name);
    size_t es = ll_torch_dtype_size((ll_torch_dtype)ty->dtype);
    if ((uint64_t)nel->i > e->usize / es) PERR("%s: storage '%s' shorter (%llu bytes) than its %lld elements", m->path, name, (unsigned long long)e->usize, (long long)nel->i);
    /* a storage may be referenced by several tensors (and a hostile pickle
     * may name one key a million times): each entry is decoded once */
    const uint8_t *d = e->loaded;
    if (!d) {
        uint8_t *owned = NULL;
        d = ll_zip_data(m->z, e, m->path, &owned);
        if (!d) return -1;
        if (owned) {
            if (!m->owned) m->owned = ll_xcalloc(m->z->n + 1, sizeof *m->owned); /* one per entry at most */
            m->owned[m->nowned++] = owned;
        }
        e->loaded = d;
        m->storage_bytes += e->usize;
    }
    pobj *s = pnew(m, PO_STORAGE);
    s->dtype = ty->dtype;
    s->sdata = d;
    s->snbytes = (uint64_t)nel->i * es;
    *out = s;
    return 0;
}

static int pstring(pm *m, size_t len, pkind k) {
    if (need(m, len)) return -1;
    pobj *o = pnew(m, k);
    o->s = ll_xmalloc(len + 1);
    memcpy(o->s, m->p, len);
    o->s[len] = 0;
    o->slen = len;
    m->p += len;
    return spush(m, o);
}

static int run_pickle(pm *m, pobj **result) {
    while (m->p < m->end) {
        size_t at = (size_t)(m->p - m->start);
        uint8_t op = *m->p++;
        pobj *a, *b, *c;
        size_t from;
        switch (op) {
        case 0x80: /* PROTO */
            if (need(m, 1)) return -1;
            if (*m->p > 5) PERR("%s: pickle protocol %d not supported", m->path, *m->p);
            m->p++;
            break;
        case 0x95: /* FRAME */
            if (need(m, 8)) return -1;
            m->p += 8;
            break;
        case '.': /* STOP */
            if (m->sn != 1 || m->mn) PERR("%s: pickle ends with %zu objects on the stack", m->path, m->sn);
            *result = m->stack[0];
            return 0;
        case '(': /* MARK */
            if (m->mn == m->mcap) {
                m->mcap = m->mcap ? 2 * m->mcap : 32;
                if (m->mcap > (1u << 20)) PERR("%s: pickle marks nested too deep", m->path);
                m->marks = ll_xrealloc(m->marks, m->mcap * sizeof *m->marks);
            }
            m->marks[m->mn++] = m->sn;
            break;
        case 'N': if (spush(m, pnew(m, PO_NONE))) return -1; break;
        case 0x88: case 0x89: /* NEWTRUE / NEWFALSE */
            a = pnew(m, PO_BOOL);
            a->i = op == 0x88;
            if (spush(m, a)) return -1;
            break;
        case 'J': /* BININT */
            if (need(m, 4)) return -1;
            a = pnew(m, PO_INT);
            a->i = (int32_t)ll_le32(m->p);
            m->p += 4;
            if (spush(m, a)) return -1;
            break;
        case 'K': /* BININT1 */
            if (need(m, 1)) return -1;
            a = pnew(m, PO_INT);
            a->i = *m->p++;
            if (spush(m, a)) return -1;
            break;
        case 'M': /* BININT2 */
            if (need(m, 2)) return -1;
            a = pnew(m, PO_INT);
            a->i = ll_le16(m->p);
            m->p += 2;
            if (spush(m, a)) return -1;
            break;
        case 0x8a: { /* LONG1 */
            if (need(m, 1)) return -1;
            size_t n = *m->p++;
            if (n > 8 || need(m, n)) PERR("%s: pickle LONG1 of %zu bytes not supported", m->path, n);
            uint64_t v = 0;
            for (size_t i = 0; i < n; i++) v |= (uint64_t)m->p[i] << (8 * i);
            if (n > 0 && n < 8 && (m->p[n - 1] & 0x80)) v |= ~(uint64_t)0 << (8 * n);
            m->p += n;
            a = pnew(m, PO_INT);
            a->i = (int64_t)v;
            if (spush(m, a)) return -1;
            break;
        }
        case 'G': { /* BINFLOAT, big-endian double */
            if (need(m, 8)) return -1;
            uint64_t v = 0;
            for (int i = 0; i < 8; i++) v = v << 8 | m->p[i];
            m->p += 8;
            a = pnew(m, PO_FLOAT);
            memcpy(&a->f, &v, 8);
            if (spush(m, a)) return -1;
            break;
        }
        case 'X': /* BINUNICODE */
            if (need(m, 4)) return -1;
            { size_t n = ll_le32(m->p); m->p += 4; if (pstring(m, n, PO_STR)) return -1; }
            break;
        case 0x8c: /* SHORT_BINUNICODE */
            if (need(m, 1)) return -1;
            { size_t n = *m->p++; if (pstring(m, n, PO_STR)) return -1; }
            break;
        case 0x8d: /* BINUNICODE8 */
            if (need(m, 8)) return -1;
            { uint64_t n = ll_le64(m->p); m->p += 8; if (n > (uint64_t)(m->end - m->p)) PERR("%s: data.pkl truncated", m->path); if (pstring(m, (size_t)n, PO_STR)) return -1; }
            break;
        case 'T': /* BINSTRING */
            if (need(m, 4)) return -1;
            { size_t n = ll_le32(m->p); m->p += 4; if (pstring(m, n, PO_STR)) return -1; }
            break;
        case 'U': /* SHORT_BINSTRING */
            if (need(m, 1)) return -1;
            { size_t n = *m->p++; if (pstring(m, n, PO_STR)) return -1; }
            break;
        case 'B': /* BINBYTES */
            if (need(m, 4)) return -1;
            { size_t n = ll_le32(m->p); m->p += 4; if (pstring(m, n, PO_BYTES)) return -1; }
            break;
        case 'C': /* SHORT_BINBYTES */
            if (need(m, 1)) return -1;
            { size_t n = *m->p++; if (pstring(m, n, PO_BYTES)) return -1; }
            break;
        case ')': if (spush(m, pnew(m, PO_TUPLE))) return -1; break;
        case ']': if (spush(m, pnew(m, PO_LIST))) return -1; break;
        case '}': if (spush(m, pnew(m, PO_DICT))) return -1; break;
        case 't': case 'l': /* TUPLE, LIST from mark */
            if (pop_mark(m, &from)) return -1;
            a = pnew(m, op == 't' ? PO_TUPLE : PO_LIST);
            for (size_t i = from; i < m->sn; i++) push_item(a, m->stack[i]);
            m->sn = from;
            if (spush(m, a)) return -1;
            break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            int n = op - 0x84;
            size_t floor = m->mn ? m->marks[m->mn - 1] : 0;
            if (m->sn < floor + (size_t)n) PERR("%s: pickle stack underflow at offset %zu", m->path, at);
            a = pnew(m, PO_TUPLE);
            for (size_t i = m->sn - n; i < m->sn; i++) push_item(a, m->stack[i]);
            m->sn -= n;
            if (spush(m, a)) return -1;
            break;
        }
        case 'a': /* APPEND */
            if (spop(m, &b) || spop(m, &a)) return -1;
            if (a->k != PO_LIST) PERR("%s: pickle APPEND to a non-list", m->path);
            push_item(a, b);
            if (spush(m, a)) return -1;
            break;
        case 'e': /* APPENDS */
            if (pop_mark(m, &from)) return -1;
            if (from == 0 || m->stack[from - 1]->k != PO_LIST) PERR("%s: pickle APPENDS to a non-list", m->path);
            for (size_t i = from; i < m->sn; i++) push_item(m->stack[from - 1], m->stack[i]);
            m->sn = from;
            break;
        case 's': /* SETITEM */
            if (spop(m, &c) || spop(m, &b) || spop(m, &a)) return -1;
            if (a->k != PO_DICT) PERR("%s: pickle SETITEM on a non-dict", m->path);
            dict_set(a, b, c);
            if (spush(m, a)) return -1;
            break;
        case 'u': /* SETITEMS */
            if (pop_mark(m, &from)) return -1;
            if (from == 0 || m->stack[from - 1]->k != PO_DICT || (m->sn - from) % 2)
                PERR("%s: pickle SETITEMS on a non-dict", m->path);
            for (size_t i = from; i < m->sn; i += 2) dict_set(m->stack[from - 1], m->stack[i], m->stack[i + 1]);
            m->sn = from;
            break;
        case 'q': /* BINPUT */
            if (need(m, 1) || m->sn == 0) PERR("%s: bad pickle BINPUT", m->path);
            if (memo_put(m, *m->p++, m->stack[m->sn - 1])) return -1;
            break;
        case 'r': /* LONG_BINPUT */
            if (need(m, 4) || m->sn == 0) PERR("%s: bad pickle LONG_BINPUT", m->path);
            if (memo_put(m, ll_le32(m->p), m->stack[m->sn - 1])) return -1;
            m->p += 4;
            break;
        case 0x94: /* MEMOIZE */
            if (m->sn == 0) PERR("%s: bad pickle MEMOIZE", m->path);
            /* Python: memo[len(memo)] = top; O(1), not a scan for a free slot */
            if (memo_put(m, m->memon, m->stack[m->sn - 1])) return -1;
            break;
        case 'h': /* BINGET */
            if (need(m, 1)) return -1;
            if (memo_get(m, *m->p++, &a) || spush(m, a)) return -1;
            break;
        case 'j': /* LONG_BINGET */
            if (need(m, 4)) return -1;
            if (memo_get(m, ll_le32(m->p), &a)) return -1;
            m->p += 4;
            if (spush(m, a)) return -1;
            break;
        case '0': /* POP */
            if (spop(m, &a)) return -1;
            break;
        case '2': /* DUP */
            if (m->sn == 0) PERR("%s: bad pickle DUP", m->path);
            if (spush(m, m->stack[m->sn - 1])) return -1;
            break;
        case '1': /* POP_MARK */
            if (pop_mark(m, &from)) return -1;
            m->sn = from;
            break;
        case 'c': { /* GLOBAL "module\nname\n" */
            const uint8_t *nl1 = memchr(m->p, '\n', (size_t)(m->end - m->p));
            if (!nl1) PERR("%s: data.pkl truncated", m->path);
            const uint8_t *nl2 = memchr(nl1 + 1, '\n', (size_t)(m->end - nl1 - 1));
            if (!nl2) PERR("%s: data.pkl truncated", m->path);
            const char *mod = (const char *)m->p, *nm = (const char *)nl1 + 1;
            size_t ml = (size_t)(nl1 - m->p), nml = (size_t)(nl2 - nl1 - 1);
            m->p = nl2 + 1;
            if (make_global(m, mod, ml, nm, nml)) return -1;
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            if (spop(m, &b) || spop(m, &a)) return -1;
            if (a->k != PO_STR || b->k != PO_STR) PERR("%s: pickle STACK_GLOBAL without strings", m->path);
            if (make_global(m, a->s, a->slen, b->s, b->slen)) return -1;
            break;
        case 'Q': /* BINPERSID */
            if (spop(m, &a)) return -1;
            if (load_storage(m, a, &b) || spush(m, b)) return -1;
            break;
        case 'R': /* REDUCE */
            if (spop(m, &b) || spop(m, &a)) return -1;
            if (a->k != PO_GLOBAL || b->k != PO_TUPLE) PERR("%s: pickle REDUCE on a non-callable (offset %zu)", m->path, at);
            if (a->i == G_ODICT) {
                if (b->n != 0) PERR("%s: OrderedDict called with arguments (not supported)", m->path);
                c = pnew(m, PO_DICT);
            } else if (a->i == G_REBUILD_V2) {
                if (rebuild_tensor(m, b, &c)) return -1;
            } else if (a->i == G_REBUILD_PARAM) {
                if (b->n < 1 || b->items[0]->k != PO_TENSOR) PERR("%s: _rebuild_parameter without a tensor", m->path);
                c = b->items[0];
            } else {
                PERR("%s: pickle calls a storage type directly (not supported; nothing was executed)", m->path);
            }
            if (spush(m, c)) return -1;
            break;
        case 'b': /* BUILD: only state on a dict (OrderedDict's _metadata), ignored */
            if (spop(m, &b) || spop(m, &a)) return -1;
            if (a->k != PO_DICT || (b->k != PO_DICT && b->k != PO_NONE && b->k != PO_TUPLE))
                PERR("%s: pickle BUILD on a non-dict object (not supported; nothing was executed)", m->path);
            if (spush(m, a)) return -1;
            break;
        default: {
            const char *nm = NULL;
            switch (op) {
            case 'i': nm = "INST"; break;
            case 'o': nm = "OBJ"; break;
            case 0x81: nm = "NEWOBJ"; break;
            case 0x92: nm = "NEWOBJ_EX"; break;
            case 'P': nm = "PERSID"; break;
            case 0x82: case 0x83: case 0x84: nm = "EXT"; break;
            case 0x96: case 0x97: case 0x98: nm = "BYTEARRAY8/BUFFER"; break;
            }
            if (nm)
                PERR("%s: refusing pickle opcode %s at offset %zu (not plain data; nothing was executed)", m->path, nm, at);
            PERR("%s: unsupported pickle opcode 0x%02x at offset %zu", m->path, op, at);
        }
        }
    }
    PERR("%s: data.pkl ends without STOP (truncated)", m->path);
}

/* -------------------------------------------------------------- public -- */


size_t ll_torch_dtype_size(ll_torch_dtype t) {
    switch (t) {
    case LL_TT_F64: case LL_TT_I64: return 8;
    case LL_TT_F32: case LL_TT_I32: return 4;
    case LL_TT_F16: case LL_TT_BF16: case LL_TT_I16: return 2;
    default: return 1;
    }
}

const char *ll_torch_dtype_name(ll_torch_dtype t) {
    static const char *n[] = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"};
    return (unsigned)t < sizeof n / sizeof n[0] ? n[t] : "?";
}

void ll_torch_close(ll_torch_file *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->size);
    for (size_t i = 0; i < f->n; i++) free(f->names[i]);
    for (size_t i = 0; i < f->nowned; i++) free(f->owned[i]);
    free(f->owned);
    free(f->names);
    free(f->t);
    free(f);
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

ll_torch_file *ll_torch_open(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { ll_set_error("%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); ll_set_error("%s: not a regular file", path); return NULL; }
    ll_torch_file *f = ll_xcalloc(1, sizeof *f);
    f->size = (size_t)st.st_size;
    if (f->size == 0) { close(fd); free(f); ll_set_error("%s: empty file", path); return NULL; }
    f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) { f->map = NULL; ll_torch_close(f); ll_set_error("%s: mmap failed", path); return NULL; }

    ll_zip z = {.map = f->map, .size = f->size};
    pm m;
    memset(&m, 0, sizeof m);
    m.path = path;
    uint8_t *pk_owned = NULL;
    pobj *root = NULL;
    char prefix[512];
    if (ll_zip_parse(&z, path)) goto fail;
    /* the pickle: "<dir>/data.pkl" (the single top-level folder) */
    const ll_zip_entry *pk = NULL;
    for (size_t i = 0; i < z.n; i++) {
        const char *nm = z.ents[i].name, *sl = strrchr(nm, '/');
        if (sl && strcmp(sl, "/data.pkl") == 0 && memchr(nm, '/', (size_t)(sl - nm)) == NULL && (size_t)(sl - nm) < 400) {
            if (pk) { ll_set_error("%s: several data.pkl in the archive", path); goto fail; }
            pk = &z.ents[i];
        }
    }
    if (!pk) { ll_set_error("%s: zip archive without <name>/data.pkl: not a torch.save checkpoint", path); goto fail; }
    {
        size_t pl = (size_t)(strrchr(pk->name, '/') - pk->name) + 1;
        memcpy(prefix, pk->name, pl);
        prefix[pl] = 0;
    }
    const uint8_t *pkd = ll_zip_data(&z, pk, path, &pk_owned);
    if (!pkd) goto fail;
    m.start = m.p = pkd;
    m.end = pkd + pk->usize;
    m.z = &z;
    m.prefix = prefix;
    if (run_pickle(&m, &root)) goto fail;
    if (root->k != PO_DICT) { ll_set_error("%s: checkpoint is not a dict of tensors", path); goto fail; }
    f->t = ll_xcalloc(root->n ? root->n : 1, sizeof *f->t);
    f->names = ll_xcalloc(root->n ? root->n : 1, sizeof *f->names);
    for (size_t i = 0; i < root->n; i++) {
        pobj *k = root->items[2 * i], *v = root->items[2 * i + 1];
        if (v->k != PO_TENSOR) continue;
        if (k->k != PO_STR || memchr(k->s, 0, k->slen)) { ll_set_error("%s: tensor with a non-string key", path); goto fail; }
        f->names[f->n] = ll_xstrdup(k->s);
        f->t[f->n] = m.tensors[v->i];
        f->t[f->n].name = f->names[f->n];
        f->n++;
    }
    /* duplicate names: sort a copy of the names (O(n log n), not O(n^2)) */
    {
        char **sorted = ll_xmalloc((f->n ? f->n : 1) * sizeof *sorted);
        if (f->n) memcpy(sorted, f->names, f->n * sizeof *sorted);
        qsort(sorted, f->n, sizeof *sorted, name_cmp);
        for (size_t i = 1; i < f->n; i++)
            if (!strcmp(sorted[i], sorted[i - 1])) {
                ll_set_error("%s: duplicate tensor name '%s'", path, sorted[i]);
                free(sorted);
                goto fail;
            }
        free(sorted);
    }
    f->storage_bytes = m.storage_bytes;
    f->owned = m.owned;
    f->nowned = m.nowned;
    m.owned = NULL;
    free(pk_owned);
    free(m.tensors);
    pfree_all(&m);
    ll_zip_free(&z);
    return f;
fail:
    free(pk_owned);
    for (size_t i = 0; i < m.nowned; i++) free(m.owned[i]);
    free(m.owned);
    free(m.tensors);
    pfree_all(&m);
    ll_zip_free(&z);
    ll_torch_close(f);
    return NULL;
}

size_t ll_torch_count(const ll_torch_file *f) { return f->n; }
const ll_torch_tensor *ll_torch_at(const ll_torch_file *f, size_t i) { return i < f->n ? &f->t[i] : NULL; }
const ll_torch_tensor *ll_torch_find(const ll_torch_file *f, const char *name) {
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

static float elem_f32(const uint8_t *p, ll_torch_dtype dt) {
    switch (dt) {
    case LL_TT_F32: { float v; memcpy(&v, p, 4); return v; }
    case LL_TT_F16: { uint16_t v; memcpy(&v, p, 2); return ll_f16_to_f32(v); }
    case LL_TT_BF16: { uint16_t v; memcpy(&v, p, 2); return ll_bf16_to_f32(v); }
    case LL_TT_F64: { double v; memcpy(&v, p, 8); return (float)v; }
    case LL_TT_I64: { int64_t v; memcpy(&v, p, 8); return (float)v; }
    case LL_TT_I32: { int32_t v; memcpy(&v, p, 4); return (float)v; }
    case LL_TT_I16: { int16_t v; memcpy(&v, p, 2); return (float)v; }
    case LL_TT_I8: return (float)(int8_t)*p;
    default: return (float)*p;
    }
}

void ll_torch_to_f32(const ll_torch_tensor *t, float *out) {
    size_t es = ll_torch_dtype_size(t->dtype);
    const uint8_t *base = t->data;
    if (t->contiguous && t->dtype == LL_TT_F32) {
        memcpy(out, base, (size_t)t->numel * 4);
        return;
    }
    int64_t idx[LL_TORCH_MAX_DIMS] = {0};
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t off = 0;
        for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
        out[i] = elem_f32(base + (size_t)off * es, t->dtype);
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
}
