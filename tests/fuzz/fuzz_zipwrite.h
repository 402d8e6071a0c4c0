/* A minimal in-memory zip writer (stored entries) for the pickle harness and
 * the seed generator. */
#ifndef LL_FUZZ_ZIPWRITE_H
#define LL_FUZZ_ZIPWRITE_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct { uint8_t *b; size_t n, cap; } zbuf;
static void zb_put(zbuf *z, const void *d, size_t n) {
    if (z->n + n > z->cap) { z->cap = (z->n + n) * 2 + 256; z->b = realloc(z->b, z->cap); if (!z->b) abort(); }
    if (n) memcpy(z->b + z->n, d, n);
    z->n += n;
}
static void zb16(zbuf *z, unsigned v) { uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)}; zb_put(z, b, 2); }
static void zb32(zbuf *z, uint32_t v) { zb16(z, v & 0xffff); zb16(z, v >> 16); }

typedef struct { const char *name; const void *data; size_t n; } zentry;

static void zip_build(zbuf *z, const zentry *e, int n) {
    uint32_t off[16], crc[16];
    z->n = 0;
    for (int i = 0; i < n; i++) {
        off[i] = (uint32_t)z->n;
        crc[i] = (uint32_t)crc32(0L, e[i].data, (uInt)e[i].n);
        zb32(z, 0x04034b50); zb16(z, 20); zb16(z, 0); zb16(z, 0); zb16(z, 0); zb16(z, 0);
        zb32(z, crc[i]); zb32(z, (uint32_t)e[i].n); zb32(z, (uint32_t)e[i].n);
        zb16(z, (unsigned)strlen(e[i].name)); zb16(z, 0);
        zb_put(z, e[i].name, strlen(e[i].name));
        zb_put(z, e[i].data, e[i].n);
    }
    uint32_t cd = (uint32_t)z->n;
    for (int i = 0; i < n; i++) {
        zb32(z, 0x02014b50); zb16(z, 20); zb16(z, 20); zb16(z, 0); zb16(z, 0); zb16(z, 0); zb16(z, 0);
        zb32(z, crc[i]); zb32(z, (uint32_t)e[i].n); zb32(z, (uint32_t)e[i].n);
        zb16(z, (unsigned)strlen(e[i].name)); zb16(z, 0); zb16(z, 0); zb16(z, 0); zb16(z, 0); zb32(z, 0);
        zb32(z, off[i]);
        zb_put(z, e[i].name, strlen(e[i].name));
    }
    uint32_t cdn = (uint32_t)z->n - cd;
    zb32(z, 0x06054b50); zb16(z, 0); zb16(z, 0); zb16(z, (unsigned)n); zb16(z, (unsigned)n);
    zb32(z, cdn); zb32(z, cd); zb16(z, 0);
}
#endif
