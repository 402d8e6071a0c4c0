/* GGUF inputs with quadratic or unbounded costs and misleading messages
 * (issue 24): each is refused with a line that names the problem, or read in
 * linear time and space.  Files are written here byte by byte. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "core/ll_util.h"
#include "io/gguf.h"
#include "model/family.h"

typedef struct {
    unsigned char *b;
    size_t n, cap;
} wbuf;
static void put(wbuf *o, const void *p, size_t n) {
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 64;
        o->b = ll_xrealloc(o->b, o->cap);
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void u32(wbuf *o, uint32_t v) { unsigned char b[4]; for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i)); put(o, b, 4); }
static void u64(wbuf *o, uint64_t v) { unsigned char b[8]; for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i)); put(o, b, 8); }
static void f32(wbuf *o, float f) { uint32_t u; memcpy(&u, &f, 4); u32(o, u); }
static void strn(wbuf *o, const char *s, size_t n) { u64(o, n); put(o, s, n); }
static void str(wbuf *o, const char *s) { strn(o, s, strlen(s)); }
static void header(wbuf *o, uint64_t n_tensors, uint64_t n_kv) {
    put(o, "GGUF", 4);
    u32(o, 3);
    u64(o, n_tensors);
    u64(o, n_kv);
}
static void kv_str(wbuf *o, const char *k, const char *v) { str(o, k); u32(o, LL_GGUF_STRING); str(o, v); }
static void kv_u32(wbuf *o, const char *k, uint32_t v) { str(o, k); u32(o, LL_GGUF_UINT32); u32(o, v); }
static void kv_f32(wbuf *o, const char *k, float v) { str(o, k); u32(o, LL_GGUF_FLOAT32); f32(o, v); }

/* a SentencePiece vocabulary (tokenizer.ggml.model llama): pieces[] with scores -i */
static char *spm_json(char **pieces, size_t *lens, int n) {
    wbuf o = {0};
    header(&o, 0, 5);
    kv_str(&o, "general.architecture", "llama");
    kv_str(&o, "tokenizer.ggml.model", "llama");
    kv_u32(&o, "tokenizer.ggml.bos_token_id", 0);
    str(&o, "tokenizer.ggml.tokens");
    u32(&o, LL_GGUF_ARRAY);
    u32(&o, LL_GGUF_STRING);
    u64(&o, (uint64_t)n);
    for (int i = 0; i < n; i++) strn(&o, pieces[i], lens[i]);
    str(&o, "tokenizer.ggml.scores");
    u32(&o, LL_GGUF_ARRAY);
    u32(&o, LL_GGUF_FLOAT32);
    u64(&o, (uint64_t)n);
    for (int i = 0; i < n; i++) f32(&o, (float)-i);
    ll_gguf g;
    char *json = NULL;
    if (ll_gguf_open_mem(&g, o.b, o.n, "spm.gguf") == 0) {
        json = ll_gguf_tokenizer_json(&g);
        ll_gguf_close(&g);
    }
    free(o.b);
    return json;
}

/* a, aa, ..., a^600 (180 KB): every split of every piece is a merge, so the
 * merges grow as the cube of n (~72 MB of pairs from 180 KB) — refused by
 * the budget (64 MB + 32 bytes per vocabulary byte) before they are built */
TEST(gguf_spm_merges_bounded) {
    enum { N = 600 };
    char *p[N + 1];
    size_t l[N + 1];
    char *a = ll_xmalloc(N + 1);
    memset(a, 'a', N);
    p[0] = "<unk>";
    l[0] = 5;
    for (int i = 1; i <= N; i++) { p[i] = a; l[i] = (size_t)i; }
    char *json = spm_json(p, l, N + 1);
    CHECK_MSG(json == NULL, "a cubic merge list was built");
    CHECK_MSG(strstr(ll_last_error(), "spm.gguf") && strstr(ll_last_error(), "merges"), "%s", ll_last_error());
    free(json);
    /* the same shape small enough is accepted, with every split as a merge:
     * a^k splits into a^i + a^(k-i) for i = 1..k-1 */
    json = spm_json(p, l, 41);
    REQUIRE_MSG(json, "%s", ll_last_error());
    cJSON *j = cJSON_Parse(json);
    const cJSON *mg = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "merges");
    CHECK_INT(cJSON_GetArraySize(mg), 40 * 39 / 2);
    cJSON_Delete(j);
    free(json);
    free(a);
}

/* one 200 KB piece: its 200,000 splits are looked up from prefix hashes
 * (linear); before, each split hashed both halves (quadratic: 25 s) */
TEST(gguf_spm_long_piece) {
    const size_t L = 200000;
    char *big = ll_xmalloc(L);
    memset(big, 'b', L);
    char *p[3] = {"<unk>", "b", big};
    size_t l[3] = {5, 1, L};
    char *json = spm_json(p, l, 3);
    REQUIRE_MSG(json, "%s", ll_last_error());
    cJSON *j = cJSON_Parse(json);
    const cJSON *mg = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "merges");
    CHECK_INT(cJSON_GetArraySize(mg), 0); /* b + b^(L-1): the right half is not a piece */
    cJSON_Delete(j);
    free(json);
    free(big);
}

/* a byte array stays in the file (no 32-byte value per byte); bool bytes
 * other than 0/1 are refused */
TEST(gguf_byte_arrays_compact) {
    const size_t n = 1 << 20;
    wbuf o = {0};
    header(&o, 0, 2);
    kv_str(&o, "general.architecture", "x");
    str(&o, "blob");
    u32(&o, LL_GGUF_ARRAY);
    u32(&o, LL_GGUF_UINT8);
    u64(&o, n);
    unsigned char *bytes = ll_xmalloc(n);
    for (size_t i = 0; i < n; i++) bytes[i] = (unsigned char)(i * 7);
    put(&o, bytes, n);
    ll_gguf g;
    REQUIRE_MSG(ll_gguf_open_mem(&g, o.b, o.n, "blob.gguf") == 0, "%s", ll_last_error());
    const ll_gguf_value *v = ll_gguf_get(&g, "blob");
    REQUIRE(v && v->type == LL_GGUF_ARRAY && v->v.a.n == n);
    CHECK(v->v.a.items == NULL);
    CHECK_INT((int)ll_gguf_array_at(v, 12345).v.u, (unsigned char)(12345 * 7));
    ll_gguf_close(&g);
    free(o.b);
    /* bool array holding 2 */
    wbuf b = {0};
    header(&b, 0, 1);
    str(&b, "flags");
    u32(&b, LL_GGUF_ARRAY);
    u32(&b, LL_GGUF_BOOL);
    u64(&b, 3);
    put(&b, "\x01\x00\x02", 3);
    CHECK(ll_gguf_open_mem(&g, b.b, b.n, "bool.gguf") != 0);
    CHECK_MSG(strstr(ll_last_error(), "bool value 2"), "%s", ll_last_error());
    free(b.b);
    free(bytes);
}

/* a negative linear rope factor is named as such (it was "linear not supported") */
TEST(gguf_rope_factor_message) {
    wbuf o = {0};
    header(&o, 0, 5);
    kv_str(&o, "general.architecture", "llama");
    kv_u32(&o, "llama.embedding_length", 32);
    kv_u32(&o, "llama.block_count", 2);
    kv_str(&o, "llama.rope.scaling.type", "linear");
    kv_f32(&o, "llama.rope.scaling.factor", -2.0f);
    ll_gguf g;
    REQUIRE_MSG(ll_gguf_open_mem(&g, o.b, o.n, "rope.gguf") == 0, "%s", ll_last_error());
    cJSON *c = ll_gguf_hf_config(&g);
    CHECK(c == NULL);
    CHECK_MSG(strstr(ll_last_error(), "rope.scaling.factor") && strstr(ll_last_error(), "-2") &&
                  strstr(ll_last_error(), "must be positive"),
              "%s", ll_last_error());
    cJSON_Delete(c);
    ll_gguf_close(&g);
    free(o.b);
}

/* a llama file whose attn_q is 3-D: its dimensions are named (it was
 * "2 rows do not split into 4 heads") */
TEST(gguf_3d_q_message) {
    wbuf o = {0};
    header(&o, 1, 4);
    kv_str(&o, "general.architecture", "llama");
    kv_u32(&o, "llama.embedding_length", 8);
    kv_u32(&o, "llama.block_count", 1);
    kv_u32(&o, "llama.attention.head_count", 4);
    str(&o, "blk.0.attn_q.weight");
    u32(&o, 3);
    u64(&o, 8);
    u64(&o, 8);
    u64(&o, 2);
    u32(&o, LL_GGML_F32);
    u64(&o, 0);
    while (o.n % 32) put(&o, "", 1);
    float z[128] = {0};
    put(&o, z, sizeof z);
    char path[1024];
    ll_path_join(path, sizeof path, ll_test_tmpdir(), "q3d.gguf");
    REQUIRE(ll_write_file_atomic(path, o.b, o.n) == 0);
    ll_safetensors st;
    cJSON *cfg;
    const ll_family *fam;
    CHECK(ll_family_load_gguf(path, &st, &cfg, &fam) != 0);
    CHECK_MSG(strstr(ll_last_error(), "attn_q.weight") && strstr(ll_last_error(), "3 dimensions"), "%s",
              ll_last_error());
    free(o.b);
}

/* a sparse file declaring ~100 GB of Q8_0 weights: refused as input before
 * anything is allocated (was: out of memory, exit 1); the CLI exits 2 */
TEST(gguf_sparse_huge_refused) {
    const uint64_t ne0 = 32 * 1024, ne1 = 3 * 1024 * 1024; /* 1e11 weights of Q8_0: 106 GB in the file */
    wbuf o = {0};
    header(&o, 1, 3);
    kv_str(&o, "general.architecture", "llama");
    kv_u32(&o, "llama.embedding_length", 32768);
    kv_u32(&o, "llama.block_count", 1);
    str(&o, "token_embd.weight");
    u32(&o, 2);
    u64(&o, ne0);
    u64(&o, ne1);
    u32(&o, LL_GGML_Q8_0);
    u64(&o, 0);
    while (o.n % 32) put(&o, "", 1);
    const uint64_t data = ne0 / 32 * 34 * ne1;
    char path[1024];
    ll_path_join(path, sizeof path, ll_test_tmpdir(), "sparse.gguf");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, o.b, o.n) == (ssize_t)o.n);
    if (ftruncate(fd, (off_t)(o.n + data)) != 0) {
        close(fd);
        REQUIRE_MSG(0, "this file system cannot hold a sparse 106 GB file");
    }
    close(fd);
    ll_safetensors st;
    cJSON *cfg;
    const ll_family *fam;
    CHECK(ll_family_load_gguf(path, &st, &cfg, &fam) != 0);
    CHECK_MSG(strstr(ll_last_error(), "sparse.gguf") && strstr(ll_last_error(), "GB in memory"), "%s",
              ll_last_error());
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s run --model '%s' --tokens tests/fixtures/models/gpt2/tokens.jsonl --out '%s/o' 2>&1",
             ll_bin_path(), path, ll_test_tmpdir());
    int rc = ll_run_cmd(cmd, &out);
    CHECK_MSG(rc == 2, "exit %d: %s", rc, out ? out : "");
    CHECK_MSG(out && strstr(out, "GB in memory"), "%s", out ? out : "");
    free(out);
    unlink(path);
    free(o.b);
}
