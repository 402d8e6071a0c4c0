/* Ranks: data-parallel runs over many processes (MPI) and devices (NCCL).
 *
 * The seam every multi-process feature plugs into.  A build without MPI, or a
 * process not started by a launcher, is rank 0 of 1 and every call below does
 * nothing (as llm.c's single-process default): the run pipeline calls them
 * unconditionally.
 *
 * What the run pipeline does with it (host/pipeline/pipeline.c):
 *   1. ll_dist_init() once;
 *   2. after pass 1 over the input (every sequence's length known),
 *      ll_dist_assign() says which rank takes which sequence;
 *   3. each rank folds its own sequences into its statistics;
 *   4. ll_dist_reduce_stats() merges every rank's statistics into rank 0's
 *      with the exact pairwise (Chan) merge, in rank order (or, for GPU
 *      ranks with NCCL, ll_dist_reduce_solve_device merges and solves them
 *      without leaving the devices);
 *   5. rank 0 solves and writes the result; ll_dist_any_failed() lets a rank
 *      that failed stop the others with its rank in the message. */
#ifndef LL_DIST_H
#define LL_DIST_H
#include <stdint.h>
#include "core/ll_util.h" /* ll_warn_fn */
#include "probe/probe.h"

typedef struct ll_dist ll_dist;

/* The process's place in the job (never NULL; single process: 0 of 1).
 * Returns NULL + error only when a launcher was detected and joining failed. */
ll_dist *ll_dist_init(int *argc, char ***argv);
void ll_dist_finalize(ll_dist *d);
int ll_dist_rank(const ll_dist *d);
int ll_dist_size(const ll_dist *d);
int ll_dist_local_rank(const ll_dist *d); /* rank among the processes of this node */

/* Sequence i (0..n-1, lengths len[i]) goes to rank owner[i]: contiguous
 * blocks in input order, balanced by tokens, the same on every rank. */
void ll_dist_assign(const ll_dist *d, const int64_t *len, long n, int *owner);
/* The same for P ranks (what ll_dist_assign computes): sequence i goes to
 * rank floor(T_i·P / T), T_i the tokens before it, T the total. */
void ll_dist_assign_p(int P, const int64_t *len, long n, int *owner);

/* Every rank's statistics merged into rank 0's (other ranks' st are left as
 * they were).  Single process: nothing to do.  0, or -1 + error. */
int ll_dist_reduce_stats(ll_dist *d, ll_stats *st);

/* The reduce and the solve, spread: entry e's merged statistics end on rank
 * floor(e·P/E) (contiguous blocks of entries), which solves them
 * (ll_stats_solve); the results are gathered on rank 0 (res[E] is valid
 * there only).  A rank's st afterwards holds the merged statistics of its own
 * entries.  P times less solve per rank than solving on rank 0 — the serial
 * part of a data-parallel job (docs/distributed.md).  Single process:
 * ll_stats_solve.  0, or -1 + error (on every rank). */
typedef int (*ll_dist_solver)(void *ctx, const ll_stats *st, double ridge, int threads, ll_probe_result *out);
/* solve: how a rank solves its block (NULL: ll_stats_solve on the host; the
 * run pipeline passes its backend's, so GPU ranks solve on their GPU). */
int ll_dist_reduce_solve(ll_dist *d, ll_stats *st, double ridge, int threads, ll_probe_result *res,
                         ll_dist_solver solve, void *solve_ctx);

/* The reduce of ll_dist_reduce_solve without its solve: entry e's merged
 * statistics end on the rank of its block (ll_dist_entry_block); other
 * entries of st are left as they were on every rank.  Single process:
 * nothing to do.  0, or -1 + error (on every rank). */
int ll_dist_reduce_stats_spread(ll_dist *d, ll_stats *st);
/* This rank's block of entries [*e0, *e1) of E under the spread reduce:
 * entry e belongs to rank floor(e·P/E) (empty when E < P for some ranks;
 * rank 0 always holds entry 0).  Single process: [0, E). */
void ll_dist_entry_block(const ll_dist *d, int E, int *e0, int *e1);

/* ---- the device-resident reduce (CUDA + NCCL; docs/distributed.md) ----
 * Statistics that stay where a backend keeps them (GPU memory): the backend
 * (host/backend/backend_cuda.c) fills this table, dist drives it.  All
 * callbacks return 0, or -1 + error. */
typedef struct ll_dist_devstats {
    void *ctx;
    int E, d;
    /* 0: device memory, summed with ncclReduce enqueued on `stream` (the
     * cudaStream_t the statistics' kernels run on).  1: HOST memory, summed
     * by the MPI chain in rank order instead (the CPU backend's table under
     * LAYERLAW_DEVREDUCE_ON_HOST=1: the driver below, tested on CPUs) */
    int host_memory;
    void *stream;
    /* host copies of every entry's count, means [E·d], label mean, ones-null flag (a small download) */
    int (*moments)(void *ctx, double *n, double *mean, double *ymean, int *ones_null);
    /* every entry shifted in place to the global count / means (the host shift's
     * formulas), and whatever pack needs allocated: the ranks agree on this
     * step's failure, none after it until the reduces are done */
    int (*shift)(void *ctx, const double *n, const double *mean, const double *ymean, const int *ones_null);
    /* entry e's comoments packed into device memory: the buffer, *count doubles (enqueued) */
    double *(*pack)(void *ctx, int e, size_t *count);
    /* the packed buffer (summed) back into entry e (enqueued) */
    int (*unpack)(void *ctx, int e);
    /* entries [e0, e1) solved where they are; out[0 .. e1−e0) */
    int (*solve)(void *ctx, int e0, int e1, double ridge, ll_probe_result *out);
} ll_dist_devstats;

/* 1 when this rank could reduce device statistics in place: a CUDA + NCCL
 * build, several ranks (or LAYERLAW_NCCL=1: a one-rank communicator, for the
 * tests), LAYERLAW_NCCL not 0.  Local, before ll_dist_use_device. */
int ll_dist_device_reduce_possible(const ll_dist *d);
/* Local, before ll_dist_use_device: 1 when this rank could run
 * ll_dist_reduce_solve_device over table s (device memory: as
 * ll_dist_device_reduce_possible; host memory: an MPI build, several ranks). */
int ll_dist_devstats_usable(const ll_dist *d, const ll_dist_devstats *s);
/* Collective, after ll_dist_use_device: 1 when every rank can (s: this
 * rank's table, NULL when it has none or ll_dist_devstats_usable said 0; a
 * device table also needs the NCCL communicator up), else 0 — the host
 * reduce.  *mixed = 1 when some ranks had a table and others not (ranks that
 * skipped the download of their statistics must make it now).  The choice is
 * in ll_dist_split_json's "reduce".  -1 + error when the collective fails. */
int ll_dist_choose_device_reduce(ll_dist *d, const ll_dist_devstats *s, int *mixed);
/* ll_dist_reduce_solve over device statistics (after ll_dist_choose_device_reduce
 * said 1): the global count and means reduced on the host (E·(d+2)
 * doubles), every rank's statistics shifted to them on its device, each
 * entry's comoments summed in device memory with ncclReduce onto the rank
 * solving it (entry e -> rank floor(e·P/E)), solved there; the results (5
 * doubles an entry) gathered on rank 0 (res[E] valid there).  A rank's device
 * statistics afterwards hold the merged ones for its own entries only.
 * 0, or -1 + error on every rank. */
int ll_dist_reduce_solve_device(ll_dist *d, const ll_dist_devstats *s, double ridge, ll_probe_result *res);

/* The host shift the reduce applies before summing (parallel-axis theorem),
 * in place on every entry of st: M2 += n(x̄−μ)(x̄−μ)ᵀ, Cxy += n(x̄−μ)(ȳ−ȳ_g),
 * Syy += n(ȳ−ȳ_g)² (n = st->n[e]; entries with n = 0 unchanged), then n :=
 * gn, mean := gmean, ymean := gymean.  The oracle of the device shift
 * (ll_cuda_stats_shift) and the same arithmetic as the reduce's own. */
void ll_dist_shift_host(ll_stats *st, const double *gn, const double *gmean, const double *gymean);

/* Collective: each rank's results of its entry block [e0, e1) (mine[e1-e0];
 * rc: the status of the solve that made them) into rank 0's res[E].  A
 * failed solve is agreed first (-1 on every rank, "rank R: ..." in the
 * error).  The entries' blocks must be disjoint across the ranks (the
 * gather is a sum: exact).  0 / -1. */
int ll_dist_gather_results(ll_dist *d, int E, int e0, int e1, const ll_probe_result *mine, int rc,
                           ll_probe_result *res);

/* Fault injection for the tests: with LAYERLAW_FAULT=kill:R in the
 * environment, the process whose rank is R kills itself (SIGKILL) here. */
void ll_dist_fault_point(int rank);

/* Collective: every rank says whether it failed; returns the lowest failing
 * rank (its error message, prefixed "rank R: " when there are several
 * ranks, is copied to every rank's ll_last_error), or -1 when none failed. */
int ll_dist_any_failed(ll_dist *d, int failed);

/* Collective: ll_dist_any_failed for exit statuses.  Every rank gives its
 * own (0: fine); returns 0 when all are 0, else the status of the lowest
 * failing rank, whose message (prefixed "rank R: ") is in ll_last_error on
 * every rank.  Single process: returns rc. */
int ll_dist_agree(ll_dist *d, int rc);

/* Collective sums / maxima over the ranks, in place on every rank (integer
 * sums are exact; single process: nothing to do).  0, or -1 + error. */
int ll_dist_sum_ll(ll_dist *d, long long *v, long n);
int ll_dist_max_double(ll_dist *d, double *v, long n);
/* Collective sum of doubles, in place on every rank (MPI_Allreduce: the order
 * is MPI's, exact where each element is non-zero on one rank only). */
int ll_dist_sum_double(ll_dist *d, double *v, long n);

/* ---- beyond the seam (host/dist/dist.c, host/dist/topo.c) ---- */

/* The job as ll_dist_init found it (any thread, after init; before: 0 of 1):
 * the CLI prefixes its error lines with "rank R: " when the size is > 1. */
int ll_dist_world_rank(void);
int ll_dist_world_size(void);
/* "none" (one process), "mpi" or "mpi+nccl" (after ll_dist_use_device). */
const char *ll_dist_transport(const ll_dist *d);

/* Binds this process to the cores nearest its GPU (device >= 0, CUDA builds)
 * or to its share of the node's cores (device < 0), with hwloc.  A binding
 * the launcher already made (srun --cpu-bind, mpirun --bind-to) is kept.
 * Returns the number of cores the process may use (the thread count when
 * the user gave none: >= 1); never fails (without hwloc: the online cores
 * divided among the node's ranks).  LAYERLAW_BIND=0 turns binding off. */
int ll_dist_bind(ll_dist *d, int device);
/* One line describing what ll_dist_bind did ("cores 0-3 (package 0), near
 * GPU 0000:18:00.0" / "not bound: ..."), "" before it. */
const char *ll_dist_binding(const ll_dist *d);

/* CUDA + NCCL builds: joins the job's NCCL communicator on `device` (the
 * unique id is broadcast over MPI; one communicator per job), after which
 * ll_dist_reduce_stats sums over NCCL and the device-resident reduce can be
 * chosen.  A no-op returning 0 with one rank (unless LAYERLAW_NCCL=1: a
 * one-rank communicator, for the tests), with LAYERLAW_NCCL=0 or without
 * NCCL.  Collective. */
int ll_dist_use_device(ll_dist *d, int device);

/* One line per library this build carries for ranks: "mpi: yes (Open MPI
 * v4.1.4, ...)", "nccl: ...", "hwloc: ..." (for `layerlaw info`). */
void ll_dist_build_info(char *buf, int cap);

/* How the work was split, for law.json's "ranks" member:
 * {"ranks": P, "transport": ..., "documents": [per rank], "tokens": [per
 * rank], "reduce": "...", "binding": [...]} from the assignment (every rank
 * computes the same).  Collective (gathers the bindings). */
/* ---- layer (pipeline) parallel (docs/distributed.md) ---- */

/* A sub-group of d's ranks (MPI_Comm_split): the ranks giving the same
 * color, ordered by key.  Collective over d.  A single process gets a
 * group of one.  NULL + error.  Freed with ll_dist_split_free. */
ll_dist *ll_dist_split(ll_dist *d, int color, int key);
void ll_dist_split_free(ll_dist *sub);
/* Point-to-point floats in host memory (the residual stream crossing a
 * stage boundary).  isend starts a send that ll_dist_wait completes (buf
 * must stay untouched until then); recv blocks and checks that exactly n
 * floats arrived.  0, or -1 + error. */
typedef struct ll_dist_req ll_dist_req;
ll_dist_req *ll_dist_req_new(void);
void ll_dist_req_free(ll_dist_req *q);
int ll_dist_isend_floats(ll_dist *d, int dest, int tag, const float *buf, size_t n, ll_dist_req *q);
int ll_dist_wait(ll_dist_req *q);
int ll_dist_recv_floats(ll_dist *d, int src, int tag, float *buf, size_t n);
/* The same between GPUs over NCCL, device memory to device memory (after
 * ll_dist_use_device on d; ll_dist_has_nccl says whether it took).  Each
 * call returns when its transfer is done (the peer has posted the matching
 * call).  0, or -1 + error. */
int ll_dist_has_nccl(const ll_dist *d);
int ll_dist_nccl_send_floats(ll_dist *d, int dest, const float *buf, size_t n);
int ll_dist_nccl_recv_floats(ll_dist *d, int src, float *buf, size_t n);
/* The one error line of a job, without the "layerlaw: " prefix: "rank R:
 * MSG" when the job has several ranks (unless MSG names its rank already),
 * else MSG.  Prints nothing (the CLI prints it). */
void ll_dist_error_line(const char *msg, char *buf, size_t cap);
/* Ends the whole job now: hands ll_dist_error_line(ll_last_error()) to the
 * abort handler (ll_dist_set_abort_handler; the CLI installs its printer;
 * none installed: "layerlaw: LINE" on stderr, the job's last words), then
 * MPI_Abort(rc).  For failures in the middle of a pipelined forward, where
 * the other stages are blocked in a hand-over and cannot join a check.
 * Single process: exits with rc.  Does not return. */
void ll_dist_abort(ll_dist *d, int rc) __attribute__((noreturn));
/* The handler ll_dist_abort gives its line to (the Python binding, or the
 * CLI once it prints the line itself).  Returns the previous one. */
ll_warn_fn ll_dist_set_abort_handler(ll_warn_fn fn, void *ud);

struct cJSON;
struct cJSON *ll_dist_split_json(ll_dist *d, const int64_t *len, long n, const int *owner);
#endif
