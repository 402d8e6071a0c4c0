/* Models by name: hub ids, huggingface_hub's cache, downloads with libcurl.
 * See hub.h and docs/hub.md. */
#include "hub/hub.h"
#include <cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/ll_util.h"
#include "report/provenance.h"
#include "io/safetensors.h"

#define DEFAULT_ENDPOINT "https://huggingface.co"

static int g_offline;
void ll_hub_set_offline(int on) { g_offline = on; }

static int env_true(const char *n) {
    const char *v = getenv(n);
    return v && (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"));
}
int ll_hub_offline(void) { return g_offline || env_true("HF_HUB_OFFLINE"); }

static double env_num(const char *n, double def) {
    const char *v = getenv(n);
    if (!v || !*v) return def;
    char *e;
    double x = strtod(v, &e);
    return *e || !(x >= 0) ? def : x;
}

/* ---- names ------------------------------------------------------------------ */

static int name_ok(const char *s, size_t n) {
    if (n == 0 || n > 96) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return 0;
    if (s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.') return 0;
    for (size_t i = 0; i + 1 < n; i++)
        if ((s[i] == '-' && s[i + 1] == '-') || (s[i] == '.' && s[i + 1] == '.')) return 0;
    return 1;
}

/* a path inside a repository: no absolute path, no "..", no empty part */
static int repo_path_ok(const char *p) {
    if (!*p || *p == '/' || strlen(p) > 500) return 0;
    const char *s = p;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return 0;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == '\\') return 0;
        s += n;
        if (*s == '/') s++;
    }
    return p[strlen(p) - 1] != '/';
}

static int is_commit(const char *r) {
    if (strlen(r) != 40) return 0;
    for (int i = 0; i < 40; i++)
        if (!isxdigit((unsigned char)r[i]) || isupper((unsigned char)r[i])) return 0;
    return 1;
}

int ll_hub_spec_parse(const char *spec, ll_hub_spec *o) {
    memset(o, 0, sizeof *o);
    if (!spec || !*spec || spec[0] == '/' || spec[0] == '.' || spec[0] == '~') return 0;
    struct stat st;
    if (stat(spec, &st) == 0) return 0; /* a local path that exists always wins */
    const char *at = strchr(spec, '@');
    size_t plen = at ? (size_t)(at - spec) : strlen(spec);
    char p[800];
    if (plen >= sizeof p) return 0;
    memcpy(p, spec, plen);
    p[plen] = 0;
    char *s1 = strchr(p, '/');
    if (!s1) return 0;
    *s1 = 0;
    char *nm = s1 + 1, *s2 = strchr(nm, '/');
    if (s2) *s2 = 0;
    if (!name_ok(p, strlen(p)) || !name_ok(nm, strlen(nm))) return 0;
    if (s2) {
        const char *f = s2 + 1;
        size_t fl = strlen(f);
        if (fl < 6 || strcmp(f + fl - 5, ".gguf") || !repo_path_ok(f)) return 0;
        snprintf(o->file, sizeof o->file, "%s", f);
    }
    snprintf(o->org, sizeof o->org, "%s", p);
    snprintf(o->name, sizeof o->name, "%s", nm);
    snprintf(o->repo, sizeof o->repo, "%s/%s", p, nm);
    if (at) {
        const char *r = at + 1;
        size_t n = strlen(r);
        int ok = n > 0 && n < sizeof o->revision && r[0] != '/' && r[n - 1] != '/' && !strstr(r, "..") && !strstr(r, "//");
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)r[i]) || strchr("._-/+", r[i]);
        if (!ok) {
            ll_set_error("%s: '%s' is not a revision (a branch, tag or commit: letters, digits, . _ - / +)", spec, r);
            return -1;
        }
        snprintf(o->revision, sizeof o->revision, "%s", r);
    } else {
        snprintf(o->revision, sizeof o->revision, "main");
    }
    return 1;
}

const char *ll_hub_cache_dir(char *buf, size_t cap) {
    const char *v;
    if ((v = getenv("HF_HUB_CACHE")) && *v) snprintf(buf, cap, "%s", v);
    else if ((v = getenv("HUGGINGFACE_HUB_CACHE")) && *v) snprintf(buf, cap, "%s", v);
    else if ((v = getenv("HF_HOME")) && *v) snprintf(buf, cap, "%s/hub", v);
    else if ((v = getenv("XDG_CACHE_HOME")) && *v) snprintf(buf, cap, "%s/huggingface/hub", v);
    else snprintf(buf, cap, "%s/.cache/huggingface/hub", getenv("HOME") ? getenv("HOME") : ".");
    if (buf[0] == '~' && buf[1] == '/' && getenv("HOME")) { /* as os.path.expanduser */
        char t[4096];
        snprintf(t, sizeof t, "%s%s", getenv("HOME"), buf + 1);
        snprintf(buf, cap, "%s", t);
    }
    return buf;
}

void ll_hub_repo_folder(const char *repo, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "models--");
    for (const char *c = repo; *c && k + 3 < cap; c++) {
        if (*c == '/') { buf[k++] = '-'; buf[k++] = '-'; }
        else buf[k++] = *c;
    }
    buf[k < cap ? k : cap - 1] = 0;
}

void ll_hub_blob_link(const char *file, const char *etag, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    int ups = 2;
    for (const char *c = file; *c; c++) ups += *c == '/';
    for (int i = 0; i < ups && k + 4 < cap; i++) k += (size_t)snprintf(buf + k, cap - k, "../");
    snprintf(buf + k, cap - k, "blobs/%s", etag);
}

/* ---- the state of one resolution ------------------------------------------- */

typedef struct {
    const char *spec;    /* as the user wrote it (messages) */
    ll_hub_spec s;
    char endpoint[1024], host[512];
    char auth[2200];     /* "Authorization: Bearer ..." or "" (never printed) */
    char cache[3800], repo_dir[4200], locks_dir[4200];
    char commit[48];
    int progress;
    double retry_s, stall_s;
} hub_ctx;

static void read_token(hub_ctx *h) {
    h->auth[0] = 0;
    const char *t = getenv("HF_TOKEN");
    char buf[2048] = "";
    if (!t || !*t) t = getenv("HUGGING_FACE_HUB_TOKEN");
    if (t && *t) snprintf(buf, sizeof buf, "%s", t);
    else {
        char path[4096];
        const char *p = getenv("HF_TOKEN_PATH");
        if (p && *p) snprintf(path, sizeof path, "%s", p);
        else if (getenv("HF_HOME") && *getenv("HF_HOME")) snprintf(path, sizeof path, "%s/token", getenv("HF_HOME"));
        else if (getenv("XDG_CACHE_HOME") && *getenv("XDG_CACHE_HOME"))
            snprintf(path, sizeof path, "%s/huggingface/token", getenv("XDG_CACHE_HOME"));
        else snprintf(path, sizeof path, "%s/.cache/huggingface/token", getenv("HOME") ? getenv("HOME") : ".");
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
            fclose(f);
        }
    }
    size_t n = strlen(buf);
    while (n && isspace((unsigned char)buf[n - 1])) buf[--n] = 0;
    char *b = buf;
    while (isspace((unsigned char)*b)) b++;
    for (char *c = b; *c; c++)
        if ((unsigned char)*c < 0x20) return; /* a token with a control character is not sent */
    if (*b) snprintf(h->auth, sizeof h->auth, "Authorization: Bearer %s", b);
}

static void ctx_init(hub_ctx *h, const char *spec, const ll_hub_spec *s) {
    memset(h, 0, sizeof *h);
    h->spec = spec;
    h->s = *s;
    const char *ep = getenv("HF_ENDPOINT");
    snprintf(h->endpoint, sizeof h->endpoint, "%s", ep && *ep ? ep : DEFAULT_ENDPOINT);
    size_t n = strlen(h->endpoint);
    while (n > 0 && h->endpoint[n - 1] == '/') h->endpoint[--n] = 0;
    /* the endpoint as printed and recorded: no user:password@ */
    const char *hs = strstr(h->endpoint, "://");
    hs = hs ? hs + 3 : h->endpoint;
    const char *atp = strchr(hs, '@'), *sl = strchr(hs, '/');
    if (atp && (!sl || atp < sl)) snprintf(h->host, sizeof h->host, "%.*s%s", (int)(hs - h->endpoint), h->endpoint, atp + 1);
    else snprintf(h->host, sizeof h->host, "%s", h->endpoint);
    read_token(h);
    ll_hub_cache_dir(h->cache, sizeof h->cache);
    char folder[300];
    ll_hub_repo_folder(s->repo, folder, sizeof folder);
    snprintf(h->repo_dir, sizeof h->repo_dir, "%s/%s", h->cache, folder);
    snprintf(h->locks_dir, sizeof h->locks_dir, "%s/.locks/%s", h->cache, folder);
    h->progress = !env_true("HF_HUB_DISABLE_PROGRESS_BARS"); /* and a terminal, not LAYERLAW_QUIET: ll_progress */
    h->retry_s = env_num("LAYERLAW_HUB_RETRY_S", 120);
    h->stall_s = env_num("LAYERLAW_HUB_STALL_S", 30);
    if (h->stall_s < 1) h->stall_s = 1;
}

/* ---- HTTP -------------------------------------------------------------------- */

typedef struct {
    long status;
    char commit[64], etag[160], linked_etag[160], location[2048], err_code[64], retry_after[64];
    long long linked_size, content_length;
} hresp;

typedef struct {
    hresp *r;
    ll_sbuf *mem;          /* body into memory (API calls), or */
    int fd;                /* body into a file from offset *have */
    long long *have, range_from;
    crypto_hash_sha256_state *sha256;
    atomic_llong *counter; /* bytes for the progress line */
    int werr;              /* errno of a failed write */
    long code;
    CURL *c;
} hsink;

static void trim_quotes(char *v) {
    char *s = v;
    if (!strncmp(s, "W/", 2)) s += 2;
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') { s[n - 1] = 0; s++; }
    memmove(v, s, strlen(s) + 1);
}

static size_t on_header(char *buf, size_t sz, size_t nit, void *ud) {
    hsink *k = ud;
    size_t n = sz * nit;
    char line[2400];
    size_t m = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, buf, m);
    line[m] = 0;
    while (m && (line[m - 1] == '\r' || line[m - 1] == '\n')) line[--m] = 0;
    if (!strncmp(line, "HTTP/", 5)) { /* a new response (redirects): start over */
        memset(k->r, 0, sizeof *k->r);
        k->r->linked_size = k->r->content_length = -1;
        return n;
    }
    char *colon = strchr(line, ':');
    if (!colon) return n;
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
#define H(name, field)                                                     \
    if (!strcasecmp(line, name)) { snprintf(k->r->field, sizeof k->r->field, "%s", v); }
    H("X-Repo-Commit", commit)
    H("ETag", etag)
    H("X-Linked-Etag", linked_etag)
    H("Location", location)
    H("X-Error-Code", err_code)
    H("Retry-After", retry_after)
#undef H
    if (!strcasecmp(line, "X-Linked-Size")) k->r->linked_size = atoll(v);
    if (!strcasecmp(line, "Content-Length")) k->r->content_length = atoll(v);
    return n;
}

static size_t on_body(char *buf, size_t sz, size_t nit, void *ud) {
    hsink *k = ud;
    size_t n = sz * nit;
    long code = 0;
    curl_easy_getinfo(k->c, CURLINFO_RESPONSE_CODE, &code);
    if (k->mem) {
        if (k->mem->n + n > (64u << 20)) return 0; /* an API answer is never this big */
        ll_sb_add(k->mem, buf, n);
        return n;
    }
    if (code != 200 && code != 206) return n; /* an error page: not the file */
    if (code == 200 && k->range_from > 0 && *k->have == k->range_from) {
        /* the server ignored the Range: start the file over */
        if (ftruncate(k->fd, 0) != 0 || lseek(k->fd, 0, SEEK_SET) != 0) { k->werr = errno; return 0; }
        crypto_hash_sha256_init(k->sha256);
        if (k->counter) atomic_fetch_sub(k->counter, *k->have);
        *k->have = 0;
        k->range_from = 0;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(k->fd, buf + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            k->werr = errno;
            return 0;
        }
        off += (size_t)w;
    }
    crypto_hash_sha256_update(k->sha256, (const unsigned char *)buf, n);
    *k->have += (long long)n;
    if (k->counter) atomic_fetch_add(k->counter, (long long)n);
    return n;
}

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* One request.  Returns the CURLcode; *r has the status and headers. */
static CURLcode http_do(hub_ctx *h, const char *url, int head, int follow, hsink *k, char *cerr) {
    pthread_once(&g_curl_once, curl_init_once);
    CURL *c = curl_easy_init();
    if (!c) return CURLE_FAILED_INIT;
    k->c = c;
    memset(k->r, 0, sizeof *k->r);
    k->r->linked_size = k->r->content_length = -1;
    struct curl_slist *hd = NULL;
    /* the token goes to the endpoint only: never to a CDN a redirect named */
    size_t el = strlen(h->endpoint);
    if (h->auth[0] && !strncmp(url, h->endpoint, el) && (url[el] == '/' || !url[el])) hd = curl_slist_append(hd, h->auth);
    hd = curl_slist_append(hd, "Accept-Encoding: identity");
    hd = curl_slist_append(hd, "User-Agent: layerlaw; huggingface_hub-compatible");
    char range[64];
    if (k->fd >= 0 && k->range_from > 0) {
        snprintf(range, sizeof range, "Range: bytes=%lld-", k->range_from);
        hd = curl_slist_append(hd, range);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(c, CURLOPT_NOBODY, head ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    /* the token goes to the endpoint only, never to the host a redirect names */
    curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, k);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)h->stall_s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    cerr[0] = 0;
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &k->r->status);
    if (!cerr[0] && rc) snprintf(cerr, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
    curl_slist_free_all(hd);
    curl_easy_cleanup(c);
    return rc;
}

static int transient_curl(CURLcode rc) {
    return rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_PARTIAL_FILE || rc == CURLE_GOT_NOTHING ||
           rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM ||
           rc == CURLE_SSL_CONNECT_ERROR;
}
static int no_network(CURLcode rc) {
    return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_COULDNT_CONNECT;
}
static int transient_status(long s) { return s == 429 || s == 500 || s == 502 || s == 503 || s == 504; }

/* Seconds to wait before the next try: Retry-After when given, else 1, 2, 4 … 16. */
static double backoff(const hresp *r, int attempt) {
    if (r->status == 429 || r->status == 503) {
        double ra = atof(r->retry_after);
        if (r->retry_after[0] && ra >= 0) return ra;
    }
    double b = 1.0;
    for (int i = 0; i < attempt && b < 16; i++) b *= 2;
    return b;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* The one-line error of a failed answer.  Returns the exit status (1/2). */
static int http_error(hub_ctx *h, const hresp *r, const char *file) {
    const char *sp = h->spec;
    if (r->status == 401 || r->status == 403 || !strcmp(r->err_code, "GatedRepo")) {
        if (!strcmp(r->err_code, "RepoNotFound")) goto repo;
        ll_set_error("%s: %s is gated or private: accept its licence on the hub and set HF_TOKEN (HTTP %ld from %s)", sp,
                     h->s.repo, r->status, h->host);
        return 2;
    }
    if (r->status == 404) {
        if (!strcmp(r->err_code, "RevisionNotFound")) {
            ll_set_error("%s: %s has no revision '%s' on %s", sp, h->s.repo, h->s.revision, h->host);
            return 2;
        }
        if (file && strcmp(r->err_code, "RepoNotFound")) {
            ll_set_error("%s: %s@%s has no file '%s'", sp, h->s.repo, h->s.revision, file);
            return 2;
        }
    repo:
        ll_set_error("%s: no local file or folder of that name, and no model repository %s on %s%s", sp, h->s.repo, h->host,
                     h->auth[0] ? "" : " (if it is private or gated: set HF_TOKEN)");
        return 2;
    }
    ll_set_error("%s: %s answered HTTP %ld%s%s", sp, h->host, r->status, file ? " for " : "", file ? file : "");
    return 1;
}

/* GET/HEAD with retries on 429/5xx/resets, bounded by h->retry_s.
 * Returns 0 (a 2xx/3xx answer), or 1/2 with the error set; *net_down = 1
 * when the host could not be reached at all. */
static int http_retry(hub_ctx *h, const char *url, int head, int follow, hsink *k, const char *file, int *net_down) {
    char cerr[CURL_ERROR_SIZE];
    double t0 = ll_now();
    int tries = 0;
    if (net_down) *net_down = 0;
    for (;;) {
        if (k->mem) k->mem->n = 0;
        if (k->fd >= 0) k->range_from = *k->have;
        CURLcode rc = http_do(h, url, head, follow, k, cerr);
        tries++;
        if (k->werr) {
            ll_set_error("%s: cannot write %s into the hub cache %s: %s", h->spec, file ? file : "a file", h->cache,
                         strerror(k->werr));
            return 1;
        }
        if (rc == CURLE_OK && !transient_status(k->r->status)) {
            if (k->r->status >= 200 && k->r->status < 400) return 0;
            if (k->fd >= 0 && k->r->status == 416) return 0; /* the partial file is already whole */
            return http_error(h, k->r, file);
        }
        if (rc != CURLE_OK && no_network(rc)) {
            if (net_down) *net_down = 1;
            ll_set_error("%s: cannot reach %s (%s)", h->spec, h->host, cerr);
            return 1;
        }
        if (rc != CURLE_OK && !transient_curl(rc)) {
            ll_set_error("%s: %s: %s", h->spec, h->host, cerr);
            return 1;
        }
        double wait = backoff(k->r, tries - 1), spent = ll_now() - t0;
        if (spent + wait > h->retry_s) {
            if (rc == CURLE_OK)
                ll_set_error("%s: %s keeps failing (HTTP %ld%s%s, %d tries over %.0f s)", h->spec, h->host,
                             k->r->status, file ? " for " : "", file ? file : "", tries, spent);
            else
                ll_set_error("%s: %s keeps failing (%s%s%s, %d tries over %.0f s)", h->spec, h->host, cerr,
                             file ? " for " : "", file ? file : "", tries, spent);
            return 1;
        }
        sleep_s(wait);
    }
}

/* percent-encode s (keeping '/' when keep_slash) */
static void url_quote(const char *s, int keep_slash, char *out, size_t cap) {
    size_t k = 0;
    for (; *s && k + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) out[k++] = (char)c;
        else k += (size_t)snprintf(out + k, cap - k, "%%%02X", c);
    }
    out[k] = 0;
}

/* ---- cache ------------------------------------------------------------------- */

static void snap_path(const hub_ctx *h, const char *file, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/snapshots/%s/%s", h->repo_dir, h->commit, file);
}

static int write_small_atomic(const char *path, const char *text) {
    char dir[6144];
    snprintf(dir, sizeof dir, "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl) { *sl = 0; if (ll_mkdirs(dir) != 0) return -1; }
    return ll_write_file_atomic(path, text, strlen(text));
}

static int read_ref(const hub_ctx *h, const char *rev, char *commit) {
    char p[6144];
    snprintf(p, sizeof p, "%s/refs/%s", h->repo_dir, rev);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    char b[128] = "";
    int ok = fgets(b, sizeof b, f) != NULL;
    fclose(f);
    size_t n = strlen(b);
    while (n && isspace((unsigned char)b[n - 1])) b[--n] = 0;
    if (!ok || !is_commit(b)) return -1;
    snprintf(commit, 48, "%s", b);
    return 0;
}

static int lock_take(const hub_ctx *h, const char *name) {
    if (ll_mkdirs(h->locks_dir) != 0) return -1;
    char p[6144];
    snprintf(p, sizeof p, "%s/%s", h->locks_dir, name);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) { ll_set_error("%s: cannot create the lock %s: %s", h->spec, p, strerror(errno)); return -1; }
    while (flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) { close(fd); ll_set_error("%s: cannot lock %s: %s", h->spec, p, strerror(errno)); return -1; }
    return fd;
}
static void lock_drop(int fd) {
    if (fd >= 0) { flock(fd, LOCK_UN); close(fd); }
}

/* snapshots/COMMIT/FILE → ../../blobs/ETAG, atomically */
static int link_snapshot(const hub_ctx *h, const char *file, const char *etag) {
    char sp[6144], dir[6144], target[1200], tmp[6400];
    snap_path(h, file, sp, sizeof sp);
    snprintf(dir, sizeof dir, "%s", sp);
    *strrchr(dir, '/') = 0;
    if (ll_mkdirs(dir) != 0) return -1;
    ll_hub_blob_link(file, etag, target, sizeof target);
    snprintf(tmp, sizeof tmp, "%s.layerlaw-%ld.tmp", sp, (long)getpid());
    unlink(tmp);
    if (symlink(target, tmp) != 0 || rename(tmp, sp) != 0) {
        ll_set_error("%s: cannot link %s in the hub cache: %s", h->spec, sp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void hex_of(const unsigned char *d, unsigned n, char *out) {
    for (unsigned i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", d[i]);
    out[2 * n] = 0;
}

/* ---- one file ---------------------------------------------------------------- */

typedef struct {
    char name[520];
    char url[4200];          /* where its bytes are (a redirect's Location for LFS files) */
    char etag[160];
    long long size;          /* -1 unknown */
    int lfs;
    /* results */
    char sha256[65];
    const char *verified;    /* "download" | "cache" */
    int rc;
    char err[1024];
} hfile;

/* HEAD resolve/COMMIT/FILE: etag, size, where the bytes are.  0, 1, 2. */
static int file_meta(hub_ctx *h, hfile *f) {
    char rq[800], fq[1600];
    url_quote(h->commit, 0, rq, sizeof rq);
    url_quote(f->name, 1, fq, sizeof fq);
    char url[4096];
    snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", h->endpoint, h->s.repo, rq, fq);
    hresp r;
    hsink k = {.r = &r, .fd = -1};
    for (int hop = 0;; hop++) {
        int rc = http_retry(h, url, 1, 0, &k, f->name, NULL);
        if (rc) return rc;
        if (r.status >= 300 && r.status < 400 && r.location[0] == '/' && hop < 5 && !r.linked_etag[0]) {
            /* a renamed repository: the endpoint's own relative redirect */
            char nu[4096];
            snprintf(nu, sizeof nu, "%s%s", h->endpoint, r.location);
            snprintf(url, sizeof url, "%s", nu);
            continue;
        }
        break;
    }
    const char *et = r.linked_etag[0] ? r.linked_etag : r.etag;
    snprintf(f->etag, sizeof f->etag, "%s", et);
    trim_quotes(f->etag);
    f->lfs = r.linked_etag[0] != 0;
    f->size = r.linked_size >= 0 ? r.linked_size : r.content_length;
    if (!f->etag[0] || strchr(f->etag, '/') || !strcmp(f->etag, ".") || !strcmp(f->etag, "..")) {
        ll_set_error("%s: %s gave no usable ETag for %s: not a hub server?", h->spec, h->host, f->name);
        return 1;
    }
    if (r.status >= 300 && r.status < 400 && r.location[0]) {
        if (r.location[0] == '/') snprintf(f->url, sizeof f->url, "%s%s", h->endpoint, r.location);
        else snprintf(f->url, sizeof f->url, "%s", r.location);
    } else {
        snprintf(f->url, sizeof f->url, "%s", url);
    }
    return 0;
}

static int is_hex(const char *s, size_t n) {
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}

/* blobs/ETAG from f->url, under the blob's lock; then the snapshot link. */
static int file_fetch(hub_ctx *h, hfile *f, atomic_llong *counter) {
    char blobs[4400], blob[4800], part[4900];
    snprintf(blobs, sizeof blobs, "%s/blobs", h->repo_dir);
    snprintf(blob, sizeof blob, "%s/%s", blobs, f->etag);
    snprintf(part, sizeof part, "%s.incomplete", blob);
    if (ll_mkdirs(blobs) != 0) return 1;
    char lname[200];
    snprintf(lname, sizeof lname, "%s.lock", f->etag);
    int lk = lock_take(h, lname);
    if (lk < 0) return 1;
    int rc = 0;
    struct stat st;
    if (stat(blob, &st) == 0) { /* another process fetched it while we waited */
        if (counter) atomic_fetch_add(counter, f->size > 0 ? f->size : 0);
        f->verified = "cache";
        goto link;
    }
    int fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) { ll_set_error("%s: cannot create %s: %s", h->spec, part, strerror(errno)); rc = 1; goto out; }
    long long have = 0;
    fstat(fd, &st);
    have = st.st_size;
    if (f->size >= 0 && have > f->size) { if (ftruncate(fd, 0) != 0) {} have = 0; }
    lseek(fd, have, SEEK_SET);
    crypto_hash_sha256_state shs, *sha = &shs;
    crypto_hash_sha256_init(sha);
    if (have > 0) { /* resume: the kept prefix enters the hash */
        char *buf = ll_xmalloc(1 << 20);
        long long left = have;
        off_t off = 0;
        while (left > 0) {
            ssize_t n = pread(fd, buf, left < (1 << 20) ? (size_t)left : (1 << 20), off);
            if (n <= 0) { if (n < 0 && errno == EINTR) continue; break; }
            crypto_hash_sha256_update(sha, (const unsigned char *)buf, (size_t)n);
            off += n;
            left -= n;
        }
        free(buf);
        if (counter) atomic_fetch_add(counter, have);
    }
    hresp r;
    hsink k = {.r = &r, .fd = fd, .have = &have, .sha256 = sha, .counter = counter};
    if (!(f->size >= 0 && have == f->size)) rc = http_retry(h, f->url, 0, 1, &k, f->name, NULL);
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(sha, d);
    if (rc == 0 && f->size >= 0 && have != f->size) {
        ll_set_error("%s: %s: got %lld bytes, the hub says %lld; nothing kept", h->spec, f->name, have, f->size);
        ftruncate(fd, 0);
        rc = 1;
    }
    if (rc == 0) {
        hex_of(d, sizeof d, f->sha256);
        /* an LFS file's etag is its SHA-256; a small file's (a git blob id) is checked by its size */
        if (is_hex(f->etag, 64) && strcasecmp(f->sha256, f->etag) != 0) {
            ll_set_error("%s: %s: the downloaded bytes do not match the hub's checksum (%s, got SHA-256 %s); nothing kept",
                         h->spec, f->name, f->etag, f->sha256);
            if (ftruncate(fd, 0) != 0) {}
            rc = 1;
        }
    }
    if (rc == 0 && fsync(fd) != 0) { ll_set_error("%s: cannot write %s: %s", h->spec, part, strerror(errno)); rc = 1; }
    close(fd);
    if (rc != 0) {
        /* keep a partial file to resume from, never bytes known to be wrong */
        if (stat(part, &st) == 0 && st.st_size == 0) unlink(part);
        goto out;
    }
    if (rename(part, blob) != 0) { ll_set_error("%s: cannot publish %s: %s", h->spec, blob, strerror(errno)); rc = 1; goto out; }
    f->verified = "download";
link:
    if (link_snapshot(h, f->name, f->etag) != 0) rc = 1;
out:
    lock_drop(lk);
    return rc;
}

/* ---- many files -------------------------------------------------------------- */

typedef struct {
    hub_ctx *h;
    hfile *files;
    int n;
    atomic_int next, done;
    atomic_llong bytes;
} pool;

static void *worker(void *arg) {
    pool *p = arg;
    for (;;) {
        int i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n) break;
        hfile *f = &p->files[i];
        f->rc = file_fetch(p->h, f, &p->bytes);
        if (f->rc) snprintf(f->err, sizeof f->err, "%s", ll_last_error());
        atomic_fetch_add(&p->done, 1);
    }
    return NULL;
}

/* Fetches the files not in the snapshot: HEAD each (sizes, 404s early), then
 * the bytes, several at once, with a progress line on a terminal. */
static int fetch_all(hub_ctx *h, hfile *fs, int n) {
    long long total = 0;
    for (int i = 0; i < n; i++) {
        int rc = file_meta(h, &fs[i]);
        if (rc) return rc;
        total += fs[i].size > 0 ? fs[i].size : 0;
    }
    pool p = {.h = h, .files = fs, .n = n};
    int nt = (int)env_num("LAYERLAW_HUB_JOBS", 4);
    if (nt < 1) nt = 1;
    if (nt > n) nt = n;
    pthread_t th[16];
    if (nt > 16) nt = 16;
    int started = 0;
    for (int i = 0; i < nt; i++)
        if (pthread_create(&th[started], NULL, worker, &p) == 0) started++;
    if (!started) worker(&p);
    /* the progress line (core's: a terminal only): MB done of the total, kB/s, ETA */
    ll_progress pg;
    char label[480];
    snprintf(label, sizeof label, "%s@%s", h->s.repo, h->s.revision);
    ll_progress_init(&pg, "MB", (total + 999999) / 1000000);
    pg.label = label;
    pg.rate_what = "kB";
    pg.enabled = pg.enabled && h->progress;
    while (started && atomic_load(&p.done) < n) {
        sleep_s(0.2);
        long long b = atomic_load(&p.bytes);
        ll_progress_update(&pg, b / 1000000, b / 1000);
    }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    long long b = atomic_load(&p.bytes);
    ll_progress_end(&pg, b / 1000000, b / 1000);
    for (int i = 0; i < n; i++)
        if (fs[i].rc) {
            ll_set_error("%s", fs[i].err);
            return fs[i].rc;
        }
    return 0;
}

/* ---- the plan: which files a run needs --------------------------------------- */

typedef struct {
    char **names;
    int n, cap;
} strlist;
static void sl_add(strlist *l, const char *s) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->names[i], s)) return;
    if (l->n == l->cap) { l->cap = l->cap ? 2 * l->cap : 16; l->names = ll_xrealloc(l->names, sizeof *l->names * (size_t)l->cap); }
    l->names[l->n++] = ll_xstrdup(s);
}
static int sl_has(const strlist *l, const char *s) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->names[i], s)) return 1;
    return 0;
}
static void sl_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

typedef struct {
    hub_ctx *h;
    int online;
    strlist siblings;   /* online: the repository's files at the commit */
    strlist got;        /* files in hand (provenance order) */
    hfile *meta;        /* what was downloaded now: name → sha256 (provenance) */
    int n_meta;
} plan;

static int present(plan *p, const char *name) {
    if (p->online) return sl_has(&p->siblings, name);
    char sp[6144];
    snap_path(p->h, name, sp, sizeof sp);
    return ll_path_exists(sp);
}

/* Makes the files present in the snapshot.  0, 1, 2. */
static int ensure(plan *p, const char *const *names, int n) {
    hub_ctx *h = p->h;
    hfile *need = ll_xcalloc((size_t)(n > 0 ? n : 1), sizeof *need);
    int k = 0;
    for (int i = 0; i < n; i++) {
        char sp[6144];
        snap_path(h, names[i], sp, sizeof sp);
        sl_add(&p->got, names[i]);
        if (ll_path_exists(sp)) continue;
        if (!p->online) {
            ll_set_error("%s: %s is not in the hub cache (%s) and the hub is offline (HF_HUB_OFFLINE / --offline)",
                         h->spec, sp, h->cache);
            free(need);
            return 1;
        }
        snprintf(need[k++].name, sizeof need[0].name, "%s", names[i]);
    }
    int rc = k ? fetch_all(h, need, k) : 0;
    if (rc == 0 && k) {
        p->meta = ll_xrealloc(p->meta, sizeof *p->meta * (size_t)(p->n_meta + k));
        memcpy(p->meta + p->n_meta, need, sizeof *need * (size_t)k);
        p->n_meta += k;
    }
    free(need);
    return rc;
}

/* The shards an index file names (safetensors or PyTorch: weight_map). */
static int index_shards(plan *p, const char *index, strlist *out) {
    char ip[6144];
    snap_path(p->h, index, ip, sizeof ip);
    cJSON *root;
    const cJSON *wm;
    const char **files;
    int nf;
    if (ll_st_read_index(ip, &root, &wm, &files, &nf) != 0) return 2;
    int rc = 0;
    for (int i = 0; i < nf; i++) {
        if (!repo_path_ok(files[i])) {
            ll_set_error("%s: %s names the shard '%s', not a file of the repository", p->h->spec, index, files[i]);
            rc = 2;
            break;
        }
        if (p->online && !sl_has(&p->siblings, files[i])) {
            ll_set_error("%s: %s names the shard '%s', which %s@%s does not have", p->h->spec, index, files[i],
                         p->h->s.repo, p->h->s.revision);
            rc = 2;
            break;
        }
        sl_add(out, files[i]);
    }
    free((void *)files);
    cJSON_Delete(root);
    return rc;
}

static int missing_file(plan *p, const char *what) {
    if (p->online) {
        ll_set_error("%s: %s@%s has no %s", p->h->spec, p->h->s.repo, p->h->s.revision, what);
        return 2;
    }
    ll_set_error("%s: %s is not in the hub cache (%s/snapshots/%s) and the hub is offline (HF_HUB_OFFLINE / --offline)",
                 p->h->spec, what, p->h->repo_dir, p->h->commit);
    return 1;
}

static int run_plan(plan *p, int need) {
    const char *a[4];
    int na = 0;
    if (p->h->s.file[0]) {
        if (p->online && !sl_has(&p->siblings, p->h->s.file)) {
            ll_set_error("%s: %s@%s has no file '%s'", p->h->spec, p->h->s.repo, p->h->s.revision, p->h->s.file);
            return 2;
        }
        a[na++] = p->h->s.file;
        return ensure(p, a, na);
    }
    const char *index = NULL;
    if (need & LL_HUB_NEED_MODEL) {
        if (!present(p, "config.json")) return missing_file(p, "config.json");
        a[na++] = "config.json";
        if (present(p, "model.safetensors.index.json")) a[na++] = index = "model.safetensors.index.json";
        else if (present(p, "model.safetensors")) a[na++] = "model.safetensors";
        else if (present(p, "pytorch_model.bin.index.json")) a[na++] = index = "pytorch_model.bin.index.json";
        else if (present(p, "pytorch_model.bin")) a[na++] = "pytorch_model.bin";
        else return missing_file(p, "weights (model.safetensors, its index, or pytorch_model.bin)");
    }
    if (need & LL_HUB_NEED_TOKENIZER) {
        if (present(p, "tokenizer.json")) a[na++] = "tokenizer.json";
        else if (!(need & LL_HUB_NEED_MODEL) || !p->online) return missing_file(p, "tokenizer.json");
        /* online, a model without one: `run` says to give --tokenizer */
    }
    int rc = ensure(p, a, na);
    if (rc || !index) return rc;
    strlist shards = {0};
    rc = index_shards(p, index, &shards);
    if (rc == 0) rc = ensure(p, (const char *const *)shards.names, shards.n);
    sl_free(&shards);
    return rc;
}

/* ---- the revision ------------------------------------------------------------ */

/* GET /api/models/REPO/revision/REV: the commit and the file list. */
static int api_revision(hub_ctx *h, plan *p, int *net_down) {
    char rq[800], url[2048];
    url_quote(h->s.revision, 0, rq, sizeof rq);
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s", h->endpoint, h->s.repo, rq);
    hresp r;
    ll_sbuf body = {0};
    hsink k = {.r = &r, .mem = &body, .fd = -1};
    int rc = http_retry(h, url, 0, 1, &k, NULL, net_down);
    if (rc) { free(body.s); return rc; }
    cJSON *j = cJSON_ParseWithLength(body.s ? body.s : "", body.n);
    free(body.s);
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(j, "sha"), *sib = cJSON_GetObjectItemCaseSensitive(j, "siblings");
    if (!cJSON_IsString(sha) || !is_commit(sha->valuestring) || !cJSON_IsArray(sib)) {
        ll_set_error("%s: %s answered the revision API without a commit and a file list: not a hub server?", h->spec, h->host);
        cJSON_Delete(j);
        return 1;
    }
    snprintf(h->commit, sizeof h->commit, "%s", sha->valuestring);
    const cJSON *it;
    cJSON_ArrayForEach(it, sib) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(it, "rfilename");
        if (cJSON_IsString(f) && repo_path_ok(f->valuestring)) sl_add(&p->siblings, f->valuestring);
    }
    cJSON_Delete(j);
    return 0;
}

static cJSON *make_prov(hub_ctx *h, plan *p) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", h->s.repo);
    cJSON_AddStringToObject(o, "revision", h->s.revision);
    cJSON_AddStringToObject(o, "commit", h->commit);
    if (h->s.file[0]) cJSON_AddStringToObject(o, "file", h->s.file);
    cJSON_AddStringToObject(o, "endpoint", h->host);
    cJSON_AddBoolToObject(o, "offline", !p->online);
    cJSON *fa = cJSON_AddArrayToObject(o, "files");
    for (int i = 0; i < p->got.n; i++) {
        const char *nm = p->got.names[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", nm);
        char sp[6144], tgt[1200] = "";
        snap_path(h, nm, sp, sizeof sp);
        struct stat st;
        cJSON_AddNumberToObject(e, "size", stat(sp, &st) == 0 ? (double)st.st_size : -1);
        const hfile *m = NULL;
        for (int j = 0; j < p->n_meta; j++)
            if (!strcmp(p->meta[j].name, nm)) m = &p->meta[j];
        char s256[65] = "";
        const char *verified = "cache";
        if (m && m->verified && !strcmp(m->verified, "download")) {
            snprintf(s256, sizeof s256, "%s", m->sha256);
            verified = "download";
        } else {
            ssize_t tl = readlink(sp, tgt, sizeof tgt - 1);
            if (tl > 0) tgt[tl] = 0;
            const char *base = strrchr(tgt, '/') ? strrchr(tgt, '/') + 1 : tgt;
            if (is_hex(base, 64)) snprintf(s256, sizeof s256, "%s", base); /* the blob's name: the hub's SHA-256 */
            else if (ll_sha256_file(sp, s256) != 0) s256[0] = 0;             /* a small file: hashed */
        }
        cJSON_AddStringToObject(e, "sha256", s256);
        cJSON_AddStringToObject(e, "verified", verified);
        cJSON_AddItemToArray(fa, e);
    }
    return o;
}

static int hub_resolve(const char *spec, const ll_hub_spec *s, int need, char **local, cJSON **prov) {
    hub_ctx h;
    ctx_init(&h, spec, s);
    plan p = {.h = &h, .online = !ll_hub_offline()};
    int rc = 0, lk = -1;
    /* one process per cache resolves a repository at a time: the ranks of a
     * node, sweep tasks, two users; the others wait, then find it cached */
    if (p.online) lk = lock_take(&h, "layerlaw-resolve.lock"); /* a read-only cache: no lock, nothing to write */
    if (p.online) {
        char tag[4000];
        snprintf(tag, sizeof tag, "%s/CACHEDIR.TAG", h.cache);
        static const char TAG[] = "Signature: 8a477f597d28d172789f06886806bc55\n"
                                  "# This file is a cache directory tag (https://bford.info/cachedir/).\n";
        if (!ll_path_exists(tag) && ll_mkdirs(h.cache) == 0) /* backup tools skip it, as huggingface_hub marks it */
            ll_write_file_atomic(tag, TAG, sizeof TAG - 1);
        int down = 0;
        rc = api_revision(&h, &p, &down);
        if (rc && down) { /* no network: the cache may still have it, as huggingface_hub does */
            char keep[1024];
            snprintf(keep, sizeof keep, "%s", ll_last_error());
            if (is_commit(s->revision)) snprintf(h.commit, sizeof h.commit, "%.40s", s->revision);
            else if (read_ref(&h, s->revision, h.commit) != 0) h.commit[0] = 0;
            char sd[6144];
            snprintf(sd, sizeof sd, "%s/snapshots/%s", h.repo_dir, h.commit);
            if (!h.commit[0] || !ll_path_exists(sd)) {
                ll_set_error("%s: no network (%s) and %s@%s is not in the hub cache %s", spec, keep + strlen(spec) + 2,
                             s->repo, s->revision, h.cache);
                rc = 1;
                goto out;
            }
            ll_warn("%s: %s: using the cached snapshot %s", spec, keep + strlen(spec) + 2, h.commit);
            p.online = 0;
            rc = 0;
        } else if (rc) {
            goto out;
        } else if (strcmp(s->revision, h.commit)) {
            char rp[6144];
            snprintf(rp, sizeof rp, "%s/refs/%s", h.repo_dir, s->revision);
            char cur[48] = "";
            if (read_ref(&h, s->revision, cur) != 0 || strcmp(cur, h.commit))
                if (write_small_atomic(rp, h.commit) != 0) { rc = 1; goto out; }
        }
    } else {
        if (is_commit(s->revision)) snprintf(h.commit, sizeof h.commit, "%.40s", s->revision);
        else if (read_ref(&h, s->revision, h.commit) != 0) {
            ll_set_error("%s: %s@%s is not in the hub cache %s and the hub is offline (HF_HUB_OFFLINE / --offline)", spec,
                         s->repo, s->revision, h.cache);
            rc = 1;
            goto out;
        }
    }
    rc = run_plan(&p, need);
    if (rc) goto out;
    char path[6144];
    snprintf(path, sizeof path, "%s/snapshots/%s%s%s", h.repo_dir, h.commit, s->file[0] ? "/" : "", s->file);
    *local = ll_xstrdup(path);
    if (prov) *prov = make_prov(&h, &p);
out:
    lock_drop(lk);
    sl_free(&p.siblings);
    sl_free(&p.got);
    free(p.meta);
    return rc;
}

int ll_model_path_resolve(const char *spec, int need, char **local, cJSON **prov) {
    *local = NULL;
    if (prov) *prov = NULL;
    ll_hub_spec s;
    int k = ll_hub_spec_parse(spec, &s);
    if (k < 0) return 2;
    if (k == 0) { *local = ll_xstrdup(spec); return 0; }
    return hub_resolve(spec, &s, need ? need : LL_HUB_NEED_MODEL, local, prov);
}

int ll_hub_cached(const char *spec) {
    ll_hub_spec s;
    if (ll_hub_spec_parse(spec, &s) != 1) return -1;
    hub_ctx h;
    ctx_init(&h, spec, &s);
    if (is_commit(s.revision)) snprintf(h.commit, sizeof h.commit, "%.40s", s.revision);
    else if (read_ref(&h, s.revision, h.commit) != 0) return 0;
    char sp[6144];
    snap_path(&h, s.file[0] ? s.file : "config.json", sp, sizeof sp);
    return ll_path_exists(sp);
}

void ll_hub_annotate(cJSON *extra, const cJSON *prov, const cJSON *tok_prov) {
    if (!extra) return;
    cJSON *pv = cJSON_GetObjectItemCaseSensitive(extra, "provenance");
    if (pv && tok_prov) cJSON_AddItemToObject(pv, "hub_tokenizer", cJSON_Duplicate(tok_prov, 1));
    if (!prov) return;
    cJSON *m = cJSON_GetObjectItemCaseSensitive(extra, "model");
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prov, "id"));
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prov, "file"));
    if (m && id) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "dir");
        if (cJSON_IsString(d)) cJSON_AddStringToObject(m, "snapshot", d->valuestring);
        char key[800];
        snprintf(key, sizeof key, "%s%s%s", id, file ? "/" : "", file ? file : "");
        if (d) cJSON_ReplaceItemInObjectCaseSensitive(m, "dir", cJSON_CreateString(key));
        else cJSON_AddStringToObject(m, "dir", key);
        cJSON_DeleteItemFromObjectCaseSensitive(m, "revision");
        cJSON_AddItemToObject(m, "revision", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(prov, "revision"), 1));
        cJSON_AddItemToObject(m, "commit", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(prov, "commit"), 1));
    }
    if (pv) cJSON_AddItemToObject(pv, "hub", cJSON_Duplicate(prov, 1));
}
