/* HF checkpoints: config, weights (views into one arena, loaded by their HF
 * names from safetensors) and the per-family forward pass with fused
 * hidden-state capture.
 *
 * Families.  Each architecture is one ll_family (host/model/family.h) in ONE
 * file host/families/<name>.c, registered by one line in
 * host/families/list.h; this file and model.c never test which family a
 * model is.  The "how to add a family" recipe is in docs/families.md.
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
#include "model/family.h"
#include "probe/probe.h"   /* ll_norm */

/* The config fields shared by the families (what the shared blocks of
 * host/families/tf_blocks.c and the generic code read).  A family with keys
 * nobody else has keeps them in its own struct on m->family_data. */
typedef struct {
    char model_type[32];
    int n_layer;      /* L */
    int d_model;      /* hidden size C */
    int n_head, n_kv_head, head_dim;
    int d_ff;         /* MLP / feed-forward inner size */
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
    /* appended for gemma / gemma2 / qwen3 (0 = off) */
    double embed_scale;   /* entry 0 = embeddings · embed_scale (gemma: sqrt(hidden) in float32) */
    double attn_softcap;  /* gemma2 attn_logit_softcapping */
    int window_alternate; /* 1: the sliding window only on even layers (gemma2 layer_types) */
} ll_model_config;

/* Views of one transformer block (absent tensors: data == NULL).  Vectors
 * (norm weights, biases) are F32 always; matrices may be F16/BF16 when loaded
 * with keep_half. */
typedef struct {
    ll_weight ln1_w, ln1_b, ln2_w, ln2_b;
    ll_weight qkv, qkv_b;          /* fused: gpt2 c_attn (transposed to [3C, C]), neox query_key_value */
    ll_weight q, k, v, q_b, k_b, v_b; /* separate: llama, mistral, qwen2 */
    ll_weight o, o_b;
    ll_weight up, up_b, gate, gate_b, down, down_b; /* gpt2: c_fc = up, c_proj = down */
    /* appended (absent: data NULL) */
    ll_weight q_norm, k_norm;               /* per-head RMSNorm of q and k before RoPE (qwen3) */
    ll_weight post_attn_norm, post_ffn_norm; /* sandwich norms on the branch outputs (gemma2) */
    ll_weight q_norm_b, k_norm_b;           /* with cfg.norm LayerNorm: q/k norms are LayerNorms (phi qk_layernorm) */
} ll_tf_layer;

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
    size_t n_params_top; /* of n_params: the model-level tensors (not in a layer) */
    /* Layer (pipeline) parallel (ll_load_opts.layer_first/end): this
     * process holds and runs layers [stage_first, stage_end) only (0, L:
     * the whole model); the residual stream crosses a stage boundary
     * through stage_recv / stage_send (set by the run pipeline). */
    int stage_first, stage_end;
    int (*stage_recv)(void *u, const ll_ops *ops, void *ctx, float *x, size_t n);
    int (*stage_send)(void *u, const ll_ops *ops, void *ctx, const float *x, size_t n);
    void *stage_u;
};

typedef struct {
    int keep_half; /* 1: matrices stored as in the file (F16/BF16) for a GPU backend; 0: all F32 */
    /* layer (pipeline) parallel: load only layers [layer_first, layer_end)
     * (both 0: every layer).  The other layers' tensors are checked (name,
     * shape, dtype) but not read; model-level tensors (embeddings, final
     * norm) are loaded by every stage.  Refused (-1 + error) for families
     * without layer_split. */
    int layer_first, layer_end;
    /* or: stage `stage` of `n_stages` (> 1) takes layers
     * [stage*L/n_stages, (stage+1)*L/n_stages) — equal blocks */
    int stage, n_stages;
} ll_load_opts;

/* Loads DIR/config.json and DIR/model.safetensors (or the shards listed in
 * DIR/model.safetensors.index.json).  NULL + ll_set_error on failure. */
ll_model *ll_model_load(const char *dir);
/* Checks a right-padded batch: 1 <= lens[b] <= T, every real id < vocab.
 * 0, or -1 with an error naming the model folder. */
int ll_model_check_batch(const ll_model *m, const int32_t *tokens, const int *lens, int B, int T);
ll_model *ll_model_load_ex(const char *dir, const ll_load_opts *opts);
/* Like ll_model_load_ex with the tensors already open in `store` (an
 * ll_safetensors *, e.g. a GGUF file renamed with ll_family_rename_gguf;
 * taken over: closed by this call) and DIR/config.json for the config;
 * `where` names the weights in errors. */
ll_model *ll_model_load_st(const char *dir, void *store, const char *where, const ll_load_opts *opts);
void ll_model_free(ll_model *m);
/* Number of hidden-state entries (L + 1) and their width (C). */
int ll_model_n_entries(const ll_model *m);
int ll_model_dim(const ll_model *m);
/* The fresh norm the authors apply for --norm initialized: LayerNorm for
 * gpt2/gpt_neox/rwkv, RMSNorm for llama/mistral/qwen2/mamba; *eps = config eps.
 * A family may answer LL_NORM_NONE (no fresh norm). */
ll_norm ll_model_fresh_norm(const ll_model *m, double *eps);
/* The law.json "model" object: dir, model_type, n_layers, hidden_size,
 * vocab_size, n_entries, n_params, norm, norm_eps + the family's own keys. */
cJSON *ll_model_describe(const ll_model *m);
/* Per-token cost of each entry at sequence length T (see ll_cost in
 * family.h): per_entry[0..E-1].  Entry 0 of a transformer is the embedding
 * lookup; the final norm is folded into the last entry.  0 / -1 + error. */
int ll_model_cost(const ll_model *m, int T, ll_cost *per_entry);
/* Entry 0 = the token embeddings (rwkv, mamba; HF's default starts with block
 * 1's output).  -1 + error naming the model for families without it. */
int ll_model_set_embedding_entry(ll_model *m, int on);
/* Longest sequence the model accepts (0 = unlimited; gpt2: n_positions). */
int ll_model_max_positions(const ll_model *m);
/* A model with every tensor the family binds filled with reproducible random
 * values at the config's real shapes, no weight file (for throughput runs of
 * large shapes): matrices uniform with std 1/sqrt(fan_in), 1-D `*.weight`
 * tensors (norm weights) 1, other vectors uniform with std 1/sqrt(n) ·
 * 0.1.  Optional tensors the config does not ask for are absent.  Values
 * depend only on (seed, tensor name).  dir = the config's folder.
 * keep_half: matrices in BF16.  NULL + error. */
ll_model *ll_model_synthetic(const char *config_json_path, const ll_load_opts *opts, uint64_t seed);
/* Copies the weights to the backend's memory (no-op for host backends). */
int ll_model_upload(ll_model *m, const ll_ops *ops, void *ctx);

/* Runs the model on a right-padded batch: tokens [B, T] (host memory), lens[b]
 * real lengths (1..T; positions >= lens[b] are padding, their ids ignored).
 * Results on real positions equal the unpadded run.  Token ids must be in
 * [0, vocab) on real positions (checked: -1 + error).  Every entry goes to
 * cap (cap may be NULL: pure throughput).  0 / -1 + error. */
int ll_model_forward(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens,
                     int B, int T, ll_capture *cap);

/* Recurrent state of B sequences (families with family->state: rwkv, mamba),
 * backend memory.  Zero state = the start of a sequence.  NULL + error for
 * families without one. */
typedef struct ll_model_state ll_model_state;
ll_model_state *ll_model_state_new(ll_model *m, const ll_ops *ops, void *ctx, int B);
void ll_model_state_free(ll_model_state *s);
/* ll_model_forward plus:
 *   state: NULL (start from zero, keep nothing) or a state for the same B,
 *     continued and updated (every row is advanced T steps, padding included:
 *     pass T = 1, lens = 1 for token-by-token recurrent mode);
 *   logits: NULL, or HOST memory [B*T, vocab] receiving the LM head's output
 *     (families that have one: rwkv, mamba). */
int ll_model_forward_ex(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B,
                        int T, ll_capture *cap, ll_model_state *state, float *logits);

/* ---- layer (pipeline) parallel ---- */
/* The entries the model's stage (layers [stage_first, stage_end)) emits:
 * [*e_lo, *e_hi] (the first stage has entry 0, the last the final entry). */
void ll_model_stage_entries(const ll_model *m, int *e_lo, int *e_hi);
/* 1 if layer l's weights are loaded here (inside the stage's range). */
int ll_model_layer_loaded(const ll_model *m, int l);

/* ---- for family implementations ---- */
#define LL_LOAD_OPTIONAL 1  /* absent → data NULL, no error */
#define LL_LOAD_TRANSPOSE 2 /* stored [in, out] (GPT-2 Conv1D): loaded as [out, in] */
#define LL_LOAD_F32 4       /* always F32 (vectors; implied for 1-D tensors) */
/* Declares tensor `name` with the expected shape (ndim dims, as stored in the
 * file); *dst is filled when the arena is built.  Missing (not OPTIONAL) or a
 * shape mismatch: -1 + "DIR: tensor 'name' ..." error. */
int ll_loader_want(ll_loader *ld, ll_weight *dst, const char *name, int ndim, const int64_t *shape, int flags);
/* Shapes for ll_loader_want: SHAPE2(rows, cols) expands to "2, (int64_t[]){rows, cols}". */
#define SHAPE1(a) 1, (int64_t[]){(a)}
#define SHAPE2(a, b) 2, (int64_t[]){(a), (b)}
#define SHAPE3(a, b, c) 3, (int64_t[]){(a), (b), (c)}
/* Declares the tensor of a role (family.h ll_tensor_role; its HF name with
 * the layer filled in and the checkpoint's model prefix, see
 * family->hf_prefix).  As ll_loader_want. */
int ll_bind(ll_loader *ld, ll_weight *dst, const ll_tensor_role *role, int layer, int ndim, const int64_t *shape,
            int flags);
/* ll_loader_want by a printf-style name. */
int ll_loader_wantf(ll_loader *ld, ll_weight *dst, int ndim, const int64_t *shape, int flags, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
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
/* Bytes of one weight as stored in the arena (0 when absent), for costs. */
double ll_weight_bytes(const ll_weight *w);
/* Uploads ids with padding (t >= lens[b]) replaced by 0 into d_ids (backend memory [B*T]). */
void ll_model_upload_ids(const ll_ops *ops, void *ctx, int32_t *d_ids, const int32_t *tokens, const int *lens, int B,
                         int T);
/* Fails with "BACKEND has no 'op' op (needed by MODEL_TYPE)" when the op table
 * lacks an entry; use as NEED(op) with `ops` and `m` in scope. */
#define LL_NEED(op)                                                                                         \
    do {                                                                                                    \
        if (!ops->op) {                                                                                     \
            ll_set_error("%s: backend '%s' has no '%s' op (needed by %s)", m->dir, ops->name, #op,          \
                         m->cfg.model_type);                                                                \
            return -1;                                                                                      \
        }                                                                                                   \
    } while (0)
/* Workspace carving: LL_CARVE(off, name, floats) declares size_t o_name = off
 * and advances off by the floats' bytes rounded up to 256. */
#define LL_CARVE(off, name, cnt)                                                                            \
    size_t o_##name = (off);                                                                                \
    (off) += (((size_t)(cnt) * sizeof(float)) + 255) & ~(size_t)255
/* Layer parallel, inside a family forward (see family.h layer_split).
 * Before the embeddings: 0 run them (first stage), 1 x [n floats, backend
 * memory] holds the residual stream entering layer m->stage_first,
 * received from the previous stage (skip the embeddings and entry 0),
 * -1 error.  After layer l (its entry emitted): 0 go on, 1 l was the
 * stage's last layer and x went to the next stage (return), -1 error. */
int ll_model_stage_begin(ll_model *m, const ll_ops *ops, void *ctx, float *x, size_t n);
int ll_model_stage_after(ll_model *m, const ll_ops *ops, void *ctx, int l, const float *x, size_t n);
/* ll_model_stage_after in a forward (with m, ops and ctx in scope): returns
 * -1 on error, and the forward's own end (the sync) when the stage ends here. */
#define LL_STAGE_AFTER(l, x, n)                                                                             \
    do {                                                                                                    \
        const int ll_sa_ = ll_model_stage_after(m, ops, ctx, (l), (x), (n));                                \
        if (ll_sa_ < 0) return -1;                                                                          \
        if (ll_sa_) return ops->sync ? ops->sync(ctx) : 0; /* the next stage goes on */                    \
    } while (0)
/* Hands entry e (backend memory [B*T, C]) to the capture; downloads first on
 * device backends. */
int ll_model_emit(ll_model *m, const ll_ops *ops, void *ctx, ll_capture *cap, int e, const float *h,
                  const int32_t *tokens_host, const int *lens_host, int B, int T);
#endif
