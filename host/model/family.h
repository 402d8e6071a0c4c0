/* The family seam: everything the rest of the program knows about one model
 * architecture is in its ll_family, defined in ONE file host/families/<name>.c
 * and registered with ONE line LL_FAMILY(<name>) in host/families/list.h.
 * Nothing outside a family file tests which family a model is.
 *
 * Lifecycle (host/model/model.c):
 *   parse_config(m, r)   reads config.json keys into m->cfg (and, for keys no
 *                        other family has, into the family's own struct hung
 *                        on m->family_data) with the readers of config.h;
 *   bind(m, ld)          declares every tensor to the loader (ll_loader_want /
 *                        ll_bind_role) by role, expected shape and flags;
 *   [the loader fills one arena; unclaimed checkpoint tensors are an error
 *    unless family->harmless says otherwise]
 *   prepare(m)           derived tables once the weights are in place;
 *   forward(...)         the forward pass written only against the op table.
 *
 * Hidden-state entries: E = L + 1, exactly HF's output_hidden_states tuple
 * (see model.h).  The forward hands entry e to ll_model_emit in order. */
#ifndef LL_MODEL_FAMILY_H
#define LL_MODEL_FAMILY_H
#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include "model/config.h"
#include "ops/ops.h"
#include "io/gguf.h"
#include "probe/probe.h" /* ll_norm */

typedef struct ll_model ll_model;
typedef struct ll_loader ll_loader;
typedef struct ll_capture ll_capture;

/* Cost of producing one hidden-state entry, per TOKEN of a batch of
 * sequences of length T (causal attention averaged over positions 0..T-1):
 *   flops         multiply-adds x 2 of every matrix product (linear layers,
 *                 attention scores and mixing) + the elementwise work of the
 *                 recurrent scans (see each family's cost);
 *   weight_bytes  bytes of the parameters the entry reads, as stored in the
 *                 model (F32 = 4, BF16/F16 = 2); read once per batch whatever
 *                 its size, so NOT divided by the tokens;
 *   act_bytes     bytes of activations written per token (4 per float). */
typedef struct {
    double flops, weight_bytes, act_bytes;
} ll_cost;

/* One tensor role: a short role name, the HF safetensors name and the GGUF
 * (llama.cpp) name, both with %d for the layer in per-layer roles (NULL:
 * no such tensor in that format).  HF names are WITHOUT the model prefix
 * ("model.", "transformer.", ...): the family's `hf_prefix` is tried first. */
typedef struct {
    const char *role, *hf, *gguf;
    int top; /* 1: the HF name is at the top level (never prefixed: lm_head.weight, head.weight) */
} ll_tensor_role;

/* State of B sequences for recurrent families (rwkv, mamba): opaque floats in
 * backend memory (see ll_model_state_new in model.h). */
typedef struct {
    size_t (*floats)(const ll_model *m, int B);
    void (*init)(const ll_model *m, int B, float *host); /* NULL: zeros */
} ll_family_state;

typedef struct ll_family {
    const char *model_type;     /* HF config.json model_type */
    const char *const *aliases; /* other model_type values it accepts (NULL-terminated), or NULL */
    const char *gguf_arch;      /* GGUF general.architecture, or NULL */
    /* tensor names (see ll_tensor_role); the model-level prefix the HF
     * checkpoints of the family may carry ("model.", "transformer.", ...) */
    const ll_tensor_role *roles;
    int n_roles;
    const char *hf_prefix;
    /* 1 if `name` (a checkpoint tensor no role claimed) may be ignored
     * (rotary caches, attention-mask buffers, the LM head).  NULL: none. */
    int (*harmless)(const char *name);

    int (*parse_config)(ll_model *m, ll_config *r);
    int (*bind)(ll_model *m, ll_loader *ld);
    int (*prepare)(ll_model *m); /* may be NULL */
    /* Runs the model (see ll_model_forward).  state: NULL, or the recurrent
     * state (only when `state` below is set); logits: NULL, or host memory
     * [B*T, vocab] (a family without a head returns -1 with an error). */
    int (*forward)(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                   ll_capture *cap, float *state, float *logits);
    const ll_family_state *state; /* NULL when the family has none */
    /* Adds the family's own keys to the law.json "model" object. */
    void (*describe)(const ll_model *m, cJSON *obj);
    /* Fills per_entry[0..E-1] (zeroed by the caller).  0 / -1. */
    int (*cost)(const ll_model *m, int T, ll_cost *per_entry);
    /* Switches entry 0 to the embeddings (NULL: not applicable). */
    int (*set_embedding_entry)(ll_model *m, int on);
    /* The authors' fresh norm for --norm initialized (NULL: m->cfg.norm with
     * the config's eps; a family may answer LL_NORM_NONE). */
    ll_norm (*fresh_norm)(const ll_model *m, double *eps);
    /* Longest sequence the model accepts (NULL or 0: unlimited). */
    int (*max_positions)(const ll_model *m);
    /* Layer (pipeline) parallel, docs/distributed.md.  1: the forward runs
     * only layers [m->stage_first, m->stage_end) — it starts with
     * ll_model_stage_begin (the residual stream of the previous stage
     * instead of the embeddings) and calls ll_model_stage_after after every
     * layer (the stream handed to the next stage ends the forward there).
     * 0: the family cannot be split (t5: encoder and decoder). */
    int layer_split;
    /* The entry the forward emits after layer l (NULL: l + 1; the last
     * layer's entry may come after a final norm). */
    int (*entry_of_layer)(const ll_model *m, int l);
    /* GGUF files (llama.cpp; docs/gguf.md).  gguf_config: adds the family's
     * keys (model_type, its own names, flags the file shows by the tensors
     * it carries) to the HF-style config that ll_gguf_hf_config made from
     * the generic <arch>.* keys; it may read any metadata and the tensor
     * list.  0 / -1 + error.  NULL: the family is not read from GGUF files
     * (refused with the list of architectures that are).  gguf_fixup: undoes
     * llama.cpp's conversion of the store's tensors (GGUF names, after
     * dequantisation) with io/gguf.h's reorders; NULL: nothing to undo. */
    int (*gguf_config)(const ll_gguf *g, cJSON *cfg);
    int (*gguf_fixup)(const ll_gguf *g, ll_safetensors *st);
    /* GGUF names whose HF counterpart differs from `roles` (tried first; the
     * same name may mean another tensor in another architecture). */
    const ll_tensor_role *gguf_roles;
    int n_gguf_roles;
} ll_family;

/* ---- the registry (host/families/registry.c) ---- */
int ll_family_count(void);
const ll_family *ll_family_at(int i);
/* By model_type or alias; NULL if none. */
const ll_family *ll_family_find(const char *model_type);
/* By GGUF general.architecture (llama, qwen2, gpt2, gptneox, mamba, ...); NULL if none. */
const ll_family *ll_family_by_gguf_arch(const char *arch);
/* "gpt2, gpt_neox, llama, ..." (every model_type, registry order). */
const char *ll_family_supported(void);
/* Renames a GGUF tensor name ("blk.3.attn_q.weight") to the family's HF name
 * ("model.layers.3.self_attn.q_proj.weight", prefix included).  0, or -1 +
 * error when no role of the family has that GGUF name or hf is too small. */
int ll_family_gguf_to_hf(const ll_family *f, const char *gguf_name, char *hf, size_t cap);
/* Renames every tensor of a store read from a GGUF file (GGUF names) to the
 * family's HF names and re-sorts it, so that ll_model_load_st binds it with
 * the family's own code.  Values are not touched (undoing llama.cpp's
 * conversions is the reader's job).  0, or -1 + "WHERE: tensor 'x' has no
 * <family> counterpart". */
int ll_family_rename_gguf(const ll_family *f, void *st /* ll_safetensors * */, const char *where);
/* "llama, qwen2, ..." — the GGUF architectures that load (gguf_config set). */
const char *ll_family_gguf_supported(void);
/* A GGUF model file: its family (by general.architecture), the HF-style
 * config (generic keys + the family's gguf_config, with "gguf_architecture")
 * and the store under the GGUF names with the family's gguf_fixup applied.
 * 0, or -1 + error naming the file.  cJSON_Delete *config; ll_st_close st. */
int ll_family_load_gguf(const char *path, ll_safetensors *st, cJSON **config, const ll_family **fam);
#endif
