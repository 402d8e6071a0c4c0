/* layerlaw topo: the machine as layerlaw sees it (hwloc), and where the ranks
 * of a node would run; plus the rank/GPU lines of `layerlaw info`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/opts.h"
#include "core/ll_util.h"
#include "dist/dist.h"
#include "backend/backend_info.h"
#include "dist/topo.h"

static const char TOPO_USAGE[] =
    "usage: layerlaw topo [--xml FILE] [--ranks N]\n\n"
    "  Prints packages, NUMA nodes, cores, NVIDIA GPUs (PCI id, nearest cores) and NICs\n"
    "  as hwloc reports them, and with --ranks N where N ranks of a node would be bound:\n"
    "  rank i drives GPU i mod #GPUs and gets its share of the cores nearest that GPU\n"
    "  (CPU-only: an equal share of the node's cores).\n\n";

int cmd_topo(int argc, char **argv) {
    const char *xml = NULL;
    int ranks = 0;
    const ll_opt opts[] = {
        {"xml", LL_OPT_STR, &xml, 0, 0, "FILE", "a topology saved with `lstopo --of xml` instead of this machine"},
        {"ranks", LL_OPT_INT, &ranks, 1, 4096, "N", "show the binding plan for N ranks on the node"},
        {NULL, 0, NULL, 0, 0, NULL, NULL}};
    int prc = ll_opts_parse(TOPO_USAGE, opts, argc, argv, NULL);
    if (prc) return prc == 1 ? 0 : 2;
    ll_topo *t = ll_topo_load(xml);
    if (!t) return cli_fail_lib();
    int rc = ll_topo_print(t, ranks, stdout);
    ll_topo_free(t);
    return rc == 0 ? 0 : cli_fail_lib();
}

void cli_info_dist(void) {
    char buf[1024];
    ll_dist_build_info(buf, sizeof buf);
    fputs(buf, stdout);
    static char kern[16384];
    ll_cuda_kernel_lines(kern, sizeof kern);
    fputs(kern, stdout);
}
