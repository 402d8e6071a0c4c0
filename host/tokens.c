/* Token file reader (see tokens.h). */
#include "tokens.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ll_util.h"

int ll_tokens_read(const char *path, int max_len, ll_tokens *out) {
    memset(out, 0, sizeof *out);
    size_t len;
    char *txt = ll_read_file(path, &len);
    if (!txt) return -1;
    int64_t cap_ids = 1024, cap_seq = 64;
    out->ids = ll_xmalloc(sizeof(int32_t) * cap_ids);
    out->off = ll_xmalloc(sizeof(int64_t) * (cap_seq + 1));
    out->off[0] = 0;
    const char *p = txt, *end = txt + len;
    long line = 0;
    int rc = 0;
    while (p < end) {
        line++;
        const char *eol = memchr(p, '\n', end - p);
        if (!eol) eol = end;
        const char *q = p;
        while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q == eol) { p = eol + 1; continue; } /* blank */
        if (*q != '[') { ll_set_error("%s: line %ld: expected a JSON array of token ids", path, line); rc = -1; break; }
        q++;
        int64_t start = out->n_ids, n_here = 0;
        int expect_value = 0, closed = 0;
        while (q < eol) {
            while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
            if (q >= eol) break;
            if (*q == ']') {
                if (expect_value) break; /* trailing comma */
                closed = 1; q++;
                break;
            }
            if (*q < '0' || *q > '9') break;
            long long v = 0;
            while (q < eol && *q >= '0' && *q <= '9') {
                v = v * 10 + (*q - '0');
                if (v > 2147483647LL) break;
                q++;
            }
            if (v > 2147483647LL) break;
            if (max_len <= 0 || n_here < max_len) {
                if (out->n_ids == cap_ids) { cap_ids *= 2; out->ids = ll_xrealloc(out->ids, sizeof(int32_t) * cap_ids); }
                out->ids[out->n_ids++] = (int32_t)v;
            }
            n_here++;
            while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
            if (q < eol && *q == ',') { q++; expect_value = 1; }
            else expect_value = 0;
            if (q < eol && *q != ']' && !expect_value) break;
        }
        while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (!closed || q != eol) {
            ll_set_error("%s: line %ld: not a JSON array of non-negative integer token ids", path, line);
            rc = -1;
            break;
        }
        (void)start;
        if (max_len > 0 && n_here > max_len) out->n_cut++;
        if (out->n_seq == cap_seq) { cap_seq *= 2; out->off = ll_xrealloc(out->off, sizeof(int64_t) * (cap_seq + 1)); }
        out->off[++out->n_seq] = out->n_ids;
        p = eol + 1;
    }
    free(txt);
    if (rc == 0 && out->n_ids == 0) {
        ll_set_error("%s: no tokens (empty token file)", path);
        rc = -1;
    }
    if (rc) ll_tokens_free(out);
    return rc;
}

int ll_tokens_check_vocab(const ll_tokens *t, const char *path, int vocab) {
    for (int64_t s = 0; s < t->n_seq; s++)
        for (int64_t i = t->off[s]; i < t->off[s + 1]; i++)
            if (t->ids[i] >= vocab) {
                ll_set_error("%s: sequence %lld: token id %d is outside the model's vocabulary (%d)", path,
                             (long long)s + 1, t->ids[i], vocab);
                return -1;
            }
    return 0;
}

void ll_tokens_free(ll_tokens *t) {
    free(t->off);
    free(t->ids);
    memset(t, 0, sizeof *t);
}
