/* Token file reader (see tokens.h): a streaming line reader, and the whole
 * file in memory on top of it. */
#include "io/tokens.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"

struct ll_token_reader {
    FILE *f;
    char *path;
    int max_len;
    char *line;
    size_t line_cap;
    long lineno;
    int32_t *ids;
    size_t ids_cap;
};

ll_token_reader *ll_token_reader_open(const char *path, int max_len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ll_set_error("%s: cannot open (%s)", path, strerror(errno));
        return NULL;
    }
    ll_token_reader *r = ll_xcalloc(1, sizeof *r);
    r->f = f;
    r->path = ll_xstrdup(path);
    r->max_len = max_len;
    r->ids_cap = 1024;
    r->ids = ll_xmalloc(sizeof(int32_t) * r->ids_cap);
    return r;
}

long ll_token_reader_line(const ll_token_reader *r) { return r->lineno; }

static int is_sp(char c) { return c == ' ' || c == '\t' || c == '\r'; }

int ll_token_reader_next(ll_token_reader *r, const int32_t **ids, int *n, int *cut) {
    for (;;) {
        ssize_t len = getline(&r->line, &r->line_cap, r->f);
        if (len < 0) {
            if (ferror(r->f)) {
                ll_set_error("%s: read error (%s)", r->path, strerror(errno));
                return -1;
            }
            return 0;
        }
        r->lineno++;
        const char *q = r->line, *eol = r->line + len;
        if (eol > q && eol[-1] == '\n') eol--;
        while (q < eol && is_sp(*q)) q++;
        if (q == eol) continue; /* blank line */
        if (*q != '[') {
            ll_set_error("%s: line %ld: expected a JSON array of token ids", r->path, r->lineno);
            return -1;
        }
        q++;
        long long kept = 0, total = 0;
        int expect_value = 0, closed = 0;
        while (q < eol) {
            while (q < eol && is_sp(*q)) q++;
            if (q >= eol) break;
            if (*q == ']') {
                if (expect_value) break; /* trailing comma */
                closed = 1;
                q++;
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
            if (r->max_len <= 0 || total < r->max_len) {
                if ((size_t)kept == r->ids_cap) {
                    r->ids_cap *= 2;
                    r->ids = ll_xrealloc(r->ids, sizeof(int32_t) * r->ids_cap);
                }
                r->ids[kept++] = (int32_t)v;
            }
            total++;
            while (q < eol && is_sp(*q)) q++;
            if (q < eol && *q == ',') { q++; expect_value = 1; }
            else expect_value = 0;
            if (q < eol && *q != ']' && !expect_value) break;
        }
        while (q < eol && is_sp(*q)) q++;
        if (!closed || q != eol) {
            ll_set_error("%s: line %ld: not a JSON array of non-negative integer token ids", r->path, r->lineno);
            return -1;
        }
        *ids = r->ids;
        *n = (int)kept;
        if (cut) *cut = r->max_len > 0 && total > r->max_len;
        return 1;
    }
}

void ll_token_reader_close(ll_token_reader *r) {
    if (!r) return;
    if (r->f) fclose(r->f);
    free(r->path);
    free(r->line);
    free(r->ids);
    free(r);
}

int ll_tokens_read(const char *path, int max_len, ll_tokens *out) {
    memset(out, 0, sizeof *out);
    ll_token_reader *r = ll_token_reader_open(path, max_len);
    if (!r) return -1;
    int64_t cap_ids = 1024, cap_seq = 64;
    out->ids = ll_xmalloc(sizeof(int32_t) * cap_ids);
    out->off = ll_xmalloc(sizeof(int64_t) * (cap_seq + 1));
    out->off[0] = 0;
    const int32_t *ids;
    int n, cut, rc;
    while ((rc = ll_token_reader_next(r, &ids, &n, &cut)) == 1) {
        if (out->n_ids + n > cap_ids) {
            while (out->n_ids + n > cap_ids) cap_ids *= 2;
            out->ids = ll_xrealloc(out->ids, sizeof(int32_t) * cap_ids);
        }
        memcpy(out->ids + out->n_ids, ids, sizeof(int32_t) * n);
        out->n_ids += n;
        out->n_cut += cut;
        if (out->n_seq == cap_seq) {
            cap_seq *= 2;
            out->off = ll_xrealloc(out->off, sizeof(int64_t) * (cap_seq + 1));
        }
        out->off[++out->n_seq] = out->n_ids;
    }
    ll_token_reader_close(r);
    if (rc == 0 && out->n_ids == 0) {
        ll_set_error("%s: no tokens (empty token file)", path);
        rc = -1;
    }
    if (rc < 0) {
        ll_tokens_free(out);
        return -1;
    }
    return 0;
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
