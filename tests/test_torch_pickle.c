/* Safe torch.save (zip + pickle) reader: fixture equality with safetensors,
 * hand-made archives (strides, dtypes, BUILD), malicious pickles (rejected,
 * nothing executed), truncated and garbled files. */
#include "harness.h"
#include "core/ll_util.h"
#include "model/model.h"
#include "io/safetensors.h"
#include "io/torch_pickle.h"
#include "model/weights.h"
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define FIX "tests/fixtures/models/"

/* ---- a minimal zip writer (stored entries) ---- */
typedef struct { const char *name; const void *data; size_t n; } zin;

static void w16(FILE *f, unsigned v) { fputc(v & 255, f); fputc(v >> 8 & 255, f); }
static void w32(FILE *f, uint32_t v) { w16(f, v & 0xffff); w16(f, v >> 16); }

static int write_zip(const char *path, const zin *e, int n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint32_t off[256], crc[256];
    for (int i = 0; i < n; i++) {
        off[i] = (uint32_t)ftell(f);
        crc[i] = (uint32_t)crc32(0L, e[i].data, (uInt)e[i].n);
        w32(f, 0x04034b50); w16(f, 20); w16(f, 0); w16(f, 0); w16(f, 0); w16(f, 0);
        w32(f, crc[i]); w32(f, (uint32_t)e[i].n); w32(f, (uint32_t)e[i].n);
        w16(f, (unsigned)strlen(e[i].name)); w16(f, 0);
        fwrite(e[i].name, 1, strlen(e[i].name), f);
        fwrite(e[i].data, 1, e[i].n, f);
    }
    uint32_t cd = (uint32_t)ftell(f);
    for (int i = 0; i < n; i++) {
        w32(f, 0x02014b50); w16(f, 20); w16(f, 20); w16(f, 0); w16(f, 0); w16(f, 0); w16(f, 0);
        w32(f, crc[i]); w32(f, (uint32_t)e[i].n); w32(f, (uint32_t)e[i].n);
        w16(f, (unsigned)strlen(e[i].name)); w16(f, 0); w16(f, 0); w16(f, 0); w16(f, 0); w32(f, 0);
        w32(f, off[i]);
        fwrite(e[i].name, 1, strlen(e[i].name), f);
    }
    uint32_t cdn = (uint32_t)ftell(f) - cd;
    w32(f, 0x06054b50); w16(f, 0); w16(f, 0); w16(f, (unsigned)n); w16(f, (unsigned)n);
    w32(f, cdn); w32(f, cd); w16(f, 0);
    return fclose(f);
}

/* pickle building helpers */
typedef struct { unsigned char b[4096]; size_t n; } pk;
static void pb(pk *p, const void *d, size_t n) { memcpy(p->b + p->n, d, n); p->n += n; }
static void pc(pk *p, int c) { p->b[p->n++] = (unsigned char)c; }
static void pstr(pk *p, const char *s) { pc(p, 'X'); uint32_t n = (uint32_t)strlen(s); pb(p, &n, 4); pb(p, s, n); }
static void pglobal(pk *p, const char *mod, const char *name) { pc(p, 'c'); pb(p, mod, strlen(mod)); pc(p, '\n'); pb(p, name, strlen(name)); pc(p, '\n'); }
static void pint(pk *p, int v) { pc(p, 'J'); int32_t x = v; pb(p, &x, 4); }
/* tensor = _rebuild_tensor_v2(('storage', torch.<stype>, key, 'cpu', numel), off, size, stride, False, OrderedDict()) */
static void ptensor(pk *p, const char *stype, const char *key, int numel, int off, int nd, const int *size, const int *stride) {
    pglobal(p, "torch._utils", "_rebuild_tensor_v2");
    pc(p, '(');
    pc(p, '('); pstr(p, "storage"); pglobal(p, "torch", stype); pstr(p, key); pstr(p, "cpu"); pint(p, numel); pc(p, 't');
    pc(p, 'Q');
    pint(p, off);
    pc(p, '('); for (int i = 0; i < nd; i++) pint(p, size[i]); pc(p, 't');
    pc(p, '('); for (int i = 0; i < nd; i++) pint(p, stride[i]); pc(p, 't');
    pc(p, 0x89);
    pglobal(p, "collections", "OrderedDict"); pc(p, ')'); pc(p, 'R');
    pc(p, 't');
    pc(p, 'R');
}

static const char *tmp(const char *name) {
    static char buf[4][700];
    static int k;
    k = (k + 1) % 4;
    return ll_path_join(buf[k], sizeof buf[k], ll_test_tmpdir(), name);
}

TEST(torch_pickle_fixture_equals_safetensors) {
    ll_torch_file *f = ll_torch_open(FIX "rwkv_bin/pytorch_model.bin");
    REQUIRE_MSG(f, "%s", ll_last_error());
    ll_safetensors st;
    memset(&st, 0, sizeof st);
    REQUIRE_MSG(ll_st_open_file(&st, FIX "rwkv/model.safetensors") == 0, "%s", ll_last_error());
    CHECK_INT(ll_torch_count(f), st.n_tensors);
    CHECK(ll_torch_count(f) > 50);
    for (size_t i = 0; i < ll_torch_count(f); i++) {
        const ll_torch_tensor *t = ll_torch_at(f, i);
        const ll_st_tensor *s = ll_st_find(&st, t->name);
        REQUIRE_MSG(s, "tensor %s missing from safetensors", t->name);
        CHECK_INT(t->ndim, s->ndim);
        for (int d = 0; d < t->ndim && d < s->ndim; d++) CHECK_INT(t->shape[d], s->shape[d]);
        REQUIRE(t->numel == s->numel);
        float *a = malloc((size_t)t->numel * 4 + 4), *b = malloc((size_t)s->numel * 4 + 4);
        ll_torch_to_f32(t, a);
        REQUIRE(ll_st_to_f32(s, 0, s->numel, b) == 0);
        CHECK_MSG(memcmp(a, b, (size_t)t->numel * 4) == 0, "tensor %s differs", t->name);
        free(a);
        free(b);
    }
    CHECK(ll_torch_find(f, "rwkv.embeddings.weight") != NULL);
    CHECK(ll_torch_find(f, "nope") == NULL);
    ll_st_close(&st);
    ll_torch_close(f);
}

/* A hand-made archive: a transposed (non-contiguous) F32 view with an offset,
 * an F16 vector, a parameter wrapper, and OrderedDict state (BUILD). */
TEST(torch_pickle_handmade_strides_dtypes) {
    float s0[10];
    for (int i = 0; i < 10; i++) s0[i] = (float)i * 0.5f;
    uint16_t s1[3] = {ll_f32_to_f16(1.5f), ll_f32_to_f16(-2.f), ll_f32_to_f16(0.25f)};
    pk p = {.n = 0};
    pc(&p, 0x80); pc(&p, 2);
    pglobal(&p, "collections", "OrderedDict"); pc(&p, ')'); pc(&p, 'R');
    pc(&p, '(');
    pstr(&p, "w_t");
    int sz[2] = {3, 2}, str[2] = {1, 3}; /* view of a [2,3] at offset 1, transposed */
    ptensor(&p, "FloatStorage", "0", 10, 1, 2, sz, str);
    pstr(&p, "h");
    int sz1[1] = {3}, st1[1] = {1};
    pglobal(&p, "torch._utils", "_rebuild_parameter");
    pc(&p, '(');
    ptensor(&p, "HalfStorage", "1", 3, 0, 1, sz1, st1);
    pc(&p, 0x88);
    pglobal(&p, "collections", "OrderedDict"); pc(&p, ')'); pc(&p, 'R');
    pc(&p, 't'); pc(&p, 'R');
    pc(&p, 'u');
    pc(&p, '}'); pstr(&p, "_metadata"); pc(&p, '}'); pc(&p, 's');
    pc(&p, 'b');
    pc(&p, '.');
    zin e[3] = {{"m/data.pkl", p.b, p.n}, {"m/data/0", s0, sizeof s0}, {"m/data/1", s1, sizeof s1}};
    const char *path = tmp("hand.bin");
    REQUIRE(write_zip(path, e, 3) == 0);
    ll_torch_file *f = ll_torch_open(path);
    REQUIRE_MSG(f, "%s", ll_last_error());
    CHECK_INT(ll_torch_count(f), 2);
    const ll_torch_tensor *t = ll_torch_find(f, "w_t");
    REQUIRE(t);
    CHECK_INT(t->contiguous, 0);
    float out[6];
    ll_torch_to_f32(t, out);
    /* base [2,3] = s0[1..6] = {0.5,1,1.5 ; 2,2.5,3}; transposed [3,2] */
    float want[6] = {0.5f, 2.f, 1.f, 2.5f, 1.5f, 3.f};
    for (int i = 0; i < 6; i++) CHECK(out[i] == want[i]);
    t = ll_torch_find(f, "h");
    REQUIRE(t);
    CHECK(t->dtype == LL_TT_F16);
    ll_torch_to_f32(t, out);
    CHECK(out[0] == 1.5f && out[1] == -2.f && out[2] == 0.25f);
    ll_torch_close(f);

    /* the same tensor but reaching past its storage */
    pk q = {.n = 0};
    pc(&q, 0x80); pc(&q, 2); pc(&q, '}'); pstr(&q, "w");
    int sz2[2] = {3, 4}, st2[2] = {4, 1};
    ptensor(&q, "FloatStorage", "0", 10, 0, 2, sz2, st2);
    pc(&q, 's'); pc(&q, '.');
    zin e2[2] = {{"m/data.pkl", q.b, q.n}, {"m/data/0", s0, sizeof s0}};
    REQUIRE(write_zip(path, e2, 2) == 0);
    f = ll_torch_open(path);
    CHECK(f == NULL);
    CHECK_MSG(strstr(ll_last_error(), "storage") != NULL, "error: %s", ll_last_error());
    ll_torch_close(f);
}

/* Each pickle tries to run `touch <tmp>/pwned`; the reader must refuse with a
 * one-line error naming the file, and the file must not appear. */
TEST(torch_pickle_rejects_code) {
    char cmd[800];
    snprintf(cmd, sizeof cmd, "touch %s", tmp("pwned"));
    float s0[4] = {0};
    for (int variant = 0; variant < 6; variant++) {
        pk p = {.n = 0};
        pc(&p, 0x80); pc(&p, 2);
        switch (variant) {
        case 0: /* GLOBAL os.system + REDUCE */
            pglobal(&p, "os", "system"); pc(&p, '('); pstr(&p, cmd); pc(&p, 't'); pc(&p, 'R'); break;
        case 1: /* STACK_GLOBAL builtins.eval */
            pstr(&p, "builtins"); pstr(&p, "eval"); pc(&p, 0x93); pc(&p, '(');
            pstr(&p, "__import__('os').system('true')"); pc(&p, 't'); pc(&p, 'R'); break;
        case 2: /* INST opcode */
            pc(&p, '('); pstr(&p, cmd); pc(&p, 'i'); pb(&p, "os\nsystem\n", 10); break;
        case 3: /* a torch global that is not a tensor rebuild */
            pglobal(&p, "torch", "load"); pc(&p, '('); pstr(&p, "x"); pc(&p, 't'); pc(&p, 'R'); break;
        case 4: /* storage type called directly */
            pglobal(&p, "torch", "FloatStorage"); pc(&p, ')'); pc(&p, 'R'); break;
        case 5: /* BUILD on a tensor (would call __setstate__) */
            pc(&p, '}'); pstr(&p, "w");
            { int sz[1] = {4}, st[1] = {1}; ptensor(&p, "FloatStorage", "0", 4, 0, 1, sz, st); }
            pc(&p, '}'); pc(&p, 'b'); pc(&p, 's'); break;
        }
        pc(&p, '.');
        zin e[2] = {{"m/data.pkl", p.b, p.n}, {"m/data/0", s0, sizeof s0}};
        const char *path = tmp("evil.bin");
        REQUIRE(write_zip(path, e, 2) == 0);
        ll_torch_file *f = ll_torch_open(path);
        CHECK_MSG(f == NULL, "variant %d accepted", variant);
        ll_torch_close(f);
        const char *err = ll_last_error();
        CHECK_MSG(strstr(err, path) != NULL && strchr(err, '\n') == NULL, "variant %d: %s", variant, err);
        CHECK_MSG(strstr(err, "refusing") != NULL || strstr(err, "not supported") != NULL, "variant %d: %s", variant, err);
        if (variant == 0) CHECK_MSG(strstr(err, "os.system") != NULL, "%s", err);
        CHECK(!ll_path_exists(tmp("pwned")));
    }
}

/* Every file in the bad_pickle fixture folder is rejected. */
TEST(torch_pickle_bad_fixtures) {
    DIR *d = opendir(FIX "bad_pickle");
    REQUIRE_MSG(d, "missing fixture folder " FIX "bad_pickle");
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 4 || (strcmp(de->d_name + l - 4, ".bin") && strcmp(de->d_name + l - 3, ".pt"))) continue;
        char p[600];
        snprintf(p, sizeof p, FIX "bad_pickle/%s", de->d_name);
        ll_torch_file *f = ll_torch_open(p);
        CHECK_MSG(f == NULL, "%s accepted", p);
        ll_torch_close(f);
        CHECK_MSG(strstr(ll_last_error(), p) != NULL, "%s: error '%s'", p, ll_last_error());
        n++;
    }
    closedir(d);
    CHECK_MSG(n > 0, "no .bin files in " FIX "bad_pickle");
}

TEST(torch_pickle_truncated_and_garbled) {
    size_t n = 0;
    char *buf = ll_read_file(FIX "rwkv_bin/pytorch_model.bin", &n);
    REQUIRE_MSG(buf, "%s", ll_last_error());
    const char *path = tmp("cut.bin");
    size_t cuts[] = {0, 10, 100, n / 3, n / 2, n - 200, n - 23, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        REQUIRE(ll_write_file_atomic(path, buf, cuts[i]) == 0);
        ll_torch_file *f = ll_torch_open(path);
        CHECK_MSG(f == NULL, "file cut at %zu of %zu accepted", cuts[i], n);
        ll_torch_close(f);
        CHECK_MSG(strstr(ll_last_error(), path) != NULL, "%s", ll_last_error());
    }
    /* flip one byte: in the pickle (~offset 100) and inside the data of the
     * embedding storage (found by its first 16 bytes) */
    ll_torch_file *o = ll_torch_open(FIX "rwkv_bin/pytorch_model.bin");
    REQUIRE(o);
    const ll_torch_tensor *emb = ll_torch_find(o, "rwkv.embeddings.weight");
    REQUIRE(emb && emb->numel > 64);
    const char *hit = memmem(buf, n, emb->data, 16);
    REQUIRE(hit != NULL);
    size_t flips[] = {100, (size_t)(hit - buf) + 40};
    ll_torch_close(o);
    for (size_t i = 0; i < 2; i++) {
        char *g = malloc(n);
        memcpy(g, buf, n);
        g[flips[i]] ^= 0x5a;
        REQUIRE(ll_write_file_atomic(path, g, n) == 0);
        ll_torch_file *f = ll_torch_open(path);
        CHECK_MSG(f == NULL, "garbled byte at %zu accepted", flips[i]);
        ll_torch_close(f);
        free(g);
    }
    /* not a zip at all; a legacy torch file (pickle magic first) */
    REQUIRE(ll_write_file_atomic(path, "\x80\x02\x8a\x0alegacy....................", 28) == 0);
    CHECK(ll_torch_open(path) == NULL);
    CHECK_MSG(strstr(ll_last_error(), "legacy") != NULL, "%s", ll_last_error());
    free(buf);
}

/* The model loader reads pytorch_model.bin through the safe reader; the
 * malicious fixture is refused by ll_model_load without running anything. */
TEST(torch_pickle_model_loader) {
    unlink("/tmp/layerlaw_bad_pickle_EXECUTED");
    ll_model *m = ll_model_load(FIX "bad_pickle");
    CHECK(m == NULL);
    ll_model_free(m);
    CHECK_MSG(strstr(ll_last_error(), "pytorch_model.bin") && strstr(ll_last_error(), "os.system"), "%s", ll_last_error());
    CHECK(!ll_path_exists("/tmp/layerlaw_bad_pickle_EXECUTED"));
    m = ll_model_load(FIX "rwkv_bin");
    REQUIRE_MSG(m, "%s", ll_last_error());
    CHECK(m->family == ll_family_find("rwkv"));
    ll_model_free(m);
}

/* Sharded pytorch_model-*.bin + index, with a non-contiguous tensor: the
 * safetensors view holds row-major copies. */
TEST(torch_pickle_sharded_as_safetensors) {
    float s0[10];
    for (int i = 0; i < 10; i++) s0[i] = (float)i;
    char p1[700], p2[700], ip[700];
    snprintf(p1, sizeof p1, "%s", tmp("pytorch_model-00001-of-00002.bin"));
    snprintf(p2, sizeof p2, "%s", tmp("pytorch_model-00002-of-00002.bin"));
    snprintf(ip, sizeof ip, "%s", tmp("pytorch_model.bin.index.json"));
    pk a = {.n = 0};
    pc(&a, 0x80); pc(&a, 2); pc(&a, '}'); pstr(&a, "a.t");
    int sz[2] = {3, 2}, st[2] = {1, 3};
    ptensor(&a, "FloatStorage", "0", 10, 1, 2, sz, st);
    pc(&a, 's'); pc(&a, '.');
    zin e1[2] = {{"x/data.pkl", a.b, a.n}, {"x/data/0", s0, sizeof s0}};
    REQUIRE(write_zip(p1, e1, 2) == 0);
    pk b = {.n = 0};
    pc(&b, 0x80); pc(&b, 2); pc(&b, '}'); pstr(&b, "b.v");
    int sz1[1] = {4}, st1[1] = {1};
    ptensor(&b, "FloatStorage", "0", 10, 6, 1, sz1, st1);
    pc(&b, 's'); pc(&b, '.');
    zin e2[2] = {{"y/data.pkl", b.b, b.n}, {"y/data/0", s0, sizeof s0}};
    REQUIRE(write_zip(p2, e2, 2) == 0);
    const char *idx = "{\"weight_map\": {\"a.t\": \"pytorch_model-00001-of-00002.bin\", \"b.v\": \"pytorch_model-00002-of-00002.bin\"}}";
    REQUIRE(ll_write_file_atomic(ip, idx, strlen(idx)) == 0);
    ll_safetensors S;
    REQUIRE_MSG(ll_model_open_weights(&S, ll_test_tmpdir()) == 0, "%s", ll_last_error());
    CHECK_INT(S.n_tensors, 2);
    const ll_st_tensor *t = ll_st_find(&S, "a.t");
    REQUIRE(t && t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 2);
    float out[6];
    REQUIRE(ll_st_to_f32(t, 0, 6, out) == 0);
    float want[6] = {1, 4, 2, 5, 3, 6};
    for (int i = 0; i < 6; i++) CHECK(out[i] == want[i]);
    t = ll_st_find(&S, "b.v");
    REQUIRE(t && t->numel == 4);
    REQUIRE(ll_st_to_f32(t, 0, 4, out) == 0);
    CHECK(out[0] == 6 && out[3] == 9);
    ll_st_close(&S);
    /* a weight_map entry missing from its shard */
    const char *bad = "{\"weight_map\": {\"a.t\": \"pytorch_model-00001-of-00002.bin\", \"zz\": \"pytorch_model-00002-of-00002.bin\"}}";
    REQUIRE(ll_write_file_atomic(ip, bad, strlen(bad)) == 0);
    CHECK(ll_model_open_weights(&S, ll_test_tmpdir()) != 0);
    CHECK_MSG(strstr(ll_last_error(), "zz") != NULL, "%s", ll_last_error());
}

/* Mutation fuzz of the pickle machine itself (the zip CRC is recomputed, so
 * every mutated data.pkl reaches the parser): random byte changes, insertions
 * and cuts of the real fixture's data.pkl.  Must never crash or hang (ASan
 * build: never touch memory out of bounds); each result is a clean success
 * or an error naming the file. */
TEST(torch_pickle_fuzz) {
    ll_torch_file *o = ll_torch_open(FIX "rwkv_bin/pytorch_model.bin");
    REQUIRE(o);
    ll_torch_close(o);
    /* pull data.pkl and the storages out of the fixture through its central
     * directory (torch writes sizes there, not in the local headers) */
    size_t n = 0;
    unsigned char *z = (unsigned char *)ll_read_file(FIX "rwkv_bin/pytorch_model.bin", &n);
    REQUIRE(z && n > 22);
#define R16(q) ((unsigned)z[q] | (unsigned)z[(q) + 1] << 8)
#define R32(q) (R16(q) | (uint32_t)R16((q) + 2) << 16)
    size_t eocd = n - 22;
    while (eocd > 0 && R32(eocd) != 0x06054b50u) eocd--;
    REQUIRE(R32(eocd) == 0x06054b50u);
    zin ent[256];
    int ne = 0;
    size_t cd = R32(eocd + 16);
    for (unsigned i = 0; i < R16(eocd + 10) && ne < 256; i++) {
        REQUIRE(cd + 46 < n && R32(cd) == 0x02014b50u);
        unsigned nl = R16(cd + 28), xl = R16(cd + 30), cl = R16(cd + 32);
        size_t lo = R32(cd + 42);
        static char names[256][256];
        snprintf(names[ne], sizeof names[ne], "%.*s", (int)nl, (const char *)z + cd + 46);
        ent[ne].name = names[ne];
        ent[ne].data = z + lo + 30 + R16(lo + 26) + R16(lo + 28);
        ent[ne].n = R32(cd + 20);
        ne++;
        cd += 46 + nl + xl + cl;
    }
#undef R16
#undef R32
    int ipkl = -1;
    for (int i = 0; i < ne; i++)
        if (strstr(ent[i].name, "data.pkl")) ipkl = i;
    REQUIRE_MSG(ipkl >= 0 && ne >= 3, "could not walk the fixture zip (%d entries)", ne);
    const char *path = tmp("fuzz.bin");
    REQUIRE(write_zip(path, ent, ne) == 0);
    o = ll_torch_open(path);
    REQUIRE_MSG(o && ll_torch_count(o) > 50, "re-zipped fixture: %s", ll_last_error());
    ll_torch_close(o);
    const unsigned char *orig = ent[ipkl].data;
    size_t on = ent[ipkl].n;
    unsigned char *buf = malloc(on + 64);
    unsigned s = 12345;
    int ok = 0, bad = 0;
    for (int it = 0; it < 300; it++) {
        memcpy(buf, orig, on);
        size_t len = on;
        int nm = 1 + (int)((s = s * 1103515245u + 12345u) >> 16) % 4;
        for (int k = 0; k < nm; k++) {
            s = s * 1103515245u + 12345u;
            size_t at = (s >> 8) % len;
            int kind = (s >> 4) % 4;
            if (kind == 0) buf[at] = (unsigned char)(s >> 16);
            else if (kind == 1) buf[at] ^= 1u << ((s >> 16) % 8);
            else if (kind == 2 && len < on + 60) { memmove(buf + at + 1, buf + at, len - at); buf[at] = (unsigned char)(s >> 20); len++; }
            else len = at + 1;
        }
        ent[ipkl].data = buf;
        ent[ipkl].n = len;
        REQUIRE(write_zip(path, ent, ne) == 0);
        ll_torch_file *f = ll_torch_open(path);
        if (f) {
            for (size_t i = 0; i < ll_torch_count(f); i++) {
                const ll_torch_tensor *t = ll_torch_at(f, i);
                if (t->numel > 0 && t->numel < (1 << 20)) {
                    float *x = malloc(sizeof(float) * (size_t)t->numel);
                    ll_torch_to_f32(t, x); /* must stay inside the storage */
                    free(x);
                }
            }
            ll_torch_close(f);
            ok++;
        } else {
            CHECK_MSG(strstr(ll_last_error(), path) != NULL, "iteration %d: error without the path: %s", it, ll_last_error());
            bad++;
        }
    }
    fprintf(stderr, "  pickle fuzz: %d accepted, %d rejected\n", ok, bad);
    CHECK(bad > 0);
    free(buf);
    free(z);
}

/* The format dispatch of the model loader (host/model/weights.c): a folder
 * with no weights names every format it looked for; the safetensors reader
 * alone knows only its own (the .bin reader is not its business). */
TEST(torch_pickle_format_dispatch_names_the_formats) {
    ll_safetensors S;
    CHECK(ll_model_open_weights(&S, ll_test_tmpdir()) == -1);
    CHECK_MSG(strstr(ll_last_error(), "pytorch_model.bin") && strstr(ll_last_error(), "model.safetensors"), "%s",
              ll_last_error());
    CHECK(ll_st_open_dir(&S, ll_test_tmpdir()) == -1);
    CHECK_MSG(strstr(ll_last_error(), "model.safetensors") && !strstr(ll_last_error(), "pytorch_model.bin"), "%s",
              ll_last_error());
}
