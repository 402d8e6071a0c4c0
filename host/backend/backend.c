/* Backend choice and the CPU backend: OpenBLAS/OpenMP ops (host/ops/), host
 * float64 statistics (host/probe/) and the host capture sink. */
#include "backend/backend.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend_info.h"
#include "core/ll_util.h"

int ll_backend_select(const char *requested, const char *compute, int device, ll_backend_choice *out) {
    memset(out, 0, sizeof *out);
    out->device = device;
    if (!requested) requested = "auto";
    if (!compute) compute = "auto";
    if (strcmp(compute, "auto") && strcmp(compute, "bf16") && strcmp(compute, "fp32")) {
        ll_set_error("--compute: unknown compute type '%s' (auto|fp32|bf16)", compute);
        return -1;
    }
    int cuda = 0;
    if (!strcmp(requested, "cuda") || !strcmp(requested, "auto")) {
        int have = ll_cuda_available(out->why, sizeof out->why);
        if (!strcmp(requested, "cuda") && !have) {
            ll_set_error("--backend cuda: %s", out->why);
            return -1;
        }
        cuda = have;
        out->have_device = have;
    } else if (strcmp(requested, "cpu")) {
        ll_set_error("--backend: unknown backend '%s' (auto|cpu|cuda)", requested);
        return -1;
    } else {
        out->have_device = ll_cuda_available(out->why, sizeof out->why);
    }
    out->name = cuda ? "cuda" : "cpu";
    out->bf16 = !strcmp(compute, "bf16") || (cuda && !strcmp(compute, "auto"));
    if (out->bf16 && !cuda) {
        ll_set_error("--compute bf16: only with the CUDA backend (the CPU computes in fp32)");
        return -1;
    }
    out->keep_half = cuda && out->bf16;
    return 0;
}

void ll_backend_notice(const ll_backend_choice *c, FILE *f) {
    if (!strcmp(c->name, "cuda")) fprintf(f, "layerlaw: using the CUDA backend (%s)\n", c->why);
    else if (c->have_device) fprintf(f, "layerlaw: using the CPU backend (as requested; CUDA available: %s)\n", c->why);
    else fprintf(f, "layerlaw: using the CPU backend (%s)\n", c->why);
}

ll_backend *ll_backend_open(const ll_backend_choice *c, int threads) {
    if (threads <= 0) threads = omp_get_num_procs();
    if (!strcmp(c->name, "cuda")) return ll_backend_cuda_open(c->device, c->bf16, threads);
    return ll_backend_cpu_open(threads);
}

void ll_backend_close(ll_backend *b) {
    if (b) b->close(b);
}

/* ---- the CPU backend ---- */
/* The probe sink keeps its own impl; the backend's probe wraps it so that
 * the statistics travel with the capture. */
typedef struct {
    ll_capture base; /* forwards to inner */
    ll_capture *inner;
    ll_stats *st;
} cpu_probe_cap;

static int cpu_probe_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B,
                              int T, int C) {
    cpu_probe_cap *p = (cpu_probe_cap *)self;
    return p->inner->on_entry(p->inner, e, h, tokens, lens, B, T, C);
}

static ll_capture *cpu_probe_new(ll_backend *b, const ll_probe_opts *o) {
    (void)b;
    ll_stats *st = ll_stats_new(o->E, o->d, o->target, o->K);
    if (!st) return NULL;
    ll_capture *inner = ll_capture_probe_new(st, o->pos, o->norm, o->eps, o->norm_last, o->cmap);
    if (!inner) { ll_stats_free(st); return NULL; }
    if (o->relabel_ids && ll_capture_probe_relabel(inner, o->relabel_ids, o->relabel_to) != 0) {
        ll_capture_free(inner);
        ll_stats_free(st);
        return NULL;
    }
    cpu_probe_cap *p = ll_xcalloc(1, sizeof *p);
    p->base.on_entry = cpu_probe_on_entry;
    p->base.impl = p;
    p->inner = inner;
    p->st = st;
    return &p->base;
}

static long cpu_probe_examples(const ll_capture *c) { return ll_capture_probe_examples(((const cpu_probe_cap *)c)->inner); }

static int cpu_probe_get_stats(ll_capture *c, ll_stats *host) {
    const ll_stats *s = ((cpu_probe_cap *)c)->st;
    size_t len = ll_stats_pack_len(s);
    double *buf = malloc(len * sizeof(double));
    if (!buf) { ll_set_error("statistics: out of memory (%zu bytes)", len * sizeof(double)); return -1; }
    ll_stats_pack(s, buf);
    int rc = ll_stats_unpack(host, buf, len);
    free(buf);
    return rc;
}

static int cpu_probe_solve(ll_capture *c, double ridge, int threads, ll_probe_result *out) {
    return ll_stats_solve(((cpu_probe_cap *)c)->st, ridge, threads, out);
}

static void cpu_probe_free(ll_capture *c) {
    if (!c) return;
    cpu_probe_cap *p = (cpu_probe_cap *)c;
    ll_capture_free(p->inner);
    ll_stats_free(p->st);
    free(p);
}

static void cpu_close(ll_backend *b) {
    ll_cpu_ctx_free(b->ctx);
    free(b);
}

ll_backend *ll_backend_cpu_open(int threads) {
    ll_backend *b = ll_xcalloc(1, sizeof *b);
    b->name = "cpu";
    b->ops = ll_cpu_ops();
    b->ctx = ll_cpu_ctx_new(threads);
    b->threads = threads;
    snprintf(b->description, sizeof b->description, "CPU, %d threads", threads);
    b->probe_new = cpu_probe_new;
    b->probe_examples = cpu_probe_examples;
    b->probe_get_stats = cpu_probe_get_stats;
    b->probe_solve = cpu_probe_solve;
    b->probe_free = cpu_probe_free;
    b->close = cpu_close;
    return b;
}
