#include "harness.h"
#include "core/ll_util.h"
#include <stdlib.h>
#include <string.h>

TEST(util_half_roundtrip) {
    float vals[] = {0.f, 1.f, -2.5f, 65504.f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        CHECK(ll_f16_to_f32(ll_f32_to_f16(vals[i])) == vals[i]);
        float b = ll_bf16_to_f32(ll_f32_to_bf16(vals[i]));
        CHECK_REL(b, vals[i], 1.0 / 128);
    }
    CHECK(ll_f32_to_f16(1e6f) == 0x7c00);
}

TEST(util_atomic_write) {
    char p[600];
    ll_path_join(p, sizeof p, ll_test_tmpdir(), "x.txt");
    REQUIRE(ll_write_file_atomic(p, "hello", 5) == 0);
    size_t n = 0;
    char *s = ll_read_file(p, &n);
    REQUIRE(s != NULL);
    CHECK_INT(n, 5);
    CHECK(strcmp(s, "hello") == 0);
    free(s);
    CHECK(ll_read_file("/nonexistent/zzz", &n) == NULL);
    CHECK(strstr(ll_last_error(), "/nonexistent/zzz") != NULL);
}

TEST(util_mul_overflow) {
    size_t o;
    CHECK(ll_mul_size((size_t)1 << 40, (size_t)1 << 30, &o) == -1);
    CHECK(ll_mul3_size(1000, 1000, 1000, &o) == 0 && o == 1000000000u);
}
