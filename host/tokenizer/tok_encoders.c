/* BertNormalizer, BertPreTokenizer, WhitespaceSplit, WordPiece and Unigram
 * for tokenizer.c.  See tok_encoders.h for the semantics. */
#include "tokenizer/tok_encoders.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/ll_util.h"
#include "tokenizer/tok_unicode_flips.h"

static int in_ranges(const int32_t (*r)[2], int n, int32_t c) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int m = (lo + hi) / 2;
        if (c < r[m][0]) hi = m - 1;
        else if (c > r[m][1]) lo = m + 1;
        else return 1;
    }
    return 0;
}

void ll_sbuf_add(ll_sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n + 1) c *= 2;
        b->p = ll_xrealloc(b->p, c);
        b->cap = c;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void ll_ibuf_add(ll_ibuf *b, int32_t x) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->v = ll_xrealloc(b->v, b->cap * sizeof *b->v);
    }
    b->v[b->n++] = x;
}

/* next code point of valid UTF-8; *len its byte length */
static int32_t next_cp(const char *s, size_t n, size_t i, int *len) {
    utf8proc_int32_t c;
    utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
    if (r <= 0) { *len = 1; return (unsigned char)s[i]; }
    *len = (int)r;
    return c;
}

static void add_cp(ll_sbuf *b, int32_t c) {
    utf8proc_uint8_t u[4];
    utf8proc_ssize_t k = utf8proc_encode_char(c, u);
    ll_sbuf_add(b, (const char *)u, (size_t)k);
}

int ll_is_rust_whitespace(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static int is_chinese(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int is_other(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    /* HF keeps unassigned code points (Cn), e.g. U+FFF3, U+0590; its tables are
     * an older Unicode than utf8proc's: the generated flips correct that */
    int o = k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CO ||
            k == UTF8PROC_CATEGORY_CS;
    return o ^ in_ranges(ll_flip_ctrl, ll_flip_ctrl_n, c);
}

static int is_bert_punct(int32_t c) {
    if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
                         (c >= 0x7B && c <= 0x7E);
    utf8proc_category_t k = utf8proc_category(c);
    int p = k == UTF8PROC_CATEGORY_PC || k == UTF8PROC_CATEGORY_PD || k == UTF8PROC_CATEGORY_PS ||
            k == UTF8PROC_CATEGORY_PE || k == UTF8PROC_CATEGORY_PI || k == UTF8PROC_CATEGORY_PF ||
            k == UTF8PROC_CATEGORY_PO;
    return p ^ in_ranges(ll_flip_punct, ll_flip_punct_n, c);
}

void ll_bert_normalize(const ll_bert_norm *cfg, const char *s, size_t n, ll_sbuf *out) {
    ll_sbuf a = {0}, b = {0};
    ll_sbuf_add(&a, "", 0);
    /* clean_text and handle_chinese_chars in one pass */
    for (size_t i = 0; i < n;) {
        int l;
        int32_t c = next_cp(s, n, i, &l);
        i += (size_t)l;
        if (cfg->clean_text) {
            if (c == 0 || c == 0xFFFD) continue;
            if (c != '\t' && c != '\n' && c != '\r' && is_other(c)) continue;
            if (ll_is_rust_whitespace(c)) c = ' ';
        }
        if (cfg->handle_chinese_chars && is_chinese(c)) {
            ll_sbuf_add(&a, " ", 1);
            add_cp(&a, c);
            ll_sbuf_add(&a, " ", 1);
        } else {
            add_cp(&a, c);
        }
    }
    if (cfg->strip_accents && a.n) {
        utf8proc_uint8_t *res = NULL;
        utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)a.p, (utf8proc_ssize_t)a.n, &res,
                                          (utf8proc_option_t)(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
        b.n = 0;
        ll_sbuf_add(&b, "", 0);
        if (r >= 0) {
            for (size_t i = 0; i < (size_t)r;) {
                int l;
                int32_t c = next_cp((const char *)res, (size_t)r, i, &l);
                if (utf8proc_category(c) != UTF8PROC_CATEGORY_MN) ll_sbuf_add(&b, (const char *)res + i, (size_t)l);
                i += (size_t)l;
            }
            free(res);
            ll_sbuf t = a; a = b; b = t;
        }
    }
    if (cfg->lowercase) {
        b.n = 0;
        ll_sbuf_add(&b, "", 0);
        for (size_t i = 0; i < a.n;) {
            int l;
            int32_t c = next_cp(a.p, a.n, i, &l);
            i += (size_t)l;
            if (c == 0x130) { ll_sbuf_add(&b, "i\xCC\x87", 3); continue; } /* the one multi-character lower case */
            add_cp(&b, c < 0x80 ? (c >= 'A' && c <= 'Z' ? c + 32 : c) : utf8proc_tolower(c));
        }
        ll_sbuf t = a; a = b; b = t;
    }
    ll_sbuf_add(out, a.p, a.n);
    free(a.p);
    free(b.p);
}

void ll_whitespace_split(const char *s, size_t n, ll_emit_range emit, void *ud) {
    size_t a = 0;
    for (size_t i = 0; i < n;) {
        int l;
        int32_t c = next_cp(s, n, i, &l);
        if (ll_is_rust_whitespace(c)) {
            if (i > a) emit(ud, a, i - a);
            a = i + (size_t)l;
        }
        i += (size_t)l;
    }
    if (n > a) emit(ud, a, n - a);
}

void ll_bert_pretokenize(const char *s, size_t n, ll_emit_range emit, void *ud) {
    size_t a = 0;
    for (size_t i = 0; i < n;) {
        int l;
        int32_t c = next_cp(s, n, i, &l);
        int ws = ll_is_rust_whitespace(c), pu = !ws && is_bert_punct(c);
        if (ws || pu) {
            if (i > a) emit(ud, a, i - a);
            if (pu) emit(ud, i, (size_t)l);
            a = i + (size_t)l;
        }
        i += (size_t)l;
    }
    if (n > a) emit(ud, a, n - a);
}

int ll_wordpiece_word(const ll_wordpiece *wp, const char *w, size_t n, ll_vocab_get get, const void *vocab,
                      ll_ibuf *out, const char *name) {
    if (n == 0) return 0;
    size_t nchars = 0;
    for (size_t i = 0; i < n; i++) nchars += ((unsigned char)w[i] & 0xC0) != 0x80;
    size_t before = out->n;
    int bad = nchars > (size_t)wp->max_chars;
    ll_sbuf key = {0};
    for (size_t start = 0; !bad && start < n;) {
        size_t end = n;
        int32_t id = -1;
        while (start < end) {
            const char *k = w + start;
            size_t kn = end - start;
            if (start > 0 && wp->prefix_n) {
                key.n = 0;
                ll_sbuf_add(&key, wp->prefix, wp->prefix_n);
                ll_sbuf_add(&key, w + start, end - start);
                k = key.p;
                kn = key.n;
            }
            id = get(vocab, k, kn);
            if (id >= 0) break;
            /* back off one character */
            end--;
            while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80) end--;
        }
        if (id < 0) { bad = 1; break; }
        ll_ibuf_add(out, id);
        start = end;
    }
    free(key.p);
    if (bad) {
        out->n = before;
        if (wp->unk_id < 0) {
            ll_set_error("%s: WordPiece: word '%.*s' needs the unk token, which is not in the vocab", name,
                         (int)(n > 40 ? 40 : n), w);
            return -1;
        }
        ll_ibuf_add(out, wp->unk_id);
    }
    return 0;
}

static int emit_piece(ll_unigram *u, const char *p, size_t n, ll_vocab_get get, const void *vocab, ll_ibuf *out,
                      const char *name) {
    int32_t id = get(vocab, p, n);
    if (id >= 0) { ll_ibuf_add(out, id); return 0; }
    if (u->byte_fallback) {
        size_t i = 0;
        while (i < n && u->byte_ids[(unsigned char)p[i]] >= 0) i++;
        if (i == n) {
            for (i = 0; i < n; i++) ll_ibuf_add(out, u->byte_ids[(unsigned char)p[i]]);
            return 0;
        }
    }
    if (u->unk_id < 0) { ll_set_error("%s: Unigram: text needs the unk token and the model has no unk_id", name); return -1; }
    ll_ibuf_add(out, u->unk_id);
    return 0;
}

int ll_unigram_word(ll_unigram *u, const char *w, size_t n, ll_vocab_get get, const void *vocab, ll_ibuf *out,
                    const char *name) {
    if (n == 0) return 0;
    if (n + 1 > u->nodes_cap) {
        u->nodes_cap = n + 1 > 2 * u->nodes_cap ? n + 1 : 2 * u->nodes_cap;
        u->nodes = ll_xrealloc(u->nodes, u->nodes_cap * sizeof *u->nodes);
    }
    struct ll_uni_node *nd = u->nodes;
    for (size_t i = 0; i <= n; i++) { nd[i].score = 0; nd[i].id = -1; nd[i].start = -1; }
    for (size_t s = 0; s < n;) {
        int mb = 1;
        while (s + (size_t)mb < n && ((unsigned char)w[s + mb] & 0xC0) == 0x80) mb++;
        double base = nd[s].score;
        int single = 0;
        size_t lim = n - s < u->max_piece ? n - s : u->max_piece;
        /* every prefix that is a piece, shortest first (the trie's order) */
        for (size_t len = 1; len <= lim; len++) {
            if (s + len < n && ((unsigned char)w[s + len] & 0xC0) == 0x80) continue; /* not a character boundary */
            int32_t id = get(vocab, w + s, len);
            if (id < 0 || id >= u->n) continue;
            double c = base + u->score[id];
            struct ll_uni_node *t = &nd[s + len];
            if (t->start < 0 || c > t->score) { t->score = c; t->start = (int)s; t->id = id; }
            if (len == (size_t)mb) single = 1;
        }
        if (!single) {
            if (u->unk_id < 0) { ll_set_error("%s: Unigram: text needs the unk token and the model has no unk_id", name); return -1; }
            double c = base + u->unk_score;
            struct ll_uni_node *t = &nd[s + mb];
            if (t->start < 0 || c > t->score) { t->score = c; t->start = (int)s; t->id = u->unk_id; }
        }
        s += (size_t)mb;
    }
    /* back track: pieces from the end; runs of unk fused */
    u->rev.n = 0;
    ll_ibuf *ends = &u->rev; /* (start, end) pairs, last piece first */
    size_t e = n;
    size_t fuse_end = 0;
    int fusing = 0;
    while (e > 0) {
        struct ll_uni_node *t = &nd[e];
        size_t s = (size_t)t->start;
        if (u->fuse_unk && u->unk_id >= 0 && t->id == u->unk_id) {
            if (!fusing) { fusing = 1; fuse_end = e; }
        } else {
            if (fusing) { ll_ibuf_add(ends, (int32_t)e); ll_ibuf_add(ends, (int32_t)fuse_end); fusing = 0; }
            ll_ibuf_add(ends, (int32_t)s);
            ll_ibuf_add(ends, (int32_t)e);
        }
        e = s;
    }
    if (fusing) { ll_ibuf_add(ends, 0); ll_ibuf_add(ends, (int32_t)fuse_end); }
    for (size_t k = ends->n; k >= 2; k -= 2) {
        size_t a = (size_t)ends->v[k - 2], b = (size_t)ends->v[k - 1];
        if (emit_piece(u, w + a, b - a, get, vocab, out, name) != 0) return -1;
    }
    return 0;
}

void ll_unigram_free(ll_unigram *u) {
    if (!u) return;
    free(u->score);
    free(u->nodes);
    free(u->fused.p);
    free(u->rev.v);
}

/* ------------------------------------------------------------ Precompiled */
static int b64val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int ll_precompiled_init(ll_precompiled *p, const char *b64, const char *name) {
    memset(p, 0, sizeof *p);
    size_t n = strlen(b64), k = 0;
    unsigned char *raw = ll_xmalloc(n / 4 * 3 + 4);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (b64[i] == '=' || b64[i] == '\n' || b64[i] == '\r') continue;
        int v = b64val((unsigned char)b64[i]);
        if (v < 0) {
            free(raw);
            ll_set_error("%s: normalizer Precompiled: precompiled_charsmap is not base64", name);
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[k++] = (unsigned char)(acc >> bits);
        }
    }
    if (k < 4) goto bad;
    uint32_t tsize = (uint32_t)raw[0] | (uint32_t)raw[1] << 8 | (uint32_t)raw[2] << 16 | (uint32_t)raw[3] << 24;
    if (tsize % 4 || tsize > k - 4 || tsize == 0) goto bad;
    p->ntrie = tsize / 4;
    p->trie = ll_xmalloc(tsize);
    for (size_t i = 0; i < p->ntrie; i++) {
        const unsigned char *q = raw + 4 + 4 * i;
        p->trie[i] = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    }
    p->nnorm = k - 4 - tsize;
    p->norm = ll_xmalloc(p->nnorm + 1);
    memcpy(p->norm, raw + 4 + tsize, p->nnorm);
    p->norm[p->nnorm] = 0;
    free(raw);
    return 0;
bad:
    free(raw);
    ll_set_error("%s: normalizer Precompiled: precompiled_charsmap is malformed", name);
    return -1;
}

void ll_precompiled_free(ll_precompiled *p) {
    free(p->trie);
    free(p->norm);
    memset(p, 0, sizeof *p);
}

/* darts-clone unit fields */
static inline uint32_t du_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static inline uint32_t du_label(uint32_t u) { return u & ((1u << 31) | 0xFFu); }
static inline int du_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t du_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* the replacement of the shortest key that s[0..n) starts with, or NULL */
static const char *pc_transform(const ll_precompiled *p, const char *s, size_t n, size_t *outlen) {
    size_t pos = 0;
    if (!p->ntrie) return NULL;
    pos ^= du_offset(p->trie[0]);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0) break;
        pos ^= c;
        if (pos >= p->ntrie) return NULL;
        uint32_t u = p->trie[pos];
        if (du_label(u) != c) return NULL;
        pos ^= du_offset(u);
        if (pos >= p->ntrie) return NULL;
        if (du_has_leaf(u)) {
            uint32_t v = du_value(p->trie[pos]);
            if (v >= p->nnorm) return NULL;
            *outlen = strlen(p->norm + v);
            return p->norm + v;
        }
    }
    return NULL;
}

void ll_precompiled_normalize(const ll_precompiled *p, const char *s, size_t n, ll_sbuf *out) {
    ll_sbuf_add(out, "", 0);
    size_t i = 0;
    while (i < n) {
        /* one extended grapheme cluster [i, j) */
        int l;
        int32_t c = next_cp(s, n, i, &l);
        size_t j = i + (size_t)l;
        utf8proc_int32_t state = 0;
        while (j < n) {
            int l2;
            int32_t c2 = next_cp(s, n, j, &l2);
            if (utf8proc_grapheme_break_stateful(c, c2, &state)) break;
            c = c2;
            j += (size_t)l2;
        }
        size_t rl;
        const char *r = j - i < 6 ? pc_transform(p, s + i, j - i, &rl) : NULL;
        if (r) {
            ll_sbuf_add(out, r, rl);
        } else {
            for (size_t k = i; k < j;) {
                int l3;
                next_cp(s, n, k, &l3);
                r = pc_transform(p, s + k, (size_t)l3, &rl);
                if (r) ll_sbuf_add(out, r, rl);
                else ll_sbuf_add(out, s + k, (size_t)l3);
                k += (size_t)l3;
            }
        }
        i = j;
    }
}
