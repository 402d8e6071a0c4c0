/* Held-out PR (--folds) over ranks: every fold's statistics reduced exactly
 * like the total statistics, the leave-one-fold-out solves spread by entry.
 * See docs/distributed.md ("Held-out PR") and docs/measures.md. */
#ifndef LL_DIST_FOLDS_H
#define LL_DIST_FOLDS_H
#include "dist/dist.h"
#include "probe/measures.h"

/* Collective.  f: this rank's fold statistics (its own sequences, fold of a
 * sequence = ll_fold_of(global sequence index, seed, K), ones_null set);
 * total: zeroed statistics (E, d, id target, ones_null set), receives the
 * merge of the folds of this rank's entries.
 *
 *   1. the global example count of every fold (exact integer sums); a fold
 *      without examples is the input's fault: -2 and the same error on
 *      every rank ("folds: fold k of K has no examples ...", ll_folds_solve's);
 *   2. each fold's statistics reduced with ll_dist_reduce_stats_spread
 *      (shift to that fold's global means, sum in rank order) — entry e of
 *      every fold ends on the rank of e's block (ll_dist_entry_block);
 *   3. each rank merges its entries' folds into total in fold order (as one
 *      process does), solves the in-sample probes (ll_stats_solve, OLS) and
 *      the E·K leave-one-fold-out probes of its entries (ll_folds_solve);
 *   4. the results are summed over ranks (each entry non-zero on one rank:
 *      exact), so res[E] and ho are complete on EVERY rank.
 *
 * After the call f and total hold reduced statistics only for this rank's
 * entries.  Single process: merge, ll_stats_solve, ll_folds_solve.
 * 0; -1 + error on every rank (a transport or solve failure, naming the
 * rank); -2 + error: a fold has no examples. */
int ll_dist_folds_solve(ll_dist *d, ll_folds *f, ll_stats *total, int threads, ll_probe_result *res, ll_heldout *ho);
#endif
