/* CUDA probe statistics and batched solve against the CPU engine
 * (host/probe/probe.c) on random data: every normalisation, rank-deficient
 * (LayerNorm'd, low-rank) features, odd sizes, batches split over max_rows,
 * each Gram mode.  Runs only on a GPU (build/gpu_tests, scripts/gpu-check.sh). */
#ifdef LL_HAVE_CUDA
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <lapacke.h>
#include "backend/cuda_backend.h"
#include "../harness.h"
#include "core/ll_util.h"
#include "probe/probe.h"

static uint64_t rng_state = 12345;
static double urand(void) { return (double)(ll_splitmix64(&rng_state) >> 11) * (1.0 / 9007199254740992.0); }
static double nrand(void) {
    double u = urand(), v = urand();
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* n rows of d features: a rank-r latent part (r = d: full rank), per-column
 * offsets up to `offset` (hidden states carry large constant channels), one
 * "massive" channel; labels = token ids correlated with the features.
 * r < d: small integers throughout, so that float32 holds X exactly and the
 * null space is exact (no rounding noise near the eigenvalue threshold). */
static void make_data(float *X, double *y, long n, int d, int r, double offset, uint64_t seed) {
    rng_state = seed;
    double *Wl = malloc(sizeof(double) * (size_t)r * d), *off = malloc(sizeof(double) * d), *w = malloc(sizeof(double) * r);
    int exact = r < d;
    for (long i = 0; i < (long)r * d; i++) Wl[i] = exact ? (double)((int)(7 * urand()) - 3) : nrand();
    for (int j = 0; j < d; j++) off[j] = exact ? (double)(int)(offset * nrand()) : offset * nrand();
    off[d / 2] = 50 * offset + 20; /* massive activation channel */
    for (int k = 0; k < r; k++) w[k] = nrand();
    double *z = malloc(sizeof(double) * r);
    for (long i = 0; i < n; i++) {
        double t = 0;
        for (int k = 0; k < r; k++) { z[k] = exact ? (double)((int)(5 * urand()) - 2) : nrand(); t += w[k] * z[k]; }
        for (int j = 0; j < d; j++) {
            double v = off[j];
            for (int k = 0; k < r; k++) v += z[k] * Wl[(size_t)k * d + j];
            X[(size_t)i * d + j] = (float)v;
        }
        long id = (long)floor(5000 + 800 * t + 1500 * nrand());
        y[i] = (double)(id < 0 ? 0 : id);
    }
    free(Wl); free(off); free(w); free(z);
}

/* max |a−b| / max |b| over n values */
static double rel_err(const double *a, const double *b, size_t n) {
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double dd = fabs(a[i] - b[i]);
        if (dd > m || isnan(dd)) m = isnan(dd) ? INFINITY : dd;
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return s > 0 ? m / s : m;
}


/* ---- accuracy bounds of the mixed-precision Gram modes ---------------------
 * A batch of m centred rows z_k (float64) gives G_ij = Σ_k z_ki z_kj.  Each
 * mode computes it with errors bounded per element by
 *     |ΔG_ij| <= γ · Σ_k |z_ki z_kj| <= γ · sqrt(G_ii G_jj)      (Cauchy–Schwarz),
 * where γ comes from the arithmetic alone (Higham, Accuracy and Stability,
 * §3.1: a K-term sum in any order has error <= γ_K Σ|terms|, γ_K = Ku/(1−Ku)):
 *   fp32:     z rounded to float (2u per product) + γ_m,    u = 2^-24 (round to nearest);
 *   tf32x3:   hi·hi exact, 2·lo rounded to TF32 by the tensor core (|Δ| <= 2^-10·|2lo|,
 *             |lo| <= 2^-11|z|: 2^-20 per product), lo·lo dropped (2^-22), and the
 *             K = 2m sum accumulated on tensor cores, whose FP32 accumulation truncates
 *             (u = 2^-23, round toward zero: Fasi, Higham, Mikaitis, Pranesh 2021);
 *   tf32syrk: the same products, K = 3m (SYRK m + SYR2K 2m into the same FP32 C).
 * Summed over batches (Σ_b sqrt(a_b c_b) <= sqrt(Σa_b Σc_b), and the Chan terms
 * only add to the diagonal): |ΔM2_ij| <= γ · sqrt(M2_ii M2_jj), so
 * ||ΔM2||_2 <= ||ΔM2||_F <= γ · tr(M2).  The PR then moves by at most (first
 * order in ΔG; explained = bᵀG⁺b, ||G⁺b||² <= explained/λmin):
 *     |ΔPR| <= ||ΔG||_2 · ||G⁺b||² / TSS <= ρ · (1 − PR),   ρ = γ · tr(M2) / λmin,
 * λmin the smallest eigenvalue kept (after deflating the ones direction), valid
 * while ρ is small (ρ <= 0.1 here, with a factor 2 for the higher orders).  Where
 * ρ > 0.1 the data are too ill-conditioned for the mode: its PR is not determined
 * by its arithmetic, and only the statistics bound is checked.  Cxy is float64
 * in every mode (cublasDgemv).  The fp64 path keeps its own fixed tolerances. */
static double mode_gamma(ll_gram_mode g, long m) {
    const double u24 = ldexp(1.0, -24), u23 = ldexp(1.0, -23);
    double K, u, inp;
    switch (g) {
    case LL_GRAM_FP32: K = (double)m; u = u24; inp = 2 * u24 + u24 * u24; break;
    case LL_GRAM_TF32X3: K = 2.0 * m; u = u23; inp = ldexp(1.0, -20) + ldexp(1.0, -22); break;
    case LL_GRAM_TF32SYRK: K = 3.0 * m; u = u23; inp = ldexp(1.0, -20) + ldexp(1.0, -22); break;
    default: return 0;
    }
    double gk = K * u / (1 - K * u);
    /* the summed terms are the products as computed: |hi·hi| + |hi·2lo| <= (1 + 2^-9)|z z| */
    return 1.01 * (gk * (1 + ldexp(1.0, -9)) + inp);
}

/* Smallest eigenvalue the solve keeps (ll_stats_solve's deflation and 1e-12
 * threshold, without its equilibration) of a full symmetric row-major d×d M2. */
static double lambda_min_kept(const double *M2, int d, int deflate) {
    size_t dd = (size_t)d * d;
    double *G = malloc(sizeof(double) * dd), *w = malloc(sizeof(double) * d);
    memcpy(G, M2, sizeof(double) * dd);
    if (deflate) ll_deflate_ones(G, NULL, d, 0); /* the library's own deflation */
    double lmin = NAN;
    if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', d, G, d, w) == 0) {
        double thr = 1e-12 * (w[d - 1] > 0 ? w[d - 1] : 0);
        for (int k = 0; k < d; k++)
            if (w[k] > thr) { lmin = w[k]; break; }
    }
    free(G); free(w);
    return lmin;
}

typedef struct {
    int E, d, r;       /* entries, features, latent rank (0: d) */
    long n;            /* rows per entry */
    long max_rows;     /* device batch (forces splits) */
    long batch;        /* rows handed over per add call */
    double offset;
    ll_norm norms[8];  /* per entry (cycled) */
    int n_norms;
    ll_gram_mode gram;
    double stat_tol, pr_tol;
    double ridge;
    int solver;
} cfg;

/* Builds both, compares statistics, both solves, and the CPU solve of the
 * downloaded statistics. */
static void run_parity(const cfg *c) {
    REQUIRE_MSG(ll_cuda_init(0) == 0, "ll_cuda_init: %s", ll_last_error());
    int E = c->E, d = c->d, r = c->r ? c->r : d;
    ll_stats *cpu = ll_stats_new(E, d, LL_TARGET_ID, 0);
    ll_stats *dl = ll_stats_new(E, d, LL_TARGET_ID, 0);
    ll_cuda_stats *gs = ll_cuda_stats_new(E, d, LL_TARGET_ID, 0, c->max_rows, c->gram);
    REQUIRE_MSG(gs != NULL, "ll_cuda_stats_new: %s", ll_last_error());
    float *X = malloc(sizeof(float) * (size_t)c->n * d);
    double *y = malloc(sizeof(double) * (size_t)c->n);
    double *Xd = malloc(sizeof(double) * (size_t)c->batch * d);
    for (int e = 0; e < E; e++) {
        ll_norm nm = c->norms[e % c->n_norms];
        make_data(X, y, c->n, d, r, c->offset, 1000 + (uint64_t)e * 7919 + (uint64_t)d);
        for (long i0 = 0; i0 < c->n; i0 += c->batch) {
            long m = LL_MIN(c->batch, c->n - i0);
            for (long i = 0; i < m * d; i++) Xd[i] = X[(size_t)i0 * d + i];
            ll_normalize_rows(Xd, m, d, nm, 1e-5);
            ll_stats_add(cpu, e, Xd, y + i0, m);
            REQUIRE_MSG(ll_cuda_stats_add_host(gs, e, X + (size_t)i0 * d, y + i0, m, nm, 1e-5) == 0, "add: %s",
                        ll_last_error());
        }
        cpu->ones_null[e] = nm == LL_NORM_LAYERNORM || nm == LL_NORM_STANDARDIZE;
    }
    REQUIRE_MSG(ll_cuda_stats_download(gs, dl) == 0, "download: %s", ll_last_error());
    /* statistics */
    size_t dd = (size_t)d * d;
    const double gamma = mode_gamma(c->gram, LL_MIN(c->max_rows, c->batch));
    double *trace = calloc((size_t)E, sizeof(double));
    for (int e = 0; e < E; e++) {
        CHECK_INT((long)dl->n[e], (long)cpu->n[e]);
        CHECK_INT(dl->ones_null[e], cpu->ones_null[e]);
        /* CPU keeps the upper triangle (row-major) only */
        double *cu = malloc(sizeof(double) * dd);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) {
                int a = i < j ? i : j, b = i < j ? j : i;
                cu[(size_t)i * d + j] = cpu->M2[(size_t)e * dd + (size_t)a * d + b];
            }
        double eM = rel_err(dl->M2 + (size_t)e * dd, cu, dd);
        double eMean = rel_err(dl->mean + (size_t)e * d, cpu->mean + (size_t)e * d, (size_t)d);
        double eC = rel_err(dl->Cxy + (size_t)e * d, cpu->Cxy + (size_t)e * d, (size_t)d);
        if (gamma > 0) {
            /* mixed modes: the element bound |ΔM2_ij| <= γ sqrt(M2_ii M2_jj) (see mode_gamma) */
            double worst_el = 0, tr = 0;
            for (int i = 0; i < d; i++) tr += cu[(size_t)i * d + i];
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) {
                    double sc = sqrt(cu[(size_t)i * d + i] * cu[(size_t)j * d + j]);
                    double r = fabs(dl->M2[(size_t)e * dd + (size_t)i * d + j] - cu[(size_t)i * d + j]) /
                               (sc > 0 ? sc : 1e-300);
                    if (!(r <= worst_el)) worst_el = r;
                }
            trace[e] = tr;
            CHECK_MSG(worst_el <= gamma + 1e-12, "entry %d (%s): |dM2_ij|/sqrt(M2_ii M2_jj) = %.3g > bound %.3g", e,
                      ll_norm_name(c->norms[e % c->n_norms]), worst_el, gamma);
            printf("    [%s d=%d] entry %d (%s): M2 rel err %.3g, max |dM2_ij|/sqrt(M2_ii M2_jj) %.3g (bound %.3g, "
                   "%.2g of it)\n", ll_gram_mode_name(c->gram), d, e, ll_norm_name(c->norms[e % c->n_norms]), eM,
                   worst_el, gamma, worst_el / gamma);
            CHECK_MSG(eC <= 1e-10, "entry %d: Cxy rel err %.3g (float64 in every mode)", e, eC);
        } else {
            CHECK_MSG(eM <= c->stat_tol, "entry %d (%s): M2 rel err %.3g > %.3g", e,
                      ll_norm_name(c->norms[e % c->n_norms]), eM, c->stat_tol);
            CHECK_MSG(eC <= c->stat_tol, "entry %d: Cxy rel err %.3g > %.3g", e, eC, c->stat_tol);
        }
        CHECK_MSG(eMean <= 1e-12, "entry %d: mean rel err %.3g", e, eMean);
        CHECK_REL(dl->Syy[e], cpu->Syy[e], 1e-12);
        CHECK_REL(dl->ymean[e], cpu->ymean[e], 1e-12);
        free(cu);
    }
    /* solves */
    ll_probe_result *rc = calloc((size_t)E, sizeof *rc), *rg = calloc((size_t)E, sizeof *rg),
                    *rd = calloc((size_t)E, sizeof *rd);
    REQUIRE_MSG(ll_stats_solve(cpu, c->ridge, 0, rc) == 0, "cpu solve: %s", ll_last_error());
    REQUIRE_MSG(ll_stats_solve(dl, c->ridge, 0, rd) == 0, "cpu solve of downloaded: %s", ll_last_error());
    REQUIRE_MSG(ll_cuda_stats_solve(gs, c->ridge, c->solver, rg) == 0, "gpu solve: %s", ll_last_error());
    double worst = 0;
    for (int e = 0; e < E; e++) {
        double a = fabs(rg[e].pr - rc[e].pr) / rc[e].pr, b = fabs(rd[e].pr - rc[e].pr) / rc[e].pr;
        double g2 = fabs(rg[e].pr - rd[e].pr) / rd[e].pr;
        if (a > worst) worst = a;
        double tol = c->pr_tol;
        int check_pr = 1;
        if (gamma > 0) {
            /* mixed modes: the first-order bound from the statistics bound (see mode_gamma) */
            double lmin = lambda_min_kept(cpu->M2 + (size_t)e * dd, d, cpu->ones_null[e]);
            double rho = gamma * trace[e] / lmin;
            if (rho <= 0.1) {
                tol = 2 * rho * (1 - rc[e].pr) / rc[e].pr + 1e-10;
                printf("    [%s d=%d] entry %d: PR rel diff %.3g, bound %.3g (rho = gamma tr/lmin = %.3g)\n",
                       ll_gram_mode_name(c->gram), d, e, a, tol, rho);
            } else {
                check_pr = 0;
                printf("    [%s d=%d] entry %d: PR rel diff %.3g not checked: rho = gamma tr/lmin = %.3g > 0.1 "
                       "(too ill-conditioned for this mode; fp64 is the exact mode)\n",
                       ll_gram_mode_name(c->gram), d, e, a, rho);
            }
        }
        if (check_pr) {
            CHECK_MSG(a <= tol, "entry %d (%s): GPU PR %.12g vs CPU %.12g (rel %.3g > %.3g), rank %d vs %d", e,
                      ll_norm_name(c->norms[e % c->n_norms]), rg[e].pr, rc[e].pr, a, tol, rg[e].rank, rc[e].rank);
            CHECK_MSG(b <= tol, "entry %d: CPU solve of GPU stats %.12g vs CPU %.12g (rel %.3g)", e, rd[e].pr,
                      rc[e].pr, b);
        }
        /* same statistics, two solvers: float64 eigen-solvers agree closely */
        CHECK_MSG(g2 <= 1e-8, "entry %d: GPU solve %.12g vs CPU solve of the same statistics %.12g (rel %.3g)", e,
                  rg[e].pr, rd[e].pr, g2);
        CHECK_INT(rg[e].rank, rd[e].rank);
        CHECK_REL(rg[e].tss, rc[e].tss, 1e-12);
        CHECK_INT((long)rg[e].n, (long)rc[e].n);
        CHECK(rg[e].pr > 0 && rg[e].pr < 1);
    }
    printf("    [%s d=%d E=%d n=%ld] worst PR rel diff GPU vs CPU %.3g; ranks", ll_gram_mode_name(c->gram), d, E, c->n,
           worst);
    for (int e = 0; e < E && e < 8; e++) printf(" %d", rg[e].rank);
    printf("\n");
    free(rc); free(rg); free(rd); free(X); free(y); free(Xd); free(trace);
    ll_cuda_stats_free(gs);
    ll_stats_free(cpu);
    ll_stats_free(dl);
}

static const cfg base = {
    .E = 4, .d = 37, .r = 0, .n = 1000, .max_rows = 128, .batch = 300, .offset = 3,
    .norms = {LL_NORM_NONE, LL_NORM_LAYERNORM, LL_NORM_RMSNORM, LL_NORM_STANDARDIZE}, .n_norms = 4,
    .gram = LL_GRAM_FP64, .stat_tol = 1e-12, .pr_tol = 1e-10, .ridge = 0, .solver = 0,
};

TEST(gpu_probe_fp64_all_norms_odd_d) { run_parity(&base); }

TEST(gpu_probe_fp64_loop_solver) {
    cfg c = base;
    c.solver = 1;
    run_parity(&c);
}

TEST(gpu_probe_fp64_low_rank) {
    cfg c = base;
    c.d = 48; c.r = 13; c.n = 700; /* Gram of rank 13 (+ offsets): thresholded eigenvalues */
    c.norms[0] = LL_NORM_NONE; c.n_norms = 1;
    c.pr_tol = 1e-8;
    run_parity(&c);
}

TEST(gpu_probe_fp64_layernorm_rank_deficient) {
    cfg c = base;
    c.d = 64; c.r = 0; c.n = 3000; c.E = 3; c.max_rows = 1024; c.batch = 1000;
    c.norms[0] = LL_NORM_LAYERNORM; c.n_norms = 1;
    run_parity(&c);
}

TEST(gpu_probe_fp64_ridge) {
    cfg c = base;
    c.ridge = 0.5;
    run_parity(&c);
}

TEST(gpu_probe_fp64_many_entries) {
    cfg c = base;
    c.E = 41; c.d = 20; c.n = 200; c.max_rows = 64; c.batch = 77;
    run_parity(&c);
}

TEST(gpu_probe_fp64_single_rows) {
    cfg c = base; /* batches of 1 row: the Chan update alone */
    c.E = 2; c.d = 9; c.n = 40; c.batch = 1; c.max_rows = 1;
    c.pr_tol = 1e-9; c.stat_tol = 1e-11;
    run_parity(&c);
}

TEST(gpu_probe_fp64_d768) {
    cfg c = base;
    c.E = 2; c.d = 768; c.n = 4096; c.max_rows = 2048; c.batch = 2048;
    c.norms[0] = LL_NORM_LAYERNORM; c.norms[1] = LL_NORM_RMSNORM; c.n_norms = 2;
    c.pr_tol = 1e-9;
    run_parity(&c);
}

/* Mixed precision: statistics within the bound their arithmetic guarantees, and
 * the PR within the first-order bound that follows where the data are
 * conditioned enough for it (mode_gamma).  r = 3d: a well-conditioned latent
 * part (tall Gaussian factor, κ ~ 4) so that the PR bound applies; r = d (square
 * Gaussian factor): ill-conditioned, as hidden states are. */
TEST(gpu_probe_tf32x3) {
    cfg c = base;
    c.gram = LL_GRAM_TF32X3;
    run_parity(&c);
}
TEST(gpu_probe_tf32x3_conditioned) {
    cfg c = base;
    c.gram = LL_GRAM_TF32X3; c.r = 3 * c.d;
    run_parity(&c);
}
TEST(gpu_probe_tf32x3_d768) {
    cfg c = base;
    c.gram = LL_GRAM_TF32X3; c.E = 2; c.d = 768; c.n = 4096; c.max_rows = 2048; c.batch = 2048;
    c.norms[0] = LL_NORM_LAYERNORM; c.norms[1] = LL_NORM_RMSNORM; c.n_norms = 2;
    run_parity(&c);
}
TEST(gpu_probe_fp32) {
    cfg c = base;
    c.gram = LL_GRAM_FP32;
    run_parity(&c);
}
TEST(gpu_probe_fp32_conditioned) {
    cfg c = base;
    c.gram = LL_GRAM_FP32; c.r = 3 * c.d;
    run_parity(&c);
}
TEST(gpu_probe_tf32syrk) {
    cfg c = base;
    c.gram = LL_GRAM_TF32SYRK; c.r = 3 * c.d;
    run_parity(&c);
}
TEST(gpu_probe_fp64emu) {
    cfg c = base;
    c.gram = LL_GRAM_FP64EMU; c.stat_tol = 1e-11; c.pr_tol = 1e-9;
    run_parity(&c);
}

TEST(gpu_probe_onehot_class_stats) {
    REQUIRE(ll_cuda_init(0) == 0);
    int E = 2, d = 19, K = 5;
    long n = 500;
    ll_stats *cpu = ll_stats_new(E, d, LL_TARGET_ONEHOT, K), *dl = ll_stats_new(E, d, LL_TARGET_ONEHOT, K);
    ll_cuda_stats *gs = ll_cuda_stats_new(E, d, LL_TARGET_ONEHOT, K, 128, LL_GRAM_FP64);
    REQUIRE_MSG(gs, "%s", ll_last_error());
    float *X = malloc(sizeof(float) * n * d);
    double *y = malloc(sizeof(double) * n), *Xd = malloc(sizeof(double) * n * d);
    for (int e = 0; e < E; e++) {
        make_data(X, y, n, d, d, 1, 77 + e);
        for (long i = 0; i < n; i++) y[i] = (double)((long)y[i] % K);
        for (long i = 0; i < n * d; i++) Xd[i] = X[i];
        ll_normalize_rows(Xd, n, d, LL_NORM_LAYERNORM, 1e-5);
        ll_stats_add(cpu, e, Xd, y, n);
        cpu->ones_null[e] = 1;
        REQUIRE(ll_cuda_stats_add_host(gs, e, X, y, n, LL_NORM_LAYERNORM, 1e-5) == 0);
    }
    REQUIRE_MSG(ll_cuda_stats_download(gs, dl) == 0, "%s", ll_last_error());
    CHECK(rel_err(dl->class_n, cpu->class_n, (size_t)E * K) == 0);
    CHECK(rel_err(dl->class_sum, cpu->class_sum, (size_t)E * K * d) < 1e-12);
    ll_probe_result rc[2], rd[2];
    REQUIRE(ll_stats_solve(cpu, 0, 0, rc) == 0);
    REQUIRE(ll_stats_solve(dl, 0, 0, rd) == 0);
    for (int e = 0; e < E; e++) CHECK_REL(rd[e].pr, rc[e].pr, 1e-10);
    /* the device solve declines the one-hot target with a message */
    ll_probe_result rg[2];
    CHECK(ll_cuda_stats_solve(gs, 0, 0, rg) == -1);
    CHECK(strstr(ll_last_error(), "one-hot") != NULL);
    free(X); free(y); free(Xd);
    ll_cuda_stats_free(gs); ll_stats_free(cpu); ll_stats_free(dl);
}

TEST(gpu_probe_bad_arguments) {
    REQUIRE(ll_cuda_init(0) == 0);
    CHECK(ll_cuda_stats_new(0, 4, LL_TARGET_ID, 0, 10, LL_GRAM_FP64) == NULL);
    ll_cuda_stats *gs = ll_cuda_stats_new(2, 4, LL_TARGET_ID, 0, 10, LL_GRAM_FP64);
    REQUIRE(gs);
    CHECK(ll_cuda_stats_add(gs, 2, NULL, 4, NULL, 1, LL_NORM_NONE, 0) == -1);
    CHECK(ll_cuda_stats_add(gs, 0, NULL, 3, NULL, 1, LL_NORM_NONE, 0) == -1);
    ll_stats *wrong = ll_stats_new(2, 5, LL_TARGET_ID, 0);
    CHECK(ll_cuda_stats_download(gs, wrong) == -1);
    CHECK(strstr(ll_last_error(), "mismatch") != NULL);
    /* an impossible allocation fails with a message naming the call */
    CHECK(ll_cuda_stats_new(100000, 100000, LL_TARGET_ID, 0, 10, LL_GRAM_FP64) == NULL);
    CHECK(strstr(ll_last_error(), "cudaMalloc") != NULL);
    ll_stats_free(wrong);
    ll_cuda_stats_free(gs);
}
#endif
