/* GPU benchmarks (run by scripts/gpu-check.sh on the device machine):
 *   copy     device-to-device copy bandwidth (bytes read + written)
 *   gemm     bf16 GEMM through cuBLAS, FP32 accumulate: the peak we report against
 *   gram     probe-statistics accumulation per Gram mode: ms per batch, input
 *            GB/s, TFLOP/s (2·m·d² per batch, a full XᵀX), and the accuracy of
 *            each mode against the float64 DSYRK path (M2 and PR)
 *   solve    batched probe solve: E=13,d=768 and E=33,d=4096 (cusolverDnXsyevBatched)
 *            and the loop of cusolverDnXsyevd for comparison
 *   layer    one transformer layer on the CUDA op table at real shapes (Llama-7B:
 *            C=4096, 32 heads, F=11008, bf16 weights; GPT-2-XL: C=1600, 25 heads,
 *            F=6400), B=8 x T=512 tokens: ms, TFLOP/s and % of the measured bf16
 *            GEMM peak; the same with the capture of its output folded into
 *            probe statistics (each Gram mode): overhead %; attention alone
 *   scan     RWKV-4 WKV, Mamba conv1d and selective scan at real shapes: GB/s
 *            against the measured copy bandwidth
 * Usage: gpu_bench [--csv FILE] [--quick] [section ...]
 * Each result is printed (and appended to the CSV) as soon as it is measured,
 * so a run cut short by a timeout still leaves what it measured. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef LL_HAVE_CUDA
#include "backend/cuda_backend.h"
#include "core/ll_util.h"
#include "probe/probe.h"

static FILE *g_csv;
static int g_quick;
static double g_peak_tflops, g_copy_gbps;

static void result(const char *bench, const char *params, const char *metric, double value, const char *unit) {
    printf("%-8s %-44s %-22s %12.4g %s\n", bench, params, metric, value, unit);
    fflush(stdout);
    if (g_csv) {
        fprintf(g_csv, "%s,\"%s\",%s,%.6g,%s\n", bench, params, metric, value, unit);
        fflush(g_csv);
    }
}
static int fail(const char *what) {
    printf("FAILED %s: %s\n", what, ll_last_error());
    fflush(stdout);
    return 1;
}

static int bench_copy(void) {
    double gbps;
    if (ll_cuda_measure_copy((size_t)2 << 30, g_quick ? 5 : 20, &gbps)) return fail("copy");
    result("copy", "2 GiB device-to-device", "bandwidth", gbps, "GB/s (read+write)");
    g_copy_gbps = gbps;
    return 0;
}

static int bench_gemm(void) {
    int sizes[] = {4096, 8192};
    for (int i = 0; i < 2; i++) {
        double tf;
        if (ll_cuda_measure_gemm_bf16(sizes[i], g_quick ? 3 : 10, &tf)) return fail("gemm");
        char p[64];
        snprintf(p, sizeof p, "bf16 %d^3, fp32 accumulate", sizes[i]);
        result("gemm", p, "rate", tf, "TFLOP/s");
        if (tf > g_peak_tflops) g_peak_tflops = tf;
    }
    return 0;
}

static double *labels_device(long m, uint64_t seed) {
    double *h = malloc(sizeof(double) * (size_t)m);
    uint64_t st = seed;
    for (long i = 0; i < m; i++) h[i] = (double)(ll_splitmix64(&st) % 50000);
    double *d = ll_cuda_malloc(sizeof(double) * (size_t)m);
    if (d && ll_cuda_memcpy_h2d(d, h, sizeof(double) * (size_t)m)) { ll_cuda_free(d); d = NULL; }
    free(h);
    return d;
}

/* Time per batch of m rows for each mode; then the accuracy of the final
 * statistics after `nb` distinct batches against the FP64 path. */
static int bench_gram(int d, long m) {
    int nb = 4, reps = g_quick ? 3 : 10;
    float *X = ll_cuda_malloc(sizeof(float) * (size_t)m * d * nb);
    double *y = labels_device(m * nb, 7);
    if (!X || !y) return fail("gram alloc");
    /* features with per-column offsets (as hidden states have) */
    if (ll_cuda_fill_random(X, (size_t)m * d * nb, d, 11, 1.0f, 4.0f)) return fail("fill");
    ll_stats *ref = NULL;
    ll_probe_result rref = {0};
    char p[96];
    for (int mode = 0; mode < LL_GRAM_N_MODES; mode++) {
        ll_cuda_stats *s = ll_cuda_stats_new(1, d, LL_TARGET_ID, 0, m, (ll_gram_mode)mode);
        if (!s) return fail("gram stats");
        /* warm-up */
        if (ll_cuda_stats_add(s, 0, X, d, y, m, LL_NORM_LAYERNORM, 1e-5) || ll_cuda_sync()) {
            printf("FAILED gram %s: %s\n", ll_gram_mode_name((ll_gram_mode)mode), ll_last_error());
            ll_cuda_stats_free(s);
            continue;
        }
        ll_cuda_timer *t = ll_cuda_timer_new(2);
        ll_cuda_timer_mark(t, 0);
        for (int r = 0; r < reps; r++)
            if (ll_cuda_stats_add(s, 0, X + (size_t)(r % nb) * m * d, d, y + (r % nb) * m, m, LL_NORM_LAYERNORM, 1e-5))
                return fail("gram add");
        ll_cuda_timer_mark(t, 1);
        float ms;
        if (ll_cuda_timer_elapsed(t, 0, 1, &ms)) return fail("gram timer");
        ll_cuda_timer_free(t);
        double per = ms / reps;
        snprintf(p, sizeof p, "%s d=%d m=%ld layernorm", ll_gram_mode_name((ll_gram_mode)mode), d, m);
        result("gram", p, "ms/batch", per, "ms");
        result("gram", p, "input", (double)m * d * 4 / (per * 1e-3) / 1e9, "GB/s");
        result("gram", p, "rate(2md^2)", 2.0 * m * (double)d * d / (per * 1e-3) / 1e12, "TFLOP/s");
        result("gram", p, "tokens/s", m / (per * 1e-3), "rows/s (one entry)");
        /* accuracy: fresh statistics over nb distinct batches */
        ll_cuda_stats_reset(s);
        for (int b = 0; b < nb; b++)
            if (ll_cuda_stats_add(s, 0, X + (size_t)b * m * d, d, y + b * m, m, LL_NORM_LAYERNORM, 1e-5))
                return fail("gram add");
        ll_stats *h = ll_stats_new(1, d, LL_TARGET_ID, 0);
        if (ll_cuda_stats_download(s, h)) return fail("download");
        ll_probe_result r;
        if (ll_cuda_stats_solve(s, 0, 0, &r)) return fail("solve");
        if (mode == LL_GRAM_FP64) {
            ref = h;
            rref = r;
            result("gram", p, "PR(fp64 reference)", r.pr, "");
        } else if (ref) {
            double mx = 0, sc = 0;
            for (size_t i = 0; i < (size_t)d * d; i++) {
                double df = fabs(h->M2[i] - ref->M2[i]);
                if (df > mx) mx = df;
                if (fabs(ref->M2[i]) > sc) sc = fabs(ref->M2[i]);
            }
            result("gram", p, "M2 max rel err vs fp64", mx / sc, "");
            result("gram", p, "PR rel diff vs fp64", fabs(r.pr - rref.pr) / rref.pr, "");
            ll_stats_free(h);
        }
        ll_cuda_stats_free(s);
    }
    ll_stats_free(ref);
    ll_cuda_free(X);
    ll_cuda_free(y);
    return 0;
}

static int bench_solve(int E, int d, int solver) {
    long m = d + 512;
    float *X = ll_cuda_malloc(sizeof(float) * (size_t)m * d);
    double *y = labels_device(m, 3);
    if (!X || !y) return fail("solve alloc");
    if (ll_cuda_fill_random(X, (size_t)m * d, d, 5, 1.0f, 2.0f)) return fail("fill");
    ll_cuda_stats *s = ll_cuda_stats_new(E, d, LL_TARGET_ID, 0, 4096, LL_GRAM_TF32X3);
    if (!s) return fail("solve stats");
    /* entry 0 LayerNorm'd (deflated), entry 1 RMSNorm'd, the rest copies */
    if (ll_cuda_stats_add(s, 0, X, d, y, m, LL_NORM_LAYERNORM, 1e-5)) return fail("add");
    if (E > 1 && ll_cuda_stats_add(s, 1, X, d, y, m, LL_NORM_RMSNORM, 1e-5)) return fail("add");
    for (int e = 2; e < E; e++)
        if (ll_cuda_stats_copy_entry(s, e, e % 2)) return fail("copy entry");
    ll_probe_result *r = calloc((size_t)E, sizeof *r);
    if (ll_cuda_sync()) return fail("sync");
    double t0 = ll_now();
    int rc = ll_cuda_stats_solve(s, 0, solver, r);
    double t1 = ll_now();
    char p[96];
    snprintf(p, sizeof p, "E=%d d=%d %s", E, d, solver == 0 ? "XsyevBatched" : "loop Xsyevd");
    if (rc) {
        printf("FAILED solve %s: %s\n", p, ll_last_error());
    } else {
        result("solve", p, "time", t1 - t0, "s");
        result("solve", p, "PR entry0/1", r[0].pr, E > 1 ? "" : "");
        if (E > 1) result("solve", p, "PR entry1", r[1].pr, "");
        result("solve", p, "rank entry0 (LN: d-1)", r[0].rank, "");
    }
    free(r);
    ll_cuda_stats_free(s);
    ll_cuda_free(X);
    ll_cuda_free(y);
    return rc ? 1 : 0;
}


/* ------------------------------------------------------------ layer bench */
typedef struct {
    const char *name;
    int C, H, KVH, F, llama; /* llama: RMSNorm, RoPE, separate q/k/v, SwiGLU; else GPT-2 */
    int L;                   /* layers of the whole model (for the estimate) */
} layer_shape;

typedef struct {
    const ll_ops *ops;
    void *ctx;
    layer_shape s;
    int B, T, N, hd, Ckv;
    ll_weight q, k, v, o, gate, up, down, qkv, qkv_b;
    float *w1, *w2, *b1, *b2, *ob, *upb, *downb, *inv_freq;
    float *h, *x, *qb, *kb, *vb, *att, *tmp, *g, *u;
    int *lens;
    int32_t *pos;
} layer_ws;

static float *dfloats(size_t n, uint64_t seed, float scale) {
    float *p = ll_cuda_malloc(sizeof(float) * n);
    if (p && ll_cuda_fill_random(p, n, 0, seed, scale, 0)) { ll_cuda_free(p); return NULL; }
    return p;
}

static int layer_setup(layer_ws *w, const layer_shape *s, ll_dtype wdt, int B, int T) {
    memset(w, 0, sizeof *w);
    w->s = *s; w->B = B; w->T = T; w->N = B * T;
    w->hd = s->C / s->H; w->Ckv = w->hd * s->KVH;
    int C = s->C, F = s->F, N = w->N;
    uint64_t sd = 100;
    float ws = 0.02f;
    if (s->llama) {
        if (ll_cuda_random_weight(&w->q, C, C, wdt, sd++, ws) || ll_cuda_random_weight(&w->k, w->Ckv, C, wdt, sd++, ws) ||
            ll_cuda_random_weight(&w->v, w->Ckv, C, wdt, sd++, ws) || ll_cuda_random_weight(&w->gate, F, C, wdt, sd++, ws))
            return -1;
    } else {
        if (ll_cuda_random_weight(&w->qkv, 3 * C, C, wdt, sd++, ws)) return -1;
    }
    if (ll_cuda_random_weight(&w->o, C, C, wdt, sd++, ws) || ll_cuda_random_weight(&w->up, F, C, wdt, sd++, ws) ||
        ll_cuda_random_weight(&w->down, C, F, wdt, sd++, ws))
        return -1;
    w->w1 = dfloats(C, 1, 1); w->w2 = dfloats(C, 2, 1); w->b1 = dfloats(C, 3, 0.1f); w->b2 = dfloats(C, 4, 0.1f);
    w->ob = dfloats(C, 5, 0.1f); w->upb = dfloats(F, 6, 0.1f); w->downb = dfloats(C, 7, 0.1f);
    float *qkvb = dfloats(3 * C, 8, 0.1f);
    w->qkv_b.data = qkvb;
    w->h = dfloats((size_t)N * C, 9, 1);
    w->x = dfloats((size_t)N * C, 10, 1);
    w->qb = dfloats((size_t)N * (s->llama ? C : 3 * C), 11, 1);
    w->kb = dfloats((size_t)N * w->Ckv, 12, 1);
    w->vb = dfloats((size_t)N * w->Ckv, 13, 1);
    w->att = dfloats((size_t)N * C, 14, 1);
    w->tmp = dfloats((size_t)N * C, 15, 1);
    w->g = dfloats((size_t)N * F, 16, 1);
    w->u = dfloats((size_t)N * F, 17, 1);
    if (!w->w1 || !w->h || !w->x || !w->qb || !w->kb || !w->vb || !w->att || !w->tmp || !w->g || !w->u) return -1;
    int *lens = malloc(sizeof(int) * B);
    int32_t *pos = malloc(sizeof(int32_t) * N);
    float *inv = malloc(sizeof(float) * w->hd);
    for (int b = 0; b < B; b++) lens[b] = T;
    for (int r = 0; r < N; r++) pos[r] = r % T;
    for (int i = 0; i < w->hd / 2; i++) inv[i] = powf(10000.0f, -2.0f * i / w->hd);
    w->lens = ll_cuda_malloc(sizeof(int) * B);
    w->pos = ll_cuda_malloc(sizeof(int32_t) * N);
    w->inv_freq = ll_cuda_malloc(sizeof(float) * w->hd);
    int rc = (!w->lens || !w->pos || !w->inv_freq || ll_cuda_memcpy_h2d(w->lens, lens, sizeof(int) * B) ||
              ll_cuda_memcpy_h2d(w->pos, pos, sizeof(int32_t) * N) || ll_cuda_memcpy_h2d(w->inv_freq, inv, sizeof(float) * (w->hd / 2)))
                 ? -1 : 0;
    free(lens); free(pos); free(inv);
    return rc;
}

static void layer_free(layer_ws *w) {
    void *ps[] = {(void *)w->q.data, (void *)w->k.data, (void *)w->v.data, (void *)w->o.data, (void *)w->gate.data,
                  (void *)w->up.data, (void *)w->down.data, (void *)w->qkv.data, (void *)w->qkv_b.data, w->w1, w->w2,
                  w->b1, w->b2, w->ob, w->upb, w->downb, w->inv_freq, w->h, w->x, w->qb, w->kb, w->vb, w->att,
                  w->tmp, w->g, w->u, w->lens, w->pos};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) ll_cuda_free(ps[i]);
}

static void attention_only(layer_ws *w) {
    const ll_ops *o = w->ops;
    int C = w->s.C, N = w->N;
    ll_attn_params ap = {0};
    ap.out = w->att; ap.o_rs = C; ap.B = w->B; ap.T = w->T; ap.H = w->s.H; ap.KVH = w->s.KVH; ap.hd = w->hd;
    ap.lens = w->lens; ap.scale = 1.0f / sqrtf((float)w->hd);
    if (w->s.llama) {
        ap.q = w->qb; ap.k = w->kb; ap.v = w->vb; ap.q_rs = C; ap.k_rs = ap.v_rs = w->Ckv;
        ap.q_hs = ap.k_hs = ap.v_hs = w->hd;
    } else {
        ap.q = w->qb; ap.k = w->qb + C; ap.v = w->qb + 2 * C; ap.q_rs = ap.k_rs = ap.v_rs = 3 * C;
        ap.q_hs = ap.k_hs = ap.v_hs = w->hd;
    }
    (void)N;
    o->attention(w->ctx, &ap);
}

static void layer_run(layer_ws *w) {
    const ll_ops *o = w->ops;
    void *c = w->ctx;
    int C = w->s.C, F = w->s.F, N = w->N;
    size_t NC = (size_t)N * C, NF = (size_t)N * F;
    if (w->s.llama) {
        o->rmsnorm(c, w->x, w->h, w->w1, N, C, 1e-5f);
        o->linear(c, w->qb, w->x, &w->q, NULL, N);
        o->linear(c, w->kb, w->x, &w->k, NULL, N);
        o->linear(c, w->vb, w->x, &w->v, NULL, N);
        ll_rope_params rq = {w->qb, C, w->hd, N, w->s.H, w->hd, w->pos, w->inv_freq};
        ll_rope_params rk = {w->kb, w->Ckv, w->hd, N, w->s.KVH, w->hd, w->pos, w->inv_freq};
        o->rope(c, &rq);
        o->rope(c, &rk);
        attention_only(w);
        o->linear(c, w->tmp, w->att, &w->o, NULL, N);
        o->add(c, w->h, w->h, w->tmp, NC);
        o->rmsnorm(c, w->x, w->h, w->w2, N, C, 1e-5f);
        o->linear(c, w->g, w->x, &w->gate, NULL, N);
        o->linear(c, w->u, w->x, &w->up, NULL, N);
        o->swiglu(c, w->g, w->g, w->u, NF);
        o->linear(c, w->tmp, w->g, &w->down, NULL, N);
        o->add(c, w->h, w->h, w->tmp, NC);
    } else {
        o->layernorm(c, w->x, w->h, w->w1, w->b1, N, C, 1e-5f);
        o->linear(c, w->qb, w->x, &w->qkv, w->qkv_b.data, N);
        attention_only(w);
        o->linear(c, w->tmp, w->att, &w->o, w->ob, N);
        o->add(c, w->h, w->h, w->tmp, NC);
        o->layernorm(c, w->x, w->h, w->w2, w->b2, N, C, 1e-5f);
        o->linear(c, w->u, w->x, &w->up, w->upb, N);
        o->gelu_tanh(c, w->u, w->u, NF);
        o->linear(c, w->tmp, w->u, &w->down, w->downb, N);
        o->add(c, w->h, w->h, w->tmp, NC);
    }
    /* keep the residual stream bounded over many repetitions */
    o->scale(c, w->h, w->h, 0.5f, NC);
}

static double layer_flops(const layer_ws *w) {
    double C = w->s.C, F = w->s.F, N = w->N, Ckv = w->Ckv;
    double mats = w->s.llama ? (C * C * 2 + 2 * Ckv * C + 3 * F * C) : (4 * C * C + 2 * F * C);
    return 2 * N * mats + 2.0 * w->B * (double)w->T * w->T * C;
}

/* ms per call of fn over reps (events on the backend stream) */
static double time_ms(void (*fn)(layer_ws *), layer_ws *w, int reps) {
    fn(w);
    fn(w);
    if (w->ops->sync(w->ctx)) return -1;
    ll_cuda_timer *t = ll_cuda_timer_new(2);
    ll_cuda_timer_mark(t, 0);
    for (int r = 0; r < reps; r++) fn(w);
    ll_cuda_timer_mark(t, 1);
    float ms = -1;
    if (ll_cuda_timer_elapsed(t, 0, 1, &ms)) ms = -1;
    ll_cuda_timer_free(t);
    if (w->ops->sync(w->ctx)) return -1;
    return ms / reps;
}

static ll_cuda_stats *g_cap_st;
static double *g_cap_y;
static void layer_and_capture(layer_ws *w) {
    layer_run(w);
    if (ll_cuda_stats_add(g_cap_st, 0, w->h, w->s.C, g_cap_y, w->N, w->s.llama ? LL_NORM_RMSNORM : LL_NORM_LAYERNORM,
                          1e-5))
        printf("FAILED capture: %s\n", ll_last_error());
}

static int bench_layer(const layer_shape *s, ll_dtype wdt, ll_dtype compute) {
    if (g_peak_tflops <= 0 && ll_cuda_measure_gemm_bf16(8192, 5, &g_peak_tflops)) return fail("peak");
    layer_ws w;
    int B = 8, T = 512;
    if (layer_setup(&w, s, wdt, B, T)) { layer_free(&w); return fail("layer setup"); }
    w.ops = ll_cuda_ops();
    w.ctx = ll_cuda_ops_ctx_new(0, compute);
    if (!w.ctx) { layer_free(&w); return fail("ctx"); }
    int reps = g_quick ? 3 : 10;
    char p[160];
    const char *tc = getenv("LAYERLAW_CUDA_ATTN_TC");
    snprintf(p, sizeof p, "%s B=%d T=%d w=%s compute=%s%s", s->name, B, T, ll_dtype_name(wdt), ll_dtype_name(compute),
             !(tc && tc[0] == '0') && compute == LL_DT_BF16 ? " attn=tc" : "");
    double ms = time_ms(layer_run, &w, reps);
    if (ms < 0) { ll_cuda_ops_ctx_free(w.ctx); layer_free(&w); return fail("layer"); }
    double fl = layer_flops(&w), tf = fl / (ms * 1e-3) / 1e12;
    result("layer", p, "ms/layer", ms, "ms");
    result("layer", p, "rate", tf, "TFLOP/s");
    result("layer", p, "% of bf16 GEMM peak", 100 * tf / g_peak_tflops, "%");
    result("layer", p, "tokens/s per layer", w.N / (ms * 1e-3), "tok/s");
    double ma = time_ms(attention_only, &w, reps);
    result("layer", p, "attention ms", ma, "ms");
    result("layer", p, "attention rate", 2.0 * B * (double)T * T * s->C / (ma * 1e-3) / 1e12, "TFLOP/s");
    /* with capture, per Gram mode */
    g_cap_y = ll_cuda_malloc(sizeof(double) * w.N);
    double *hy = malloc(sizeof(double) * w.N);
    for (int i = 0; i < w.N; i++) hy[i] = (double)((i * 7919) % 50000);
    ll_cuda_memcpy_h2d(g_cap_y, hy, sizeof(double) * w.N);
    free(hy);
    for (int mode = 0; mode < LL_GRAM_N_MODES; mode++) {
        g_cap_st = ll_cuda_stats_new(1, s->C, LL_TARGET_ID, 0, w.N, (ll_gram_mode)mode);
        if (!g_cap_st) { printf("FAILED capture stats: %s\n", ll_last_error()); continue; }
        double mc = time_ms(layer_and_capture, &w, reps);
        char pm[200];
        snprintf(pm, sizeof pm, "%s +capture %s", p, ll_gram_mode_name((ll_gram_mode)mode));
        result("layer", pm, "ms/layer+capture", mc, "ms");
        result("layer", pm, "capture overhead", 100 * (mc - ms) / ms, "%");
        ll_cuda_stats_free(g_cap_st);
    }
    ll_cuda_free(g_cap_y);
    /* whole-model estimate: L layers + (L+1) captures, per 100k tokens */
    result("layer", p, "est. 100k tokens, L layers, no capture", ms * s->L * (100000.0 / w.N) / 1e3, "s");
    ll_cuda_ops_ctx_free(w.ctx);
    layer_free(&w);
    return 0;
}

/* ------------------------------------------------------------- scan bench */
static double g_scan_gbps;
static const char *g_scan_tag = "";
static int bench_scan(void) {
    if (g_copy_gbps <= 0 && ll_cuda_measure_copy((size_t)1 << 30, 5, &g_copy_gbps)) return fail("copy");
    const ll_ops *o = ll_cuda_ops();
    void *c = ll_cuda_ops_ctx_new(0, LL_DT_F32);
    if (!c) return fail("ctx");
    int B = 8, T = 512, N = B * T, reps = g_quick ? 3 : 10;
    char p[128];
    ll_cuda_timer *t = ll_cuda_timer_new(2);
    float ms;
    /* RWKV-4 WKV, A = 2048 (RWKV-4 1.5B); not repeated in the " serial" pass */
    if (!*g_scan_tag) {
        int A = 2048;
        float *k = dfloats((size_t)N * A, 1, 3), *v = dfloats((size_t)N * A, 2, 1), *out = dfloats((size_t)N * A, 3, 1);
        float *td = dfloats(A, 4, 1), *tf = dfloats(A, 5, 1);
        o->wkv4(c, out, k, v, td, tf, NULL, B, T, A);
        o->sync(c);
        ll_cuda_timer_mark(t, 0);
        for (int r = 0; r < reps; r++) o->wkv4(c, out, k, v, td, tf, NULL, B, T, A);
        ll_cuda_timer_mark(t, 1);
        ll_cuda_timer_elapsed(t, 0, 1, &ms);
        if (o->sync(c)) return fail("wkv4");
        double bytes = 3.0 * N * A * 4, gb = bytes / (ms / reps * 1e-3) / 1e9;
        snprintf(p, sizeof p, "wkv4 B=%d T=%d A=%d", B, T, A);
        result("scan", p, "ms", ms / reps, "ms");
        result("scan", p, "bandwidth", gb, "GB/s");
        result("scan", p, "% of copy bandwidth", 100 * gb / g_copy_gbps, "%");
        ll_cuda_free(k); ll_cuda_free(v); ll_cuda_free(out); ll_cuda_free(td); ll_cuda_free(tf);
    }
    /* Mamba-2.8B: C=2560, E=5120, S=16, K=4, dt_rank 160 */
    {
        int E = 5120, S = 16, K = 4, R = 160;
        int64_t bc_rs = R + 2 * S;
        float *xz = dfloats((size_t)N * 2 * E, 6, 1), *u = dfloats((size_t)N * E, 7, 1), *w = dfloats((size_t)E * K, 8, 0.5f);
        float *bias = dfloats(E, 9, 0.1f), *dt = dfloats((size_t)N * E, 10, 1), *Al = dfloats((size_t)E * S, 11, 1);
        float *xp = dfloats((size_t)N * bc_rs, 12, 1), *D = dfloats(E, 13, 1), *y = dfloats((size_t)N * E, 14, 1);
        o->conv1d_silu(c, u, xz, 2 * E, w, bias, NULL, B, T, E, K);
        o->sync(c);
        ll_cuda_timer_mark(t, 0);
        for (int r = 0; r < reps; r++) o->conv1d_silu(c, u, xz, 2 * E, w, bias, NULL, B, T, E, K);
        ll_cuda_timer_mark(t, 1);
        ll_cuda_timer_elapsed(t, 0, 1, &ms);
        if (o->sync(c)) return fail("conv1d");
        double gb = 2.0 * N * E * 4 / (ms / reps * 1e-3) / 1e9;
        snprintf(p, sizeof p, "conv1d_silu B=%d T=%d E=%d K=%d%s", B, T, E, K, g_scan_tag);
        result("scan", p, "ms", ms / reps, "ms");
        result("scan", p, "bandwidth", gb, "GB/s");
        result("scan", p, "% of copy bandwidth", 100 * gb / g_copy_gbps, "%");
        ll_sscan_params sp = {y, u, dt, Al, xp + R, xp + R + S, D, xz + E, bc_rs, 2 * E, NULL, B, T, E, S};
        o->selective_scan(c, &sp);
        o->sync(c);
        ll_cuda_timer_mark(t, 0);
        for (int r = 0; r < reps; r++) o->selective_scan(c, &sp);
        ll_cuda_timer_mark(t, 1);
        ll_cuda_timer_elapsed(t, 0, 1, &ms);
        if (o->sync(c)) return fail("selective_scan");
        gb = (4.0 * N * E + 2.0 * N * S) * 4 / (ms / reps * 1e-3) / 1e9;
        snprintf(p, sizeof p, "selective_scan B=%d T=%d E=%d S=%d%s", B, T, E, S, g_scan_tag);
        result("scan", p, "ms", ms / reps, "ms");
        result("scan", p, "bandwidth", gb, "GB/s");
        result("scan", p, "% of copy bandwidth", 100 * gb / g_copy_gbps, "%");
        g_scan_gbps = gb;
        ll_cuda_free(xz); ll_cuda_free(u); ll_cuda_free(w); ll_cuda_free(bias); ll_cuda_free(dt); ll_cuda_free(Al);
        ll_cuda_free(xp); ll_cuda_free(D); ll_cuda_free(y);
    }
    ll_cuda_timer_free(t);
    ll_cuda_ops_ctx_free(c);
    return 0;
}

int main(int argc, char **argv) {
    const char *sections[16];
    int ns = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            g_csv = fopen(argv[++i], "a");
        } else if (!strcmp(argv[i], "--quick")) {
            g_quick = 1;
        } else if (ns < 16) {
            sections[ns++] = argv[i];
        }
    }
    if (ns == 0) {
        static const char *all[] = {"copy", "gemm", "layer", "scan", "gram", "solve"};
        for (int i = 0; i < 6; i++) sections[ns++] = all[i];
    }
    char desc[512];
    if (ll_cuda_init(0) || ll_cuda_describe(desc, sizeof desc)) {
        printf("FAILED device: %s\n", ll_last_error());
        return 2;
    }
    printf("device: %s\n", desc);
    int bad = 0;
    for (int k = 0; k < ns; k++) {
        const char *s = sections[k];
        if (!strcmp(s, "copy")) bad |= bench_copy();
        else if (!strcmp(s, "gemm")) bad |= bench_gemm();
        else if (!strcmp(s, "gram")) { bad |= bench_gram(768, 4096); bad |= bench_gram(4096, 4096); }
        else if (!strcmp(s, "solve")) {
            bad |= bench_solve(13, 768, 0);
            bad |= bench_solve(13, 768, 1);
            bad |= bench_solve(4, 4096, 1);
            bad |= bench_solve(33, 4096, 0);
        } else if (!strcmp(s, "solve-loop-big")) bad |= bench_solve(33, 4096, 1);
        else if (!strcmp(s, "layer")) {
            static const layer_shape llama7b = {"llama-7B", 4096, 32, 32, 11008, 1, 32};
            static const layer_shape gpt2xl = {"gpt2-xl", 1600, 25, 25, 6400, 0, 48};
            const char *env = getenv("LAYERLAW_CUDA_ATTN_TC");
            char *keep = env ? strdup(env) : NULL;
            setenv("LAYERLAW_CUDA_ATTN_TC", "0", 1); /* the FP32 flash-style attention kernel, for comparison */
            bad |= bench_layer(&llama7b, LL_DT_BF16, LL_DT_BF16);
            bad |= bench_layer(&gpt2xl, LL_DT_BF16, LL_DT_BF16);
            setenv("LAYERLAW_CUDA_ATTN_TC", "1", 1); /* the tensor-core attention (the default) */
            bad |= bench_layer(&llama7b, LL_DT_BF16, LL_DT_BF16);
            bad |= bench_layer(&gpt2xl, LL_DT_BF16, LL_DT_BF16);
            if (keep) { setenv("LAYERLAW_CUDA_ATTN_TC", keep, 1); free(keep); } else unsetenv("LAYERLAW_CUDA_ATTN_TC");
            if (!g_quick) bad |= bench_layer(&gpt2xl, LL_DT_F32, LL_DT_F32);
        } else if (!strcmp(s, "scan")) {
            bad |= bench_scan();
            /* the serial conv1d / unstaged selective-scan kernels, for comparison */
            setenv("LAYERLAW_CUDA_SSCAN_SERIAL", "1", 1);
            g_scan_tag = " serial";
            bad |= bench_scan();
            g_scan_tag = "";
            unsetenv("LAYERLAW_CUDA_SSCAN_SERIAL");
        }
        else { printf("unknown section %s\n", s); bad = 1; }
    }
    if (g_csv) fclose(g_csv);
    return bad ? 1 : 0;
}
#else
int main(void) {
    printf("gpu_bench: built without CUDA\n");
    return 2;
}
#endif
