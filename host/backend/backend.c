/* Backend choice and the CPU backend: OpenBLAS/OpenMP ops (host/ops/), host
 * float64 statistics (host/probe/) and the host capture sink. */
#include "backend/backend.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend_info.h"
#include "core/ll_util.h"
#include "dist/dist.h"

const char *const ll_backend_names[] = {"auto", "cpu", "cuda", NULL, NULL};
const char *const ll_compute_names[] = {"auto", "bf16", "fp32", NULL, NULL};

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
    out->gpu = cuda ? device : -1;
    out->bf16 = !strcmp(compute, "bf16") || (cuda && !strcmp(compute, "auto"));
    if (out->bf16 && !cuda) {
        ll_set_error("--compute bf16: only with the CUDA backend (the CPU computes in fp32)");
        return -1;
    }
    out->keep_half = cuda && out->bf16;
    return 0;
}

const char *ll_backend_notice(const ll_backend_choice *c, char *buf, size_t cap) {
    if (!strcmp(c->name, "cuda")) snprintf(buf, cap, "using the CUDA backend (%s)", c->why);
    else if (c->have_device) snprintf(buf, cap, "using the CPU backend (as requested; CUDA available: %s)", c->why);
    else snprintf(buf, cap, "using the CPU backend (%s)", c->why);
    return buf;
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
/* The statistics as an in-place ll_dist_devstats table in host memory (the
 * device reduce's driver summing over MPI), offered only under
 * LAYERLAW_DEVREDUCE_ON_HOST=1: it runs that driver — which on GPUs cannot
 * be run here — on CPU ranks, where its results must equal the host reduce's
 * bit for bit (tests/test_dist.c).  It also avoids probe_get_stats' copy. */
typedef struct {
    ll_stats *st;
    double *buf; /* one entry packed: upper triangle by rows, Cxy, Syy */
    int threads;
} cpu_devred;

typedef struct {
    ll_capture base; /* forwards to inner */
    ll_capture *inner;
    ll_stats *st;
    cpu_devred *devred;
    int threads;
} cpu_probe_cap;

static size_t cdr_len(const ll_stats *st) {
    size_t d = (size_t)st->d;
    return d * (d + 1) / 2 + d + 1;
}
static int cdr_moments(void *ctx, double *n, double *mean, double *ymean, int *ones_null) {
    const ll_stats *st = ((cpu_devred *)ctx)->st;
    size_t E = (size_t)st->E, d = (size_t)st->d;
    memcpy(n, st->n, E * sizeof(double));
    memcpy(mean, st->mean, E * d * sizeof(double));
    memcpy(ymean, st->ymean, E * sizeof(double));
    memcpy(ones_null, st->ones_null, E * sizeof(int));
    return 0;
}
static int cdr_shift(void *ctx, const double *n, const double *mean, const double *ymean, const int *ones_null) {
    cpu_devred *r = ctx;
    ll_dist_shift_host(r->st, n, mean, ymean);
    memcpy(r->st->ones_null, ones_null, (size_t)r->st->E * sizeof(int));
    if (!r->buf && !(r->buf = malloc(cdr_len(r->st) * sizeof(double)))) {
        ll_set_error("statistics: out of memory (%zu bytes for the reduce's buffer)", cdr_len(r->st) * sizeof(double));
        return -1;
    }
    return 0;
}
static double *cdr_pack(void *ctx, int e, size_t *count) {
    cpu_devred *r = ctx;
    const size_t d = (size_t)r->st->d;
    const double *M2 = r->st->M2 + (size_t)e * d * d;
    double *o = r->buf;
    for (size_t i = 0; i < d; i++) { /* row i of the upper triangle: d − i values */
        memcpy(o, M2 + i * d + i, (d - i) * sizeof(double));
        o += d - i;
    }
    memcpy(o, r->st->Cxy + (size_t)e * d, d * sizeof(double));
    o[d] = r->st->Syy[e];
    *count = cdr_len(r->st);
    return r->buf;
}
static int cdr_unpack(void *ctx, int e) {
    cpu_devred *r = ctx;
    const size_t d = (size_t)r->st->d;
    double *M2 = r->st->M2 + (size_t)e * d * d;
    const double *o = r->buf;
    for (size_t i = 0; i < d; i++)
        for (size_t j = i; j < d; j++) M2[i * d + j] = M2[j * d + i] = *o++;
    memcpy(r->st->Cxy + (size_t)e * d, o, d * sizeof(double));
    r->st->Syy[e] = o[d];
    return 0;
}
static int cdr_solve(void *ctx, int e0, int e1, double ridge, ll_probe_result *out) {
    cpu_devred *r = ctx;
    const ll_stats *st = r->st;
    ll_stats v = ll_stats_view(st, e0, e1); /* id target (cpu_probe_devstats) */
    return ll_stats_solve(&v, ridge, r->threads, out);
}

static int cpu_probe_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B,
                              int T, int C) {
    cpu_probe_cap *p = (cpu_probe_cap *)self;
    return p->inner->on_entry(p->inner, e, h, tokens, lens, B, T, C);
}

static ll_capture *cpu_probe_new(ll_backend *b, const ll_probe_opts *o) {
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
    p->threads = b->threads;
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

static int cpu_solve_stats(ll_backend *b, const ll_stats *st, double ridge, int threads, ll_probe_result *out) {
    (void)b;
    return ll_stats_solve(st, ridge, threads, out);
}

static int cpu_probe_devstats(ll_capture *c, struct ll_dist_devstats *out) {
    cpu_probe_cap *p = (cpu_probe_cap *)c;
    const char *env = getenv("LAYERLAW_DEVREDUCE_ON_HOST");
    if (!env || strcmp(env, "1") || p->st->target != LL_TARGET_ID) return 1;
    if (!p->devred) {
        p->devred = ll_xcalloc(1, sizeof *p->devred);
        p->devred->st = p->st;
        p->devred->threads = p->threads;
    }
    memset(out, 0, sizeof *out);
    out->ctx = p->devred;
    out->E = p->st->E;
    out->d = p->st->d;
    out->host_memory = 1;
    out->moments = cdr_moments;
    out->shift = cdr_shift;
    out->pack = cdr_pack;
    out->unpack = cdr_unpack;
    out->solve = cdr_solve;
    return 0;
}

static void cpu_probe_free(ll_capture *c) {
    if (!c) return;
    cpu_probe_cap *p = (cpu_probe_cap *)c;
    if (p->devred) { free(p->devred->buf); free(p->devred); }
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
    b->solve_stats = cpu_solve_stats;
    b->probe_devstats = cpu_probe_devstats;
    b->probe_free = cpu_probe_free;
    b->close = cpu_close;
    return b;
}
