/* The malformed-input matrix: every parser reached through the command line
 * with a broken file, one row per case.  Each case runs `layerlaw` in a fresh
 * folder holding a good model (configs/stories260K-hf, linked), good token
 * ids, text and .npy files, with one of them replaced, and asserts:
 *   - the exit code (2: bad input, 1: runtime failure),
 *   - stderr is exactly one line, "layerlaw: ...", naming the broken file and
 *     holding the expected words,
 *   - nothing is left behind: no --out folder content, nothing in $TMPDIR.
 * Runs under every build (normal, ASan, clang UBSan) with that build's binary
 * (LAYERLAW_BIN).  The expected messages are the parsers' own; the checks
 * that make them right (overflow, bounds) have their oracles in the parser
 * tests (safetensors 0.8.0's refusals, hand-derived sizes). */
#include "harness.h"
#include "core/ll_util.h"
#include "io/npy.h"
#include "zip_pickle.h"
#include <cJSON.h>
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum { K_RAW, K_ST, K_NPY, K_GEN, K_CFG } kind;
typedef struct {
    const char *args;  /* command after the binary; runs in the case folder */
    const char *file;  /* the file the case writes (replacing the good one) */
    kind k;
    const char *s;     /* RAW: bytes; ST: JSON header; NPY: header dict; GEN: unused;
                        * CFG: "key": value, set in the model's good config.json */
    size_t n;          /* RAW: length (0: strlen); ST/NPY: data bytes after the header */
    int rc;
    const char *msg;   /* words the error line must hold */
    void (*gen)(const char *path);
    const char *names; /* what the line must name (NULL: file) */
} mcase;

#define RUN "run --model model --tokens ids.jsonl --out out --quiet --threads 1"
#define DATA "run --model model --data text.jsonl --out out --quiet --threads 1"
#define TOK "tokenize --tokenizer model --text text.jsonl"
#define TOKTXT "tokenize --tokenizer model --text text.txt"
#define FIT "fit --features f.npy --labels y.npy --out out --quiet --threads 1"
#define ST "model/model.safetensors"
#define PT "model/pytorch_model.bin"
#define CFG "model/config.json"
#define TJ "model/tokenizer.json"

/* ---- generated files ---- */
static void tensor_pickle(pk *p, const char *stype, const char *key, int64_t numel, int64_t off, int64_t size, int64_t stride) {
    pc(p, 0x80); pc(p, 2);
    pc(p, '}');
    pstr(p, "model.embed_tokens.weight");
    pglobal(p, "torch._utils", "_rebuild_tensor_v2");
    pc(p, '(');
    pc(p, '('); pstr(p, "storage"); pglobal(p, "torch", stype); pstr(p, key); pstr(p, "cpu"); plong(p, numel); pc(p, 't');
    pc(p, 'Q');
    plong(p, off);
    pc(p, '('); plong(p, size); pc(p, 't');
    pc(p, '('); plong(p, stride); pc(p, 't');
    pc(p, 0x89);
    pglobal(p, "collections", "OrderedDict"); pc(p, ')'); pc(p, 'R');
    pc(p, 't');
    pc(p, 'R');
    pc(p, 's');
    pc(p, '.');
}
static float g_storage[16];
static void zip_with(const char *path, pk *p, int with_storage) {
    zin e[2] = {{"archive/data.pkl", p->b, p->n, 0, 0, 0}, {"archive/data/0", g_storage, sizeof g_storage, 0, 0, 0}};
    write_zip(path, e, with_storage ? 2 : 1);
    free(p->b);
}
static void zip_pickle_bytes(const char *path, const char *b, size_t n) {
    pk p = {0};
    pb(&p, b, n);
    zip_with(path, &p, 1);
}
#define PKL(fn, bytes) static void fn(const char *path) { zip_pickle_bytes(path, bytes, sizeof bytes - 1); }
PKL(g_pk_empty, "")
PKL(g_pk_nostop, "\x80\x02}")
PKL(g_pk_list, "\x80\x02]q\x00.")
PKL(g_pk_underflow, "\x80\x02s.")
PKL(g_pk_two, "\x80\x02}}.")
PKL(g_pk_mark, "\x80\x02t.")
PKL(g_pk_proto, "\x80\x09}.")
PKL(g_pk_os, "\x80\x02" "cos\nsystem\n" "\x8c\x02id\x85R.")
PKL(g_pk_builtins, "\x80\x02" "cbuiltins\neval\n.")
PKL(g_pk_inst, "\x80\x02(ios\nsystem\n.")
PKL(g_pk_obj, "\x80\x02(o.")
PKL(g_pk_newobj, "\x80\x02\x81.")
PKL(g_pk_ext, "\x80\x02\x82\x01.")
PKL(g_pk_persid, "\x80\x02Pabc\n.")
PKL(g_pk_memo_get, "\x80\x02h\x05.")
PKL(g_pk_memo_big, "\x80\x02}r\x00\x00\x00\x01.")
PKL(g_pk_unknown_op, "\x80\x02\xff.")
PKL(g_pk_long1, "\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09.")
PKL(g_pk_str_trunc, "\x80\x02X\xff\xff\x00\x00ab")
PKL(g_pk_append_bad, "\x80\x02}K\x01" "a.")
PKL(g_pk_setitem_bad, "\x80\x02]K\x01K\x02s.")
PKL(g_pk_reduce_bad, "\x80\x02K\x01)R.")
PKL(g_pk_storage_call, "\x80\x02" "ctorch\nFloatStorage\n)R.")
PKL(g_pk_build_bad, "\x80\x02]}b.")
PKL(g_pk_persid_bad, "\x80\x02K\x01Q.")
PKL(g_pk_odict_args, "\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R.")
PKL(g_pk_global_nonl, "\x80\x02" "ctorch._utils")
PKL(g_pk_stack_global_bad, "\x80\x02K\x01K\x02\x93.")
static void g_pk_stride(const char *path) { pk p = {0}; tensor_pickle(&p, "FloatStorage", "0", 16, 0, ((int64_t)1 << 24) + 1, (int64_t)1 << 40); zip_with(path, &p, 1); }
static void g_pk_past(const char *path) { pk p = {0}; tensor_pickle(&p, "FloatStorage", "0", 16, 10, 8, 1); zip_with(path, &p, 1); }
static void g_pk_negoff(const char *path) { pk p = {0}; tensor_pickle(&p, "FloatStorage", "0", 16, -1, 4, 1); zip_with(path, &p, 1); }
static void g_pk_negsize(const char *path) { pk p = {0}; tensor_pickle(&p, "FloatStorage", "0", 16, 0, -4, 1); zip_with(path, &p, 1); }
static void g_pk_broadcast(const char *path) { pk p = {0}; tensor_pickle(&p, "FloatStorage", "0", 16, 0, 1000, 0); zip_with(path, &p, 1); }
static void g_pk_nostorage(const char *path) { pk p = {0}; tensor_pickle(&p, "FloatStorage", "7", 16, 0, 4, 1); zip_with(path, &p, 1); }
static void g_pk_short(const char *path) { pk p = {0}; tensor_pickle(&p, "DoubleStorage", "0", 16, 0, 4, 1); zip_with(path, &p, 1); }
static void g_pk_badkey(const char *path) { pk p = {0}; tensor_pickle(&p, "FloatStorage", "../0", 16, 0, 4, 1); zip_with(path, &p, 1); }
static void g_pk_badtype(const char *path) { pk p = {0}; tensor_pickle(&p, "ComplexFloatStorage", "0", 16, 0, 4, 1); zip_with(path, &p, 1); }
static void g_zip_no_pkl(const char *path) {
    zin e[1] = {{"archive/other.txt", "x", 1, 0, 0, 0}};
    write_zip(path, e, 1);
}
static void g_zip_two_pkl(const char *path) {
    zin e[2] = {{"a/data.pkl", "\x80\x02}.", 4, 0, 0, 0}, {"b/data.pkl", "\x80\x02}.", 4, 0, 0, 0}};
    write_zip(path, e, 2);
}
static void g_zip_dup(const char *path) {
    zin e[2] = {{"archive/data.pkl", "\x80\x02}.", 4, 0, 0, 0}, {"archive/data.pkl", "\x80\x02}.", 4, 0, 0, 0}};
    write_zip(path, e, 2);
}
static void g_zip_method(const char *path) {
    zin e[1] = {{"archive/data.pkl", "\x80\x02}.", 4, 12, 4, 0}};
    write_zip(path, e, 1);
}
static void g_zip_tib(const char *path) {
    pk p = {0};
    tensor_pickle(&p, "FloatStorage", "0", 4, 0, 4, 1);
    zin e[2] = {{"archive/data.pkl", p.b, p.n, 0, 0, 0}, {"archive/data/0", "\x03\x00", 2, 8, (uint64_t)1 << 40, 0}};
    write_zip(path, e, 2);
    free(p.b);
}
static void g_zip_baddeflate(const char *path) {
    zin e[1] = {{"archive/data.pkl", "\xff\xff\xff\xff", 4, 8, 4, 0}};
    write_zip(path, e, 1);
}
static void g_zip_crc(const char *path) {
    zin e[1] = {{"archive/data.pkl", "\x80\x02}.", 4, 0, 0, 0}};
    write_zip(path, e, 1);
    FILE *f = fopen(path, "r+b");
    fseek(f, 30 + (long)strlen("archive/data.pkl") + 1, SEEK_SET); /* a byte of the stored data */
    fputc(0x03, f);
    fclose(f);
}
static void g_zip_truncated(const char *path) {
    pk p = {0};
    tensor_pickle(&p, "FloatStorage", "0", 16, 0, 4, 1);
    zip_with(path, &p, 1);
    struct stat sb;
    stat(path, &sb);
    if (truncate(path, sb.st_size / 2) != 0) { /* the check below fails */ }
}
static void g_zip_cd_oob(const char *path) {
    zin e[1] = {{"archive/data.pkl", "\x80\x02}.", 4, 0, 0, 0}};
    write_zip(path, e, 1);
    FILE *f = fopen(path, "r+b");
    fseek(f, -6, SEEK_END); /* central directory offset */
    uint32_t big = 0x7fffffff;
    fwrite(&big, 4, 1, f);
    fclose(f);
}
static void g_zip_count(const char *path) {
    zin e[1] = {{"archive/data.pkl", "\x80\x02}.", 4, 0, 0, 0}};
    write_zip(path, e, 1);
    FILE *f = fopen(path, "r+b");
    fseek(f, -12, SEEK_END); /* total entry count */
    uint16_t n = 9000;
    fwrite(&n, 2, 1, f);
    fclose(f);
}
static void g_st_truncated_data(const char *path) {
    /* the real stories260K file cut in half */
    const char *src = "configs/stories260K-hf/model.safetensors";
    size_t n;
    char *d = ll_read_file(src, &n);
    FILE *f = fopen(path, "wb");
    if (d && f) fwrite(d, 1, n / 2, f);
    if (f) fclose(f);
    free(d);
}
static void g_gz_truncated(const char *path) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "seq 1 20000 | sed 's/.*/{\"text\": \"&\"}/' | gzip -c | head -c 3000 > '%s'", path);
    if (system(cmd) != 0) { /* checked by the case */ }
}
static void g_gz_corrupt(const char *path) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "seq 1 20000 | gzip -c > '%s' && printf 'XXXXXXXXXXXXXXXX' | dd of='%s' bs=1 seek=200 conv=notrunc 2>/dev/null", path, path);
    if (system(cmd) != 0) { /* checked by the case */ }
}
static void g_npy_short_data(const char *path) {
    int64_t shape[3] = {6, 3, 4};
    float x[72] = {0};
    ll_npy_save(path, LL_DT_F32, 3, shape, x);
    struct stat sb;
    stat(path, &sb);
    if (truncate(path, sb.st_size - 8) != 0) { /* checked by the case */ }
}
static void g_labels_count(const char *path) {
    int64_t shape[1] = {5};
    int64_t y[5] = {1, 2, 3, 4, 5};
    ll_npy_save(path, LL_DT_I64, 1, shape, y);
}
static void g_features_2d(const char *path) {
    int64_t shape[2] = {6, 12};
    float x[72] = {0};
    ll_npy_save(path, LL_DT_F32, 2, shape, x);
}
static void g_dir(const char *path) { mkdir(path, 0755); }

#define R(args, file, s, rc, msg) {args, file, K_RAW, s, 0, rc, msg, NULL, NULL}
/* a literal with NUL bytes: its length from sizeof, never by hand */
#define RN(args, file, lit, rc, msg) {args, file, K_RAW, lit, sizeof(lit) - 1, rc, msg, NULL, NULL}
#define S(hdr, n, msg) {RUN, ST, K_ST, hdr, n, 2, msg, NULL, NULL}
#define N(args, file, hdr, n, msg) {args, file, K_NPY, hdr, n, 2, msg, NULL, NULL}
#define G(args, file, fn, rc, msg) {args, file, K_GEN, NULL, 0, rc, msg, fn, NULL}
#define GN(args, file, fn, rc, msg, names) {args, file, K_GEN, NULL, 0, rc, msg, fn, names}
#define C(patch, msg) {RUN, CFG, K_CFG, patch, 0, 2, msg, NULL, NULL}
#define CN(patch, msg, names) {RUN, CFG, K_CFG, patch, 0, 2, msg, NULL, names}
#define F32A "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

static const mcase cases[] = {
    /* ---- safetensors (model loader) ---- */
    RN(RUN, ST, "", 2, "truncated safetensors file"),
    RN(RUN, ST, "\x10\x00\x00", 2, "truncated safetensors file"),
    RN(RUN, ST, "\xff\xff\xff\xff\xff\xff\xff\xff{}", 2, "truncated safetensors file"),
    RN(RUN, ST, "\x02\x00\x00\x00\x00\x00\x00\x00{}", 2, "is missing"), /* a valid empty file: the model's tensors are not there */
    RN(RUN, ST, "\x08\x00\x00\x00\x00\x00\x00\x00not json", 2, "not a JSON object"),
    S("[1,2]", 0, "not a JSON object"),
    S("\"x\"", 0, "not a JSON object"),
    S("{\"a\":1}", 0, "entry is not an object"),
    S("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "needs dtype, shape and data_offsets"),
    S("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "needs dtype, shape and data_offsets"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "needs dtype, shape and data_offsets"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", 8, "needs dtype, shape and data_offsets"),
    S("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype 'Q4'"),
    S("{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "needs dtype"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "invalid shape"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, "invalid shape"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "invalid shape"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,8]}}", 8, "invalid shape"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "9 dimensions"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[1000000000,1000000000],\"data_offsets\":[0,8]}}", 8, "bytes for shape"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[1000000,1000000,1000000,1000000],\"data_offsets\":[0,8]}}", 8, "invalid shape"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "invalid data_offsets"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, "invalid data_offsets"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.5,8.5]}}", 8, "invalid data_offsets"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1e300,1e300]}}", 8, "invalid data_offsets"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",8]}}", 8, "invalid data_offsets"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8, "past the end of the file"),
    S("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "8 bytes for shape of 3 F32 elements"),
    S("{\"a\":" F32A ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps"),
    S("{\"a\":" F32A ",\"b\":" F32A "}", 8, "overlaps"),
    S("{\"a\":" F32A ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20, "gap"),
    S("{\"a\":" F32A "}", 12, "4 bytes after the last tensor"),
    S("{\"a\":" F32A ",\"a\":" F32A "}", 8, "overlaps"),
    S("{\"a\":" F32A "}", 8, "is missing"), /* valid file, not the model's tensors */
    G(RUN, ST, g_st_truncated_data, 2, "past the end of the file"),
    G(RUN, ST, g_dir, 2, "model.safetensors"),
    /* ---- PyTorch checkpoints (pytorch_model.bin, no safetensors) ---- */
    R(RUN, PT, "PK", 2, "not a zip archive"),
    RN(RUN, PT, "\x80\x02}q\x00.plus some more bytes to pass the length check", 2, "legacy (pre-1.6"),
    R(RUN, PT, "this is a text file and not a zip archive at all", 2, "no end-of-central-directory"),
    G(RUN, PT, g_zip_no_pkl, 2, "without <name>/data.pkl"),
    G(RUN, PT, g_zip_two_pkl, 2, "several data.pkl"),
    G(RUN, PT, g_zip_dup, 2, "appears twice"),
    G(RUN, PT, g_zip_method, 2, "unsupported compression method 12"),
    G(RUN, PT, g_zip_tib, 2, "more than deflate can expand"),
    G(RUN, PT, g_zip_baddeflate, 2, "corrupt deflate data"),
    G(RUN, PT, g_zip_crc, 2, "CRC-32 mismatch"),
    G(RUN, PT, g_zip_truncated, 2, "pytorch_model.bin"),
    G(RUN, PT, g_zip_cd_oob, 2, "central directory out of bounds"),
    G(RUN, PT, g_zip_count, 2, "entry count 9000 too large"),
    G(RUN, PT, g_pk_empty, 2, "ends without STOP"),
    G(RUN, PT, g_pk_nostop, 2, "ends without STOP"),
    G(RUN, PT, g_pk_list, 2, "not a dict of tensors"),
    G(RUN, PT, g_pk_underflow, 2, "stack underflow"),
    G(RUN, PT, g_pk_two, 2, "2 objects on the stack"),
    G(RUN, PT, g_pk_mark, 2, "MARK missing"),
    G(RUN, PT, g_pk_proto, 2, "protocol 9 not supported"),
    G(RUN, PT, g_pk_os, 2, "refusing pickle global 'os.system'"),
    G(RUN, PT, g_pk_builtins, 2, "refusing pickle global 'builtins.eval'"),
    G(RUN, PT, g_pk_inst, 2, "refusing pickle opcode INST"),
    G(RUN, PT, g_pk_obj, 2, "refusing pickle opcode OBJ"),
    G(RUN, PT, g_pk_newobj, 2, "refusing pickle opcode NEWOBJ"),
    G(RUN, PT, g_pk_ext, 2, "refusing pickle opcode EXT"),
    G(RUN, PT, g_pk_persid, 2, "refusing pickle opcode PERSID"),
    G(RUN, PT, g_pk_memo_get, 2, "memo index 5 undefined"),
    G(RUN, PT, g_pk_memo_big, 2, "memo index 16777216 out of range"),
    G(RUN, PT, g_pk_unknown_op, 2, "unsupported pickle opcode 0xff"),
    G(RUN, PT, g_pk_long1, 2, "LONG1 of 9 bytes"),
    G(RUN, PT, g_pk_str_trunc, 2, "data.pkl truncated"),
    G(RUN, PT, g_pk_append_bad, 2, "APPEND to a non-list"),
    G(RUN, PT, g_pk_setitem_bad, 2, "SETITEM on a non-dict"),
    G(RUN, PT, g_pk_reduce_bad, 2, "REDUCE on a non-callable"),
    G(RUN, PT, g_pk_storage_call, 2, "calls a storage type directly"),
    G(RUN, PT, g_pk_build_bad, 2, "BUILD on a non-dict"),
    G(RUN, PT, g_pk_persid_bad, 2, "unsupported persistent id"),
    G(RUN, PT, g_pk_odict_args, 2, "OrderedDict called with arguments"),
    G(RUN, PT, g_pk_global_nonl, 2, "data.pkl truncated"),
    G(RUN, PT, g_pk_stack_global_bad, 2, "STACK_GLOBAL without strings"),
    G(RUN, PT, g_pk_stride, 2, "extent overflows"),
    G(RUN, PT, g_pk_past, 2, "extends past its storage"),
    G(RUN, PT, g_pk_negoff, 2, "negative storage offset"),
    G(RUN, PT, g_pk_negsize, 2, "invalid size/stride"),
    G(RUN, PT, g_pk_broadcast, 2, "broadcast views are not supported"),
    G(RUN, PT, g_pk_nostorage, 2, "storage 'archive/data/7' missing"),
    G(RUN, PT, g_pk_short, 2, "shorter (64 bytes) than its 16 elements"),
    G(RUN, PT, g_pk_badkey, 2, "bad storage key"),
    G(RUN, PT, g_pk_badtype, 2, "refusing pickle global 'torch.ComplexFloatStorage'"),
    /* ---- config.json (parse level; the field checks are the model loader's) ---- */
    R(RUN, CFG, "", 2, "config.json"),
    R(RUN, CFG, "{\"model_type\": \"llama\",", 2, "config.json"),
    R(RUN, CFG, "[1, 2, 3]", 2, "config.json"),
    R(RUN, CFG, "{\"model_type\": \"bert\"}", 2, "missing key 'hidden_size'"), /* a known family, its keys checked */
    G(RUN, CFG, g_dir, 2, "config.json"),
    /* ---- config.json fields (the loader's checks), one field changed in the good config ---- */
    C("\"hidden_size\": -64", "'hidden_size' is -64 (must be positive)"),
    C("\"hidden_size\": 1e300", "'hidden_size' is not an integer"),
    C("\"hidden_size\": 65", "not divisible by num_attention_heads"),
    C("\"hidden_size\": \"64\"", "hidden_size"),
    C("\"num_hidden_layers\": 0", "must be positive"),
    C("\"num_hidden_layers\": 1000000", "'num_hidden_layers' is 1000000 (must be between 1 and 100000)"), /* refused before any allocation */
    C("\"num_attention_heads\": 0", "'num_attention_heads' is 0 (must be positive)"),
    C("\"num_attention_heads\": 7", "not a multiple of num_key_value_heads"),
    C("\"num_key_value_heads\": 3", "not a multiple of num_key_value_heads 3"),
    C("\"vocab_size\": 0", "must be positive"),
    C("\"vocab_size\": 2147483648", "'vocab_size' is not an integer"),
    C("\"vocab_size\": 1.5", "'vocab_size' is not an integer"),
    C("\"rms_norm_eps\": -1", "norm epsilon -1 (must be a non-negative number)"),
    C("\"rms_norm_eps\": \"x\"", "'rms_norm_eps' is not a number"),
    C("\"model_type\": 5", "model_type"),
    C("\"model_type\": \"gpt5\"", "gpt5"),
    C("\"tie_word_embeddings\": \"yes\"", "'tie_word_embeddings' is not a boolean"),
    C("\"intermediate_size\": 0", "'intermediate_size' is 0 (must be positive)"),
    CN("\"intermediate_size\": 100", "expected [100, 64]", "model/model.safetensors"),
    CN("\"vocab_size\": 1000", "expected [1000, 64]", "model/model.safetensors"),
    C("\"rope_theta\": 0", "'rope_theta' is 0 (must be positive)"), /* refused at parse time (it would make inv_freq Inf) */
    /* ---- tokenizer.json (tokenize, and run --data) ---- */
    R(TOK, TJ, "", 2, "not valid JSON"),
    R(TOK, TJ, "{\"model\": ", 2, "not valid JSON"),
    R(TOK, TJ, "[]", 2, "top level must be an object"),
    R(TOK, TJ, "{}", 2, "missing \"model\""),
    R(TOK, TJ, "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}}", 2, "unsupported model type 'WordLevel'"),
    R(TOK, TJ, "{\"model\": {\"type\": \"Chars\", \"vocab\": []}}", 2, "unsupported model type 'Chars'"),
    R(TOK, TJ, "{\"model\": {\"vocab\": {}}}", 2, "no \"type\" and no \"merges\""),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": [], \"merges\": []}}", 2, "model.vocab must be an object"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": {}}}", 2, "model.merges must be an array"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}", 2, "must be a non-negative integer"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1.5}, \"merges\": []}}", 2, "must be a non-negative integer"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"1\"}, \"merges\": []}}", 2, "must be a non-negative integer"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1e300}, \"merges\": []}}", 2, "must be a non-negative integer"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 16000000}, \"merges\": []}}", 2, "too large"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}", 2, "id 0 is used twice"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}", 2, "merges[0]"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}", 2, "not in the vocab"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"dropout\": 0.1}}", 2, "dropout"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"byte_fallback\": 1}}", 2, "must be booleans"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": {}}", 2, "added_tokens must be an array"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 1}]}", 2, "added_tokens[0] needs"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 2000000000, \"content\": \"x\"}]}", 2, "too large"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 1, \"content\": \"x\", \"special\": \"yes\"}]}", 2, "flags must be booleans"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"normalizer\": {\"type\": \"Nmt\"}}", 2, "unsupported"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}", 2, "unsupported"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\", \"invert\": false}}", 2, "tokenizer.json"),
    R(TOK, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"post_processor\": {\"type\": \"Mystery\"}}", 2, "unsupported post_processor type 'Mystery'"),
    R(DATA, TJ, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 2000000000, \"content\": \"x\"}]}", 2, "too large"),
    G(TOK, TJ, g_dir, 2, "tokenizer.json"),
    /* ---- corpora: JSONL, plain text, gzip ---- */
    R(TOK, "text.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"broken\n", 2, "text.jsonl:2: not valid JSON"),
    R(TOK, "text.jsonl", "[\"a list\"]\n", 2, "text.jsonl:1: not a JSON object"),
    R(TOK, "text.jsonl", "{\"body\": \"x\"}\n", 2, "text.jsonl:1: no field 'text'"),
    R(TOK, "text.jsonl", "{\"text\": 42}\n", 2, "text.jsonl:1: not a string: field 'text'"),
    R(TOK, "text.jsonl", "{\"text\": null}\n", 2, "not a string"),
    R(TOK, "text.jsonl", "{\"text\": [\"a\"]}\n", 2, "not a string"),
    R(TOK, "text.jsonl", "{\"text\": \"bad escape \\q\"}\n", 2, "not valid JSON"),
    R(TOK, "text.jsonl", "{\"text\": \"bad \\u12\"}\n", 2, "not valid JSON"),
    R(TOK, "text.jsonl", "\n\n{\"text\": \"a\"}\n\n{\"text\" \"b\"}\n", 2, "text.jsonl:5: not valid JSON"),
    R(TOK, "text.jsonl", "{\"meta\": {\"text\": \"nested\"}}\n", 2, "no field 'text'"),
    R(TOK " --text-field body", "text.jsonl", "{\"text\": \"x\"}\n", 2, "no field 'body'"),
    R(TOK " --docs 2 --seed 1", "text.jsonl", "{\"text\": \"a\"}\n{\"text\": 1}\n", 2, "text.jsonl:2"),
    R(DATA, "text.jsonl", "{\"text\": \"Once upon a time\"}\n{\"text\": 5}\n", 2, "text.jsonl:2: not a string"),
    R(DATA, "text.jsonl", "{\"text\": \"Once upon a time\"}\n{oops}\n", 2, "text.jsonl:2: not valid JSON"),
    G("tokenize --tokenizer model --text text.jsonl.gz", "text.jsonl.gz", g_gz_truncated, 2, "gzip"),
    G("tokenize --tokenizer model --text text.txt.gz", "text.txt.gz", g_gz_corrupt, 2, "gzip"),
    G(TOKTXT, "text.txt", g_dir, 2, "text.txt"),
    GN("tokenize --tokenizer model --text missing.txt", "unused.txt", g_dir, 2, "cannot open", "missing.txt"),
    /* ---- token id lines (run --tokens) ---- */
    R(RUN, "ids.jsonl", "", 2, "no tokens"),
    R(RUN, "ids.jsonl", "\n\n  \n", 2, "no tokens"),
    R(RUN, "ids.jsonl", "[]\n[]\n", 2, "ids.jsonl"),
    R(RUN, "ids.jsonl", "1, 2, 3\n", 2, "line 1: expected a JSON array"),
    R(RUN, "ids.jsonl", "[1, 2, 3\n", 2, "line 1: not a JSON array"),
    R(RUN, "ids.jsonl", "[1, 2,]\n", 2, "line 1: not a JSON array"),
    R(RUN, "ids.jsonl", "[1, -2]\n", 2, "line 1: not a JSON array"),
    R(RUN, "ids.jsonl", "[1, 2.5]\n", 2, "line 1: not a JSON array"),
    R(RUN, "ids.jsonl", "[1, \"2\"]\n", 2, "line 1: not a JSON array"),
    R(RUN, "ids.jsonl", "[[1, 2]]\n", 2, "line 1: not a JSON array"),
    R(RUN, "ids.jsonl", "[1, 2] [3]\n", 2, "line 1: not a JSON array"),
    R(RUN, "ids.jsonl", "[1, 2147483648]\n", 2, "line 1: not a JSON array"),
    R(RUN, "ids.jsonl", "[1, 99999999999999999999999]\n", 2, "line 1: not a JSON array"),
    R(RUN, "ids.jsonl", "[1, 2]\n[3, 4]\n[5, 512]\n", 2, "line 3: token id 512 is outside the model's vocabulary (512)"),
    R(RUN, "ids.jsonl", "{\"ids\": [1, 2]}\n", 2, "line 1: expected a JSON array"),
    RN(RUN, "ids.jsonl", "[1, 2\0, 3]\n", 2, "line 1: not a JSON array"),
    G(RUN, "ids.jsonl", g_dir, 2, "ids.jsonl"),
    GN("run --model model --tokens nothere.jsonl --out out --quiet", "unused", g_dir, 2, "cannot open", "nothere.jsonl"),
    /* ---- .npy features and labels (fit) ---- */
    RN(FIT, "f.npy", "", 2, "not a .npy file"),
    RN(FIT, "f.npy", "\x93NUMPY\x01\x00\x10\x00{'descr'", 2, "truncated header"),
    RN(FIT, "f.npy", "\x93NUMPZ\x01\x00\x10\x00{'descr': '<f4'}   ", 2, "bad magic"),
    RN(FIT, "f.npy", "\x93NUMPY\x09\x00\x10\x00{'descr': '<f4'}   ", 2, "unsupported .npy format version"),
    N(FIT, "f.npy", "{'fortran_order': False, 'shape': (6, 3, 4), }", 288, "no 'descr'"),
    N(FIT, "f.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (6, 3, 4), }", 288, "unsupported dtype '>f4'"),
    N(FIT, "f.npy", "{'descr': '|b1', 'fortran_order': False, 'shape': (6, 3, 4), }", 72, "unsupported dtype '|b1'"),
    N(FIT, "f.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (6, 3, 4), }", 576, "unsupported dtype '<c8'"),
    N(FIT, "f.npy", "{'descr': '<f4, 'fortran_order': False, 'shape': (6, 3, 4), }", 288, "f.npy"),
    N(FIT, "f.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (6, 3, 4), }", 288, "Fortran order"),
    N(FIT, "f.npy", "{'descr': '<f4', 'fortran_order': 0, 'shape': (6, 3, 4), }", 288, "malformed 'fortran_order'"),
    N(FIT, "f.npy", "{'descr': '<f4', 'shape': (6, 3, 4), }", 288, "no 'fortran_order'"),
    N(FIT, "f.npy", "{'descr': '<f4', 'fortran_order': False, }", 288, "no 'shape'"),
    N(FIT, "f.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6, x, 4), }", 288, "malformed 'shape'"),
    N(FIT, "f.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6, -3, 4), }", 288, "malformed 'shape'"),
    N(FIT, "f.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 3, 4), }", 288, "out of range"),
    N(FIT, "f.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }", 288, "shape overflows"),
    N(FIT, "f.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1), }", 4, "too many dimensions"),
    N(FIT, "f.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 3, 4), }", 100, "truncated data (288 bytes expected, 100 present)"),
    G(FIT, "f.npy", g_npy_short_data, 2, "truncated data"),
    G(FIT, "f.npy", g_features_2d, 2, "features must have shape (N, E, d)"),
    G(FIT, "f.npy", g_dir, 2, "f.npy"),
    N(FIT, "y.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 24, "labels must be int32 or int64"),
    N(FIT, "y.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (6, 2), }", 96, "labels must have shape (N,)"),
    G(FIT, "y.npy", g_labels_count, 2, "y.npy"),
    RN(FIT, "y.npy", "\x93NUMPY\x01", 2, "not a .npy file"),
};

/* ---- the runner ---- */

static int dir_empty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 1; /* absent counts as empty */
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n == 0;
}

static void write_bytes(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (n) fwrite(d, 1, n, f);
    fclose(f);
}

/* the good inputs: the model linked, ids, text, features and labels */
static int setup_case(const char *dir) {
    char p[1200], abs[PATH_MAX], src[PATH_MAX + 64];
    static const char *model_files[] = {"config.json", "model.safetensors", "tokenizer.json"};
    snprintf(p, sizeof p, "%s/model", dir);
    if (ll_mkdirs(p) != 0) return -1;
    snprintf(p, sizeof p, "%s/tmp", dir);
    if (ll_mkdirs(p) != 0) return -1;
    if (!realpath("configs/stories260K-hf", abs)) return -1;
    for (int i = 0; i < 3; i++) {
        snprintf(src, sizeof src, "%s/%s", abs, model_files[i]);
        snprintf(p, sizeof p, "%s/model/%s", dir, model_files[i]);
        if (symlink(src, p) != 0) return -1;
    }
    snprintf(p, sizeof p, "%s/ids.jsonl", dir);
    char ids[1024];
    size_t k = 0;
    for (int line = 0; line < 2; line++) { /* 2 x 45 ids: 88 examples, more than the 64 features */
        k += (size_t)snprintf(ids + k, sizeof ids - k, "[1");
        for (int i = 1; i < 45; i++) k += (size_t)snprintf(ids + k, sizeof ids - k, ", %d", 3 + (i * 37 + line * 11) % 500);
        k += (size_t)snprintf(ids + k, sizeof ids - k, "]\n");
    }
    write_bytes(p, ids, k);
    snprintf(p, sizeof p, "%s/text.jsonl", dir);
    const char *txt = "{\"text\": \"Once upon a time\"}\n";
    write_bytes(p, txt, strlen(txt));
    snprintf(p, sizeof p, "%s/text.txt", dir);
    write_bytes(p, "Once upon a time\n", 17);
    int64_t fs[3] = {6, 3, 4}, ys[1] = {6};
    float x[72];
    for (int i = 0; i < 72; i++) x[i] = (float)((i * 37) % 11) - 5.0f;
    int64_t y[6] = {1, 2, 1, 3, 2, 1};
    snprintf(p, sizeof p, "%s/f.npy", dir);
    if (ll_npy_save(p, LL_DT_F32, 3, fs, x) != 0) return -1;
    snprintf(p, sizeof p, "%s/y.npy", dir);
    if (ll_npy_save(p, LL_DT_I64, 1, ys, y) != 0) return -1;
    return 0;
}

static void write_case(const mcase *c, const char *path) {
    unlink(path); /* never write through a link into the model folder */
    switch (c->k) {
    case K_RAW: write_bytes(path, c->s, c->n ? c->n : strlen(c->s)); break;
    case K_ST: {
        FILE *f = fopen(path, "wb");
        if (!f) return;
        uint64_t n = strlen(c->s);
        fwrite(&n, 8, 1, f);
        fwrite(c->s, 1, n, f);
        for (size_t i = 0; i < c->n; i++) fputc(0, f);
        fclose(f);
        break;
    }
    case K_NPY: {
        FILE *f = fopen(path, "wb");
        if (!f) return;
        size_t n = strlen(c->s);
        unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 255), (unsigned char)(n >> 8)};
        fwrite(pre, 1, 10, f);
        fwrite(c->s, 1, n, f);
        for (size_t i = 0; i < c->n; i++) fputc(0, f);
        fclose(f);
        break;
    }
    case K_GEN: c->gen(path); break;
    case K_CFG: {
        size_t n;
        char *t = ll_read_file("configs/stories260K-hf/config.json", &n), buf[512];
        cJSON *j = t ? cJSON_Parse(t) : NULL;
        snprintf(buf, sizeof buf, "{%s}", c->s);
        cJSON *patch = cJSON_Parse(buf);
        if (j && patch && patch->child) {
            cJSON *item = cJSON_Duplicate(patch->child, 1);
            cJSON_DeleteItemFromObjectCaseSensitive(j, patch->child->string);
            cJSON_AddItemToObject(j, patch->child->string, item);
            char *out = cJSON_Print(j);
            write_bytes(path, out, strlen(out));
            free(out);
        }
        cJSON_Delete(patch);
        cJSON_Delete(j);
        free(t);
        break;
    }
    }
}

/* Runs the cases whose command starts with `prefix`; returns how many. */
static int run_cases(const char *prefix) {
    int count = 0;
    char bin[PATH_MAX];
    if (!realpath(ll_bin_path(), bin)) { ll_test_fail(__FILE__, __LINE__, "no binary %s", ll_bin_path()); return 0; }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const mcase *c = &cases[i];
        if (strncmp(c->args, prefix, strlen(prefix))) continue;
        if (!strcmp(prefix, "run") && !strncmp(c->args, DATA, strlen(DATA))) continue; /* "data" has its own test */
        count++;
        char dir[1024], path[1200], cmd[8192];
        snprintf(dir, sizeof dir, "%s/c%zu", ll_test_tmpdir(), i);
        if (setup_case(dir) != 0) { ll_test_fail(__FILE__, __LINE__, "case %zu: setup failed", i); return count; }
        if (!strcmp(c->file, PT)) { snprintf(path, sizeof path, "%s/%s", dir, ST); unlink(path); }
        snprintf(path, sizeof path, "%s/%s", dir, c->file);
        write_case(c, path);
        snprintf(cmd, sizeof cmd, "cd '%s' && TMPDIR='%s/tmp' '%s' %s 2>&1 >/dev/null", dir, dir, bin, c->args);
        char *err = NULL;
        int rc = ll_run_cmd(cmd, &err);
        const char *e = err ? err : "";
        /* the backend notice is information, printed once the input is valid */
        if (!strncmp(e, "layerlaw: using the ", 20) && strchr(e, '\n')) e = strchr(e, '\n') + 1;
        size_t len = strlen(e);
        int lines = 0;
        for (size_t k = 0; k < len; k++) lines += e[k] == '\n';
        const char *names = c->names ? c->names : c->file;
        CHECK_MSG(rc == c->rc, "case %zu (%s, %s): exit %d, expected %d: %s", i, c->args, c->file, rc, c->rc, e);
        CHECK_MSG(lines == 1 && len > 0 && e[len - 1] == '\n', "case %zu (%s): %d lines on stderr: %s", i, c->file, lines, e);
        CHECK_MSG(!strncmp(e, "layerlaw: ", 10), "case %zu (%s): %s", i, c->file, e);
        CHECK_MSG(strstr(e, names) != NULL, "case %zu: the message does not name %s: %s", i, names, e);
        CHECK_MSG(strstr(e, c->msg) != NULL, "case %zu (%s): expected '%s' in: %s", i, c->file, c->msg, e);
        snprintf(path, sizeof path, "%s/out", dir);
        CHECK_MSG(dir_empty(path), "case %zu (%s): files left in --out", i, c->file);
        snprintf(path, sizeof path, "%s/tmp", dir);
        CHECK_MSG(dir_empty(path), "case %zu (%s): files left in TMPDIR", i, c->file);
        free(err);
    }
    printf("    %d malformed-input cases\n", count);
    return count;
}

TEST(malformed_run_model_and_tokens) { CHECK(run_cases("run") > 0); }
TEST(malformed_run_data) { CHECK(run_cases(DATA) > 0); }
TEST(malformed_tokenize) { CHECK(run_cases("tokenize") > 0); }
TEST(malformed_fit) { CHECK(run_cases("fit") > 0); }

/* The good inputs of the matrix pass (so every failure above is the broken
 * file's doing), and the table is as large as the issue asks. */
TEST(malformed_baseline_ok) {
    char dir[1024], cmd[8192], bin[PATH_MAX];
    REQUIRE(realpath(ll_bin_path(), bin));
    snprintf(dir, sizeof dir, "%s/base", ll_test_tmpdir());
    REQUIRE(setup_case(dir) == 0);
    static const char *ok[] = {RUN, DATA, TOK, TOKTXT, FIT};
    for (int i = 0; i < 5; i++) {
        snprintf(cmd, sizeof cmd, "cd '%s' && rm -rf out && TMPDIR='%s/tmp' '%s' %s >/dev/null 2>&1", dir, dir, bin, ok[i]);
        CHECK_MSG(ll_run_cmd(cmd, NULL) == 0, "%s fails on the good inputs", ok[i]);
    }
    char tmpd[1200];
    snprintf(tmpd, sizeof tmpd, "%s/tmp", dir);
    CHECK(dir_empty(tmpd));
    CHECK_MSG(sizeof cases / sizeof cases[0] >= 150, "%zu cases", sizeof cases / sizeof cases[0]);
}
