/* host/dist/topo.h over hwloc 2 (Debian libhwloc-dev). */
#include "dist/topo.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "backend/dist_device.h"
#include "core/ll_util.h"

#ifdef LL_HAVE_HWLOC
#include <errno.h>
#include <hwloc.h>
#include <libxml/xmlreader.h>

#define LL_MAX_GPUS 64
struct ll_topo {
    hwloc_topology_t h;
    char source[512];
    int ngpu;
    hwloc_obj_t gpu[LL_MAX_GPUS];
    char busid[LL_MAX_GPUS][32];
};

static int is_nvidia_gpu(hwloc_obj_t o) {
    if (o->type != HWLOC_OBJ_PCI_DEVICE) return 0;
    unsigned cls = o->attr->pcidev.class_id;
    return o->attr->pcidev.vendor_id == 0x10de && (cls == 0x0300 || cls == 0x0302);
}
static int is_nic(hwloc_obj_t o) {
    if (o->type != HWLOC_OBJ_PCI_DEVICE) return 0;
    return (o->attr->pcidev.class_id >> 8) == 0x02; /* network controller (Ethernet, InfiniBand, ...) */
}
static void busid_str(hwloc_obj_t o, char *buf, size_t cap) {
    snprintf(buf, cap, "%04x:%02x:%02x.%01x", o->attr->pcidev.domain, o->attr->pcidev.bus, o->attr->pcidev.dev,
             o->attr->pcidev.func);
}

/* hwloc sizes its bitmaps by the largest os_index it reads: a topology
 * file with os_index 4294967295 costs 512 MB or more.  Checked first with
 * libxml2's streaming reader (linear, no entity expansion, no network). */
#define LL_TOPO_MAX_OS_INDEX (1u << 20)
static int check_topology_xml(const char *path) {
    xmlTextReaderPtr r = xmlReaderForFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_NOERROR);
    if (!r) { ll_set_error("%s: cannot read as an hwloc XML topology", path); return -1; }
    int rc = 0, st;
    while (rc == 0 && (st = xmlTextReaderRead(r)) == 1) {
        if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT) continue;
        xmlChar *v = xmlTextReaderGetAttribute(r, BAD_CAST "os_index");
        if (!v) continue;
        char *end;
        errno = 0;
        unsigned long long x = strtoull((const char *)v, &end, 10);
        if (errno || end == (char *)v || *end || x > LL_TOPO_MAX_OS_INDEX) {
            ll_set_error("%s: line %d: os_index '%.40s' is not a number up to %u (hwloc would size its sets by it)",
                         path, xmlTextReaderGetParserLineNumber(r), (const char *)v, LL_TOPO_MAX_OS_INDEX);
            rc = -1;
        }
        xmlFree(v);
    }
    if (rc == 0 && st != 0) { ll_set_error("%s: not well-formed XML (an hwloc topology)", path); rc = -1; }
    xmlFreeTextReader(r);
    return rc;
}

ll_topo *ll_topo_load(const char *xml_path) {
    if (xml_path && check_topology_xml(xml_path) != 0) return NULL;
    ll_topo *t = ll_xcalloc(1, sizeof *t);
    if (hwloc_topology_init(&t->h) != 0) {
        free(t);
        ll_set_error("hwloc: topology init failed");
        return NULL;
    }
    hwloc_topology_set_io_types_filter(t->h, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    if (xml_path) {
        if (access(xml_path, R_OK) != 0 || hwloc_topology_set_xml(t->h, xml_path) != 0) {
            hwloc_topology_destroy(t->h);
            free(t);
            ll_set_error("%s: cannot read as an hwloc XML topology", xml_path);
            return NULL;
        }
        /* a topology from a file describes another machine: never bind to it */
        snprintf(t->source, sizeof t->source, "%s", xml_path);
    } else {
        snprintf(t->source, sizeof t->source, "this machine");
    }
    if (hwloc_topology_load(t->h) != 0) {
        hwloc_topology_destroy(t->h);
        free(t);
        ll_set_error("%s: hwloc could not load the topology", xml_path ? xml_path : "this machine");
        return NULL;
    }
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_pcidev(t->h, o)) != NULL;) {
        if (!is_nvidia_gpu(o) || t->ngpu >= LL_MAX_GPUS) continue;
        t->gpu[t->ngpu] = o;
        busid_str(o, t->busid[t->ngpu], sizeof t->busid[0]);
        t->ngpu++;
    }
    /* hwloc lists PCI devices by bus already; keep that order explicit */
    for (int i = 1; i < t->ngpu; i++)
        for (int j = i; j > 0 && strcmp(t->busid[j - 1], t->busid[j]) > 0; j--) {
            hwloc_obj_t o = t->gpu[j]; t->gpu[j] = t->gpu[j - 1]; t->gpu[j - 1] = o;
            char b[32]; memcpy(b, t->busid[j], 32); memcpy(t->busid[j], t->busid[j - 1], 32); memcpy(t->busid[j - 1], b, 32);
        }
    return t;
}

void ll_topo_free(ll_topo *t) {
    if (!t) return;
    hwloc_topology_destroy(t->h);
    free(t);
}
int ll_topo_gpu_count(const ll_topo *t) { return t ? t->ngpu : 0; }
const char *ll_topo_gpu_busid(const ll_topo *t, int i) { return t && i >= 0 && i < t->ngpu ? t->busid[i] : NULL; }

static int find_gpu(const ll_topo *t, const char *busid) {
    /* accept "0000:18:00.0" and "18:00.0", any case (CUDA prints upper case, 8-digit domains) */
    unsigned dom = 0, bus, dev, fn;
    if (sscanf(busid, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4) {
        dom = 0;
        if (sscanf(busid, "%x:%x.%x", &bus, &dev, &fn) != 3) return -1;
    }
    for (int i = 0; i < t->ngpu; i++) {
        hwloc_obj_t o = t->gpu[i];
        if (o->attr->pcidev.domain == dom && o->attr->pcidev.bus == bus && o->attr->pcidev.dev == dev &&
            o->attr->pcidev.func == fn)
            return i;
    }
    return -1;
}

/* Cores (objects) whose PUs lie in set, in order; returns the count. */
static int cores_in(hwloc_topology_t h, hwloc_const_cpuset_t set, hwloc_obj_t *out, int cap) {
    int n = 0;
    for (hwloc_obj_t c = NULL; (c = hwloc_get_next_obj_inside_cpuset_by_type(h, set, HWLOC_OBJ_CORE, c)) != NULL;)
        if (n < cap) out[n++] = c; else n++;
    return n;
}

static void describe_where(hwloc_topology_t h, hwloc_const_cpuset_t set, char *buf, size_t cap) {
    /* the packages and NUMA nodes the set touches */
    char pk[64] = "", nu[64] = "";
    int np = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_PACKAGE), nn = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_NUMANODE);
    for (int i = 0; i < np; i++) {
        hwloc_obj_t p = hwloc_get_obj_by_type(h, HWLOC_OBJ_PACKAGE, i);
        if (hwloc_bitmap_intersects(p->cpuset, set))
            snprintf(pk + strlen(pk), sizeof pk - strlen(pk), "%s%u", *pk ? "," : "", p->logical_index);
    }
    for (int i = 0; i < nn; i++) {
        hwloc_obj_t p = hwloc_get_obj_by_type(h, HWLOC_OBJ_NUMANODE, i);
        if (hwloc_bitmap_intersects(p->cpuset, set))
            snprintf(nu + strlen(nu), sizeof nu - strlen(nu), "%s%u", *nu ? "," : "", p->os_index);
    }
    snprintf(buf, cap, "package %s, NUMA %s", *pk ? pk : "-", *nu ? nu : "-");
}

/* The plan, as a cpuset (caller frees); NULL when nothing is chosen. */
static hwloc_bitmap_t plan_set(const ll_topo *t, int local_rank, int local_size, const char *gpu_busid,
                               char *why, size_t cap) {
    hwloc_topology_t h = t->h;
    hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(h);
    int ncores = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_CORE);
    if (ncores <= 0) { snprintf(why, cap, "no cores in the topology"); return NULL; }
    hwloc_obj_t *cores = ll_xcalloc((size_t)ncores, sizeof *cores);
    hwloc_bitmap_t set = NULL;
    if (gpu_busid) {
        int g = find_gpu(t, gpu_busid);
        if (g < 0) { snprintf(why, cap, "GPU %s not in the topology", gpu_busid); free(cores); return NULL; }
        hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(h, t->gpu[g]);
        /* the GPUs sharing that ancestor, and this one's place among them */
        int share = 0, pos = 0;
        for (int i = 0; i < t->ngpu; i++)
            if (hwloc_get_non_io_ancestor_obj(h, t->gpu[i]) == anc) {
                if (i == g) pos = share;
                share++;
            }
        int n = cores_in(h, anc->cpuset, cores, ncores);
        if (n == 0) { snprintf(why, cap, "no cores near GPU %s", gpu_busid); free(cores); return NULL; }
        set = hwloc_bitmap_alloc();
        if (n >= share) {
            int a = (int)((long)pos * n / share), b = (int)((long)(pos + 1) * n / share);
            for (int i = a; i < b; i++) hwloc_bitmap_or(set, set, cores[i]->cpuset);
        } else {
            hwloc_bitmap_copy(set, anc->cpuset); /* fewer cores than GPUs there: share them all */
        }
    } else {
        if (local_size < 1 || local_rank < 0 || local_rank >= local_size) {
            snprintf(why, cap, "bad local rank %d of %d", local_rank, local_size); free(cores); return NULL;
        }
        int n = cores_in(h, all, cores, ncores);
        if (n < local_size) {
            snprintf(why, cap, "%d cores for %d ranks on this node", n, local_size);
            free(cores);
            return NULL;
        }
        set = hwloc_bitmap_alloc();
        int a = (int)((long)local_rank * n / local_size), b = (int)((long)(local_rank + 1) * n / local_size);
        for (int i = a; i < b; i++) hwloc_bitmap_or(set, set, cores[i]->cpuset);
    }
    free(cores);
    return set;
}

static void fill_binding(const ll_topo *t, hwloc_const_cpuset_t set, const char *near, const char *how,
                         ll_topo_binding *out) {
    int ncores = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_CORE);
    hwloc_obj_t *tmp = ll_xcalloc((size_t)LL_MAX(ncores, 1), sizeof *tmp);
    int n = cores_in(t->h, set, tmp, ncores);
    free(tmp);
    if (n == 0) n = LL_MAX(1, hwloc_bitmap_weight(set)); /* PUs of partial cores */
    out->bound = 1;
    out->cores = n;
    hwloc_bitmap_list_snprintf(out->cpus, sizeof out->cpus, set);
    char where[96];
    describe_where(t->h, set, where, sizeof where);
    snprintf(out->text, sizeof out->text, "%s %d core%s, cpus %s (%s)%s%s", how, n, n == 1 ? "" : "s", out->cpus, where,
             near ? ", near GPU " : "", near ? near : "");
}

int ll_topo_plan(const ll_topo *t, int local_rank, int local_size, const char *gpu_busid, ll_topo_binding *out) {
    memset(out, 0, sizeof *out);
    out->cores = 1;
    char why[112] = "";
    hwloc_bitmap_t set = plan_set(t, local_rank, local_size, gpu_busid, why, sizeof why);
    if (!set) {
        if (gpu_busid && find_gpu(t, gpu_busid) < 0) {
            ll_set_error("%s: %s", t->source, why);
            return -1;
        }
        int n = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_CORE);
        out->cores = LL_MAX(1, n / LL_MAX(1, local_size));
        snprintf(out->text, sizeof out->text, "not bound: %s; %d thread%s", why, out->cores, out->cores == 1 ? "" : "s");
        return 0;
    }
    fill_binding(t, set, gpu_busid, "bound to", out);
    hwloc_bitmap_free(set);
    return 0;
}

static void print_set(FILE *f, hwloc_topology_t h, hwloc_const_cpuset_t set) {
    char cpus[256];
    hwloc_bitmap_list_snprintf(cpus, sizeof cpus, set);
    int n = hwloc_get_nbobjs_inside_cpuset_by_type(h, set, HWLOC_OBJ_CORE);
    fprintf(f, "%d cores, cpus %s", n, cpus);
}

int ll_topo_print(const ll_topo *t, int ranks, FILE *f) {
    hwloc_topology_t h = t->h;
    int np = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_PACKAGE), nn = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_NUMANODE);
    int nc = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_CORE), npu = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_PU);
    fprintf(f, "topology: %s (hwloc %s)\n", t->source, HWLOC_VERSION);
    fprintf(f, "machine: %d package%s, %d NUMA node%s, %d cores, %d PUs, %d NVIDIA GPU%s\n", np, np == 1 ? "" : "s", nn,
            nn == 1 ? "" : "s", nc, npu, t->ngpu, t->ngpu == 1 ? "" : "s");
    for (int i = 0; i < np; i++) {
        hwloc_obj_t p = hwloc_get_obj_by_type(h, HWLOC_OBJ_PACKAGE, i);
        fprintf(f, "package %d: ", i);
        print_set(f, h, p->cpuset);
        fputc('\n', f);
    }
    for (int i = 0; i < nn; i++) {
        hwloc_obj_t p = hwloc_get_obj_by_type(h, HWLOC_OBJ_NUMANODE, i);
        fprintf(f, "NUMA node %u: %.1f GiB, ", p->os_index, (double)p->attr->numanode.local_memory / (1 << 30));
        print_set(f, h, p->cpuset);
        fputc('\n', f);
    }
    for (int i = 0; i < t->ngpu; i++) {
        hwloc_obj_t g = t->gpu[i], anc = hwloc_get_non_io_ancestor_obj(h, g);
        const char *name = hwloc_obj_get_info_by_name(g, "PCIDevice");
        char where[160];
        describe_where(h, anc->cpuset, where, sizeof where);
        fprintf(f, "GPU %d: %s [%04x:%04x]%s%s, near %s: ", i, t->busid[i], g->attr->pcidev.vendor_id,
                g->attr->pcidev.device_id, name ? " " : "", name ? name : "", where);
        print_set(f, h, anc->cpuset);
        fputc('\n', f);
    }
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_pcidev(h, o)) != NULL;) {
        if (!is_nic(o)) continue;
        char bid[32], where[160], names[128] = "";
        busid_str(o, bid, sizeof bid);
        for (hwloc_obj_t c = o->io_first_child; c; c = c->next_sibling)
            if (c->type == HWLOC_OBJ_OS_DEVICE && c->name)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", *names ? "," : "", c->name);
        hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(h, o);
        describe_where(h, anc->cpuset, where, sizeof where);
        fprintf(f, "NIC %s [%04x:%04x] %s, near %s\n", bid, o->attr->pcidev.vendor_id, o->attr->pcidev.device_id,
                *names ? names : "-", where);
    }
    for (int r = 0; r < ranks; r++) {
        ll_topo_binding b;
        const char *bus = t->ngpu ? t->busid[r % t->ngpu] : NULL;
        if (ll_topo_plan(t, r, ranks, bus, &b) != 0) return -1;
        fprintf(f, "rank %d of %d: %s\n", r, ranks, b.text);
    }
    return 0;
}

int ll_topo_bind_self(int local_rank, int local_size, int device, ll_topo_binding *b) {
    memset(b, 0, sizeof *b);
    b->cores = 1;
    const char *env = getenv("LAYERLAW_BIND");
    int off = env && !strcmp(env, "0");
    ll_topo *t = ll_topo_load(NULL);
    if (!t) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        b->cores = (int)LL_MAX(1, n / LL_MAX(1, local_size));
        snprintf(b->text, sizeof b->text, "not bound: %s", ll_last_error());
        return b->cores;
    }
    hwloc_bitmap_t cur = hwloc_bitmap_alloc();
    int have_cur = hwloc_get_cpubind(t->h, cur, HWLOC_CPUBIND_PROCESS) == 0;
    hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(t->h);
    if (have_cur && !hwloc_bitmap_isincluded(allowed, cur)) {
        /* the launcher (or taskset / cgroups) chose already: keep it */
        fill_binding(t, cur, NULL, "kept the launcher's binding:", b);
    } else if (off) {
        int n = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_CORE);
        b->cores = LL_MAX(1, n / LL_MAX(1, local_size));
        snprintf(b->text, sizeof b->text, "not bound (LAYERLAW_BIND=0); %d threads", b->cores);
    } else {
        const char *bus = NULL;
        char busbuf[64];
        /* no CUDA build: no device (ll_cuda_device_count() is 0) */
        if (device >= 0 && device < ll_cuda_device_count() && ll_cuda_pci_busid(device, busbuf, sizeof busbuf) == 0)
            bus = busbuf;
        char why[112] = "";
        hwloc_bitmap_t set = plan_set(t, local_rank, local_size, bus, why, sizeof why);
        if (!set && bus) set = plan_set(t, local_rank, local_size, NULL, why, sizeof why);
        if (set && hwloc_set_cpubind(t->h, set, HWLOC_CPUBIND_PROCESS) == 0) {
            fill_binding(t, set, bus, "bound to", b);
        } else {
            int n = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_CORE);
            b->cores = LL_MAX(1, n / LL_MAX(1, local_size));
            snprintf(b->text, sizeof b->text, "not bound: %s; %d thread%s", set ? "hwloc_set_cpubind failed" : why,
                     b->cores, b->cores == 1 ? "" : "s");
        }
        if (set) hwloc_bitmap_free(set);
    }
    hwloc_bitmap_free(cur);
    ll_topo_free(t);
    return b->cores;
}

#else /* no hwloc */
struct ll_topo { int unused; };
ll_topo *ll_topo_load(const char *xml_path) {
    ll_set_error("%s: this layerlaw was built without hwloc (install libhwloc-dev and rebuild)",
                 xml_path ? xml_path : "topology");
    return NULL;
}
void ll_topo_free(ll_topo *t) { free(t); }
int ll_topo_gpu_count(const ll_topo *t) { (void)t; return 0; }
const char *ll_topo_gpu_busid(const ll_topo *t, int i) { (void)t; (void)i; return NULL; }
int ll_topo_plan(const ll_topo *t, int local_rank, int local_size, const char *gpu_busid, ll_topo_binding *out) {
    (void)t; (void)local_rank; (void)local_size; (void)gpu_busid; (void)out;
    ll_set_error("topology: built without hwloc");
    return -1;
}
int ll_topo_print(const ll_topo *t, int ranks, FILE *f) {
    (void)t; (void)ranks; (void)f;
    ll_set_error("topology: built without hwloc");
    return -1;
}
int ll_topo_bind_self(int local_rank, int local_size, int device, ll_topo_binding *b) {
    (void)local_rank; (void)device;
    memset(b, 0, sizeof *b);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    b->cores = (int)LL_MAX(1, n / LL_MAX(1, local_size));
    snprintf(b->text, sizeof b->text, "not bound: built without hwloc; %d threads", b->cores);
    return b->cores;
}
#endif
