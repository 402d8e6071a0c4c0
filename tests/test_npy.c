#include "harness.h"
#include "io/npy.h"
#include "core/ll_util.h"
#include <stdlib.h>
#include <string.h>

TEST(npy_roundtrip_shapes) {
    char p[600];
    ll_path_join(p, sizeof p, ll_test_tmpdir(), "a.npy");
    float data[24];
    for (int i = 0; i < 24; i++) data[i] = (float)i * 0.5f;
    int64_t shape[3] = {2, 3, 4};
    REQUIRE(ll_npy_save(p, LL_DT_F32, 3, shape, data) == 0);
    ll_npy n;
    REQUIRE(ll_npy_open(p, &n) == 0);
    CHECK_INT(n.ndim, 3);
    CHECK_INT(n.shape[2], 4);
    CHECK_INT(n.count, 24);
    CHECK(n.data_offset % 64 == 0);
    CHECK(ll_npy_get(&n, 23) == 11.5);
    ll_npy_close(&n);
    int64_t s1[1] = {5};
    int64_t ids[5] = {1, 2, 3, 4, 50000};
    REQUIRE(ll_npy_save(p, LL_DT_I64, 1, s1, ids) == 0);
    REQUIRE(ll_npy_open(p, &n) == 0);
    CHECK_INT(n.ndim, 1);
    CHECK(ll_npy_get(&n, 4) == 50000);
    ll_npy_close(&n);
}

static int write_raw(const char *path, const char *hdr_dict, size_t data_bytes) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t k = strlen(hdr_dict);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(k & 0xff), (unsigned char)(k >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(hdr_dict, 1, k, f);
    for (size_t i = 0; i < data_bytes; i++) fputc(0, f);
    fclose(f);
    return 0;
}

TEST(npy_rejects_bad_files) {
    char p[600];
    ll_npy n;
    ll_path_join(p, sizeof p, ll_test_tmpdir(), "bad.npy");
    struct { const char *dict; size_t bytes; const char *msg; } cases[] = {
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", 24, "Fortran"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3), }\n", 48, "unsupported dtype"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }\n", 24, "unsupported dtype"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 20, "truncated data"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }\n", 0, "overflow"},
        {"{'descr': '<f4', 'fortran_order': False, }\n", 0, "shape"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        REQUIRE(write_raw(p, cases[i].dict, cases[i].bytes) == 0);
        CHECK_MSG(ll_npy_open(p, &n) == -1, "case %zu accepted", i);
        CHECK_MSG(strstr(ll_last_error(), cases[i].msg) != NULL, "case %zu: '%s'", i, ll_last_error());
        CHECK(strstr(ll_last_error(), p) != NULL);
    }
    FILE *f = fopen(p, "wb");
    fputs("PK\x03\x04 not numpy at all", f);
    fclose(f);
    CHECK(ll_npy_open(p, &n) == -1 && strstr(ll_last_error(), "magic"));
    CHECK(ll_npy_open("/nonexistent.npy", &n) == -1 && strstr(ll_last_error(), "cannot open"));
}
