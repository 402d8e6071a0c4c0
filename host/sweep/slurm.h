/* The Slurm job array of a sweep (`layerlaw sweep --slurm`): one sbatch
 * script whose task I runs the points with index % N == I, all writing one
 * store.  Every value written into the script is quoted for the shell; what
 * cannot be quoted (a control character in a #SBATCH line or the job name)
 * is refused. */
#ifndef LL_SWEEP_SLURM_H
#define LL_SWEEP_SLURM_H
#include <stddef.h>
#include "core/ll_util.h"
#include "sweep/sweep.h"

/* Appends s to b as one shell word in single quotes, git's way: ' -> '\''.
 * Safe for any byte string (newlines included) inside a bash command line. */
void ll_sb_shell_quote(ll_sbuf *b, const char *s);

typedef struct {
    const char *cfg_path, *out, *store; /* as given (made absolute in the script) */
    int chunk;                          /* points per array task (>= 1) */
    char *const *only;                  /* --only filters, passed on */
    int n_only;
    char *const *sbatch;                /* extra '#SBATCH X' lines */
    int n_sbatch;
    int n_points;                       /* points selected */
} ll_slurm_opts;

/* Number of array tasks for n points in chunks of `chunk` (no overflow). */
int ll_slurm_tasks(int n_points, int chunk);
/* Writes OUT/sweep.sbatch (atomically, mode 0755); path_out gets its path.
 * 0, or -1 + error (a value that cannot go into the script). */
int ll_sweep_write_slurm(const ll_sweep *sw, const ll_slurm_opts *o, char *path_out, size_t cap);
#endif
