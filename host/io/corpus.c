/* Streaming corpus reader (plain text / JSONL, gzip or not) and sampling. */
#include "io/corpus.h"

#include <cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/ll_util.h"

#define CHUNK (1 << 16)

struct ll_corpus {
    char *path;
    int split;
    char *field;
    gzFile gz;
    int is_stdin;
    unsigned char *buf; size_t bpos, blen; int eof;
    char *line; size_t lcap, llen; /* current raw line */
    long long lineno;              /* lines read so far */
    char *doc; size_t dcap, dlen;
    long long doc_index, doc_line, next_index;
    /* sampling */
    long long *sel; long long nsel, isel;
    int done;
};

const char *const ll_corpus_split_names[] = {"auto", "line", "paragraph", "file", "jsonl", NULL, NULL};

int ll_corpus_split_from_name(const char *s) {
    if (!s || !strcmp(s, "auto")) return LL_SPLIT_AUTO;
    if (!strcmp(s, "line")) return LL_SPLIT_LINE;
    if (!strcmp(s, "paragraph")) return LL_SPLIT_PARAGRAPH;
    if (!strcmp(s, "file")) return LL_SPLIT_FILE;
    if (!strcmp(s, "jsonl")) return LL_SPLIT_JSONL;
    return -1;
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

ll_corpus *ll_corpus_open(const char *path, int split, const char *text_field) {
    if (split == LL_SPLIT_AUTO) {
        split = (ends_with(path, ".jsonl") || ends_with(path, ".jsonl.gz") || ends_with(path, ".ndjson") ||
                 ends_with(path, ".ndjson.gz")) ? LL_SPLIT_JSONL : LL_SPLIT_LINE;
    }
    if (split < LL_SPLIT_LINE || split > LL_SPLIT_JSONL) { ll_set_error("%s: unknown document split", path); return NULL; }
    gzFile gz;
    int is_stdin = !strcmp(path, "-");
    if (is_stdin) gz = gzdopen(0, "rb");
    else {
        FILE *f = fopen(path, "rb"); /* for a clear error message */
        if (!f) { ll_set_error("%s: cannot open: %s", path, strerror(errno)); return NULL; }
        fclose(f);
        gz = gzopen(path, "rb");
    }
    if (!gz) { ll_set_error("%s: cannot open", path); return NULL; }
    gzbuffer(gz, 1 << 17);
    ll_corpus *c = ll_xcalloc(1, sizeof *c);
    c->path = ll_xstrdup(is_stdin ? "<stdin>" : path);
    c->split = split;
    c->field = ll_xstrdup(text_field && *text_field ? text_field : "text");
    c->gz = gz;
    c->is_stdin = is_stdin;
    c->buf = ll_xmalloc(CHUNK);
    c->doc_index = -1;
    return c;
}

void ll_corpus_close(ll_corpus *c) {
    if (!c) return;
    if (c->gz) gzclose(c->gz);
    free(c->path); free(c->field); free(c->buf); free(c->line); free(c->doc); free(c->sel);
    free(c);
}

/* gzerror() prefixes the message with the path: drop it */
static const char *gz_msg(ll_corpus *c) {
    int err;
    const char *m = gzerror(c->gz, &err);
    if (!m) return "?";
    size_t pl = strlen(c->path);
    if (!strncmp(m, c->path, pl) && !strncmp(m + pl, ": ", 2)) m += pl + 2;
    return m;
}

static int fill(ll_corpus *c) {
    if (c->eof) return 0;
    int n = gzread(c->gz, c->buf, CHUNK);
    if (n < 0) {
        ll_set_error("%s: corrupt gzip data after line %lld: %s", c->path, c->lineno, gz_msg(c));
        return -1;
    }
    if (n == 0) {
        int err;
        gzerror(c->gz, &err);
        if (err != Z_OK && err != Z_STREAM_END) {
            ll_set_error("%s: corrupt or truncated gzip data after line %lld: %s", c->path, c->lineno, gz_msg(c));
            return -1;
        }
        c->eof = 1;
        return 0;
    }
    c->bpos = 0;
    c->blen = (size_t)n;
    return 1;
}

static void grow(char **p, size_t *cap, size_t need) {
    if (need + 1 > *cap) {
        size_t nc = *cap ? *cap : 1024;
        while (nc < need + 1) nc *= 2;
        *p = ll_xrealloc(*p, nc);
        *cap = nc;
    }
}

/* reads one line (without LF, and without a CR before it); 1, 0 at EOF, -1 */
static int read_line(ll_corpus *c) {
    c->llen = 0;
    int any = 0;
    for (;;) {
        if (c->bpos >= c->blen) {
            int r = fill(c);
            if (r < 0) return -1;
            if (r == 0) break;
        }
        unsigned char *s = c->buf + c->bpos;
        size_t avail = c->blen - c->bpos;
        unsigned char *nl = memchr(s, '\n', avail);
        size_t take = nl ? (size_t)(nl - s) : avail;
        grow(&c->line, &c->lcap, c->llen + take);
        memcpy(c->line + c->llen, s, take);
        c->llen += take;
        any = 1;
        c->bpos += take + (nl ? 1 : 0);
        if (nl) break;
    }
    if (!any && c->eof) return 0;
    c->lineno++;
    if (c->llen && c->line[c->llen - 1] == '\r') c->llen--;
    if (!c->line) grow(&c->line, &c->lcap, 0);
    c->line[c->llen] = 0;
    return 1;
}

static void set_doc(ll_corpus *c, const char *s, size_t n) {
    grow(&c->doc, &c->dcap, n);
    memcpy(c->doc, s, n);
    c->doc[n] = 0;
    c->dlen = n;
}

/* ---- the text field of one (already validated) JSON object line ---- */

static void doc_put(ll_corpus *c, const void *s, size_t n) {
    grow(&c->doc, &c->dcap, c->dlen + n);
    memcpy(c->doc + c->dlen, s, n);
    c->dlen += n;
}

static int hex4(const char *p, const char *e, unsigned *v) {
    if (e - p < 4) return -1;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        unsigned d = ch >= '0' && ch <= '9' ? (unsigned)(ch - '0') : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
                   : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10) : 16u;
        if (d > 15) return -1;
        *v = *v << 4 | d;
    }
    return 0;
}

/* Decodes the JSON string starting after its opening quote at *pp; appends
 * its bytes to c->doc when `out`, else only compares them with key[0..kn)
 * (*match).  *pp ends after the closing quote.  Escapes: \" \\ \/ \b \f
 * \n \r \t \uXXXX (surrogate pairs -> one code point; a lone surrogate
 * -> U+FFFD, since UTF-8 cannot hold it).  Other bytes are copied as they are. */
static int jstring(ll_corpus *c, const char **pp, const char *e, int out, const char *key, size_t kn, int *match) {
    const char *p = *pp;
    size_t at = 0;
    int eq = 1;
    for (;;) {
        const char *q = p;
        while (q < e && *q != '"' && *q != '\\') q++;
        if (q > p) {
            size_t n = (size_t)(q - p);
            if (out) doc_put(c, p, n);
            else { if (eq && (at + n > kn || memcmp(key + at, p, n))) eq = 0; at += n; }
        }
        p = q;
        if (p >= e) return -1;
        if (*p == '"') { p++; break; }
        p++; /* backslash */
        if (p >= e) return -1;
        unsigned char u8[4];
        size_t n = 1;
        char esc = *p++;
        switch (esc) {
        case '"': case '\\': case '/': u8[0] = (unsigned char)esc; break;
        case 'b': u8[0] = '\b'; break;
        case 'f': u8[0] = '\f'; break;
        case 'n': u8[0] = '\n'; break;
        case 'r': u8[0] = '\r'; break;
        case 't': u8[0] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(p, e, &cp)) return -1;
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && e - p >= 6 && p[0] == '\\' && p[1] == 'u' && !hex4(p + 2, e, &lo) &&
                lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD;
            }
            if (cp < 0x80) u8[0] = (unsigned char)cp;
            else if (cp < 0x800) { u8[0] = (unsigned char)(0xC0 | cp >> 6); u8[1] = (unsigned char)(0x80 | (cp & 63)); n = 2; }
            else if (cp < 0x10000) {
                u8[0] = (unsigned char)(0xE0 | cp >> 12); u8[1] = (unsigned char)(0x80 | (cp >> 6 & 63));
                u8[2] = (unsigned char)(0x80 | (cp & 63)); n = 3;
            } else {
                u8[0] = (unsigned char)(0xF0 | cp >> 18); u8[1] = (unsigned char)(0x80 | (cp >> 12 & 63));
                u8[2] = (unsigned char)(0x80 | (cp >> 6 & 63)); u8[3] = (unsigned char)(0x80 | (cp & 63)); n = 4;
            }
            break;
        }
        default: return -1;
        }
        if (out) doc_put(c, u8, n);
        else { if (eq && (at + n > kn || memcmp(key + at, u8, n))) eq = 0; at += n; }
    }
    *pp = p;
    if (match) *match = eq && at == kn;
    return 0;
}

static const char *jws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* skips one JSON value (iteratively: nesting depth costs no stack) */
static int jskip(const char **pp, const char *e) {
    const char *p = *pp;
    long depth = 0;
    do {
        p = jws(p, e);
        if (p >= e) return -1;
        if (*p == '"') {
            p++;
            while (p < e && *p != '"') p += *p == '\\' ? 2 : 1;
            if (p >= e) return -1;
            p++;
        } else if (*p == '{' || *p == '[') { depth++; p++; }
        else if (*p == '}' || *p == ']') { depth--; p++; }
        else if (*p == ',' || *p == ':') p++;
        else while (p < e && !strchr(",:{}[]\" \t\r\n", *p)) p++;
    } while (depth > 0);
    *pp = p;
    return 0;
}

/* 1: the top-level member `key` is a string, decoded into c->doc[0..dlen);
 * 0: no such member; -1: it is not a string.  The first member of that name
 * counts, as cJSON_GetObjectItemCaseSensitive would take it. */
static int jsonl_field(ll_corpus *c, const char *s, size_t len, const char *key, size_t kn) {
    const char *p = jws(s, s + len), *e = s + len;
    if (p >= e || *p != '{') return 0;
    p++;
    for (;;) {
        p = jws(p, e);
        if (p >= e || *p == '}') return 0;
        if (*p == ',') { p++; continue; }
        if (*p != '"') return 0;
        p++;
        int match = 0;
        if (jstring(c, &p, e, 0, key, kn, &match)) return 0;
        p = jws(p, e);
        if (p >= e || *p != ':') return 0;
        p = jws(p + 1, e);
        if (match) {
            if (p >= e || *p != '"') return -1;
            p++;
            return jstring(c, &p, e, 1, NULL, 0, NULL) ? -1 : 1;
        }
        if (jskip(&p, e)) return 0;
    }
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

/* next document of the whole file, ignoring sampling */
static int next_raw(ll_corpus *c) {
    if (c->done) return 0;
    switch (c->split) {
    case LL_SPLIT_LINE:
        for (;;) {
            int r = read_line(c);
            if (r <= 0) { if (r == 0) c->done = 1; return r; }
            if (c->llen == 0) continue;
            set_doc(c, c->line, c->llen);
            c->doc_line = c->lineno;
            return 1;
        }
    case LL_SPLIT_PARAGRAPH: {
        c->dlen = 0;
        int have = 0;
        for (;;) {
            int r = read_line(c);
            if (r < 0) return -1;
            if (r == 0) { c->done = 1; break; }
            if (blank(c->line, c->llen)) { if (have) break; continue; }
            if (!have) { c->doc_line = c->lineno; have = 1; }
            else { grow(&c->doc, &c->dcap, c->dlen + 1); c->doc[c->dlen++] = '\n'; }
            grow(&c->doc, &c->dcap, c->dlen + c->llen);
            memcpy(c->doc + c->dlen, c->line, c->llen);
            c->dlen += c->llen;
        }
        if (!have) return 0;
        c->doc[c->dlen] = 0;
        return 1;
    }
    case LL_SPLIT_FILE: {
        c->dlen = 0;
        for (;;) {
            if (c->bpos >= c->blen) {
                int r = fill(c);
                if (r < 0) return -1;
                if (r == 0) break;
            }
            size_t take = c->blen - c->bpos;
            grow(&c->doc, &c->dcap, c->dlen + take);
            memcpy(c->doc + c->dlen, c->buf + c->bpos, take);
            c->dlen += take;
            c->bpos += take;
        }
        c->done = 1;
        c->doc_line = 1;
        if (c->dlen == 0) return 0;
        c->doc[c->dlen] = 0;
        return 1;
    }
    case LL_SPLIT_JSONL:
        for (;;) {
            int r = read_line(c);
            if (r <= 0) { if (r == 0) c->done = 1; return r; }
            if (blank(c->line, c->llen)) continue;
            cJSON *j = cJSON_ParseWithLength(c->line, c->llen);
            if (!j) { ll_set_error("%s:%lld: not valid JSON", c->path, c->lineno); return -1; }
            if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                ll_set_error("%s:%lld: not a JSON object", c->path, c->lineno);
                return -1;
            }
            cJSON_Delete(j);
            /* cJSON validated the line; the field is decoded here with its
             * length (cJSON's valuestring ends at an escaped NUL) */
            c->dlen = 0;
            int fr = jsonl_field(c, c->line, c->llen, c->field, strlen(c->field));
            if (fr != 1) {
                ll_set_error("%s:%lld: %s field '%s'", c->path, c->lineno, fr == 0 ? "no" : "not a string:", c->field);
                return -1;
            }
            if (c->dlen == 0) continue;
            grow(&c->doc, &c->dcap, c->dlen);
            c->doc[c->dlen] = 0;
            c->doc_line = c->lineno;
            return 1;
        }
    }
    return 0;
}

int ll_corpus_next(ll_corpus *c, const char **text, size_t *len) {
    for (;;) {
        if (c->sel && c->isel >= c->nsel) return 0;
        int r = next_raw(c);
        if (r <= 0) return r;
        c->doc_index = c->next_index++;
        if (c->sel) {
            if (c->doc_index != c->sel[c->isel]) continue;
            c->isel++;
        }
        *text = c->doc;
        *len = c->dlen;
        return 1;
    }
}

long long ll_corpus_doc_index(const ll_corpus *c) { return c->doc_index; }
long long ll_corpus_doc_line(const ll_corpus *c) { return c->doc_line; }

int ll_corpus_count(const char *path, int split, const char *text_field, long long *n_docs) {
    ll_corpus *c = ll_corpus_open(path, split, text_field);
    if (!c) return -1;
    long long n = 0;
    int r;
    while ((r = next_raw(c)) == 1) n++;
    ll_corpus_close(c);
    if (r < 0) return -1;
    *n_docs = n;
    return 0;
}

/* unbiased integer in [0, m), m >= 1 */
static uint64_t uniform(uint64_t *s, uint64_t m) {
    uint64_t lim = UINT64_MAX - (UINT64_MAX % m + 1) % m; /* accept x <= lim */
    for (;;) {
        uint64_t x = ll_splitmix64(s);
        if (x <= lim) return x % m;
    }
}

long long ll_sample_indices(long long n, long long k, uint64_t seed, long long *out) {
    if (n <= 0 || k <= 0) return 0;
    if (k >= n) { for (long long i = 0; i < n; i++) out[i] = i; return n; }
    uint64_t s = seed;
    long long taken = 0;
    for (long long i = 0; i < n && taken < k; i++)
        if ((long long)uniform(&s, (uint64_t)(n - i)) < k - taken) out[taken++] = i;
    return taken;
}

ll_corpus *ll_corpus_open_sampled(const char *path, int split, const char *text_field, long long k, uint64_t seed) {
    if (k <= 0) return ll_corpus_open(path, split, text_field);
    if (!strcmp(path, "-")) { ll_set_error("<stdin>: sampling documents needs a file (two passes)"); return NULL; }
    long long n;
    if (ll_corpus_count(path, split, text_field, &n) != 0) return NULL;
    ll_corpus *c = ll_corpus_open(path, split, text_field);
    if (!c) return NULL;
    long long m = k < n ? k : n;
    c->sel = ll_xmalloc((size_t)(m > 0 ? m : 1) * sizeof *c->sel);
    c->nsel = ll_sample_indices(n, k, seed, c->sel);
    c->isel = 0;
    return c;
}
