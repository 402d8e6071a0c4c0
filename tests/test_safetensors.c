/* safetensors parser: values of every float dtype, sharded folders, and every
 * header check (truncation, offsets past the end, sizes, dtypes). */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "core/ll_util.h"
#include "io/safetensors.h"

/* Writes a safetensors file from a JSON header and a data blob. */
static void write_st(const char *path, const char *header, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    uint64_t h = strlen(header);
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(h >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(header, 1, h, f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static const char *tmp(const char *name) {
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    return ll_path_join(buf[k], sizeof buf[k], ll_test_tmpdir(), name);
}

TEST(st_dtypes_values) {
    /* a: F32 [2,2], b: F16 [3], c: BF16 [2], d: F64 [1] */
    unsigned char data[16 + 6 + 4 + 8];
    float a[4] = {1.5f, -2.0f, 3.25f, 1e-3f};
    memcpy(data, a, 16);
    uint16_t b[3] = {0x3C00 /* 1 */, 0xC000 /* -2 */, 0x3555 /* 0.333 */};
    memcpy(data + 16, b, 6);
    uint16_t c[2] = {0x3FC0 /* 1.5 */, 0xC120 /* -10 */};
    memcpy(data + 22, c, 4);
    double d = 0.1;
    memcpy(data + 26, &d, 8);
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                      "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
                      "\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[22,26]},"
                      "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[26,34]}}";
    const char *p = tmp("ok.safetensors");
    write_st(p, hdr, data, sizeof data);
    ll_safetensors st;
    REQUIRE_MSG(ll_st_open_file(&st, p) == 0, "%s", ll_last_error());
    CHECK_INT(st.n_tensors, 4);
    const ll_st_tensor *t = ll_st_find(&st, "a");
    REQUIRE(t);
    CHECK_INT(t->ndim, 2);
    CHECK_INT(t->shape[1], 2);
    float out[4];
    REQUIRE(ll_st_to_f32(t, 0, 4, out) == 0);
    CHECK(out[0] == 1.5f && out[3] == 1e-3f);
    REQUIRE(ll_st_to_f32(ll_st_find(&st, "b"), 0, 3, out) == 0);
    CHECK(out[0] == 1.0f && out[1] == -2.0f);
    CHECK_NEAR(out[2], 1.0 / 3, 2e-4);
    REQUIRE(ll_st_to_f32(ll_st_find(&st, "c"), 0, 2, out) == 0);
    CHECK(out[0] == 1.5f && out[1] == -10.0f);
    REQUIRE(ll_st_to_f32(ll_st_find(&st, "d"), 0, 1, out) == 0);
    CHECK(out[0] == 0.1f);
    CHECK(ll_st_find(&st, "zz") == NULL);
    ll_st_close(&st);
}

static void expect_error(const char *name, const char *hdr, size_t ndata, const char *needle) {
    unsigned char data[64] = {0};
    const char *p = tmp(name);
    write_st(p, hdr, data, ndata);
    ll_safetensors st;
    int rc = ll_st_open_file(&st, p);
    CHECK_MSG(rc == -1, "%s: opened a bad file", name);
    if (rc == -1) {
        CHECK_MSG(strstr(ll_last_error(), name) != NULL, "%s: error does not name the file: %s", name, ll_last_error());
        CHECK_MSG(strstr(ll_last_error(), needle) != NULL, "%s: error '%s' lacks '%s'", name, ll_last_error(), needle);
        CHECK_MSG(strchr(ll_last_error(), '\n') == NULL, "%s: error is not one line", name);
    } else {
        ll_st_close(&st);
    }
}

TEST(st_bad_headers) {
    expect_error("past_end.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
                 "past the end");
    expect_error("size.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16, "bytes");
    expect_error("dtype.safetensors", "{\"a\":{\"dtype\":\"F33\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16,
                 "unknown dtype");
    expect_error("order.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,8]}}", 16,
                 "data_offsets");
    expect_error("shape.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", 16,
                 "shape");
    expect_error("json.safetensors", "{\"a\":{\"dtype\":\"F32\",", 16, "JSON");
    expect_error("fields.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4]}}", 16, "data_offsets");
    /* header length larger than the file */
    const char *p = tmp("trunc_hdr.safetensors");
    FILE *f = fopen(p, "wb");
    unsigned char le[8] = {0xff, 0xff, 0, 0, 0, 0, 0, 0};
    fwrite(le, 1, 8, f);
    fwrite("{}", 1, 2, f);
    fclose(f);
    ll_safetensors st;
    CHECK(ll_st_open_file(&st, p) == -1);
    CHECK(strstr(ll_last_error(), "truncated") != NULL);
    /* shorter than 8 bytes */
    p = tmp("tiny.safetensors");
    f = fopen(p, "wb");
    fwrite("abc", 1, 3, f);
    fclose(f);
    CHECK(ll_st_open_file(&st, p) == -1);
    CHECK(strstr(ll_last_error(), "truncated") != NULL);
    /* missing file */
    CHECK(ll_st_open_file(&st, tmp("nope.safetensors")) == -1);
    CHECK(strstr(ll_last_error(), "nope.safetensors") != NULL);
}

TEST(st_sharded_dir) {
    char dir[1024];
    ll_path_join(dir, sizeof dir, ll_test_tmpdir(), "sh");
    REQUIRE(ll_mkdirs(dir) == 0);
    char p1[1100], p2[1100], pi[1100];
    ll_path_join(p1, sizeof p1, dir, "model-00001-of-00002.safetensors");
    ll_path_join(p2, sizeof p2, dir, "model-00002-of-00002.safetensors");
    ll_path_join(pi, sizeof pi, dir, "model.safetensors.index.json");
    float x[2] = {1, 2}, y[3] = {3, 4, 5};
    write_st(p1, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", x, 8);
    write_st(p2, "{\"y\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", y, 12);
    const char *idx = "{\"metadata\":{},\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\","
                      "\"y\":\"model-00002-of-00002.safetensors\"}}";
    REQUIRE(ll_write_file_atomic(pi, idx, strlen(idx)) == 0);
    ll_safetensors st;
    REQUIRE_MSG(ll_st_open_dir(&st, dir) == 0, "%s", ll_last_error());
    CHECK_INT(st.n_files, 2);
    const ll_st_tensor *t = ll_st_find(&st, "y");
    REQUIRE(t);
    float out[3];
    ll_st_to_f32(t, 0, 3, out);
    CHECK(out[2] == 5);
    ll_st_close(&st);
    /* the index names a tensor its shard lacks */
    const char *bad = "{\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\","
                      "\"z\":\"model-00002-of-00002.safetensors\"}}";
    REQUIRE(ll_write_file_atomic(pi, bad, strlen(bad)) == 0);
    CHECK(ll_st_open_dir(&st, dir) == -1);
    CHECK(strstr(ll_last_error(), "'z'") != NULL);
    /* an index naming a file outside the folder */
    const char *esc = "{\"weight_map\":{\"x\":\"../x.safetensors\"}}";
    REQUIRE(ll_write_file_atomic(pi, esc, strlen(esc)) == 0);
    CHECK(ll_st_open_dir(&st, dir) == -1);
}
