/* The CUDA backend behind host/backend/backend.h: the op table of
 * kernels/ops/ops_cuda.cu, device float64 statistics (kernels/probe/), the
 * device capture sink (kernels/capture/) that folds entries where they are
 * computed, the batched cuSOLVER solve, and CUDA-event timing per entry.
 * Compiled to a stub that says "not built" when the toolkit is absent. */
#include "backend/backend.h"
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#ifdef LL_HAVE_CUDA
#include <omp.h>
#include "backend/cuda_backend.h"
#include "dist/dist.h"

typedef struct {
    ll_capture base;
    ll_capture *inner;
    ll_cuda_stats *st;
    int E, d;
    ll_cuda_devred *devred; /* probe_devstats' table, made on first use */
} cuda_probe_cap;

/* ---- the device statistics as host/dist's ll_dist_devstats table ---- */
struct ll_cuda_devred {
    ll_cuda_stats *st;
    int E, d;
    double *buf; /* one entry packed (ll_cuda_stats_pack_len doubles), device */
};
static int dr_moments(void *ctx, double *n, double *mean, double *ymean, int *ones_null) {
    return ll_cuda_stats_moments(((ll_cuda_devred *)ctx)->st, n, mean, ymean, ones_null);
}
/* The pack buffer is allocated here, in the step whose failure the ranks
 * agree on, so that no rank fails alone between the collective reduces. */
static int dr_buffer(ll_cuda_devred *r) {
    if (r->buf) return 0;
    return ll_cuda_alloc((void **)&r->buf, ll_cuda_stats_pack_len(r->st) * sizeof(double),
                         "the device reduce's buffer (one entry packed, d=%d)", r->d);
}
static int dr_shift(void *ctx, const double *n, const double *mean, const double *ymean, const int *ones_null) {
    ll_cuda_devred *r = ctx;
    if (ll_cuda_stats_shift(r->st, n, mean, ymean, ones_null) != 0) return -1;
    return dr_buffer(r);
}
static double *dr_pack(void *ctx, int e, size_t *count) {
    ll_cuda_devred *r = ctx;
    size_t len = ll_cuda_stats_pack_len(r->st);
    if (dr_buffer(r) != 0 || ll_cuda_stats_pack(r->st, e, r->buf, 0) != 0) return NULL;
    *count = len;
    return r->buf;
}
static int dr_unpack(void *ctx, int e) {
    ll_cuda_devred *r = ctx;
    return ll_cuda_stats_pack(r->st, e, r->buf, 1);
}
static int dr_solve(void *ctx, int e0, int e1, double ridge, ll_probe_result *out) {
    return ll_cuda_stats_solve_range(((ll_cuda_devred *)ctx)->st, e0, e1, ridge, 0, out);
}

ll_cuda_devred *ll_cuda_devred_new(ll_cuda_stats *st, struct ll_dist_devstats *out) {
    int E = 0, d = 0;
    ll_target target;
    ll_cuda_stats_shape(st, &E, &d, &target);
    if (target != LL_TARGET_ID) {
        ll_set_error("device reduce: the one-hot target's class sums are reduced on the host");
        return NULL;
    }
    void *stream = ll_cuda_stream();
    if (!stream) return NULL;
    ll_cuda_devred *r = ll_xcalloc(1, sizeof *r);
    r->st = st;
    r->E = E;
    r->d = d;
    memset(out, 0, sizeof *out);
    out->ctx = r;
    out->E = E;
    out->d = d;
    out->stream = stream;
    out->moments = dr_moments;
    out->shift = dr_shift;
    out->pack = dr_pack;
    out->unpack = dr_unpack;
    out->solve = dr_solve;
    return r;
}
void ll_cuda_devred_free(ll_cuda_devred *r) {
    if (!r) return;
    ll_cuda_free(r->buf);
    free(r);
}

static int cu_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T,
                       int C) {
    cuda_probe_cap *p = (cuda_probe_cap *)self;
    return p->inner->on_entry(p->inner, e, h, tokens, lens, B, T, C);
}
static int cu_on_entry_device(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B,
                              int T, int C) {
    cuda_probe_cap *p = (cuda_probe_cap *)self;
    return p->inner->on_entry_device(p->inner, e, h, tokens, lens, B, T, C);
}

static ll_capture *cu_probe_new(ll_backend *b, const ll_probe_opts *o) {
    (void)b;
    ll_cuda_stats *st = ll_cuda_stats_new(o->E, o->d, o->target, o->K, o->max_rows, LL_GRAM_FP64);
    if (!st) return NULL;
    ll_capture *inner = ll_cuda_capture_probe_new(st, o->E, o->d, o->pos, o->norm, o->eps, o->norm_last, o->cmap);
    if (!inner) { ll_cuda_stats_free(st); return NULL; }
    if (o->relabel_ids && ll_cuda_capture_probe_relabel(inner, o->relabel_ids, o->relabel_to) != 0) {
        ll_cuda_capture_free(inner);
        ll_cuda_stats_free(st);
        return NULL;
    }
    cuda_probe_cap *p = ll_xcalloc(1, sizeof *p);
    p->base.on_entry = cu_on_entry;
    p->base.on_entry_device = cu_on_entry_device;
    p->base.impl = p;
    p->inner = inner;
    p->st = st;
    p->E = o->E;
    p->d = o->d;
    return &p->base;
}
static long cu_probe_examples(const ll_capture *c) { return ll_cuda_capture_examples(((const cuda_probe_cap *)c)->inner); }
static int cu_probe_get_stats(ll_capture *c, ll_stats *host) {
    return ll_cuda_stats_download(((cuda_probe_cap *)c)->st, host);
}
static int cu_probe_solve(ll_capture *c, double ridge, int threads, ll_probe_result *out) {
    (void)threads;
    cuda_probe_cap *p = (cuda_probe_cap *)c;
    return ll_cuda_stats_solve(p->st, ridge, 0, out);
}
static int cu_solve_stats(ll_backend *b, const ll_stats *st, double ridge, int threads, ll_probe_result *out) {
    (void)b;
    if (st->target != LL_TARGET_ID) return ll_stats_solve(st, ridge, threads, out); /* as the device solve */
    ll_cuda_stats *dev = ll_cuda_stats_new(st->E, st->d, st->target, st->K, 1, LL_GRAM_FP64);
    if (!dev) return -1;
    int rc = ll_cuda_stats_upload(dev, st);
    if (rc == 0) rc = ll_cuda_stats_solve(dev, ridge, 0, out);
    ll_cuda_stats_free(dev);
    return rc;
}

static int cu_probe_devstats(ll_capture *c, struct ll_dist_devstats *out) {
    cuda_probe_cap *p = (cuda_probe_cap *)c;
    int E = 0, d = 0;
    ll_target target;
    ll_cuda_stats_shape(p->st, &E, &d, &target);
    if (target != LL_TARGET_ID) return 1; /* one-hot: class sums on the host */
    ll_cuda_devred_free(p->devred);
    p->devred = ll_cuda_devred_new(p->st, out);
    return p->devred ? 0 : 1;
}

static void cu_probe_free(ll_capture *c) {
    if (!c) return;
    cuda_probe_cap *p = (cuda_probe_cap *)c;
    ll_cuda_devred_free(p->devred);
    ll_cuda_capture_free(p->inner);
    ll_cuda_stats_free(p->st);
    free(p);
}
static int cu_batch_start(ll_capture *c) { return ll_cuda_capture_mark_start(((cuda_probe_cap *)c)->inner); }
static long cu_timing(const ll_capture *c, double *layer_ms, double *capture_ms) {
    return ll_cuda_capture_timing(((const cuda_probe_cap *)c)->inner, layer_ms, capture_ms);
}
static double cu_peak(ll_backend *b) {
    (void)b;
    double peak = 0;
    if (ll_cuda_measure_gemm_bf16(8192, 5, &peak) != 0) peak = 0;
    return peak;
}
static void cu_close(ll_backend *b) {
    ll_cuda_ops_ctx_free(b->ctx);
    free(b);
}

ll_backend *ll_backend_cuda_open(int device, int bf16, int threads) {
    void *ctx = ll_cuda_ops_ctx_new(device, bf16 ? LL_DT_BF16 : LL_DT_F32);
    if (!ctx) return NULL;
    omp_set_num_threads(threads); /* host-side work (loading, statistics download, reports) */
    ll_backend *b = ll_xcalloc(1, sizeof *b);
    b->name = "cuda";
    b->ops = ll_cuda_ops();
    b->ctx = ctx;
    b->threads = threads;
    if (ll_cuda_describe(b->description, sizeof b->description) != 0) snprintf(b->description, sizeof b->description, "CUDA device %d", device);
    b->probe_new = cu_probe_new;
    b->probe_examples = cu_probe_examples;
    b->probe_get_stats = cu_probe_get_stats;
    b->probe_solve = cu_probe_solve;
    b->solve_stats = cu_solve_stats;
    b->probe_devstats = cu_probe_devstats;
    b->probe_free = cu_probe_free;
    b->probe_batch_start = cu_batch_start;
    b->probe_timing = cu_timing;
    b->measure_peak_tflops = cu_peak;
    b->close = cu_close;
    return b;
}
#else
ll_backend *ll_backend_cuda_open(int device, int bf16, int threads) {
    (void)device; (void)bf16; (void)threads;
    ll_set_error("the CUDA backend is not built into this binary (make with nvcc on the PATH)");
    return NULL;
}
#endif
