#include "report/provenance.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "backend/backend_info.h"
#include "core/ll_util.h"

#ifndef LL_GIT_COMMIT
#define LL_GIT_COMMIT "unknown"
#endif
#ifndef LL_BUILD_FLAGS
#define LL_BUILD_FLAGS "unknown"
#endif

const char *ll_build_commit(void) { return LL_GIT_COMMIT; }
const char *ll_build_flags(void) { return LL_BUILD_FLAGS; }

static void to_hex(const unsigned char *md, unsigned n, char *hex) {
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * n] = 0;
}

/* SHA-256 is libsodium's crypto_hash_sha256 (streaming: init, update,
 * final).  One crypto library for the whole program: the tokenizer's keyed
 * hash is libsodium's SipHash-2-4 (crypto_shorthash), which OpenSSL offers
 * only as an EVP_MAC context per call; libsodium has both, so OpenSSL
 * (libcrypto) is not linked.  The price: libsodium's SHA-256 is portable C
 * (no SHA-NI path), slower than OpenSSL's on large checkpoints, which the
 * hash cache (ll_sha256_file_cached) pays once per file. */
void ll_sha256_buf(const void *data, size_t n, char hex[65]) {
    unsigned char md[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(md, data, (unsigned long long)n);
    to_hex(md, crypto_hash_sha256_BYTES, hex);
}

int ll_sha256_file(const char *path, char hex[65]) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { ll_set_error("%s: cannot open (%s)", path, strerror(errno)); return -1; }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    const size_t cap = 1 << 20;
    unsigned char *buf = ll_xmalloc(cap);
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { ll_set_error("%s: read error (%s)", path, strerror(errno)); rc = -1; break; }
        if (r == 0) break;
        crypto_hash_sha256_update(&st, buf, (unsigned long long)r);
    }
    if (rc == 0) {
        unsigned char md[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_final(&st, md);
        to_hex(md, crypto_hash_sha256_BYTES, hex);
    }
    free(buf);
    close(fd);
    return rc;
}

const char *ll_hash_cache_path(void) {
    static char buf[PATH_MAX];
    const char *c = getenv("LAYERLAW_CACHE");
    if (c && *c) snprintf(buf, sizeof buf, "%s/sha256.tsv", c);
    else {
        const char *h = getenv("HOME");
        snprintf(buf, sizeof buf, "%s/.cache/layerlaw/sha256.tsv", h && *h ? h : "/tmp");
    }
    return buf;
}

/* The cache: one line per hashed file,
 *   "<hex>\t<dev>\t<inode>\t<size>\t<mtime ns>\t<ctime ns>\t<absolute path>\n"
 * A file's identity is all of (dev, inode, size, mtime, ctime): a file
 * rewritten with its size and mtime put back still has a new ctime (which no
 * user call can set), so it is hashed again.  Lines of another shape (older
 * versions, torn writes, junk) are ignored. */
typedef struct {
    long long dev, ino, size, mtime, ctime;
} file_id;

#define CACHE_MAX_BYTES (64LL << 20) /* read at most this much of the cache */

static void id_of(const struct stat *st, file_id *id) {
    id->dev = (long long)st->st_dev;
    id->ino = (long long)st->st_ino;
    id->size = (long long)st->st_size;
    id->mtime = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    id->ctime = (long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
}

/* The cache file opened without following a link and without blocking (a
 * FIFO or a link to /dev/zero must not hang or flood the run), and only if
 * it is a regular file.  -1 when not usable (never an error). */
static int cache_open(int flags) {
    int fd = open(ll_hash_cache_path(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); return -1; }
    return fd;
}

/* One line of the cache, checked field by field: 1 when it is well formed
 * and about `id` at `abs` (hex copied), else 0. */
static int cache_line_matches(char *line, const file_id *id, const char *abs, char hex[65]) {
    for (int i = 0; i < 64; i++)
        if (!((line[i] >= '0' && line[i] <= '9') || (line[i] >= 'a' && line[i] <= 'f'))) return 0;
    if (line[64] != '\t') return 0;
    const char *p = line + 65;
    long long v[5];
    for (int k = 0; k < 5; k++) {
        char *end;
        if (*p < '0' || *p > '9') return 0;
        errno = 0;
        v[k] = strtoll(p, &end, 10);
        if (errno || *end != '\t') return 0;
        p = end + 1;
    }
    if (*p != '/') return 0;
    if (v[0] != id->dev || v[1] != id->ino || v[2] != id->size || v[3] != id->mtime || v[4] != id->ctime || strcmp(p, abs))
        return 0;
    memcpy(hex, line, 64);
    hex[64] = 0;
    return 1;
}

static int cache_lookup(const char *abs, const file_id *id, char hex[65]) {
    int fd = cache_open(O_RDONLY);
    if (fd < 0) return 0;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            if ((long long)cap >= CACHE_MAX_BYTES) break;
            cap = cap ? 2 * cap : 1 << 16;
            buf = ll_xrealloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    int found = 0;
    for (size_t i = 0; i < n;) {
        char *nl = memchr(buf + i, '\n', n - i);
        if (!nl) break; /* a torn last line */
        *nl = 0;
        if (cache_line_matches(buf + i, id, abs, hex)) found = 1; /* last wins */
        i = (size_t)(nl - buf) + 1;
    }
    free(buf);
    return found;
}

static void cache_store(const char *abs, const file_id *id, const char *hex) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", ll_hash_cache_path());
    char *slash = strrchr(dir, '/');
    if (slash) { *slash = 0; if (ll_mkdirs(dir) != 0) return; }
    char line[PATH_MAX + 160];
    int n = snprintf(line, sizeof line, "%s\t%lld\t%lld\t%lld\t%lld\t%lld\t%s\n", hex, id->dev, id->ino, id->size,
                     id->mtime, id->ctime, abs);
    if (n <= 0 || n >= (int)sizeof line || strchr(abs, '\n')) return;
    int fd = cache_open(O_WRONLY | O_APPEND | O_CREAT);
    if (fd < 0) return; /* the cache is an optimisation: never an error */
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    close(fd);
}

int ll_sha256_file_cached(const char *path, char hex[65], int *from_cache) {
    if (from_cache) *from_cache = 0;
    struct stat st;
    char abs[PATH_MAX];
    if (stat(path, &st) != 0 || !realpath(path, abs)) { ll_set_error("%s: cannot stat (%s)", path, strerror(errno)); return -1; }
    file_id id;
    id_of(&st, &id);
    if (S_ISREG(st.st_mode) && cache_lookup(abs, &id, hex)) {
        if (from_cache) *from_cache = 1;
        return 0;
    }
    if (ll_sha256_file(path, hex) != 0) return -1;
    /* remembered only if the file did not change while it was read */
    struct stat st2;
    file_id id2;
    if (S_ISREG(st.st_mode) && stat(path, &st2) == 0 && (id_of(&st2, &id2), !memcmp(&id, &id2, sizeof id)))
        cache_store(abs, &id, hex);
    return 0;
}

/* LAYERLAW_HASH_MAX_BYTES: files larger than this are listed (size, mtime)
 * but not hashed (default: no limit; the cache makes a file's hash a
 * one-time cost). */
static int too_big(double bytes) {
    const char *e = getenv("LAYERLAW_HASH_MAX_BYTES");
    if (!e || !*e) return 0;
    char *end;
    double lim = strtod(e, &end);
    return *end == 0 && lim >= 0 && bytes > lim;
}

static void add_unhashed(cJSON *o, const char *path) {
    struct stat st;
    if (stat(path, &st) == 0) cJSON_AddNumberToObject(o, "mtime", (double)st.st_mtim.tv_sec);
    cJSON_AddNullToObject(o, "sha256");
    cJSON_AddStringToObject(o, "not_hashed", "larger than LAYERLAW_HASH_MAX_BYTES");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

cJSON *ll_hash_input(const char *path) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", path);
    struct stat st;
    if (stat(path, &st) != 0) {
        cJSON_AddStringToObject(o, "kind", "missing");
        return o;
    }
    char hex[65];
    if (S_ISREG(st.st_mode)) {
        cJSON_AddStringToObject(o, "kind", "file");
        cJSON_AddNumberToObject(o, "bytes", (double)st.st_size);
        if (too_big((double)st.st_size)) add_unhashed(o, path);
        else if (ll_sha256_file_cached(path, hex, NULL) == 0) cJSON_AddStringToObject(o, "sha256", hex);
        else cJSON_AddStringToObject(o, "error", ll_last_error());
        return o;
    }
    if (!S_ISDIR(st.st_mode)) {
        cJSON_AddStringToObject(o, "kind", "other");
        return o;
    }
    cJSON_AddStringToObject(o, "kind", "dir");
    DIR *d = opendir(path);
    if (!d) { cJSON_AddStringToObject(o, "error", strerror(errno)); return o; }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[PATH_MAX];
        struct stat fs;
        if (stat(ll_path_join(p, sizeof p, path, de->d_name), &fs) != 0 || !S_ISREG(fs.st_mode)) continue;
        if (n == cap) { cap = cap ? 2 * cap : 16; names = ll_xrealloc(names, cap * sizeof *names); }
        names[n++] = ll_xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    cJSON *files = cJSON_CreateArray();
    size_t lcap = 256, llen = 0;
    char *listing = ll_xmalloc(lcap);
    listing[0] = 0;
    double total = 0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        char p[PATH_MAX];
        struct stat fs;
        memset(&fs, 0, sizeof fs);
        ll_path_join(p, sizeof p, path, names[i]);
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", names[i]);
        if (stat(p, &fs) == 0) { cJSON_AddNumberToObject(f, "bytes", (double)fs.st_size); total += (double)fs.st_size; }
        if (too_big((double)fs.st_size)) {
            ok = 0; /* no folder digest without every file's hash */
            add_unhashed(f, p);
        } else if (ll_sha256_file_cached(p, hex, NULL) == 0) {
            cJSON_AddStringToObject(f, "sha256", hex);
            size_t need = llen + strlen(names[i]) + 70;
            if (need > lcap) { while (need > lcap) lcap *= 2; listing = ll_xrealloc(listing, lcap); }
            llen += (size_t)sprintf(listing + llen, "%s  %s\n", hex, names[i]);
        } else {
            ok = 0;
            cJSON_AddStringToObject(f, "error", ll_last_error());
        }
        cJSON_AddItemToArray(files, f);
        free(names[i]);
    }
    free(names);
    cJSON_AddNumberToObject(o, "bytes", total);
    if (ok) {
        ll_sha256_buf(listing, llen, hex);
        cJSON_AddStringToObject(o, "sha256", hex);
    }
    free(listing);
    cJSON_AddItemToObject(o, "files", files);
    return o;
}

static void cpu_model(char *buf, size_t cap) {
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t') c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, cap, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

cJSON *ll_provenance(int argc, char **argv, const char *const *inputs, int n_inputs) {
    cJSON *p = cJSON_CreateObject();
    char buf[512];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(p, "utc", buf);
    cJSON_AddStringToObject(p, "layerlaw_version", LL_VERSION);
    cJSON_AddStringToObject(p, "git_commit", ll_build_commit());
    cJSON_AddStringToObject(p, "build_flags", ll_build_flags());
    cJSON_AddBoolToObject(p, "cuda_compiled", ll_cuda_compiled());
    cJSON *av = cJSON_AddArrayToObject(p, "argv");
    for (int i = 0; i < argc && argv; i++) cJSON_AddItemToArray(av, cJSON_CreateString(argv[i]));
    if (gethostname(buf, sizeof buf) != 0) snprintf(buf, sizeof buf, "unknown");
    buf[sizeof buf - 1] = 0;
    cJSON_AddStringToObject(p, "host", buf);
    cJSON *cpu = cJSON_AddObjectToObject(p, "cpu");
    cpu_model(buf, sizeof buf);
    cJSON_AddStringToObject(cpu, "model", buf);
    cJSON_AddNumberToObject(cpu, "threads", (double)sysconf(_SC_NPROCESSORS_ONLN));
    char why[256];
    ll_gpu_info gi;
    if (ll_gpu_info_get(0, &gi, why, sizeof why) == 0) {
        cJSON *g = cJSON_AddObjectToObject(p, "gpu");
        cJSON_AddStringToObject(g, "name", gi.name);
        snprintf(buf, sizeof buf, "sm_%d%d", gi.sm_major, gi.sm_minor);
        cJSON_AddStringToObject(g, "arch", buf);
        cJSON_AddNumberToObject(g, "memory_gib", gi.mem_gib);
        cJSON_AddNumberToObject(g, "devices", gi.n_devices);
        snprintf(buf, sizeof buf, "%d.%d", gi.driver_version / 1000, (gi.driver_version % 1000) / 10);
        cJSON_AddStringToObject(g, "driver_cuda_version", buf);
        snprintf(buf, sizeof buf, "%d.%d", gi.runtime_version / 1000, (gi.runtime_version % 1000) / 10);
        cJSON_AddStringToObject(g, "runtime_cuda_version", buf);
        /* the kernel module's version line ("NVRM version: ... 570.86.15 ...") */
        FILE *nv = fopen("/proc/driver/nvidia/version", "r");
        if (nv && fgets(buf, sizeof buf, nv)) {
            buf[strcspn(buf, "\n")] = 0;
            cJSON_AddStringToObject(g, "nvidia_driver", buf);
        }
        if (nv) fclose(nv);
    } else {
        cJSON_AddNullToObject(p, "gpu");
    }
    cJSON *in = cJSON_AddArrayToObject(p, "inputs");
    double t0 = ll_now();
    for (int i = 0; i < n_inputs; i++)
        if (inputs && inputs[i]) cJSON_AddItemToArray(in, ll_hash_input(inputs[i]));
    cJSON_AddNumberToObject(p, "hash_s", ll_now() - t0);
    return p;
}
