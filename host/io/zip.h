/* A zip archive in memory (a mapping of the whole file), read as torch.save
 * writes it: the end-of-central-directory record (ZIP64 too), the central
 * directory, local headers; entries stored or deflated, CRC-32 checked.
 * Every offset and size is checked against the mapping; every error is one
 * line naming the file (ll_set_error).  Used by host/io/torch_pickle.c. */
#ifndef LL_IO_ZIP_H
#define LL_IO_ZIP_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;
    uint64_t csize, usize, local_off;
    uint32_t crc;
    int method;
    const uint8_t *loaded; /* storage data once decoded (each entry is decoded at most once) */
} ll_zip_entry;

typedef struct {
    const uint8_t *map;
    size_t size;
    ll_zip_entry *ents;
    size_t n;
} ll_zip;

/* little-endian reads */
static inline uint16_t ll_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t ll_le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t ll_le64(const uint8_t *p) { return (uint64_t)ll_le32(p) | (uint64_t)ll_le32(p + 4) << 32; }

/* Reads the directory of z->map[0..z->size) into z->ents (sorted by name;
 * a name twice is an error).  0, or -1 + error naming path. */
int ll_zip_parse(ll_zip *z, const char *path);
/* The entry called name, or NULL. */
ll_zip_entry *ll_zip_find(const ll_zip *z, const char *name);
/* Entry data: a pointer into the map (stored) or a malloc'd buffer
 * (deflated, *owned set: free it).  CRC-32 checked.  NULL + error on failure. */
const uint8_t *ll_zip_data(const ll_zip *z, const ll_zip_entry *e, const char *path, uint8_t **owned);
/* Frees the directory (not the mapping). */
void ll_zip_free(ll_zip *z);
#endif
