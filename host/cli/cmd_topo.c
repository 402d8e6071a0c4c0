/* layerlaw topo: the machine as layerlaw sees it (hwloc), and where the ranks
 * of a node would run; plus the rank/GPU lines of `layerlaw info`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/ll_util.h"
#include "dist/dist.h"
#include "dist/dist_cuda.h"
#include "dist/topo.h"

static void topo_usage(FILE *f) {
    fprintf(f,
            "usage: layerlaw topo [--xml FILE] [--ranks N]\n\n"
            "  Prints packages, NUMA nodes, cores, NVIDIA GPUs (PCI id, nearest cores) and NICs\n"
            "  as hwloc reports them, and with --ranks N where N ranks of a node would be bound:\n"
            "  rank i drives GPU i mod #GPUs and gets its share of the cores nearest that GPU\n"
            "  (CPU-only: an equal share of the node's cores).\n\n"
            "  --xml FILE   a topology saved with `lstopo --of xml` instead of this machine\n"
            "  --ranks N    show the binding plan for N ranks on the node\n");
}

int cmd_topo(int argc, char **argv) {
    const char *xml = NULL;
    int ranks = 0;
    static const struct option opts[] = {{"xml", 1, 0, 'x'}, {"ranks", 1, 0, 'r'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'x': xml = optarg; break;
        case 'r':
            ranks = (int)strtol(optarg, &end, 10);
            if (*end || ranks < 1 || ranks > 4096) return cli_fail("--ranks: bad value '%s'", optarg);
            break;
        case 'h': topo_usage(stdout); return 0;
        default: topo_usage(stderr); return cli_fail("topo: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_fail("topo: unexpected argument '%s'", argv[optind]);
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
#ifdef LL_HAVE_CUDA
    printf("cuda kernels: SASS for sm_%s", ll_cuda_sass_archs());
    printf(" + PTX compute_%s (driver JIT for newer GPUs)\n", ll_cuda_ptx_arch());
    int n = ll_cuda_device_count();
    for (int i = 0; i < n; i++) {
        int cc, bin, ptx, jit;
        char bus[64] = "?";
        ll_cuda_pci_busid(i, bus, sizeof bus);
        if (ll_cuda_kernel_image(i, &cc, &bin, &ptx, &jit) == 0)
            printf("device %d (%s, sm_%d): runs %s (binaryVersion %d, ptxVersion %d)\n", i, bus, cc,
                   jit ? "PTX JIT-compiled by the driver" : "precompiled SASS", bin, ptx);
        else
            printf("device %d (%s): no kernel image: %s\n", i, bus, ll_last_error());
    }
#endif
}
