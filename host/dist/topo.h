/* The machine as layerlaw sees it (hwloc): packages, NUMA nodes, cores, GPUs
 * with their PCI ids and nearest cores, NICs — and where each rank of a node
 * should run.  Without hwloc (LL_HAVE_HWLOC unset) loading fails with a
 * message and binding does nothing. */
#ifndef LL_TOPO_H
#define LL_TOPO_H
#include <stdio.h>

typedef struct ll_topo ll_topo;

/* This machine (xml_path NULL), or a topology saved by hwloc (lstopo
 * --of xml; tests/fixtures/topo/).  NULL + error on failure. */
ll_topo *ll_topo_load(const char *xml_path);
void ll_topo_free(ll_topo *t);
/* NVIDIA GPUs (PCI vendor 0x10de, display/3D class) in PCI bus order. */
int ll_topo_gpu_count(const ll_topo *t);
/* PCI id "0000:18:00.0" of GPU i (bus order); NULL if none. */
const char *ll_topo_gpu_busid(const ll_topo *t, int i);

typedef struct {
    int bound;          /* 1: a binding was chosen (or kept) */
    int cores;          /* cores in it (the thread count), >= 1 */
    char cpus[128];     /* OS PU list, taskset style: "0-7,32-39" */
    char text[256];     /* one line for logs and law.json */
} ll_topo_binding;

/* Where local rank `local_rank` of `local_size` should run.  gpu_busid given
 * (its PCI id; ll_topo_gpu_busid for the i-th): the cores of the GPU's
 * nearest non-I/O ancestor (its package or NUMA node), split evenly among
 * the GPUs attached there, this GPU taking the share of its position among
 * them.  gpu_busid NULL: the node's cores split evenly among the local ranks
 * in order (none when there are fewer cores than ranks).  0, or -1 + error
 * (unknown PCI id). */
int ll_topo_plan(const ll_topo *t, int local_rank, int local_size, const char *gpu_busid, ll_topo_binding *out);

/* Prints the topology (and, when ranks > 0, the plan for that many ranks on
 * this node: rank i on GPU i mod #GPUs, or CPU-only without GPUs). */
int ll_topo_print(const ll_topo *t, int ranks, FILE *f);

/* Binds the calling process (see ll_dist_bind): keeps a launcher's binding,
 * else plans on this machine and applies it.  device >= 0 in a CUDA build:
 * that CUDA device's PCI id.  Returns the core count (>= 1). */
int ll_topo_bind_self(int local_rank, int local_size, int device, ll_topo_binding *b);
#endif
