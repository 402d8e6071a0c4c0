/* host/io/zip.h: the zip directory (EOCD, ZIP64, central and local headers)
 * and entry data (stored or deflated, CRC-32). */
#include "io/zip.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "core/ll_util.h"

void ll_zip_free(ll_zip *z) {
    for (size_t i = 0; i < z->n; i++) free(z->ents[i].name);
    free(z->ents);
    z->ents = NULL;
    z->n = 0;
}

static int zent_cmp(const void *a, const void *b) {
    return strcmp(((const ll_zip_entry *)a)->name, ((const ll_zip_entry *)b)->name);
}

int ll_zip_parse(ll_zip *z, const char *path) {
    const uint8_t *m = z->map;
    size_t sz = z->size;
    if (sz < 22) { ll_set_error("%s: not a zip archive (too short, %zu bytes)", path, sz); return -1; }
    /* end of central directory: last occurrence within the final 64 KiB + 22 */
    size_t lo = sz > 65557 ? sz - 65557 : 0, eocd = (size_t)-1;
    for (size_t i = sz - 22 + 1; i-- > lo;)
        if (ll_le32(m + i) == 0x06054b50) { eocd = i; break; }
    if (eocd == (size_t)-1) {
        if (sz >= 2 && m[0] == 0x80)
            ll_set_error("%s: legacy (pre-1.6, non-zip) torch.save format is not supported; re-save with torch.save(..., _use_new_zipfile_serialization=True) or convert to safetensors", path);
        else
            ll_set_error("%s: not a zip archive (no end-of-central-directory record); truncated or not a PyTorch checkpoint", path);
        return -1;
    }
    uint64_t nent = ll_le16(m + eocd + 10), cdsize = ll_le32(m + eocd + 12), cdoff = ll_le32(m + eocd + 16);
    if (nent == 0xffff || cdsize == 0xffffffffu || cdoff == 0xffffffffu) {
        /* ZIP64: locator just before the EOCD */
        if (eocd < 20 || ll_le32(m + eocd - 20) != 0x07064b50) {
            ll_set_error("%s: zip64 archive without zip64 locator", path);
            return -1;
        }
        uint64_t z64 = ll_le64(m + eocd - 20 + 8);
        if (z64 > sz || sz - z64 < 56 || ll_le32(m + z64) != 0x06064b50) {
            ll_set_error("%s: bad zip64 end-of-central-directory record", path);
            return -1;
        }
        nent = ll_le64(m + z64 + 32);
        cdsize = ll_le64(m + z64 + 40);
        cdoff = ll_le64(m + z64 + 48);
    }
    if (cdoff > sz || cdsize > sz - cdoff) {
        ll_set_error("%s: zip central directory out of bounds (truncated file?)", path);
        return -1;
    }
    if (nent > cdsize / 46 + 1) { ll_set_error("%s: zip central directory entry count %llu too large", path, (unsigned long long)nent); return -1; }
    z->ents = ll_xcalloc(nent ? nent : 1, sizeof(ll_zip_entry));
    size_t p = cdoff, end = cdoff + cdsize;
    for (uint64_t i = 0; i < nent; i++) {
        if (end - p < 46 || ll_le32(m + p) != 0x02014b50) {
            ll_set_error("%s: bad zip central directory entry %llu", path, (unsigned long long)i);
            return -1;
        }
        ll_zip_entry *e = &z->ents[z->n];
        e->method = ll_le16(m + p + 10);
        e->crc = ll_le32(m + p + 16);
        e->csize = ll_le32(m + p + 20);
        e->usize = ll_le32(m + p + 24);
        size_t nlen = ll_le16(m + p + 28), xlen = ll_le16(m + p + 30), clen = ll_le16(m + p + 32);
        e->local_off = ll_le32(m + p + 42);
        if (end - p - 46 < nlen + xlen + clen) {
            ll_set_error("%s: bad zip central directory entry %llu (lengths)", path, (unsigned long long)i);
            return -1;
        }
        e->name = ll_xmalloc(nlen + 1);
        memcpy(e->name, m + p + 46, nlen);
        e->name[nlen] = 0;
        z->n++;
        if (memchr(e->name, 0, nlen)) { ll_set_error("%s: zip entry name with NUL byte", path); return -1; }
        /* zip64 extended information */
        const uint8_t *x = m + p + 46 + nlen, *xe = x + xlen;
        while (xe - x >= 4) {
            unsigned id = ll_le16(x), len = ll_le16(x + 2);
            if ((size_t)(xe - x - 4) < len) break;
            if (id == 0x0001) {
                const uint8_t *q = x + 4, *qe = q + len;
                if (e->usize == 0xffffffffu && qe - q >= 8) { e->usize = ll_le64(q); q += 8; }
                if (e->csize == 0xffffffffu && qe - q >= 8) { e->csize = ll_le64(q); q += 8; }
                if (e->local_off == 0xffffffffu && qe - q >= 8) { e->local_off = ll_le64(q); q += 8; }
            }
            x += 4 + len;
        }
        p += 46 + nlen + xlen + clen;
    }
    /* sorted by name: lookups by binary search, so that a pickle naming many
     * storages costs O(P log N), not O(P N) */
    qsort(z->ents, z->n, sizeof *z->ents, zent_cmp);
    for (size_t i = 1; i < z->n; i++)
        if (!strcmp(z->ents[i].name, z->ents[i - 1].name)) {
            ll_set_error("%s: zip entry '%s' appears twice", path, z->ents[i].name);
            return -1;
        }
    return 0;
}

ll_zip_entry *ll_zip_find(const ll_zip *z, const char *name) {
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(z->ents[mid].name, name);
        if (c == 0) return &z->ents[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

/* Entry data: a pointer into the map (stored) or a malloc'd buffer
 * (deflated, *owned set).  CRC-32 checked.  NULL + error on failure. */
const uint8_t *ll_zip_data(const ll_zip *z, const ll_zip_entry *e, const char *path, uint8_t **owned) {
    *owned = NULL;
    const uint8_t *m = z->map;
    size_t sz = z->size;
    if (e->local_off > sz || sz - e->local_off < 30 || ll_le32(m + e->local_off) != 0x04034b50) {
        ll_set_error("%s: zip entry '%s': bad local header (truncated or corrupt file)", path, e->name);
        return NULL;
    }
    uint64_t start = e->local_off + 30 + (uint64_t)ll_le16(m + e->local_off + 26) + ll_le16(m + e->local_off + 28);
    if (start > sz || e->csize > sz - start) {
        ll_set_error("%s: zip entry '%s' extends past the end of the file (truncated)", path, e->name);
        return NULL;
    }
    const uint8_t *d = m + start;
    if (e->method == 0) {
        if (e->csize != e->usize) { ll_set_error("%s: zip entry '%s': stored sizes differ", path, e->name); return NULL; }
    } else if (e->method == 8) {
        /* deflate cannot expand more than 1032:1 (RFC 1951: a 258-byte match
         * costs at least 2 bits), so a larger declared size is a lie: refuse
         * it before allocating anything */
        if (e->usize > ((uint64_t)1 << 40) || e->usize > e->csize * 1032 + 64) {
            ll_set_error("%s: zip entry '%s' declares %llu bytes uncompressed from %llu compressed (more than deflate can expand)",
                         path, e->name, (unsigned long long)e->usize, (unsigned long long)e->csize);
            return NULL;
        }
        uint8_t *buf = ll_xmalloc(e->usize ? e->usize : 1);
        z_stream s;
        memset(&s, 0, sizeof s);
        if (inflateInit2(&s, -MAX_WBITS) != Z_OK) { free(buf); ll_set_error("%s: zlib init failed", path); return NULL; }
        uint64_t in_left = e->csize, out_left = e->usize;
        const uint8_t *ip = d;
        uint8_t *op = buf;
        int rc = Z_OK;
        while (rc == Z_OK) {
            unsigned ic = in_left > (1u << 30) ? (1u << 30) : (unsigned)in_left;
            unsigned oc = out_left > (1u << 30) ? (1u << 30) : (unsigned)out_left;
            s.next_in = (Bytef *)ip; s.avail_in = ic;
            s.next_out = op; s.avail_out = oc;
            rc = inflate(&s, Z_NO_FLUSH);
            ip += ic - s.avail_in; in_left -= ic - s.avail_in;
            op += oc - s.avail_out; out_left -= oc - s.avail_out;
            if (rc == Z_OK && ic == s.avail_in && oc == s.avail_out) rc = Z_BUF_ERROR;
        }
        inflateEnd(&s);
        if (rc != Z_STREAM_END || out_left != 0) {
            free(buf);
            ll_set_error("%s: zip entry '%s': corrupt deflate data", path, e->name);
            return NULL;
        }
        *owned = buf;
        d = buf;
    } else {
        ll_set_error("%s: zip entry '%s': unsupported compression method %d", path, e->name, e->method);
        return NULL;
    }
    /* CRC-32 in 1 GiB pieces (zlib takes uInt lengths) */
    uLong crc = crc32(0L, Z_NULL, 0);
    for (uint64_t o = 0; o < e->usize;) {
        uInt c = e->usize - o > (1u << 30) ? (1u << 30) : (uInt)(e->usize - o);
        crc = crc32(crc, d + o, c);
        o += c;
    }
    if ((uint32_t)crc != e->crc) {
        free(*owned);
        *owned = NULL;
        ll_set_error("%s: zip entry '%s': CRC-32 mismatch (corrupt file)", path, e->name);
        return NULL;
    }
    return d;
}
