/* Test helpers: a zip writer (stored entries, or a declared deflated entry
 * whose sizes may lie, zip64 sizes when >= 4 GiB) and a pickle builder, for
 * hand-made torch.save files.  Included by the tests that need them. */
#ifndef LL_TEST_ZIP_PICKLE_H
#define LL_TEST_ZIP_PICKLE_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- a zip writer: stored entries, or a raw declaration (method, sizes,
 * crc) for a deflated one whose declared size is a lie ---- */
typedef struct {
    const char *name;
    const void *data;
    size_t n;         /* bytes written */
    int method;       /* 0 stored, 8 deflate */
    uint64_t usize;   /* declared uncompressed size (0: n) */
    uint32_t crc;     /* declared (stored: computed) */
} zin;

static inline void w16(FILE *f, unsigned v) { fputc(v & 255, f); fputc(v >> 8 & 255, f); }
static inline void w32(FILE *f, uint32_t v) { w16(f, v & 0xffff); w16(f, v >> 16); }
static inline void w64(FILE *f, uint64_t v) { w32(f, (uint32_t)v); w32(f, (uint32_t)(v >> 32)); }

static inline int write_zip(const char *path, zin *e, int n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint32_t off[16];
    for (int i = 0; i < n; i++) {
        if (e[i].method == 0) e[i].crc = (uint32_t)crc32(0L, e[i].data, (uInt)e[i].n);
        if (!e[i].usize) e[i].usize = e[i].n;
        off[i] = (uint32_t)ftell(f);
        w32(f, 0x04034b50); w16(f, 20); w16(f, 0); w16(f, (unsigned)e[i].method); w16(f, 0); w16(f, 0);
        w32(f, e[i].crc); w32(f, (uint32_t)e[i].n); w32(f, 0xffffffffu);
        w16(f, (unsigned)strlen(e[i].name)); w16(f, 0);
        fwrite(e[i].name, 1, strlen(e[i].name), f);
        if (e[i].n) fwrite(e[i].data, 1, e[i].n, f); /* an empty entry may have no data pointer */
    }
    uint32_t cd = (uint32_t)ftell(f);
    for (int i = 0; i < n; i++) {
        int big = e[i].usize >= 0xffffffffu;
        w32(f, 0x02014b50); w16(f, 45); w16(f, 45); w16(f, 0); w16(f, (unsigned)e[i].method); w16(f, 0); w16(f, 0);
        w32(f, e[i].crc); w32(f, (uint32_t)e[i].n); w32(f, big ? 0xffffffffu : (uint32_t)e[i].usize);
        w16(f, (unsigned)strlen(e[i].name)); w16(f, big ? 12 : 0); w16(f, 0); w16(f, 0); w16(f, 0); w32(f, 0);
        w32(f, off[i]);
        fwrite(e[i].name, 1, strlen(e[i].name), f);
        if (big) { w16(f, 1); w16(f, 8); w64(f, e[i].usize); }
    }
    uint32_t cdn = (uint32_t)ftell(f) - cd;
    w32(f, 0x06054b50); w16(f, 0); w16(f, 0); w16(f, (unsigned)n); w16(f, (unsigned)n);
    w32(f, cdn); w32(f, cd); w16(f, 0);
    return fclose(f);
}

/* pickle bytes */
typedef struct { unsigned char *b; size_t n, cap; } pk;
static inline void pb(pk *p, const void *d, size_t n) {
    if (p->n + n > p->cap) { p->cap = (p->n + n) * 2 + 64; p->b = realloc(p->b, p->cap); }
    if (n) memcpy(p->b + p->n, d, n); /* p->b is NULL while nothing was added */
    p->n += n;
}
static inline void pc(pk *p, int c) { unsigned char x = (unsigned char)c; pb(p, &x, 1); }
static inline void pstr(pk *p, const char *s) { pc(p, 0x8c); pc(p, (int)strlen(s)); pb(p, s, strlen(s)); }
static inline void pglobal(pk *p, const char *mod, const char *name) {
    pc(p, 'c'); pb(p, mod, strlen(mod)); pc(p, '\n'); pb(p, name, strlen(name)); pc(p, '\n');
}
static inline void plong(pk *p, int64_t v) { pc(p, 0x8a); pc(p, 8); pb(p, &v, 8); } /* LONG1, 8 bytes little-endian */

/* {'w': _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', numel), 0, (size,), (stride,), False, OrderedDict())} */
static inline void one_tensor_pickle(pk *p, int64_t numel, int64_t size, int64_t stride) {
    pc(p, 0x80); pc(p, 2);
    pc(p, '}');
    pstr(p, "w");
    pglobal(p, "torch._utils", "_rebuild_tensor_v2");
    pc(p, '(');
    pc(p, '('); pstr(p, "storage"); pglobal(p, "torch", "FloatStorage"); pstr(p, "0"); pstr(p, "cpu"); plong(p, numel); pc(p, 't');
    pc(p, 'Q');
    plong(p, 0);
    pc(p, '('); plong(p, size); pc(p, 't');
    pc(p, '('); plong(p, stride); pc(p, 't');
    pc(p, 0x89);
    pglobal(p, "collections", "OrderedDict"); pc(p, ')'); pc(p, 'R');
    pc(p, 't');
    pc(p, 'R');
    pc(p, 's');
    pc(p, '.');
}

#endif
