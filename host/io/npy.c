#include "io/npy.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/ll_util.h"

size_t ll_dtype_size(ll_dtype t) {
    switch (t) {
    case LL_DT_F16: case LL_DT_BF16: return 2;
    case LL_DT_F32: case LL_DT_I32: return 4;
    case LL_DT_F64: case LL_DT_I64: return 8;
    }
    return 0;
}

const char *ll_dtype_name(ll_dtype t) {
    static const char *names[] = {"float16", "float32", "float64", "int32", "int64", "bfloat16"};
    return (unsigned)t < 6 ? names[t] : "?";
}

/* Finds 'key': in the header dict and returns a pointer just after the colon. */
static const char *find_key(const char *h, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

static int fail(ll_npy *n, const char *path, const char *msg) {
    ll_set_error("%s: %s", path, msg);
    ll_npy_close(n);
    return -1;
}

int ll_npy_open(const char *path, ll_npy *n) {
    memset(n, 0, sizeof *n);
    snprintf(n->path, sizeof n->path, "%s", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) { ll_set_error("%s: cannot open: %s", path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); ll_set_error("%s: not a regular file", path); return -1; }
    size_t flen = (size_t)st.st_size;
    if (flen < 10) { close(fd); ll_set_error("%s: not a .npy file (too short)", path); return -1; }
    void *map = mmap(NULL, flen, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) { ll_set_error("%s: cannot map: %s", path, strerror(errno)); return -1; }
    n->map = map;
    n->map_len = flen;
    const unsigned char *b = map;
    if (memcmp(b, "\x93NUMPY", 6) != 0) return fail(n, path, "not a .npy file (bad magic)");
    int major = b[6];
    size_t hlen, hoff;
    if (major == 1) { hlen = (size_t)b[8] | ((size_t)b[9] << 8); hoff = 10; }
    else if (major == 2 || major == 3) {
        if (flen < 12) return fail(n, path, "truncated header");
        hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
        hoff = 12;
    } else return fail(n, path, "unsupported .npy format version");
    if (hlen > flen - hoff) return fail(n, path, "truncated header");
    if (hlen > 1 << 20) return fail(n, path, "header too large");
    char *h = ll_xmalloc(hlen + 1);
    memcpy(h, b + hoff, hlen);
    h[hlen] = 0;
    const char *p = find_key(h, "descr");
    char descr[16] = {0};
    if (!p || (*p != '\'' && *p != '"')) { free(h); return fail(n, path, "header has no 'descr'"); }
    {
        char q = *p++;
        size_t k = 0;
        while (*p && *p != q && k < sizeof descr - 1) descr[k++] = *p++;
        if (*p != q) { free(h); return fail(n, path, "malformed 'descr'"); }
    }
    struct { const char *s; ll_dtype t; } dts[] = {
        {"<f2", LL_DT_F16}, {"<f4", LL_DT_F32}, {"<f8", LL_DT_F64}, {"<i4", LL_DT_I32}, {"<i8", LL_DT_I64},
    };
    int found = 0;
    for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++)
        if (!strcmp(descr, dts[i].s)) { n->dtype = dts[i].t; found = 1; }
    if (!found) {
        char msg[96];
        snprintf(msg, sizeof msg, "unsupported dtype '%s' (need <f2, <f4, <f8, <i4 or <i8)", descr);
        free(h);
        return fail(n, path, msg);
    }
    p = find_key(h, "fortran_order");
    if (!p) { free(h); return fail(n, path, "header has no 'fortran_order'"); }
    if (!strncmp(p, "True", 4)) { free(h); return fail(n, path, "Fortran order is not supported (save with C order)"); }
    if (strncmp(p, "False", 5)) { free(h); return fail(n, path, "malformed 'fortran_order'"); }
    p = find_key(h, "shape");
    if (!p || *p != '(') { free(h); return fail(n, path, "header has no 'shape'"); }
    p++;
    n->ndim = 0;
    size_t count = 1;
    for (;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        if (*p < '0' || *p > '9') { free(h); return fail(n, path, "malformed 'shape'"); }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || end == p || v > (unsigned long long)INT64_MAX) { free(h); return fail(n, path, "shape value out of range"); }
        if (n->ndim == LL_NPY_MAXDIM) { free(h); return fail(n, path, "too many dimensions"); }
        n->shape[n->ndim++] = (int64_t)v;
        if (ll_mul_size(count, (size_t)v, &count)) { free(h); return fail(n, path, "shape overflows"); }
        p = end;
    }
    free(h);
    size_t bytes;
    if (ll_mul_size(count, ll_dtype_size(n->dtype), &bytes)) return fail(n, path, "shape overflows");
    n->data_offset = hoff + hlen;
    if (bytes > flen - n->data_offset) {
        char msg[160];
        snprintf(msg, sizeof msg, "truncated data (%zu bytes expected, %zu present)", bytes, flen - n->data_offset);
        return fail(n, path, msg);
    }
    n->count = count;
    n->data = b + n->data_offset;
    madvise(map, flen, MADV_SEQUENTIAL);
    return 0;
}

void ll_npy_close(ll_npy *n) {
    if (n->map) munmap(n->map, n->map_len);
    n->map = NULL;
    n->data = NULL;
}

double ll_npy_get(const ll_npy *n, size_t i) {
    const unsigned char *b = (const unsigned char *)n->data;
    switch (n->dtype) {
    case LL_DT_F16: { uint16_t v; memcpy(&v, b + 2 * i, 2); return ll_f16_to_f32(v); }
    case LL_DT_BF16: { uint16_t v; memcpy(&v, b + 2 * i, 2); return ll_bf16_to_f32(v); }
    case LL_DT_F32: { float v; memcpy(&v, b + 4 * i, 4); return v; }
    case LL_DT_F64: { double v; memcpy(&v, b + 8 * i, 8); return v; }
    case LL_DT_I32: { int32_t v; memcpy(&v, b + 4 * i, 4); return v; }
    case LL_DT_I64: { int64_t v; memcpy(&v, b + 8 * i, 8); return (double)v; }
    }
    return 0;
}

void ll_npy_read_f64(const ll_npy *n, size_t i0, size_t cnt, double *out) {
    const unsigned char *b = (const unsigned char *)n->data;
    switch (n->dtype) {
    case LL_DT_F32: {
        const float *f = (const float *)(const void *)(b + 4 * i0); /* .npy data is 64-byte aligned in practice */
        if (((uintptr_t)f & 3) == 0) { for (size_t i = 0; i < cnt; i++) out[i] = f[i]; return; }
        break;
    }
    case LL_DT_F64: memcpy(out, b + 8 * i0, 8 * cnt); return;
    default: break;
    }
    for (size_t i = 0; i < cnt; i++) out[i] = ll_npy_get(n, i0 + i);
}

void ll_npy_release(const ll_npy *n, size_t upto) {
    long pg = sysconf(_SC_PAGESIZE);
    size_t end = n->data_offset + upto * ll_dtype_size(n->dtype);
    end -= end % (size_t)pg;
    if (end > 0 && n->map) madvise(n->map, end, MADV_DONTNEED);
}

int ll_npy_write_header(FILE *f, ll_dtype t, int ndim, const int64_t *shape) {
    static const char *descr[] = {"<f2", "<f4", "<f8", "<i4", "<i8", "<u2"};
    char dict[512];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr[t]);
    for (int i = 0; i < ndim; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%lld%s", (long long)shape[i], (ndim == 1 || i + 1 < ndim) ? ", " : "");
    if (ndim == 1) k -= 1; /* "(n,)" */
    k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
    /* pad so that 10 + header length is a multiple of 64, ending in '\n' */
    size_t total = 10 + (size_t)k + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)k + pad + 1;
    if (hlen > 65535) { ll_set_error("npy header too long"); return -1; }
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    if (fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, (size_t)k, f) != (size_t)k) return -1;
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    return (int)(10 + hlen);
}

int ll_npy_save(const char *path, ll_dtype t, int ndim, const int64_t *shape, const void *data) {
    char tmp[4096];
    size_t count = 1;
    for (int i = 0; i < ndim; i++) count *= (size_t)shape[i];
    FILE *f = ll_open_tmp(path, tmp, sizeof tmp);
    if (!f) return -1;
    if (ll_npy_write_header(f, t, ndim, shape) < 0 ||
        (count && fwrite(data, ll_dtype_size(t), count, f) != count)) {
        ll_abort_tmp(f, tmp);
        ll_set_error("%s: write error", path);
        return -1;
    }
    return ll_commit_tmp(f, tmp, path);
}
