/* Device out-of-memory messages and the LAYERLAW_CUDA_MEM_LIMIT parser
 * (see oom.h). */
#include "backend/oom.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/ll_util.h"

int ll_parse_bytes(const char *s, size_t *out) {
    if (!s || !*s) { ll_set_error("%s: empty (bytes, e.g. 1073741824 or 1G)", LL_CUDA_MEM_LIMIT_ENV); return -1; }
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0) || !isfinite(v)) {
        ll_set_error("%s: '%s' is not a byte count (e.g. 1073741824 or 1G)", LL_CUDA_MEM_LIMIT_ENV, s);
        return -1;
    }
    double mul = 1;
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': mul = 1024.0; break;
        case 'M': mul = 1024.0 * 1024; break;
        case 'G': mul = 1024.0 * 1024 * 1024; break;
        case 'T': mul = 1024.0 * 1024 * 1024 * 1024; break;
        case 'B': mul = 1; end--; break; /* "512B": the B alone */
        default: end = NULL; break;
        }
        if (end) {
            end++;
            if (*end && strcasecmp(end, "iB") != 0 && strcasecmp(end, "B") != 0) end = NULL;
        }
        if (!end) {
            ll_set_error("%s: '%s': unknown unit (K, M, G, T: powers of 1024)", LL_CUDA_MEM_LIMIT_ENV, s);
            return -1;
        }
    }
    double b = v * mul;
    if (b >= 18446744073709551615.0) {
        ll_set_error("%s: '%s' is too large", LL_CUDA_MEM_LIMIT_ENV, s);
        return -1;
    }
    *out = (size_t)b;
    return 0;
}

void ll_format_bytes(char *buf, size_t cap, double b) {
    const double K = 1024.0, M = K * K, G = M * K;
    if (b >= G) snprintf(buf, cap, "%.1f GiB", b / G);
    else if (b >= M) snprintf(buf, cap, "%.1f MiB", b / M);
    else if (b >= K) snprintf(buf, cap, "%.1f KiB", b / K);
    else snprintf(buf, cap, "%.0f bytes", b);
}

int ll_oom_format(char *buf, size_t cap, int device, size_t bytes, const char *what, size_t free_b, size_t total_b,
                  int limited) {
    char sz[32], fr[32], tot[32];
    ll_format_bytes(sz, sizeof sz, (double)bytes);
    ll_format_bytes(fr, sizeof fr, (double)free_b);
    ll_format_bytes(tot, sizeof tot, (double)total_b);
    if (!what || !*what) what = "device buffers";
    const char *advice = strstr(what, "weights")
                             ? "the weights must fit whole: try --compute bf16 or a card with more memory"
                             : "try a smaller --batch-tokens / --batch-size";
    return snprintf(buf, cap, "CUDA device %d: out of memory allocating %s for %s; free %s of %s%s; %s", device, sz,
                    what, fr, tot, limited ? " (the " LL_CUDA_MEM_LIMIT_ENV " cap)" : "", advice);
}

void ll_oom_set_error(int device, size_t bytes, const char *what, size_t free_b, size_t total_b, int limited) {
    char msg[1024];
    ll_oom_format(msg, sizeof msg, device, bytes, what, free_b, total_b, limited);
    ll_set_error("%s", msg);
}

static _Thread_local char g_label[256];

void ll_oom_label(const char *fmt, ...) {
    if (!fmt) { g_label[0] = 0; return; }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_label, sizeof g_label, fmt, ap);
    va_end(ap);
}
const char *ll_oom_label_get(void) { return g_label; }
