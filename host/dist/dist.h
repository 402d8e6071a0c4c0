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
 *      with the exact pairwise (Chan) merge, in rank order;
 *   5. rank 0 solves and writes the result; ll_dist_any_failed() lets a rank
 *      that failed stop the others with its rank in the message. */
#ifndef LL_DIST_H
#define LL_DIST_H
#include <stdint.h>
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

/* Every rank's statistics merged into rank 0's (other ranks' st are left as
 * they were).  Single process: nothing to do.  0, or -1 + error. */
int ll_dist_reduce_stats(ll_dist *d, ll_stats *st);

/* Collective: every rank says whether it failed; returns the lowest failing
 * rank (its error message is copied to every rank's ll_last_error), or -1
 * when none failed. */
int ll_dist_any_failed(ll_dist *d, int failed);
#endif
