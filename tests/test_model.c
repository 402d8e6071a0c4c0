/* Model loading: configs of every family (both transformers v4 and v5 rope
 * forms), tensors by HF name, and every kind of bad input — through the
 * library and through `layerlaw run` (exit 2, one line naming the file,
 * nothing written). */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"
#include "core/ll_util.h"
#include "model/model.h"
#include "io/safetensors.h"
#include "st_writer.h"

static const char *fx(const char *name) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "tests/fixtures/models/%s", name);
    return buf[k];
}

static int copy_file(const char *src, const char *dst) {
    size_t n;
    char *d = ll_read_file(src, &n);
    if (!d) return -1;
    int rc = ll_write_file_atomic(dst, d, n);
    free(d);
    return rc;
}

/* Copies a fixture's config.json (+ tokens.jsonl) into a new folder under the
 * test's tmpdir; rewrites its model.safetensors dropping `drop` and giving
 * `reshape` the transposed shape (NULL: unchanged). */
static const char *broken_copy(const char *fixture, const char *sub, const char *drop, const char *reshape) {
    static char dir[1024];
    ll_path_join(dir, sizeof dir, ll_test_tmpdir(), sub);
    ll_mkdirs(dir);
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/config.json", fx(fixture));
    snprintf(b, sizeof b, "%s/config.json", dir);
    copy_file(a, b);
    snprintf(a, sizeof a, "%s/tokens.jsonl", fx(fixture));
    snprintf(b, sizeof b, "%s/tokens.jsonl", dir);
    copy_file(a, b);
    snprintf(a, sizeof a, "%s/model.safetensors", fx(fixture));
    ll_safetensors st;
    if (ll_st_open_file(&st, a)) return NULL;
    st_entry *es = calloc((size_t)st.n_tensors + 1, sizeof *es);
    int n = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const ll_st_tensor *t = &st.tensors[i];
        if (drop && !strcmp(t->name, drop)) continue;
        es[n] = st_entry_of(t);
        if (reshape && !strcmp(t->name, reshape))
            for (int k = 0; k < t->ndim; k++) es[n].shape[k] = t->shape[t->ndim - 1 - k];
        n++;
    }
    snprintf(b, sizeof b, "%s/model.safetensors", dir);
    st_write(b, es, n);
    free(es);
    ll_st_close(&st);
    return dir;
}

TEST(model_configs) {
    struct { const char *name; const char *family; int L, C, H, G, D, rot; ll_norm norm; int par; } want[] = {
        {"gpt2", "gpt2", 3, 32, 4, 4, 8, 0, LL_NORM_LAYERNORM, 0},
        {"neox_parallel", "gpt_neox", 3, 32, 0, 0, 0, -1, LL_NORM_LAYERNORM, 1},
        {"neox_sequential", "gpt_neox", 3, 32, 0, 0, 0, -1, LL_NORM_LAYERNORM, 0},
        {"llama_gqa", "llama", 3, 32, 4, 2, 0, -1, LL_NORM_RMSNORM, 0},
        {"mistral", "mistral", 3, 32, 0, 0, 0, -1, LL_NORM_RMSNORM, 0},
        {"qwen2", "qwen2", 3, 32, 0, 0, 0, -1, LL_NORM_RMSNORM, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ll_model *m = ll_model_load(fx(want[i].name));
        REQUIRE_MSG(m, "%s: %s", want[i].name, ll_last_error());
        const ll_model_config *c = &m->cfg;
        CHECK(m->family == ll_family_find(want[i].family) && !strcmp(m->family->model_type, want[i].family));
        CHECK_INT(c->n_layer, want[i].L);
        CHECK_INT(ll_model_n_entries(m), want[i].L + 1);
        CHECK_INT(ll_model_dim(m), want[i].C);
        if (want[i].H) CHECK_INT(c->n_head, want[i].H);
        if (want[i].G) CHECK_INT(c->n_kv_head, want[i].G);
        if (want[i].D) CHECK_INT(c->head_dim, want[i].D);
        if (want[i].rot >= 0) CHECK_INT(c->rotary_dims, want[i].rot);
        double eps;
        CHECK_INT(ll_model_fresh_norm(m, &eps), want[i].norm);
        CHECK(eps > 0);
        CHECK_INT(c->parallel_residual, want[i].par);
        ll_model_free(m);
    }
    /* NeoX: rotary 0.25 of head dim 16 (tools/README.md); v5 rope_parameters form */
    ll_model *m = ll_model_load(fx("neox_parallel"));
    REQUIRE(m);
    CHECK_INT(m->cfg.rotary_dims, m->cfg.head_dim / 4);
    ll_model_free(m);
    /* llama3 rope in the legacy (v4 / hub) form: three regimes of inv_freq */
    m = ll_model_load(fx("llama3_scaling"));
    REQUIRE_MSG(m, "%s", ll_last_error());
    CHECK_INT(m->cfg.rope_scaling.type, LL_ROPE_SCALING_LLAMA3);
    CHECK(m->cfg.rope_theta > 1000);
    ll_model_free(m);
    /* qwen2: q/k/v biases present, o bias absent */
    m = ll_model_load(fx("qwen2"));
    REQUIRE(m);
    CHECK(m->layers[0].q_b.data != NULL && m->layers[0].k_b.data != NULL && m->layers[0].o_b.data == NULL);
    /* q/k/v (and biases) are viewed as one fused projection */
    CHECK(m->layers[0].qkv.data == m->layers[0].q.data && m->layers[0].qkv_b.data == m->layers[0].q_b.data);
    CHECK_INT(m->layers[0].qkv.rows, (m->cfg.n_head + 2 * m->cfg.n_kv_head) * m->cfg.head_dim);
    ll_model_free(m);
    /* mistral sliding window parsed */
    m = ll_model_load(fx("mistral"));
    REQUIRE(m);
    CHECK_INT(m->cfg.sliding_window, 8);
    ll_model_free(m);
    /* bf16 weights become exact f32 */
    m = ll_model_load(fx("llama_bf16"));
    REQUIRE_MSG(m, "%s", ll_last_error());
    CHECK_INT(m->embed.dtype, LL_DT_F32);
    ll_model_free(m);
    ll_load_opts keep = {1};
    m = ll_model_load_ex(fx("llama_bf16"), &keep);
    REQUIRE(m);
    CHECK_INT(m->layers[0].q.dtype, LL_DT_BF16);
    CHECK_INT(m->layers[0].ln1_w.dtype, LL_DT_F32);
    ll_model_free(m);
}

static void load_fails(const char *dir, const char *needle1, const char *needle2) {
    ll_model *m = ll_model_load(dir);
    CHECK_MSG(m == NULL, "%s loaded", dir);
    if (m) { ll_model_free(m); return; }
    CHECK_MSG(strstr(ll_last_error(), needle1) != NULL, "error '%s' lacks '%s'", ll_last_error(), needle1);
    if (needle2) CHECK_MSG(strstr(ll_last_error(), needle2) != NULL, "error '%s' lacks '%s'", ll_last_error(), needle2);
    CHECK(strchr(ll_last_error(), '\n') == NULL);
}

static void write_text(const char *dir, const char *name, const char *text) {
    char p[1200];
    ll_path_join(p, sizeof p, dir, name);
    ll_write_file_atomic(p, text, strlen(text));
}

TEST(model_bad_inputs_library) {
    const char *d;
    d = broken_copy("llama_gqa", "missing", "model.layers.1.mlp.up_proj.weight", NULL);
    REQUIRE(d);
    load_fails(d, "model.layers.1.mlp.up_proj.weight", "missing");
    d = broken_copy("llama_gqa", "shape", NULL, "model.layers.0.self_attn.k_proj.weight");
    load_fails(d, "k_proj.weight", "shape");
    d = broken_copy("gpt2", "gpt2shape", NULL, "transformer.h.2.mlp.c_fc.weight");
    load_fails(d, "c_fc.weight", "shape");
    /* config problems */
    d = broken_copy("gpt2", "noconfig", NULL, NULL);
    char p[1200];
    ll_path_join(p, sizeof p, d, "config.json");
    unlink(p);
    load_fails(d, "config.json", NULL);
    d = broken_copy("gpt2", "badjson", NULL, NULL);
    write_text(d, "config.json", "{\"model_type\": \"gpt2\", ");
    load_fails(d, "config.json", "JSON");
    d = broken_copy("gpt2", "unknown", NULL, NULL);
    write_text(d, "config.json", "{\"model_type\": \"xlnet\"}");
    load_fails(d, "config.json", "xlnet");
    d = broken_copy("gpt2", "nokey", NULL, NULL);
    write_text(d, "config.json", "{\"model_type\": \"gpt2\", \"n_layer\": 3, \"n_head\": 4, \"vocab_size\": 128, \"n_positions\": 64}");
    load_fails(d, "config.json", "n_embd");
    d = broken_copy("llama_gqa", "heads", NULL, NULL);
    write_text(d, "config.json", "{\"model_type\": \"llama\", \"hidden_size\": 32, \"num_hidden_layers\": 3, "
                                 "\"num_attention_heads\": 4, \"num_key_value_heads\": 3, \"intermediate_size\": 64, \"vocab_size\": 128}");
    load_fails(d, "config.json", "num_key_value_heads");
    /* truncated safetensors */
    d = broken_copy("gpt2", "trunc", NULL, NULL);
    ll_path_join(p, sizeof p, d, "model.safetensors");
    struct stat sb;
    stat(p, &sb);
    REQUIRE(truncate(p, sb.st_size / 2) == 0);
    load_fails(d, "model.safetensors", "past the end");
    /* no weights at all */
    d = broken_copy("gpt2", "noweights", NULL, NULL);
    ll_path_join(p, sizeof p, d, "model.safetensors");
    unlink(p);
    load_fails(d, "noweights", "model.safetensors");
}

/* `layerlaw run` on bad input: exit 2, one line on stderr naming the file,
 * nothing written. */
static void cli_fails(const char *model, const char *tokens, const char *needle) {
    char out[1100], cmd[4096];
    ll_path_join(out, sizeof out, ll_test_tmpdir(), "cli_out");
    snprintf(cmd, sizeof cmd, "%s run --model '%s' --tokens '%s' --out '%s' 2>&1 >/dev/null | grep -v 'using the'",
             ll_bin_path(), model, tokens, out);
    char *o = NULL;
    ll_run_cmd(cmd, &o);
    snprintf(cmd, sizeof cmd, "%s run --model '%s' --tokens '%s' --out '%s' >/dev/null 2>&1", ll_bin_path(), model,
             tokens, out);
    int rc = ll_run_cmd(cmd, NULL);
    CHECK_MSG(rc == 2, "exit %d for %s / %s (stderr: %s)", rc, model, tokens, o ? o : "");
    if (o) {
        size_t n = strlen(o);
        int lines = 0;
        for (size_t i = 0; i < n; i++) lines += o[i] == '\n';
        CHECK_MSG(lines == 1, "%d lines on stderr: %s", lines, o);
        CHECK_MSG(strstr(o, needle) != NULL, "stderr '%s' lacks '%s'", o, needle);
        CHECK_MSG(strncmp(o, "layerlaw: ", 10) == 0, "stderr '%s'", o);
    }
    free(o);
    CHECK_MSG(!ll_path_exists(out), "%s was written", out);
}

TEST(run_bad_inputs_cli) {
    char tok[1100];
    snprintf(tok, sizeof tok, "%s/tokens.jsonl", fx("llama_gqa"));
    const char *d = broken_copy("llama_gqa", "c_missing", "model.norm.weight", NULL);
    cli_fails(d, tok, "model.norm.weight");
    d = broken_copy("llama_gqa", "c_shape", NULL, "model.layers.2.mlp.down_proj.weight");
    cli_fails(d, tok, "down_proj");
    d = broken_copy("gpt2", "c_unknown", NULL, NULL);
    write_text(d, "config.json", "{\"model_type\": \"bert\"}");
    cli_fails(d, tok, "config.json");
    d = broken_copy("gpt2", "c_badjson", NULL, NULL);
    write_text(d, "config.json", "not json");
    cli_fails(d, tok, "config.json");
    d = broken_copy("gpt2", "c_trunc", NULL, NULL);
    char p[1200];
    ll_path_join(p, sizeof p, d, "model.safetensors");
    struct stat sb;
    stat(p, &sb);
    REQUIRE(truncate(p, sb.st_size - 100) == 0);
    cli_fails(d, tok, "model.safetensors");
    /* header whose offsets point past the end of the file */
    d = broken_copy("gpt2", "c_offset", NULL, NULL);
    ll_path_join(p, sizeof p, d, "model.safetensors");
    const char *hdr = "{\"transformer.wte.weight\":{\"dtype\":\"F32\",\"shape\":[128,32],\"data_offsets\":[1000000,1016384]}}";
    FILE *f = fopen(p, "wb");
    uint64_t hl = strlen(hdr);
    for (int i = 0; i < 8; i++) fputc((int)((hl >> (8 * i)) & 0xff), f);
    fwrite(hdr, 1, hl, f);
    fclose(f);
    cli_fails(d, tok, "past the end");
    /* token problems */
    d = fx("gpt2");
    char bad[1100];
    ll_path_join(bad, sizeof bad, ll_test_tmpdir(), "oov.jsonl");
    write_text(ll_test_tmpdir(), "oov.jsonl", "[1, 2, 3]\n[4, 128, 5]\n");
    cli_fails(d, bad, "oov.jsonl");
    cli_fails(d, bad, "128");
    ll_path_join(bad, sizeof bad, ll_test_tmpdir(), "empty.jsonl");
    write_text(ll_test_tmpdir(), "empty.jsonl", "");
    cli_fails(d, bad, "empty.jsonl");
    ll_path_join(bad, sizeof bad, ll_test_tmpdir(), "garbled.jsonl");
    write_text(ll_test_tmpdir(), "garbled.jsonl", "[1, 2, 3]\n[4, x]\n");
    cli_fails(d, bad, "line 2");
    ll_path_join(bad, sizeof bad, ll_test_tmpdir(), "neg.jsonl");
    write_text(ll_test_tmpdir(), "neg.jsonl", "[1, -2, 3]\n");
    cli_fails(d, bad, "neg.jsonl");
    cli_fails(d, "/nonexistent/tokens.jsonl", "/nonexistent/tokens.jsonl");
    cli_fails("/nonexistent/model", tok, "/nonexistent/model");
}
