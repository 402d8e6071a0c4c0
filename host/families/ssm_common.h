/* RWKV-4 and Mamba (host/families/rwkv.c, host/forward_mamba.c): what the
 * generic ll_model_forward does not cover.
 *
 * Hidden-state entries (E = L + 1 in both conventions):
 *   default (HF output_hidden_states, as the paper ran):
 *       e = 0..L-1: output of block e+1 (RWKV: after the eval-mode halving),
 *       e = L: final norm (ln_out / norm_f) of block L's output;
 *   embed_entry = 1 (transformer-style):
 *       e = 0: the token embeddings, e = 1..L-1: output of block e,
 *       e = L: final norm of block L's output
 *       (drops block L's raw output, which is the last entry up to a
 *       per-channel affine map, and adds the embeddings). */
#ifndef LL_FORWARD_SSM_H
#define LL_FORWARD_SSM_H
#include <stdint.h>
#include "model/model.h"

/* Switches the entry convention of an rwkv or mamba model (0 = HF default).
 * -1 + error for other families. */
int ll_ssm_set_embed_entry(ll_model *m, int on);
int ll_ssm_embed_entry(const ll_model *m);

/* Recurrent state of B sequences (backend memory): RWKV per layer the two
 * token-shift vectors and the WKV (num, den, max); Mamba per layer the conv
 * window and the SSM state.  Zero state = the start of a sequence. */
typedef struct ll_ssm_state ll_ssm_state;
ll_ssm_state *ll_ssm_state_new(ll_model *m, const ll_ops *ops, void *ctx, int B);
void ll_ssm_state_free(ll_ssm_state *s);

/* Like ll_model_forward for rwkv/mamba, plus:
 *   state: NULL (start from zero, keep nothing) or a state for the same B,
 *     continued and updated (every row is advanced T steps, padding included:
 *     pass T = 1, lens = 1 for token-by-token recurrent mode);
 *   logits: NULL, or HOST memory [B*T, vocab] receiving head(final norm(h))
 *     (head.weight / lm_head.weight, or the tied embeddings).
 * Token ids are checked as in ll_model_forward. */
int ll_ssm_forward(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B,
                   int T, ll_capture *cap, ll_ssm_state *state, float *logits);

/* ---- for the family files (forward_rwkv.c, forward_mamba.c, forward_ssm.c) ---- */
/* First member of both families' m->family_data. */
typedef struct { int embed_entry; } ll_ssm_common;
struct ll_ssm_state {
    ll_arch arch;
    int B;
    const ll_ops *ops;
    void *ctx;
    float *buf;   /* backend memory, layout owned by the family */
    size_t n;     /* floats */
};
/* Per-family pieces: state size and initial values (host, n floats). */
size_t ll_rwkv_state_floats(const ll_model *m, int B);
void ll_rwkv_state_init(const ll_model *m, int B, float *host);
size_t ll_mamba_state_floats(const ll_model *m, int B);
int ll_rwkv_run(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                ll_capture *cap, ll_ssm_state *st, float *logits);
int ll_mamba_run(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                 ll_capture *cap, ll_ssm_state *st, float *logits);
/* Uploads ids with padding replaced by 0 into d_ids (backend memory [B*T]). */
void ll_ssm_upload_ids(const ll_ops *ops, void *ctx, int32_t *d_ids, const int32_t *tokens, const int *lens, int B,
                       int T);
/* logits_host[N, V] = head · hfinal (hfinal backend memory [N, C]); scratch
 * backend memory [N, V]. */
int ll_ssm_logits(ll_model *m, const ll_ops *ops, void *ctx, const ll_weight *head, const float *hfinal, int N,
                  float *scratch, float *logits_host);
/* Shapes for ll_loader_want: SHAPE2(rows, cols) expands to "2, (int64_t[]){rows, cols}". */
#define SHAPE1(a) 1, (int64_t[]){(a)}
#define SHAPE2(a, b) 2, (int64_t[]){(a), (b)}
#define SHAPE3(a, b, c) 3, (int64_t[]){(a), (b), (c)}
/* Declares tensor PRE GROUP.LAYER.NAME (layer >= 0; GROUP "blocks" for RWKV,
 * "layers" for Mamba) or PRE NAME (layer < 0) to the loader. */
int ll_ssm_want(ll_loader *ld, ll_weight *w, const char *pre, const char *group, int layer, const char *name, int ndim,
                const int64_t *s, int flags);
#endif
