/* Fused activation capture: the forward pass hands every hidden-state entry
 * of a batch to a capture sink as soon as it is computed; the sink selects the
 * examples (position j → label), normalises them and folds them into the
 * probe statistics (or dumps them).  Nothing of size N×E×d is kept. */
#ifndef LL_CAPTURE_H
#define LL_CAPTURE_H
#include <stdint.h>
#include "ops/ops.h"
#include "probe/measures.h"
#include "probe/probe.h"

typedef struct ll_capture ll_capture;
struct ll_capture {
    /* Called for entry e = 0..E-1 of each batch, in order.
     * h: [B, T, C] float32 row-major, host memory.
     * tokens: [B, T] ids; lens[b]: real length of row b (positions >= lens[b]
     * are padding and never looked at).  Returns 0, or -1 with error set. */
    int (*on_entry)(ll_capture *self, int e, const float *h, const int32_t *tokens,
                    const int *lens, int B, int T, int C);
    void *impl;
    /* Optional (NULL on host sinks): the same call with h in DEVICE memory of
     * a device backend (tokens and lens stay host memory), so that hidden
     * states never leave the GPU.  The forward calls it instead of
     * downloading when the backend is not host memory and this is set. */
    int (*on_entry_device)(ll_capture *self, int e, const float *h_dev, const int32_t *tokens,
                           const int *lens, int B, int T, int C);
};

/* Which position's feature predicts which token. */
typedef enum { LL_POS_NEXT = 0, LL_POS_CURRENT, LL_POS_PREVIOUS, LL_POS_NEXT_NEXT } ll_position;
/* The names, in ll_position order, NULL-terminated (then an empty alias
 * list: cli/opts.h's LL_OPT_CHOICE form). */
extern const char *const ll_position_names[];
int ll_position_parse(const char *s, ll_position *out);
const char *ll_position_name(ll_position p);
/* The positions j of a sequence of length len that make examples, and the
 * label offset: examples are j in [*j0, *j1), label = tokens[j + *off]. */
void ll_position_range(ll_position p, int len, int *j0, int *j1, int *off);
/* Number of examples a sequence of length len gives. */
long ll_position_count(ll_position p, int len);

/* The examples of a right-padded batch, shared by the host and device probe
 * sinks: rows[k] = b*T + j for every position j of ll_position_range, and
 * y[k] its label (token id at j + off, mapped through relabel_ids ->
 * relabel_to when given, then to its class index when cmap is given).
 * Returns the number of examples, or -1 + error (a label missing from a
 * map).  rows and y hold at least Σ ll_position_count(pos, lens[b]). */
long ll_capture_select(ll_position pos, const int32_t *tokens, const int *lens, int B, int T,
                       const ll_classmap *relabel_ids, const int64_t *relabel_to, const ll_classmap *cmap,
                       int64_t *rows, double *y);
/* Probe sink: selects the examples by position, normalises entries
 * 0..E-2 (all entries when norm_last) in float64, and folds them into st
 * (id target, or one-hot through cmap when st->target is LL_TARGET_ONEHOT).
 * Sequences of length < 2 give no example for 'next'. */
ll_capture *ll_capture_probe_new(ll_stats *st, ll_position pos, ll_norm norm, double eps,
                                 int norm_last, const ll_classmap *cmap);
/* Maps every label id through ids->ids[k] -> to[k] before it is used (the
 * shuffled-vocabulary control; not owned).  0 / -1. */
int ll_capture_probe_relabel(ll_capture *c, const ll_classmap *ids, const int64_t *to);
/* Held-out PR (docs/measures.md): the sink's examples go to the fold
 * statistics f (not owned; its ones_null is set like the sink's
 * statistics) instead of st, which the caller fills with
 * ll_folds_merge_into at the end.  Before each batch the caller names the
 * fold of every batch row (its sequence's ll_fold_of); the pointer is kept
 * until the next call.  0 / -1. */
int ll_capture_probe_folds(ll_capture *c, ll_folds *f);
int ll_capture_probe_row_folds(ll_capture *c, const int *row_fold, int B);
/* Examples folded so far (counted once per batch, at entry 0). */
long ll_capture_probe_examples(const ll_capture *c);
/* Dump sink: the raw features of every example, (N, E, d) float32 .npy,
 * examples in input order.  N must be known up front (sum over sequences of
 * ll_position_count).  Written to a temp file; ll_capture_dump_finish renames
 * it into place (and fails if fewer than N examples arrived). */
ll_capture *ll_capture_dump_new(const char *path, long N, int E, int d, ll_position pos);
int ll_capture_dump_finish(ll_capture *c);
/* The dump's labels: the raw token id each example predicts (before any
 * shuffled-vocabulary relabelling), [*n] in dump order; NULL if not a dump. */
const int32_t *ll_capture_dump_labels(const ll_capture *c, long *n);
/* Tee: forwards every call to each sink in order (sinks not owned). */
ll_capture *ll_capture_tee_new(ll_capture **sinks, int n);
/* The same on a backend whose memory is not host memory: device entries go
 * as they are to the sinks that take device memory (on_entry_device), and
 * are downloaded once for the others (e.g. the .npy dump): no round trip. */
ll_capture *ll_capture_tee_new_backend(ll_capture **sinks, int n, const ll_ops *ops, void *ctx);
void ll_capture_free(ll_capture *c); /* any sink; a dump not finished is removed */
#endif
