/* Device probe sink: the CUDA twin of ll_capture_probe_new (host/capture/capture.c).
 * For each batch it builds the example list once (at entry 0: row index
 * b*T + j and label tokens[b*T + j + off] for the positions of
 * ll_position_range), uploads it, and for every entry folds the selected rows
 * of the device hidden states straight into the device statistics
 * (ll_cuda_stats_add_gather: normalise, centre, Gram, Chan merge).  Hidden
 * states never leave the GPU on the device path.
 *
 * Per-layer timing: an event when entry e arrives and one after it is folded
 * (no synchronisation inside the forward); read once per batch after the
 * last entry.  layer e time = arrival(e) − folded(e−1) (entry 0: from
 * ll_cuda_capture_mark_start), capture time = folded(e) − arrival(e). */
#include "core/ll_cuda.h"
#include <stdlib.h>
#include <string.h>
extern "C" {
#include "capture/capture.h"
}

typedef struct {
    ll_cuda_stats *st;
    int E, d;
    ll_position pos;
    ll_norm norm;
    double eps;
    int norm_last;
    const ll_classmap *cmap;
    const ll_classmap *relabel_ids; /* shuffled vocabulary: label ids -> relabel_to */
    const int64_t *relabel_to;
    long examples, n;
    int64_t *h_rows;
    double *h_y;
    long hcap;
    int64_t *d_rows;
    double *d_y;
    long dcap;
    float *d_h;
    size_t dh_cap;
    /* timing */
    cudaEvent_t *ev_in, *ev_out, ev_start;
    int started;
    double *layer_ms, *cap_ms;
    long batches;
} csink;

static int build_selection(csink *s, const int32_t *tokens, const int *lens, int B, int T) {
    long n = 0;
    for (int b = 0; b < B; b++) n += ll_position_count(s->pos, lens[b]);
    if (n > s->hcap) {
        free(s->h_rows);
        free(s->h_y);
        s->hcap = n;
        s->h_rows = (int64_t *)malloc(sizeof(int64_t) * (size_t)n);
        s->h_y = (double *)malloc(sizeof(double) * (size_t)n);
    }
    if (ll_capture_select(s->pos, tokens, lens, B, T, s->relabel_ids, s->relabel_to, s->cmap, s->h_rows, s->h_y) < 0)
        return -1;
    s->n = n;
    if (n == 0) return 0;
    if (n > s->dcap) {
        ll_cuda_free(s->d_rows);
        ll_cuda_free(s->d_y);
        s->d_rows = NULL;
        s->d_y = NULL;
        s->dcap = 0;
        LL_TRY(ll_cuda_alloc((void **)&s->d_rows, sizeof(int64_t) * (size_t)n, "the capture's row index (%ld rows)", (long)n));
        LL_TRY(ll_cuda_alloc((void **)&s->d_y, sizeof(double) * (size_t)n, "the capture's labels (%ld rows)", (long)n));
        s->dcap = n;
    }
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    LL_CU(cudaMemcpyAsync(s->d_rows, s->h_rows, sizeof(int64_t) * (size_t)n, cudaMemcpyHostToDevice, c->stream));
    LL_CU(cudaMemcpyAsync(s->d_y, s->h_y, sizeof(double) * (size_t)n, cudaMemcpyHostToDevice, c->stream));
    /* pageable sources: the copies have left the host buffers when these return,
     * but keep it simple and safe for the next batch's rebuild */
    LL_CU(cudaStreamSynchronize(c->stream));
    return 0;
}

static int read_timing(csink *s) {
    LL_CU(cudaEventSynchronize(s->ev_out[s->E - 1]));
    for (int e = 0; e < s->E; e++) {
        float ms = 0;
        if (e > 0) {
            LL_CU(cudaEventElapsedTime(&ms, s->ev_out[e - 1], s->ev_in[e]));
            s->layer_ms[e] += ms;
        } else if (s->started) {
            LL_CU(cudaEventElapsedTime(&ms, s->ev_start, s->ev_in[0]));
            s->layer_ms[0] += ms;
        }
        LL_CU(cudaEventElapsedTime(&ms, s->ev_in[e], s->ev_out[e]));
        s->cap_ms[e] += ms;
    }
    s->started = 0;
    s->batches++;
    return 0;
}

extern "C" int ll_cuda_capture_on_entry_device(ll_capture *c, int e, const float *h, const int32_t *tokens,
                                               const int *lens, int B, int T, int C) {
    csink *s = (csink *)c->impl;
    if (e < 0 || e >= s->E || C != s->d) {
        ll_set_error("capture: entry %d of width %d does not match the statistics (E=%d, d=%d)", e, C, s->E, s->d);
        return -1;
    }
    ll_cuda_ctx *cx = ll_cuda_ctx_get();
    if (!cx) return -1;
    if (e == 0) LL_TRY(build_selection(s, tokens, lens, B, T));
    LL_CU(cudaEventRecord(s->ev_in[e], cx->stream));
    if (s->n > 0) {
        int apply = e < s->E - 1 || s->norm_last;
        LL_TRY(ll_cuda_stats_add_gather(s->st, e, h, C, s->d_rows, s->d_y, s->n, apply ? s->norm : LL_NORM_NONE,
                                        s->eps));
    }
    LL_CU(cudaEventRecord(s->ev_out[e], cx->stream));
    if (e == 0) s->examples += s->n;
    if (e == s->E - 1) LL_TRY(read_timing(s));
    return 0;
}

/* Host path (what ll_model_emit calls today): uploads the entry, then the
 * device path. */
static int on_entry_host(ll_capture *c, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T,
                         int C) {
    csink *s = (csink *)c->impl;
    size_t n = (size_t)B * T * C;
    ll_cuda_ctx *cx = ll_cuda_ctx_get();
    if (!cx) return -1;
    if (n > s->dh_cap) {
        ll_cuda_free(s->d_h);
        s->d_h = NULL;
        s->dh_cap = 0;
        LL_TRY(ll_cuda_alloc((void **)&s->d_h, n * sizeof(float), "the capture's entry copy (B=%d, T=%d, d=%d)", B, T, C));
        s->dh_cap = n;
    }
    LL_CU(cudaMemcpyAsync(s->d_h, h, n * sizeof(float), cudaMemcpyHostToDevice, cx->stream));
    LL_CU(cudaStreamSynchronize(cx->stream)); /* h may be reused by the caller */
    return ll_cuda_capture_on_entry_device(c, e, s->d_h, tokens, lens, B, T, C);
}

extern "C" void ll_cuda_capture_free(ll_capture *c) {
    if (!c) return;
    csink *s = (csink *)c->impl;
    if (s) {
        for (int e = 0; e < s->E; e++) {
            if (s->ev_in && s->ev_in[e]) cudaEventDestroy(s->ev_in[e]);
            if (s->ev_out && s->ev_out[e]) cudaEventDestroy(s->ev_out[e]);
        }
        if (s->ev_start) cudaEventDestroy(s->ev_start);
        free(s->ev_in);
        free(s->ev_out);
        free(s->layer_ms);
        free(s->cap_ms);
        free(s->h_rows);
        free(s->h_y);
        ll_cuda_free(s->d_rows);
        ll_cuda_free(s->d_y);
        ll_cuda_free(s->d_h);
        free(s);
    }
    free(c);
}

static int make_events(csink *s) {
    for (int e = 0; e < s->E; e++) {
        LL_CU(cudaEventCreate(&s->ev_in[e]));
        LL_CU(cudaEventCreate(&s->ev_out[e]));
    }
    LL_CU(cudaEventCreate(&s->ev_start));
    return 0;
}

extern "C" int ll_cuda_capture_probe_relabel(ll_capture *c, const ll_classmap *ids, const int64_t *to) {
    csink *s = (csink *)c->impl;
    s->relabel_ids = ids;
    s->relabel_to = to;
    return 0;
}

extern "C" ll_capture *ll_cuda_capture_probe_new(ll_cuda_stats *st, int E, int d, ll_position pos, ll_norm norm,
                                                 double eps, int norm_last, const ll_classmap *cmap) {
    if (!ll_cuda_ctx_get()) return NULL;
    ll_capture *c = (ll_capture *)calloc(1, sizeof *c);
    csink *s = (csink *)calloc(1, sizeof *s);
    c->impl = s;
    c->on_entry = on_entry_host;
    c->on_entry_device = ll_cuda_capture_on_entry_device;
    s->st = st;
    s->E = E;
    s->d = d;
    s->pos = pos;
    s->norm = norm;
    s->eps = eps;
    s->norm_last = norm_last;
    s->cmap = cmap;
    s->ev_in = (cudaEvent_t *)calloc((size_t)E, sizeof(cudaEvent_t));
    s->ev_out = (cudaEvent_t *)calloc((size_t)E, sizeof(cudaEvent_t));
    s->layer_ms = (double *)calloc((size_t)E, sizeof(double));
    s->cap_ms = (double *)calloc((size_t)E, sizeof(double));
    if (make_events(s) != 0) {
        ll_cuda_capture_free(c);
        return NULL;
    }
    return c;
}

static int mark_start_(csink *s) {
    ll_cuda_ctx *cx = ll_cuda_ctx_get();
    if (!cx) return -1;
    LL_CU(cudaEventRecord(s->ev_start, cx->stream));
    s->started = 1;
    return 0;
}
extern "C" int ll_cuda_capture_mark_start(ll_capture *c) { return mark_start_((csink *)c->impl); }

extern "C" long ll_cuda_capture_examples(const ll_capture *c) { return ((const csink *)c->impl)->examples; }

extern "C" long ll_cuda_capture_timing(const ll_capture *c, double *layer_ms, double *capture_ms) {
    const csink *s = (const csink *)c->impl;
    for (int e = 0; e < s->E; e++) {
        if (layer_ms) layer_ms[e] = s->layer_ms[e];
        if (capture_ms) capture_ms[e] = s->cap_ms[e];
    }
    return s->batches;
}
