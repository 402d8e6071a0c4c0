/* NumPy .npy files (format versions 1.0, 2.0, 3.0), read through mmap so that
 * large feature files are never loaded into memory whole, and written
 * atomically.  Every header field, shape and size is checked against the
 * file. */
#ifndef LL_NPY_H
#define LL_NPY_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { LL_DT_F16 = 0, LL_DT_F32, LL_DT_F64, LL_DT_I32, LL_DT_I64, LL_DT_BF16 } ll_dtype;
size_t ll_dtype_size(ll_dtype t);
const char *ll_dtype_name(ll_dtype t);

#define LL_NPY_MAXDIM 8
typedef struct {
    char path[1024];
    ll_dtype dtype;
    int ndim;
    int64_t shape[LL_NPY_MAXDIM];
    size_t count;        /* product of shape */
    const void *data;    /* points into the mapping */
    void *map;
    size_t map_len;
    size_t data_offset;
} ll_npy;

/* Opens and validates; accepts little-endian f2/f4/f8/i4/i8 (and '|' for
 * one-byte types none), C order only.  Returns 0 or -1 (error names path). */
int ll_npy_open(const char *path, ll_npy *out);
void ll_npy_close(ll_npy *n);
/* Element i as double (any supported dtype). */
double ll_npy_get(const ll_npy *n, size_t i);
/* Converts elements [i0, i0+cnt) to double. */
void ll_npy_read_f64(const ll_npy *n, size_t i0, size_t cnt, double *out);

/* Tells the kernel that elements [0, upto) will not be read again (their
 * pages leave the resident set: streaming keeps memory flat). */
void ll_npy_release(const ll_npy *n, size_t upto);

/* Writing: header for a C-order array; data written by the caller after it.
 * ll_npy_write_header returns the header length or -1. */
int ll_npy_write_header(FILE *f, ll_dtype t, int ndim, const int64_t *shape);
/* Whole array in one call, atomically. */
int ll_npy_save(const char *path, ll_dtype t, int ndim, const int64_t *shape, const void *data);
#endif
