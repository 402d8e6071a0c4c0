/* Ranks agree before any work: on the verdict of each rank's own checks,
 * and on what they were given (host/dist/agree.c). */
#ifndef LL_DIST_AGREE_H
#define LL_DIST_AGREE_H
#include "dist/dist.h"

/* Collective, before any work.  rc: this rank's own checks (0 fine, 2 a bad
 * path or option, its message in ll_last_error) -- a check that fails on one
 * rank ends the job on every rank (no rank waits for another that stopped).
 * Then the ranks compare a digest of their command line (argv[0..argc)) and
 * of the input files (NULL entries skipped): the content's SHA-256 for a
 * regular file up to 1 GiB (through the hash cache), the size and the names
 * and sizes of a folder's files otherwise) with rank 0's.  Returns 0 when
 * every rank passed and all digests equal rank 0's, else 2 with one line
 * naming the lowest other rank and what differs (the command line, or which
 * input) in ll_last_error on every rank.  Single process: returns rc. */
int ll_dist_check_job(ll_dist *d, int rc, int argc, char **argv, const char *const *files, int n_files);
/* The digest itself (hex, 65 bytes): what ll_dist_check_job compares. */
int ll_dist_inputs_digest(int argc, char **argv, const char *const *files, int n_files, char hex[65]);
#endif
