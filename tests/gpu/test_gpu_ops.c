/* Op-by-op parity: the CUDA op table (kernels/ops/) against the CPU
 * table (host/ops/cpu_dense.c, host/ops/cpu_recurrent.c) on the same random inputs, several
 * shapes each, odd ones included.  NMSE = Σ(gpu−cpu)²/Σcpu² with a per-op
 * tolerance (test-backend-ops style).  Every device buffer has a guard of
 * sentinel floats after it (checked after each op: out-of-bounds writes), and
 * outputs are pre-filled with the sentinel (a NaN: unwritten elements fail).
 *
 * Table-driven: every case is one row of CASES (its name, the ops it
 * covers, its function), registered as a test of its own; the test
 * gpu_ops_every_op_has_a_case walks LL_OPS_LIST (host/ops/ops.h) and fails
 * for an op of ll_ops that no row covers or that either table leaves NULL. */
#ifdef LL_HAVE_CUDA
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../harness.h"
#include "backend/cuda_backend.h"
#include "core/ll_util.h"
#include "ops/ops.h"
#include "ops/cpu_ops.h"
#include "probe/probe.h" /* ll_splitmix64 */

#define GUARD 64
static const uint32_t SENTINEL = 0x7fa5a5a5u; /* a NaN */

static uint64_t g_rng = 99;
static float frand(void) { return (float)((double)(ll_splitmix64(&g_rng) >> 11) * (2.0 / 9007199254740992.0) - 1.0); }
static float *hrand(size_t n, float scale) {
    float *h = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) h[i] = scale * frand();
    return h;
}

typedef struct {
    const ll_ops *cpu, *gpu;
    void *cc, *gc;
} backends;

static int setup(backends *b, ll_dtype compute) {
    b->cpu = ll_cpu_ops();
    b->gpu = ll_cuda_ops();
    b->cc = ll_cpu_ctx_new(1);
    b->gc = ll_cuda_ops_ctx_new(0, compute);
    if (!b->gc) { printf("    cuda ctx: %s\n", ll_last_error()); return -1; }
    return 0;
}
static void teardown(backends *b) { ll_cpu_ctx_free(b->cc); ll_cuda_ops_ctx_free(b->gc); }

/* device copy of host data (NULL: sentinel-filled output) + guard */
static void *dbuf(const void *host, size_t bytes) {
    size_t tot = bytes + GUARD * 4;
    uint32_t *h = malloc(tot);
    for (size_t i = 0; i < tot / 4; i++) h[i] = SENTINEL;
    if (host) memcpy(h, host, bytes);
    void *d = ll_cuda_malloc(tot + 16);
    if (!d || ll_cuda_memcpy_h2d(d, h, tot)) { printf("    dbuf: %s\n", ll_last_error()); free(h); return NULL; }
    free(h);
    return d;
}
/* downloads bytes into host (may be NULL) and checks the guard; 0 = ok */
static int dget(void *host, const void *d, size_t bytes, const char *what) {
    size_t tot = bytes + GUARD * 4;
    uint32_t *h = malloc(tot);
    if (ll_cuda_memcpy_d2h(h, d, tot)) { printf("    dget: %s\n", ll_last_error()); free(h); return -1; }
    int bad = 0;
    for (size_t i = bytes / 4; i < tot / 4; i++)
        if (h[i] != SENTINEL) bad++;
    if (host) memcpy(host, h, bytes);
    free(h);
    if (bad) printf("    %s: %d guard floats overwritten (out-of-bounds write)\n", what, bad);
    return bad ? -1 : 0;
}
static double nmse(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    if (isnan(num)) return INFINITY;
    return den > 0 ? num / den : num;
}
/* compares n floats of the device result with the CPU result */
#define COMPARE(label, dptr, cpu_host, n, tol)                                                            \
    do {                                                                                                   \
        float *g_ = malloc(sizeof(float) * ((size_t)(n) + 1));                                             \
        CHECK_MSG(dget(g_, dptr, sizeof(float) * (n), label) == 0, "%s: guard", label);                   \
        double e_ = nmse(g_, cpu_host, n);                                                                 \
        printf("    %-60s NMSE %.3g (tol %.0e)\n", label, e_, (double)(tol));                              \
        CHECK_MSG(e_ <= (tol), "%s: NMSE %.3g > %.3g", label, e_, (double)(tol));                          \
        free(g_);                                                                                          \
    } while (0)

static void sync_ok(backends *b) { CHECK_MSG(b->gpu->sync(b->gc) == 0, "sync: %s", ll_last_error()); }

/* ------------------------------------------------------------ elementwise */
static void gpu_ops_elementwise(void) {
    backends b;
    REQUIRE(setup(&b, LL_DT_F32) == 0);
    size_t sizes[] = {1, 7, 1000, 65537};
    for (int si = 0; si < 4; si++) {
        size_t n = sizes[si];
        float *x = hrand(n, 4.0f), *y = hrand(n, 4.0f), *c = malloc(4 * n);
        float *dx = dbuf(x, 4 * n), *dy = dbuf(y, 4 * n), *dout = dbuf(NULL, 4 * n);
        REQUIRE(dx && dy && dout);
        char lab[96];
        struct { const char *name; void (*cf)(void *, float *, const float *, size_t); void (*gf)(void *, float *, const float *, size_t); double tol; } un[] = {
            {"gelu_tanh", b.cpu->gelu_tanh, b.gpu->gelu_tanh, 1e-12}, {"gelu_erf", b.cpu->gelu_erf, b.gpu->gelu_erf, 1e-13},
            {"silu", b.cpu->silu, b.gpu->silu, 1e-12}, {"sigmoid", b.cpu->sigmoid, b.gpu->sigmoid, 1e-12},
            {"relu_sq", b.cpu->relu_sq, b.gpu->relu_sq, 0}, {"relu", b.cpu->relu, b.gpu->relu, 0}};
        for (int k = 0; k < (int)(sizeof un / sizeof un[0]); k++) {
            REQUIRE_MSG(un[k].gf, "%s missing in the CUDA table", un[k].name);
            un[k].cf(b.cc, c, x, n);
            un[k].gf(b.gc, dout, dx, n);
            sync_ok(&b);
            snprintf(lab, sizeof lab, "%s n=%zu", un[k].name, n);
            COMPARE(lab, dout, c, n, un[k].tol);
        }
        struct { const char *name; void (*cf)(void *, float *, const float *, const float *, size_t); void (*gf)(void *, float *, const float *, const float *, size_t); double tol; } bi[] = {
            {"add", b.cpu->add, b.gpu->add, 0}, {"mul", b.cpu->mul, b.gpu->mul, 0}, {"swiglu", b.cpu->swiglu, b.gpu->swiglu, 1e-12}};
        for (int k = 0; k < 3; k++) {
            bi[k].cf(b.cc, c, x, y, n);
            bi[k].gf(b.gc, dout, dx, dy, n);
            sync_ok(&b);
            snprintf(lab, sizeof lab, "%s n=%zu", bi[k].name, n);
            COMPARE(lab, dout, c, n, bi[k].tol);
        }
        b.cpu->scale(b.cc, c, x, 0.37f, n);
        b.gpu->scale(b.gc, dout, dx, 0.37f, n);
        sync_ok(&b);
        snprintf(lab, sizeof lab, "scale n=%zu", n);
        COMPARE(lab, dout, c, n, 0);
        /* in place */
        b.cpu->add(b.cc, c, x, y, n);
        b.gpu->add(b.gc, dx, dx, dy, n);
        sync_ok(&b);
        snprintf(lab, sizeof lab, "add in place n=%zu", n);
        COMPARE(lab, dx, c, n, 0);
        free(x); free(y); free(c);
        ll_cuda_free(dx); ll_cuda_free(dy); ll_cuda_free(dout);
    }
    teardown(&b);
}

/* ------------------------------------------------------------------ norms */
static void gpu_ops_norms(void) {
    backends b;
    REQUIRE(setup(&b, LL_DT_F32) == 0);
    int shapes[][2] = {{1, 1}, {3, 17}, {5, 768}, {2, 4097}, {64, 2048}};
    for (int si = 0; si < 5; si++) {
        int N = shapes[si][0], C = shapes[si][1];
        size_t n = (size_t)N * C;
        float *x = hrand(n, 3.0f), *w = hrand(C, 1.0f), *bb = hrand(C, 1.0f), *c = malloc(4 * n);
        for (size_t i = 0; i < n; i++) x[i] += 2.0f; /* an offset: the mean matters */
        float *dx = dbuf(x, 4 * n), *dw = dbuf(w, 4 * C), *db = dbuf(bb, 4 * C), *dout = dbuf(NULL, 4 * n);
        REQUIRE(dx && dw && db && dout);
        char lab[96];
        for (int aff = 0; aff < 2; aff++) {
            b.cpu->layernorm(b.cc, c, x, aff ? w : NULL, aff ? bb : NULL, N, C, 1e-5f);
            b.gpu->layernorm(b.gc, dout, dx, aff ? dw : NULL, aff ? db : NULL, N, C, 1e-5f);
            sync_ok(&b);
            snprintf(lab, sizeof lab, "layernorm N=%d C=%d %s", N, C, aff ? "w,b" : "no affine");
            COMPARE(lab, dout, c, n, 1e-12);
            b.cpu->rmsnorm(b.cc, c, x, aff ? w : NULL, N, C, 1e-6f);
            b.gpu->rmsnorm(b.gc, dout, dx, aff ? dw : NULL, N, C, 1e-6f);
            sync_ok(&b);
            snprintf(lab, sizeof lab, "rmsnorm N=%d C=%d %s", N, C, aff ? "w" : "no weight");
            COMPARE(lab, dout, c, n, 1e-12);
        }
        /* in place */
        b.cpu->layernorm(b.cc, c, x, w, bb, N, C, 1e-5f);
        b.gpu->layernorm(b.gc, dx, dx, dw, db, N, C, 1e-5f);
        sync_ok(&b);
        snprintf(lab, sizeof lab, "layernorm in place N=%d C=%d", N, C);
        COMPARE(lab, dx, c, n, 1e-12);
        free(x); free(w); free(bb); free(c);
        ll_cuda_free(dx); ll_cuda_free(dw); ll_cuda_free(db); ll_cuda_free(dout);
    }
    teardown(&b);
}

/* ----------------------------------------------------------------- linear */
static float round_dt(float v, ll_dtype dt) {
    if (dt == LL_DT_BF16) return ll_bf16_to_f32(ll_f32_to_bf16(v));
    if (dt == LL_DT_F16) return ll_f16_to_f32(ll_f32_to_f16(v));
    return v;
}
static void linear_case(ll_dtype compute, ll_dtype wdt, double tol) {
    backends b;
    REQUIRE(setup(&b, compute) == 0);
    int shapes[][3] = {{1, 1, 1}, {3, 17, 5}, {7, 64, 130}, {33, 768, 96}, {257, 1024, 1000}};
    for (int si = 0; si < 5; si++) {
        int N = shapes[si][0], K = shapes[si][1], M = shapes[si][2];
        float *x = hrand((size_t)N * K, 1.0f), *w = hrand((size_t)M * K, 0.5f), *bias = hrand(M, 1.0f);
        float *wr = malloc(sizeof(float) * M * K), *c = malloc(sizeof(float) * N * M);
        for (size_t i = 0; i < (size_t)M * K; i++) wr[i] = round_dt(w[i], wdt); /* the CPU sees the stored weights */
        ll_weight Wc = {wr, LL_DT_F32, M, K}, Wg;
        REQUIRE_MSG(ll_cuda_upload_weight(&Wg, w, M, K, wdt) == 0, "%s", ll_last_error());
        float *dx = dbuf(x, 4 * (size_t)N * K), *db = dbuf(bias, 4 * (size_t)M), *dout = dbuf(NULL, 4 * (size_t)N * M);
        REQUIRE(dx && db && dout);
        for (int wb = 0; wb < 2; wb++) {
            b.cpu->linear(b.cc, c, x, &Wc, wb ? bias : NULL, N);
            b.gpu->linear(b.gc, dout, dx, &Wg, wb ? db : NULL, N);
            sync_ok(&b);
            char lab[128];
            snprintf(lab, sizeof lab, "linear N=%d K=%d M=%d w=%s compute=%s%s", N, K, M, ll_dtype_name(wdt),
                     ll_dtype_name(compute), wb ? " +bias" : "");
            COMPARE(lab, dout, c, (size_t)N * M, tol);
        }
        free(x); free(w); free(bias); free(wr); free(c);
        ll_cuda_free((void *)Wg.data); ll_cuda_free(dx); ll_cuda_free(db); ll_cuda_free(dout);
    }
    teardown(&b);
}
static void gpu_ops_linear_f32(void) { linear_case(LL_DT_F32, LL_DT_F32, 1e-11); }
static void gpu_ops_linear_bf16_weights(void) { linear_case(LL_DT_BF16, LL_DT_BF16, 3e-5); }
static void gpu_ops_linear_f16_weights(void) { linear_case(LL_DT_BF16, LL_DT_F16, 1e-6); }
static void gpu_ops_linear_f32_weights_bf16_compute(void) { linear_case(LL_DT_BF16, LL_DT_F32, 5e-5); }

/* -------------------------------------------------------------- embedding */
static void gpu_ops_embedding(void) {
    backends b;
    REQUIRE(setup(&b, LL_DT_F32) == 0);
    int Cs[] = {1, 33, 768};
    ll_dtype dts[] = {LL_DT_F32, LL_DT_BF16, LL_DT_F16};
    for (int ci = 0; ci < 3; ci++)
        for (int di = 0; di < 3; di++) {
            int V = 50, C = Cs[ci], N = 9;
            float *t = hrand((size_t)V * C, 1.0f), *tr = malloc(sizeof(float) * V * C);
            for (size_t i = 0; i < (size_t)V * C; i++) tr[i] = round_dt(t[i], dts[di]);
            int32_t ids[9] = {0, 49, 3, 3, 17, 1, 48, 0, 25};
            float *base = hrand((size_t)N * C, 1.0f), *c = malloc(sizeof(float) * N * C);
            ll_weight Tc = {tr, LL_DT_F32, V, C}, Tg;
            REQUIRE(ll_cuda_upload_weight(&Tg, t, V, C, dts[di]) == 0);
            int32_t *dids = dbuf(ids, sizeof ids);
            for (int acc = 0; acc < 2; acc++) {
                memcpy(c, base, sizeof(float) * N * C);
                float *dout = dbuf(acc ? base : NULL, 4 * (size_t)N * C);
                b.cpu->embedding(b.cc, c, &Tc, ids, N, acc);
                b.gpu->embedding(b.gc, dout, &Tg, dids, N, acc);
                sync_ok(&b);
                char lab[96];
                snprintf(lab, sizeof lab, "embedding V=%d C=%d N=%d %s%s", V, C, N, ll_dtype_name(dts[di]), acc ? " accumulate" : "");
                COMPARE(lab, dout, c, (size_t)N * C, 0);
                ll_cuda_free(dout);
            }
            free(t); free(tr); free(base); free(c);
            ll_cuda_free((void *)Tg.data); ll_cuda_free(dids);
        }
    teardown(&b);
}

/* ------------------------------------------------------------------- rope */
static void gpu_ops_rope(void) {
    backends b;
    REQUIRE(setup(&b, LL_DT_F32) == 0);
    /* N rows, heads, hd, rot_dims, head stride, row stride (fused layouts) */
    int cases[][6] = {{6, 3, 16, 16, 16, 48}, {5, 4, 32, 8, 32, 128}, {7, 2, 64, 16, 192, 384}, {300, 8, 128, 128, 128, 3072}};
    for (int ci = 0; ci < 4; ci++) {
        int N = cases[ci][0], H = cases[ci][1], hd = cases[ci][2], rot = cases[ci][3], hs = cases[ci][4], rs = cases[ci][5];
        size_t n = (size_t)N * rs;
        float *x = hrand(n, 2.0f), *c = malloc(4 * n);
        memcpy(c, x, 4 * n);
        int32_t *pos = malloc(4 * N);
        for (int r = 0; r < N; r++) pos[r] = (r * 37) % 2000; /* large positions: angle accuracy */
        float *inv = malloc(4 * (rot / 2));
        for (int i = 0; i < rot / 2; i++) inv[i] = powf(10000.0f, -2.0f * i / rot);
        float *dx = dbuf(x, 4 * n);
        int32_t *dpos = dbuf(pos, 4 * N);
        float *dinv = dbuf(inv, 4 * (rot / 2));
        ll_rope_params pc = {c, rs, hs, N, H, rot, pos, inv}, pg = {dx, rs, hs, N, H, rot, dpos, dinv};
        (void)hd;
        b.cpu->rope(b.cc, &pc);
        b.gpu->rope(b.gc, &pg);
        sync_ok(&b);
        char lab[96];
        snprintf(lab, sizeof lab, "rope N=%d H=%d hd=%d rot=%d hs=%d rs=%d", N, H, hd, rot, hs, rs);
        COMPARE(lab, dx, c, n, 1e-11);
        free(x); free(c); free(pos); free(inv);
        ll_cuda_free(dx); ll_cuda_free(dpos); ll_cuda_free(dinv);
    }
    teardown(&b);
}

/* -------------------------------------------------------------- attention */
typedef struct { int B, T, H, KVH, hd, window, layout; int lens[4]; } attn_case;
static void attn_run_tol(backends *b, const attn_case *ac, double tol);
static void attn_run(backends *b, const attn_case *ac) { attn_run_tol(b, ac, 1e-10); }
static void attn_run_tol(backends *b, const attn_case *ac, double tol) {
    int B = ac->B, T = ac->T, H = ac->H, KVH = ac->KVH, hd = ac->hd;
    int C = H * hd, Ckv = KVH * hd;
    /* layout 0: separate q [N, C], k/v [N, Ckv]; 1: GPT-2 fused [N, 3C] (q|k|v); 2: NeoX per-head [N, H, 3hd] */
    size_t N = (size_t)B * T;
    size_t qkv_n = ac->layout == 0 ? N * (C + 2 * Ckv) : N * 3 * C;
    float *qkv = hrand(qkv_n, 1.5f), *c = malloc(4 * N * C);
    float *d = dbuf(qkv, 4 * qkv_n), *dout = dbuf(NULL, 4 * N * C);
    int *dl = dbuf(ac->lens, sizeof(int) * B);
    ll_attn_params p = {0};
    p.o_rs = C; p.B = B; p.T = T; p.H = H; p.KVH = KVH; p.hd = hd; p.scale = 1.0f / sqrtf((float)hd); p.window = ac->window;
    int64_t qo, ko, vo;
    if (ac->layout == 0) {
        qo = 0; ko = (int64_t)N * C; vo = ko + (int64_t)N * Ckv;
        p.q_rs = C; p.k_rs = Ckv; p.v_rs = Ckv; p.q_hs = p.k_hs = p.v_hs = hd;
    } else if (ac->layout == 1) {
        qo = 0; ko = C; vo = 2 * C;
        p.q_rs = p.k_rs = p.v_rs = 3 * C; p.q_hs = p.k_hs = p.v_hs = hd;
    } else {
        qo = 0; ko = hd; vo = 2 * hd;
        p.q_rs = p.k_rs = p.v_rs = 3 * C; p.q_hs = p.k_hs = p.v_hs = 3 * hd;
    }
    ll_attn_params pc = p, pg = p;
    pc.out = c; pc.q = qkv + qo; pc.k = qkv + ko; pc.v = qkv + vo; pc.lens = ac->lens;
    pg.out = dout; pg.q = d + qo; pg.k = d + ko; pg.v = d + vo; pg.lens = dl;
    b->cpu->attention(b->cc, &pc);
    b->gpu->attention(b->gc, &pg);
    sync_ok(b);
    char lab[128];
    snprintf(lab, sizeof lab, "attention B=%d T=%d H=%d KVH=%d hd=%d win=%d layout=%d lens=%d,%d", B, T, H, KVH, hd,
             ac->window, ac->layout, ac->lens[0], B > 1 ? ac->lens[1] : -1);
    COMPARE(lab, dout, c, N * C, tol);
    CHECK_MSG(dget(NULL, d, 4 * qkv_n, "attention inputs") == 0, "inputs guard");
    free(qkv); free(c);
    ll_cuda_free(d); ll_cuda_free(dout); ll_cuda_free(dl);
}
static void gpu_ops_attention(void) {
    backends b;
    REQUIRE(setup(&b, LL_DT_F32) == 0);
    attn_case cases[] = {
        {1, 1, 1, 1, 8, 0, 0, {1}},
        {2, 5, 4, 2, 16, 0, 0, {5, 3}},
        {2, 37, 4, 1, 64, 0, 0, {37, 20}},
        {1, 70, 2, 2, 128, 16, 0, {70}},
        {1, 9, 2, 1, 256, 0, 0, {9}},
        {2, 45, 3, 3, 24, 0, 1, {45, 45}},
        {2, 33, 2, 2, 20, 0, 2, {33, 1}},
        {3, 200, 8, 2, 128, 0, 0, {200, 131, 7}},
        {1, 100, 4, 4, 80, 0, 2, {100}},
        {2, 19, 3, 1, 33, 0, 0, {19, 11}},   /* hd % 4 != 0: the scalar kernel */
        {1, 40, 2, 2, 6, 8, 0, {40}},
        {2, 600, 4, 2, 128, 0, 0, {600, 333}}, /* many key tiles */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) attn_run(&b, &cases[i]);
    teardown(&b);
}

/* The bf16 tensor-core kernel (compute BF16, hd 64 / 128, LAYERLAW_CUDA_ATTN_TC=1):
 * bf16 rounding of q, k, v and P bounds the agreement (NMSE ~1e-5). */
static void gpu_ops_attention_tc_bf16(void) {
    setenv("LAYERLAW_CUDA_ATTN_TC", "1", 1);
    backends b;
    REQUIRE(setup(&b, LL_DT_BF16) == 0);
    attn_case cases[] = {
        {2, 37, 4, 1, 64, 0, 0, {37, 20}},
        {1, 70, 2, 2, 128, 16, 0, {70}},
        {3, 200, 8, 2, 128, 0, 0, {200, 131, 7}},
        {2, 600, 4, 2, 128, 0, 0, {600, 333}},
        {1, 100, 4, 4, 64, 0, 2, {100}},
        {2, 45, 3, 3, 64, 0, 1, {45, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) attn_run_tol(&b, &cases[i], 2e-4);
    teardown(&b);
}

/* ----------------------------------------------------------------- copy2d */
static void gpu_ops_copy2d(void) {
    backends b;
    REQUIRE(setup(&b, LL_DT_F32) == 0);
    int rows = 13, cols = 7, srs = 11, drs = 9;
    float *src = hrand((size_t)rows * srs, 1.0f), *c = hrand((size_t)rows * drs, 1.0f);
    float *ds = dbuf(src, 4 * rows * srs), *dd = dbuf(c, 4 * rows * drs);
    b.cpu->copy2d(b.cc, c, drs, src, srs, rows, cols);
    b.gpu->copy2d(b.gc, dd, drs, ds, srs, rows, cols);
    sync_ok(&b);
    COMPARE("copy2d rows=13 cols=7 srs=11 drs=9", dd, c, (size_t)rows * drs, 0);
    free(src); free(c);
    ll_cuda_free(ds); ll_cuda_free(dd);
    teardown(&b);
}

/* ------------------------------------------------------ recurrent families */
static void gpu_ops_rwkv_shift_mix(void) {
    backends b;
    REQUIRE(setup(&b, LL_DT_F32) == 0);
    REQUIRE_MSG(b.cpu->rwkv_shift_mix && b.gpu->rwkv_shift_mix, "rwkv_shift_mix missing");
    int B = 2, T = 5, C = 7;
    size_t n = (size_t)B * T * C;
    float *x = hrand(n, 1), *prev = hrand((size_t)B * C, 1), *mk = hrand(C, 1), *mv = hrand(C, 1), *mr = hrand(C, 1);
    float *ck = malloc(4 * n), *cv = malloc(4 * n), *cr = malloc(4 * n);
    float *dx = dbuf(x, 4 * n), *dp = dbuf(prev, 4 * B * C), *dmk = dbuf(mk, 4 * C), *dmv = dbuf(mv, 4 * C), *dmr = dbuf(mr, 4 * C);
    for (int withprev = 0; withprev < 2; withprev++)
        for (int withv = 0; withv < 2; withv++) {
            float *dk = dbuf(NULL, 4 * n), *dv = dbuf(NULL, 4 * n), *dr = dbuf(NULL, 4 * n);
            b.cpu->rwkv_shift_mix(b.cc, ck, withv ? cv : NULL, cr, x, withprev ? prev : NULL, mk, withv ? mv : NULL, mr, B, T, C);
            b.gpu->rwkv_shift_mix(b.gc, dk, withv ? dv : NULL, dr, dx, withprev ? dp : NULL, dmk, withv ? dmv : NULL, dmr, B, T, C);
            sync_ok(&b);
            char lab[96];
            snprintf(lab, sizeof lab, "rwkv_shift_mix B=%d T=%d C=%d prev=%d v=%d (k)", B, T, C, withprev, withv);
            COMPARE(lab, dk, ck, n, 1e-13);
            snprintf(lab, sizeof lab, "rwkv_shift_mix B=%d T=%d C=%d prev=%d v=%d (r)", B, T, C, withprev, withv);
            COMPARE(lab, dr, cr, n, 1e-13);
            if (withv) COMPARE("rwkv_shift_mix (v)", dv, cv, n, 1e-13);
            ll_cuda_free(dk); ll_cuda_free(dv); ll_cuda_free(dr);
        }
    free(x); free(prev); free(mk); free(mv); free(mr); free(ck); free(cv); free(cr);
    ll_cuda_free(dx); ll_cuda_free(dp); ll_cuda_free(dmk); ll_cuda_free(dmv); ll_cuda_free(dmr);
    teardown(&b);
}

static void gpu_ops_wkv4(void) {
    backends b;
    REQUIRE(setup(&b, LL_DT_F32) == 0);
    REQUIRE_MSG(b.cpu->wkv4 && b.gpu->wkv4, "wkv4 missing");
    int shapes[][3] = {{1, 1, 1}, {2, 33, 17}, {3, 300, 256}};
    for (int si = 0; si < 3; si++) {
        int B = shapes[si][0], T = shapes[si][1], A = shapes[si][2];
        size_t n = (size_t)B * T * A;
        float *k = hrand(n, 3), *v = hrand(n, 2), *td = hrand(A, 2), *tf = hrand(A, 1), *c = malloc(4 * n);
        float *st = malloc(sizeof(float) * 3 * B * A);
        for (int i = 0; i < B * A; i++) { st[i] = frand(); st[B * A + i] = 1.0f + frand() * 0.5f; st[2 * B * A + i] = frand(); }
        float *dk = dbuf(k, 4 * n), *dv = dbuf(v, 4 * n), *dtd = dbuf(td, 4 * A), *dtf = dbuf(tf, 4 * A);
        for (int ws = 0; ws < 2; ws++) {
            float *cst = malloc(sizeof(float) * 3 * B * A);
            memcpy(cst, st, sizeof(float) * 3 * B * A);
            float *dst = dbuf(st, sizeof(float) * 3 * B * A), *dout = dbuf(NULL, 4 * n);
            b.cpu->wkv4(b.cc, c, k, v, td, tf, ws ? cst : NULL, B, T, A);
            b.gpu->wkv4(b.gc, dout, dk, dv, dtd, dtf, ws ? dst : NULL, B, T, A);
            sync_ok(&b);
            char lab[96];
            snprintf(lab, sizeof lab, "wkv4 B=%d T=%d A=%d state=%d", B, T, A, ws);
            COMPARE(lab, dout, c, n, 1e-10);
            if (ws) COMPARE("wkv4 final state", dst, cst, (size_t)3 * B * A, 1e-10);
            free(cst);
            ll_cuda_free(dst); ll_cuda_free(dout);
        }
        free(k); free(v); free(td); free(tf); free(c); free(st);
        ll_cuda_free(dk); ll_cuda_free(dv); ll_cuda_free(dtd); ll_cuda_free(dtf);
    }
    teardown(&b);
}

static void gpu_ops_conv1d_silu(void) {
    backends b;
    REQUIRE(setup(&b, LL_DT_F32) == 0);
    REQUIRE_MSG(b.cpu->conv1d_silu && b.gpu->conv1d_silu, "conv1d_silu missing");
    int shapes[][4] = {{1, 1, 1, 4}, {2, 19, 13, 4}, {2, 7, 5, 2}, {1, 64, 1536, 4}, {2, 5, 3, 1}};
    for (int si = 0; si < 5; si++) {
        int B = shapes[si][0], T = shapes[si][1], E = shapes[si][2], K = shapes[si][3];
        int64_t in_rs = 2 * E; /* a view into in_proj's output */
        size_t nin = (size_t)B * T * in_rs, n = (size_t)B * T * E, ns = (size_t)B * E * (K - 1);
        float *in = hrand(nin, 2), *w = hrand((size_t)E * K, 1), *bias = hrand(E, 1), *st = hrand(ns, 1), *c = malloc(4 * n);
        float *din = dbuf(in, 4 * nin), *dw = dbuf(w, 4 * E * K), *db = dbuf(bias, 4 * E);
        for (int ws = 0; ws < 2; ws++) {
            float *cst = malloc(4 * (ns ? ns : 1));
            memcpy(cst, st, 4 * ns);
            float *dst = dbuf(st, 4 * ns), *dout = dbuf(NULL, 4 * n);
            b.cpu->conv1d_silu(b.cc, c, in, in_rs, w, ws ? NULL : bias, ws ? cst : NULL, B, T, E, K);
            b.gpu->conv1d_silu(b.gc, dout, din, in_rs, dw, ws ? NULL : db, ws ? dst : NULL, B, T, E, K);
            sync_ok(&b);
            char lab[96];
            snprintf(lab, sizeof lab, "conv1d_silu B=%d T=%d E=%d K=%d state=%d bias=%d", B, T, E, K, ws, !ws);
            COMPARE(lab, dout, c, n, 1e-12);
            if (ws && ns) COMPARE("conv1d_silu final state", dst, cst, ns, 0);
            free(cst);
            ll_cuda_free(dst); ll_cuda_free(dout);
        }
        free(in); free(w); free(bias); free(st); free(c);
        ll_cuda_free(din); ll_cuda_free(dw); ll_cuda_free(db);
    }
    teardown(&b);
}

static void gpu_ops_selective_scan(void) {
    backends b;
    REQUIRE(setup(&b, LL_DT_F32) == 0);
    REQUIRE_MSG(b.cpu->selective_scan && b.gpu->selective_scan, "selective_scan missing");
    int shapes[][4] = {{1, 1, 1, 1}, {2, 21, 11, 16}, {1, 64, 1536, 16}, {2, 9, 5, 7}};
    for (int si = 0; si < 4; si++) {
        int B = shapes[si][0], T = shapes[si][1], E = shapes[si][2], S = shapes[si][3];
        size_t N = (size_t)B * T, n = N * E, ns = (size_t)B * E * S;
        int64_t bc_rs = 3 + 2 * S, z_rs = 2 * E; /* views: x_proj = [dt_in(3) | B | C], in_proj = [x | z] */
        float *u = hrand(n, 1), *dtr = hrand(n, 2), *Al = hrand((size_t)E * S, 1), *xp = hrand(N * bc_rs, 1);
        float *D = hrand(E, 1), *zz = hrand(N * z_rs, 2), *st = hrand(ns, 1), *c = malloc(4 * n);
        float *du = dbuf(u, 4 * n), *ddt = dbuf(dtr, 4 * n), *dA = dbuf(Al, 4 * E * S), *dxp = dbuf(xp, 4 * N * bc_rs);
        float *dD = dbuf(D, 4 * E), *dz = dbuf(zz, 4 * N * z_rs);
        for (int var = 0; var < 2; var++) {
            float *cst = malloc(4 * ns);
            memcpy(cst, st, 4 * ns);
            float *dst = dbuf(st, 4 * ns), *dy = dbuf(NULL, 4 * n);
            ll_sscan_params pc = {c, u, dtr, Al, xp + 3, xp + 3 + S, var ? NULL : D, var ? NULL : zz, bc_rs, z_rs, var ? cst : NULL, B, T, E, S};
            ll_sscan_params pg = {dy, du, ddt, dA, dxp + 3, dxp + 3 + S, var ? NULL : dD, var ? NULL : dz, bc_rs, z_rs, var ? dst : NULL, B, T, E, S};
            b.cpu->selective_scan(b.cc, &pc);
            b.gpu->selective_scan(b.gc, &pg);
            sync_ok(&b);
            char lab[96];
            snprintf(lab, sizeof lab, "selective_scan B=%d T=%d E=%d S=%d %s", B, T, E, S, var ? "state, no D/z" : "D, z");
            COMPARE(lab, dy, c, n, 1e-10);
            if (var) COMPARE("selective_scan final state", dst, cst, ns, 1e-10);
            free(cst);
            ll_cuda_free(dst); ll_cuda_free(dy);
        }
        free(u); free(dtr); free(Al); free(xp); free(D); free(zz); free(st); free(c);
        ll_cuda_free(du); ll_cuda_free(ddt); ll_cuda_free(dA); ll_cuda_free(dxp); ll_cuda_free(dD); ll_cuda_free(dz);
    }
    teardown(&b);
}

/* Mamba-2 SSD (ll_ssd_params): x, B/C, dt and z as views into wider rows
 * (in_proj's output), groups shared by heads, with and without the state,
 * D, dt_bias, the gate and the group RMSNorm; N = 130 takes the largest
 * template (k_ssd_scan<256>).  Same recurrence and order as the CPU: float
 * rounding of expf/log1pf only (1e-10 as selective_scan). */
static void gpu_ops_ssd_scan(void) {
    backends b;
    REQUIRE(setup(&b, LL_DT_F32) == 0);
    REQUIRE_MSG(b.cpu->ssd_scan && b.gpu->ssd_scan, "ssd_scan missing");
    /* B, T, NH, P, N, G, norm_groups */
    int shapes[][7] = {{1, 1, 1, 1, 1, 1, 1}, {2, 13, 4, 3, 16, 2, 2}, {1, 40, 8, 16, 64, 1, 1}, {2, 7, 6, 5, 130, 3, 3}};
    for (int si = 0; si < 4; si++) {
        int B = shapes[si][0], T = shapes[si][1], NH = shapes[si][2], P = shapes[si][3], N = shapes[si][4];
        int G = shapes[si][5], ng = shapes[si][6];
        const size_t R = (size_t)B * T, E = (size_t)NH * P, ns = (size_t)B * NH * P * N;
        const int64_t x_rs = (int64_t)E + 3, bc_rs = 2 * (int64_t)G * N + 1, dt_rs = NH + 2, z_rs = (int64_t)E + 5;
        float *x = hrand(R * x_rs, 1), *bc = hrand(R * bc_rs, 1), *dt = hrand(R * dt_rs, 2), *z = hrand(R * z_rs, 2);
        float *dtb = hrand(NH, 1), *Al = hrand(NH, 1), *D = hrand(NH, 1), *nw = hrand(E, 1), *st = hrand(ns, 1);
        float *c = malloc(4 * R * E);
        float *dx = dbuf(x, 4 * R * x_rs), *dbc = dbuf(bc, 4 * R * bc_rs), *ddt = dbuf(dt, 4 * R * dt_rs);
        float *dz = dbuf(z, 4 * R * z_rs), *ddtb = dbuf(dtb, 4 * NH), *dAl = dbuf(Al, 4 * NH), *dD = dbuf(D, 4 * NH);
        float *dnw = dbuf(nw, 4 * E);
        REQUIRE(dx && dbc && ddt && dz && ddtb && dAl && dD && dnw);
        for (int var = 0; var < 3; var++) { /* 0: plain; 1: state, D, dt_bias, clamp; 2: + gate and group norm */
            float *cst = malloc(4 * ns);
            memcpy(cst, st, 4 * ns);
            float *dst = dbuf(st, 4 * ns), *dy = dbuf(NULL, 4 * R * E);
            REQUIRE(dst && dy);
            ll_ssd_params pc = {0};
            pc.x_rs = x_rs; pc.bc_rs = bc_rs; pc.dt_rs = dt_rs; pc.z_rs = z_rs;
            pc.dt_min = var ? 0.01f : 0.0f; pc.dt_max = var ? 0.5f : 1e30f; pc.norm_eps = 1e-5f; pc.norm_groups = ng;
            pc.B = B; pc.T = T; pc.NH = NH; pc.P = P; pc.N = N; pc.G = G;
            ll_ssd_params pg = pc;
            pc.y = c; pc.x = x; pc.Bm = bc + 1; pc.Cm = bc + 1 + (size_t)G * N; pc.dt = dt; pc.A_log = Al;
            pg.y = dy; pg.x = dx; pg.Bm = dbc + 1; pg.Cm = dbc + 1 + (size_t)G * N; pg.dt = ddt; pg.A_log = dAl;
            if (var >= 1) { pc.state = cst; pc.D = D; pc.dt_bias = dtb; pg.state = dst; pg.D = dD; pg.dt_bias = ddtb; }
            if (var == 2) { pc.z = z; pc.norm_w = nw; pg.z = dz; pg.norm_w = dnw; }
            b.cpu->ssd_scan(b.cc, &pc);
            b.gpu->ssd_scan(b.gc, &pg);
            sync_ok(&b);
            char lab[128];
            snprintf(lab, sizeof lab, "ssd_scan B=%d T=%d NH=%d P=%d N=%d G=%d %s", B, T, NH, P, N, G,
                     var == 0 ? "plain" : var == 1 ? "state, D, dt_bias, clamp" : "+ gate, group norm");
            COMPARE(lab, dy, c, R * E, 1e-10);
            if (var) COMPARE("ssd_scan final state", dst, cst, ns, 1e-10);
            free(cst);
            ll_cuda_free(dst); ll_cuda_free(dy);
        }
        free(x); free(bc); free(dt); free(z); free(dtb); free(Al); free(D); free(nw); free(st); free(c);
        ll_cuda_free(dx); ll_cuda_free(dbc); ll_cuda_free(ddt); ll_cuda_free(dz); ll_cuda_free(ddtb);
        ll_cuda_free(dAl); ll_cuda_free(dD); ll_cuda_free(dnw);
    }
    teardown(&b);
}

/* The memory ops of the table: alloc, upload, download, sync, free (a round
 * trip of odd sizes, bit-exact). */
static void gpu_ops_memory(void) {
    backends b;
    REQUIRE(setup(&b, LL_DT_F32) == 0);
    size_t sizes[] = {1, 13, 100003};
    for (int si = 0; si < 3; si++) {
        size_t n = sizes[si];
        float *x = hrand(n, 1), *y = malloc(4 * n);
        void *d = b.gpu->alloc(b.gc, 4 * n);
        REQUIRE_MSG(d, "alloc: %s", ll_last_error());
        b.gpu->upload(b.gc, d, x, 4 * n);
        b.gpu->download(b.gc, y, d, 4 * n);
        sync_ok(&b);
        CHECK_MSG(!memcmp(x, y, 4 * n), "memory round trip of %zu floats differs", n);
        b.gpu->free(b.gc, d);
        free(x); free(y);
    }
    teardown(&b);
}

/* An unsupported shape is reported by sync(), naming the op; later ops are skipped. */
static void gpu_ops_error_reporting(void) {
    backends b;
    REQUIRE(setup(&b, LL_DT_F32) == 0);
    ll_attn_params p = {0};
    p.B = 1; p.T = 1; p.H = 1; p.KVH = 1; p.hd = 1000;
    b.gpu->attention(b.gc, &p);
    CHECK(b.gpu->sync(b.gc) == -1);
    CHECK(strstr(ll_last_error(), "attention") != NULL);
    teardown(&b);
}
/* ------------------------------------------------------------------ table */
typedef struct {
    const char *name; /* the test's name */
    const char *ops;  /* the ll_ops functions it compares, space-separated */
    void (*run)(void);
} op_case;
static const op_case CASES[] = {
    {"gpu_ops_memory", "alloc free upload download sync", gpu_ops_memory},
    {"gpu_ops_elementwise", "gelu_tanh gelu_erf silu sigmoid relu_sq relu add mul swiglu scale", gpu_ops_elementwise},
    {"gpu_ops_norms", "layernorm rmsnorm", gpu_ops_norms},
    {"gpu_ops_linear_f32", "linear", gpu_ops_linear_f32},
    {"gpu_ops_linear_bf16_weights", "linear", gpu_ops_linear_bf16_weights},
    {"gpu_ops_linear_f16_weights", "linear", gpu_ops_linear_f16_weights},
    {"gpu_ops_linear_f32_weights_bf16_compute", "linear", gpu_ops_linear_f32_weights_bf16_compute},
    {"gpu_ops_embedding", "embedding", gpu_ops_embedding},
    {"gpu_ops_rope", "rope", gpu_ops_rope},
    {"gpu_ops_attention", "attention", gpu_ops_attention},
    {"gpu_ops_attention_tc_bf16", "attention", gpu_ops_attention_tc_bf16},
    {"gpu_ops_copy2d", "copy2d", gpu_ops_copy2d},
    {"gpu_ops_rwkv_shift_mix", "rwkv_shift_mix", gpu_ops_rwkv_shift_mix},
    {"gpu_ops_wkv4", "wkv4", gpu_ops_wkv4},
    {"gpu_ops_conv1d_silu", "conv1d_silu", gpu_ops_conv1d_silu},
    {"gpu_ops_selective_scan", "selective_scan", gpu_ops_selective_scan},
    {"gpu_ops_ssd_scan", "ssd_scan", gpu_ops_ssd_scan},
    {"gpu_ops_error_reporting", "", gpu_ops_error_reporting},
};
#define N_CASES (sizeof CASES / sizeof CASES[0])

__attribute__((constructor)) static void register_cases(void) {
    for (size_t i = 0; i < N_CASES; i++) ll_test_register(CASES[i].name, __FILE__, CASES[i].run);
}

/* op as a whole word of a case's list */
static int case_covers(const op_case *c, const char *op) {
    const size_t n = strlen(op);
    for (const char *p = c->ops; (p = strstr(p, op)) != NULL; p += n)
        if ((p == c->ops || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return 1;
    return 0;
}

/* Needs no device: the tables are static.  Every op of ll_ops (LL_OPS_LIST,
 * in the struct's order: offsets strictly increasing, so none is named
 * twice) has a case above and an entry in both the CPU and the CUDA table. */
TEST(gpu_ops_every_op_has_a_case) {
    const ll_ops *cpu = ll_cpu_ops(), *gpu = ll_cuda_ops();
    REQUIRE(cpu && gpu);
    struct { const char *name; size_t off; } ops[] = {
#define OP_ROW(op) {#op, offsetof(ll_ops, op)},
        LL_OPS_LIST(OP_ROW)
#undef OP_ROW
    };
    const size_t n_ops = sizeof ops / sizeof ops[0];
    CHECK_INT(offsetof(ll_ops, alloc) + n_ops * sizeof(void (*)(void)), sizeof(ll_ops));
    for (size_t i = 0; i < n_ops; i++) {
        if (i) CHECK_MSG(ops[i].off > ops[i - 1].off, "LL_OPS_LIST: %s out of the struct's order", ops[i].name);
        int covered = 0;
        for (size_t k = 0; k < N_CASES; k++) covered |= case_covers(&CASES[k], ops[i].name);
        CHECK_MSG(covered, "op %s has no CUDA parity case in tests/gpu/test_gpu_ops.c (CASES)", ops[i].name);
        void *gp, *cp;
        memcpy(&gp, (const char *)gpu + ops[i].off, sizeof gp);
        memcpy(&cp, (const char *)cpu + ops[i].off, sizeof cp);
        CHECK_MSG(gp != NULL, "op %s is NULL in the CUDA table (kernels/ops/)", ops[i].name);
        CHECK_MSG(cp != NULL, "op %s is NULL in the CPU table", ops[i].name);
    }
    /* and every case names only real ops */
    for (size_t k = 0; k < N_CASES; k++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", CASES[k].ops);
        for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
            int known = 0;
            for (size_t i = 0; i < n_ops; i++) known |= !strcmp(t, ops[i].name);
            CHECK_MSG(known, "case %s names %s, not an op of ll_ops", CASES[k].name, t);
        }
    }
}
#endif
