/* The loader accounts for every tensor, and config values are checked where
 * they are read: checkpoints built here from the fixtures with an extra,
 * a missing or a non-finite tensor, and configs with one bad value each.
 * Every rejection is one line naming the file and the key or tensor. */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "harness.h"
#include "io/safetensors.h"
#include "st_writer.h"
#include "model/model.h"

static const char *fx(const char *name) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "tests/fixtures/models/%s", name);
    return buf[k];
}

/* DIR = tmp/sub with the fixture's config.json and a rewritten
 * model.safetensors: without `drop`, with an extra F32 tensor `add` (a copy
 * of the fixture's first 1-D tensor), with the first value of `poison` set
 * to NaN (each may be NULL). */
static const char *rewrite(const char *fixture, const char *sub, const char *drop, const char *add, const char *poison) {
    static char dir[1024];
    ll_path_join(dir, sizeof dir, ll_test_tmpdir(), sub);
    ll_mkdirs(dir);
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/config.json", fx(fixture));
    snprintf(b, sizeof b, "%s/config.json", dir);
    size_t len;
    char *txt = ll_read_file(a, &len);
    if (!txt || ll_write_file_atomic(b, txt, len)) return NULL;
    free(txt);
    snprintf(a, sizeof a, "%s/model.safetensors", fx(fixture));
    ll_safetensors st;
    if (ll_st_open_file(&st, a)) return NULL;
    const ll_st_tensor *extra = NULL;
    for (int i = 0; i < st.n_tensors && add; i++)
        if (st.tensors[i].ndim == 1 && st.tensors[i].dtype == LL_ST_F32) { extra = &st.tensors[i]; break; }
    if (add && !extra) return NULL;
    st_entry *es = calloc((size_t)st.n_tensors + 1, sizeof *es);
    char *poisoned = NULL;
    int n = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const ll_st_tensor *t = &st.tensors[i];
        if (drop && !strcmp(t->name, drop)) continue;
        es[n] = st_entry_of(t);
        if (poison && !strcmp(t->name, poison)) {
            poisoned = malloc(t->nbytes);
            memcpy(poisoned, t->data, t->nbytes);
            if (t->dtype == LL_ST_F32) { float v = NAN; memcpy(poisoned, &v, 4); }
            else { poisoned[0] = (char)0xc0; poisoned[1] = (char)0x7f; } /* bf16 NaN (little endian 0x7fc0) */
            es[n].data = poisoned;
        }
        n++;
    }
    if (add) {
        es[n] = st_entry_of(extra);
        es[n++].name = add;
    }
    snprintf(b, sizeof b, "%s/model.safetensors", dir);
    st_write(b, es, n);
    free(es);
    free(poisoned);
    ll_st_close(&st);
    return dir;
}

static void load_fails(const char *dir, const char *needle1, const char *needle2) {
    ll_model *m = ll_model_load(dir);
    CHECK_MSG(m == NULL, "%s loaded", dir);
    if (m) { ll_model_free(m); return; }
    CHECK_MSG(strstr(ll_last_error(), needle1) != NULL, "error '%s' lacks '%s'", ll_last_error(), needle1);
    if (needle2) CHECK_MSG(strstr(ll_last_error(), needle2) != NULL, "error '%s' lacks '%s'", ll_last_error(), needle2);
    CHECK(strchr(ll_last_error(), '\n') == NULL);
}

TEST(model_checks_every_tensor_accounted) {
    const char *d = rewrite("llama_gqa", "extra", NULL, "model.layers.0.self_attn.extra.weight", NULL);
    REQUIRE(d);
    load_fails(d, "tensor 'model.layers.0.self_attn.extra.weight' is not used by the llama model", "model.safetensors");
    /* a bias the config does not ask for (attention_bias false): HF ignores it, so do we not */
    d = rewrite("llama_gqa", "stray_bias", NULL, "model.layers.1.self_attn.o_proj.bias", NULL);
    load_fails(d, "model.layers.1.self_attn.o_proj.bias", "not used");
    d = rewrite("mamba", "mamba_extra", NULL, "backbone.layers.2.mixer.in_proj.bias", NULL);
    load_fails(d, "backbone.layers.2.mixer.in_proj.bias", "not used by the mamba model");
    d = rewrite("rwkv", "rwkv_missing", "rwkv.blocks.1.attention.time_first", NULL, NULL);
    load_fails(d, "rwkv.blocks.1.attention.time_first", "missing");
    d = rewrite("gpt2", "gpt2_missing", "transformer.wpe.weight", NULL, NULL);
    load_fails(d, "transformer.wpe.weight", "missing");
    /* known-harmless tensors load */
    const char *ok[][2] = {{"gpt2", "transformer.h.0.attn.bias"},
                           {"gpt2", "transformer.h.1.attn.masked_bias"},
                           {"gpt2", "lm_head.weight"},
                           {"llama_gqa", "model.layers.0.self_attn.rotary_emb.inv_freq"},
                           {"neox_parallel", "gpt_neox.layers.0.attention.rotary_emb.inv_freq"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        d = rewrite(ok[i][0], "harmless", NULL, ok[i][1], NULL);
        REQUIRE(d);
        ll_model *m = ll_model_load(d);
        CHECK_MSG(m != NULL, "%s + %s: %s", ok[i][0], ok[i][1], ll_last_error());
        ll_model_free(m);
    }
}

TEST(model_checks_nonfinite_weights) {
    const char *d = rewrite("gpt2", "nan", NULL, NULL, "transformer.h.1.mlp.c_fc.weight");
    REQUIRE(d);
    load_fails(d, "transformer.h.1.mlp.c_fc.weight", "non-finite");
    d = rewrite("llama_bf16", "nan_bf16", NULL, NULL, "model.layers.0.self_attn.k_proj.weight");
    load_fails(d, "model.layers.0.self_attn.k_proj.weight", "non-finite");
    ll_load_opts keep = {1};
    ll_model *m = ll_model_load_ex(d, &keep);
    CHECK(m == NULL);
    CHECK(strstr(ll_last_error(), "non-finite") != NULL);
    ll_model_free(m);
}

/* A folder with the fixture's config.json changed by `edit` (a JSON object
 * merged into it; null values delete the key), no weights: the config is
 * rejected before any weight file is opened. */
static const char *config_with(const char *fixture, const char *edit) {
    static char dir[1024];
    static int k;
    char sub[64];
    snprintf(sub, sizeof sub, "cfg%d", k++);
    ll_path_join(dir, sizeof dir, ll_test_tmpdir(), sub);
    ll_mkdirs(dir);
    char a[1200];
    snprintf(a, sizeof a, "%s/config.json", fx(fixture));
    size_t n;
    char *txt = ll_read_file(a, &n);
    cJSON *root = cJSON_Parse(txt);
    free(txt);
    cJSON *e = cJSON_Parse(edit);
    for (cJSON *it = e ? e->child : NULL; it; it = it->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, it->string);
        if (!cJSON_IsNull(it)) cJSON_AddItemToObject(root, it->string, cJSON_Duplicate(it, 1));
    }
    char *out = cJSON_Print(root);
    snprintf(a, sizeof a, "%s/config.json", dir);
    ll_write_file_atomic(a, out, strlen(out));
    free(out);
    cJSON_Delete(root);
    cJSON_Delete(e);
    return dir;
}

TEST(model_checks_config_values) {
    struct { const char *fixture, *edit, *needle; } c[] = {
        {"llama_gqa", "{\"num_hidden_layers\": 1000000000}", "'num_hidden_layers' is 1000000000"},
        {"gpt2", "{\"n_layer\": 1000000000}", "'n_layer' is 1000000000"},
        {"gpt2", "{\"n_embd\": 1073741824}", "'n_embd' is 1073741824"},           /* 4 * n_embd overflows int */
        {"rwkv", "{\"hidden_size\": 1073741824}", "'hidden_size' is 1073741824"},  /* 4 * C */
        {"mamba", "{\"hidden_size\": 65536, \"expand\": 65536, \"intermediate_size\": null}", "'expand'"},
        {"llama_gqa", "{\"head_dim\": 0}", "'head_dim' is 0 (must be positive)"},
        {"llama_gqa", "{\"hidden_size\": -32}", "'hidden_size' is -32 (must be positive)"},
        {"gpt2", "{\"n_head\": 0}", "'n_head' is 0 (must be positive)"},
        {"llama_gqa", "{\"vocab_size\": 0}", "'vocab_size' is 0"},
        {"llama_gqa", "{\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 0}}", "rope_theta' is 0"},
        {"llama_gqa", "{\"rope_parameters\": null, \"rope_theta\": -5}", "'rope_theta' is -5"},
        {"llama_gqa", "{\"rope_parameters\": {\"rope_type\": \"linear\", \"factor\": 0, \"rope_theta\": 10000}}",
         "factor' is 0"},
        {"llama_gqa", "{\"rope_parameters\": null, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": -8}}",
         "'rope_scaling.factor' is -8"},
        {"mistral", "{\"sliding_window\": -1}", "'sliding_window' is -1 (must not be negative)"},
        {"neox_parallel", "{\"rope_parameters\": {\"rope_type\": \"default\", \"partial_rotary_factor\": 1.5}}",
         "exceed the head size"},
        {"neox_parallel", "{\"rope_parameters\": null, \"rotary_pct\": -0.25}", "'rotary_pct' is -0.25 (must not be negative)"},
        {"mamba", "{\"state_size\": 0}", "'state_size' is 0"},
        {"mamba", "{\"time_step_rank\": -2}", "'time_step_rank' is -2"},
        {"rwkv", "{\"rescale_every\": -1}", "'rescale_every' is -1"},
        {"gpt2", "{\"layer_norm_epsilon\": -1e-5}", "epsilon"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const char *d = config_with(c[i].fixture, c[i].edit);
        load_fails(d, "config.json", c[i].needle);
    }
}
