/* Reading a family's keys from config.json.
 *
 * A family's parse_config gets an ll_config (the parsed file and its path)
 * and reads its own keys with these readers.  Every reader records the FIRST
 * problem as a one-line error "PATH: 'key' ..." (ll_set_error) and sets
 * r->err; later readers are no-ops that return their default, so a family
 * reads all its keys and checks ll_cfg_ok(r) once at the end.
 *
 * Sizes and counts are bounded where they are read (ll_cfg_size): a value
 * outside [lo, hi] is reported naming the key, before anything is allocated. */
#ifndef LL_MODEL_CONFIG_H
#define LL_MODEL_CONFIG_H
#include <cJSON.h>
#include <stdint.h>

typedef struct {
    cJSON *root;
    const char *path; /* DIR/config.json, for errors */
    int err;
} ll_config;

#define LL_CFG_REQUIRED INT32_MIN /* as `def`: the key must be present */

/* Records "PATH: <message>" as the error (if none is recorded yet); returns -1. */
int ll_cfg_fail(ll_config *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0 when no reader failed, else -1 (the error is set). */
int ll_cfg_ok(const ll_config *r);
/* The item (NULL when absent or JSON null). */
cJSON *ll_cfg_item(ll_config *r, const char *key);
/* 1 when the key is present (not null). */
int ll_cfg_has(ll_config *r, const char *key);
/* Integer under `key`, or under `alt` (NULL: none) when `key` is absent; def
 * when neither (LL_CFG_REQUIRED: "missing key"). */
int ll_cfg_int(ll_config *r, const char *key, const char *alt, int def);
/* Like ll_cfg_int, and the value must lie in [lo, hi]: "PATH: 'key' is V
 * (must be between lo and hi)" or "... must be positive" when lo = 1 and the
 * value is <= 0.  Use for every size and count. */
int ll_cfg_size(ll_config *r, const char *key, const char *alt, int def, int lo, int hi);
/* Number in obj (NULL: the top level) under key; def when absent. */
double ll_cfg_num(ll_config *r, cJSON *obj, const char *key, double def);
/* Boolean (true/false or a number); def when absent. */
int ll_cfg_bool(ll_config *r, const char *key, int def);
/* String under key, or def when absent. */
const char *ll_cfg_str(ll_config *r, const char *key, const char *def);

/* Activation by its HF name (hidden_act / activation_function). */
typedef enum { LL_ACT_GELU_TANH = 0, LL_ACT_GELU_ERF, LL_ACT_SILU, LL_ACT_RELU } ll_act;
int ll_cfg_act(ll_config *r, const char *key, const char *def, ll_act *out);
const char *ll_act_name(ll_act a);

/* RoPE settings (theta, rotary dims, scaling). */
typedef enum { LL_ROPE_SCALING_NONE = 0, LL_ROPE_SCALING_LLAMA3, LL_ROPE_SCALING_LINEAR } ll_rope_scaling_type;
typedef struct {
    int rotary_dims; /* dims per head that rotate (0: no RoPE) */
    double theta;
    ll_rope_scaling_type type;
    double factor, low_freq_factor, high_freq_factor;
    int original_max_pos;
} ll_rope_cfg;
/* Reads rope_parameters (transformers v5) or rope_theta / rope_scaling /
 * rotary_pct / partial_rotary_factor / rotary_emb_base (v4) for heads of
 * head_dim; def_partial, def_theta are the family's defaults.  Checks theta > 0,
 * scaling factor > 0 and 0 <= rotary dims <= head_dim. */
int ll_cfg_rope(ll_config *r, int head_dim, double def_partial, double def_theta, ll_rope_cfg *out);

/* Upper bounds for sizes read from configs: generous for real models (the
 * largest public ones have ~1e5 hidden size, ~1e6 vocab, ~1e3 layers) and
 * small enough that products of two stay far from overflow in int64. */
#define LL_CFG_MAX_LAYERS 100000
#define LL_CFG_MAX_DIM (1 << 24)
#define LL_CFG_MAX_VOCAB (1 << 26)
#endif
