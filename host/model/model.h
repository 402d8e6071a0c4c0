/* HF checkpoints: config, weights (views into one arena, loaded by their HF
 * names from safetensors) and the per-family forward pass with fused
 * hidden-state capture.
 *
 * Families.  Each architecture is one ll_family: a `bind` function that
 * declares the tensors it needs (by HF name and expected shape) to the
 * loader, and a `forward` written only against the op table (host/ops/ops.h).
 * Transformer families (gpt2, gpt_neox, llama, mistral, qwen2) live in
 * host/forward.c and use ll_tf_layer.  To add a family (rwkv, mamba, ...):
 *   1. write host/forward_<name>.c defining `const ll_family ll_family_<name>`
 *      (bind + forward; keep per-layer views in your own struct hung on
 *      m->family_data, allocated with malloc, freed by ll_model_free);
 *   2. add ONE line `&ll_family_<name>,` to the table `ll_families[]` in
 *      host/model/model.c (the externs below are already declared).
 * Config fields of every family are parsed by host/model/model.c (ll_model_config).
 *
 * Hidden-state entries (exactly HF's output_hidden_states tuple, see
 * REFERENCE.md): E = L + 1 for every family.  The forward calls
 * cap->on_entry(cap, e, h, tokens, lens, B, T, C) for e = 0..E-1 in order,
 * h = [B, T, C] float32 in HOST memory (a device backend downloads first). */
#ifndef LL_MODEL_H
#define LL_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "ops/ops.h"
#include "probe/probe.h"   /* ll_norm */
typedef struct ll_capture ll_capture; /* host/capture/capture.h */

typedef enum {
    LL_ARCH_GPT2 = 0,
    LL_ARCH_GPT_NEOX,
    LL_ARCH_LLAMA,
    LL_ARCH_MISTRAL,
    LL_ARCH_QWEN2,
    LL_ARCH_RWKV,
    LL_ARCH_MAMBA,
    LL_ARCH_COUNT
} ll_arch;
const char *ll_arch_name(ll_arch a); /* the HF model_type */

typedef enum { LL_ACT_GELU_TANH = 0, LL_ACT_GELU_ERF, LL_ACT_SILU, LL_ACT_RELU } ll_act;

typedef enum { LL_ROPE_SCALING_NONE = 0, LL_ROPE_SCALING_LLAMA3, LL_ROPE_SCALING_LINEAR } ll_rope_scaling_type;

typedef struct {
    ll_arch arch;
    char model_type[32];
    int n_layer;      /* L */
    int d_model;      /* hidden size C */
    int n_head, n_kv_head, head_dim;
    int d_ff;         /* MLP inner size (transformers); RWKV intermediate_size (null → 4C) */
    int vocab;
    int max_pos;      /* max_position_embeddings / n_positions / context_length (0 unknown) */
    ll_act act;
    /* rotary */
    int rotary_dims;  /* dims per head that rotate (0: no RoPE) */
    double rope_theta;
    struct {
        ll_rope_scaling_type type;
        double factor, low_freq_factor, high_freq_factor;
        int original_max_pos;
    } rope_scaling;
    /* block structure */
    int parallel_residual; /* gpt_neox use_parallel_residual */
    ll_norm norm;          /* the model's norm kind: LL_NORM_LAYERNORM or LL_NORM_RMSNORM */
    double norm_eps;
    int qkv_bias;          /* q/k/v projections have biases (gpt2, neox, qwen2, llama attention_bias) */
    int o_bias;            /* attention output bias */
    int mlp_bias;          /* MLP biases */
    int tie_embeddings;
    int sliding_window;    /* > 0: attention window (mistral; qwen2 with use_sliding_window) */
    int window_from_layer; /* the window applies to layers >= this (qwen2 max_window_layers) */
    double attn_scale_mult; /* multiplies 1/sqrt(hd) (1) */
    int scale_attn_by_inverse_layer_idx; /* gpt2 option */
    /* RWKV-4 */
    int attention_hidden_size; /* null → C */
    int rescale_every;         /* 6 by default; 0 = never */
    /* Mamba */
    int d_state, d_conv, expand, d_inner, dt_rank;
    int use_bias, use_conv_bias, residual_in_fp32;
} ll_model_config;

/* Views of one transformer block (absent tensors: data == NULL).  Vectors
 * (norm weights, biases) are F32 always; matrices may be F16/BF16 when loaded
 * with keep_half. */
typedef struct {
    ll_weight ln1_w, ln1_b, ln2_w, ln2_b;
    ll_weight qkv, qkv_b;          /* fused: gpt2 c_attn (transposed to [3C, C]), neox query_key_value */
    ll_weight q, k, v, q_b, k_b, v_b; /* separate: llama, mistral, qwen2 */
    ll_weight o, o_b;
    ll_weight up, up_b, gate, down, down_b; /* gpt2: c_fc = up, c_proj = down */
} ll_tf_layer;

typedef struct ll_model ll_model;
typedef struct ll_loader ll_loader;

typedef struct ll_family {
    ll_arch arch;
    const char *model_type;
    /* Declares every tensor to the loader (ll_loader_want).  0 / -1 + error. */
    int (*bind)(ll_model *m, ll_loader *ld);
    /* Called after the weights are in place (may be NULL): derived tables. */
    int (*prepare)(ll_model *m);
    int (*forward)(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens,
                   int B, int T, ll_capture *cap);
} ll_family;
extern const ll_family ll_family_gpt2, ll_family_gpt_neox, ll_family_llama, ll_family_mistral,
    ll_family_qwen2, ll_family_rwkv, ll_family_mamba;

struct ll_model {
    ll_model_config cfg;
    const ll_family *family;
    char *dir;
    /* weights: every ll_weight below (and in family_data) points into arena */
    void *arena;
    size_t arena_bytes;
    ll_weight embed;       /* [V, C] wte / embed_in / embed_tokens / embeddings */
    ll_weight pos_embed;   /* [max_pos, C] gpt2 wpe */
    ll_weight norm_w, norm_b; /* final norm (ln_f, final_layer_norm, norm, ln_out, norm_f) */
    ll_weight inv_freq;    /* [rotary_dims/2] F32, computed (RoPE families) */
    ll_tf_layer *layers;   /* [L], transformer families */
    void *family_data;     /* other families' own views (free()d by ll_model_free) */
    /* every bound weight slot (for rebasing when the arena moves to a device) */
    ll_weight **slots;
    int n_slots;
    /* backend copy of the arena (ll_model_upload), NULL on host backends */
    const ll_ops *dev_ops;
    void *dev_ctx, *dev_arena;
    /* forward workspace (backend memory), grown on demand */
    void *ws;
    size_t ws_bytes;
    float *host_buf; /* download buffer for device backends */
    size_t host_buf_n;
    /* stats */
    size_t n_params;
};

typedef struct {
    int keep_half; /* 1: matrices stored as in the file (F16/BF16) for a GPU backend; 0: all F32 */
} ll_load_opts;

/* Loads DIR/config.json and DIR/model.safetensors (or the shards listed in
 * DIR/model.safetensors.index.json).  NULL + ll_set_error on failure. */
ll_model *ll_model_load(const char *dir);
/* Checks a right-padded batch: 1 <= lens[b] <= T, every real id < vocab.
 * 0, or -1 with an error naming the model folder. */
int ll_model_check_batch(const ll_model *m, const int32_t *tokens, const int *lens, int B, int T);
ll_model *ll_model_load_ex(const char *dir, const ll_load_opts *opts);
void ll_model_free(ll_model *m);
/* Number of hidden-state entries (L + 1) and their width (C). */
int ll_model_n_entries(const ll_model *m);
int ll_model_dim(const ll_model *m);
/* The fresh norm the authors apply for --norm initialized: LayerNorm for
 * gpt2/gpt_neox/rwkv, RMSNorm for llama/mistral/qwen2/mamba; *eps = config eps. */
ll_norm ll_model_fresh_norm(const ll_model *m, double *eps);
/* Copies the weights to the backend's memory (no-op for host backends). */
int ll_model_upload(ll_model *m, const ll_ops *ops, void *ctx);

/* Runs the model on a right-padded batch: tokens [B, T] (host memory), lens[b]
 * real lengths (1..T; positions >= lens[b] are padding, their ids ignored).
 * Results on real positions equal the unpadded run.  Token ids must be in
 * [0, vocab) on real positions (checked: -1 + error).  Every entry goes to
 * cap (cap may be NULL: pure throughput).  0 / -1 + error. */
int ll_model_forward(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens,
                     int B, int T, ll_capture *cap);

/* ---- for family implementations ---- */
#define LL_LOAD_OPTIONAL 1  /* absent → data NULL, no error */
#define LL_LOAD_TRANSPOSE 2 /* stored [in, out] (GPT-2 Conv1D): loaded as [out, in] */
#define LL_LOAD_F32 4       /* always F32 (vectors; implied for 1-D tensors) */
/* Declares tensor `name` with the expected shape (ndim dims, as stored in the
 * file); *dst is filled when the arena is built.  Missing (not OPTIONAL) or a
 * shape mismatch: -1 + "DIR: tensor 'name' ..." error. */
int ll_loader_want(ll_loader *ld, ll_weight *dst, const char *name, int ndim, const int64_t *shape, int flags);
/* 1 if the checkpoint has a tensor of that name. */
int ll_loader_has(const ll_loader *ld, const char *name);
/* Reserves n F32 values in the arena for a derived table; *dst is filled with
 * zeros when the arena is built (write it in family->prepare). */
void ll_loader_scratch(ll_loader *ld, ll_weight *dst, int64_t n);
/* Registers a derived view into the arena (e.g. a fused weight made in
 * family->prepare) so that ll_model_upload rebases it too. */
void ll_model_add_slot(ll_model *m, ll_weight *w);
/* Workspace of at least `bytes` in backend memory (kept in the model). */
void *ll_model_workspace(ll_model *m, const ll_ops *ops, void *ctx, size_t bytes);
/* Hands entry e (backend memory [B*T, C]) to the capture; downloads first on
 * device backends. */
int ll_model_emit(ll_model *m, const ll_ops *ops, void *ctx, ll_capture *cap, int e, const float *h,
                  const int32_t *tokens_host, const int *lens_host, int B, int T);
#endif
