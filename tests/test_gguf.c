/* GGUF reader: dequantisation of every supported ggml type against
 * gguf.quants (tests/fixtures/gguf, tools/make_gguf_fixtures.py), metadata of
 * every value type as GGUFWriter wrote it, the llama.cpp q/k permutation
 * undone (GGUF tensors equal the HF safetensors they were converted from),
 * the tokenizer built from GGUF metadata against PyPI tokenizers, and every
 * kind of malformed file refused with one line naming the file. */
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "harness.h"
#include "core/ll_util.h"
#include "io/gguf.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "model/family.h"
#include "tokenizer/tokenizer.h"

#define FX "tests/fixtures/gguf/"

static const char *tmp(const char *name) {
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    return ll_path_join(buf[k], sizeof buf[k], ll_test_tmpdir(), name);
}

/* Every type's dequantised values against gguf.quants.dequantize.  The C code
 * does the reference's float32 operations in the same order, so the values
 * are identical; the check allows |diff| <= FLT_EPSILON·|ref| (one float32
 * rounding) in case a compiler fuses a multiply-add, and reports the
 * largest difference seen. */
TEST(gguf_dequant_all_types) {
    static const char *types[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0",
                                  "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"};
    ll_gguf g;
    REQUIRE_MSG(ll_gguf_open(&g, FX "quants.gguf") == 0, "%s", ll_last_error());
    ll_safetensors st;
    REQUIRE_MSG(ll_gguf_to_store(&g, &st) == 0, "%s", ll_last_error());
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        char p[256];
        snprintf(p, sizeof p, FX "quant_%s.npy", types[k]);
        ll_npy ref;
        REQUIRE_MSG(ll_npy_open(p, &ref) == 0, "%s", ll_last_error());
        const ll_st_tensor *t = ll_st_find(&st, types[k]);
        REQUIRE_MSG(t, "tensor %s missing", types[k]);
        CHECK_INT(t->ndim, 2);
        CHECK_INT(t->shape[0], 4);
        CHECK_INT(t->shape[1], 512);
        REQUIRE(ref.count == 2048 && ref.dtype == LL_DT_F32);
        float *out = ll_xmalloc(sizeof(float) * 2048);
        REQUIRE(ll_st_to_f32(t, 0, 2048, out) == 0);
        const float *r = ref.data;
        double maxd = 0;
        int bad = 0, float_type = k < 3;
        for (int i = 0; i < 2048; i++) {
            double d = fabs((double)out[i] - (double)r[i]);
            if (d > maxd) maxd = d;
            if (float_type ? out[i] != r[i] : d > FLT_EPSILON * fabs(r[i])) bad++;
        }
        CHECK_MSG(bad == 0, "%s: %d of 2048 values differ (max |diff| %.3g)", types[k], bad, maxd);
        free(out);
        ll_npy_close(&ref);
    }
    ll_st_close(&st);
    ll_gguf_close(&g);
}

/* The dequantiser refuses lengths that are not whole blocks and unknown types. */
TEST(gguf_dequant_refuses) {
    unsigned char blk[34] = {0};
    float out[64];
    CHECK(ll_gguf_dequantize(LL_GGML_Q8_0, blk, 31, out) == -1);
    CHECK(ll_gguf_dequantize(16 /* IQ2_XXS */, blk, 256, out) == -1);
    CHECK(ll_gguf_dequantize(LL_GGML_Q8_0, blk, 32, out) == 0);
    CHECK(out[0] == 0.0f);
}

TEST(gguf_metadata_every_type) {
    ll_gguf g;
    REQUIRE_MSG(ll_gguf_open(&g, FX "meta.gguf") == 0, "%s", ll_last_error());
    CHECK_INT(g.version, 3);
    CHECK_INT(g.alignment, 64);
    int64_t i;
    double f;
    char *s;
    CHECK(ll_gguf_get_int(&g, "t.u8", &i) == 0 && i == 200);
    CHECK(ll_gguf_get_int(&g, "t.i8", &i) == 0 && i == -100);
    CHECK(ll_gguf_get_int(&g, "t.u16", &i) == 0 && i == 60000);
    CHECK(ll_gguf_get_int(&g, "t.i16", &i) == 0 && i == -30000);
    CHECK(ll_gguf_get_int(&g, "t.u32", &i) == 0 && i == 4000000000LL);
    CHECK(ll_gguf_get_int(&g, "t.i32", &i) == 0 && i == -2000000000LL);
    CHECK(ll_gguf_get_int(&g, "t.i64", &i) == 0 && i == -(1LL << 62));
    CHECK(ll_gguf_get_int(&g, "t.bool", &i) == 0 && i == 1);
    /* 2^63 + 5 does not fit an int64: refused, but readable as the raw value */
    CHECK(ll_gguf_get_int(&g, "t.u64", &i) == -1);
    CHECK(ll_gguf_get(&g, "t.u64")->v.u == 9223372036854775813ULL);
    CHECK(ll_gguf_get_float(&g, "t.f32", &f) == 0 && f == (double)0.1f);
    CHECK(ll_gguf_get_float(&g, "t.f64", &f) == 0 && f == 3.141592653589793);
    CHECK(ll_gguf_get_str(&g, "t.str", &s) == 0 && !strcmp(s, "h\xc3\xa9llo w\xc3\xb6rld"));
    free(s);
    CHECK(ll_gguf_get_str(&g, "t.u8", &s) == -1);
    CHECK(ll_gguf_get_int(&g, "t.absent", &i) == 1);
    const ll_gguf_value *a = ll_gguf_get(&g, "t.arr_i32");
    REQUIRE(a && a->type == LL_GGUF_ARRAY && a->v.a.type == LL_GGUF_INT32 && a->v.a.n == 3);
    CHECK(a->v.a.items[0].v.i == 1 && a->v.a.items[1].v.i == -2 && a->v.a.items[2].v.i == 3);
    a = ll_gguf_get(&g, "t.arr_str");
    REQUIRE(a && a->v.a.type == LL_GGUF_STRING && a->v.a.n == 3);
    CHECK(a->v.a.items[1].v.s.len == 0 && a->v.a.items[2].v.s.len == 3 && !memcmp(a->v.a.items[2].v.s.p, "ccc", 3));
    a = ll_gguf_get(&g, "t.nested");
    REQUIRE(a && a->v.a.type == LL_GGUF_ARRAY && a->v.a.n == 3);
    CHECK(a->v.a.items[0].v.a.n == 2 && a->v.a.items[1].v.a.n == 1 && a->v.a.items[2].v.a.n == 3);
    CHECK(a->v.a.items[2].v.a.items[2].v.i == 6);
    CHECK(!strcmp(ll_gguf_arch(&g), "metatest"));
    /* tensors: a F32 numpy (2,3,5) = arange(30), b F16 (7,) = arange(7)/4 - 1 */
    ll_safetensors st;
    REQUIRE(ll_gguf_to_store(&g, &st) == 0);
    const ll_st_tensor *t = ll_st_find(&st, "a");
    REQUIRE(t);
    CHECK(t->ndim == 3 && t->shape[0] == 2 && t->shape[1] == 3 && t->shape[2] == 5 && t->dtype == LL_ST_F32);
    CHECK(((uintptr_t)t->data % 64) == 0 || 1); /* mapping base is page aligned; offsets are multiples of 64: */
    CHECK(((const char *)t->data - (const char *)st.maps[0]) % 64 == 0);
    float v[30];
    REQUIRE(ll_st_to_f32(t, 0, 30, v) == 0);
    for (int k = 0; k < 30; k++) CHECK(v[k] == (float)k);
    t = ll_st_find(&st, "b");
    REQUIRE(t && t->dtype == LL_ST_F16 && t->ndim == 1 && t->shape[0] == 7);
    REQUIRE(ll_st_to_f32(t, 0, 7, v) == 0);
    for (int k = 0; k < 7; k++) CHECK(v[k] == (float)k / 4 - 1);
    /* unquantised data is not copied: it lies inside the mapping */
    CHECK((const char *)t->data > (const char *)st.maps[0] && (const char *)t->data < (const char *)st.maps[0] + st.sizes[0]);
    ll_gguf_close(&g);
    ll_st_close(&st);
}

/* GGUF (converter's names, q/k permuted) vs the HF safetensors it came from:
 * after ll_gguf_to_store every tensor equals its HF original exactly. */
static void compare_model(const char *name, int permuted) {
    char p[512];
    snprintf(p, sizeof p, FX "%s.gguf", name);
    ll_gguf g;
    REQUIRE_MSG(ll_gguf_open(&g, p) == 0, "%s", ll_last_error());
    ll_safetensors st, hf;
    cJSON *cfg;
    const ll_family *fam;
    /* the family's fix-ups applied (llama: llama_gguf_fixup) */
    REQUIRE_MSG(ll_family_load_gguf(p, &st, &cfg, &fam) == 0, "%s", ll_last_error());
    cJSON_Delete(cfg);
    snprintf(p, sizeof p, "tests/fixtures/models/%s/model.safetensors", name);
    REQUIRE(ll_st_open_file(&hf, p) == 0);
    static const char *const pairs[][2] = {
        {"attn_q", "self_attn.q_proj"}, {"attn_k", "self_attn.k_proj"}, {"attn_v", "self_attn.v_proj"},
        {"attn_output", "self_attn.o_proj"}, {"ffn_gate", "mlp.gate_proj"}, {"ffn_up", "mlp.up_proj"},
        {"ffn_down", "mlp.down_proj"}, {"attn_norm", "input_layernorm"}, {"ffn_norm", "post_attention_layernorm"}};
    int compared = 0, perm_differs = 0;
    for (int i = 0; i < hf.n_tensors; i++) {
        const ll_st_tensor *h = &hf.tensors[i];
        char gname[256];
        int layer;
        char rest[200];
        if (!strcmp(h->name, "model.embed_tokens.weight")) snprintf(gname, sizeof gname, "token_embd.weight");
        else if (!strcmp(h->name, "model.norm.weight")) snprintf(gname, sizeof gname, "output_norm.weight");
        else if (!strcmp(h->name, "lm_head.weight")) snprintf(gname, sizeof gname, "output.weight");
        else if (sscanf(h->name, "model.layers.%d.%199s", &layer, rest) == 2) {
            gname[0] = 0;
            for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
                size_t n = strlen(pairs[k][1]);
                if (!strncmp(rest, pairs[k][1], n) && rest[n] == '.')
                    snprintf(gname, sizeof gname, "blk.%d.%s%s", layer, pairs[k][0], rest + n);
            }
            REQUIRE_MSG(gname[0], "no GGUF name for %s", h->name);
        } else {
            REQUIRE_MSG(0, "unexpected HF tensor %s", h->name);
        }
        const ll_st_tensor *t = ll_st_find(&st, gname);
        REQUIRE_MSG(t, "%s: %s missing", name, gname);
        REQUIRE_MSG(t->ndim == h->ndim && t->numel == h->numel, "%s: shape", gname);
        for (int d = 0; d < h->ndim; d++) CHECK(t->shape[d] == h->shape[d]);
        CHECK_MSG(t->dtype == LL_ST_F32 && !memcmp(t->data, h->data, h->nbytes), "%s differs from %s", gname, h->name);
        compared++;
        /* the file itself holds the permuted rows (so the undo was needed) */
        if (permuted && (strstr(gname, "attn_q.") || strstr(gname, "attn_k."))) {
            for (int k = 0; k < g.n_tensors; k++)
                if (!strcmp(g.tensors[k].name, gname)) perm_differs += memcmp(g.tensors[k].data, h->data, h->nbytes) != 0;
        }
    }
    CHECK_INT(compared, st.n_tensors);
    if (permuted) CHECK_INT(perm_differs, 6); /* 3 layers × q, k */
    ll_st_close(&hf);
    ll_st_close(&st);
    ll_gguf_close(&g);
}
TEST(gguf_llama_unpermute_equals_hf) { compare_model("llama_gqa", 1); }
TEST(gguf_qwen2_equals_hf) { compare_model("qwen2", 0); }

/* The config made from <arch>.* keys agrees with the HF config.json. */
TEST(gguf_hf_config) {
    ll_safetensors st;
    cJSON *c;
    const ll_family *fam;
    REQUIRE_MSG(ll_family_load_gguf(FX "llama_gqa.gguf", &st, &c, &fam) == 0, "%s", ll_last_error());
    ll_st_close(&st);
    size_t len;
    char *txt = ll_read_file("tests/fixtures/models/llama_gqa/config.json", &len);
    cJSON *hf = cJSON_Parse(txt);
    free(txt);
    static const char *keys[] = {"hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                                 "intermediate_size", "max_position_embeddings", "vocab_size", "rms_norm_eps"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        cJSON *a = cJSON_GetObjectItem(c, keys[k]), *b = cJSON_GetObjectItem(hf, keys[k]);
        REQUIRE_MSG(a && b, "%s", keys[k]);
        /* rms_norm_eps passes through a float32 metadata value: 1e-5 → 1e-5 ± 1 float32 ulp */
        CHECK_REL(a->valuedouble, b->valuedouble, 1e-7);
    }
    CHECK(!strcmp(cJSON_GetObjectItem(c, "model_type")->valuestring, "llama"));
    CHECK_REL(cJSON_GetObjectItem(c, "rope_theta")->valuedouble, 10000.0, 0);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(c, "tie_word_embeddings"))); /* output.weight present */
    cJSON_Delete(c);
    cJSON_Delete(hf);
    
}

/* Encodes every text of a fixture JSON {texts, ids} with the tokenizer of a GGUF file. */
static void check_gguf_tokenizer(const char *gguf_path, const char *json_path) {
    ll_tokenizer *tk = ll_tokenizer_load(gguf_path);
    REQUIRE_MSG(tk, "%s", ll_last_error());
    size_t len;
    char *txt = ll_read_file(json_path, &len);
    cJSON *exp = cJSON_Parse(txt);
    free(txt);
    cJSON *texts = cJSON_GetObjectItem(exp, "texts"), *ids = cJSON_GetObjectItem(exp, "ids");
    REQUIRE(cJSON_GetArraySize(texts) >= 8);
    for (int k = 0; k < cJSON_GetArraySize(texts); k++) {
        const char *s = cJSON_GetArrayItem(texts, k)->valuestring;
        cJSON *e = cJSON_GetArrayItem(ids, k);
        int32_t *out;
        int n;
        REQUIRE(ll_tokenizer_encode(tk, s, strlen(s), 1, 0, &out, &n) == 0);
        int same = n == cJSON_GetArraySize(e), first = -1;
        for (int i = 0; i < n && i < cJSON_GetArraySize(e); i++)
            if (out[i] != (int32_t)cJSON_GetArrayItem(e, i)->valuedouble) { same = 0; if (first < 0) first = i; }
        CHECK_MSG(same, "%s text %d: %d ids, expected %d (first difference at %d)", gguf_path, k, n,
                  cJSON_GetArraySize(e), first);
        free(out);
    }
    cJSON_Delete(exp);
    ll_tokenizer_free(tk);
}

/* SentencePiece BPE from GGUF metadata (pieces and scores, no merges: the
 * merges are rebuilt from the scores) against Mistral-7B's own HF
 * tokenizer.json in PyPI tokenizers: the same ids (BOS added, byte fallback,
 * '▁' prefix). */
TEST(gguf_tokenizer_spm_mistral) { check_gguf_tokenizer(FX "tok_mistral.gguf", FX "tok_mistral.json"); }

/* Tokenizer from GGUF metadata (SmolLM2's pre 'smollm', a sub-vocabulary)
 * against PyPI tokenizers with the original SmolLM pipeline (Digits
 * individual + ByteLevel): the same ids on every text. */
TEST(gguf_tokenizer_smollm_subvocab) {
    ll_gguf g;
    REQUIRE(ll_gguf_open(&g, FX "tok_smollm.gguf") == 0);
    char *json = ll_gguf_tokenizer_json(&g);
    REQUIRE_MSG(json, "%s", ll_last_error());
    ll_tokenizer *tk = ll_tokenizer_load_json(json, strlen(json), FX "tok_smollm.gguf");
    free(json);
    REQUIRE_MSG(tk, "%s", ll_last_error());
    size_t len;
    char *txt = ll_read_file(FX "tok_smollm.json", &len);
    cJSON *exp = cJSON_Parse(txt);
    free(txt);
    cJSON *texts = cJSON_GetObjectItem(exp, "texts"), *ids = cJSON_GetObjectItem(exp, "ids");
    REQUIRE(cJSON_GetArraySize(texts) >= 8);
    for (int k = 0; k < cJSON_GetArraySize(texts); k++) {
        const char *s = cJSON_GetArrayItem(texts, k)->valuestring;
        cJSON *e = cJSON_GetArrayItem(ids, k);
        int32_t *out;
        int n;
        REQUIRE(ll_tokenizer_encode(tk, s, strlen(s), 1, 0, &out, &n) == 0);
        int same = n == cJSON_GetArraySize(e);
        for (int i = 0; same && i < n; i++) same = out[i] == (int32_t)cJSON_GetArrayItem(e, i)->valuedouble;
        CHECK_MSG(same, "text %d: %d ids, expected %d", k, n, cJSON_GetArraySize(e));
        free(out);
    }
    /* digits are split one by one (the smollm pre-tokenizer) */
    int32_t *out;
    int n;
    REQUIRE(ll_tokenizer_encode(tk, "12345", 5, 1, 0, &out, &n) == 0);
    CHECK_INT(n, 5);
    free(out);
    cJSON_Delete(exp);
    ll_tokenizer_free(tk);
    ll_gguf_close(&g);
}

/* ---- malformed files ---- */

typedef struct {
    unsigned char *b;
    size_t n, cap;
} gbuf;
static void put(gbuf *o, const void *p, size_t n) {
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 64;
        o->b = ll_xrealloc(o->b, o->cap);
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void u32(gbuf *o, uint32_t v) { unsigned char b[4]; for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i)); put(o, b, 4); }
static void u64(gbuf *o, uint64_t v) { unsigned char b[8]; for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i)); put(o, b, 8); }
static void str(gbuf *o, const char *s) { u64(o, strlen(s)); put(o, s, strlen(s)); }

typedef struct {
    const char *magic;
    uint32_t version;
    int64_t n_kv, n_tensors;  /* -1: the real counts */
    uint32_t vtype;           /* type of the architecture value (8 = string) */
    uint32_t align;           /* 0: no general.alignment */
    uint32_t ttype;           /* ggml type of the tensors */
    uint32_t ndims;
    uint64_t ne0, ne1;
    uint64_t off0, off1;      /* data offsets of the two tensors */
    size_t cut;               /* > 0: truncate the file to this many bytes */
} spec;

static spec good(void) {
    spec s = {"GGUF", 3, -1, -1, LL_GGUF_STRING, 0, LL_GGML_F32, 2, 4, 2, 0, 32, 0};
    return s;
}
/* two tensors "x", "y" of ne [ne0, ne1], one metadata string (+ alignment) */
static void build(const spec *s, const char *path) {
    gbuf o = {0};
    put(&o, s->magic, 4);
    u32(&o, s->version);
    u64(&o, s->n_tensors >= 0 ? (uint64_t)s->n_tensors : 2);
    u64(&o, s->n_kv >= 0 ? (uint64_t)s->n_kv : (s->align ? 2 : 1));
    str(&o, "general.architecture");
    u32(&o, s->vtype);
    str(&o, "testarch");
    if (s->align) { str(&o, "general.alignment"); u32(&o, LL_GGUF_UINT32); u32(&o, s->align); }
    const char *names[2] = {"x", "y"};
    uint64_t offs[2] = {s->off0, s->off1};
    for (int t = 0; t < 2; t++) {
        str(&o, names[t]);
        u32(&o, s->ndims);
        for (uint32_t d = 0; d < s->ndims && d < 8; d++) u64(&o, d == 0 ? s->ne0 : s->ne1);
        u32(&o, s->ttype);
        u64(&o, offs[t]);
    }
    uint32_t al = s->align ? s->align : 32;
    while (o.n % al) put(&o, "", 1);
    for (int k = 0; k < 64; k++) { float f = (float)k; put(&o, &f, 4); }
    FILE *f = fopen(path, "wb");
    fwrite(o.b, 1, s->cut ? LL_MIN(s->cut, o.n) : o.n, f);
    fclose(f);
    free(o.b);
}

/* opens (and stores) a file: 0 ok, -1 error whose message names the file and is one line */
static int try_open(const char *path, char *err, size_t cap) {
    ll_gguf g;
    int rc = ll_gguf_open(&g, path);
    if (rc == 0) {
        ll_safetensors st;
        rc = ll_gguf_to_store(&g, &st);
        if (rc == 0) ll_st_close(&st);
        ll_gguf_close(&g);
    }
    if (rc) snprintf(err, cap, "%s", ll_last_error());
    return rc;
}

TEST(gguf_bad_files) {
    struct { const char *what, *expect; spec s; } cases[16];
    int n = 0;
#define CASE(w, e, ...) do { cases[n].what = w; cases[n].expect = e; cases[n].s = good(); { spec *s = &cases[n].s; __VA_ARGS__; } n++; } while (0)
    CASE("good", NULL, (void)s);
    CASE("bad magic", "bad magic", s->magic = "GGML");
    CASE("version 1", "version 1", s->version = 1);
    CASE("unknown version", "unknown GGUF version", s->version = 0x03000000);
    CASE("kv count past the end", "cannot fit", s->n_kv = 1LL << 40);
    CASE("tensor count past the end", "cannot fit", s->n_tensors = 1LL << 40);
    CASE("unknown value type", "unknown value type", s->vtype = 99);
    CASE("unknown ggml type", "unsupported ggml type 99", s->ttype = 99);
    CASE("unsupported ggml type", "IQ4_NL", s->ttype = 20);
    CASE("misaligned data", "not a multiple of the alignment", s->off1 = 36);
    CASE("overlapping data", "overlap", s->align = 16; s->off1 = 16);
    CASE("overflowing dimensions", "overflowing", s->ne0 = 1ULL << 40; s->ne1 = 1ULL << 40);
    CASE("zero dimension", "zero", s->ne1 = 0);
    CASE("too many dimensions", "dimensions", s->ndims = 5);
    CASE("data past the end", "past the end", s->off1 = 1 << 20);
    CASE("bad alignment", "power-of-two", s->align = 48);
#undef CASE
    for (int k = 0; k < n; k++) {
        const char *p = tmp("bad.gguf");
        build(&cases[k].s, p);
        char err[1024] = "";
        int rc = try_open(p, err, sizeof err);
        if (!cases[k].expect) {
            CHECK_MSG(rc == 0, "%s: %s", cases[k].what, err);
            continue;
        }
        CHECK_MSG(rc == -1, "%s: accepted", cases[k].what);
        CHECK_MSG(strstr(err, p) == err, "%s: error does not start with the file name: %s", cases[k].what, err);
        CHECK_MSG(strstr(err, cases[k].expect) != NULL, "%s: unexpected error: %s", cases[k].what, err);
        CHECK_MSG(strchr(err, '\n') == NULL, "%s: error is not one line", cases[k].what);
    }
}

/* Every truncation of real files is refused cleanly (no crash, one line). */
TEST(gguf_truncated_everywhere) {
    static const char *files[] = {FX "meta.gguf", FX "tok_smollm.gguf"};
    for (int f = 0; f < 2; f++) {
        size_t len;
        char *all = ll_read_file(files[f], &len);
        REQUIRE(all);
        /* bytes a reader needs: up to the end of the last tensor's data (or of the
         * metadata when there are no tensors); only padding follows */
        ll_gguf g;
        REQUIRE(ll_gguf_open(&g, files[f]) == 0);
        size_t need = g.info_end;
        for (int i = 0; i < g.n_tensors; i++)
            need = LL_MAX(need, g.data_start + (size_t)(g.tensors[i].offset + g.tensors[i].nbytes));
        ll_gguf_close(&g);
        CHECK(need + 64 > len);
        const char *p = tmp("cut.gguf");
        size_t step = len > 4096 ? len / 127 : 1;
        int accepted = 0;
        for (size_t cut = 0; cut < len; cut += step) {
            FILE *o = fopen(p, "wb");
            fwrite(all, 1, cut, o);
            fclose(o);
            char err[1024];
            if (try_open(p, err, sizeof err) == 0 && cut < need) {
                accepted++;
                CHECK_MSG(0, "%s cut to %zu of %zu bytes: accepted", files[f], cut, len);
            }
            else CHECK_MSG(strstr(err, p) == err && !strchr(err, '\n'), "cut %zu: %s", cut, err);
        }
        CHECK_INT(accepted, 0);
        free(all);
    }
}

/* ---- the forward pass on a GGUF file ---- */
#include "capture/capture.h"
#include "io/tokens.h"
#include "model/model.h"
#include "ops/ops.h"

typedef struct {
    ll_capture base;
    float *out; /* [E][B*T*C] */
    size_t per;
} all_cap;
static int all_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T,
                        int C) {
    (void)tokens;
    all_cap *c = (all_cap *)self;
    for (int b = 0; b < B; b++) /* real positions only: padding rows are unspecified */
        memcpy(c->out + e * c->per + (size_t)b * T * C, h + (size_t)b * T * C, sizeof(float) * (size_t)lens[b] * C);
    return 0;
}
/* Runs every sequence of the fixture's tokens.jsonl as one right-padded batch. */
static float *forward_all(ll_model *m, const ll_tokens *tk, int *T_out, size_t *n_out) {
    int B = (int)tk->n_seq, T = 1;
    for (int b = 0; b < B; b++) T = LL_MAX(T, (int)(tk->off[b + 1] - tk->off[b]));
    int32_t *toks = ll_xcalloc((size_t)B * T, sizeof(int32_t));
    int *lens = ll_xmalloc(sizeof(int) * B);
    for (int b = 0; b < B; b++) {
        lens[b] = (int)(tk->off[b + 1] - tk->off[b]);
        for (int t = 0; t < lens[b]; t++) toks[b * T + t] = tk->ids[tk->off[b] + t];
    }
    const int E = ll_model_n_entries(m), C = ll_model_dim(m);
    all_cap cc = {.base = {.on_entry = all_on_entry}, .per = (size_t)B * T * C};
    cc.out = ll_xcalloc(cc.per * E, sizeof(float));
    void *ctx = ll_cpu_ctx_new(1);
    int rc = ll_model_forward(m, ll_cpu_ops(), ctx, toks, lens, B, T, &cc.base);
    ll_cpu_ctx_free(ctx);
    free(toks);
    free(lens);
    if (rc) { free(cc.out); return NULL; }
    *T_out = T;
    *n_out = cc.per * E;
    return cc.out;
}

/* layerlaw's forward on the GGUF (converter names, q/k permuted for llama)
 * equals the forward on the HF safetensors bit for bit (the weights are the
 * same float32 values; test_forward checks the safetensors path against HF
 * transformers' hidden states). */
static void gguf_forward_equals(const char *name) {
    char dir[256], gp[256], tp[300];
    snprintf(dir, sizeof dir, "tests/fixtures/models/%s", name);
    snprintf(gp, sizeof gp, FX "%s.gguf", name);
    snprintf(tp, sizeof tp, "%s/tokens.jsonl", dir);
    ll_model *a = ll_model_load(dir), *b = ll_model_load(gp);
    REQUIRE_MSG(a && b, "%s", ll_last_error());
    CHECK_INT(ll_model_n_entries(a), ll_model_n_entries(b));
    CHECK_INT(b->cfg.n_kv_head, a->cfg.n_kv_head);
    CHECK_INT(b->cfg.tie_embeddings, a->cfg.tie_embeddings);
    ll_tokens tk;
    REQUIRE(ll_tokens_read(tp, 0, &tk) == 0);
    int Ta, Tb;
    size_t na, nb;
    float *ha = forward_all(a, &tk, &Ta, &na), *hb = forward_all(b, &tk, &Tb, &nb);
    REQUIRE_MSG(ha && hb, "%s", ll_last_error());
    REQUIRE(na == nb);
    size_t diff = 0;
    for (size_t i = 0; i < na; i++) diff += memcmp(&ha[i], &hb[i], 4) != 0;
    CHECK_MSG(diff == 0, "%s: %zu of %zu hidden-state values differ between GGUF and safetensors", name, diff, na);
    free(ha);
    free(hb);
    ll_tokens_free(&tk);
    ll_model_free(a);
    ll_model_free(b);
}
TEST(gguf_forward_llama_equals_safetensors) { gguf_forward_equals("llama_gqa"); }
TEST(gguf_forward_qwen2_equals_safetensors) { gguf_forward_equals("qwen2"); }

/* The CLI refuses a bad GGUF model with one line naming it and exit 2. */
TEST(gguf_cli_bad_file_exit2) {
    spec s = good();
    s.ttype = 99;
    const char *p = tmp("bad.gguf");
    build(&s, p);
    const char *txt = tmp("t.txt");
    FILE *f = fopen(txt, "w");
    fputs("hello\n", f);
    fclose(f);
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s run --model %s --data %s --out %s/o 2>&1", ll_bin_path(), p, txt, ll_test_tmpdir());
    int rc = ll_run_cmd(cmd, &out);
    CHECK_MSG(rc == 2, "exit %d: %s", rc, out ? out : "");
    CHECK_MSG(out && strstr(out, p) && strstr(out, "unsupported ggml type"), "%s", out ? out : "");
    free(out);
}
/* GPT-2: the converter stores the Conv1D weights transposed and adds
 * output.weight (a copy of token_embd); loading undoes the transposition. */
TEST(gguf_forward_gpt2_equals_safetensors) { gguf_forward_equals("gpt2"); }
