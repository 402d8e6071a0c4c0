/* Shared building blocks of the transformer families (gpt2, gpt_neox, llama,
 * mistral, qwen2 and whatever comes next): a family file describes its block
 * with an ll_tf_spec (how q/k/v are laid out, which FFN, learned positions)
 * and composes these pieces, in the spirit of llama.cpp's build_norm /
 * build_attn / build_ffn; nothing here tests which family it is.
 *
 * Per-layer weights are the ll_tf_layer views of model.h (m->layers).
 *
 * Dimension letters: B batch rows, T padded length, N = B·T rows, C hidden
 * size, H query heads, G kv heads, D head dim, F MLP inner size, L layers. */
#ifndef LL_FAMILIES_TF_BLOCKS_H
#define LL_FAMILIES_TF_BLOCKS_H
#include "model/config.h"
#include "model/model.h"

typedef enum {
    LL_TF_QKV_SEPARATE = 0, /* q, k, v projections (fused into one view when adjacent) into [N, Q | KV | KV] */
    LL_TF_QKV_FUSED_BLOCKS, /* one [3C, C] projection, output q | k | v (gpt2 c_attn) */
    LL_TF_QKV_FUSED_HEADS,  /* one [3C, C] projection, output per head [q_h k_h v_h] (gpt_neox) */
} ll_tf_qkv_layout;

typedef enum {
    LL_TF_FFN_MLP = 0, /* down(act(up(x))) */
    LL_TF_FFN_GATED,   /* down(act(gate(x)) ⊙ up(x))  (SwiGLU for act = silu) */
} ll_tf_ffn_kind;

typedef struct {
    ll_tf_qkv_layout qkv;
    ll_tf_ffn_kind ffn;
    int learned_positions; /* entry 0 adds m->pos_embed[position] (gpt2) */
    /* A second RoPE table chosen PER SEQUENCE (Phi-3 longrope: long factors
     * for a sequence longer than rope_alt_after tokens).  NULL: m->inv_freq
     * for every sequence.  The choice depends only on the sequence's own
     * length, never on the batch it shares (the authors run each alone). */
    const float *rope_alt;  /* [rot_dims/2] backend memory */
    int rope_alt_after;
} ll_tf_spec;

/* ---- config ---- */
/* After the family has read d_model, n_head, n_kv_head (and, where it has
 * them, head_dim): checks the heads (positive, n_head a multiple of
 * n_kv_head), reads "head_dim" (default d_model / n_head) and checks it. */
int ll_tf_heads(ll_model *m, ll_config *r);
/* Reads the RoPE keys into m->cfg (rotary_dims, rope_theta, rope_scaling). */
int ll_tf_rope(ll_model *m, ll_config *r, double def_partial, double def_theta);

/* ---- prepare ---- */
/* inv_freq (m->inv_freq, declared with ll_loader_scratch) as HF computes it in
 * float32, with linear / llama3 scaling. */
int ll_tf_prepare_rope(ll_model *m);
/* q, k, v (and their biases) back to back in the arena: viewed as one fused
 * [Q+2KV, C] projection (one sgemm, no copies). */
void ll_tf_fuse_qkv(ll_model *m);

/* ---- forward ---- */
/* The whole forward of a pre-norm transformer: entry 0 = embeddings (+
 * positions), entries 1..L-1 = block outputs, entry L = final norm of block L. */
int ll_tf_forward(ll_model *m, const ll_tf_spec *spec, const ll_ops *ops, void *ctx, const int32_t *tokens,
                  const int *lens, int B, int T, ll_capture *cap, float *state, float *logits);

/* ---- reporting ---- */
void ll_tf_describe(const ll_model *m, cJSON *obj);
/* Cost per entry (family.h ll_cost) for a block of this spec: embedding lookup
 * (entry 0), per block q/k/v/o projections, causal attention averaged over
 * positions (window-limited), the FFN; final norm folded into the last. */
int ll_tf_cost(const ll_model *m, const ll_tf_spec *spec, int T, ll_cost *per_entry);
/* Mean number of keys a causal query attends to over positions 0..T-1 with a
 * window (0 = none). */
double ll_tf_mean_keys(int T, int window);
#endif
