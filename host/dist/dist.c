/* host/dist/dist.h: ranks over MPI (LL_HAVE_MPI), NCCL for the reduce on
 * GPUs (LL_HAVE_NCCL); without MPI a process is rank 0 of 1.
 *
 * The reduce (ll_dist_reduce_stats) is the exact pairwise merge written as a
 * plain sum: every rank first learns the global count and means (a small
 * reduce of n, n·x̄, n·ȳ), then shifts its own comoments to the global means
 * (parallel-axis theorem: M2' = M2_r + n_r (x̄_r − μ)(x̄_r − μ)ᵀ, likewise Cxy
 * and Syy), so that the global statistics are the SUM of the shifted ones.
 * On MPI the sum runs as a chain in rank order, pipelined in chunks —
 * rank 0 gets buf_0 + (buf_1 + (… + buf_{P−1})) — the same bits for a given
 * rank count, whatever the network does; on NCCL it is ncclReduce (NCCL's
 * ring order).  Only the upper triangle of M2 travels: E·d(d+1)/2 doubles.
 * On GPUs with NCCL (ll_dist_reduce_solve_device) the statistics never leave
 * the device: the shift is a kernel, the ncclReduce runs in place in device
 * memory and the owning rank solves its entries where they are; the host
 * sees only the counts and means (E·(d+2) doubles) and the results. */
#include "dist/dist.h"
#include <cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/ll_util.h"
#include "dist/topo.h"
#include "backend/dist_device.h" /* the device side: CUDA facts, the NCCL communicator */
#ifdef LL_HAVE_MPI
#include <mpi.h>
#endif

struct ll_dist {
    int rank, size, local_rank, local_size;
    int mpi_inited; /* we called MPI_Init (and so MPI_Finalize) */
    int own_comm;   /* a sub-group made by ll_dist_split: comm is ours to free */
#ifdef LL_HAVE_MPI
    MPI_Comm comm;
#endif
    ll_nccl *nccl; /* ll_dist_use_device's communicator (NULL: none) */
    int have_nccl;
    int device_reduce; /* ll_dist_choose_device_reduce said 1: 1 device table, 2 host table */
    char binding[256];
};

static int g_rank = 0, g_size = 1;
int ll_dist_world_rank(void) { return g_rank; }
int ll_dist_world_size(void) { return g_size; }

/* The size a launcher announces in the environment (0: none).  Open MPI's
 * mpirun, MPICH/Hydra (PMI), PMIx launchers, and srun inside a job step (the
 * batch script itself carries SLURM_NTASKS too, but no step). */
static int launcher_size(int *rank) {
    static const char *sizes[][2] = {{"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"},
                                     {"PMI_SIZE", "PMI_RANK"},
                                     {"PMIX_SIZE", "PMIX_RANK"},
                                     {"SLURM_STEP_NUM_TASKS", "SLURM_PROCID"}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const char *s = getenv(sizes[k][0]);
        if (!s || !*s) continue;
        if (k == 3 && !getenv("SLURM_STEP_ID")) continue;
        const char *r = getenv(sizes[k][1]);
        *rank = r ? atoi(r) : 0;
        return atoi(s);
    }
    if (getenv("PMIX_RANK")) { *rank = atoi(getenv("PMIX_RANK")); return 1; } /* size unknown, but launched */
    return 0;
}

ll_dist *ll_dist_init(int *argc, char ***argv) {
    ll_dist *d = ll_xcalloc(1, sizeof *d);
    d->size = 1;
    d->local_size = 1;
    int env_rank = 0, env_size = launcher_size(&env_rank);
#ifdef LL_HAVE_MPI
    if (env_size > 0) {
        int provided = 0;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            ll_set_error("MPI: MPI_Init_thread failed (started by a launcher as rank %d of %d)", env_rank, env_size);
            free(d);
            return NULL;
        }
        d->mpi_inited = 1;
        MPI_Comm_dup(MPI_COMM_WORLD, &d->comm);
        MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
        MPI_Comm_rank(d->comm, &d->rank);
        MPI_Comm_size(d->comm, &d->size);
        MPI_Comm node;
        MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node);
        MPI_Comm_rank(node, &d->local_rank);
        MPI_Comm_size(node, &d->local_size);
        MPI_Comm_free(&node);
    }
#else
    (void)argc; (void)argv;
    if (env_size > 1) {
        ll_set_error("started as rank %d of %d by a launcher, but this layerlaw was built without MPI "
                     "(install libopenmpi-dev and rebuild; `layerlaw info` says mpi: yes)",
                     env_rank, env_size);
        free(d);
        return NULL;
    }
#endif
    g_rank = d->rank;
    g_size = d->size;
    return d;
}

/* The NCCL communicator of d (ll_dist_use_device), if it joined one. */
static void release_nccl(ll_dist *d) {
    if (d->have_nccl) {
        ll_nccl_free(d->nccl);
        d->nccl = NULL;
        d->have_nccl = 0;
    }
}

void ll_dist_finalize(ll_dist *d) {
    if (!d) return;
    release_nccl(d);
#ifdef LL_HAVE_MPI
    if (d->mpi_inited) {
        MPI_Comm_free(&d->comm);
        MPI_Finalize();
    }
#endif
    free(d);
}

void ll_dist_fault_point(int rank) {
    const char *f = getenv("LAYERLAW_FAULT");
    if (f && !strncmp(f, "kill:", 5) && atoi(f + 5) == rank) raise(SIGKILL);
}

int ll_dist_rank(const ll_dist *d) { return d ? d->rank : 0; }
int ll_dist_size(const ll_dist *d) { return d ? d->size : 1; }
int ll_dist_local_rank(const ll_dist *d) { return d ? d->local_rank : 0; }

const char *ll_dist_transport(const ll_dist *d) {
    if (!d || d->size == 1) return "none";
    return d->have_nccl ? "mpi+nccl" : "mpi";
}
const char *ll_dist_binding(const ll_dist *d) { return d ? d->binding : ""; }

void ll_dist_assign(const ll_dist *d, const int64_t *len, long n, int *owner) {
    ll_dist_assign_p(ll_dist_size(d), len, n, owner);
}

void ll_dist_assign_p(int size, const int64_t *len, long n, int *owner) {
    if (size < 1) size = 1;
    /* integer arithmetic: the same on every rank and every machine */
    int64_t total = 0;
    for (long i = 0; i < n; i++) total += len[i];
    /* contiguous blocks: sequence i goes to the rank whose share of the
     * tokens its first token falls in (floor(before·P / total)) */
    int64_t before = 0;
    for (long i = 0; i < n; i++) {
        int r = 0;
        if (total > 0) {
            /* before·size may overflow int64 only beyond 2^63/size tokens */
            r = (int)((__int128)before * size / total);
        }
        owner[i] = r < size ? r : size - 1;
        before += len[i];
    }
}

#ifdef LL_HAVE_MPI
static int mpi_fail(int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int n = 0;
    MPI_Error_string(rc, msg, &n);
    ll_set_error("MPI: %s failed: %s (rank %d)", what, msg, g_rank);
    return -1;
}
#define LL_MPI(call, what)                                   \
    do {                                                     \
        int ll_rc_ = (call);                                 \
        if (ll_rc_ != MPI_SUCCESS) return mpi_fail(ll_rc_, what); \
    } while (0)

/* buf (n doubles) on rank 0 := Σ over ranks, in the fixed order
 * buf_0 + (buf_1 + (… + buf_{P−1})): rank r receives the partial sum of the
 * ranks above it from r+1, adds its own and passes it to r−1.  In chunks, so
 * that the chain pipelines and the scratch stays small.  Other ranks' buf
 * holds partial sums afterwards. */
#define LL_CHAIN_CHUNK ((size_t)1 << 20) /* doubles: 8 MiB */
static int chain_sum_to(ll_dist *d, double *buf, size_t n, double *tmp, int root) {
    /* in ranks counted from the root (v = 0): root + (v1 + (v2 + ...)) */
    const int P = d->size, v = (d->rank - root + P) % P;
    const int up = (d->rank + 1) % P, down = (d->rank - 1 + P) % P;
    for (size_t off = 0; off < n; off += LL_CHAIN_CHUNK) {
        size_t m = LL_MIN(LL_CHAIN_CHUNK, n - off);
        if (v + 1 < P) {
            LL_MPI(MPI_Recv(tmp, (int)m, MPI_DOUBLE, up, 7, d->comm, MPI_STATUS_IGNORE), "MPI_Recv (reduce)");
            for (size_t i = 0; i < m; i++) buf[off + i] += tmp[i];
        }
        if (v > 0) LL_MPI(MPI_Send(buf + off, (int)m, MPI_DOUBLE, down, 7, d->comm), "MPI_Send (reduce)");
    }
    return 0;
}
static int chain_sum(ll_dist *d, double *buf, size_t n, double *tmp) { return chain_sum_to(d, buf, n, tmp, 0); }
#endif

int ll_dist_device_reduce_possible(const ll_dist *d) {
#ifdef LL_HAVE_MPI
    const char *e = getenv("LAYERLAW_NCCL");
    if (!ll_nccl_compiled()) return 0;
    if (!d || (e && !strcmp(e, "0"))) return 0;
    return d->size > 1 || (e && !strcmp(e, "1"));
#else
    (void)d;
    return 0;
#endif
}

int ll_dist_devstats_usable(const ll_dist *d, const ll_dist_devstats *s) {
    if (!d || !s) return 0;
    if (!s->host_memory) return ll_dist_device_reduce_possible(d);
#ifdef LL_HAVE_MPI
    return d->size > 1;
#else
    return 0;
#endif
}

int ll_dist_use_device(ll_dist *d, int device) {
#ifdef LL_HAVE_MPI
    if (!d || d->have_nccl || !ll_dist_device_reduce_possible(d)) return 0;
    if (d->size > 1) {
        /* NCCL takes one rank per GPU: ranks sharing a device (a test of several
         * ranks on one GPU) stay on MPI */
        char bus[32] = "";
        if (ll_cuda_pci_busid(device, bus, sizeof bus) != 0) snprintf(bus, sizeof bus, "device %d", device);
        char *all = ll_xcalloc((size_t)d->size, sizeof bus);
        int rc = MPI_Allgather(bus, (int)sizeof bus, MPI_CHAR, all, (int)sizeof bus, MPI_CHAR, d->comm);
        int dup = 0;
        for (int i = 0; rc == MPI_SUCCESS && i < d->size && !dup; i++)
            for (int j = i + 1; j < d->size && !dup; j++)
                dup = !strncmp(all + i * sizeof bus, all + j * sizeof bus, sizeof bus);
        free(all);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Allgather (devices)");
        if (dup) return 0;
    }
    unsigned char id[LL_NCCL_ID_BYTES];
    if (d->rank == 0 && ll_nccl_unique_id(id, d->rank) != 0) return -1;
    if (d->size > 1) LL_MPI(MPI_Bcast(id, (int)sizeof id, MPI_BYTE, 0, d->comm), "MPI_Bcast (NCCL id)");
    d->nccl = ll_nccl_new(id, d->size, d->rank, device);
    if (!d->nccl) return -1;
    d->have_nccl = 1;
    return 0;
#else
    (void)d; (void)device;
    return 0;
#endif
}

#ifdef LL_HAVE_MPI
/* Sum of per-rank buffers onto rank root by the job's transport. */
static int dist_sum(ll_dist *d, double *buf, size_t n, double *tmp, int root) {
    if (d->have_nccl) return ll_nccl_sum_host(d->nccl, buf, n, root);
    return chain_sum_to(d, buf, n, tmp, root);
}

/* as the reduce starts: a rank that dies mid-job, deterministically */
static void maybe_fault(const ll_dist *d) { ll_dist_fault_point(d->rank); }

/* Entry e's merged statistics end on rank owner(e): 0 for all (reduce to
 * rank 0), or contiguous blocks of entries (reduce then solve by entry). */
static int entry_owner(int e, int E, int P, int spread) { return spread ? (int)((long)e * P / E) : 0; }
#endif

static int reduce_core(ll_dist *d, ll_stats *st, int spread);

int ll_dist_reduce_stats(ll_dist *d, ll_stats *st) {
    if (!d || d->size == 1) return 0;
    return reduce_core(d, st, 0);
}

int ll_dist_reduce_stats_spread(ll_dist *d, ll_stats *st) {
    if (!d || d->size == 1) return 0;
    return reduce_core(d, st, 1);
}

void ll_dist_entry_block(const ll_dist *d, int E, int *e0, int *e1) {
    const int P = ll_dist_size(d), r = ll_dist_rank(d);
    *e0 = *e1 = E;
    /* the owners floor(e·P/E) of reduce_core's spread mode, as a range */
    for (int e = 0; e < E; e++)
        if ((int)((long)e * P / E) == r) {
            if (*e0 == E) *e0 = e;
            *e1 = e + 1;
        }
    if (*e0 == E) *e1 = E;
}

static int host_solver(void *ctx, const ll_stats *st, double ridge, int threads, ll_probe_result *out) {
    (void)ctx;
    return ll_stats_solve(st, ridge, threads, out);
}

/* ---- the shift to the global means: one formula for the host reduce, its
 * in-place form (ll_dist_shift_host) and, operation for operation, the
 * device kernels (kernels/probe/probe_pack.cu, k_shift_*) ---- */
/* Row i of M2's upper triangle, shifted: out[j − i] = M2[i][j] + (n·δ_i)·δ_j, j >= i. */
static inline void shift_row(double *out, const double *row, size_t i, size_t dd, double n, const double *delta) {
    const double a = n * delta[i];
    for (size_t j = i; j < dd; j++) out[j - i] = row[j] + a * delta[j];
}
/* δ = x̄_r − μ (0 for an empty entry); returns dy = ȳ_r − ȳ_g (0 likewise). */
static inline double shift_deltas(double n, const double *mean, const double *mu, double ymean, double ybar,
                                  size_t dd, double *delta) {
    for (size_t j = 0; j < dd; j++) delta[j] = n > 0 ? mean[j] - mu[j] : 0;
    return n > 0 ? ymean - ybar : 0;
}

void ll_dist_shift_host(ll_stats *st, const double *gn, const double *gmean, const double *gymean) {
    const size_t dd = (size_t)st->d;
    double *delta = ll_xmalloc(dd * sizeof(double));
    for (int e = 0; e < st->E; e++) {
        const double n = st->n[e];
        double *mean = st->mean + (size_t)e * dd, *M2 = st->M2 + (size_t)e * dd * dd, *Cxy = st->Cxy + (size_t)e * dd;
        const double dy = shift_deltas(n, mean, gmean + (size_t)e * dd, st->ymean[e], gymean[e], dd, delta);
        for (size_t i = 0; i < dd; i++) {
            shift_row(M2 + i * dd + i, M2 + i * dd, i, dd, n, delta); /* in place: reads row[j] before writing it */
            for (size_t j = i + 1; j < dd; j++) M2[j * dd + i] = M2[i * dd + j];
        }
        for (size_t j = 0; j < dd; j++) Cxy[j] = Cxy[j] + n * delta[j] * dy;
        st->Syy[e] = st->Syy[e] + n * dy * dy;
        st->n[e] = gn[e];
        st->ymean[e] = gymean[e];
        memcpy(mean, gmean + (size_t)e * dd, dd * sizeof(double));
    }
    free(delta);
}

#ifdef LL_HAVE_MPI
/* The job's count and means of every entry (a small reduce of n, n·ȳ, n·x̄:
 * E·(d+2) doubles, chained onto rank 0 and broadcast) and its ones-null flags
 * (the minimum over the ranks).  gn[E], gmean[E·d], gy[E], onull[E].  With
 * one rank (a forced one-rank NCCL job) no MPI call is made. */
static int global_moments(ll_dist *d, int E, size_t dd, const double *n, const double *mean, const double *ymean,
                          const int *ones, double *gn, double *gmean, double *gy, int *onull) {
    const size_t w1 = 2 + dd;
    double *m1 = ll_xcalloc((size_t)E * w1, sizeof(double));
    for (int e = 0; e < E; e++) {
        double *o = m1 + (size_t)e * w1, ne = n[e];
        o[0] = ne;
        o[1] = ne * ymean[e];
        for (size_t j = 0; j < dd; j++) o[2 + j] = ne * mean[(size_t)e * dd + j];
    }
    double *tmp = ll_xmalloc(LL_MIN((size_t)E * w1, LL_CHAIN_CHUNK) * sizeof(double));
    int rc = chain_sum(d, m1, (size_t)E * w1, tmp);
    if (rc == 0 && d->size > 1 && MPI_Bcast(m1, (int)((size_t)E * w1), MPI_DOUBLE, 0, d->comm) != MPI_SUCCESS) {
        ll_set_error("MPI: MPI_Bcast (global means) failed (rank %d)", d->rank);
        rc = -1;
    }
    if (rc == 0 && d->size > 1 && MPI_Allreduce(ones, onull, E, MPI_INT, MPI_MIN, d->comm) != MPI_SUCCESS) {
        ll_set_error("MPI: MPI_Allreduce (ones_null) failed (rank %d)", d->rank);
        rc = -1;
    }
    if (rc == 0 && d->size == 1) memcpy(onull, ones, (size_t)E * sizeof(int));
    for (int e = 0; e < E && rc == 0; e++) {
        const double *g = m1 + (size_t)e * w1;
        const double N = g[0];
        gn[e] = N;
        gy[e] = N > 0 ? g[1] / N : 0;
        for (size_t j = 0; j < dd; j++) gmean[(size_t)e * dd + j] = N > 0 ? g[2 + j] / N : 0;
    }
    free(m1);
    free(tmp);
    return rc;
}

#endif

int ll_dist_gather_results(ll_dist *d, int E, int e0, int e1, const ll_probe_result *mine, int rc,
                           ll_probe_result *res) {
    /* a failed solve is one rank's: agree before gathering (every rank
     * then holds "rank R: <its message>") */
    if (ll_dist_any_failed(d, rc != 0) >= 0) return -1;
    const size_t W = LL_PROBE_RESULT_DOUBLES;
    double *out = ll_xcalloc((size_t)E * W, sizeof(double)), *all = ll_xcalloc((size_t)E * W, sizeof(double));
    for (int e = e0; e < e1; e++) ll_probe_result_to_doubles(&mine[e - e0], out + (size_t)e * W);
    /* every entry is non-zero on exactly one rank: the sum is exact (NaN PRs too) */
    if (!d || d->size == 1) memcpy(all, out, (size_t)E * W * sizeof(double));
#ifdef LL_HAVE_MPI
    else if (MPI_Reduce(out, all, (int)((size_t)E * W), MPI_DOUBLE, MPI_SUM, 0, d->comm) != MPI_SUCCESS) {
        ll_set_error("MPI: MPI_Reduce (probe results) failed (rank %d)", d->rank);
        free(out); free(all);
        return -1;
    }
#endif
    if (ll_dist_rank(d) == 0)
        for (int e = 0; e < E; e++) ll_probe_result_from_doubles(all + (size_t)e * W, &res[e]);
    free(out); free(all);
    return 0;
}

int ll_dist_reduce_solve(ll_dist *d, ll_stats *st, double ridge, int threads, ll_probe_result *res,
                         ll_dist_solver solve, void *solve_ctx) {
    if (!solve) solve = host_solver;
    if (!d || d->size == 1) return solve(solve_ctx, st, ridge, threads, res);
#ifndef LL_HAVE_MPI
    return solve(solve_ctx, st, ridge, threads, res);
#else
    if (reduce_core(d, st, 1) != 0) return -1;
    const int E = st->E;
    int e0, e1;
    ll_dist_entry_block(d, E, &e0, &e1);
    /* this rank's entries as statistics of their own (a view: no copy) */
    int rc = 0;
    ll_probe_result *mine = ll_xcalloc((size_t)(e1 > e0 ? e1 - e0 : 1), sizeof *mine);
    if (e1 > e0) {
        ll_stats v = ll_stats_view(st, e0, e1);
        rc = solve(solve_ctx, &v, ridge, threads, mine);
    }
    rc = ll_dist_gather_results(d, E, e0, e1, mine, rc, res);
    free(mine);
    return rc;
#endif
}

static int reduce_core(ll_dist *d, ll_stats *st, int spread) {
#ifndef LL_HAVE_MPI
    (void)d; (void)st; (void)spread;
    return 0;
#else
    maybe_fault(d);
    const int E = st->E, K = st->K, P = d->size;
    const size_t dd = (size_t)st->d, Kz = (size_t)K;
    /* 1. the global counts and means (every rank needs them for its shift) */
    double *gn = ll_xmalloc((size_t)E * sizeof(double)), *gy = ll_xmalloc((size_t)E * sizeof(double));
    double *gmean = ll_xmalloc((size_t)E * dd * sizeof(double));
    int *onull = ll_xmalloc((size_t)E * sizeof(int));
    int rc = global_moments(d, E, dd, st->n, st->mean, st->ymean, st->ones_null, gn, gmean, gy, onull);
    /* 2. per entry: [M2 upper triangle, Cxy, Syy, class_n, class_sum], each
     *    rank's shifted to the global means, summed onto the entry's rank */
    const size_t w2 = dd * (dd + 1) / 2 + dd + 1 + Kz + Kz * dd; /* per entry */
    double *tmp = ll_xmalloc(LL_MIN(w2, LL_CHAIN_CHUNK) * sizeof(double));
    double *buf = ll_xmalloc(w2 * sizeof(double));
    double *delta = ll_xmalloc(dd * sizeof(double));
    for (int e = 0; e < E && rc == 0; e++) {
        const double *mu = gmean + (size_t)e * dd;
        const double n = st->n[e];
        const double *M2 = st->M2 + (size_t)e * dd * dd;
        const double dy = shift_deltas(n, st->mean + (size_t)e * dd, mu, st->ymean[e], gy[e], dd, delta);
        /* rows of the upper triangle: row i starts at i·d − i(i−1)/2 */
#pragma omp parallel for schedule(dynamic, 16) if (dd >= 256)
        for (size_t i = 0; i < dd; i++) shift_row(buf + i * dd - i * (i - 1) / 2, M2 + i * dd, i, dd, n, delta);
        double *o = buf + dd * (dd + 1) / 2;
        for (size_t j = 0; j < dd; j++) *o++ = st->Cxy[(size_t)e * dd + j] + n * delta[j] * dy;
        *o++ = st->Syy[e] + n * dy * dy;
        if (K) {
            memcpy(o, st->class_n + (size_t)e * Kz, Kz * sizeof(double));
            o += Kz;
            memcpy(o, st->class_sum + (size_t)e * Kz * dd, Kz * dd * sizeof(double));
            o += Kz * dd;
        }
        const int root = entry_owner(e, E, P, spread);
        rc = dist_sum(d, buf, w2, tmp, root);
        if (rc == 0 && d->rank == root) {
            double *M2w = st->M2 + (size_t)e * dd * dd;
            o = buf;
            for (size_t i = 0; i < dd; i++)
                for (size_t j = i; j < dd; j++) M2w[i * dd + j] = M2w[j * dd + i] = *o++;
            memcpy(st->Cxy + (size_t)e * dd, o, dd * sizeof(double));
            o += dd;
            st->Syy[e] = *o++;
            if (K) {
                memcpy(st->class_n + (size_t)e * Kz, o, Kz * sizeof(double));
                o += Kz;
                memcpy(st->class_sum + (size_t)e * Kz * dd, o, Kz * dd * sizeof(double));
            }
            st->n[e] = gn[e];
            st->ymean[e] = gy[e];
            memcpy(st->mean + (size_t)e * dd, mu, dd * sizeof(double));
            st->ones_null[e] = onull[e];
        }
    }
    free(gn); free(gy); free(gmean); free(onull); free(tmp); free(buf); free(delta);
    /* a rank whose send failed must not leave the root believing it has the
     * sum: agree, naming the failing rank */
    return ll_dist_any_failed(d, rc != 0) >= 0 ? -1 : 0;
#endif
}

/* ---- the device-resident reduce ---- */
int ll_dist_choose_device_reduce(ll_dist *d, const ll_dist_devstats *s, int *mixed) {
    if (mixed) *mixed = 0;
    if (!d) return 0;
    const int can = s != NULL, kind = s ? (s->host_memory ? 2 : 1) : 0; /* 1 device, 2 host memory */
    int mine = s && (s->host_memory || d->have_nccl);
    if (mixed) *mixed = !mine && can; /* one rank: it skipped its download for nothing */
#ifdef LL_HAVE_MPI
    if (d->size > 1) {
        /* every rank able (min), whether any rank skipped its download (max
         * of can), and one kind of table on every rank (min = max) */
        int v[4] = {mine, can ? -1 : 0, kind, -kind};
        LL_MPI(MPI_Allreduce(MPI_IN_PLACE, v, 4, MPI_INT, MPI_MIN, d->comm), "MPI_Allreduce (device reduce choice)");
        mine = v[0] && v[2] == -v[3];
        if (mixed) *mixed = !mine && v[1] == -1;
    }
#endif
    d->device_reduce = mine ? kind : 0;
    return mine;
}

#ifdef LL_HAVE_MPI
/* One entry's packed comoments (cnt doubles at buf) summed onto root: in
 * device memory with ncclReduce on the table's stream (enqueued, not
 * waited for), or, for a host-memory table, by the MPI chain in rank order
 * (tmp: scratch of min(cnt, LL_CHAIN_CHUNK) doubles). */
static int table_sum(ll_dist *d, const ll_dist_devstats *s, double *buf, size_t cnt, int root, double *tmp, int e) {
    if (s->host_memory) return chain_sum_to(d, buf, cnt, tmp, root);
    if (!d->have_nccl) {
        ll_set_error("the device reduce needs a CUDA + NCCL build (rank %d)", d->rank);
        return -1;
    }
    if (ll_nccl_reduce(d->nccl, buf, cnt, root, s->stream) != 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", ll_last_error());
        ll_set_error("entry %d's statistics: %s", e, why);
        return -1;
    }
    return 0;
}
#endif

int ll_dist_reduce_solve_device(ll_dist *d, const ll_dist_devstats *s, double ridge, ll_probe_result *res) {
#ifndef LL_HAVE_MPI
    (void)s; (void)ridge; (void)res;
    ll_set_error("the device reduce needs an MPI build (rank %d)", d ? d->rank : 0);
    return -1;
#else
    if (!d || !s || d->device_reduce != (s->host_memory ? 2 : 1)) {
        ll_set_error("the device reduce was not chosen for this table (ll_dist_choose_device_reduce) (rank %d)",
                     d ? d->rank : 0);
        return -1;
    }
    maybe_fault(d);
    const int E = s->E;
    const size_t dd = (size_t)s->d;
    double *n = ll_xmalloc((size_t)E * sizeof(double)), *ym = ll_xmalloc((size_t)E * sizeof(double));
    double *mean = ll_xmalloc((size_t)E * dd * sizeof(double));
    double *gn = ll_xmalloc((size_t)E * sizeof(double)), *gy = ll_xmalloc((size_t)E * sizeof(double));
    double *gmean = ll_xmalloc((size_t)E * dd * sizeof(double));
    int *ones = ll_xmalloc((size_t)E * sizeof(int)), *onull = ll_xmalloc((size_t)E * sizeof(int));
    double *tmp = NULL;
    int e0, e1;
    ll_dist_entry_block(d, E, &e0, &e1);
    ll_probe_result *mine = ll_xcalloc((size_t)(e1 > e0 ? e1 - e0 : 1), sizeof *mine);
    /* 1. the small download, then the global counts and means on the host */
    int rc = s->moments(s->ctx, n, mean, ym, ones);
    if (ll_dist_any_failed(d, rc != 0) >= 0) { rc = -1; goto out; }
    rc = global_moments(d, E, dd, n, mean, ym, ones, gn, gmean, gy, onull);
    /* 2. every rank's statistics shifted in place where they are (and the
     *    pack buffer allocated): agreed before anyone enters the reduces */
    if (rc == 0) rc = s->shift(s->ctx, gn, gmean, gy, onull);
    if (ll_dist_any_failed(d, rc != 0) >= 0) { rc = -1; goto out; }
    /* 3. each entry's packed comoments summed onto the rank that solves it:
     *    device tables: pack, ncclReduce, unpack enqueued on the statistics'
     *    stream in entry order (one scratch buffer, reused), waited for once.
     *    What can still fail here (a kernel launch, NCCL enqueueing) means a
     *    broken device or job: the others may then wait in ncclReduce until
     *    the launcher ends the job, as when a rank dies. */
    for (int e = 0; e < E && rc == 0; e++) {
        size_t cnt = 0;
        double *buf = s->pack(s->ctx, e, &cnt);
        if (!buf) { rc = -1; break; }
        if (s->host_memory && !tmp) tmp = ll_xmalloc(LL_MIN(cnt, LL_CHAIN_CHUNK) * sizeof(double));
        const int root = entry_owner(e, E, d->size, 1);
        rc = table_sum(d, s, buf, cnt, root, tmp, e);
        if (rc == 0 && d->rank == root) rc = s->unpack(s->ctx, e);
    }
    if (rc == 0 && !s->host_memory && ll_nccl_wait(d->nccl, s->stream) != 0) rc = -1;
    /* a rank that failed inside the reduce stops the others here */
    if (ll_dist_any_failed(d, rc != 0) >= 0) { rc = -1; goto out; }
    /* 4. each rank solves its block where it is; results meet on rank 0 */
    rc = e1 > e0 ? s->solve(s->ctx, e0, e1, ridge, mine) : 0;
    rc = ll_dist_gather_results(d, E, e0, e1, mine, rc, res);
out:
    free(n); free(ym); free(mean); free(gn); free(gy); free(gmean); free(ones); free(onull); free(mine); free(tmp);
    return rc == 0 ? 0 : -1;
#endif
}

int ll_dist_any_failed(ll_dist *d, int failed) {
    if (!d || d->size == 1) return failed ? 0 : -1;
#ifdef LL_HAVE_MPI
    int mine = failed ? d->rank : d->size, low = d->size;
    if (MPI_Allreduce(&mine, &low, 1, MPI_INT, MPI_MIN, d->comm) != MPI_SUCCESS) {
        /* the job cannot agree any more: treat as failed here */
        ll_set_error("MPI: MPI_Allreduce (failure check) failed (rank %d)", d->rank);
        return d->rank;
    }
    if (low >= d->size) return -1;
    char msg[1024];
    memset(msg, 0, sizeof msg);
    if (d->rank == low) snprintf(msg, sizeof msg, "%s", ll_last_error());
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, low, d->comm);
    msg[sizeof msg - 1] = 0;
    if (strncmp(msg, "rank ", 5) == 0) ll_set_error("%s", msg); /* already says which */
    else ll_set_error("rank %d: %s", low, msg);
    return low;
#else
    return failed ? 0 : -1;
#endif
}

int ll_dist_agree(ll_dist *d, int rc) {
    if (!d || d->size == 1) return rc;
    int low = ll_dist_any_failed(d, rc != 0);
    if (low < 0) return 0;
#ifdef LL_HAVE_MPI
    int v = rc;
    if (MPI_Bcast(&v, 1, MPI_INT, low, d->comm) != MPI_SUCCESS) return rc ? rc : 1;
    return v ? v : 1;
#else
    return rc;
#endif
}

int ll_dist_sum_ll(ll_dist *d, long long *v, long n) {
    if (!d || d->size == 1 || n <= 0) return 0;
#ifdef LL_HAVE_MPI
    LL_MPI(MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_LONG_LONG, MPI_SUM, d->comm), "MPI_Allreduce (sum)");
#endif
    return 0;
}
int ll_dist_max_double(ll_dist *d, double *v, long n) {
    if (!d || d->size == 1 || n <= 0) return 0;
#ifdef LL_HAVE_MPI
    LL_MPI(MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_MAX, d->comm), "MPI_Allreduce (max)");
#endif
    return 0;
}

int ll_dist_sum_double(ll_dist *d, double *v, long n) {
    if (!d || d->size == 1 || n <= 0) return 0;
#ifdef LL_HAVE_MPI
    LL_MPI(MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM, d->comm), "MPI_Allreduce (sum of doubles)");
#endif
    return 0;
}

int ll_dist_bind(ll_dist *d, int device) {
    ll_topo_binding b;
    int local_rank = d ? d->local_rank : 0, local_size = d ? d->local_size : 1;
    int cores = ll_topo_bind_self(local_rank, local_size, device, &b);
    if (d) snprintf(d->binding, sizeof d->binding, "%s", b.text);
    return cores;
}

void ll_dist_build_info(char *buf, int cap) {
    int o = 0;
#ifdef LL_HAVE_MPI
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0;
    MPI_Get_library_version(v, &n);
    v[strcspn(v, "\n,")] = 0;
    o += snprintf(buf + o, (size_t)(cap - o), "mpi: yes (%s)\n", v);
#else
    o += snprintf(buf + o, (size_t)(cap - o), "mpi: no (built without an MPI library: one process only)\n");
#endif
#ifdef LL_HAVE_MPI
    const int with_nccl = ll_nccl_compiled();
#else
    const int with_nccl = 0; /* NCCL's communicator is set up over MPI */
#endif
    if (with_nccl) {
        int nv = ll_nccl_version();
        o += snprintf(buf + o, (size_t)(cap - o), "nccl: yes (%d.%d.%d)\n", nv / 10000, nv / 100 % 100, nv % 100);
    } else
        o += snprintf(buf + o, (size_t)(cap - o), "nccl: no\n");
#ifdef LL_HAVE_HWLOC
    snprintf(buf + o, (size_t)(cap - o), "hwloc: yes\n");
#else
    snprintf(buf + o, (size_t)(cap - o), "hwloc: no (no binding, no `layerlaw topo`)\n");
#endif
}

cJSON *ll_dist_split_json(ll_dist *d, const int64_t *len, long n, const int *owner) {
    const int P = ll_dist_size(d);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "ranks", P);
    cJSON_AddStringToObject(j, "transport", ll_dist_transport(d));
    cJSON_AddStringToObject(j, "assignment", "contiguous blocks in input order, balanced by tokens");
    cJSON_AddStringToObject(j, "reduce",
                            P == 1 ? "none"
                            : d->device_reduce == 1
                                ? "device-resident: ncclReduce in GPU memory of the statistics shifted to the global "
                                  "means on each GPU, onto the rank solving each entry block, solved there (no host copy)"
                            : d->device_reduce == 2
                                ? "the device reduce's driver over host statistics (LAYERLAW_DEVREDUCE_ON_HOST): MPI "
                                  "chain in rank order of the statistics shifted to the global means in place, onto "
                                  "the rank solving each entry block"
                            : d->have_nccl ? "ncclReduce of the statistics downloaded and shifted to the global means "
                                             "on the host (staged through GPU memory), onto the rank solving each "
                                             "entry block"
                                           : "MPI chain in rank order of the statistics shifted to the "
                                             "global means, onto the rank solving each entry block");
    long long *docs = ll_xcalloc((size_t)P, sizeof(long long)), *toks = ll_xcalloc((size_t)P, sizeof(long long));
    for (long i = 0; i < n; i++) {
        int r = owner ? owner[i] : 0;
        if (r < 0 || r >= P) continue;
        docs[r]++;
        toks[r] += len[i];
    }
    cJSON *jd = cJSON_AddArrayToObject(j, "documents"), *jt = cJSON_AddArrayToObject(j, "tokens");
    for (int r = 0; r < P; r++) {
        cJSON_AddItemToArray(jd, cJSON_CreateNumber((double)docs[r]));
        cJSON_AddItemToArray(jt, cJSON_CreateNumber((double)toks[r]));
    }
    free(docs);
    free(toks);
    /* every rank's binding line, gathered (rank 0's JSON is the one written) */
    cJSON *jb = cJSON_AddArrayToObject(j, "binding");
    char mine[256];
    snprintf(mine, sizeof mine, "%s", d ? d->binding : "");
#ifdef LL_HAVE_MPI
    if (d && P > 1) {
        char *all = ll_xcalloc((size_t)P, sizeof mine);
        if (MPI_Gather(mine, (int)sizeof mine, MPI_CHAR, all, (int)sizeof mine, MPI_CHAR, 0, d->comm) == MPI_SUCCESS &&
            d->rank == 0)
            for (int r = 0; r < P; r++) {
                all[(size_t)r * sizeof mine + sizeof mine - 1] = 0;
                cJSON_AddItemToArray(jb, cJSON_CreateString(all + (size_t)r * sizeof mine));
            }
        free(all);
        return j;
    }
#endif
    cJSON_AddItemToArray(jb, cJSON_CreateString(mine));
    return j;
}

/* ---- layer (pipeline) parallel: sub-groups, point-to-point, abort ---- */

ll_dist *ll_dist_split(ll_dist *d, int color, int key) {
    ll_dist *s = ll_xcalloc(1, sizeof *s);
    s->size = 1;
    s->local_size = 1;
    if (d) {
        s->local_rank = d->local_rank;
        s->local_size = d->local_size;
        snprintf(s->binding, sizeof s->binding, "%s", d->binding);
    }
#ifdef LL_HAVE_MPI
    if (d && d->size > 1) {
        int rc = MPI_Comm_split(d->comm, color, key, &s->comm);
        if (rc != MPI_SUCCESS) {
            mpi_fail(rc, "MPI_Comm_split");
            free(s);
            return NULL;
        }
        s->own_comm = 1;
        MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN);
        MPI_Comm_rank(s->comm, &s->rank);
        MPI_Comm_size(s->comm, &s->size);
    }
#else
    (void)color; (void)key;
#endif
    return s;
}

void ll_dist_split_free(ll_dist *s) {
    if (!s) return;
    release_nccl(s);
#ifdef LL_HAVE_MPI
    if (s->own_comm) MPI_Comm_free(&s->comm);
#endif
    free(s);
}

struct ll_dist_req {
#ifdef LL_HAVE_MPI
    MPI_Request r;
#endif
    int active;
};

ll_dist_req *ll_dist_req_new(void) { return ll_xcalloc(1, sizeof(ll_dist_req)); }

void ll_dist_req_free(ll_dist_req *q) { free(q); }

/* MPI counts are ints: a message of more floats is refused (a stage
 * boundary of one micro-batch: tokens x width, 4096 x 8192 = 2^25). */
static int check_count(size_t n, const char *what) {
    if (n > 0x7fffffff) {
        ll_set_error("%s: %zu floats in one message (at most 2^31 - 1: use smaller --batch-tokens)", what, n);
        return -1;
    }
    return 0;
}

int ll_dist_isend_floats(ll_dist *d, int dest, int tag, const float *buf, size_t n, ll_dist_req *q) {
    if (check_count(n, "MPI_Isend (stage hand-over)")) return -1;
#ifdef LL_HAVE_MPI
    if (d && d->size > 1) {
        LL_MPI(MPI_Isend(buf, (int)n, MPI_FLOAT, dest, tag, d->comm, &q->r), "MPI_Isend (stage hand-over)");
        q->active = 1;
        return 0;
    }
#endif
    (void)d; (void)dest; (void)tag; (void)buf; (void)q;
    ll_set_error("stage hand-over: a single process has no rank %d to send to", dest);
    return -1;
}

int ll_dist_wait(ll_dist_req *q) {
    if (!q || !q->active) return 0;
    q->active = 0;
#ifdef LL_HAVE_MPI
    LL_MPI(MPI_Wait(&q->r, MPI_STATUS_IGNORE), "MPI_Wait (stage hand-over)");
#endif
    return 0;
}

int ll_dist_recv_floats(ll_dist *d, int src, int tag, float *buf, size_t n) {
    if (check_count(n, "MPI_Recv (stage hand-over)")) return -1;
#ifdef LL_HAVE_MPI
    if (d && d->size > 1) {
        MPI_Status st;
        LL_MPI(MPI_Recv(buf, (int)n, MPI_FLOAT, src, tag, d->comm, &st), "MPI_Recv (stage hand-over)");
        int got = 0;
        MPI_Get_count(&st, MPI_FLOAT, &got);
        if ((size_t)got != n) {
            ll_set_error("stage hand-over: rank %d sent %d floats, expected %zu (the stages' batches differ)", src,
                         got, n);
            return -1;
        }
        return 0;
    }
#endif
    (void)d; (void)tag; (void)buf;
    ll_set_error("stage hand-over: a single process has no rank %d to receive from", src);
    return -1;
}

void ll_dist_error_line(const char *msg, char *buf, size_t cap) {
    /* several ranks: say which one (unless the message names it already) */
    if (ll_dist_world_size() > 1 && strncmp(msg, "rank ", 5) != 0)
        snprintf(buf, cap, "rank %d: %s", ll_dist_world_rank(), msg);
    else
        snprintf(buf, cap, "%s", msg);
}

static ll_warn_fn g_abort_fn;
static void *g_abort_ud;
ll_warn_fn ll_dist_set_abort_handler(ll_warn_fn fn, void *ud) {
    ll_warn_fn old = g_abort_fn;
    g_abort_fn = fn;
    g_abort_ud = ud;
    return old;
}

void ll_dist_abort(ll_dist *d, int rc) {
    char line[2100];
    ll_dist_error_line(ll_last_error(), line, sizeof line);
    if (g_abort_fn) {
        g_abort_fn(line, g_abort_ud);
    } else { /* no handler: the job's last words still reach someone (it ends now,
              * there is no caller to return to; allowed in tests/test_rules.c) */
        fprintf(stderr, "layerlaw: %s\n", line);
        fflush(stderr);
    }
#ifdef LL_HAVE_MPI
    if (d && d->size > 1) MPI_Abort(d->comm, rc ? rc : 1);
#endif
    (void)d;
    _exit(rc ? rc : 1);
}

/* Device-to-device hand-over over NCCL (after ll_dist_use_device): buf is
 * DEVICE memory on the communicator's device; the caller has finished the
 * work that wrote it (send) or will read it after this returns (recv): both
 * wait for the transfer on the communicator's stream. */
int ll_dist_has_nccl(const ll_dist *d) { return d && d->have_nccl; }

int ll_dist_nccl_send_floats(ll_dist *d, int dest, const float *buf, size_t n) {
    if (d && d->have_nccl) return ll_nccl_send_floats(d->nccl, dest, buf, n);
    ll_set_error("stage hand-over: no NCCL communicator");
    return -1;
}

int ll_dist_nccl_recv_floats(ll_dist *d, int src, float *buf, size_t n) {
    if (d && d->have_nccl) return ll_nccl_recv_floats(d->nccl, src, buf, n);
    ll_set_error("stage hand-over: no NCCL communicator");
    return -1;
}
