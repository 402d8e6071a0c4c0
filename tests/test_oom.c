/* The device out-of-memory message (host/backend/oom.c) and the parser of the
 * LAYERLAW_CUDA_MEM_LIMIT cap.  Pure C: runs without a GPU.  Every expected
 * string below is written out by hand from the byte counts (1 GiB = 2^30). */
#include "harness.h"
#include "backend/oom.h"
#include "core/ll_util.h"
#include <string.h>

TEST(oom_message_exact) {
    char buf[1024];
    /* 3.2 GiB = 3435973837 bytes (3.2·2^30 rounded up); 1.1 GiB; 80 GiB */
    size_t need = 3435973837u, fre = 1181116006u, tot = (size_t)80 << 30;
    ll_oom_format(buf, sizeof buf, 0, need, "the statistics (E=33, d=4096)", fre, tot, 0);
    CHECK_MSG(strcmp(buf, "CUDA device 0: out of memory allocating 3.2 GiB for the statistics (E=33, d=4096); "
                          "free 1.1 GiB of 80.0 GiB; try a smaller --batch-tokens / --batch-size") == 0,
              "got: %s", buf);
    CHECK(strchr(buf, '\n') == NULL); /* one line */
}

TEST(oom_message_units_and_cap) {
    char buf[1024];
    /* 1.5 MiB = 1572864; free 0 bytes; cap 64 MiB; device 3 */
    ll_oom_format(buf, sizeof buf, 3, 1572864, "the capture's labels (196608 rows)", 0, (size_t)64 << 20, 1);
    CHECK_MSG(strcmp(buf, "CUDA device 3: out of memory allocating 1.5 MiB for the capture's labels (196608 rows); "
                          "free 0 bytes of 64.0 MiB (the LAYERLAW_CUDA_MEM_LIMIT cap); "
                          "try a smaller --batch-tokens / --batch-size") == 0,
              "got: %s", buf);
    /* no description: "device buffers"; 3 KiB = 3072 */
    ll_oom_format(buf, sizeof buf, 0, 3072, NULL, 512, 2048, 0);
    CHECK_MSG(strcmp(buf, "CUDA device 0: out of memory allocating 3.0 KiB for device buffers; free 512 bytes of "
                          "2.0 KiB; try a smaller --batch-tokens / --batch-size") == 0,
              "got: %s", buf);
}

TEST(oom_message_weights_advice) {
    char buf[1024];
    /* weights must fit whole: smaller batches are not the advice */
    ll_oom_format(buf, sizeof buf, 0, (size_t)13 << 30, "the model weights of /m/llama (291 tensors)", (size_t)5 << 30,
                  (size_t)16 << 30, 0);
    CHECK_MSG(strstr(buf, "allocating 13.0 GiB for the model weights of /m/llama (291 tensors); free 5.0 GiB of 16.0 GiB; "
                          "the weights must fit whole: try --compute bf16") != NULL,
              "got: %s", buf);
    CHECK(strstr(buf, "--batch-tokens") == NULL);
    /* through the error buffer, truncated safely when the buffer is short */
    ll_oom_set_error(1, 100, "x", 0, 0, 0);
    CHECK(strncmp(ll_last_error(), "CUDA device 1: out of memory allocating 100 bytes for x;", 56) == 0);
    char small[20];
    int n = ll_oom_format(small, sizeof small, 0, 1, "y", 0, 0, 0);
    CHECK(n > 19);
    CHECK_INT((int)strlen(small), 19);
}

TEST(oom_parse_bytes) {
    size_t b = 0;
    CHECK(ll_parse_bytes("1073741824", &b) == 0 && b == 1073741824u);
    CHECK(ll_parse_bytes("64K", &b) == 0 && b == 65536u);
    CHECK(ll_parse_bytes("512M", &b) == 0 && b == 536870912u);
    CHECK(ll_parse_bytes("1.5G", &b) == 0 && b == 1610612736u);
    CHECK(ll_parse_bytes("2GiB", &b) == 0 && b == 2147483648u);
    CHECK(ll_parse_bytes("3gb", &b) == 0 && b == 3221225472u);
    CHECK(ll_parse_bytes("100B", &b) == 0 && b == 100u);
    CHECK(ll_parse_bytes("1T", &b) == 0 && b == ((size_t)1 << 40));
    CHECK(ll_parse_bytes("", &b) == -1);
    CHECK(strstr(ll_last_error(), "LAYERLAW_CUDA_MEM_LIMIT") != NULL);
    CHECK(ll_parse_bytes("lots", &b) == -1);
    CHECK(ll_parse_bytes("-5", &b) == -1);
    CHECK(ll_parse_bytes("1X", &b) == -1);
    CHECK(strstr(ll_last_error(), "unknown unit") != NULL);
    CHECK(ll_parse_bytes("1Gx", &b) == -1);
    CHECK(ll_parse_bytes("nan", &b) == -1);
}

TEST(oom_label_per_thread_state) {
    CHECK(strcmp(ll_oom_label_get(), "") == 0);
    ll_oom_label("the weights of %s", "m");
    CHECK(strcmp(ll_oom_label_get(), "the weights of m") == 0);
    ll_oom_label(NULL);
    CHECK(strcmp(ll_oom_label_get(), "") == 0);
}
